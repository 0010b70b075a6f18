"""Turning texts into model inputs, identically online (feature transformer) and offline (training,
baseline generation). Needs the ``tokenizers`` package (transformer and training extras)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

PAD_TOKEN = "[PAD]"


@dataclass(frozen=True)
class EncodedBatch:
    input_ids: np.ndarray  # int64 [batch, longest]
    attention_mask: np.ndarray  # int64 [batch, longest]
    truncated: list[bool]


class TextEncoder:
    """A ``tokenizer.json`` tokenizer that truncates at the model's max length and pads each batch
    only to its longest member (never to max length)."""

    def __init__(self, tokenizer: Tokenizer, max_length: int) -> None:
        self._tokenizer = Tokenizer.from_str(tokenizer.to_str())
        pad_id = self._tokenizer.token_to_id(PAD_TOKEN)
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token=PAD_TOKEN)
        self.max_length = max_length

    @classmethod
    def from_file(cls, path: str | Path, max_length: int) -> TextEncoder:
        return cls(Tokenizer.from_file(str(path)), max_length)

    def encode(self, texts: list[str]) -> EncodedBatch:
        # The fast variant skips character offsets, which nothing here reads: the same ids, masks and
        # overflow, a fifth less time on a 128-token e-mail (docs/benchmarks.md).
        encodings = self._tokenizer.encode_batch_fast(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return EncodedBatch(ids, mask, [bool(e.overflowing) for e in encodings])
