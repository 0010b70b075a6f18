"""The one v2 binary codec speaks KServe's binary data extension both ways (what KServe's SDK encodes it
decodes, what it encodes KServe's SDK decodes), carries model_version, and refuses malformed messages as
422 invalid_input naming the fault."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kserve.protocol.infer_type import InferInput, InferOutput, InferRequest, InferResponse

from serving_common import v2_binary
from serving_common.errors import InvalidInput
from serving_common.http_errors import as_platform_error
from serving_common.v2_binary import Tensor


def _kserve_request(ids: np.ndarray, mask: np.ndarray, binary: bool = True) -> tuple[bytes, int]:
    tensors = []
    for name, array in (("input_ids", ids), ("attention_mask", mask)):
        tensor = InferInput(name=name, shape=list(array.shape), datatype="INT64")
        tensor.set_data_from_numpy(array, binary_data=binary)
        tensors.append(tensor)
    body, length = InferRequest(model_name="m", infer_inputs=tensors, request_id="r-1").to_rest()
    if not binary:  # JSON values in the header: one binary-extension message with no binary part
        body = orjson.dumps(body)
        length = len(body)
    assert isinstance(body, bytes) and length
    return body, length


@pytest.mark.parametrize("binary", [True, False])
def test_decodes_what_kserve_encodes(binary):
    ids = np.array([[2, 17, 99, 3], [2, 5, 3, 0]], dtype=np.int64)
    mask = (ids > 0).astype(np.int64)
    message = v2_binary.decode(*_kserve_request(ids, mask, binary), "inputs")
    np.testing.assert_array_equal(message.get("input_ids").data, ids)
    np.testing.assert_array_equal(message.get("attention_mask").data, mask)
    assert message.get("input_ids").datatype == "INT64" and message.id == "r-1"


def test_kserve_decodes_what_it_encodes_and_the_version_travels():
    logits = np.array([[0.1, 0.9], [2.0, -1.0]], dtype=np.float32)
    embedding = np.arange(2 * 8, dtype=np.float32).reshape(2, 8)
    outputs = [Tensor("logits", logits), Tensor("embedding", embedding, {"projection": "proj-1"})]
    body, length = v2_binary.encode(outputs, "outputs", id="r-1", model_name="spam-detector", model_version="v1-abc")
    response = InferResponse.from_bytes(body, length)
    assert response.model_name == "spam-detector" and response.id == "r-1"
    by_name = {o.name: o for o in response.outputs}
    np.testing.assert_array_equal(by_name["logits"].as_numpy(), logits)
    np.testing.assert_array_equal(by_name["embedding"].as_numpy(), embedding)
    assert by_name["embedding"].parameters["projection"] == "proj-1"
    ours = v2_binary.decode(body, length, "outputs")  # KServe's decoder drops it; ours keeps it
    assert ours.model_version == "v1-abc" and ours.get("embedding").parameters == {"projection": "proj-1"}


def test_decodes_a_kserve_response():
    output = InferOutput(name="logits", shape=[1, 2], datatype="FP32")
    output.set_data_from_numpy(np.array([[0.25, 0.75]], dtype=np.float32), binary_data=True)
    body, length = InferResponse(
        response_id="r-2", model_name="m", model_version="v9", infer_outputs=[output], use_binary_outputs=True
    ).to_rest()
    assert isinstance(body, bytes)
    message = v2_binary.decode(body, length, "outputs")
    np.testing.assert_array_equal(message.get("logits").data, [[0.25, 0.75]])
    assert (message.model_version, message.id) == ("v9", "r-2")


@given(
    st.sampled_from(sorted(v2_binary.DATATYPES)),
    st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=3),
)
def test_every_datatype_round_trips(datatype, shape):
    data = (np.arange(int(np.prod(shape))) % 7).astype(v2_binary.DATATYPES[datatype]).reshape(shape)
    body, length = v2_binary.encode([Tensor("t", data)], "inputs")
    (tensor,) = v2_binary.decode(body, length, "inputs").tensors
    assert tensor.datatype == datatype and tensor.data.shape == tuple(shape)
    np.testing.assert_array_equal(tensor.data, data)


def _valid() -> tuple[bytes, int]:
    return _kserve_request(np.ones((1, 4), dtype=np.int64), np.ones((1, 4), dtype=np.int64))


def _with_header(header: object, tail: bytes = b"") -> tuple[bytes, int]:
    encoded = orjson.dumps(header)
    return encoded + tail, len(encoded)


@pytest.mark.parametrize(
    ("message", "fault"),
    [
        (lambda: (_valid()[0], _valid()[1] + 10_000), "does not fit"),
        (lambda: (b"{not json" + _valid()[0][9:], _valid()[1]), "not valid JSON"),
        (lambda: (_valid()[0][:-8], _valid()[1]), "left in the body"),
        (lambda: (_valid()[0] + b"extra", _valid()[1]), "after its tensors"),
        (lambda: _with_header([1, 2]), "must be an object"),
        (lambda: _with_header({"inputs": "x"}), "list of tensor objects"),
        (lambda: _with_header({"inputs": [{"name": "a", "datatype": "STR", "shape": [1]}]}), "datatype"),
        (lambda: _with_header({"inputs": [{"name": "a", "datatype": "INT64", "shape": [-1]}]}), "non-negative"),
        (
            lambda: _with_header(
                {"inputs": [{"name": "a", "datatype": "INT64", "shape": [2], "parameters": {"binary_data_size": 8}}]},
                b"\0" * 8,
            ),
            "needs 16 bytes",
        ),
        (lambda: _with_header({"inputs": [{"name": "a", "datatype": "INT64", "shape": [3], "data": [1]}]}), "fill"),
    ],
)
def test_malformed_messages_are_invalid_input(message, fault):
    body, length = message()
    with pytest.raises(InvalidInput, match=fault) as info:
        v2_binary.decode(body, length, "inputs")
    error = as_platform_error(info.value)
    assert (error.status_code, error.code) == (422, "invalid_input")


@pytest.mark.parametrize("value", ["abc", "", "1.5", None, b"12x"])
def test_a_header_length_that_is_not_an_integer_is_invalid_input(value):
    with pytest.raises(InvalidInput, match=v2_binary.HEADER_LENGTH):
        v2_binary.header_length(value, 100)


def test_a_header_length_fits_the_body():
    assert v2_binary.header_length(b"40", 100) == 40
    with pytest.raises(InvalidInput, match="does not fit"):
        v2_binary.header_length("0", 100)
