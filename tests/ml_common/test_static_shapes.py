"""Static shapes for CUDA graphs: how a batch is padded into its bucket, and that a padded run
gives every real row exactly the numbers of an unpadded one (the real model, on the CPU: everything but
the graph capture itself)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ml_common.classifier import SequenceClassifier
from ml_common.shape_buckets import ShapeBuckets
from ml_common.static_shapes import StaticShapeRunner, pad_into
from serving_common.model_dir import read_metadata


def test_padding_masks_the_new_columns_and_repeats_the_first_row():
    ids = torch.tensor([[1, 7, 2], [1, 2, 0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    static_ids, static_mask = torch.full((4, 5), 9), torch.full((4, 5), 9)  # stale numbers from a past pass
    pad_into(ids, mask, static_ids, static_mask)
    assert static_ids.tolist() == [[1, 7, 2, 0, 0], [1, 2, 0, 0, 0], [1, 7, 2, 0, 0], [1, 7, 2, 0, 0]]
    assert static_mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 0, 0]]


@pytest.fixture(scope="module")
def classifier(model_dir) -> SequenceClassifier:
    return SequenceClassifier.load(model_dir, torch.device("cpu"), torch.float32)


def _batch(rng: np.random.Generator, rows: int, longest: int) -> tuple[np.ndarray, np.ndarray]:
    ids = np.zeros((rows, longest), dtype=np.int64)
    mask = np.zeros_like(ids)
    for r in range(rows):
        n = longest if r == 0 else int(rng.integers(2, longest + 1))
        ids[r, :n] = np.concatenate([[1], rng.integers(5, 500, size=n - 2), [2]])
        mask[r, :n] = 1
    return ids, mask


def test_static_shapes_give_every_row_the_numbers_of_an_eager_pass(model_dir):
    eager = SequenceClassifier.load(model_dir, torch.device("cpu"), torch.float32)
    static = SequenceClassifier.load(model_dir, torch.device("cpu"), torch.float32)
    static.use_static_shapes(ShapeBuckets.covering(max_batch_size=8, max_length=64, max_batch_tokens=256))
    static.warm_up(2)
    assert static.static_shapes is not None and static.static_shapes.prepared
    rng = np.random.default_rng(3)
    for rows, longest in [(1, 5), (3, 17), (5, 40), (8, 32), (2, 64)]:
        ids, mask = _batch(rng, rows, longest)
        logits, embedding = static.infer(ids, mask)
        expected_logits, expected_embedding = eager.infer(ids, mask)
        assert logits.shape == expected_logits.shape and embedding.shape == expected_embedding.shape
        np.testing.assert_allclose(logits, expected_logits, atol=1e-5)
        np.testing.assert_allclose(embedding, expected_embedding, atol=1e-5)
    assert static.static_shapes.eager_batches == 0
    ids, mask = _batch(rng, 9, 8)  # more rows than any bucket: the eager network, same numbers
    np.testing.assert_allclose(static.infer(ids, mask)[0], eager.infer(ids, mask)[0], atol=1e-5)
    assert static.static_shapes.eager_batches == 1


def test_cuda_graphs_are_refused_off_a_gpu(classifier):
    with pytest.raises(ValueError, match="CUDA device"):
        StaticShapeRunner(classifier.network, ShapeBuckets.covering(2, 16, 32), torch.device("cpu"), graphs=True)


def test_static_shapes_and_torch_compile_are_one_or_the_other(model_dir):
    model = SequenceClassifier.load(model_dir, torch.device("cpu"), torch.float32)
    model.compiled = True
    with pytest.raises(ValueError, match="one or the other"):
        model.use_static_shapes(ShapeBuckets.covering(2, 16, 32))


def test_a_launched_pass_on_the_cpu_collects_what_infer_returns(classifier):
    ids, mask = _batch(np.random.default_rng(5), 4, 12)
    launched = classifier.launch(ids, mask)
    assert launched.done is None  # the CPU ran it already
    logits, embedding = classifier.collect(launched)
    expected = classifier.infer(ids, mask)
    np.testing.assert_array_equal(logits, expected[0])
    np.testing.assert_array_equal(embedding, expected[1])


def _deberta(model_dir, relative: bool = True) -> SequenceClassifier:
    """A small DeBERTa-v3-shaped classifier: relative attention with log-bucketed positions (the shape whose
    position computation copies a host scalar to the GPU mid-forward), or none (the MiniLM defaults' shape)."""
    from transformers import DebertaV2Config, DebertaV2ForSequenceClassification

    config = DebertaV2Config(
        vocab_size=600,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        relative_attention=relative,
        pos_att_type=["p2c", "c2p"] if relative else [],
        position_buckets=16,
        max_relative_positions=128,
        share_att_key=True,
        norm_rel_ebd="layer_norm",
        position_biased_input=False,
        num_labels=2,
    )
    torch.manual_seed(0)
    model = DebertaV2ForSequenceClassification(config).eval()
    metadata = read_metadata(model_dir).model_copy(update={"max_length": 128})
    return SequenceClassifier(model, metadata, torch.device("cpu"), torch.float32)


def test_relative_positions_computed_apart_give_the_same_numbers(model_dir):
    model = _deberta(model_dir)
    ids, mask = (torch.from_numpy(a) for a in _batch(np.random.default_rng(11), 3, 40))
    positions = model.network.relative_positions(40, torch.device("cpu"))
    assert positions is not None
    with torch.inference_mode():
        expected = model.network(ids, mask)
        given = model.network(ids, mask, positions)
    for a, b in zip(expected, given, strict=True):
        torch.testing.assert_close(a, b)


def test_static_shapes_of_a_relative_attention_model_match_its_eager_passes(model_dir):
    eager, static = _deberta(model_dir), _deberta(model_dir)
    static.use_static_shapes(ShapeBuckets.covering(max_batch_size=4, max_length=64, max_batch_tokens=128))
    static.warm_up(1)
    rng = np.random.default_rng(13)
    for rows, longest in [(1, 7), (3, 30), (2, 64)]:
        ids, mask = _batch(rng, rows, longest)
        np.testing.assert_allclose(static.infer(ids, mask)[0], eager.infer(ids, mask)[0], atol=1e-5)
    assert static.static_shapes is not None and static.static_shapes.eager_batches == 0


def test_a_model_without_relative_attention_needs_no_positions(model_dir):
    assert _deberta(model_dir, relative=False).network.relative_positions(16, torch.device("cpu")) is None
