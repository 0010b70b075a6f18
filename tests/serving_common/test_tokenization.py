"""The text encoder: truncation at the model's max length (the start alone, or the start and the end),
padding to the longest text only, and the same ids, masks and overflow as the tokenizer's full encoding
(the encoder uses the variant without offsets)."""

from __future__ import annotations

import shutil

import pytest
from tokenizers import Tokenizer

from serving_common.errors import ModelDirectoryError
from serving_common.model_dir import METADATA_FILE, TOKENIZER_FILE, read_metadata
from serving_common.pipeline import TextPipeline
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


def test_head_and_tail_keep_a_long_texts_start_and_end_and_leave_short_texts_alone(model_dir):
    full = Tokenizer.from_file(str(model_dir / TOKENIZER_FILE))
    full.no_truncation()
    head_only = TextEncoder.from_file(model_dir / TOKENIZER_FILE, 48)
    encoder = TextEncoder.from_file(model_dir / TOKENIZER_FILE, 48, tail_tokens=16)
    batch = encoder.encode(TEXTS)
    assert batch.input_ids.shape == (len(TEXTS), 48)
    assert batch.truncated == head_only.encode(TEXTS).truncated == [False, True, True, False]
    for row, whole in enumerate(full.encode_batch(TEXTS)):
        ids = whole.ids
        if len(ids) <= 48:  # whole, as without a tail
            assert batch.input_ids[row, : len(ids)].tolist() == ids
            assert batch.attention_mask[row].sum() == len(ids) and batch.input_ids[row, len(ids) :].sum() == 0
        else:  # [CLS] and 30 tokens from the start, then the last 16 and [SEP]
            assert batch.input_ids[row].tolist() == ids[:31] + ids[-17:]
            assert batch.attention_mask[row].sum() == 48
    # The padding is the tokenizer's own: a short batch pads to its longest text only.
    short = encoder.encode(["short", "a b c"])
    assert short.input_ids.tolist() == head_only.encode(["short", "a b c"]).input_ids.tolist()
    assert short.attention_mask.tolist() == head_only.encode(["short", "a b c"]).attention_mask.tolist()


def test_a_tail_longer_than_half_the_length_is_refused(model_dir):
    with pytest.raises(ValueError, match="tail_tokens"):
        TextEncoder.from_file(model_dir / TOKENIZER_FILE, 48, tail_tokens=25)


def test_a_model_directory_says_how_its_texts_are_cut(model_dir, tmp_path):
    copied = tmp_path / "model"
    shutil.copytree(model_dir, copied)
    metadata = read_metadata(copied).model_copy(update={"max_length": 32, "tail_tokens": 8})
    (copied / METADATA_FILE).write_text(metadata.model_dump_json())
    encoder = TextEncoder.for_model(copied, read_metadata(copied))
    assert (encoder.max_length, encoder.tail_tokens) == (32, 8)
    assert TextPipeline.from_model_dir(copied).encoder.tail_tokens == 8
    (copied / METADATA_FILE).write_text(metadata.model_copy(update={"tail_tokens": 17}).model_dump_json())
    with pytest.raises(ModelDirectoryError, match="tail_tokens 17 is more than half of max_length 32"):
        read_metadata(copied)
