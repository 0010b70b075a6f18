import json
import shutil

import pytest

from serving_common.errors import ModelDirectoryError
from serving_common.model_dir import read_metadata, validate_model_dir


def test_trained_model_directory_honours_the_contract(model_dir):
    metadata = validate_model_dir(model_dir)
    assert metadata.name == "spam-detector"
    assert metadata.architecture == "DebertaV2ForSequenceClassification"
    assert metadata.labels == ["ham", "spam"] and metadata.positive_label == "spam"
    assert 0 < metadata.threshold < 1
    assert metadata.version.startswith("v2-")


@pytest.mark.parametrize("missing", ["metadata.json", "config.json", "model.safetensors", "tokenizer.json"])
def test_missing_file_is_named(model_dir, tmp_path, missing):
    broken = tmp_path / "m"
    shutil.copytree(model_dir, broken)
    (broken / missing).unlink()
    with pytest.raises(ModelDirectoryError, match=missing.replace(".", r"\.")) as err:
        validate_model_dir(broken)
    assert "missing" in str(err.value)


def test_corrupt_json_is_named(model_dir, tmp_path):
    broken = tmp_path / "m"
    shutil.copytree(model_dir, broken)
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ModelDirectoryError, match=r"config\.json: not valid JSON"):
        validate_model_dir(broken)


def test_invalid_metadata_says_which_field(model_dir, tmp_path):
    broken = tmp_path / "m"
    shutil.copytree(model_dir, broken)
    meta = json.loads((broken / "metadata.json").read_text())
    meta["positive_label"] = "eggs"
    (broken / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelDirectoryError, match="positive_label"):
        read_metadata(broken)


def test_nonexistent_directory(tmp_path):
    with pytest.raises(ModelDirectoryError, match="does not exist"):
        validate_model_dir(tmp_path / "nope")


def test_a_blended_ngram_model_is_part_of_the_contract(blended_model_dir, tmp_path):
    assert validate_model_dir(blended_model_dir).ngram_weight == 0.5
    broken = tmp_path / "m"
    shutil.copytree(blended_model_dir, broken)
    (broken / "char_ngrams.npz").unlink()
    with pytest.raises(ModelDirectoryError, match=r"char_ngrams\.npz: file is missing \(ngram_weight is 0\.5\)"):
        validate_model_dir(broken, required=("metadata.json",))
    meta = json.loads((broken / "metadata.json").read_text())
    (broken / "metadata.json").write_text(json.dumps({**meta, "positive_label": None}))
    with pytest.raises(ModelDirectoryError, match="ngram_weight needs a model of two labels"):
        read_metadata(broken)
