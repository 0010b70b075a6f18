"""The benchmark's rows and their markdown table."""

from __future__ import annotations

from dataclasses import dataclass, field


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
