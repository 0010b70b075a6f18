"""``python -m devstack run``: the whole platform on localhost (what `make run` calls).

Builds the default model when it is missing, starts the staging and production pairs and the
gateway on :8080, prints how to call it, and stops every process cleanly on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

from devstack.object_store import ObjectStore
from devstack.rspamd import Rspamd
from devstack.spamassassin import Spamd
from devstack.stack import ENVIRONMENTS, LocalStack, StackConfig

MODELS_BUCKET = "s3://textserve-models"
LOG_BUCKET = "s3://textserve-inference-log"
FEEDBACK_BUCKET = "s3://textserve-feedback-log"


def from_object_store(model_dirs: dict[str, list[Path]], mount: Path) -> dict[str, list[Path]]:
    """Every model directory uploaded to the store under its version (``make sync-model``), then copied out
    of it per environment, as KServe's storage initializer copies ``storageUri`` to /mnt/models."""
    import fsspec

    from model_release.store import sync

    served: dict[str, list[Path]] = {}
    for env, dirs in model_dirs.items():
        served[env] = []
        for model_dir in dirs:
            uri = sync(model_dir, MODELS_BUCKET)
            local = mount / env / model_dir.name
            if local.exists():
                shutil.rmtree(local)
            fs, path = fsspec.core.url_to_fs(uri)
            fs.get(path.rstrip("/") + "/", str(local), recursive=True)
            print(f"{env}: {uri} -> {local}", flush=True)
            served[env].append(local)
    return served


def object_store_banner(store: ObjectStore | None, endpoint: str) -> str:
    where = store.endpoint if store is not None else endpoint
    lines = [
        f"  object store {where}: models in {MODELS_BUCKET}, inference log in {LOG_BUCKET}, "
        f"feedback log in {FEEDBACK_BUCKET}",
        f"  drift through it:  make drift LOG_URL={LOG_BUCKET} FEEDBACK_URL={FEEDBACK_BUCKET} "
        f"BASELINES_URL={MODELS_BUCKET}/baselines REPORTS_URL=s3://textserve-drift-reports",
    ]
    if store is not None:  # a throwaway local store: its made-up credentials, to reach it from another shell
        lines.append("  " + " ".join(f"export {k}={v};" for k, v in store.env().items()))
    return "\n".join(lines) + "\n"


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

RSPAMD_PORT = 11333  # Rspamd's own defaults: its scanning worker (where rspamc looks), its controller next
RSPAMD_BANNER = """  Rspamd {url} with textserve's module (production's spam detector; TEXTSERVE_SPAM, TEXTSERVE_HAM):
  rspamc -h {url_host} symbols message.eml     web interface {ui}      log {logs}
"""
SPAMD_PORT = 11783  # spamd's own is 783, a port only root may bind
SPAMD_BANNER = """  SpamAssassin's spamd 127.0.0.1:{port} with textserve's plugin (production's spam detector;
  TEXTSERVE_SPAM_99, TEXTSERVE_SPAM, TEXTSERVE_HAM):   spamc -p {port} < message.eml      log {logs}
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
        "--object-store",
        nargs="?",
        const="local",
        default=None,
        metavar="ENDPOINT",
        help="serve from and log to object storage, as in a cluster: models synced to s3://textserve-models and "
        "copied out as KServe's storage initializer does, the inference log in s3://textserve-inference-log. "
        "Alone: a local S3-compatible server (moto) on :9000; with an endpoint URL: that store, with the AWS_* "
        "credentials of the environment",
    )
    run.add_argument(
        "--rspamd",
        action="store_true",
        help="also run Rspamd (Debian's package) on 127.0.0.1:11333 with textserve's module (integrations/rspamd) "
        "asking production's spam detector about every message it checks: what a mail platform runs",
    )
    run.add_argument(
        "--spamassassin",
        action="store_true",
        help="also run SpamAssassin's spamd (Debian's package) on 127.0.0.1:11783 with textserve's plugin "
        "(integrations/spamassassin) asking production's spam detector about every message it checks",
    )
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
    store = None
    storage: dict[str, object] = {}
    if args.object_store is not None:
        store = ObjectStore(args.log_dir, port=9000) if args.object_store == "local" else None
        if store is not None:
            store.start()
        env = store.env() if store is not None else {"AWS_ENDPOINT_URL": args.object_store}
        os.environ.update(env)
        model_dirs = from_object_store(model_dirs, Path("var/mnt"))
        storage = {"inference_log_url": LOG_BUCKET, "feedback_log_url": FEEDBACK_BUCKET, "component_env": env}
    # Shadow traffic on by default, so production traffic shows agreement metrics on the gateway's /metrics.
    shares = {name: args.shadow_share for name in ("spam-detector", "intent-classifier")}
    config = StackConfig(
        model_dirs=model_dirs,
        gateway_port=args.gateway_port,
        log_dir=args.log_dir,
        gateway_env={"GATEWAY_SHADOW_SHARES": json.dumps(shares)} if args.shadow_share > 0 else {},
        **storage,  # type: ignore[arg-type]
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
    if args.object_store is not None:
        print(object_store_banner(store, args.object_store), flush=True)
    rspamd = None
    if args.rspamd:
        rspamd = Rspamd(stack.gateway_url, Path("var/rspamd"), port=RSPAMD_PORT, controller_port=RSPAMD_PORT + 1)
        rspamd.start()
        where = {"url": rspamd.url, "url_host": rspamd.url.removeprefix("http://"), "ui": rspamd.controller_url}
        print(RSPAMD_BANNER.format(**where, logs=rspamd.process.log_path), flush=True)
    spamd = None
    if args.spamassassin:
        spamd = Spamd(stack.gateway_url, Path("var/spamassassin"), port=SPAMD_PORT)
        spamd.start()
        print(SPAMD_BANNER.format(port=spamd.port, logs=spamd.process.log_path), flush=True)
    filters: dict[str, Rspamd | Spamd | None] = {"rspamd": rspamd, "spamd": spamd}
    watched = {**stack.processes, **{name: f.process for name, f in filters.items() if f is not None}}
    try:
        while not stopping.wait(1.0):
            dead = [name for name, proc in watched.items() if not proc.running]
            if dead:
                print(f"stopping: {', '.join(dead)} exited unexpectedly", file=sys.stderr)
                return 1
        return 0
    finally:
        print("stopping every process...", flush=True)
        for mail_filter in filters.values():
            if mail_filter is not None:
                mail_filter.stop()
        stack.stop()
        if store is not None:
            store.stop()


if __name__ == "__main__":
    sys.exit(main())
