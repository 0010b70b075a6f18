"""The text encoder: truncation at the model's max length, padding to the longest text only, and the same
ids, masks and overflow as the tokenizer's full encoding (the encoder uses the variant without offsets)."""

from __future__ import annotations

from tokenizers import Tokenizer

from serving_common.model_dir import TOKENIZER_FILE
from serving_common.tokenization import TextEncoder

TEXTS = ["short", "Ünïcödé — ñoño 😀 " * 20, "WINNER!! call 09061701461 now " * 30, "a b c"]


def test_the_encoder_gives_the_full_encodings_ids_masks_and_overflow(model_dir):
    encoder = TextEncoder.from_file(model_dir / TOKENIZER_FILE, 48)
    full = Tokenizer.from_file(str(model_dir / TOKENIZER_FILE))
    full.enable_truncation(48)
    batch = encoder.encode(TEXTS)
    longest = max(len(e.ids) for e in full.encode_batch(TEXTS))
    assert batch.input_ids.shape == batch.attention_mask.shape == (len(TEXTS), longest) and longest == 48
    for row, expected in enumerate(full.encode_batch(TEXTS)):
        n = len(expected.ids)
        assert batch.input_ids[row, :n].tolist() == expected.ids
        assert batch.attention_mask[row].sum() == n and batch.attention_mask[row, n:].sum() == 0
        assert batch.truncated[row] == bool(expected.overflowing)
    assert batch.truncated == [False, True, True, False]
