"""Load generation with ``hey`` against the running stack, and one measured row per configuration."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from devstack.bench.procstats import cpu_seconds, peak_rss_mib
from devstack.bench.report import Row
from devstack.bench.scrape import batch_counters
from devstack.stack import LocalStack


@dataclass(frozen=True)
class LoadGenerator:
    """How ``hey`` is run: pinned to ``cpus`` (``taskset -c``, e.g. "12-15") so that it does not take the servers'
    cores; at ``rate`` requests a second in all (``hey -q`` per connection), a fixed offered rate, or as a closed
    loop (each connection sends as soon as its answer came)."""

    cpus: str | None = None
    rate: float | None = None

    def command(self, concurrency: int) -> list[str]:
        pinned = ["taskset", "-c", self.cpus] if self.cpus else []
        offered = ["-q", f"{self.rate / concurrency:.3f}"] if self.rate else []
        return [*pinned, "hey", *offered]

    def at(self, rate: float | None) -> LoadGenerator:
        return LoadGenerator(self.cpus, rate)


def run_hey(
    url: str,
    body: bytes,
    concurrency: int,
    seconds: float,
    headers: dict[str, str],
    loadgen: LoadGenerator = LoadGenerator(),
) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as fh:
        fh.write(body)
        fh.flush()
        cmd = [
            *loadgen.command(concurrency),
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
    loadgen: LoadGenerator = LoadGenerator(),
) -> Row:
    pids = [stack.processes[p].proc.pid for p in processes]
    cpu_before = [cpu_seconds(p) for p in pids]
    batches_before = batch_counters(stack.predictor_url(predictor_env))
    started = time.perf_counter()
    result = run_hey(url, body, concurrency, seconds, headers or {}, loadgen)
    wall = time.perf_counter() - started
    cores = {
        proc: (cpu_seconds(pid) - before) / wall for proc, pid, before in zip(processes, pids, cpu_before, strict=True)
    }
    cpu = sum(cores.values())
    batches_after = batch_counters(stack.predictor_url(predictor_env))
    rows, passes, forward_s = (after - before for after, before in zip(batches_after, batches_before, strict=True))
    # Each row as it is measured, so that a run cut short still reports what it measured.
    print(
        f"  {name}, concurrency {concurrency}: {result['rps']:.1f} req/s, p50 {_r(result['p50'])} ms, "
        f"p95 {_r(result['p95'])} ms, {rows / passes if passes else 0:.1f} rows per pass, {result['errors']} errors, "
        "cores used: " + ", ".join(f"{proc} {used:.2f}" for proc, used in cores.items()),
        flush=True,
    )
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
            "cores_by_process": {proc: round(used, 2) for proc, used in cores.items()},
            # Share of the run the predictor spent in forward passes: near 1, the model is the limit.
            "forward_busy": round(forward_s / wall, 3),
            "mean_forward_ms": round(1000 * forward_s / passes, 2) if passes else None,
            "offered_rate": loadgen.rate,
            "load_generator_cpus": loadgen.cpus,
        },
    )


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


# Each task's single-text endpoint on the gateway, and the field the text goes in: the built-in tasks'
# own routes, any other task's generic one.
PUBLIC_ROUTES: dict[str, tuple[str, str]] = {
    "spam": ("/api/v1/predict", "email_content"),
    "intent": ("/api/v1/intent/predict", "text"),
}


def public_route(task: str) -> tuple[str, str]:
    return PUBLIC_ROUTES.get(task, (f"/api/v1/tasks/{task}/predict", "text"))


@dataclass(frozen=True)
class Bodies:
    """One email as each hop takes it: v2 token tensors (model-server), v1 text (transformer), the public API."""

    v2: bytes
    v1: bytes
    public: bytes
    public_path: str

    @classmethod
    def for_email(cls, email: str, input_ids: np.ndarray, attention_mask: np.ndarray, task: str) -> Bodies:
        tensors = [
            {"name": name, "shape": list(array.shape), "datatype": "INT64", "data": array.ravel().tolist()}
            for name, array in (("input_ids", input_ids), ("attention_mask", attention_mask))
        ]
        return cls(
            v2=json.dumps({"inputs": tensors}).encode(),
            v1=json.dumps({"instances": [{"text": email}]}).encode(),
            public=json.dumps({public_route(task)[1]: email}).encode(),
            public_path=public_route(task)[0],
        )


# The three ways in, from the model-server alone to the whole path.
MODEL_SERVER, TRANSFORMER, GATEWAY = "model-server alone", "transformer + model-server", "full gateway path"


def measure_hop(
    stack: LocalStack,
    hop: str,
    env: str,
    label: str,
    bodies: Bodies,
    model: str,
    concurrency: int,
    seconds: float,
    loadgen: LoadGenerator = LoadGenerator(),
) -> Row:
    """One row: ``hop`` of ``env``'s pair (and the gateway), under ``hey`` at ``concurrency``."""
    predictor, transformer = f"{env}-predictor", f"{env}-transformer"
    if hop == MODEL_SERVER:
        url, body, processes = f"{stack.predictor_url(env)}/v2/models/{model}/infer", bodies.v2, [predictor]
        headers = None
    elif hop == TRANSFORMER:
        url, body, processes = (
            f"{stack.transformer_url(env)}/v1/models/{model}:predict",
            bodies.v1,
            [transformer, predictor],
        )
        headers = None
    else:
        url, body = f"{stack.gateway_url}{bodies.public_path}", bodies.public
        processes = ["gateway", transformer, predictor]
        headers = {"X-Environment": env}
    return measure(stack, f"{hop}, {label}", url, body, concurrency, seconds, processes, env, headers, loadgen=loadgen)
