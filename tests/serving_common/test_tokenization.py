"""The text encoder: truncation at the model's max length (the start alone, or the start and the end),
padding to the longest text only, and the same ids, masks and overflow as the tokenizer's full encoding
(the encoder uses the variant without offsets, and with a tail tokenizes a long text's two ends only)."""

from __future__ import annotations

import re
import shutil
import string
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, pre_tokenizers

from serving_common import tokenization
from serving_common.errors import ModelDirectoryError
from serving_common.model_dir import METADATA_FILE, TOKENIZER_FILE, read_metadata
from serving_common.pipeline import TextPipeline
from serving_common.tokenization import CHARS_PER_TOKEN, TextEncoder

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


def _assert_whole_then_cut(encoder: TextEncoder, tokenizer: Tokenizer, texts: list[str]) -> None:
    """The encoder's rows are each text tokenized whole (by ``tokenizer``, which does not truncate), then its
    first tokens and its last ``tail_tokens`` and [SEP] kept."""
    batch = encoder.encode(texts)
    for row, whole in enumerate(tokenizer.encode_batch(texts)):
        ids, tail = whole.ids, encoder.tail_tokens + 1
        cut = ids if len(ids) <= encoder.max_length else ids[: encoder.max_length - tail] + ids[-tail:]
        assert batch.input_ids[row, : len(cut)].tolist() == cut
        assert batch.attention_mask[row].sum() == len(cut)
        assert batch.truncated[row] == (len(ids) > encoder.max_length)


@pytest.fixture(scope="module")
def whole_tokenizers(model_dir, intent_model_dir) -> dict[str, Tokenizer]:
    """The scratch backbone's (SentencePiece-style Metaspace BPE) and MiniLM's (WordPiece), not truncating."""
    loaded = {}
    for which, directory in (("spam", model_dir), ("intent", intent_model_dir)):
        loaded[which] = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
        loaded[which].no_truncation()
        loaded[which].no_padding()
    return loaded


# Words as e-mails hold them: plain, accented, CJK, punctuated, a URL, over WordPiece's 100 characters (one
# [UNK]), and combining marks that could open a piece; between them one space, or several, or a newline.
_WORDS = st.one_of(
    st.sampled_from(["call", "now", "Free", "£1000", "ÜBER", "naïve", "漢字", "x.y@z.com", "e\u0301", "\u0301a"]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), min_size=1, max_size=12),
    st.just("https://example.com/" + "a" * 120),
)
_TEXTS = st.lists(st.tuples(_WORDS, st.sampled_from([" ", " ", " ", "  ", "\n"])), min_size=1, max_size=120).map(
    lambda pairs: "".join(word + gap for word, gap in pairs).strip()
)


# Punctuation as e-mails and crafted texts hold it: ASCII marks (runs of them, and between letters with no space), the
# added tokens' brackets, full-width and other marks, words, accents, ideographs, and now and then a space.
_PUNCTUATED_TEXTS = st.lists(
    st.one_of(
        st.sampled_from(list(string.punctuation)),
        st.sampled_from(
            ["[CLS]", "[SEP]", "[MASK]", "word", "Free", "e\u0301", "\u0301", "漢", "\uff01", "\u2026", " "]
        ),
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
    ),
    min_size=1,
    max_size=400,
).map("".join)


@pytest.fixture(scope="module")
def cut_encoders(whole_tokenizers) -> dict[str, TextEncoder]:
    return {which: TextEncoder(tokenizer, 16, tail_tokens=4) for which, tokenizer in whole_tokenizers.items()}


@pytest.mark.parametrize("which", ["spam", "intent"])
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.one_of(_TEXTS, _PUNCTUATED_TEXTS).filter(str.strip), min_size=1, max_size=4))
def test_a_long_text_cut_at_spaces_and_marks_gives_the_whole_texts_first_and_last_tokens(
    whole_tokenizers, cut_encoders, which, texts
):
    _assert_whole_then_cut(cut_encoders[which], whole_tokenizers[which], texts)


def test_the_ends_of_an_e_mail_are_tokenized_alone_unless_a_piece_is_short_of_tokens(whole_tokenizers):
    tokenizer = whole_tokenizers["intent"]
    encoder = TextEncoder(tokenizer, 32, tail_tokens=8)
    long_text = " ".join(f"word{i}" for i in range(2000))
    assert len(long_text) > CHARS_PER_TOKEN * 32
    head, tail = encoder._pieces(long_text) or ("", "")
    assert long_text.startswith(head + " ") and long_text.endswith(" " + tail) and len(head) + len(tail) < 400
    # A head that is one word longer than WordPiece reads ([UNK]) gives too few tokens: the text is read whole.
    one_word_head = "x" * (CHARS_PER_TOKEN * 40) + " " + long_text
    texts = [long_text, one_word_head, "short text"]
    _assert_whole_then_cut(encoder, tokenizer, texts)
    assert encoder.encode(texts).input_ids[1, 1] == tokenizer.token_to_id("[UNK]")


def _split_at_dashes(tokenizer: Tokenizer) -> None:
    tokenizer.pre_tokenizer = pre_tokenizers.Split("-", "isolated")  # words end at dashes, not at spaces


def _an_added_token_with_a_space(tokenizer: Tokenizer) -> None:
    tokenizer.add_tokens(["word 1990"])  # matched across a space before words are split


def _metaspace_that_marks_no_first_word(tokenizer: Tokenizer) -> None:
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="never")


@pytest.mark.parametrize(
    "change", [_split_at_dashes, _an_added_token_with_a_space, _metaspace_that_marks_no_first_word]
)
def test_a_tokenizer_that_a_cut_at_a_space_could_change_reads_every_text_whole(whole_tokenizers, change):
    tokenizer = Tokenizer.from_str(whole_tokenizers["intent"].to_str())
    change(tokenizer)
    encoder = TextEncoder(tokenizer, 32, tail_tokens=8)
    long_text = " ".join(f"word {i}-" for i in range(2000))
    assert encoder._pieces(long_text) is None
    _assert_whole_then_cut(encoder, tokenizer, [long_text])


# Chinese and Japanese as e-mails hold them: ideographs (each range BERT's normalizer pads, the compatibility ones
# included), kana and Hangul (not padded: runs of them are words), full-width and ASCII punctuation, Latin words,
# and now and then a space.
_CJK_TEXTS = st.lists(
    st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.characters(min_codepoint=0x3400, max_codepoint=0x4DBF),
        st.characters(min_codepoint=0xF900, max_codepoint=0xFAFF),
        st.sampled_from(
            [*"のはをにがカタカナ한국어。、「」.,!\uff01\uff1f\uff08\uff09", "spam", "Free", "£100", " ", "e\u0301"]
        ),
    ),
    min_size=1,
    max_size=400,
).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(_CJK_TEXTS.filter(str.strip), min_size=1, max_size=4))
def test_a_long_cjk_text_cut_before_ideographs_gives_the_whole_texts_first_and_last_tokens(
    whole_tokenizers, cut_encoders, texts
):
    _assert_whole_then_cut(cut_encoders["intent"], whole_tokenizers["intent"], texts)


def test_bert_tokenizers_cut_cjk_text_before_ideographs_and_others_only_at_spaces(whole_tokenizers):
    """BERT's normalizer puts spaces around every character the encoder cuts before (checked on each; its NFD maps
    the compatibility ideographs to unified ones, one for one), so a text of Chinese with no space is tokenized as
    two pieces; a tokenizer without it (the scratch backbone's SentencePiece-style one), or with an added token
    that holds an ideograph, reads such a text whole."""
    wordpiece = whole_tokenizers["intent"]
    cut_before = re.compile(f"[{tokenization._CJK_IDEOGRAPHS}]")
    ideographs = "".join(c for c in map(chr, range(0x110000)) if cut_before.match(c))
    assert len(ideographs) > 27_000
    padded = "".join(f" {c} " for c in unicodedata.normalize("NFD", ideographs))  # it strips accents by NFD
    assert wordpiece.normalizer.normalize_str(ideographs) == padded
    text = "免费领取大奖请立即联系我们" * 300
    assert TextEncoder(wordpiece, 32, tail_tokens=8)._pieces(text) is not None
    assert TextEncoder(whole_tokenizers["spam"], 32, tail_tokens=8)._pieces(text) is None
    with_added = Tokenizer.from_str(wordpiece.to_str())
    with_added.add_tokens(["大奖"])
    assert TextEncoder(with_added, 32, tail_tokens=8)._pieces(text) is None
    assert TextEncoder(with_added, 32, tail_tokens=8)._pieces("free prize " * 300) is not None
    _assert_whole_then_cut(TextEncoder(with_added, 32, tail_tokens=8), with_added, [text])


def test_bert_tokenizers_cut_before_ascii_punctuation_their_added_tokens_do_not_hold(whole_tokenizers):
    """BERT's pre-tokenizer makes each ASCII punctuation mark a word, so a text of marks with no space (50-60 ms a
    100,000 characters whole) is tokenized as two pieces; not before the brackets of [CLS] and the other added
    tokens, nor with a pre-tokenizer that keeps marks together (the scratch backbone's, ``Whitespace``)."""
    wordpiece = whole_tokenizers["intent"]
    marked = "".join(f"a{mark}" for mark in string.punctuation)
    assert [word for word, _ in wordpiece.pre_tokenizer.pre_tokenize_str(marked)] == list(marked)
    cut_at = TextEncoder(wordpiece, 32, tail_tokens=8)._cut_at
    assert cut_at is not None
    assert {mark for mark in string.punctuation if cut_at.match(mark)} == set(string.punctuation) - set("[]")
    text = "!?" * 3000
    assert TextEncoder(wordpiece, 32, tail_tokens=8)._pieces(text) is not None
    assert TextEncoder(whole_tokenizers["spam"], 32, tail_tokens=8)._pieces(text) is None
    grouping = Tokenizer.from_str(wordpiece.to_str())
    grouping.pre_tokenizer = pre_tokenizers.Whitespace()
    assert TextEncoder(grouping, 32, tail_tokens=8)._pieces(text) is None
    _assert_whole_then_cut(TextEncoder(grouping, 32, tail_tokens=8), grouping, [text, "a.b" * 2000])
