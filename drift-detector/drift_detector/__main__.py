"""``python -m drift_detector [--window-minutes 60] [--window-end ISO] ...``: one drift run (the hourly CronJob).

Exit status 0 whether or not drift was found; 1 only when the run itself failed (log or baselines
unreachable, reports not writable, Pushgateway push failed); 2 for invalid settings.

``python -m drift_detector labelled-data --out FILE [--days 30] [--exclude-key NAME ...]``: users' labels
joined with their predictions, as one Parquet file for training's ``--extra-data`` (``make labelled-data``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from drift_detector.labelled import join
from drift_detector.run import run
from drift_detector.settings import DriftSettings
from serving_common.errors import describe_validation_error
from serving_common.inference_log.labelled import write_labelled
from serving_common.logging import configure_logging
from serving_common.settings import add_log_level_flag, load_settings

log = logging.getLogger("drift_detector")


def settings_from_args(argv: list[str] | None) -> DriftSettings:
    parser = argparse.ArgumentParser(
        prog="drift_detector", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inference-log-url")
    parser.add_argument("--baselines-url")
    parser.add_argument("--feedback-log-url", help="also count the last labelled window's labels (every run)")
    parser.add_argument("--reports-dir")
    parser.add_argument("--textfile-dir")
    parser.add_argument("--pushgateway-url")
    parser.add_argument("--window-minutes", type=int)
    parser.add_argument("--window-start", type=datetime.fromisoformat, help="ISO time; overrides --window-minutes")
    parser.add_argument("--window-end", type=datetime.fromisoformat, help="ISO time, e.g. 2026-11-22T17:00:00Z")
    parser.add_argument("--environment", action="append", dest="environments")
    parser.add_argument("--model", action="append", dest="models")
    parser.add_argument("--min-samples", type=int)
    add_log_level_flag(parser)
    return load_settings(DriftSettings, parser.parse_args(argv))


def _export(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="drift_detector labelled-data",
        description="Users' labels joined with the predictions they name (latest label per row; labels whose "
        "prediction is not found are counted, not exported), written as one Parquet file.",
    )
    parser.add_argument("--out", required=True, help="the file to write (a path or an fsspec URL)")
    parser.add_argument("--inference-log-url")
    parser.add_argument("--feedback-log-url")
    parser.add_argument("--days", type=float, default=30.0, help="labels given in the last N days (default 30)")
    parser.add_argument("--until", type=datetime.fromisoformat, help="end of the labels' window (default: now)")
    parser.add_argument(
        "--exclude-key",
        action="append",
        default=[],
        metavar="NAME",
        help="leave out every label sent with this API key (by its name in the keys file); repeatable",
    )
    parser.add_argument("--label-lookback-hours", type=int)
    parser.add_argument("--environment", action="append", dest="environments")
    parser.add_argument("--model", action="append", dest="models")
    add_log_level_flag(parser)
    args = parser.parse_args(argv)
    try:
        settings = load_settings(DriftSettings, args)
    except ValidationError as exc:
        print(f"error: invalid settings: {describe_validation_error(exc)}", file=sys.stderr)
        return 2
    end = args.until or datetime.now(UTC)
    end = end.replace(tzinfo=UTC) if end.tzinfo is None else end
    try:
        labelled = join(settings, end - timedelta(days=args.days), end, frozenset(args.exclude_key))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_labelled(labelled, args.out)
    r = labelled.report
    print(
        f"{args.out}: {r.joined} labelled rows ({r.with_text} with text, {r.text_mismatch} whose text does not match "
        f"its prediction); {r.labels_read} labels read, {r.superseded} replaced by a later one, {r.excluded} from "
        f"excluded keys, {r.unmatched} without a prediction in the log"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    configure_logging()  # until the settings (and their log level) are read
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["labelled-data"]:
        return _export(argv[1:])
    try:
        settings = settings_from_args(argv)
    except ValidationError as exc:
        print(f"error: invalid settings: {describe_validation_error(exc)}", file=sys.stderr)
        return 2
    try:
        outcome = run(settings)
    except Exception:
        log.exception("drift run failed")
        return 1
    for check in outcome.report["checks"]:
        name = f"{check['environment']}/{check['model']} {check['model_version'] or ''}".strip()
        if check["status"] != "ok":
            print(f"{name}: {check['status']} ({check['detail']})")
        elif check["drift"]:
            print(f"{name}: DRIFT in {', '.join(check['drifted_signals'])}")
        else:
            print(f"{name}: no drift ({check['samples']['live']} rows)")
    print(f"reports: {outcome.report_dir}/report.json  {outcome.report_dir}/report.html")
    print(f"metrics: {outcome.textfile or f'{outcome.report_dir}/textserve_drift.prom (and the Pushgateway, if set)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
