"""Turning texts into model inputs, identically online (feature transformer) and offline (training,
baseline generation). Needs the ``tokenizers`` package (transformer and training extras)."""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Encoding, Tokenizer

from serving_common.model_dir import TOKENIZER_FILE, ModelMetadata

PAD_TOKEN = "[PAD]"
# A text longer than this many characters per token kept is cut into a head and a tail piece at spaces (or before
# CJK ideographs and punctuation marks, below) before it is tokenized (``TextEncoder``); a piece that gives too few
# tokens is tokenized whole instead.
CHARS_PER_TOKEN = 8
# Normalizers that map each character on its own (a space stays a boundary) and pre-tokenizers that split words
# at whitespace (and SentencePiece's, ``_metaspace_words``): with these, a text cut at a space gives the same
# tokens on each side as the whole text does.
_PER_CHARACTER = frozenset({"BertNormalizer", "Lowercase", "NFC", "NFD", "NFKC", "NFKD", "StripAccents"})
_WORDS_AT_SPACES = frozenset({"BertPreTokenizer", "Whitespace", "WhitespaceSplit"})
# CJK ideographs, which BERT's normalizer (``handle_chinese_chars``) puts spaces around: with it and a pre-tokenizer
# above, each is a word of its own, so a text can be cut before one as at a space. Chinese and Japanese text has
# no spaces to cut at, and was tokenized whole: 100,000 ideographs in 83 ms, now 0.9 ms.
_CJK_IDEOGRAPHS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# ASCII punctuation, of which BERT's pre-tokenizer makes each character a word of its own (and no other pre-tokenizer
# here: ``Whitespace`` keeps a run of marks together), so a text can be cut before one as at a space. A text of marks
# and words with no space ("!?!?", "a.b.c.d") was tokenized whole: 100,000 characters in 50-60 ms.
_ASCII_PUNCTUATION = frozenset(string.punctuation)


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

    The tokenizer library tokenizes a text whole and cuts afterwards, so with a tail a long text is cut first:
    its opening ``CHARS_PER_TOKEN`` characters per head token and its closing ones per tail token, each at a
    space (or before a CJK ideograph or a punctuation mark, for BERT's tokenizers), are tokenized as two pieces,
    which for a tokenizer that splits words at whitespace give exactly the whole text's first and last tokens (a
    piece that gives too few is tokenized whole instead). The largest batch the gateway accepts, 256 of the longest
    e-mails of the SpamAssassin corpus, tokenized in 0.57 s whole and 0.07 s cut (docs/benchmarks.md, "Long e-mails
    through the transformer").
    """

    def __init__(self, tokenizer: Tokenizer, max_length: int, tail_tokens: int = 0) -> None:
        if not 0 <= tail_tokens <= max_length // 2:
            raise ValueError(f"tail_tokens must be between 0 and half of max_length ({max_length}), not {tail_tokens}")
        spec = tokenizer.to_str()  # serialised once: copied from it, and read for how it splits words
        self._tokenizer = Tokenizer.from_str(spec)
        pad_id = self._tokenizer.token_to_id(PAD_TOKEN)
        self._pad_id = 0 if pad_id is None else pad_id
        self.max_length = max_length
        self.tail_tokens = tail_tokens
        # Where a text may be cut (a space, left out; or the character a cut comes before), and its last such place.
        cuts = _cut_characters(json.loads(spec))
        self._cut_at = re.compile(f"[{cuts}]") if cuts else None
        self._last_cut = re.compile(f".*([{cuts}])", re.DOTALL) if cuts else None
        if tail_tokens:
            # The cut and the padding are done here (the tokenizers library cuts the start only).
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
        if self.tail_tokens:
            return self._head_and_tail(texts)
        encodings = self._tokenizer.encode_batch_fast(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return EncodedBatch(ids, mask, [bool(e.overflowing) for e in encodings])

    def _head_and_tail(self, texts: list[str]) -> EncodedBatch:
        pieces = [self._pieces(text) for text in texts]
        # One call for the batch: each text whole, or its head piece then its tail piece.
        whole_or_cut = [piece for text, cut in zip(texts, pieces, strict=True) for piece in (cut or (text,))]
        encodings = iter(self._tokenizer.encode_batch_fast(whole_or_cut))
        rows = [
            self._cut(next(encodings)) if cut is None else self._joined(next(encodings), next(encodings))
            for cut in pieces
        ]
        again = [i for i, row in enumerate(rows) if row is None]  # a piece gave too few tokens
        for i, encoding in zip(again, self._tokenizer.encode_batch_fast([texts[i] for i in again]), strict=True):
            rows[i] = self._cut(encoding)
        return self._padded([row for row in rows if row is not None])

    def _padded(self, rows: list[tuple[list[int], bool]]) -> EncodedBatch:
        longest = max((len(ids) for ids, _ in rows), default=0)
        input_ids = np.full((len(rows), longest), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), longest), dtype=np.int64)
        for i, (ids, _) in enumerate(rows):
            input_ids[i, : len(ids)] = ids
            mask[i, : len(ids)] = 1
        return EncodedBatch(input_ids, mask, [truncated for _, truncated in rows])

    def _pieces(self, text: str) -> tuple[str, str] | None:
        """A long text's head and tail pieces, cut at spaces (the spaces left out) or before CJK ideographs and
        punctuation marks where the tokenizer makes each a word, or None to tokenize it whole."""
        head_chars = CHARS_PER_TOKEN * (self.max_length - self.tail_tokens)
        tail_chars = CHARS_PER_TOKEN * self.tail_tokens
        if self._cut_at is None or self._last_cut is None or len(text) <= head_chars + tail_chars:
            return None
        head_cut = self._cut_at.search(text, head_chars)
        tail_cut = self._last_cut.match(text, 0, len(text) - tail_chars)
        if head_cut is None or tail_cut is None or tail_cut.start(1) < head_cut.start():
            return None
        tail_start = tail_cut.start(1)
        return text[: head_cut.start()], text[tail_start + (text[tail_start] == " ") :]

    def _joined(self, head: Encoding, tail: Encoding) -> tuple[list[int], bool] | None:
        """The whole text's cut from its pieces' encodings, when the head gives more tokens than it keeps (so the
        whole text is longer than max length) and the tail gives at least the tail's; else None."""
        closing = _specials(head)[1]
        kept_head = self.max_length - self.tail_tokens - closing
        tail_opening, tail_closing = _specials(tail)
        if len(head.ids) - closing <= kept_head or len(tail.ids) - tail_opening - tail_closing < self.tail_tokens:
            return None
        return head.ids[:kept_head] + tail.ids[-(self.tail_tokens + tail_closing) :], True

    def _cut(self, encoding: Encoding) -> tuple[list[int], bool]:
        """A whole text's encoding cut to max length (its ids, and whether it was longer)."""
        ids = encoding.ids
        if len(ids) <= self.max_length:
            return ids, False
        tail = self.tail_tokens + _specials(encoding)[1]
        return ids[: self.max_length - tail] + ids[-tail:], True


def _specials(encoding: Encoding) -> tuple[int, int]:
    """The special tokens the template puts before the text ([CLS]) and after it ([SEP])."""
    special = encoding.special_tokens_mask
    opening = 0
    while opening < len(special) and special[opening]:
        opening += 1
    closing = 0
    while closing < len(special) - opening and special[-1 - closing]:
        closing += 1
    return opening, closing


def _cut_characters(spec: dict[str, Any]) -> str:
    """Where a tokenizer (its JSON form) tokenizes a text cut there as the whole text's tokens each side, as a
    regular expression's character set: a space, and a CJK ideograph or an ASCII punctuation mark where each is a
    word; "" for nowhere. No added token, matched before words are split, may hold one."""
    pre_tokenizers = _components(spec.get("pre_tokenizer"), "pretokenizers")
    normalizers = _components(spec.get("normalizer"), "normalizers")
    if not (
        pre_tokenizers
        and all(p["type"] in _WORDS_AT_SPACES or _metaspace_words(p) for p in pre_tokenizers)
        and all(n["type"] in _PER_CHARACTER for n in normalizers)
    ):
        return ""
    added = [token["content"] for token in spec.get("added_tokens") or []]
    if any(" " in token for token in added):
        return ""
    cjk = (
        all(p["type"] in _WORDS_AT_SPACES for p in pre_tokenizers)
        and any(n["type"] == "BertNormalizer" and n.get("handle_chinese_chars", True) for n in normalizers)
        and not any(re.search(f"[{_CJK_IDEOGRAPHS}]", token) for token in added)
    )
    bert_words = all(p["type"] == "BertPreTokenizer" for p in pre_tokenizers)
    marks = sorted(_ASCII_PUNCTUATION - set("".join(added))) if bert_words else []
    return " " + (_CJK_IDEOGRAPHS if cjk else "") + "".join(map(re.escape, marks))


def _metaspace_words(pre_tokenizer: dict[str, Any]) -> bool:
    """SentencePiece's pre-tokenizer, when it splits at spaces and marks every word's start alike (a text's first
    word is marked as a word after a space is)."""
    return (
        pre_tokenizer["type"] == "Metaspace"
        and pre_tokenizer.get("split") is True
        and pre_tokenizer.get("prepend_scheme") in ("always", "first")
    )


def _components(component: dict[str, Any] | None, sequence_key: str) -> list[dict[str, Any]]:
    if component is None:
        return []
    if component["type"] == "Sequence":
        return [c for child in component[sequence_key] for c in _components(child, sequence_key)]
    return [component]
