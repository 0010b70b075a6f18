"""The (batch, length) shapes a model server captures as CUDA graphs (:mod:`ml_common.static_shapes`), chosen from
the batcher's limits. Plain arithmetic, without PyTorch: the model server decides on them before it knows whether
PyTorch runs the model."""

from __future__ import annotations

from dataclasses import dataclass, field


def _grid(largest: int, smallest: int) -> tuple[int, ...]:
    """``smallest``, then powers of two and their midpoints (x1.5) up to ``largest``, which is always in:
    a batch never pads by more than half again."""
    values, step = {largest}, smallest
    while step < largest:
        values.add(step)
        if step * 3 // 2 < largest and step >= 2:
            values.add(step * 3 // 2)
        step *= 2
    return tuple(sorted(values))


@dataclass(frozen=True)
class ShapeBuckets:
    """The captured shapes: every (batch size, length) of the grid with at most ``max_tokens`` slots."""

    batch_sizes: tuple[int, ...]
    lengths: tuple[int, ...]
    max_tokens: int
    # The shapes by token slots (shorter first on a tie), computed once: select scans them on every pass.
    _by_cost: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        shapes = [(b, n) for b in self.batch_sizes for n in self.lengths if b * n <= self.max_tokens]
        object.__setattr__(self, "_by_cost", tuple(sorted(shapes, key=lambda s: (s[0] * s[1], s[1]))))

    @classmethod
    def covering(
        cls, max_batch_size: int, max_length: int, max_batch_tokens: int, min_length: int = 16
    ) -> ShapeBuckets:
        """The grid for a batcher's limits. A batch the batcher forms has at most ``max_batch_tokens``
        padded tokens; rounding its rows and its length up to the grid multiplies each by at most 1.5, so
        buckets of up to 2.25x the budget hold every such batch."""
        return cls(
            batch_sizes=_grid(max_batch_size, 1),
            lengths=_grid(max_length, min(min_length, max_length)),
            max_tokens=max_batch_tokens * 9 // 4,
        )

    def shapes(self) -> list[tuple[int, int]]:
        return list(self._by_cost)

    def select(self, rows: int, length: int) -> tuple[int, int] | None:
        """The bucket of fewest token slots that holds ``rows`` x ``length`` (the shorter on a tie), or
        None when none does."""
        return next(((b, n) for b, n in self._by_cost if b >= rows and n >= length), None)
