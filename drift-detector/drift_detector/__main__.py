"""``python -m drift_detector [--window-minutes 60] [--window-end ISO] ...``: one drift run (the hourly CronJob).

Exit status 0 whether or not drift was found; 1 only when the run itself failed (log or baselines
unreachable, reports not writable, Pushgateway push failed); 2 for invalid settings.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime

from pydantic import ValidationError

from drift_detector.run import run
from drift_detector.settings import DriftSettings
from serving_common.errors import describe_validation_error
from serving_common.logging import configure_logging
from serving_common.settings import add_log_level_flag, load_settings

log = logging.getLogger("drift_detector")


def settings_from_args(argv: list[str] | None) -> DriftSettings:
    parser = argparse.ArgumentParser(
        prog="drift_detector", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inference-log-url")
    parser.add_argument("--baselines-url")
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


def main(argv: list[str] | None = None) -> int:
    configure_logging()  # until the settings (and their log level) are read
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
