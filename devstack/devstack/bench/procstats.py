"""CPU time and memory of a server, from /proc (Linux), for the benchmark's per-row figures. A server
started with worker processes (``--workers``, ``GATEWAY_WORKERS``) is the process and its live descendants."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree(pid: int) -> list[int]:
    """``pid`` and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def _alive(pids: list[int], read: Callable[[int], int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += read(pid)
        except OSError:
            continue  # exited between the listing and the read
    return total


def cpu_seconds(pid: int) -> float:
    """CPU seconds of the server ``pid`` (its worker processes included) so far."""
    return _alive(tree(pid), lambda p: int(_stat(p)[11]) + int(_stat(p)[12])) / os.sysconf("SC_CLK_TCK")


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise ValueError(f"/proc/{pid}/status has no {field}")


def peak_rss_mib(pid: int) -> float:
    """The peak resident sets of the server's processes, summed."""
    return _alive(tree(pid), lambda p: _status_kib(p, "VmHWM")) / 1024


def rss_bytes(pid: int) -> int:
    """The resident sets of the server's processes now, summed."""
    return _alive(tree(pid), lambda p: _status_kib(p, "VmRSS")) * 1024
