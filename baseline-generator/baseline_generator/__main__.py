"""``python -m baseline_generator --model-dir DIR [--baselines-url URL] [--reference FILE]``

Runs reference data (default: the model's validation split) through the model and writes the
baseline the drift detector compares live traffic with, to {baselines-url}/{model}/{version}/.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from baseline_generator.generate import build_baseline
from baseline_generator.reference import from_file, validation_split
from baseline_generator.settings import BaselineSettings
from ml_common.runtime import load_classifier, resolve_runtime
from serving_common.baseline import BaselineStore
from serving_common.errors import PlatformError, describe_validation_error
from serving_common.logging import configure_logging
from serving_common.model_dir import read_metadata
from serving_common.settings import add_log_level_flag, load_settings

log = logging.getLogger("baseline_generator")


def generate(settings: BaselineSettings, skip_existing: bool = False) -> str:
    model_dir = Path(settings.model_dir)
    store = BaselineStore(settings.baselines_url)
    if skip_existing:
        metadata = read_metadata(model_dir)
        if store.exists(metadata.name, metadata.version):
            return store.location(metadata.name, metadata.version) + " (already there)"
    runtime = resolve_runtime(settings.runtime, settings.device)
    # In the precision the model server's dtype 'auto' runs PyTorch in (bf16 on a GPU or an AMX CPU), as served.
    classifier = load_classifier(model_dir, runtime, settings.onnx_cache_dir, device=settings.device)
    if settings.reference:
        reference = from_file(Path(settings.reference), settings.text_column)
    else:
        reference = validation_split(model_dir, classifier.metadata)
    metadata, samples, summary = build_baseline(
        classifier,
        model_dir,
        reference,
        max_samples=settings.max_samples,
        batch_size=settings.batch_size,
        seed=settings.seed,
    )
    where = store.write(metadata, samples, summary, classifier.projection.matrix)
    log.info(
        "baseline %s for %s %s: %d rows",
        metadata.baseline_version,
        metadata.model_name,
        metadata.model_version,
        metadata.rows,
    )
    return where


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="baseline_generator", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model-dir",
        dest="model_dirs",
        action="append",
        help="model directory (repeatable); default BASELINE_MODEL_DIR",
    )
    parser.add_argument("--baselines-url", help="baselines root (directory or fsspec URL)")
    parser.add_argument("--reference", help="CSV/TSV/JSONL of reference texts (default: the validation split)")
    parser.add_argument("--text-column", help="text column of the reference file")
    parser.add_argument("--max-samples", type=int)
    parser.add_argument("--skip-existing", action="store_true", help="leave a model version's baseline alone")
    add_log_level_flag(parser)
    args = parser.parse_args(argv)
    configure_logging()  # until the settings (and their log level) are read
    try:
        base = load_settings(BaselineSettings, args)
        for model_dir in args.model_dirs or [base.model_dir]:
            where = generate(base.model_copy(update={"model_dir": model_dir}), args.skip_existing)
            print(f"baseline written: {where}")
    except ValidationError as exc:
        print(f"error: invalid settings: {describe_validation_error(exc)}", file=sys.stderr)
        return 2
    except PlatformError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
