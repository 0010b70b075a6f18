"""True labels back from users, free of FastAPI: the verdicts the gateway remembers, the live counts of
verdict against label, and the feedback log every label is written to.

- **Remembered verdicts.** Each answered prediction's labels (one per row) are kept under its request id
  and environment, at most ``max_entries`` of them (at least the newest half; dropped a half at a time,
  oldest first) and for ``max_age_seconds``.
  An entry is its key, the request id, a slotted record and its labels (a one-row verdict's tuple shared
  with every other of that label; the set of labelled positions made only by a first label): 189 bytes
  measured besides the request id's string, 259 with it (tracemalloc, single-row spam verdicts; 627 in an
  ``OrderedDict`` of dataclasses, each with an empty set, before 2026-12-06), so the default 50,000
  entries hold about 13 MB.
- **Counted once.** A label for a remembered verdict counts ``gateway_feedback_total{environment,
  model_name, model_version, predicted, actual}`` the first time its (request id, position) is labelled; a
  second label replaces the first in the log (the latest counts there) and is not counted again. A label
  whose verdict is no longer remembered, or went to another gateway replica, counts
  ``gateway_feedback_unmatched_total`` and is still written, to be joined with the inference log offline.
- **Written.** Every label becomes a row of the feedback log (``serving_common.inference_log.feedback``),
  through the inference log's bounded writer: buffered, written off the request path, drops counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from api_gateway import metrics
from api_gateway.core.environments import Environment
from serving_common.errors import InvalidInput, PayloadTooLarge
from serving_common.inference_log.feedback import Label
from serving_common.inference_log.writer import InferenceLogWriter


@dataclass(slots=True)
class Remembered:
    task: str
    model_name: str
    model_version: str
    labels: tuple[str, ...]  # one per row of the request, in order
    at: float
    labelled: set[int] | None = None  # positions already counted; made by the first label (an empty set is 216 bytes)

    def count_once(self, position: int) -> bool:
        """Whether ``position`` is labelled for the first time; marks it."""
        if self.labelled is None:
            self.labelled = set()
        elif position in self.labelled:
            return False
        self.labelled.add(position)
        return True


class VerdictMemory:
    """Recent verdicts by (environment, request id): bounded in entries and in age.

    Two generations of plain dicts: new verdicts go to the newer one; when it holds half of ``max_entries``
    it becomes the older and the older is dropped whole. So at most ``max_entries`` are held and at least the
    newest half of them, and nothing is ever deleted one by one: a dict that is written at one end and
    deleted from at the other (an ``OrderedDict`` evicting its oldest) fills its table with dead slots and
    rebuilds it at twice the size its live entries need, where a generation is built from empty and freed
    whole, the same sizes every time, so the memory is flat once both are full (docs/benchmarks.md). A
    verdict older than ``max_age_seconds`` is not recalled, and a generation whose newest verdict is that old
    is dropped.
    """

    def __init__(self, max_entries: int, max_age_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.max_age = max_age_seconds
        self._clock = clock
        self._generation = max(1, max_entries // 2)  # verdicts per generation
        self._keeps_older = max_entries >= 2
        self._newer: dict[tuple[str, str], Remembered] = {}
        self._older: dict[tuple[str, str], Remembered] = {}
        self._newer_at = self._older_at = 0.0  # when each generation last took a verdict
        # A one-row verdict's labels, one tuple per label: most entries share one (bounded by the tasks' labels).
        self._one_row: dict[str, tuple[str]] = {}

    def __len__(self) -> int:
        self._expire(self._clock())
        return len(self._newer) + len(self._older)

    def remember(
        self, environment: str, request_id: str, task: str, model_name: str, model_version: str, labels: Sequence[str]
    ) -> None:
        now = self._clock()
        self._expire(now)
        if len(self._newer) >= self._generation:
            self._older, self._older_at = (self._newer, self._newer_at) if self._keeps_older else ({}, 0.0)
            self._newer = {}
        key = (environment, request_id)
        self._older.pop(key, None)  # a request id given twice: the later verdict only
        kept = self._one_row.setdefault(labels[0], (labels[0],)) if len(labels) == 1 else tuple(labels)
        self._newer[key] = Remembered(task, model_name, model_version, kept, now)
        self._newer_at = now

    def recall(self, environment: str, request_id: str) -> Remembered | None:
        now = self._clock()
        self._expire(now)
        key = (environment, request_id)
        found = self._newer.get(key) or self._older.get(key)
        return found if found is not None and now - found.at <= self.max_age else None

    def _expire(self, now: float) -> None:
        if self._older and now - self._older_at > self.max_age:
            self._older = {}
        if self._newer and now - self._newer_at > self.max_age:
            self._newer = {}


@dataclass(frozen=True)
class FeedbackResult:
    matched: bool
    predicted: str | None
    model_version: str | None
    counted: bool


class Feedback:
    """Labels for earlier predictions: checked against the task's labels, counted, written."""

    def __init__(
        self,
        memory: VerdictMemory,
        writers: Mapping[Environment, InferenceLogWriter],
        model_names: Mapping[str, str],
        max_text_chars: int,
    ) -> None:
        self.memory = memory
        self.max_text_chars = max_text_chars
        self.writers = dict(writers)
        self.model_names = dict(model_names)  # task -> the model name it is served under

    def give(
        self,
        environment: Environment,
        *,
        request_id: str,
        position: int,
        task: str,
        label: str,
        labels: Sequence[str],
        key: str | None,
        text: str | None = None,
    ) -> FeedbackResult:
        """``labels``: the labels the task's model answers; anything else is refused (422). ``text``: the
        text the model read, when the labeller sent it (at most ``max_text_chars``, else 413)."""
        if text is not None and len(text) > self.max_text_chars:
            raise PayloadTooLarge(
                f"the labelled text has {len(text)} characters; the limit is {self.max_text_chars}",
                details={"max_text_chars": self.max_text_chars},
            )
        if label not in labels:
            raise InvalidInput(
                f"{label!r} is not a label of the {task} model; its labels: {', '.join(labels)}",
                details={"label": label, "labels": list(labels)},
            )
        remembered = self.memory.recall(environment.value, request_id)
        if remembered is not None and (remembered.task != task or position >= len(remembered.labels)):
            raise InvalidInput(
                f"request {request_id} was a {remembered.task} prediction of {len(remembered.labels)} row(s); "
                f"no {task} row at position {position}",
                details={"task": remembered.task, "rows": len(remembered.labels)},
            )
        model_name = remembered.model_name if remembered else self.model_names[task]
        model_version = remembered.model_version if remembered else None
        predicted = remembered.labels[position] if remembered else None
        counted = False
        if remembered is not None and remembered.count_once(position):
            metrics.FEEDBACK.labels(environment, model_name, model_version, predicted, label).inc()
            counted = True
        elif remembered is None:
            metrics.FEEDBACK_UNMATCHED.labels(environment, model_name).inc()
        row = Label(
            timestamp=datetime.now(UTC),
            model_name=model_name,
            model_version=model_version,
            task=task,
            request_id=request_id,
            position=position,
            label=label,
            predicted=predicted,
            key=key,
            text=text,
        ).table()
        self.writers[environment].record(row)
        return FeedbackResult(remembered is not None, predicted, model_version, counted)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
