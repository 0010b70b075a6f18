"""The model store: one directory per model version, ``<store>/<model>/<version>/``, never overwritten."""

from __future__ import annotations

import hashlib
from pathlib import Path

import fsspec

from model_release import Refused
from serving_common.model_dir import METADATA_FILE, read_metadata

CHUNK = 1 << 20


def _digest(fs: fsspec.AbstractFileSystem, path: str) -> str:
    digest = hashlib.sha256()
    with fs.open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sync(model_dir: Path, store: str) -> str:
    """Upload ``model_dir`` to ``<store>/<name>/<version>/`` and return that URI.

    A version already in the store is left alone when it holds exactly these files, byte for byte, and
    refused otherwise (``Refused``): a version names one set of weights forever. ``metadata.json`` goes
    last, so a version without it is an interrupted upload, which the next sync completes.
    """
    metadata = read_metadata(model_dir)
    fs, root = fsspec.core.url_to_fs(store)
    target = f"{root.rstrip('/')}/{metadata.name}/{metadata.version}"
    uri = f"{store.rstrip('/')}/{metadata.name}/{metadata.version}"
    files = sorted(p for p in model_dir.iterdir() if p.is_file())
    if fs.exists(f"{target}/{METADATA_FILE}"):
        stored = {Path(p).name for p in fs.ls(target, detail=False)}
        local = fsspec.filesystem("file")
        differ = sorted(
            p.name for p in files if p.name not in stored or _digest(fs, f"{target}/{p.name}") != _digest(local, str(p))
        )
        extra = sorted(stored - {p.name for p in files})
        if differ or extra:
            raise Refused(
                f"{uri} already holds other contents (differing: {differ or 'none'}; only in the store: "
                f"{extra or 'none'}); versions are never overwritten"
            )
        return uri
    fs.makedirs(target, exist_ok=True)
    for path in files:
        if path.name != METADATA_FILE:
            fs.put_file(str(path), f"{target}/{path.name}")
    fs.put_file(str(model_dir / METADATA_FILE), f"{target}/{METADATA_FILE}")
    return uri
