"""`make run`'s command line: what it tells the user to run next."""

from devstack.__main__ import FEEDBACK_BUCKET, LOG_BUCKET, MODELS_BUCKET, object_store_banner


def test_the_object_store_banner_drift_command_reads_the_logs_the_stack_writes_there():
    # make run OBJECT_STORE=1 has the transformers log to LOG_BUCKET and the gateway record labels in
    # FEEDBACK_BUCKET; a drift command without the latter joins the labels of the local directory instead.
    banner = object_store_banner(None, "http://127.0.0.1:9000")
    command = next(line for line in banner.splitlines() if "make drift" in line)
    for setting in (f"LOG_URL={LOG_BUCKET}", f"FEEDBACK_URL={FEEDBACK_BUCKET}", f"BASELINES_URL={MODELS_BUCKET}/"):
        assert setting in command
