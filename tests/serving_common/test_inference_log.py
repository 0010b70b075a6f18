"""The inference log's writer and reader on a real local directory: partitions, bounds, drops,
shutdown flush, windows and unreadable files."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from serving_common.embedding import EMBEDDING_DIM, Projection
from serving_common.features import extract_features
from serving_common.inference_log.reader import InferenceLogReader
from serving_common.inference_log.records import SCHEMA, Prediction, build_table, salted_hash, schema_for
from serving_common.inference_log.writer import InferenceLogWriter, WriterHooks
from serving_common.tasks import INTENT, SPAM

T0 = datetime(2026, 11, 22, 10, 30, tzinfo=UTC)


def _rows(n: int, when: datetime = T0, model: str = "spam-detector", **kwargs) -> pa.Table:
    texts = [f"message number {i} call 0800 123 4567" for i in range(n)]
    return build_table(
        SPAM,
        model_name=model,
        model_version="v1-test",
        features=[extract_features(t) for t in texts],
        predictions=[Prediction("spam" if i % 2 else "ham", i / max(n, 1)) for i in range(n)],
        embeddings=np.random.default_rng(0).standard_normal((n, EMBEDDING_DIM)).astype(np.float32),
        projection_id="rp-test",
        truncated=[False] * n,
        request_id="r-1",
        texts=texts,
        timestamp=when,
        **kwargs,
    )


class Recorder:
    def __init__(self):
        self.dropped: Counter[str] = Counter()
        self.written = 0
        self.failed = 0
        self.buffered = 0

    def hooks(self) -> WriterHooks:
        return WriterHooks(
            dropped=lambda reason, rows: self.dropped.update({reason: rows}),
            written=lambda rows, seconds: setattr(self, "written", self.written + rows),
            failed=lambda: setattr(self, "failed", self.failed + 1),
            buffered=lambda rows: setattr(self, "buffered", rows),
        )


def _wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_rows_land_in_hive_partitions_and_read_back_by_window(tmp_path):
    writer = InferenceLogWriter(str(tmp_path), environment="staging", flush_seconds=60)
    writer.record(_rows(5, T0))
    writer.record(_rows(3, T0 + timedelta(hours=1)))
    writer.record(_rows(2, T0, model="intent-classifier"))
    writer.close()
    assert (tmp_path / "environment=staging/model=spam-detector/date=2026-11-22/hour=10").is_dir()
    assert (tmp_path / "environment=staging/model=spam-detector/date=2026-11-22/hour=11").is_dir()
    reader = InferenceLogReader(str(tmp_path))
    assert reader.pairs() == [("staging", "intent-classifier"), ("staging", "spam-detector")]
    window = reader.window("staging", "spam-detector", T0 - timedelta(minutes=30), T0 + timedelta(minutes=30))
    assert window.rows == 5 and window.files_read == 1 and not window.unreadable
    both = reader.window("staging", "spam-detector", T0, T0 + timedelta(hours=2))
    assert both.rows == 8 and both.files_read == 2
    assert reader.window("production", "spam-detector", T0, T0 + timedelta(hours=2)).rows == 0


def test_a_full_buffer_drops_and_counts_instead_of_blocking(tmp_path):
    recorder = Recorder()
    writer = InferenceLogWriter(
        str(tmp_path),
        environment="staging",
        flush_rows=10_000,
        flush_seconds=60,
        max_buffered_rows=10,
        hooks=recorder.hooks(),
    )
    assert writer.record(_rows(8)) is True
    assert writer.record(_rows(5)) is False  # 13 > 10: the whole request's rows are dropped, counted
    writer.close()
    assert recorder.dropped == {"buffer_full": 5} and recorder.written == 8


def test_close_flushes_what_is_buffered(tmp_path):
    writer = InferenceLogWriter(str(tmp_path), environment="production", flush_rows=10_000, flush_seconds=3600)
    writer.record(_rows(4))
    assert not list(tmp_path.rglob("*.parquet"))  # nothing written yet: below both flush triggers
    writer.close()
    assert len(list(tmp_path.rglob("*.parquet"))) == 1
    assert writer.record(_rows(1)) is False  # closed: refuses rather than losing rows silently later


def test_a_store_still_failing_at_shutdown_counts_its_rows_as_dropped(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the log's root directory should be")
    recorder = Recorder()
    writer = InferenceLogWriter(str(blocker), environment="staging", flush_seconds=60, hooks=recorder.hooks())
    writer.record(_rows(6))
    writer.close()
    assert recorder.dropped == {"write_error": 6} and recorder.written == 0
    assert recorder.failed == 2 and recorder.buffered == 0  # the writer's last flush and close()'s own try


def test_rows_a_failed_write_held_are_written_once_the_store_is_back(tmp_path):
    root = tmp_path / "log"
    root.write_text("a file where the log's root directory should be: every write fails")
    recorder = Recorder()
    writer = InferenceLogWriter(
        str(root), environment="staging", flush_rows=4, flush_seconds=0.2, hooks=recorder.hooks()
    )
    writer.record(_rows(5))
    _wait_for(lambda: recorder.failed >= 2)  # tried, failed, tried again a flush later
    writer.record(_rows(3, T0 + timedelta(hours=1)))
    assert recorder.written == 0 and recorder.buffered == 8  # all of it still held
    root.unlink()  # the store is back
    _wait_for(lambda: recorder.written == 8)
    writer.close()
    assert not recorder.dropped and recorder.buffered == 0
    reader = InferenceLogReader(str(root))
    assert reader.window("staging", "spam-detector", T0, T0 + timedelta(hours=2)).rows == 8
    assert len(list(root.rglob("*.parquet"))) == 2


def test_rows_held_for_a_retry_count_toward_the_bound(tmp_path):
    root = tmp_path / "log"
    root.write_text("every write fails")
    recorder = Recorder()
    writer = InferenceLogWriter(
        str(root), environment="staging", flush_rows=1, flush_seconds=0.1, max_buffered_rows=10, hooks=recorder.hooks()
    )
    assert writer.record(_rows(6)) is True
    _wait_for(lambda: recorder.failed >= 1)
    assert writer.record(_rows(5)) is False  # 6 held + 5 > 10: refused and counted, memory stays bounded
    assert writer.record(_rows(4)) is True
    root.unlink()
    writer.close()
    assert recorder.dropped == {"buffer_full": 5} and recorder.written == 10


def test_a_retried_write_replaces_a_half_done_one_and_never_doubles_rows(tmp_path, monkeypatch):
    writer = InferenceLogWriter(str(tmp_path), environment="staging", flush_seconds=3600)
    fs = writer._fs
    real_mv, calls = fs.mv, []

    def mv_copies_then_fails_once(source, target, **kwargs):  # an object store's rename: copy, then delete
        calls.append(target)
        if len(calls) == 1:
            fs.cp_file(source, target)
            raise OSError("connection reset before the delete")
        return real_mv(source, target, **kwargs)

    monkeypatch.setattr(fs, "mv", mv_copies_then_fails_once)
    writer.record(_rows(7))
    assert writer.flush() == 0  # the copy landed, the call failed: held
    assert writer.flush() == 7
    writer.close()
    assert calls[0] == calls[1]  # the same file name both times
    assert len(list(tmp_path.rglob("*.parquet"))) == 1  # one file, though two writes reached the store
    assert InferenceLogReader(str(tmp_path)).window("staging", "spam-detector", T0, T0 + timedelta(hours=1)).rows == 7


def test_unreadable_files_are_skipped_and_named(tmp_path):
    writer = InferenceLogWriter(str(tmp_path), environment="staging", flush_seconds=60)
    writer.record(_rows(5))
    writer.close()
    [good] = list(tmp_path.rglob("*.parquet"))
    (good.parent / "part-corrupt.parquet").write_bytes(b"PAR1 this is not parquet")
    (good.parent / "part-truncated.parquet").write_bytes(good.read_bytes()[:100])
    window = InferenceLogReader(str(tmp_path)).window("staging", "spam-detector", T0, T0 + timedelta(hours=1))
    assert window.rows == 5 and window.files_read == 1
    assert sorted(p.rsplit("/", 1)[-1] for p in window.unreadable) == ["part-corrupt.parquet", "part-truncated.parquet"]


def test_texts_are_only_ever_kept_as_a_salted_hash():
    assert all(r["text_hash"] is None for r in _rows(2).to_pylist())
    salted = _rows(2, hash_salt=b"0123456789abcdef").to_pylist()
    assert salted[0]["text_hash"] == salted_hash("message number 0 call 0800 123 4567", b"0123456789abcdef")
    assert salted[0]["text_hash"] != salted_hash("message number 0 call 0800 123 4567", b"another-salt-value")


def test_a_task_adds_its_own_columns_and_a_window_reads_files_from_before_a_column_existed(tmp_path):
    intent_rows = build_table(
        INTENT,
        model_name="intent-classifier",
        model_version="v1-test",
        features=[extract_features("translate this")] * 2,
        predictions=[Prediction("translation", 0.9, {"complexity_score": 0.2, "complexity_level": "simple"})] * 2,
        embeddings=None,
        projection_id=None,
        truncated=[False, True],
        timestamp=T0,
    )
    assert intent_rows.schema == schema_for(INTENT) and intent_rows.schema.names[: len(SCHEMA)] == SCHEMA.names
    assert intent_rows.column_names[len(SCHEMA) :] == ["complexity_score", "complexity_level"]
    assert _rows(1).schema == SCHEMA == schema_for(SPAM)  # spam adds nothing
    writer = InferenceLogWriter(str(tmp_path), environment="staging", flush_seconds=60)
    # A file written before the task's column, and the position, existed.
    writer.record(intent_rows.drop_columns(["complexity_level", "position"]))
    writer.flush()
    writer.record(intent_rows)
    writer.close()
    window = InferenceLogReader(str(tmp_path)).window("staging", "intent-classifier", T0, T0 + timedelta(hours=1))
    assert window.rows == 4 and window.table.schema.names[: len(SCHEMA)] == SCHEMA.names
    assert sorted(window.table["complexity_level"].to_pylist(), key=str) == [None, None, "simple", "simple"]


def test_the_projection_is_a_pure_function_of_the_model():
    a, b = Projection.for_model("v1-abc", 128), Projection.for_model("v1-abc", 128)
    assert a.id == b.id and np.array_equal(a.matrix, b.matrix) and a.matrix.shape == (128, EMBEDDING_DIM)
    assert Projection.for_model("v1-def", 128).id != a.id


def test_the_transformer_refuses_a_short_salt():
    from feature_transformer.settings import TransformerSettings

    with pytest.raises(ValueError, match="at least 16"):
        TransformerSettings(inference_log_hash_salt="short")


def test_plain_rows_of_several_requests_become_one_table_in_order_embeddings_where_given(tmp_path):
    from serving_common.inference_log.records import LogRows

    def part(n: int, label: str, with_embedding: bool) -> LogRows:
        return LogRows.of(
            SPAM,
            model_name="spam-detector",
            model_version="v1-test",
            features=[extract_features("call 0800 123 4567")] * n,
            predictions=[Prediction(label, 0.5)] * n,
            embeddings=np.ones((n, EMBEDDING_DIM), dtype=np.float32) if with_embedding else None,
            projection_id="rp-test",
            truncated=[False] * n,
            request_id=label,
            timestamp=T0,
        )

    writer = InferenceLogWriter(str(tmp_path), environment="staging", flush_seconds=60)
    for rows in (part(2, "spam", True), part(1, "ham", False), part(3, "spam", True)):
        assert writer.record(rows)
    writer.close()
    table = InferenceLogReader(str(tmp_path)).window("staging", "spam-detector", T0, T0 + timedelta(hours=1)).table
    assert table["request_id"].to_pylist() == ["spam", "spam", "ham", "spam", "spam", "spam"]
    assert table["position"].to_pylist() == [0, 1, 0, 0, 1, 2]  # within each request's own rows
    embeddings = table["embedding"].to_pylist()
    assert embeddings[2] is None and all(e == [1.0] * EMBEDDING_DIM for i, e in enumerate(embeddings) if i != 2)
    assert table["embedding_projection"].to_pylist()[1:3] == ["rp-test", None]
    with pytest.raises(ValueError, match="embeddings of shape"):
        LogRows.of(
            SPAM,
            model_name="m",
            model_version="v",
            features=[{}],
            predictions=[Prediction("ham", 0.1)],
            embeddings=np.ones((2, EMBEDDING_DIM)),
            projection_id="rp",
            truncated=[False],
        )
