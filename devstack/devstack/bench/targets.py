"""The issue's targets against one bench run: met, or the measured gap and what the run shows as its cause."""

from __future__ import annotations

from devstack.bench.report import Row


def targets(rows: list[Row], context: dict, concurrency: int) -> str:
    """The issue's targets against this run: met, or the measured gap and what the run shows as its cause."""

    def row(name: str, c: int = concurrency) -> Row:
        return next(r for r in rows if r.configuration == name and r.concurrency == c)

    by_batch = context["ceiling_by_batch"]
    torch_by_batch = context.get("torch_ceiling_by_batch", by_batch)
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
        f"{b}: {context['onnx_ceiling_by_batch'][b] / torch_by_batch[b]:.2f}x"
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
