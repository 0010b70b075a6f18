"""Carrying a model from staging to production with evidence (``make sync-model``, ``make promote``).

A production tool, apart from the local stack: it uploads model directories to the model store under
their version (``store``), reads the evidence a version has earned (``evidence``: shadow agreement from a
gateway's Prometheus metrics, the evaluation the version was built with, its drift baseline) and edits the
production overlay's ``model-versions.yaml`` as a change to review and commit (``overlays``, GitOps).
"""


class Refused(Exception):
    """The step cannot be taken as asked; the message says why. Nothing was changed."""
