"""The feedback use case without HTTP: the verdict memory's bounds, counting once, refusals, and every label
written (to a real feedback log on disk)."""

from __future__ import annotations

import pyarrow.dataset as ds
import pytest

from api_gateway.auth import ApiKey, Authenticator, hash_key
from api_gateway.core.environments import Environment
from api_gateway.core.errors import PermissionDenied
from api_gateway.feedback import Feedback, VerdictMemory
from serving_common.errors import InvalidInput
from serving_common.inference_log.writer import InferenceLogWriter

STAGING = Environment.STAGING


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_memory_is_bounded_in_entries_and_in_age():
    clock = Clock()
    memory = VerdictMemory(max_entries=3, max_age_seconds=60, clock=clock)
    for i in range(5):
        memory.remember("staging", f"r{i}", "spam", "spam-detector", "v1", ["ham"])
    assert len(memory) == 3 and memory.recall("staging", "r1") is None and memory.recall("staging", "r4")
    assert memory.recall("production", "r4") is None  # environments apart
    clock.now = 61
    assert memory.recall("staging", "r4") is None and len(memory) == 0


def _feedback(tmp_path, memory: VerdictMemory) -> Feedback:
    writers = {env: InferenceLogWriter(str(tmp_path), environment=env.value, flush_seconds=60) for env in Environment}
    return Feedback(memory, writers, {"spam": "spam-detector"}, max_text_chars=1_000)


def test_a_row_counts_once_refusals_are_clear_and_every_label_is_written(tmp_path):
    memory = VerdictMemory(max_entries=10, max_age_seconds=60)
    memory.remember("staging", "batch-1", "spam", "spam-detector", "v1", ["ham", "spam"])
    feedback = _feedback(tmp_path, memory)
    labels = ["ham", "spam"]

    def give(request_id: str, position: int, label: str):
        return feedback.give(
            STAGING, request_id=request_id, position=position, task="spam", label=label, labels=labels, key="k"
        )

    first = give("batch-1", 1, "ham")
    assert first.matched and first.counted and first.predicted == "spam" and first.model_version == "v1"
    assert not give("batch-1", 1, "spam").counted  # replaces, counted once
    assert give("batch-1", 0, "ham").counted  # another row of the same request
    with pytest.raises(InvalidInput, match="no spam row at position 2"):
        give("batch-1", 2, "ham")
    with pytest.raises(InvalidInput, match="'eggs' is not a label of the spam model; its labels: ham, spam"):
        give("batch-1", 0, "eggs")
    unmatched = give("forgotten", 0, "spam")
    assert not unmatched.matched and not unmatched.counted and unmatched.predicted is None
    feedback.close()
    rows = ds.dataset(str(tmp_path), format="parquet", partitioning="hive").to_table().to_pylist()
    assert sorted((r["request_id"], r["position"], r["label"]) for r in rows) == [
        ("batch-1", 0, "ham"),
        ("batch-1", 1, "ham"),
        ("batch-1", 1, "spam"),
        ("forgotten", 0, "spam"),
    ]
    assert {r["key"] for r in rows} == {"k"} and {r["model"] for r in rows} == {"spam-detector"}


def test_a_key_sends_feedback_only_with_the_permission():
    keys = [
        ApiKey(name="reader", sha256=hash_key("a"), environments=[STAGING]),
        ApiKey(name="labeller", sha256=hash_key("b"), environments=[STAGING], permissions=["predict", "feedback"]),
    ]
    authenticator = Authenticator(keys)
    assert authenticator.authorize("a", STAGING).name == "reader"  # predict is every key's default
    with pytest.raises(PermissionDenied, match="may not send feedback"):
        authenticator.authorize("a", STAGING, "feedback")
    assert authenticator.authorize("b", STAGING, "feedback").name == "labeller"
