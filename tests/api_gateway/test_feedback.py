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
    memory = VerdictMemory(max_entries=4, max_age_seconds=60, clock=clock)
    for i in range(7):
        memory.remember("staging", f"r{i}", "spam", "spam-detector", "v1", ["ham"])
        assert len(memory) <= 4  # at most max_entries
        assert all(memory.recall("staging", f"r{j}") for j in range(max(0, i - 1), i + 1))  # the newest half
    assert memory.recall("staging", "r3") is None and len(memory) == 3  # r4-r6: dropped two at a time
    assert memory.recall("production", "r6") is None  # environments apart
    memory.remember("staging", "r5", "spam", "spam-detector", "v2", ["spam"])  # a request id given twice
    assert memory.recall("staging", "r5").model_version == "v2" and len(memory) == 3
    clock.now = 61
    assert memory.recall("staging", "r6") is None and len(memory) == 0


def test_one_entry_is_one_entry():
    memory = VerdictMemory(max_entries=1, max_age_seconds=60)
    memory.remember("staging", "a", "spam", "spam-detector", "v1", ["ham"])
    memory.remember("staging", "b", "spam", "spam-detector", "v1", ["ham"])
    assert len(memory) == 1 and memory.recall("staging", "a") is None and memory.recall("staging", "b")


def test_the_memory_is_flat_once_full():
    """Full, it holds the same memory however many verdicts pass through: nothing that churns keeps growing
    (an OrderedDict evicting its oldest grew its table to twice its live size: 20 % more here)."""
    import tracemalloc

    memory = VerdictMemory(max_entries=20_000, max_age_seconds=3600)
    ids = [f"{i:032x}" for i in range(200_000)]  # made before tracing: the gateway holds each request's id anyway
    tracemalloc.start()
    try:
        for rid in ids[:20_000]:
            memory.remember("staging", rid, "spam", "spam-detector", "v1", ["ham"])
        full = tracemalloc.get_traced_memory()[0]
        for rid in ids[20_000:]:
            memory.remember("staging", rid, "spam", "spam-detector", "v1", ["ham"])
        later = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(memory) == 20_000
    assert later < full * 1.03, (full, later)


def test_an_entry_costs_what_the_settings_say():
    """The memory's documented footprint (about 0.27 KB an entry with its request id: 14 MB at the default
    50,000), measured as the gateway fills it: single-row verdicts, none labelled yet."""
    import tracemalloc
    import uuid

    memory = VerdictMemory(max_entries=10_000, max_age_seconds=3600)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(10_000):
            memory.remember("staging", uuid.uuid4().hex, "spam", "spam-detector", "v1", ["spam" if i % 3 else "ham"])
        per_entry = (tracemalloc.get_traced_memory()[0] - before) / 10_000
    finally:
        tracemalloc.stop()
    assert per_entry < 280, per_entry  # the request id's string included; 627 bytes before entries were compacted
    assert memory.recall("staging", "missing") is None and len(memory) == 10_000


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
