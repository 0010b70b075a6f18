"""Turning texts into model inputs, identically online (feature transformer) and offline (training,
baseline generation). Needs the ``tokenizers`` package (transformer and training extras)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Encoding, Tokenizer

from serving_common.model_dir import TOKENIZER_FILE, ModelMetadata

PAD_TOKEN = "[PAD]"


@dataclass(frozen=True)
class EncodedBatch:
    input_ids: np.ndarray  # int64 [batch, longest]
    attention_mask: np.ndarray  # int64 [batch, longest]
    truncated: list[bool]


class TextEncoder:
    """A ``tokenizer.json`` tokenizer that cuts a text to the model's max length and pads each batch
    only to its longest member (never to max length).

    A longer text keeps its first tokens, or with ``tail_tokens`` its first and its last ones: the
    ``tail_tokens`` before the closing special token, the rest of ``max_length`` from the start (the
    "head + tail" truncation of Sun et al., *How to Fine-Tune BERT for Text Classification?*, 2019). An
    e-mail's subject and opening and its sign-off and footer then both reach the model, at the same cost.
    """

    def __init__(self, tokenizer: Tokenizer, max_length: int, tail_tokens: int = 0) -> None:
        if not 0 <= tail_tokens <= max_length // 2:
            raise ValueError(f"tail_tokens must be between 0 and half of max_length ({max_length}), not {tail_tokens}")
        self._tokenizer = Tokenizer.from_str(tokenizer.to_str())
        pad_id = self._tokenizer.token_to_id(PAD_TOKEN)
        self._pad_id = 0 if pad_id is None else pad_id
        self.max_length = max_length
        self.tail_tokens = tail_tokens
        if tail_tokens:
            # The whole text is tokenized either way (the tokenizers library cuts after tokenizing);
            # the cut and the padding are done here.
            self._tokenizer.no_truncation()
            self._tokenizer.no_padding()
        else:
            self._tokenizer.enable_truncation(max_length)
            self._tokenizer.enable_padding(pad_id=self._pad_id, pad_token=PAD_TOKEN)

    @classmethod
    def from_file(cls, path: str | Path, max_length: int, tail_tokens: int = 0) -> TextEncoder:
        return cls(Tokenizer.from_file(str(path)), max_length, tail_tokens)

    @classmethod
    def for_model(cls, model_dir: str | Path, metadata: ModelMetadata) -> TextEncoder:
        """The encoder a model directory was trained with: its tokenizer, cut as its metadata says."""
        return cls.from_file(Path(model_dir) / TOKENIZER_FILE, metadata.max_length, metadata.tail_tokens)

    def encode(self, texts: list[str]) -> EncodedBatch:
        # The fast variant skips character offsets, which nothing here reads: the same ids, masks and
        # overflow, a fifth less time on a 128-token e-mail (docs/benchmarks.md).
        encodings = self._tokenizer.encode_batch_fast(texts)
        if self.tail_tokens:
            return self._head_and_tail(encodings)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return EncodedBatch(ids, mask, [bool(e.overflowing) for e in encodings])

    def _head_and_tail(self, encodings: list[Encoding]) -> EncodedBatch:
        rows = [self._cut(e) for e in encodings]
        longest = max((len(r) for r in rows), default=0)
        ids = np.full((len(rows), longest), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), longest), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return EncodedBatch(ids, mask, [len(e.ids) > self.max_length for e in encodings])

    def _cut(self, encoding: Encoding) -> list[int]:
        ids = encoding.ids
        if len(ids) <= self.max_length:
            return ids
        special = encoding.special_tokens_mask
        closing = 0  # the special tokens the template puts after the text ([SEP])
        while closing < len(special) and special[-1 - closing]:
            closing += 1
        tail = self.tail_tokens + closing
        return ids[: self.max_length - tail] + ids[-tail:]
