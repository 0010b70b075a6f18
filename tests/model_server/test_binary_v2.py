"""The model-server's binary v2 fast path speaks KServe's own binary data extension: what KServe's
client encodes it reads, what it answers KServe's client decodes; malformed bodies are clear 400s."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from kserve.protocol.infer_type import InferInput, InferRequest, InferResponse

from model_server.binary_v2 import read_request, write_response
from serving_common.errors import InvalidInput
from serving_common.http_errors import as_platform_error


def _kserve_binary_request(ids: np.ndarray, mask: np.ndarray) -> tuple[bytes, int]:
    tensors = []
    for name, array in (("input_ids", ids), ("attention_mask", mask)):
        tensor = InferInput(name=name, shape=list(array.shape), datatype="INT64")
        tensor.set_data_from_numpy(array, binary_data=True)
        tensors.append(tensor)
    body, length = InferRequest(model_name="m", infer_inputs=tensors, request_id="r-1").to_rest()
    assert isinstance(body, bytes) and length
    return body, length


def test_reads_what_kserve_encodes():
    ids = np.array([[2, 17, 99, 3], [2, 5, 3, 0]], dtype=np.int64)
    mask = (ids > 0).astype(np.int64)
    header, got_ids, got_mask = read_request(*_kserve_binary_request(ids, mask))
    np.testing.assert_array_equal(got_ids, ids)
    np.testing.assert_array_equal(got_mask, mask)
    assert header["id"] == "r-1"


class _Predictor:
    name, version, projection_id = "spam-detector", "v1-abc", "proj-1"


def test_kserve_decodes_what_it_answers():
    logits = np.array([[0.1, 0.9], [2.0, -1.0]], dtype=np.float32)
    embedding = np.arange(2 * 8, dtype=np.float32).reshape(2, 8)
    body, length = write_response(_Predictor(), "r-1", logits, embedding)  # type: ignore[arg-type]
    response = InferResponse.from_bytes(body, length)
    assert response.model_name == "spam-detector"
    assert orjson.loads(body[:length])["model_version"] == "v1-abc"  # KServe's decoder does not read it
    outputs = {o.name: o for o in response.outputs}
    np.testing.assert_array_equal(outputs["logits"].as_numpy(), logits)
    np.testing.assert_array_equal(outputs["embedding"].as_numpy(), embedding)
    assert outputs["embedding"].parameters["projection"] == "proj-1"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda body, length: (body, length + 10_000),  # header length past the body
        lambda body, length: (b"{not json" + body[9:], length),  # the JSON header broken
        lambda body, length: (body[:-8], length),  # a tensor cut short
    ],
)
def test_malformed_bodies_are_invalid_input(mangle):
    body, length = _kserve_binary_request(np.ones((1, 4), dtype=np.int64), np.ones((1, 4), dtype=np.int64))
    with pytest.raises(InvalidInput) as info:
        read_request(*mangle(body, length))
    error = as_platform_error(info.value)
    assert (error.status_code, error.code) == (422, "invalid_input")
