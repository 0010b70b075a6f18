"""The ONNX Runtime CPU path against eager PyTorch with the same real model: same logits, same
embeddings, for any batch shape, and served the same way by the predictor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from kserve.protocol.infer_type import InferInput, InferRequest

from ml_common.classifier import SequenceClassifier
from ml_common.onnx_runtime import OnnxClassifier
from model_server.predictor import ClassifierPredictor
from model_server.settings import ModelServerSettings


@pytest.fixture(scope="module")
def pair(model_dirs, tmp_path_factory):
    torch_model = SequenceClassifier.load(model_dirs["staging"], torch.device("cpu"), torch.float32)
    onnx_model = OnnxClassifier.export(torch_model, tmp_path_factory.mktemp("onnx"))
    return torch_model, onnx_model


@pytest.mark.parametrize("shape", [(1, 5), (3, 17), (8, 64), (2, 300)])
def test_onnx_gives_the_same_logits_and_embeddings(pair, shape):
    torch_model, onnx_model = pair
    rng = np.random.default_rng(shape[1])
    ids = rng.integers(5, torch_model.vocab_size, size=shape)
    mask = np.ones_like(ids)
    mask[0, shape[1] // 2 :] = 0  # a padded row too
    expected_logits, expected_embedding = torch_model.infer(ids, mask)
    logits, embedding = onnx_model.infer(ids, mask)
    np.testing.assert_allclose(logits, expected_logits, atol=1e-4)
    np.testing.assert_allclose(embedding, expected_embedding, atol=1e-4)
    assert onnx_model.projection.id == torch_model.projection.id


async def test_the_predictor_serves_the_onnx_path(pair):
    torch_model, onnx_model = pair
    predictor = ClassifierPredictor("spam-detector", lambda: onnx_model, ModelServerSettings(runtime="onnx"))
    predictor.load()
    ids = np.array([[1, 40, 50, 60, 2]], dtype=np.int64)
    inputs = []
    for name, data in (("input_ids", ids), ("attention_mask", np.ones_like(ids))):
        tensor = InferInput(name=name, shape=list(data.shape), datatype="INT64")
        tensor.set_data_from_numpy(data, binary_data=False)
        inputs.append(tensor)
    response = await predictor.predict(InferRequest(model_name="spam-detector", infer_inputs=inputs))
    logits = next(o for o in response.outputs if o.name == "logits").as_numpy()
    np.testing.assert_allclose(logits, torch_model.forward(ids, np.ones_like(ids)), atol=1e-4)
    await predictor.batcher.close()


def test_onnx_is_refused_on_a_gpu():
    with pytest.raises(ValueError, match="CPU path"):
        ModelServerSettings(runtime="onnx", device="cuda")


@pytest.mark.slow
def test_the_compiled_model_matches_eager(model_dirs):
    """torch.compile (the GPU option) here on CPU: the compiled graph gives the eager outputs.

    One dynamic-shape compilation only (about 20 s on 2 cores); the server's warm-up runs more shapes.
    """
    eager = SequenceClassifier.load(model_dirs["staging"], torch.device("cpu"), torch.float32)
    compiled = SequenceClassifier.load(model_dirs["staging"], torch.device("cpu"), torch.float32)
    compiled.compile()
    assert compiled.compiled
    ids = np.random.default_rng(3).integers(5, eager.vocab_size, size=(3, 40))
    mask = np.ones_like(ids)
    for got, expected in zip(compiled.infer(ids, mask), eager.infer(ids, mask), strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-4)
    with pytest.raises(ValueError, match="compile applies"):
        ModelServerSettings(runtime="onnx", compile=True)


def test_a_compiled_model_is_warmed_up_at_every_serving_shape(model_dirs):
    """The shapes compiled before ready (checked on the eager model: compiling them all here takes minutes)."""
    classifier = SequenceClassifier.load(model_dirs["staging"], torch.device("cpu"), torch.float32)
    classifier.compiled = True
    seen, run = [], classifier._run
    classifier._run = lambda ids, mask: (seen.append(tuple(ids.shape)), run(ids, mask))[1]
    classifier.warm_up(8)
    assert sorted(seen) == [(1, 16), (1, 128), (2, 16), (2, 128), (8, 16), (8, 128)]
