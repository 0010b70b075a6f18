from model_training.export import ANSWER_FIELDS, content_version
from serving_common.model_dir import ModelMetadata

META = ModelMetadata(
    name="spam-detector",
    version="auto",
    task="spam",
    architecture="DebertaV2ForSequenceClassification",
    labels=["ham", "spam"],
    positive_label="spam",
    decision_threshold=0.5,
)


def test_the_version_changes_with_what_decides_an_answer(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"\x00" * 64)
    version = content_version(weights, META)
    assert version.startswith("v2-") and len(version) == 15
    assert content_version(weights, META.model_copy(update={"decision_threshold": 0.306})) != version
    assert content_version(weights, META.model_copy(update={"tail_tokens": 32})) != version
    weights.write_bytes(b"\x00" * 63 + b"\x01")
    assert content_version(weights, META) != version


def test_the_version_ignores_what_does_not(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"\x00" * 64)
    built_again = META.model_copy(update={"created_at": "2026-12-06T00:00:00+00:00", "extra": {"backbone": "x"}})
    assert content_version(weights, built_again) == content_version(weights, META)
    assert content_version(weights, META.model_copy(update={"version": "v9-whatever"})) == content_version(
        weights, META
    )


def test_a_model_that_blends_nothing_keeps_the_version_it_had_before_the_field(tmp_path):
    import hashlib
    import json

    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"\x00" * 64)
    before = META.model_dump(mode="json", include=set(ANSWER_FIELDS) - {"ngram_weight"})
    digest = hashlib.sha256(weights.read_bytes())
    digest.update(json.dumps(before, sort_keys=True, separators=(",", ":")).encode())
    assert content_version(weights, META) == f"v2-{digest.hexdigest()[:12]}"


def test_the_version_follows_a_blended_ngram_model(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"\x00" * 64)
    blended = META.model_copy(update={"ngram_weight": 0.5})
    version = content_version(weights, blended, {"char_ngrams.npz": b"\x01"})
    assert version != content_version(weights, META, {"char_ngrams.npz": b"\x01"})
    assert version != content_version(weights, blended, {"char_ngrams.npz": b"\x02"})
    assert version == content_version(weights, blended, {"char_ngrams.npz": b"\x01"})
