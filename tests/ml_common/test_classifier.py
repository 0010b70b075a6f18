"""PyTorch in bfloat16 on the CPU, what ``--runtime torch`` serves on a CPU with AMX (dtype ``auto``): float32's
verdicts, and a row's numbers that do not depend on the rows batched with it (the property int8 ONNX Runtime runs
rows alone for)."""

from __future__ import annotations

import numpy as np
import torch

from ml_common.classifier import SequenceClassifier


def _probabilities(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def test_bfloat16_on_the_cpu_keeps_float32s_answers_whatever_the_batch(model_dirs):
    fp32 = SequenceClassifier.load(model_dirs["staging"], torch.device("cpu"), torch.float32)
    bf16 = SequenceClassifier.load(model_dirs["staging"], torch.device("cpu"), torch.bfloat16)
    rng = np.random.default_rng(7)
    lengths = [60, 13, 41, 60, 5, 28, 60, 33]
    ids = rng.integers(5, fp32.vocab_size, size=(len(lengths), max(lengths)))
    mask = (np.arange(ids.shape[1]) < np.array(lengths)[:, None]).astype(np.int64)
    ids = ids * mask  # padding on the right, as the transformer sends it

    batched, embedding = bf16.infer(ids, mask)
    assert batched.dtype == np.float32 and embedding.dtype == np.float32  # the wire format does not change
    expected, expected_embedding = fp32.infer(ids, mask)
    np.testing.assert_allclose(_probabilities(batched), _probabilities(expected), atol=0.02)
    np.testing.assert_allclose(embedding, expected_embedding, atol=0.05)
    alone = np.concatenate([bf16.infer(ids[i : i + 1, :n], mask[i : i + 1, :n])[0] for i, n in enumerate(lengths)])
    np.testing.assert_allclose(_probabilities(alone), _probabilities(batched), atol=0.01)
