import asyncio
import shutil
import time

import numpy as np
import pytest
import torch
from kserve.protocol.infer_type import InferInput, InferRequest, InferResponse

from ml_common.classifier import SequenceClassifier
from ml_common.device import cpu_has_amx_bf16, resolve_device, resolve_dtype
from model_server import inputs
from model_server.predictor import ClassifierPredictor
from model_server.settings import ModelServerSettings
from serving_common.errors import InvalidInput, ModelDirectoryError

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def classifier(model_dir):
    return SequenceClassifier.load(model_dir, CPU, torch.float32)


def _v2(ids: np.ndarray, mask: np.ndarray) -> InferRequest:
    a = InferInput("input_ids", list(ids.shape), "INT64")
    a.set_data_from_numpy(ids, binary_data=False)
    b = InferInput("attention_mask", list(mask.shape), "INT64")
    b.set_data_from_numpy(mask, binary_data=False)
    return InferRequest(model_name="spam-detector", infer_inputs=[a, b], request_id="rid-1")


def test_device_selection_on_a_cpu_machine():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_dtype("auto", CPU) is (torch.bfloat16 if cpu_has_amx_bf16() else torch.float32)
    assert resolve_dtype("auto", torch.device("cuda")) is torch.bfloat16
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA device"):
            resolve_device("cuda")


def test_forward_returns_one_row_of_logits_per_input(classifier):
    ids = np.array([[1, 10, 20, 2], [1, 30, 2, 0]], dtype=np.int64)
    mask = np.array([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=np.int64)
    logits = classifier.forward(ids, mask)
    assert logits.shape == (2, 2) and logits.dtype == np.float32


def test_padding_does_not_change_a_row(classifier):
    ids = np.array([[1, 10, 20, 2]], dtype=np.int64)
    alone = classifier.forward(ids, np.ones_like(ids))
    padded = classifier.forward(np.array([[1, 10, 20, 2, 0, 0]]), np.array([[1, 1, 1, 1, 0, 0]]))
    np.testing.assert_allclose(alone, padded, atol=1e-4)


def test_corrupt_weights_are_refused_naming_the_file(model_dir, tmp_path):
    broken = tmp_path / "m"
    shutil.copytree(model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelDirectoryError, match=r"model\.safetensors: not a readable safetensors file"):
        SequenceClassifier.load(broken, CPU, torch.float32)


def test_missing_tokenizer_is_refused_naming_the_file(model_dir, tmp_path):
    broken = tmp_path / "m"
    shutil.copytree(model_dir, broken)
    (broken / "tokenizer.json").unlink()
    with pytest.raises(ModelDirectoryError, match=r"tokenizer\.json: file is missing"):
        SequenceClassifier.load(broken, CPU, torch.float32)


@pytest.mark.parametrize(
    ("ids", "mask", "message"),
    [
        (np.zeros((0, 4)), np.zeros((0, 4)), "shape"),
        (np.ones((1, 4)), np.ones((1, 3)), "differs"),
        (np.full((1, 4), 10**7), np.ones((1, 4)), "token ids must lie"),
        (np.full((1, 4), -1), np.ones((1, 4)), "token ids must lie"),
        (np.ones((1, 4)), np.full((1, 4), 2), "only 0 and 1"),
        (np.ones((1, 600)), np.ones((1, 600)), "exceeds the model's maximum"),
    ],
)
def test_bad_tensors_are_client_errors(ids, mask, message):
    with pytest.raises(InvalidInput, match=message):
        inputs.check(ids.astype(np.int64), mask.astype(np.int64), vocab_size=1000, max_length=512)


def test_v1_instances_are_padded_to_the_longest():
    ids, mask = inputs.from_v1(
        {"instances": [{"input_ids": [1, 2, 3]}, {"input_ids": [1, 2], "attention_mask": [1, 1]}]}
    )
    assert ids.tolist() == [[1, 2, 3], [1, 2, 0]] and mask.tolist() == [[1, 1, 1], [1, 1, 0]]


@pytest.mark.parametrize("payload", [{}, {"instances": []}, {"instances": [{"input_ids": ["a"]}]}, {"instances": [1]}])
def test_bad_v1_payloads_are_client_errors(payload):
    with pytest.raises(InvalidInput):
        inputs.from_v1(payload)


async def test_predictor_is_ready_only_after_load_and_answers_v2(model_dir):
    predictor = ClassifierPredictor(
        "spam-detector", lambda: SequenceClassifier.load(model_dir, CPU, torch.float32), ModelServerSettings()
    )
    assert not predictor.ready
    predictor.load()
    assert predictor.ready
    ids = np.array([[1, 10, 20, 2]], dtype=np.int64)
    response_headers: dict[str, str] = {}
    result = await predictor.predict(_v2(ids, np.ones_like(ids)), {"x-request-id": "rid-1"}, response_headers)
    assert isinstance(result, InferResponse)
    assert result.id == "rid-1" and result.model_version == predictor.version
    assert result.outputs[0].name == "logits" and result.outputs[0].as_numpy().shape == (1, 2)
    assert response_headers["x-request-id"] == "rid-1"
    predictor.stop()


def test_on_off_flags_become_settings_and_other_spellings_are_refused(capsys):
    import pytest

    from model_server.__main__ import build_parser
    from model_server.settings import ModelServerSettings
    from serving_common.settings import load_settings

    parser = build_parser()
    settings = load_settings(
        ModelServerSettings, parser.parse_args(["--model_dir", "m", "--batching", "off", "--compile", "on"])
    )
    assert (settings.batching, settings.compile, settings.model_dirs) == (False, True, ["m"])
    assert load_settings(ModelServerSettings, parser.parse_args(["--model_dir", "m"])).batching is True  # the default
    with pytest.raises(SystemExit):
        parser.parse_args(["--batching", "yes"])
    assert "expected on or off, got 'yes'" in capsys.readouterr().err


def test_batch_limits_and_static_shapes_default_by_device():
    gpu, cpu = ModelServerSettings().for_device(gpu=True), ModelServerSettings().for_device(gpu=False)
    assert (gpu.batch_rows, gpu.batch_tokens, gpu.static_shapes) == (128, 16384, "on")
    assert (cpu.batch_rows, cpu.batch_tokens, cpu.static_shapes) == (32, 8192, "off")
    chosen = ModelServerSettings(max_batch_size=7, max_batch_tokens=900, static_shapes="off").for_device(gpu=True)
    assert (chosen.batch_rows, chosen.batch_tokens, chosen.static_shapes) == (7, 900, "off")
    assert ModelServerSettings(compile=True).for_device(gpu=True).static_shapes == "off"  # compile's own shapes
    with pytest.raises(ValueError, match="static shapes"):
        ModelServerSettings(static_shapes="on", runtime="onnx-int8")


async def test_a_predictor_with_static_shapes_answers_as_one_without(model_dir):
    def load():
        return SequenceClassifier.load(model_dir, CPU, torch.float32)

    static = ClassifierPredictor("spam-detector", load, ModelServerSettings(static_shapes="on", max_batch_size=8))
    static.load()
    runner = static.classifier.static_shapes
    assert runner is not None and runner.prepared  # allocated at load, on the serving thread, before ready
    assert static.ready and static.batcher.pipeline_depth == 2
    dynamic = load()
    rng = np.random.default_rng(7)
    requests = [rng.integers(5, 500, size=(1, int(n))) for n in rng.integers(3, 40, size=10)]
    results = await asyncio.gather(*(static.infer_arrays(ids, np.ones_like(ids)) for ids in requests))
    for ids, (logits, embedding) in zip(requests, results, strict=True):
        expected_logits, expected_embedding = dynamic.infer(ids, np.ones_like(ids))
        np.testing.assert_allclose(logits, expected_logits, atol=1e-5)
        np.testing.assert_allclose(embedding, expected_embedding, atol=1e-5)
    assert runner.eager_batches == 0
    await static.batcher.close()


def test_pipelined_forward_time_counts_overlapping_passes_once(model_dir):
    from prometheus_client import REGISTRY

    predictor = ClassifierPredictor(
        "forward-time", lambda: SequenceClassifier.load(model_dir, CPU, torch.float32), ModelServerSettings()
    )
    predictor.load()
    labels = {"model_name": "forward-time", "model_version": predictor.version}

    def forward_seconds() -> float:
        return REGISTRY.get_sample_value("model_server_forward_seconds_sum", labels) or 0.0

    ids = np.array([[1, 10, 20, 2]], dtype=np.int64)
    before = forward_seconds()
    first = predictor._timed_launch(ids, np.ones_like(ids))
    second = predictor._timed_launch(ids, np.ones_like(ids))  # both "on the device" at once
    time.sleep(0.05)
    predictor._timed_collect(first)
    predictor._timed_collect(second)
    wall = time.perf_counter() - first[0]
    assert 0.05 <= forward_seconds() - before <= wall  # two overlapping passes: busy time, not twice it
