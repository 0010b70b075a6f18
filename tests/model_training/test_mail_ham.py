import re

from ml_common.datasets import load_sms_spam
from model_training.independent import email_texts, read_independent_emails
from model_training.mail_ham import GROUP, SOURCE, generated_ham
from model_training.spam import SpamSpec


def test_generated_ham_is_deterministic_varied_and_read_as_the_server_reads_mail():
    first, again, other = generated_ham(200, seed=13), generated_ham(200, seed=13), generated_ham(200, seed=14)
    assert [e.text for e in first] == [e.text for e in again]
    assert [e.text for e in first] != [e.text for e in other]
    assert len({e.text for e in first}) == 200
    assert {(e.label, e.source, e.group) for e in first} == {("ham", SOURCE, GROUP)}
    assert not [e.text for e in first if "{" in e.text or "}" in e.text]  # every slot filled


def test_generated_ham_reuses_no_sentence_of_the_independent_emails():
    generated = " ".join(e.text for e in generated_ham(400, seed=13))
    sentences = {s.strip() for text in email_texts(read_independent_emails()) for s in re.split(r"(?<=[.!?])\s+", text)}
    assert not [s for s in sentences if len(s) >= 30 and s in generated]


def test_generated_ham_joins_the_training_split_only():
    examples = load_sms_spam()[:400]
    plain = SpamSpec(examples).split(seed=7)
    spec = SpamSpec(examples, generated_ham=50)
    splits = spec.split(seed=7)
    assert [e.text for e in splits.validation] == [e.text for e in plain.validation]
    assert [e.text for e in splits.test] == [e.text for e in plain.test]
    assert len(splits.train) == len(plain.train) + 50
    assert sum(e.source == SOURCE for e in splits.train) == 50
    assert spec.dataset_record(splits)["generated_ham"] == 50
