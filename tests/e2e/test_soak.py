"""Soak: tens of thousands of requests through the full path; resident memory of every process stays flat.

Bound: after a 2,000-request warm-up, no process's RSS grows by more than 15 % + 30 MiB over the
next 20,000 requests."""

from __future__ import annotations

import json
import subprocess
import tempfile

import pytest

from devstack.bench.procstats import rss_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WARMUP, SOAK = 2_000, 20_000


def _rss_mib(pid: int) -> float:
    return rss_bytes(pid) / 2**20


def _hey(url: str, n: int, body: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".json") as fh:
        fh.write(body)
        fh.flush()
        return subprocess.run(
            ["hey", "-n", str(n), "-c", "16", "-m", "POST", "-T", "application/json", "-D", fh.name, "-t", "30", url],
            capture_output=True,
            text=True,
            check=True,
            timeout=900,
        ).stdout


def test_memory_stays_flat_over_tens_of_thousands_of_requests(stack):
    url = f"{stack.gateway_url}/api/v1/predict"
    body = json.dumps({"email_content": "Reminder: the quarterly review moved to Thursday at 3pm, room 4B."}).encode()
    _hey(url, WARMUP, body)
    before = {name: _rss_mib(p.proc.pid) for name, p in stack.processes.items()}
    out = _hey(url, SOAK, body)
    after = {name: _rss_mib(p.proc.pid) for name, p in stack.processes.items()}
    assert f"[200]\t{SOAK} responses" in out, out[-1500:]
    for name in before:
        assert after[name] <= before[name] * 1.15 + 30, f"{name}: {before[name]:.0f} -> {after[name]:.0f} MiB"
