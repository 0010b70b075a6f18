"""The v2 inference protocol's binary tensor data extension, encoded and decoded in one place.

A binary v2 message (request or response) is a JSON header of ``inference-header-content-length`` bytes,
then the raw little-endian bytes of every tensor whose ``parameters`` carry ``binary_data_size``, in
the header's order (KServe's and Triton's format: https://github.com/kserve/open-inference-protocol,
"binary tensor data extension"). A tensor may instead carry its values in the header as ``data``.

The transformer's client writes requests and reads responses with it; the model server reads requests and
writes responses with it, on its lean path and on KServe's. Anything malformed is :class:`InvalidInput`
(422) naming what is wrong: a header length that is not an integer or does not fit the body, a header
that is not a JSON object, a tensor without a known datatype or a shape that its bytes do not fill.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import orjson

from serving_common.errors import InvalidInput

HEADER_LENGTH = "inference-header-content-length"
CONTENT_TYPE = "application/octet-stream"
# v2 datatypes and their numpy types (BYTES, strings, is not used by the platform's models).
DATATYPES: dict[str, np.dtype[Any]] = {
    name: np.dtype(numpy_type).newbyteorder("<")
    for name, numpy_type in {
        "BOOL": np.bool_,
        "INT8": np.int8,
        "INT16": np.int16,
        "INT32": np.int32,
        "INT64": np.int64,
        "UINT8": np.uint8,
        "UINT16": np.uint16,
        "UINT32": np.uint32,
        "UINT64": np.uint64,
        "FP16": np.float16,
        "FP32": np.float32,
        "FP64": np.float64,
    }.items()
}
_DATATYPE_OF = {dtype.newbyteorder("="): name for name, dtype in DATATYPES.items()}

Kind = Literal["inputs", "outputs"]


@dataclass(frozen=True)
class Tensor:
    name: str
    data: np.ndarray
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def datatype(self) -> str:
        datatype = _DATATYPE_OF.get(self.data.dtype.newbyteorder("="))
        if datatype is None:
            raise ValueError(f"tensor '{self.name}': numpy type {self.data.dtype} has no v2 datatype")
        return datatype


@dataclass(frozen=True)
class Message:
    """A decoded request (its ``inputs``) or response (its ``outputs``), with the header's other fields."""

    tensors: list[Tensor]
    id: str | None = None
    model_name: str | None = None
    model_version: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Tensor | None:
        return next((t for t in self.tensors if t.name == name), None)


def header_length(value: str | bytes | None, body_size: int) -> int:
    """The ``inference-header-content-length`` header as a length that fits a ``body_size``-byte body."""
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    try:
        length = int(text) if text is not None else -1
    except ValueError:
        raise InvalidInput(f"{HEADER_LENGTH} must be an integer, got {text!r}") from None
    if not 0 < length <= body_size:
        raise InvalidInput(f"{HEADER_LENGTH} {length} does not fit a {body_size}-byte body")
    return length


def encode(
    tensors: Sequence[Tensor],
    kind: Kind,
    *,
    id: str | None = None,
    model_name: str | None = None,
    model_version: str | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> tuple[bytes, int]:
    """(body, JSON header length) of a binary v2 message carrying every tensor as binary data."""
    arrays = [np.ascontiguousarray(t.data, dtype=DATATYPES[t.datatype]) for t in tensors]
    specs = [
        {
            "name": t.name,
            "shape": list(a.shape),
            "datatype": t.datatype,
            "parameters": {**t.parameters, "binary_data_size": a.nbytes},
        }
        for t, a in zip(tensors, arrays, strict=True)
    ]
    header: dict[str, Any] = {kind: specs}
    for key, value in (("id", id), ("model_name", model_name), ("model_version", model_version)):
        if value is not None:
            header[key] = value
    if parameters:
        header["parameters"] = dict(parameters)
    encoded = orjson.dumps(header)
    return encoded + b"".join(a.tobytes() for a in arrays), len(encoded)


def decode(body: bytes, length: int, kind: Kind) -> Message:
    """The message in ``body`` whose JSON header is its first ``length`` bytes (see :func:`header_length`)."""
    if not 0 < length <= len(body):
        raise InvalidInput(f"{HEADER_LENGTH} {length} does not fit a {len(body)}-byte body")
    try:
        header = orjson.loads(body[:length])
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the JSON header is not valid JSON: {exc}") from None
    if not isinstance(header, dict):
        raise InvalidInput(f"the JSON header must be an object, got {type(header).__name__}")
    specs = header.get(kind)
    if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
        raise InvalidInput(f"the JSON header needs '{kind}': a list of tensor objects")
    tensors, offset = [], length
    for spec in specs:
        tensor, offset = _tensor(spec, body, offset)
        tensors.append(tensor)
    if offset != len(body):
        raise InvalidInput(f"the body has {len(body) - offset} bytes after its tensors")
    parameters = header.get("parameters")
    return Message(
        tensors=tensors,
        id=_optional_str(header, "id"),
        model_name=_optional_str(header, "model_name"),
        model_version=_optional_str(header, "model_version"),
        parameters=parameters if isinstance(parameters, dict) else {},
    )


def _tensor(spec: dict[str, Any], body: bytes, offset: int) -> tuple[Tensor, int]:
    name, datatype, shape = spec.get("name"), spec.get("datatype"), spec.get("shape")
    if not isinstance(name, str) or not name:
        raise InvalidInput("every tensor needs a 'name'")
    if datatype not in DATATYPES:
        raise InvalidInput(f"tensor '{name}': datatype {datatype!r} is not one of {', '.join(DATATYPES)}")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise InvalidInput(f"tensor '{name}': 'shape' must be a list of non-negative integers, got {shape!r}")
    parameters = spec.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidInput(f"tensor '{name}': 'parameters' must be an object")
    dtype = DATATYPES[datatype]
    size = parameters.get("binary_data_size")
    if size is None:  # values in the header
        try:
            data = np.asarray(spec.get("data"), dtype=dtype).reshape(shape)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"tensor '{name}': its 'data' does not fill shape {shape}: {exc}") from None
    else:
        expected = math.prod(shape) * dtype.itemsize
        if size != expected:
            raise InvalidInput(
                f"tensor '{name}': binary_data_size {size!r}, but shape {shape} of {datatype} needs {expected} bytes"
            )
        if offset + size > len(body):
            raise InvalidInput(f"tensor '{name}': {size} bytes needed, {len(body) - offset} left in the body")
        data = np.frombuffer(body, dtype=dtype, count=math.prod(shape), offset=offset).reshape(shape)
        offset += size
    rest = {k: v for k, v in parameters.items() if k != "binary_data_size"}
    return Tensor(name=name, data=data.astype(dtype.newbyteorder("="), copy=False), parameters=rest), offset


def _optional_str(header: dict[str, Any], key: str) -> str | None:
    value = header.get(key)
    return value if isinstance(value, str) and value else None
