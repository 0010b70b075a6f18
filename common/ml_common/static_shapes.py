"""Static (batch, length) shapes for CUDA graphs.

A CUDA graph replays a fixed sequence of kernels on fixed buffers, so it serves one input shape. The
model server captures a grid of shapes (buckets) before it reports ready, runs each batch in the smallest
bucket that holds it, padded, and slices the real rows back out; a batch no bucket holds runs eagerly.

Padding keeps every real row's numbers: padded columns are masked (as a dynamic batch pads to its
longest text), and padded rows are copies of the first row, so no row is all padding (some attention
kernels turn a fully masked row into NaN) and no padded row ever reaches a caller.

:class:`StaticShapeRunner` holds the buckets' buffers. With ``graphs`` on (CUDA), :meth:`prepare` captures
one graph per bucket on the calling thread, the one that serves; without (CPU, tests), each bucket runs
the model eagerly on the same padded buffers, so everything but the capture itself is exercised anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ml_common.shape_buckets import ShapeBuckets

log = logging.getLogger(__name__)

Outputs = tuple[torch.Tensor, ...]
Network = Callable[..., Outputs]  # (ids, mask) or (ids, mask, relative positions) -> outputs
# Relative position ids for a length (DeBERTa's), computed once per bucket outside its graph; None: none needed.
Positions = Callable[[int, torch.device], torch.Tensor | None]


def pad_into(ids: torch.Tensor, mask: torch.Tensor, static_ids: torch.Tensor, static_mask: torch.Tensor) -> None:
    """Write a [rows, length] batch into a bucket's larger buffers: masked pad columns, padded rows as
    copies of row 0. In place, on the buffers' device (a graph reads those exact buffers)."""
    rows, length = ids.shape
    static_ids.zero_()
    static_mask.zero_()
    static_ids[:rows, :length].copy_(ids, non_blocking=True)
    static_mask[:rows, :length].copy_(mask, non_blocking=True)
    if rows < static_ids.shape[0]:
        static_ids[rows:] = static_ids[0]
        static_mask[rows:] = static_mask[0]


@dataclass
class _Bucket:
    ids: torch.Tensor
    mask: torch.Tensor
    positions: torch.Tensor | None = None
    graph: torch.cuda.CUDAGraph | None = None
    outputs: Outputs = field(default_factory=tuple)

    @property
    def inputs(self) -> tuple[torch.Tensor, ...]:
        return (self.ids, self.mask) if self.positions is None else (self.ids, self.mask, self.positions)


class StaticShapeRunner:
    """A network run in static shapes: ``runner(ids, mask)`` gives what ``network(ids, mask)`` gives."""

    def __init__(
        self,
        network: Network,
        buckets: ShapeBuckets,
        device: torch.device,
        *,
        graphs: bool,
        positions: Positions | None = None,
    ) -> None:
        if graphs and device.type != "cuda":
            raise ValueError(f"CUDA graphs need a CUDA device, not {device}")
        self.network = network
        self.positions = positions
        self.buckets = buckets
        self.device = device
        self.graphs = graphs
        self._buckets: dict[tuple[int, int], _Bucket] = {}
        self.eager_batches = 0  # batches no bucket held

    @property
    def prepared(self) -> bool:
        return bool(self._buckets)

    @torch.inference_mode()
    def prepare(self) -> None:
        """Allocate every bucket, and with graphs capture each one, largest first so the smaller ones reuse
        its memory pool. Call it on the thread that serves, before ready."""
        pool = torch.cuda.graph_pool_handle() if self.graphs else None
        for shape in reversed(self.buckets.shapes()):
            bucket = _Bucket(
                ids=torch.ones(shape, dtype=torch.int64, device=self.device),
                mask=torch.ones(shape, dtype=torch.int64, device=self.device),
                positions=self.positions(shape[1], self.device) if self.positions else None,
            )
            if self.graphs:
                bucket.graph, bucket.outputs = self._capture(bucket, pool)
            self._buckets[shape] = bucket
        log.info("%d static shapes ready (CUDA graphs %s)", len(self._buckets), "on" if self.graphs else "off")

    def _capture(self, bucket: _Bucket, pool: Any) -> tuple[torch.cuda.CUDAGraph, Outputs]:
        # Warm-up passes on a side stream first (cuBLAS workspaces, lazy kernels), as torch.cuda.graphs
        # documents; then one captured pass whose output tensors every replay overwrites.
        side = torch.cuda.Stream(self.device)  # type: ignore[no-untyped-call]
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(2):
                self.network(*bucket.inputs)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=pool):
            outputs = self.network(*bucket.inputs)
        return graph, outputs

    def __call__(self, ids: torch.Tensor, mask: torch.Tensor) -> Outputs:
        rows, length = ids.shape
        shape = self.buckets.select(rows, length)
        bucket = self._buckets.get(shape) if shape else None
        if bucket is None:
            self.eager_batches += 1
            return self.network(ids, mask)
        pad_into(ids, mask, bucket.ids, bucket.mask)
        if bucket.graph is not None:
            bucket.graph.replay()
            outputs = bucket.outputs
        else:
            outputs = self.network(*bucket.inputs)
        # Views of the static outputs. The caller queues their copy to the host on this stream before any
        # later pass, so no replay (of this graph, or of another whose pool reuses this memory) overwrites
        # rows still to be read: every bucket runs on the one serving stream, never two at once.
        return tuple(out[:rows] for out in outputs)
