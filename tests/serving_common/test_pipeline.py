"""The one texts-to-rows pipeline, with a real tokenizer and a model stand-in that is a plain function of
its inputs (the served path runs it around a real predictor in tests/e2e)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from serving_common.char_ngrams import CharNgramModel, blended_log_odds
from serving_common.embedding import EMBEDDING_DIM
from serving_common.errors import ModelDirectoryError
from serving_common.features import compose_email_text, extract_features
from serving_common.inference_log.records import schema_for, to_table
from serving_common.model_dir import NGRAMS_FILE
from serving_common.pipeline import TextPipeline
from serving_common.postprocess import sigmoid
from serving_common.tokenization import TextEncoder

TEXTS = ["WINNER!! call 09061701461 now", "lunch tomorrow?", "ok", "FREE entry, text WIN to 80086", "see you"]


def _infer(ids: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logits that depend on each row's length: a function of the tokens, as a model is."""
    lengths = mask.sum(axis=1).astype(np.float32)
    logits = np.stack([np.zeros_like(lengths), lengths - 6.0], axis=1)
    return logits, np.repeat(lengths[:, None], EMBEDDING_DIM, axis=1)


@pytest.fixture
def pipeline(model_dir) -> TextPipeline:
    return TextPipeline.from_model_dir(model_dir)


def test_prepare_composes_normalises_and_refuses_an_empty_text(pipeline):
    prepared = pipeline.prepare(["Claim  your\u00a0prize"], ["You won"])
    assert prepared.texts == [compose_email_text("Claim  your\u00a0prize", "You won")]
    assert prepared.features == [extract_features(prepared.texts[0])]
    assert prepared.batch.input_ids.shape[0] == 1
    with pytest.raises(ValueError, match="text 1 is empty"):
        pipeline.prepare(["fine", " \u200b\t "])


def test_a_run_in_batches_is_the_same_as_one_batch(pipeline):
    whole = pipeline.run(_infer, TEXTS, batch_size=len(TEXTS))
    parts = pipeline.run(_infer, TEXTS, batch_size=2)
    assert [v.label for v in parts.verdicts] == [v.label for v in whole.verdicts]
    assert parts.texts == whole.texts and parts.truncated == whole.truncated
    assert parts.embeddings is not None and parts.embeddings.shape == (len(TEXTS), EMBEDDING_DIM)
    assert {v.label for v in whole.verdicts} == {"ham", "spam"}  # lengths on both sides of the stand-in's line


def test_scores_that_do_not_fit_the_texts_are_refused(pipeline):
    prepared = pipeline.prepare(TEXTS[:2])
    with pytest.raises(ValueError, match="3 rows of logits for 2 texts"):
        pipeline.score(prepared, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="shape"):
        pipeline.score(prepared, np.zeros((2, 5)))
    assert pipeline.score(prepared, np.zeros((2, 2)), np.zeros((3, EMBEDDING_DIM))).embeddings is None


def test_rows_are_the_inference_logs_in_the_tasks_schema(pipeline):
    scored = pipeline.run(_infer, TEXTS)
    rows = to_table([pipeline.rows(scored, projection_id="rp-x", request_ids=[f"r{i}" for i in range(len(TEXTS))])])
    assert rows.schema == schema_for(pipeline.task) and rows.num_rows == len(TEXTS)
    first = rows.slice(0, 1).to_pylist()[0]
    assert first["model_name"] == pipeline.metadata.name and first["request_id"] == "r0"
    assert first["label"] == scored.verdicts[0].label and first["embedding_projection"] == "rp-x"
    assert first["char_count"] == scored.features[0]["char_count"] and first["text_hash"] is None


def test_a_blended_model_weighs_its_ngram_log_odds_into_the_verdict(blended_model_dir):
    pipeline = TextPipeline.from_model_dir(blended_model_dir)
    weight = pipeline.metadata.ngram_weight
    assert weight == 0.5 and pipeline.ngrams is not None
    prepared = pipeline.prepare(TEXTS)
    ngram = CharNgramModel.load(blended_model_dir / NGRAMS_FILE).logits(prepared.texts)
    assert prepared.ngram_logits == pytest.approx(ngram)
    logits, _ = _infer(prepared.batch.input_ids, prepared.batch.attention_mask)
    verdicts = pipeline.score(prepared, logits).verdicts
    expected = sigmoid(blended_log_odds(logits[:, 1] - logits[:, 0], ngram, weight))
    assert [v.spam_probability for v in verdicts] == pytest.approx(expected.tolist())
    assert [v.label for v in verdicts] == ["spam" if p >= pipeline.metadata.threshold else "ham" for p in expected]


def test_an_ngram_model_goes_with_its_weight_and_a_broken_one_is_named(blended_model_dir, model_dir, tmp_path):
    blended = TextPipeline.from_model_dir(blended_model_dir)
    with pytest.raises(ValueError, match=r"ngram_weight is 0\.5"):
        TextPipeline(blended.metadata, blended.encoder)
    plain = TextPipeline.from_model_dir(model_dir)
    with pytest.raises(ValueError, match=r"ngram_weight is 0\.0"):
        TextPipeline(plain.metadata, TextEncoder.for_model(model_dir, plain.metadata), blended.ngrams)
    broken = tmp_path / "m"
    shutil.copytree(blended_model_dir, broken)
    (broken / NGRAMS_FILE).write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ModelDirectoryError, match=r"char_ngrams\.npz: not a character n-gram model"):
        TextPipeline.from_model_dir(broken)
