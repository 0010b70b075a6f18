"""The cores a process may use (a container's CPU limit counted), and worker processes' share of them."""

from __future__ import annotations

import os

from serving_common.cpu import cpu_cores, share_cores_among


def test_the_cores_in_use_follow_a_container_cpu_limit(tmp_path):
    affinity = len(os.sched_getaffinity(0))
    (tmp_path / "limited").write_text("100000 100000\n")  # a limit of one CPU
    (tmp_path / "unlimited").write_text("max 100000\n")
    assert cpu_cores(str(tmp_path / "limited")) == 1
    assert cpu_cores(str(tmp_path / "unlimited")) == affinity
    assert cpu_cores(str(tmp_path / "absent")) == affinity


def test_workers_share_the_cores_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("RAYON_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    share_cores_among(cpu_cores() * 4)  # more workers than cores: one thread each
    assert os.environ["RAYON_NUM_THREADS"] == "1"
    assert os.environ["OMP_NUM_THREADS"] == "3"  # set by the operator: kept
