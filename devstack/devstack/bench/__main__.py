"""``make bench``: throughput and latency of every hop, against the raw model's in-process ceiling.

Starts the local stack with the staging predictor batching (adaptive batching on) and the production
predictor not batching (one forward pass per request, as a plain KServe custom predictor runs), then
drives each configuration with ``hey`` at fixed concurrency, and writes JSON + a markdown table.
This is a benchmark, not a test: it asserts nothing and reports measured figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch

from devstack.bench.defaults import markdown as defaults_markdown
from devstack.bench.defaults import quality_rows as defaults_quality
from devstack.bench.defaults import speed_rows as defaults_speed
from devstack.bench.load import GATEWAY, MODEL_SERVER, TRANSFORMER, Bodies, LoadGenerator, measure_hop
from devstack.bench.mixed import largest_batch, mixed_lines, mixed_traffic
from devstack.bench.model import build_random_model, ceiling, make_email, quality
from devstack.bench.overhead import overhead_targets, serving_overhead
from devstack.bench.report import Row, RowFile, markdown, summary_lines
from devstack.bench.sizing import Sizing
from devstack.bench.soak import soak, soak_lines
from devstack.bench.targets import targets
from devstack.stack import LocalStack, StackConfig
from ml_common.runtime import resolve_runtime
from serving_common.features import compose_email_text
from serving_common.model_dir import read_metadata
from serving_common.tokenization import TextEncoder

HOPS = (MODEL_SERVER, TRANSFORMER, GATEWAY)


def _machine() -> str:
    gpu = "CUDA " + torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return f"{platform.node()} {os.cpu_count()} CPU cores, {gpu}"


def _overhead_context(args: argparse.Namespace, metadata, tokens: int) -> dict:
    return {
        "machine": _machine(),
        "model": "tiny-random (1 layer, width 32; the default model's tokenizer)",
        "model_version": "random-tiny",
        "email_tokens": tokens,
        "seconds": args.seconds,
        "ceiling_seq_per_s": 0.0,
        "ceiling_batch": "-",
    }


def stack_config(
    args: argparse.Namespace,
    model_dir: Path,
    run: str,
    batching: list[str],
    *,
    production_batching: bool = True,
    staging_extra: Sequence[str] = (),
    production_extra: Sequence[str] = (),
    transformer_args: dict[str, list[str]] | None = None,
) -> StackConfig:
    """Both environments serving ``model_dir``; staging batches (with ``staging_extra``), production
    batches too unless ``production_batching`` is off (one forward pass per request)."""
    production = ["--batching", "on", *batching] if production_batching else ["--batching", "off"]
    production += production_extra
    workers = ["--workers", str(args.transformer_workers)] if args.transformer_workers > 1 else []
    extra = transformer_args or {}
    return StackConfig.on_free_ports(
        {"staging": [model_dir], "production": [model_dir]},
        log_dir=args.out / ("logs-" + run if run else "logs"),
        echo=False,
        inference_log_url=str(args.out / "inference-log"),
        feedback_log_url=str(args.out / "feedback-log"),
        predictor_args={"staging": ["--batching", "on", *batching, *staging_extra], "production": production},
        transformer_args={env: [*workers, *extra.get(env, [])] for env in ("staging", "production")},
        gateway_env={"GATEWAY_WORKERS": str(args.gateway_workers)},
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="devstack.bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model",
        default="models/spam-detector",
        type=Path,
        help="model directory, or 'deberta-v3-base-random' (random weights, real FLOPs; for GPUs)",
    )
    parser.add_argument("--tokens", type=int, default=128, help="tokens per email")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--max-batch-size", type=int, default=None, help="the model servers' (default: theirs, 128 on a GPU, 32 on CPU)"
    )
    parser.add_argument("--max-batch-wait-ms", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=Path("var/bench"))
    parser.add_argument(
        "--overhead-connections",
        type=int,
        default=64,
        help="connections of the serving-overhead rows (near-zero model, full path vs a bare FastAPI app)",
    )
    parser.add_argument(
        "--overhead-template",
        type=Path,
        default=Path("models/spam-detector"),
        help="spam model whose tokenizer and labels the near-zero overhead model takes",
    )
    parser.add_argument(
        "--only-overhead",
        action="store_true",
        help="run the serving-overhead rows and the soak alone (a few minutes, the soak most of them)",
    )
    parser.add_argument(
        "--soak-requests",
        type=int,
        default=300_000,
        help="requests of the soak (full path, inference log on: RSS of each process sampled); 0: no soak",
    )
    parser.add_argument(
        "--defaults",
        nargs="*",
        type=Path,
        default=[Path("models/spam-detector"), Path("models/intent-classifier")],
        help="the default models whose runtimes are compared with the previous default's shape",
    )
    parser.add_argument(
        "--only-defaults",
        action="store_true",
        help="run the default models' ceiling and quality rows alone (a few minutes on 2 cores)",
    )
    parser.add_argument(
        "--mixed-rounds",
        type=int,
        default=3,
        help="largest batches sent to staging with single requests beside each (a spam model); 0: none",
    )
    parser.add_argument(
        "--only-mixed",
        action="store_true",
        help="run the singles-beside-the-largest-batch step alone (about a minute on 2 cores)",
    )
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile the ceiling and the batching predictors (GPU runs)"
    )
    sizing = Sizing.for_host()
    parser.add_argument(
        "--gateway-workers",
        type=int,
        default=sizing.gateway_workers,
        help=f"gateway processes (GATEWAY_WORKERS); default sized to this host: {sizing.gateway_workers}",
    )
    parser.add_argument(
        "--transformer-workers",
        type=int,
        default=sizing.transformer_workers,
        help=f"feature-transformer processes per environment (--workers); default: {sizing.transformer_workers}",
    )
    parser.add_argument(
        "--loadgen-cpus",
        default=sizing.loadgen_cpus,
        help="pin hey to these CPUs (taskset -c, e.g. 12-15); default on this host: "
        f"{sizing.loadgen_cpus or 'not pinned (fewer than 8 cores)'}",
    )
    parser.add_argument(
        "--offered-rate",
        type=float,
        nargs="*",
        default=[],
        help="also measure the full path at these fixed offered rates, requests/s in all (hey -q), e.g. 5000",
    )
    parser.add_argument(
        "--results-json",
        type=Path,
        default=None,
        help="also write the serving rows here as each is measured (e.g. docs/bench-results/2026-12-05-h200.json)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if shutil.which("hey") is None:
        print("hey is needed (Debian package 'hey'; `make bench` installs it)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    model_dir = args.model
    if str(model_dir) == "deberta-v3-base-random":
        model_dir = build_random_model(
            args.out / "deberta-v3-base-random", Path("models/spam-detector"), "deberta-v3-base"
        )
    metadata = read_metadata(model_dir)
    encoder = TextEncoder.for_model(model_dir, metadata)
    email = make_email(args.tokens, encoder)
    batch = encoder.encode([compose_email_text(email)])
    tokens = int(batch.input_ids.shape[1])

    batching = ["--max_batch_wait_ms", str(args.max_batch_wait_ms)]
    if args.max_batch_size:
        batching += ["--max_batch_size", str(args.max_batch_size)]
    if args.compile:
        batching += ["--compile", "on"]
    mixing = args.mixed_rounds > 0 and metadata.task == "spam"
    if args.only_mixed:
        if not mixing:
            print("--only-mixed needs a spam model and --mixed-rounds above 0", file=sys.stderr)
            return 2
        print("mixed traffic: singles beside the largest batch...", flush=True)
        with LocalStack(stack_config(args, model_dir, "mixed", batching)) as stack:
            mixed = mixed_traffic(stack.gateway_url, largest_batch(metadata.max_length), args.mixed_rounds)
        (args.out / "mixed.json").write_text(json.dumps(mixed, indent=2))
        print(mixed_lines(mixed))
        return 0

    defaults_table = ""
    if not torch.cuda.is_available() and args.defaults:
        print(f"defaults: in-process ceilings and held-out quality by runtime, {tokens}-token emails...", flush=True)
        speed = defaults_speed(args.defaults, email, args.out, min(args.seconds, 5.0), [8, 32, 64])
        quality_by_runtime = defaults_quality(args.defaults, args.out)
        defaults_table = defaults_markdown(speed, quality_by_runtime, tokens)
        (args.out / "defaults.json").write_text(json.dumps({"speed": speed, "quality": quality_by_runtime}, indent=2))
        (args.out / "defaults.md").write_text(defaults_table)
        print(defaults_table, flush=True)
        if args.only_defaults:
            return 0

    # What the platform itself costs: a near-zero model (same tokenizer) through the full path, against
    # a bare FastAPI app and a gateway-shaped echo, all under wrk with a new body per request; then the soak.
    print(f"serving overhead: near-zero model, {args.overhead_connections} connections (wrk)...", flush=True)
    # The platform's own cost, whatever model is benched: a near-zero spam model on the spam route.
    tiny = build_random_model(args.out / "tiny-random", args.overhead_template, "tiny")
    overhead_rows, overhead = serving_overhead(
        tiny, email, args.out, connections=args.overhead_connections, seconds=args.seconds
    )
    soaked = ""
    if args.soak_requests:
        print(f"soak: {args.soak_requests:,} requests through the full path...", flush=True)
        soak_row, growth = soak(
            tiny, email, args.out, requests=args.soak_requests, connections=args.overhead_connections
        )
        overhead_rows.append(soak_row)
        soaked = soak_lines(soak_row, growth)
    if args.only_overhead:
        table = (
            markdown(overhead_rows, {**_overhead_context(args, metadata, tokens)})
            + "\n"
            + overhead_targets(overhead)
            + soaked
        )
        (args.out / "overhead.json").write_text(
            json.dumps({"context": overhead, "rows": [asdict(r) for r in overhead_rows]}, indent=2)
        )
        (args.out / "overhead.md").write_text(table)
        print(table)
        return 0

    # The servers run what --runtime auto picks: int8 ONNX Runtime on CPU, PyTorch on a GPU; the ceiling too.
    served = resolve_runtime("auto", "auto")
    onnx_dir = args.out / "onnx"
    print(f"ceiling: raw model in-process ({served}), {tokens}-token emails...", flush=True)
    gpu = torch.cuda.is_available()
    ceiling_seconds = min(args.seconds, 5.0)
    batch_sizes = [1, 8, 16, 32, 64, 128] if gpu else [1, 8, 16, 32, 64]
    # On a GPU the servers run static shapes (CUDA graphs) unless compiled: that is the ceiling their share is
    # taken of; eager (and compiled, with --compile) ceilings are rows beside it.
    gpu_ceilings: dict[str, dict] = {}
    measured_kind = served
    if gpu:
        for kind in ("eager", "compiled", "static shapes") if args.compile else ("eager", "static shapes"):
            print(f"  {kind}...", flush=True)
            try:
                rate, best, rates = ceiling(
                    model_dir,
                    email,
                    batch_sizes,
                    ceiling_seconds,
                    served,
                    onnx_dir,
                    compile_model=kind == "compiled",
                    static_shapes=kind == "static shapes",
                )
            except RuntimeError as exc:  # a forward CUDA graphs cannot capture: the servers fall back too
                print(f"  {kind} failed: {exc}", flush=True)
                gpu_ceilings[kind] = {"error": str(exc)[:500]}
                continue
            gpu_ceilings[kind] = {"seq_per_s": rate, "batch": best, "by_batch": rates}
        measured_kind = next(
            k for k in ("compiled" if args.compile else "static shapes", "eager") if "seq_per_s" in gpu_ceilings[k]
        )
        ceiling_rate, ceiling_batch, by_batch = (
            gpu_ceilings[measured_kind][k] for k in ("seq_per_s", "batch", "by_batch")
        )
    else:
        ceiling_rate, ceiling_batch, by_batch = ceiling(
            model_dir, email, batch_sizes, ceiling_seconds, served, onnx_dir
        )
    print("  " + ", ".join(f"batch {bs}: {rate:.1f}" for bs, rate in by_batch.items()) + " emails/s", flush=True)
    # fp32 ONNX Runtime against eager PyTorch, in-process: measured only where there is no GPU (on a GPU the
    # ceiling above is PyTorch's).
    cpu_only = not gpu
    _, _, torch_by_batch = (
        ceiling(model_dir, email, batch_sizes, ceiling_seconds, "torch", dtype="float32")
        if cpu_only
        else (0, 0, by_batch)
    )
    torch_rate = max(torch_by_batch.values())
    onnx_rate, onnx_batch, onnx_by_batch = (
        ceiling(model_dir, email, batch_sizes, ceiling_seconds, "onnx", onnx_dir) if cpu_only else (0.0, 0, {})
    )
    onnx_quality = quality(model_dir, onnx_dir) if cpu_only else None

    config = stack_config(args, model_dir, "", batching, production_batching=False)
    bodies = Bodies.for_email(email, batch.input_ids, batch.attention_mask, metadata.task)
    name, c, seconds = metadata.name, args.concurrency, args.seconds
    loadgen = LoadGenerator(args.loadgen_cpus)
    processes = {"gateway_workers": args.gateway_workers, "transformer_workers": args.transformer_workers}
    measured = RowFile(args.results_json, {"machine": _machine(), "model": str(args.model), **processes})

    def hop(stack: LocalStack, which: str, env: str, label: str, concurrency: int, rate: float | None = None) -> Row:
        row = measure_hop(stack, which, env, label, bodies, name, concurrency, seconds, loadgen.at(rate))
        return measured.add(row)

    rows: list[Row] = []
    with LocalStack(config) as stack:
        for env, label in (("staging", "batching on"), ("production", "batching off")):
            rows += [hop(stack, which, env, label, c) for which in HOPS]
        # What the gateway hop adds: one request at a time, through the gateway and straight to the transformer.
        direct, through = (hop(stack, which, "staging", "batching on", 1) for which in (TRANSFORMER, GATEWAY))
        rows += [direct, through]
        # A fixed offered rate: what a latency target is measured at (a closed loop's latency is its own load).
        rows += [
            hop(stack, GATEWAY, "staging", f"batching on, offered {rate:g} req/s", c, rate)
            for rate in args.offered_rate
        ]
        # What a single request meets while a mail server's largest batch runs in the same environment.
        mixed = {}
        if mixing:
            mixed = mixed_traffic(stack.gateway_url, largest_batch(metadata.max_length), args.mixed_rounds)
    # The inference log's cost: both environments batch; only staging's transformer records predictions.
    with LocalStack(
        stack_config(
            args, model_dir, "inference-log", batching, transformer_args={"production": ["--inference_log", "off"]}
        )
    ) as stack:
        for concurrency in (c, 1):
            for env, label in (("staging", "inference log on"), ("production", "inference log off")):
                rows.append(hop(stack, GATEWAY, env, label, concurrency))
    # int8 ONNX Runtime (staging) against eager float32 PyTorch (production), both batching.
    if cpu_only:
        onnx = stack_config(
            args,
            model_dir,
            "onnx",
            batching,
            staging_extra=["--runtime", "onnx-int8"],
            production_extra=["--runtime", "torch", "--dtype", "float32"],
        )
        with LocalStack(onnx) as stack:
            for env, label in (("staging", "int8 onnx runtime"), ("production", "pytorch")):
                for which in (MODEL_SERVER, GATEWAY):
                    rows.append(hop(stack, which, env, f"batching on, {label}", c))
    for r in rows:
        r.ratio_to_ceiling = round(r.emails_per_s / ceiling_rate, 3)
    rows = overhead_rows + rows  # the overhead rows use another model: no share of this ceiling
    on = next(r for r in rows if r.configuration == "model-server alone, batching on")
    off = next(r for r in rows if r.configuration == "model-server alone, batching off")
    full_on = next(r for r in rows if r.configuration == "full gateway path, batching on" and r.concurrency == c)

    def logged(label: str, concurrency: int) -> Row:
        return next(
            r for r in rows if r.configuration == f"full gateway path, {label}" and r.concurrency == concurrency
        )

    context = {
        **overhead,
        "machine": _machine(),
        "model": str(args.model),
        "model_version": metadata.version,
        "gpu": torch.cuda.is_available(),
        "email_tokens": tokens,
        "seconds": args.seconds,
        "ceiling_seq_per_s": ceiling_rate,
        "ceiling_batch": ceiling_batch,
        "ceiling_by_batch": by_batch,
        "ceiling_kind": measured_kind if gpu else served,
        "gpu_ceilings": gpu_ceilings,
        "command": "make bench " + " ".join(argv or sys.argv[1:]),
        **processes,
        "load_generator_cpus": args.loadgen_cpus,
        "batching_gain_model_server": round(on.emails_per_s / off.emails_per_s, 2) if off.emails_per_s else None,
        "full_path_share_of_ceiling": round(full_on.emails_per_s / ceiling_rate, 3),
        "gateway_hop_p50_ms": round((through.p50_ms or 0) - (direct.p50_ms or 0), 2),
        "inference_log_p50_ms_added": round(
            (logged("inference log on", 1).p50_ms or 0) - (logged("inference log off", 1).p50_ms or 0), 2
        ),
        "onnx_ceiling_seq_per_s": onnx_rate,
        "onnx_ceiling_batch": onnx_batch,
        "onnx_ceiling_by_batch": onnx_by_batch,
        "torch_ceiling_by_batch": torch_by_batch,
        "onnx_speedup_in_process": round(onnx_rate / torch_rate, 2) if cpu_only else None,
        "onnx_speedup_batch_1": round(onnx_by_batch[1] / torch_by_batch[1], 2) if cpu_only else None,
        "onnx_quality": onnx_quality,
        "mixed_traffic": mixed,
        "inference_log_throughput_ratio": round(
            logged("inference log on", c).requests_per_s / logged("inference log off", c).requests_per_s, 3
        ),
    }
    (args.out / "results.json").write_text(
        json.dumps({"context": context, "rows": [asdict(r) for r in rows]}, indent=2)
    )
    table = (
        markdown(rows, context)
        + (mixed_lines(mixed) if mixed else "")
        + "\n"
        + targets(rows, context, c)
        + overhead_targets(overhead, header=False)
        + soaked
    )
    summary = summary_lines(context, c)
    (args.out / "results.md").write_text(defaults_table + "\n" + table + summary)
    print(table + summary)
    print(f"saved {args.out / 'results.json'} and {args.out / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
