"""``make bench``'s serving-overhead rows: what the platform itself costs per request.

With a model that costs almost nothing (one layer of width 32, random weights, the default model's
tokenizer), the full gateway path is compared with a bare FastAPI app (one route, one pydantic model in
and one out, no middleware, uvicorn's defaults: :mod:`devstack.bench.bare_app`) and with a
gateway-shaped echo that has the gateway's own request and response models, limits and protocol and
answers at once (:mod:`devstack.bench.echo_app`). All are driven by the same load generator (``wrk``) in
the same run, with a different body on every request. The ratio to the bare app is the share of a single
plain FastAPI hop that the whole platform reaches; the hops in between show where the rest goes.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from devstack.bench import wrk
from devstack.bench.procstats import cpu_seconds, peak_rss_mib
from devstack.bench.report import Row
from devstack.process import ManagedProcess, free_port
from devstack.stack import LocalStack, StackConfig, gateway_process

PUBLIC = '{"email_content": "%s"}'
V1 = '{"instances": [{"text": "%s"}]}'


def _row(name: str, connections: int, result: wrk.WrkResult, cpu: dict[str, float], rss: float) -> Row:
    return Row(
        configuration=name,
        concurrency=connections,
        requests_per_s=round(result.requests_per_s, 1),
        emails_per_s=round(result.requests_per_s, 1),
        p50_ms=None if result.p50_ms is None else round(result.p50_ms, 2),
        p95_ms=None if result.p95_ms is None else round(result.p95_ms, 2),
        p99_ms=None if result.p99_ms is None else round(result.p99_ms, 2),
        cpu_cores_used=round(sum(cpu.values()), 2),
        peak_rss_mib=round(rss, 1),
        errors=result.errors,
        extra={
            "requests": result.requests,
            "load_generator": "wrk, a different body per request",
            # CPU milliseconds each process spent per request: where the platform's cost goes.
            "cpu_ms_per_request": {
                n: round(1000 * c / result.requests_per_s, 3) for n, c in cpu.items() if result.requests_per_s
            },
        },
    )


def _measure(
    name: str,
    url: str,
    email: str,
    template: str,
    connections: int,
    seconds: float,
    pids: dict[str, int],
    headers: dict[str, str] | None = None,
) -> Row:
    before = {n: cpu_seconds(p) for n, p in pids.items()}
    started = time.perf_counter()
    result = wrk.run(url, email, template, connections=connections, seconds=seconds, headers=headers)
    wall = time.perf_counter() - started
    cpu = {n: (cpu_seconds(p) - before[n]) / wall for n, p in pids.items()}
    return _row(name, connections, result, cpu, sum(peak_rss_mib(p) for p in pids.values()))


def _shadow_rows(stack: LocalStack, email: str, out: Path, seconds: float) -> list[Row]:
    """Production through the stack's gateway (no shadow traffic) and through gateways that mirror 5 %
    (the cluster's setting) and 100 % of production's requests to staging, one request at a time: what
    shadowing adds to production's latency. The mirror runs after the answer; on one machine staging's
    extra work still competes with production's for the same cores."""
    production = {"X-Environment": "production"}
    backends = {
        "transformers": stack.processes["production-transformer"].proc.pid,
        "model-servers": stack.processes["production-predictor"].proc.pid,
    }
    rows = [
        _measure(
            "shadow: production, shadow traffic off",
            f"{stack.gateway_url}/api/v1/predict",
            email,
            PUBLIC,
            1,
            seconds,
            {"gateway": stack.processes["gateway"].proc.pid, **backends},
            production,
        )
    ]
    for share, label in ((0.05, "5 % mirrored to staging"), (1.0, "every request mirrored to staging")):
        port = free_port()
        shadowing = gateway_process(
            "gateway-shadow",
            port,
            stack.transformer_url("staging"),
            stack.transformer_url("production"),
            log_dir=out / "logs-overhead",
            env={"GATEWAY_SHADOW_SHARES": json.dumps({"spam-detector": share, "intent-classifier": share})},
        )
        shadowing.start()
        try:
            shadowing.wait_ready(60)
            rows.append(
                _measure(
                    f"shadow: production, {label}",
                    f"http://127.0.0.1:{port}/api/v1/predict",
                    email,
                    PUBLIC,
                    1,
                    seconds,
                    {"gateway": shadowing.proc.pid, **backends},
                    production,
                )
            )
        finally:
            shadowing.stop()
    return rows


def serving_overhead(
    tiny_model: Path,
    email: str,
    out: Path,
    *,
    connections: int,
    seconds: float,
    gateway_env: dict[str, str] | None = None,
    component_env: dict[str, str] | None = None,
) -> tuple[list[Row], dict]:
    """The bare app, the echo app, the full path and its inner hops with the near-zero-cost model, at
    ``connections`` and at 1. Returns the rows and a summary for the targets table."""
    anchors = {}
    for app in ("bare_app", "echo_app"):
        port = free_port()
        anchors[app] = ManagedProcess(
            app,
            [sys.executable, "-m", f"devstack.bench.{app}", "--port", str(port)],
            log_dir=out / "logs-overhead",
            echo=False,
            ready_url=f"http://127.0.0.1:{port}/health",
        )
        anchors[app].url = f"http://127.0.0.1:{port}/api/v1/predict"
    bare, echo = anchors["bare_app"], anchors["echo_app"]
    config = StackConfig.on_free_ports(
        {"staging": [tiny_model], "production": [tiny_model]},
        log_dir=out / "logs-overhead",
        echo=False,
        inference_log_url=str(out / "inference-log"),
        feedback_log_url=str(out / "feedback-log"),
        gateway_env=gateway_env or {},
        component_env=component_env or {},
        predictor_args={env: ["--batching", "on"] for env in ("staging", "production")},
    )
    rows: list[Row] = []
    name = "spam-detector"
    for anchor in (bare, echo):
        anchor.start()
    try:
        for anchor in (bare, echo):
            anchor.wait_ready(60)
        with LocalStack(config) as stack:
            pid = {n: p.proc.pid for n, p in stack.processes.items()}
            inner = {"transformer": pid["staging-transformer"], "model-server": pid["staging-predictor"]}
            full = {"gateway": pid["gateway"], **inner}
            for c in (connections, 1):
                rows.append(
                    _measure("overhead: bare FastAPI app", bare.url, email, PUBLIC, c, seconds, {"bare": bare.proc.pid})
                )
                rows.append(
                    _measure(
                        "overhead: gateway-shaped echo", echo.url, email, PUBLIC, c, seconds, {"echo": echo.proc.pid}
                    )
                )
                rows.append(
                    _measure(
                        "overhead: full gateway path, near-zero model",
                        f"{stack.gateway_url}/api/v1/predict",
                        email,
                        PUBLIC,
                        c,
                        seconds,
                        full,
                        {"X-Environment": "staging"},
                    )
                )
                rows.append(
                    _measure(
                        "overhead: transformer + model-server, near-zero model",
                        f"{stack.transformer_url('staging')}/v1/models/{name}:predict",
                        email,
                        V1,
                        c,
                        seconds,
                        inner,
                    )
                )
            rows += _shadow_rows(stack, email, out, seconds)
    finally:
        for anchor in (bare, echo):
            anchor.stop()

    def pick(label: str, c: int) -> Row:
        return next(r for r in rows if r.configuration == f"overhead: {label}" and r.concurrency == c)

    def pick_shadow(label: str) -> Row:
        return next(r for r in rows if r.configuration == f"shadow: production, {label}")

    bare_row, echo_row = pick("bare FastAPI app", connections), pick("gateway-shaped echo", connections)
    full_row = pick("full gateway path, near-zero model", connections)
    summary = {
        "overhead_connections": connections,
        "overhead_bare_rps": bare_row.requests_per_s,
        "overhead_echo_rps": echo_row.requests_per_s,
        "overhead_full_path_rps": full_row.requests_per_s,
        "overhead_share_of_bare": round(full_row.requests_per_s / bare_row.requests_per_s, 3),
        "overhead_share_of_echo": round(full_row.requests_per_s / echo_row.requests_per_s, 3),
        "overhead_transformer_rps": pick("transformer + model-server, near-zero model", connections).requests_per_s,
        "overhead_full_path_p50_c1_ms": pick("full gateway path, near-zero model", 1).p50_ms,
        "overhead_echo_p50_c1_ms": pick("gateway-shaped echo", 1).p50_ms,
        "overhead_bare_p50_c1_ms": pick("bare FastAPI app", 1).p50_ms,
        "overhead_full_path_cores": full_row.cpu_cores_used,
        "overhead_cpu_ms_per_request": full_row.extra["cpu_ms_per_request"],
        "overhead_echo_cpu_ms": echo_row.extra["cpu_ms_per_request"]["echo"],
        "overhead_bare_cpu_ms": bare_row.extra["cpu_ms_per_request"]["bare"],
        "shadow_off_p50_c1_ms": pick_shadow("shadow traffic off").p50_ms,
        "shadow_on_p50_c1_ms": pick_shadow("every request mirrored to staging").p50_ms,
        "shadow_5pct_p50_c1_ms": pick_shadow("5 % mirrored to staging").p50_ms,
        "shadow_off_p95_c1_ms": pick_shadow("shadow traffic off").p95_ms,
        "shadow_on_p95_c1_ms": pick_shadow("every request mirrored to staging").p95_ms,
    }
    return rows, summary


def overhead_targets(summary: dict, header: bool = True) -> str:
    """The serving-overhead target against this run: met, or the gap and where the CPU went."""
    share = summary["overhead_share_of_bare"]
    per_process = ", ".join(f"{n} {ms} ms" for n, ms in summary["overhead_cpu_ms_per_request"].items())
    status = "met" if share >= 0.4 else "not met"
    lines = ["| target | measured | status | cause of the gap (from this run) |", "|---|---|---|---|"] if header else []
    lines.append(
        f"| serving overhead: full path >= 40 % of a bare FastAPI app (near-zero model, "
        f"{summary['overhead_connections']} connections, wrk, a new body per request) | "
        f"{summary['overhead_full_path_rps']} vs {summary['overhead_bare_rps']} req/s = {share:.0%} "
        f"({summary['overhead_share_of_echo']:.0%} of the gateway-shaped echo's {summary['overhead_echo_rps']}) | "
        f"{status} | CPU per request: {per_process}, against {summary['overhead_bare_cpu_ms']} ms for the bare app "
        f"and {summary['overhead_echo_cpu_ms']} ms for the echo; three Python servers and two internal HTTP hops on "
        f"{summary['overhead_full_path_cores']} of the machine's cores, with wrk on the rest |"
    )
    lines.append(
        f"| shadow traffic adds no latency to production (concurrency 1, near-zero model) | p50 "
        f"{summary['shadow_off_p50_c1_ms']} ms off, {summary['shadow_5pct_p50_c1_ms']} ms with 5 % mirrored, "
        f"{summary['shadow_on_p50_c1_ms']} ms with every request mirrored; p95 {summary['shadow_off_p95_c1_ms']} / "
        f"{summary['shadow_on_p95_c1_ms']} ms (off / all) | see the rows | the mirror runs after the answer; on two "
        "shared cores staging's extra work still competes with production's for CPU |"
    )
    lines.append(
        f"| p50 at concurrency 1 (near-zero model) | full path {summary['overhead_full_path_p50_c1_ms']} ms, "
        f"echo {summary['overhead_echo_p50_c1_ms']} ms | see docs/benchmarks.md (before/after) | "
        "one lone request crosses three servers; nothing waits for a batch to fill |"
    )
    return "\n".join(lines) + "\n"
