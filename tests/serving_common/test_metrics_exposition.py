"""Metrics of several worker processes: real processes counting into one directory, summed by whichever
answers the scrape; a worker that exits gracefully takes its live gauges with it, not its counts."""

from __future__ import annotations

import os
import subprocess
import sys

WORKER = """
import sys
from prometheus_client import Counter, Gauge
from serving_common.metrics_exposition import forget_this_process
Counter("texts_total", "Texts.").inc(int(sys.argv[1]))
Gauge("in_flight", "Requests being served.", multiprocess_mode="livesum").set(int(sys.argv[1]))
if sys.argv[2] == "graceful":
    forget_this_process()
"""

SCRAPE = """
from serving_common.metrics_exposition import exposition_of
print(exposition_of("")[0].decode())
"""


def _run(code: str, *args: str, env: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True
    ).stdout


def test_workers_counts_are_summed_and_a_graceful_exit_leaves_no_live_gauge(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    _run(WORKER, "3", "graceful", env=env)
    _run(WORKER, "4", "crashed", env=env)
    samples = dict(
        line.rsplit(" ", 1) for line in _run(SCRAPE, env=env).splitlines() if line and not line.startswith("#")
    )
    assert float(samples["texts_total"]) == 7.0  # both workers' counts
    assert float(samples["in_flight"]) == 4.0  # the graceful one's share is gone; the other's stays
