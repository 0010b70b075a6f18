"""The benchmark's rows and their markdown table."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Row:
    configuration: str
    concurrency: int
    requests_per_s: float
    emails_per_s: float
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    mean_batch_size: float | None = None
    cpu_cores_used: float | None = None
    peak_rss_mib: float | None = None
    errors: int = 0
    ratio_to_ceiling: float | None = None
    notes: str = ""
    extra: dict = field(default_factory=dict)


def markdown(rows: list[Row], context: dict) -> str:
    lines = [
        f"Machine: {context['machine']}. Model: `{context['model']}` ({context['model_version']}). "
        f"Email length: {context['email_tokens']} tokens. Duration per run: {context['seconds']} s. "
        f"Ceiling: {context['ceiling_seq_per_s']:.1f} emails/s in-process at batch {context['ceiling_batch']}.",
        "",
        "| configuration | conc. | req/s | emails/s | p50 ms | p95 ms | p99 ms | mean batch | CPU cores "
        "| peak RSS MiB | errors | share of ceiling |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [
            r.configuration,
            r.concurrency,
            r.requests_per_s,
            r.emails_per_s,
            r.p50_ms,
            r.p95_ms,
            r.p99_ms,
            r.mean_batch_size,
            r.cpu_cores_used,
            r.peak_rss_mib,
            r.errors,
            f"{r.ratio_to_ceiling:.2f}" if r.ratio_to_ceiling is not None else "",
        ]
        lines.append("| " + " | ".join("" if c is None else str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def summary_lines(context: dict[str, Any], concurrency: int) -> str:
    """The run's headline ratios, one per line, after the table."""
    c = concurrency
    summary = (
        f"\nbatching on / off (model-server alone, concurrency {c}): {context['batching_gain_model_server']}x\n"
        f"full gateway path at concurrency {c}: {context['full_path_share_of_ceiling']:.0%} of the ceiling\n"
        f"gateway hop, p50 at concurrency 1: {context['gateway_hop_p50_ms']} ms\n"
        f"inference log on vs off: p50 {context['inference_log_p50_ms_added']:+} ms at concurrency 1, "
        f"throughput x{context['inference_log_throughput_ratio']} at concurrency {c}\n"
    )
    if context.get("onnx_speedup_in_process") is not None:
        summary += (
            f"onnx runtime in-process: {context['onnx_ceiling_seq_per_s']:.1f} emails/s at batch "
            f"{context['onnx_ceiling_batch']} (x{context['onnx_speedup_in_process']} of PyTorch; "
            f"x{context['onnx_speedup_batch_1']} at batch 1); "
            f"held-out quality torch vs onnx: {context['onnx_quality']}\n"
        )
    return summary


class RowFile:
    """The run's rows as JSON, rewritten as each row is measured: a run cut short (a lease that ends, a
    timeout) keeps every row it measured. ``path`` None: nothing is written."""

    def __init__(self, path: Path | None, context: dict[str, Any]) -> None:
        self.path = path
        self.context = context
        self.rows: list[Row] = []

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            payload = {"context": self.context, "rows": [asdict(r) for r in self.rows]}
            self.path.write_text(json.dumps(payload, indent=2))
        return row
