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
from datetime import datetime

from pydantic import ValidationError

from drift_detector.labelled import join
from drift_detector.run import run, window_bounds
from drift_detector.settings import DriftSettings
from serving_common.errors import describe_validation_error
from serving_common.inference_log.labelled import write_labelled
from serving_common.logging import configure_logging
from serving_common.settings import add_log_level_flag, load_settings

log = logging.getLogger("drift_detector")


def _log_flags(parser: argparse.ArgumentParser) -> None:
    """What both commands read: the logs, which pairs of them, and the log level."""
    parser.add_argument("--inference-log-url")
    parser.add_argument("--feedback-log-url", help="users' labels (the drift run also counts the last day's)")
    parser.add_argument("--environment", action="append", dest="environments")
    parser.add_argument("--model", action="append", dest="models")
    add_log_level_flag(parser)


def settings_from_args(argv: list[str] | None) -> DriftSettings:
    parser = argparse.ArgumentParser(
        prog="drift_detector", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _log_flags(parser)
    parser.add_argument("--baselines-url")
    parser.add_argument("--reports-dir")
    parser.add_argument("--textfile-dir")
    parser.add_argument("--pushgateway-url")
    parser.add_argument("--window-minutes", type=int)
    parser.add_argument("--window-start", type=datetime.fromisoformat, help="ISO time; overrides --window-minutes")
    parser.add_argument("--window-end", type=datetime.fromisoformat, help="ISO time, e.g. 2026-11-22T17:00:00Z")
    parser.add_argument(
        "--window-lag-minutes", type=int, help="without --window-end, end the window this many minutes before now"
    )
    parser.add_argument("--min-samples", type=int)
    return load_settings(DriftSettings, parser.parse_args(argv))


def export_settings_from_args(argv: list[str]) -> tuple[DriftSettings, str, frozenset[str]]:
    """The settings of ``labelled-data`` (its window as the drift window: ``--days`` up to ``--until``), the
    file to write and the keys to leave out."""
    parser = argparse.ArgumentParser(
        prog="drift_detector labelled-data",
        description="Users' labels joined with the predictions they name (latest label per row; labels whose "
        "prediction is not found are counted, not exported), written as one Parquet file.",
    )
    _log_flags(parser)
    parser.add_argument("--out", required=True, help="the file to write (a path or an fsspec URL)")
    parser.add_argument("--days", type=float, default=30.0, help="labels given in the last N days (default 30)")
    parser.add_argument(
        "--until", dest="window_end", type=datetime.fromisoformat, help="end of the labels' window (default: now)"
    )
    parser.add_argument(
        "--exclude-key",
        action="append",
        default=[],
        metavar="NAME",
        help="leave out every label sent with this API key (by its name in the keys file); repeatable",
    )
    parser.add_argument("--label-lookback-hours", type=int)
    args = parser.parse_args(argv)
    args.window_minutes = max(1, round(args.days * 24 * 60))
    return load_settings(DriftSettings, args), args.out, frozenset(args.exclude_key)


def _export(settings: DriftSettings, out: str, exclude_keys: frozenset[str]) -> int:
    try:
        labelled = join(settings, *window_bounds(settings), exclude_keys)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_labelled(labelled, out)
    r = labelled.report
    print(
        f"{out}: {r.joined} labelled rows ({r.with_text} with text, {r.text_mismatch} whose text does not match "
        f"its prediction); {r.labels_read} labels read, {r.superseded} replaced by a later one, {r.excluded} from "
        f"excluded keys, {r.unmatched} without a prediction in the log"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    configure_logging()  # until the settings (and their log level) are read
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["labelled-data"]:
            return _export(*export_settings_from_args(argv[1:]))
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
