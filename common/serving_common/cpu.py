"""The CPU cores a process may use, and how several worker processes share them."""

from __future__ import annotations

import math
import os
from pathlib import Path


def cpu_cores(cgroup_cpu_max: str = "/sys/fs/cgroup/cpu.max") -> int:
    """The CPU cores this process may use: those it may run on, fewer under a cgroup (v2) CPU quota, as a
    container's CPU limit sets (a pod limited to 2 CPUs on a 64-core node gets 2)."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = Path(cgroup_cpu_max).read_text(encoding="ascii").split()
    except (OSError, ValueError):
        return cores
    if quota == "max":
        return cores
    return max(1, min(cores, math.ceil(int(quota) / int(period))))


def share_cores_among(workers: int) -> None:
    """Size the thread pools of ``workers`` processes to their share of the cores, through the environment
    they inherit (unless already set): the tokenizers' Rust thread pool (``RAYON_NUM_THREADS``) and OpenMP's.
    Each pool otherwise sizes itself to every core, and N workers would run N times as many threads as cores."""
    share = str(max(1, cpu_cores() // workers))
    for variable in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(variable, share)
