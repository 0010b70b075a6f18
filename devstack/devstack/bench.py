"""``make bench``: throughput and latency of every hop, against the raw model's in-process ceiling.

Starts the local stack with the staging predictor batching (adaptive batching on) and the production
predictor not batching (one forward pass per request, as a plain KServe custom predictor runs), then
drives each configuration with ``hey`` at fixed concurrency, and writes JSON + a markdown table.
This is a benchmark, not a test: it asserts nothing and reports measured figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import httpx
import torch

from devstack.overhead import overhead_targets, serving_overhead
from devstack.procstats import cpu_seconds, peak_rss_mib
from devstack.report import Row, markdown
from devstack.stack import LocalStack, StackConfig
from serving_common.features import compose_email_text
from serving_common.model_dir import TOKENIZER_FILE, read_metadata
from serving_common.tokenization import TextEncoder

SENTENCES = [
    "Dear customer, your account statement for this month is now available in the online portal.",
    "Please review the attached invoice and let us know if anything looks incorrect before Friday.",
    "Our team will be in the office on Monday to discuss the quarterly plan and the new budget.",
    "Reminder: the meeting has moved to the small conference room on the third floor at 2pm.",
    "Thanks again for your help with the migration last week, everything has been running smoothly.",
]


def make_email(target_tokens: int, encoder: TextEncoder) -> str:
    """A realistic email whose tokenised length is close to ``target_tokens``."""
    words: list[str] = []
    i = 0
    while True:
        words.extend(SENTENCES[i % len(SENTENCES)].split())
        i += 1
        if encoder.encode([" ".join(words)]).input_ids.shape[1] >= target_tokens:
            break
    while len(words) > 1 and encoder.encode([" ".join(words[:-1])]).input_ids.shape[1] >= target_tokens:
        words.pop()
    return " ".join(words)


def load_for_bench(model_dir: Path, runtime: str, onnx_dir: Path, compile_model: bool = False):
    from ml_common.classifier import SequenceClassifier
    from ml_common.device import resolve_device, resolve_dtype
    from ml_common.onnx_runtime import OnnxClassifier

    device = resolve_device("cpu" if runtime == "onnx" else "auto")
    classifier = SequenceClassifier.load(model_dir, device, resolve_dtype("auto", device))
    if runtime == "onnx":
        return OnnxClassifier.export(classifier, onnx_dir)
    if compile_model:
        classifier.compile()
        classifier.warm_up(64)
    return classifier


def ceiling(
    model_dir: Path,
    text: str,
    batch_sizes: list[int],
    seconds: float,
    runtime: str = "torch",
    onnx_dir: Path = Path(),
    compile_model: bool = False,
) -> tuple[float, int, dict]:
    """The raw model in this process at its best batch size: the most any server could reach."""
    classifier = load_for_bench(model_dir, runtime, onnx_dir, compile_model)
    encoder = TextEncoder.from_file(model_dir / TOKENIZER_FILE, read_metadata(model_dir).max_length)
    by_batch = {}
    for bs in batch_sizes:
        batch = encoder.encode([compose_email_text(text)] * bs)
        classifier.forward(batch.input_ids, batch.attention_mask)
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            classifier.forward(batch.input_ids, batch.attention_mask)
            done += bs
        by_batch[bs] = done / (time.perf_counter() - started)
    best = max(by_batch, key=by_batch.get)
    del classifier
    return by_batch[best], best, by_batch


def quality(model_dir: Path, onnx_dir: Path) -> dict | None:
    """Held-out F1 and ROC-AUC of both runtimes, with the verdicts the platform serves (binary models
    trained on the default dataset only)."""
    import numpy as np

    from ml_common.splits import TrainingDataMismatch, training_splits
    from model_training.evaluation import binary_metrics
    from serving_common.tasks import task_of

    metadata = read_metadata(model_dir)
    if metadata.positive_label is None:
        return None
    try:
        splits = training_splits(model_dir, metadata)
    except TrainingDataMismatch:
        return None
    task = task_of(metadata)
    texts = [e.text for e in splits.test]
    y = np.array([int(e.label == metadata.positive_label) for e in splits.test])
    encoder = TextEncoder.from_file(model_dir / TOKENIZER_FILE, metadata.max_length)
    result = {}
    for runtime in ("torch", "onnx"):
        classifier = load_for_bench(model_dir, runtime, onnx_dir)
        scores: list[float] = []
        for start in range(0, len(texts), 64):
            batch = encoder.encode(texts[start : start + 64])
            logits = classifier.forward(batch.input_ids, batch.attention_mask)
            scores += [task.log_row(v).probability for v in task.verdicts(logits, metadata)]
        m = binary_metrics(y, np.array(scores), metadata.threshold)
        result[runtime] = {"f1": round(m["f1"], 4), "roc_auc": round(m["roc_auc"], 4)}
    return result


def run_hey(url: str, body: bytes, concurrency: int, seconds: float, headers: dict[str, str]) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as fh:
        fh.write(body)
        fh.flush()
        cmd = [
            "hey",
            "-z",
            f"{seconds}s",
            "-c",
            str(concurrency),
            "-m",
            "POST",
            "-T",
            "application/json",
            "-D",
            fh.name,
            "-t",
            "30",
        ]
        for k, v in headers.items():
            cmd += ["-H", f"{k}: {v}"]
        out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latencies = {int(p): float(v) * 1000 for p, v in re.findall(r"^\s+(\d+)% in ([\d.]+) secs", out, re.MULTILINE)}
    codes = {int(c): int(n) for c, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)}
    errors = sum(n for c, n in codes.items() if c != 200)
    # Transport errors (timeouts, refused connections) are listed as "  [count]\tPost ...: error".
    errors += sum(int(n) for n in re.findall(r"^\s+\[(\d+)\]\s+(?:Get|Post)", out, re.MULTILINE))
    return {
        "rps": rps,
        "p50": latencies.get(50),
        "p95": latencies.get(95),
        "p99": latencies.get(99),
        "codes": codes,
        "errors": errors,
    }


def _batch_counters(predictor_url: str) -> tuple[float, float, float]:
    """(rows, forward passes, seconds in forward passes) so far, from the predictor's metrics."""
    text = httpx.get(f"{predictor_url}/metrics", timeout=5).text

    def total(metric: str) -> float:
        return sum(float(m) for m in re.findall(rf"^{metric}\{{[^}}]*\}} ([\d.e+]+)", text, re.MULTILINE))

    return (
        total("model_server_batch_size_sum"),
        total("model_server_batch_size_count"),
        total("model_server_forward_seconds_sum"),
    )


def measure(
    stack: LocalStack,
    name: str,
    url: str,
    body: bytes,
    concurrency: int,
    seconds: float,
    processes: list[str],
    predictor_env: str,
    headers: dict[str, str] | None = None,
    emails_per_request: int = 1,
) -> Row:
    pids = [stack.processes[p].proc.pid for p in processes]
    cpu_before = sum(cpu_seconds(p) for p in pids)
    batches_before = _batch_counters(stack.predictor_url(predictor_env))
    started = time.perf_counter()
    result = run_hey(url, body, concurrency, seconds, headers or {})
    wall = time.perf_counter() - started
    cpu = (sum(cpu_seconds(p) for p in pids) - cpu_before) / wall
    batches_after = _batch_counters(stack.predictor_url(predictor_env))
    rows, passes, forward_s = (after - before for after, before in zip(batches_after, batches_before, strict=True))
    return Row(
        configuration=name,
        concurrency=concurrency,
        requests_per_s=round(result["rps"], 1),
        emails_per_s=round(result["rps"] * emails_per_request, 1),
        p50_ms=_r(result["p50"]),
        p95_ms=_r(result["p95"]),
        p99_ms=_r(result["p99"]),
        mean_batch_size=round(rows / passes, 2) if passes else None,
        cpu_cores_used=round(cpu, 2),
        peak_rss_mib=round(sum(peak_rss_mib(p) for p in pids), 1),
        errors=result["errors"],
        extra={
            "status_codes": result["codes"],
            # Share of the run the predictor spent in forward passes: near 1, the model is the limit.
            "forward_busy": round(forward_s / wall, 3),
            "mean_forward_ms": round(1000 * forward_s / passes, 2) if passes else None,
        },
    )


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def build_random_model(out: Path, template: Path, shape: str) -> Path:
    """A model directory shaped like ``shape`` with random weights, reusing the template's tokenizer."""
    from model_training.backbones import random_model_of_shape

    out.mkdir(parents=True, exist_ok=True)
    metadata = read_metadata(template)
    random_model_of_shape(shape, metadata.labels).save_pretrained(out, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        if (template / name).exists():
            shutil.copy(template / name, out / name)
    meta = metadata.model_dump(mode="json") | {
        "version": f"random-{shape}",
        "architecture": "DebertaV2ForSequenceClassification",
    }
    (out / "metadata.json").write_text(json.dumps(meta, indent=2))
    return out


def targets(rows: list[Row], context: dict, concurrency: int) -> str:
    """The issue's targets against this run: met, or the measured gap and what the run shows as its cause."""

    def row(name: str, c: int = concurrency) -> Row:
        return next(r for r in rows if r.configuration == name and r.concurrency == c)

    by_batch = context["ceiling_by_batch"]
    batch1_share = by_batch[1] / context["ceiling_seq_per_s"]
    gain = context["batching_gain_model_server"] or 0.0
    share = context["full_path_share_of_ceiling"]
    hop = context["gateway_hop_p50_ms"]
    direct = row("transformer + model-server, batching on")
    quality = context.get("onnx_quality") or {}
    has_onnx = context.get("onnx_speedup_batch_1") is not None
    f1_loss = (quality["torch"]["f1"] - quality["onnx"]["f1"]) * 100 if quality else None
    onnx_ok = has_onnx and context["onnx_speedup_batch_1"] >= 1.5 and (f1_loss is None or f1_loss <= 0.5)
    onnx_ratios = ", ".join(
        f"{b}: {context['onnx_ceiling_by_batch'][b] / by_batch[b]:.2f}x"
        for b in sorted(by_batch)
        if b != 1 and b in context["onnx_ceiling_by_batch"]
    )
    met = {True: "met", False: "not met"}
    alone, full = row("model-server alone, batching on"), row("full gateway path, batching on")
    busy = alone.extra.get("forward_busy")
    if context.get("gpu"):
        ok = full.requests_per_s >= 5000 and (full.p95_ms or 1e9) <= 100 and share >= 0.6
        full_path_line = (
            f"| GPU: full gateway path >= 5,000 req/s, p95 <= 100 ms, >= 60 % of the compiled ceiling | "
            f"{full.requests_per_s} req/s, p95 {full.p95_ms} ms, {share:.0%} | {met[ok]} | the model-server alone "
            f"answers {alone.requests_per_s} req/s at {alone.mean_batch_size} rows per pass with the GPU in forward "
            f"passes {busy:.0%} of the time: each hop is one Python process whose per-request HTTP and v2-JSON "
            "work, not the GPU, sets the rate |"
        )
    else:
        full_path_line = (
            f"| full gateway path >= 80 % of the in-process ceiling | {share:.0%} | {met[share >= 0.8]} | "
            f"every hop shares the same CPU cores: transformer + model-server alone use {direct.cpu_cores_used} "
            f"cores for {direct.requests_per_s} req/s, and the predictor sees {direct.mean_batch_size} rows per batch "
            f"(forward passes busy {busy:.0%} of the model-server-alone run) |"
        )
    lines = [
        "| target | measured | status | cause of the gap (from this run) |",
        "|---|---|---|---|",
        f"| batching on >= 3x batching off, concurrency {concurrency} | {gain}x | {met[gain >= 3]} | "
        f"at batch 1 the model already runs at {batch1_share:.0%} of its best batch throughput, "
        f"so batching can save at most {1 / batch1_share:.2f}x of its compute |",
        full_path_line,
        f"| gateway hop p50 <= 2 ms | +{hop} ms | {met[hop <= 2]} | "
        "one more Python HTTP server and client on loopback (FastAPI/pydantic validation, one pooled aiohttp "
        "call), on cores shared with the load generator |",
    ]
    if has_onnx:
        lines.append(
            f"| CPU fast path >= 1.5x with <= 0.5 F1 points lost | ONNX Runtime {context['onnx_speedup_batch_1']}x "
            f"at batch 1, {context['onnx_speedup_in_process']}x best vs best"
            + (f", F1 {quality['torch']['f1']} -> {quality['onnx']['f1']}" if quality else "")
            + f" | {'met at batch 1' if onnx_ok else 'not met'} | ONNX/PyTorch at larger batches: {onnx_ratios} |"
        )
    return "\n".join(lines) + "\n"


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


def main(argv: list[str] | None = None) -> int:
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
    parser.add_argument("--max-batch-size", type=int, default=32)
    parser.add_argument("--max-batch-wait-ms", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=Path("var/bench"))
    parser.add_argument(
        "--overhead-connections",
        type=int,
        default=64,
        help="connections of the serving-overhead rows (near-zero model, full path vs a bare FastAPI echo)",
    )
    parser.add_argument(
        "--only-overhead", action="store_true", help="run the serving-overhead rows alone (about a minute)"
    )
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile the ceiling and the batching predictors (GPU runs)"
    )
    args = parser.parse_args(argv)
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
    encoder = TextEncoder.from_file(model_dir / TOKENIZER_FILE, metadata.max_length)
    email = make_email(args.tokens, encoder)
    batch = encoder.encode([compose_email_text(email)])
    tokens = int(batch.input_ids.shape[1])

    # What the platform itself costs: a near-zero model (same tokenizer) through the full path, against
    # a bare FastAPI echo with the gateway's own models, both under wrk with a new body per request.
    print(f"serving overhead: near-zero model, {args.overhead_connections} connections (wrk)...", flush=True)
    tiny = build_random_model(args.out / "tiny-random", model_dir, "tiny")
    overhead_rows, overhead = serving_overhead(
        tiny, email, args.out, connections=args.overhead_connections, seconds=args.seconds
    )
    if args.only_overhead:
        table = (
            markdown(overhead_rows, {**_overhead_context(args, metadata, tokens)}) + "\n" + overhead_targets(overhead)
        )
        (args.out / "overhead.json").write_text(
            json.dumps({"context": overhead, "rows": [asdict(r) for r in overhead_rows]}, indent=2)
        )
        (args.out / "overhead.md").write_text(table)
        print(table)
        return 0

    print(f"ceiling: raw model in-process, {tokens}-token emails...", flush=True)
    batch_sizes = [1, 8, 16, 32, 64, 128] if torch.cuda.is_available() else [1, 8, 16, 32, 64]
    ceiling_rate, ceiling_batch, by_batch = ceiling(
        model_dir, email, batch_sizes, min(args.seconds, 5.0), compile_model=args.compile
    )
    # The ONNX Runtime path is the CPU option: measured only where there is no GPU.
    onnx_dir = args.out / "onnx"
    cpu_only = not torch.cuda.is_available()
    onnx_rate, onnx_batch, onnx_by_batch = (
        ceiling(model_dir, email, batch_sizes, min(args.seconds, 5.0), "onnx", onnx_dir) if cpu_only else (0.0, 0, {})
    )
    onnx_quality = quality(model_dir, onnx_dir) if cpu_only else None

    batching = ["--max_batch_size", str(args.max_batch_size), "--max_batch_wait_ms", str(args.max_batch_wait_ms)]
    if args.compile:
        batching += ["--compile", "on"]
    config = StackConfig.on_free_ports(
        {"staging": [model_dir], "production": [model_dir]},
        log_dir=args.out / "logs",
        echo=False,
        inference_log_url=str(args.out / "inference-log"),
        predictor_args={"staging": ["--batching", "on", *batching], "production": ["--batching", "off"]},
    )
    rows: list[Row] = []
    v2 = json.dumps(
        {
            "inputs": [
                {
                    "name": "input_ids",
                    "shape": list(batch.input_ids.shape),
                    "datatype": "INT64",
                    "data": batch.input_ids.ravel().tolist(),
                },
                {
                    "name": "attention_mask",
                    "shape": list(batch.attention_mask.shape),
                    "datatype": "INT64",
                    "data": batch.attention_mask.ravel().tolist(),
                },
            ]
        }
    ).encode()
    v1 = json.dumps({"instances": [{"text": email}]}).encode()
    public = json.dumps({"email_content": email}).encode()
    name = metadata.name
    with LocalStack(config) as stack:
        c = args.concurrency
        for env, label in (("staging", "batching on"), ("production", "batching off")):
            pred = f"{env}-predictor"
            rows.append(
                measure(
                    stack,
                    f"model-server alone, {label}",
                    f"{stack.predictor_url(env)}/v2/models/{name}/infer",
                    v2,
                    c,
                    args.seconds,
                    [pred],
                    env,
                )
            )
            rows.append(
                measure(
                    stack,
                    f"transformer + model-server, {label}",
                    f"{stack.transformer_url(env)}/v1/models/{name}:predict",
                    v1,
                    c,
                    args.seconds,
                    [f"{env}-transformer", pred],
                    env,
                )
            )
            rows.append(
                measure(
                    stack,
                    f"full gateway path, {label}",
                    f"{stack.gateway_url}/api/v1/predict",
                    public,
                    c,
                    args.seconds,
                    ["gateway", f"{env}-transformer", pred],
                    env,
                    {"X-Environment": env},
                )
            )
        # What the gateway hop adds: one request at a time, through the gateway and straight to the transformer.
        direct = measure(
            stack,
            "transformer + model-server, batching on",
            f"{stack.transformer_url('staging')}/v1/models/{name}:predict",
            v1,
            1,
            args.seconds,
            ["staging-transformer", "staging-predictor"],
            "staging",
        )
        through = measure(
            stack,
            "full gateway path, batching on",
            f"{stack.gateway_url}/api/v1/predict",
            public,
            1,
            args.seconds,
            ["gateway", "staging-transformer", "staging-predictor"],
            "staging",
            {"X-Environment": "staging"},
        )
        rows += [direct, through]
    # The inference log's cost: both environments batch; only staging's transformer records predictions.
    log_config = StackConfig.on_free_ports(
        {"staging": [model_dir], "production": [model_dir]},
        log_dir=args.out / "logs-inference-log",
        echo=False,
        inference_log_url=str(args.out / "inference-log"),
        predictor_args={env: ["--batching", "on", *batching] for env in ("staging", "production")},
        transformer_args={"production": ["--inference_log", "off"]},
    )
    with LocalStack(log_config) as stack:
        for concurrency in (c, 1):
            for env, label in (("staging", "inference log on"), ("production", "inference log off")):
                rows.append(
                    measure(
                        stack,
                        f"full gateway path, {label}",
                        f"{stack.gateway_url}/api/v1/predict",
                        public,
                        concurrency,
                        args.seconds,
                        ["gateway", f"{env}-transformer", f"{env}-predictor"],
                        env,
                        {"X-Environment": env},
                    )
                )
    # The ONNX Runtime CPU path (staging) against PyTorch (production), both batching.
    onnx_config = StackConfig.on_free_ports(
        {"staging": [model_dir], "production": [model_dir]},
        log_dir=args.out / "logs-onnx",
        echo=False,
        inference_log_url=str(args.out / "inference-log"),
        predictor_args={
            "staging": ["--batching", "on", *batching, "--runtime", "onnx"],
            "production": ["--batching", "on", *batching],
        },
    )
    with LocalStack(onnx_config) if cpu_only else contextlib.nullcontext() as stack:
        for env, label in (("staging", "onnx runtime"), ("production", "pytorch")) if cpu_only else ():
            rows.append(
                measure(
                    stack,
                    f"model-server alone, batching on, {label}",
                    f"{stack.predictor_url(env)}/v2/models/{name}/infer",
                    v2,
                    c,
                    args.seconds,
                    [f"{env}-predictor"],
                    env,
                )
            )
            rows.append(
                measure(
                    stack,
                    f"full gateway path, batching on, {label}",
                    f"{stack.gateway_url}/api/v1/predict",
                    public,
                    c,
                    args.seconds,
                    ["gateway", f"{env}-transformer", f"{env}-predictor"],
                    env,
                    {"X-Environment": env},
                )
            )
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
        "command": "make bench " + " ".join(argv or sys.argv[1:]),
        "batching_gain_model_server": round(on.emails_per_s / off.emails_per_s, 2) if off.emails_per_s else None,
        "full_path_share_of_ceiling": round(full_on.emails_per_s / ceiling_rate, 3),
        "gateway_hop_p50_ms": round((through.p50_ms or 0) - (direct.p50_ms or 0), 2),
        "inference_log_p50_ms_added": round(
            (logged("inference log on", 1).p50_ms or 0) - (logged("inference log off", 1).p50_ms or 0), 2
        ),
        "onnx_ceiling_seq_per_s": onnx_rate,
        "onnx_ceiling_batch": onnx_batch,
        "onnx_ceiling_by_batch": onnx_by_batch,
        "onnx_speedup_in_process": round(onnx_rate / ceiling_rate, 2) if cpu_only else None,
        "onnx_speedup_batch_1": round(onnx_by_batch[1] / by_batch[1], 2) if cpu_only else None,
        "onnx_quality": onnx_quality,
        "inference_log_throughput_ratio": round(
            logged("inference log on", c).requests_per_s / logged("inference log off", c).requests_per_s, 3
        ),
    }
    (args.out / "results.json").write_text(
        json.dumps({"context": context, "rows": [asdict(r) for r in rows]}, indent=2)
    )
    table = markdown(rows, context) + "\n" + targets(rows, context, c) + overhead_targets(overhead, header=False)
    summary = (
        f"\nbatching on / off (model-server alone, concurrency {c}): {context['batching_gain_model_server']}x\n"
        f"full gateway path at concurrency {c}: {context['full_path_share_of_ceiling']:.0%} of the ceiling\n"
        f"gateway hop, p50 at concurrency 1: {context['gateway_hop_p50_ms']} ms\n"
        f"inference log on vs off: p50 {context['inference_log_p50_ms_added']:+} ms at concurrency 1, "
        f"throughput x{context['inference_log_throughput_ratio']} at concurrency {c}\n"
    )
    if cpu_only:
        summary += (
            f"onnx runtime in-process: {onnx_rate:.1f} emails/s at batch {onnx_batch} "
            f"(x{context['onnx_speedup_in_process']} of PyTorch; x{context['onnx_speedup_batch_1']} at batch 1); "
            f"held-out quality torch vs onnx: {onnx_quality}\n"
        )
    (args.out / "results.md").write_text(table + summary)
    print(table + summary)
    print(f"saved {args.out / 'results.json'} and {args.out / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
