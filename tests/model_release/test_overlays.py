"""model-versions.yaml edited through a round-trip parser: comments, quoting and the other models survive."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from model_release import Refused
from model_release.overlays import Served, set_uri

ROOT = Path(__file__).resolve().parents[2]


def test_set_uri_keeps_comments_and_appends_history_in_order(tmp_path):
    shutil.copytree(ROOT / "kubernetes" / "overlays", tmp_path / "overlays")
    path = tmp_path / "overlays" / "production" / "model-versions.yaml"
    original = path.read_text()
    comments = [line for line in original.splitlines() if line.lstrip().startswith("#")]
    before = Served.read(tmp_path / "overlays", "production")
    for n, version in enumerate(["v1-aaaaaaaaaaaa", "v1-bbbbbbbbbbbb"]):
        entry = {"model": "spam-detector", "from": str(n), "to": version, "at": "2026-12-04T00:00:00+00:00"}
        set_uri(path, "spam-detector", f"s3://textserve-models/spam-detector/{version}", {**entry, "forced": False})
    after = Served.read(tmp_path / "overlays", "production")
    assert after.version("spam-detector") == "v1-bbbbbbbbbbbb"
    assert after.uris["intent-classifier"] == before.uris["intent-classifier"]
    assert [h["to"] for h in after.history] == ["v1-aaaaaaaaaaaa", "v1-bbbbbbbbbbbb"]
    assert list(after.history[0]) == ["model", "from", "to", "at", "forced"]
    text = path.read_text()
    assert all(comment in text for comment in comments)
    assert 'config.kubernetes.io/local-config: "true"' in text  # quoting kept
    assert after.served_before("spam-detector", "v1-aaaaaaaaaaaa")


def test_an_unknown_model_is_refused(tmp_path):
    shutil.copytree(ROOT / "kubernetes" / "overlays", tmp_path / "overlays")
    path = tmp_path / "overlays" / "production" / "model-versions.yaml"
    before = path.read_text()
    with pytest.raises(Refused, match="no model"):
        set_uri(path, "no-such-model", "s3://x/no-such-model/v1", {})
    assert path.read_text() == before
