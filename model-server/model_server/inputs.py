"""Reading and checking the token tensors of an inference request (v2 tensors or v1 instances).

Binary v2 requests are decoded by :mod:`serving_common.v2_binary` on the lean path; KServe's parsed
``InferRequest`` is turned into the same :class:`~serving_common.v2_binary.Message`, so both meet one set
of checks here (:func:`token_tensors`, then :func:`check`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from kserve.protocol.infer_type import InferRequest

from serving_common.errors import InvalidInput
from serving_common.v2_binary import Message, Tensor

INPUT_IDS = "input_ids"
ATTENTION_MASK = "attention_mask"
# The v2 datatypes token tensors may come in (read as int64).
INTEGER_DATATYPES = frozenset({"INT64", "INT32", "INT16", "INT8", "UINT8", "UINT16", "UINT32"})


def from_kserve(request: InferRequest) -> Message:
    """KServe's parsed v2 request as the codec's message (its JSON or binary tensors as arrays)."""
    tensors = []
    for tensor in request.inputs:
        try:
            data = tensor.as_numpy()
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"input tensor '{tensor.name}' could not be read: {exc}") from None
        tensors.append(Tensor(tensor.name, data, dict(tensor.parameters or {})))
    return Message(tensors, id=request.id)


def token_tensors(message: Message) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask) as int64, from a decoded v2 request."""
    found = []
    for name in (INPUT_IDS, ATTENTION_MASK):
        tensor = message.get(name)
        if tensor is None:
            raise InvalidInput(f"input tensor '{name}' is missing; expected '{INPUT_IDS}' and '{ATTENTION_MASK}'")
        if tensor.datatype not in INTEGER_DATATYPES:
            raise InvalidInput(f"input tensor '{name}' must be INT64, got {tensor.datatype}")
        found.append(tensor.data.astype(np.int64, copy=False))
    return found[0], found[1]


def from_v1(payload: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """``{"instances": [{"input_ids": [...], "attention_mask": [...]}, ...]}``, rows padded here."""
    instances = payload.get("instances") if isinstance(payload, dict) else None
    if not isinstance(instances, list) or not instances:
        raise InvalidInput('expected {"instances": [{"input_ids": [...], "attention_mask": [...]}]}')
    rows = []
    for i, instance in enumerate(instances):
        if not isinstance(instance, dict) or INPUT_IDS not in instance:
            raise InvalidInput(f"instance {i} must be an object with '{INPUT_IDS}'")
        ids = instance[INPUT_IDS]
        mask = instance.get(ATTENTION_MASK, [1] * len(ids) if isinstance(ids, list) else None)
        if not (isinstance(ids, list) and isinstance(mask, list) and len(ids) == len(mask) and ids):
            raise InvalidInput(f"instance {i}: '{INPUT_IDS}' and '{ATTENTION_MASK}' must be equal-length lists")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in ids + mask):
            raise InvalidInput(f"instance {i}: token ids and mask must be integers")
        rows.append((ids, mask))
    width = max(len(ids) for ids, _ in rows)
    input_ids = np.zeros((len(rows), width), dtype=np.int64)
    attention_mask = np.zeros((len(rows), width), dtype=np.int64)
    for r, (ids, mask) in enumerate(rows):
        input_ids[r, : len(ids)] = ids
        attention_mask[r, : len(mask)] = mask
    return input_ids, attention_mask


def check(input_ids: np.ndarray, attention_mask: np.ndarray, vocab_size: int, max_length: int) -> None:
    """Refuse what would otherwise fail deep inside torch (and come back as a 500)."""
    if input_ids.ndim != 2 or input_ids.shape[0] == 0 or input_ids.shape[1] == 0:
        raise InvalidInput(f"'{INPUT_IDS}' must have shape [batch, sequence] with both > 0, got {input_ids.shape}")
    if attention_mask.shape != input_ids.shape:
        raise InvalidInput(
            f"'{ATTENTION_MASK}' shape {attention_mask.shape} differs from '{INPUT_IDS}' shape {input_ids.shape}"
        )
    if input_ids.shape[1] > max_length:
        raise InvalidInput(f"sequence length {input_ids.shape[1]} exceeds the model's maximum of {max_length}")
    if input_ids.min() < 0 or input_ids.max() >= vocab_size:
        raise InvalidInput(f"token ids must lie in [0, {vocab_size})")
    if not np.isin(attention_mask, (0, 1)).all():
        raise InvalidInput(f"'{ATTENTION_MASK}' must contain only 0 and 1")
