"""``python -m devstack run``: the whole platform on localhost (what `make run` calls).

Builds the default model when it is missing, starts the staging and production pairs and the
gateway on :8080, prints how to call it, and stops every process cleanly on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from devstack.stack import ENVIRONMENTS, LocalStack, StackConfig

BANNER = """
textserve is up: gateway {gateway}
  staging    transformer {staging_t}  predictor {staging_p}  models {staging_m}
  production transformer {production_t}  predictor {production_p}  models {production_m}

  curl -s {gateway}/api/v1/predict -H 'content-type: application/json' \\
       -d '{{"email_content":"WINNER!! Claim your free prize now, call 09061701461"}}'
  curl -s {gateway}/api/v1/predict -H 'X-Environment: production' -H 'content-type: application/json' \\
       -d '{{"email_content":"Are we still on for lunch?"}}'
  curl -s {gateway}/api/v1/intent/predict -H 'content-type: application/json' \
       -d '{{"text":"Write a Python function that merges two sorted lists"}}'
  curl -s {gateway}/api/v1/models
  API docs: {gateway}/docs      Logs: {logs}/      Ctrl-C stops everything.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="devstack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the platform until Ctrl-C")
    run.add_argument("--models-dir", default="models", type=Path)
    run.add_argument(
        "--staging-model",
        type=Path,
        action="append",
        help="model directory served in staging (repeatable; default: the default models)",
    )
    run.add_argument(
        "--production-model",
        type=Path,
        action="append",
        help="model directory served in production (repeatable; default: the default models)",
    )
    run.add_argument("--gateway-port", type=int, default=8080)
    run.add_argument("--log-dir", type=Path, default=Path("var/log"))
    run.add_argument(
        "--shadow-share",
        type=float,
        default=0.5,
        help="share of production requests mirrored to staging, per model (shadow traffic; 0 turns it off)",
    )
    args = parser.parse_args(argv)

    from model_training.defaults import ensure_default_models
    from serving_common.logging import configure_logging

    configure_logging()
    defaults = ensure_default_models(args.models_dir)
    model_dirs = {
        "staging": args.staging_model or defaults,
        "production": args.production_model or defaults,
    }
    # Shadow traffic on by default, so production traffic shows agreement metrics on the gateway's /metrics.
    shares = {name: args.shadow_share for name in ("spam-detector", "intent-classifier")}
    config = StackConfig(
        model_dirs=model_dirs,
        gateway_port=args.gateway_port,
        log_dir=args.log_dir,
        gateway_env={"GATEWAY_SHADOW_SHARES": json.dumps(shares)} if args.shadow_share > 0 else {},
    )
    stack = LocalStack(config)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    stack.start()
    print(
        BANNER.format(
            gateway=stack.gateway_url,
            logs=args.log_dir,
            **{f"{e}_t": stack.transformer_url(e) for e in ENVIRONMENTS},
            **{f"{e}_p": stack.predictor_url(e) for e in ENVIRONMENTS},
            **{f"{e}_m": ", ".join(map(str, model_dirs[e])) for e in ENVIRONMENTS},
        ),
        flush=True,
    )
    try:
        while not stopping.wait(1.0):
            dead = [name for name, proc in stack.processes.items() if not proc.running]
            if dead:
                print(f"stopping: {', '.join(dead)} exited unexpectedly", file=sys.stderr)
                return 1
        return 0
    finally:
        print("stopping every process...", flush=True)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
