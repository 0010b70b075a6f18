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
        offered = [r for r in rows if "offered 5000 req/s" in r.configuration]
        fixed = offered[0] if offered else full
        how = "at a fixed 5,000 req/s offered" if offered else f"closed loop at {concurrency} (no fixed-rate row)"
        ok = fixed.requests_per_s >= 5000 * 0.99 and (fixed.p95_ms or 1e9) <= 100 and not fixed.errors
        kind = context.get("ceiling_kind", "compiled")
        full_path_line = (
            f"| GPU: full gateway path >= 5,000 req/s, p95 <= 100 ms, no errors | {fixed.requests_per_s} req/s, "
            f"p95 {fixed.p95_ms} ms, {fixed.errors} errors, {how} | {met[ok]} | the model-server alone answers "
            f"{alone.requests_per_s} req/s at {alone.mean_batch_size} rows per pass with the GPU in forward passes "
            f"{busy:.0%} of the time; cores used by process on the full path: "
            + ", ".join(f"{k} {v}" for k, v in (fixed.extra.get("cores_by_process") or {}).items())
            + " |\n"
            f"| GPU: full path >= 60 % of the {kind} in-process ceiling | {share:.0%} of "
            f"{context['ceiling_seq_per_s']:.0f} seq/s | {met[share >= 0.6]} | as above |"
        )
        ceilings = context.get("gpu_ceilings") or {}
        static = ceilings.get("static shapes")
        others = ", ".join(
            f"{k} {v['seq_per_s']:.0f} (batch {v['batch']})"
            for k, v in ceilings.items()
            if k != "static shapes" and "seq_per_s" in v
        )
        if static and "seq_per_s" in static:
            full_path_line += (
                f"\n| GPU: static-shape (CUDA graph) ceiling >= 10,000 seq/s | {static['seq_per_s']:.0f} at batch "
                f"{static['batch']} | {met[static['seq_per_s'] >= 10000]} | beside it: {others}; one pass at a "
                "time in this process, so the GPU idles while each batch is copied in and out |"
            )
        elif static:
            full_path_line += (
                f"\n| GPU: static-shape (CUDA graph) ceiling >= 10,000 seq/s | capture failed | not met | "
                f"{static['error'][:200]}; beside it: {others} |"
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
