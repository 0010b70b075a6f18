"""``python -m model_release``: ``sync`` a model directory to the store, ``promote`` a version to production.

Exit status: 0 done, 2 refused (nothing was changed).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from model_release import Refused
from model_release.overlays import OVERLAYS
from model_release.promote import PromotionRequest, promote
from model_release.store import sync


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="model_release", description="Carry a model from staging to production.")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("sync", help="upload a model directory to the store under its version")
    up.add_argument("--model-dir", type=Path, required=True)
    up.add_argument("--store", default="s3://textserve-models", help="model store URL (fsspec)")
    pro = commands.add_parser("promote", help="point production at a version, with evidence")
    pro.add_argument("--model", required=True)
    pro.add_argument("--version", default=None, help="default: the version staging serves; an earlier one rolls back")
    pro.add_argument(
        "--prometheus",
        default=os.environ.get("PROMETHEUS_URL"),
        help="Prometheus's URL (default: PROMETHEUS_URL): shadow agreement of every gateway pod, by the platform's "
        "recording rules",
    )
    pro.add_argument(
        "--metrics",
        default=None,
        help="one gateway's /metrics URL (or a saved copy): the fallback without Prometheus (make run)",
    )
    pro.add_argument("--baselines-url", default="s3://textserve-models/baselines")
    pro.add_argument("--min-shadow-rows", type=int, default=100)
    pro.add_argument("--min-agreement", type=float, default=0.9)
    pro.add_argument(
        "--max-shadow-failures",
        type=float,
        default=0.01,
        help="share of the mirrored calls staging may fail (time out, error, refuse): agreement counts only the rest",
    )
    pro.add_argument(
        "--min-labels",
        type=int,
        default=100,
        help="users' labelled rows (POST /api/v1/feedback) each version needs before their accuracies are compared",
    )
    pro.add_argument(
        "--max-accuracy-drop", type=float, default=0.01, help="how much less accurate on labels staging may be"
    )
    pro.add_argument("--force", action="store_true", help="promote even when evidence is missing (recorded)")
    pro.add_argument("--overlays", type=Path, default=OVERLAYS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "sync":
            print(sync(args.model_dir, args.store))
            return 0
        return promote(
            PromotionRequest(
                model=args.model,
                overlays=args.overlays,
                version=args.version,
                prometheus=args.prometheus,
                metrics=args.metrics,
                baselines_url=args.baselines_url,
                min_shadow_rows=args.min_shadow_rows,
                min_agreement=args.min_agreement,
                max_shadow_failures=args.max_shadow_failures,
                min_labels=args.min_labels,
                max_accuracy_drop=args.max_accuracy_drop,
                force=args.force,
            )
        )
    except Refused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
