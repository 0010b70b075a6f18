"""Which bucket a batch runs in: the grid of static shapes the model server captures."""

from __future__ import annotations

import itertools

from ml_common.shape_buckets import ShapeBuckets


def test_the_grid_steps_by_at_most_half_again_and_ends_at_the_limits():
    buckets = ShapeBuckets.covering(max_batch_size=128, max_length=512, max_batch_tokens=16384)
    assert buckets.batch_sizes == (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
    assert buckets.lengths == (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
    for grid in (buckets.batch_sizes[1:], buckets.lengths):
        assert all(b / a <= 1.5 for a, b in itertools.pairwise(grid))
    assert ShapeBuckets.covering(100, 200, 4096).batch_sizes[-1] == 100  # the limits themselves are in
    assert ShapeBuckets.covering(100, 200, 4096).lengths[-1] == 200


def test_every_batch_the_batcher_can_form_has_a_bucket():
    buckets = ShapeBuckets.covering(max_batch_size=128, max_length=512, max_batch_tokens=16384)
    for rows in range(1, 129):
        for length in range(1, 513):
            if rows * length <= 16384:
                assert buckets.select(rows, length) is not None, (rows, length)


def test_a_batch_runs_in_the_smallest_bucket_that_holds_it():
    buckets = ShapeBuckets.covering(max_batch_size=64, max_length=256, max_batch_tokens=8192)
    assert buckets.select(1, 10) == (1, 16)
    assert buckets.select(5, 100) == (6, 128)
    assert buckets.select(33, 128) == (48, 128)
    assert buckets.select(64, 128) == (64, 128)
    assert buckets.select(65, 16) is None  # more rows than any bucket: runs eagerly
    assert buckets.select(1, 257) is None
    assert all(b * n <= buckets.max_tokens for b, n in buckets.shapes())
