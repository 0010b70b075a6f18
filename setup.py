"""Which of the project's packages this source tree holds.

A checkout holds them all (``pip install -e .``). An image's build copies ``common/`` and its own
service's directory only (see ``Dockerfile``), so it installs that service and the shared code, and
no other service's code. The distribution's metadata, dependencies and extras are in pyproject.toml.
"""

from pathlib import Path

from setuptools import find_namespace_packages, setup

PACKAGE_DIRS = {
    "serving_common": "common/serving_common",
    "ml_common": "common/ml_common",
    "api_gateway": "api-gateway/api_gateway",
    "feature_transformer": "feature-transformer/feature_transformer",
    "model_server": "model-server/model_server",
    "model_training": "training/model_training",
    "baseline_generator": "baseline-generator/baseline_generator",
    "drift_detector": "drift-detector/drift_detector",
    "devstack": "devstack/devstack",
    "model_release": "release/model_release",
}

here = Path(__file__).resolve().parent
present = {name: directory for name, directory in PACKAGE_DIRS.items() if (here / directory).is_dir()}
setup(
    package_dir=present,
    packages=[
        f"{name}{'.' + sub if sub else ''}"
        for name, directory in present.items()
        # Namespace packages too: data folders such as ml_common/data are packages to setuptools.
        for sub in ["", *find_namespace_packages(str(here / directory), exclude=["*__pycache__*"])]
    ],
)
