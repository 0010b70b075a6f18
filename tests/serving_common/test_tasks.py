"""The task registry and the built-in tasks' own rules: lookup by name, plug-ins, metadata checks, shadow
comparison and log rows."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from serving_common.errors import UnknownTask
from serving_common.model_dir import HeadSpec, ModelMetadata
from serving_common.schemas import IntentOutput, IntentScore, SpamOutput
from serving_common.settings import ServiceSettings
from serving_common.tasks import INTENT, SPAM, SpamTask, load_plugins, register, registered, task_named, task_of


def _spam(**overrides) -> ModelMetadata:
    fields = {"name": "spam-detector", "version": "v1", "task": "spam", "architecture": "x", "labels": ["ham", "spam"]}
    return ModelMetadata(**{**fields, "positive_label": "spam", **overrides})


def _intent_output(intent: str, level: str, probabilities: dict[str, float]) -> IntentOutput:
    return IntentOutput(
        intent=intent,
        confidence=probabilities[intent],
        all_intents=probabilities,
        top_intents=[IntentScore(intent=intent, probability=probabilities[intent])],
        complexity_score=0.5,
        complexity_level=level,
        truncated=False,
        features={},
    )


def test_the_built_in_tasks_are_found_by_name_and_an_unknown_one_names_them():
    assert task_named("spam") is SPAM and task_named("intent") is INTENT
    assert {"intent", "spam"} <= set(registered())
    with pytest.raises(UnknownTask, match=r"registered tasks: .*intent.*spam.*TEXTSERVE_TASK_PLUGINS") as caught:
        task_named("sentiment")
    assert caught.value.status_code == 404 and caught.value.details["task"] == "sentiment"


def test_registering_is_idempotent_and_a_name_belongs_to_one_class():
    assert register(SpamTask()) is SPAM

    class Impostor(SpamTask):
        pass

    with pytest.raises(ValueError, match="already registered by SpamTask"):
        register(Impostor())


@pytest.mark.parametrize(
    ("spec", "message"),
    [("no_such_module_anywhere", "cannot be imported"), ("json:dumps", "not a ModelTask class or instance")],
)
def test_a_plugin_that_is_no_task_is_a_clear_error_and_fails_the_settings(spec, message, monkeypatch):
    with pytest.raises(ValueError, match=message):
        load_plugins([spec])
    monkeypatch.setenv("TEXTSERVE_TASK_PLUGINS", f'["{spec}"]')
    with pytest.raises(ValidationError, match=message):
        ServiceSettings()


def test_a_task_refuses_metadata_that_is_not_its_own():
    assert task_of(_spam()) is SPAM
    with pytest.raises(ValueError, match="positive_label"):
        task_of(_spam(positive_label=None))
    with pytest.raises(ValueError, match="no 'intent' head"):
        task_of(_spam(task="intent", positive_label=None))
    heads = [
        HeadSpec(name="intent", kind="classification", start=0, size=2, labels=["a", "b"]),
        HeadSpec(name="complexity", kind="regression", start=2, size=1),
    ]
    assert task_of(_spam(task="intent", positive_label=None, labels=["a", "b"], heads=heads)) is INTENT


def test_shadow_comparison_is_the_tasks_own():
    def spam(label: str, p: float) -> SpamOutput:
        return SpamOutput(label=label, spam_probability=p, confidence="high", truncated=False, features={})

    same = SPAM.compare(spam("spam", 0.9), spam("spam", 0.7))
    assert dict(same.agreements) == {"label": True} and same.probability_delta == pytest.approx(0.2)
    assert dict(SPAM.compare(spam("spam", 0.9), spam("ham", 0.1)).agreements) == {"label": False}

    ours = _intent_output("a", "simple", {"a": 0.8, "b": 0.2})
    theirs = _intent_output("b", "simple", {"a": 0.3, "b": 0.7})
    comparison = INTENT.compare(ours, theirs)
    assert dict(comparison.agreements) == {"intent": False, "complexity_level": True}
    assert comparison.probability_delta == pytest.approx(0.5)  # 0.8 against the 0.3 staging gives "a"


def test_log_rows_carry_the_tasks_own_columns():
    metadata = _spam()
    [verdict] = SPAM.verdicts(np.array([[0.0, 3.0]]), metadata)
    row = SPAM.log_row(verdict)
    assert row.label == "spam" and row.extras == {} and SPAM.log_columns == {}
    assert set(INTENT.log_columns) == {"complexity_score", "complexity_level"}
