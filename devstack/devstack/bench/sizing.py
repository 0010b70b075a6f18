"""How many processes each CPU hop gets on the bench's host, as a cluster's replicas would be sized."""

from __future__ import annotations

from dataclasses import dataclass

from serving_common.cpu import cpu_cores


@dataclass(frozen=True)
class Sizing:
    gateway_workers: int
    transformer_workers: int
    loadgen_cpus: str | None  # taskset's list for hey; None: not pinned

    @classmethod
    def for_host(cls, cores: int | None = None) -> Sizing:
        """Below 8 cores, one process per hop and the load generator unpinned (pinned, it would take half the
        machine). From 8, the last quarter of the cores for the load generator and, of the rest, a quarter
        to gateway workers and a half to transformer workers; what remains is the predictor's, one process
        feeding its GPU (16 cores: hey on 12-15, 3 gateway workers, 6 transformer workers)."""
        cores = cores or cpu_cores()
        if cores < 8:
            return cls(1, 1, None)
        loadgen = cores // 4
        rest = cores - loadgen
        return cls(max(1, rest // 4), max(1, rest // 2), f"{rest}-{cores - 1}")
