"""A version in the model store names one set of files forever: the same files again are a no-op, other
bytes under the same version are refused, and an interrupted upload (no metadata.json yet) is completed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from model_release import Refused
from model_release.store import sync


def test_other_bytes_under_the_same_version_are_refused(tmp_path, model_dir):
    store = tmp_path / "store"
    uri = Path(sync(model_dir, str(store)))
    changed = tmp_path / "changed"
    shutil.copytree(model_dir, changed)
    (changed / "config.json").write_text((changed / "config.json").read_text() + " ")  # same metadata, other bytes
    before = {p.name: p.read_bytes() for p in uri.iterdir()}
    with pytest.raises(Refused, match=r"differing: \['config.json'\]"):
        sync(changed, str(store))
    assert {p.name: p.read_bytes() for p in uri.iterdir()} == before


def test_a_file_only_in_the_store_is_refused(tmp_path, model_dir):
    store = tmp_path / "store"
    uri = Path(sync(model_dir, str(store)))
    (uri / "extra.bin").write_bytes(b"x")
    with pytest.raises(Refused, match="only in the store"):
        sync(model_dir, str(store))


def test_an_interrupted_upload_is_completed(tmp_path, model_dir):
    store = tmp_path / "store"
    uri = Path(sync(model_dir, str(store)))
    (uri / "metadata.json").unlink()  # metadata goes last: without it the version is incomplete
    (uri / "model.safetensors").write_bytes(b"half")
    assert Path(sync(model_dir, str(store))) == uri
    assert (uri / "model.safetensors").read_bytes() == (model_dir / "model.safetensors").read_bytes()
    assert (uri / "metadata.json").exists()
