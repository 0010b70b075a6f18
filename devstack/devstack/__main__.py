"""``python -m devstack run``: the whole platform on localhost (what `make run` calls).

Builds the default model when it is missing, starts the staging and production pairs and the
gateway on :8080, prints how to call it, and stops every process cleanly on Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from devstack.stack import ENVIRONMENTS, LocalStack, StackConfig

BANNER = """
textserve is up: gateway {gateway}
  staging    transformer {staging_t}  predictor {staging_p}  model {staging_m}
  production transformer {production_t}  predictor {production_p}  model {production_m}

  curl -s {gateway}/api/v1/predict -H 'content-type: application/json' \\
       -d '{{"email_content":"WINNER!! Claim your free prize now, call 09061701461"}}'
  curl -s {gateway}/api/v1/predict -H 'X-Environment: production' -H 'content-type: application/json' \\
       -d '{{"email_content":"Are we still on for lunch?"}}'
  API docs: {gateway}/docs      Logs: {logs}/      Ctrl-C stops everything.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="devstack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the platform until Ctrl-C")
    run.add_argument("--models-dir", default="models", type=Path)
    run.add_argument("--staging-model", type=Path, help="model directory for staging (default: the spam detector)")
    run.add_argument("--production-model", type=Path, help="model directory for production")
    run.add_argument("--gateway-port", type=int, default=8080)
    run.add_argument("--log-dir", type=Path, default=Path("var/log"))
    args = parser.parse_args(argv)

    from model_training.__main__ import ensure_default_models
    from serving_common.logging import configure_logging

    configure_logging()
    default_model = ensure_default_models(args.models_dir)[0]
    model_dirs = {
        "staging": args.staging_model or default_model,
        "production": args.production_model or default_model,
    }
    stack = LocalStack(StackConfig(model_dirs=model_dirs, gateway_port=args.gateway_port, log_dir=args.log_dir))
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
            **{f"{e}_m": model_dirs[e] for e in ENVIRONMENTS},
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
