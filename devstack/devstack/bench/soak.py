"""``make bench``'s soak row: does the platform's memory stay flat under a long stream of requests?

The full path as ``make run`` configures it (staging, inference log on, the near-zero model) takes at
least ``requests`` requests from ``wrk`` in segments, a different body on every request (so a cache or
a per-text structure would show as growth). After every segment the resident set of each process is
sampled. Warm-up is the first ``warmup`` share of the requests, or as many requests as the gateway
remembers verdicts for (``GATEWAY_FEEDBACK_MEMORY_ENTRIES``, 50,000: a bounded memory that grows until it
is full), whichever is more: it warms the allocators, pools and caches up. From there on the report gives
each process's growth (in % and in bytes per request) and the slope of a straight line through the
samples: a leak shows as a steady slope, allocator noise as steps that do not repeat.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from api_gateway.core.config import GatewaySettings
from devstack.bench import wrk
from devstack.bench.procstats import rss_bytes
from devstack.bench.report import Row
from devstack.stack import LocalStack, StackConfig

PUBLIC = '{"email_content": "%s"}'
SEGMENT_SECONDS = 10.0


@dataclass(frozen=True)
class Growth:
    """One process's resident memory over the requests after warm-up."""

    warm_mib: float
    end_mib: float
    growth_pct: float
    bytes_per_request: float
    slope_bytes_per_request: float  # least-squares slope of RSS against requests served

    @classmethod
    def of(cls, served: list[int], rss: list[int]) -> Growth:
        x, y = np.array(served, dtype=np.float64), np.array(rss, dtype=np.float64)
        slope = float(np.polyfit(x - x[0], y, 1)[0]) if len(x) > 2 else 0.0
        requests = max(x[-1] - x[0], 1.0)
        return cls(
            warm_mib=round(y[0] / 2**20, 1),
            end_mib=round(y[-1] / 2**20, 1),
            growth_pct=round(100 * (y[-1] - y[0]) / y[0], 2),
            bytes_per_request=round((y[-1] - y[0]) / requests, 2),
            slope_bytes_per_request=round(slope, 2),
        )


def soak(
    tiny_model: Path, email: str, out: Path, *, requests: int, connections: int, warmup: float = 0.1
) -> tuple[Row, dict[str, Growth]]:
    config = StackConfig.on_free_ports(
        {"staging": [tiny_model], "production": [tiny_model]},
        log_dir=out / "logs-soak",
        echo=False,
        inference_log_url=str(out / "inference-log-soak"),
        feedback_log_url=str(out / "feedback-log-soak"),
        predictor_args={env: ["--batching", "on"] for env in ("staging", "production")},
    )
    served, errors, samples = 0, 0, []
    started = time.perf_counter()
    with LocalStack(config) as stack:
        pids = {
            "gateway": stack.processes["gateway"].proc.pid,
            "transformer": stack.processes["staging-transformer"].proc.pid,
            "model-server": stack.processes["staging-predictor"].proc.pid,
        }
        url = f"{stack.gateway_url}/api/v1/predict"
        while served < requests:
            result = wrk.run(url, email, PUBLIC, connections=connections, seconds=SEGMENT_SECONDS)
            served += result.requests
            errors += result.errors
            samples.append((served, {name: rss_bytes(pid) for name, pid in pids.items()}))
            print(
                f"  soak: {served:,} requests, RSS "
                + ", ".join(f"{n} {b / 2**20:.1f} MiB" for n, b in samples[-1][1].items()),
                flush=True,
            )
    wall = time.perf_counter() - started
    warm = warmed_up_after(served, warmup)
    after = [(n, rss) for n, rss in samples if n >= warm] or samples[-2:]
    growth = {name: Growth.of([n for n, _ in after], [rss[name] for _, rss in after]) for name in pids}
    row = Row(
        configuration=f"soak: full gateway path, inference log on, {served:,} requests",
        concurrency=connections,
        requests_per_s=round(served / wall, 1),
        emails_per_s=round(served / wall, 1),
        peak_rss_mib=round(sum(g.end_mib for g in growth.values()), 1),
        errors=errors,
        extra={
            "rss_after_warmup": {name: vars(g) for name, g in growth.items()},
            "warmup_requests": after[0][0],
            "samples": len(samples),
        },
    )
    return row, growth


def warmed_up_after(served: int, warmup: float) -> float:
    """Requests after which the path is warm: ``warmup`` of those served, or the gateway's verdict memory full."""
    return max(warmup * served, GatewaySettings().feedback_memory_entries)


def soak_lines(row: Row, growth: dict[str, Growth]) -> str:
    lines = [
        "",
        f"{row.configuration} at {row.concurrency} connections ({row.requests_per_s} req/s, {row.errors} errors); "
        f"RSS from warm-up (the sample at {row.extra['warmup_requests']:,} requests: past the first 10 % of them "
        "and the gateway's memory of recent verdicts full) to the end:",
        "",
        "| process | RSS after warm-up MiB | at the end MiB | growth | bytes per request | slope, bytes per request |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {n} | {g.warm_mib} | {g.end_mib} | {g.growth_pct} % | {g.bytes_per_request} | {g.slope_bytes_per_request} |"
        for n, g in growth.items()
    ]
    return "\n".join(lines) + "\n"
