"""The baseline generator with a real (small) model: what it writes, that the rows are the ones the
transformer would log, that it is repeatable, and that bad reference data gets a clear error."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from baseline_generator.__main__ import main
from baseline_generator.reference import ReferenceDataError, validation_split
from ml_common.classifier import SequenceClassifier
from serving_common.baseline import BaselineStore
from serving_common.features import FEATURE_NAMES, extract_features
from serving_common.inference_log.records import schema_for
from serving_common.model_dir import read_metadata
from serving_common.tasks import task_of

TEXTS = [
    "WINNER!! Claim your free prize now, call 09061701461",
    "Are we still on for lunch tomorrow?",
    "URGENT: your mobile number has won £2000, text CLAIM to 80086",
    "ok see you at home later",
] * 5


@pytest.fixture
def reference(tmp_path):
    path = tmp_path / "reference.jsonl"
    path.write_text("\n".join(json.dumps({"text": t}) for t in TEXTS))
    return path


def test_a_baseline_holds_the_rows_the_platform_would_log(model_dir, reference, tmp_path):
    url = str(tmp_path / "baselines")
    assert main(["--model-dir", str(model_dir), "--baselines-url", url, "--reference", str(reference)]) == 0
    metadata = read_metadata(model_dir)
    where = tmp_path / "baselines" / metadata.name / metadata.version
    assert sorted(p.name for p in where.iterdir()) == [
        "metadata.json",
        "projection.npy",
        "samples.parquet",
        "summary.json",
    ]
    baseline, samples = BaselineStore(url).read(metadata.name, metadata.version)
    assert baseline.rows == samples.num_rows == len(TEXTS) and samples.schema == schema_for(task_of(metadata))
    assert baseline.feature_names == list(FEATURE_NAMES)

    classifier = SequenceClassifier.load(model_dir, torch.device("cpu"), torch.float32)
    assert baseline.embedding_projection == classifier.projection.id
    np.testing.assert_array_equal(np.load(where / "projection.npy"), classifier.projection.matrix)
    first = samples.slice(0, 1).to_pylist()[0]
    assert first["char_count"] == extract_features(TEXTS[0])["char_count"]
    assert first["label"] in metadata.labels and len(first["embedding"]) == 32
    summary = json.loads((where / "summary.json").read_text())
    assert summary["rows"] == len(TEXTS) and set(summary["features"]) == set(FEATURE_NAMES)
    assert sum(summary["features"]["char_count"]["histogram"]["counts"]) == len(TEXTS)


def test_the_same_model_and_reference_give_the_same_baseline_version(model_dir, reference, tmp_path):
    versions = []
    for name in ("a", "b"):
        url = str(tmp_path / name)
        assert main(["--model-dir", str(model_dir), "--baselines-url", url, "--reference", str(reference)]) == 0
        metadata = read_metadata(model_dir)
        versions.append(BaselineStore(url).read(metadata.name, metadata.version)[0].baseline_version)
    assert versions[0] == versions[1]


def test_a_model_trained_on_other_data_needs_its_own_reference(model_dir):
    # The fixture model was trained on a subset: its dataset hash is not the full collection's.
    with pytest.raises(ReferenceDataError, match="--reference FILE"):
        validation_split(model_dir, read_metadata(model_dir))


def test_a_missing_reference_file_is_a_clear_error(model_dir, tmp_path, capsys):
    code = main(
        ["--model-dir", str(model_dir), "--baselines-url", str(tmp_path), "--reference", str(tmp_path / "nope.csv")]
    )
    assert code == 2 and "reference file not found" in capsys.readouterr().err
