"""True labels back from users, free of FastAPI: the verdicts the gateway remembers, the live counts of
verdict against label, and the feedback log every label is written to.

- **Remembered verdicts.** Each answered prediction's labels (one per row) are kept under its request id
  and environment, at most ``max_entries`` of them and for ``max_age_seconds``, the oldest dropped first.
  An entry is its key, a few strings and a tuple of labels: 546 bytes measured (tracemalloc, 20,000
  single-row spam verdicts), so the default 50,000 entries hold about 27 MB.
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
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from api_gateway import metrics
from api_gateway.core.environments import Environment
from serving_common.errors import InvalidInput, PayloadTooLarge
from serving_common.inference_log.feedback import Label
from serving_common.inference_log.writer import InferenceLogWriter


@dataclass
class Remembered:
    task: str
    model_name: str
    model_version: str
    labels: tuple[str, ...]  # one per row of the request, in order
    at: float
    labelled: set[int] = field(default_factory=set)  # positions already counted


class VerdictMemory:
    """Recent verdicts by (environment, request id): bounded in entries and in age."""

    def __init__(self, max_entries: int, max_age_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.max_age = max_age_seconds
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], Remembered] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def remember(
        self, environment: str, request_id: str, task: str, model_name: str, model_version: str, labels: Sequence[str]
    ) -> None:
        now = self._clock()
        key = (environment, request_id)
        self._entries.pop(key, None)
        self._entries[key] = Remembered(task, model_name, model_version, tuple(labels), now)
        self._expire(now)

    def recall(self, environment: str, request_id: str) -> Remembered | None:
        self._expire(self._clock())
        return self._entries.get((environment, request_id))

    def _expire(self, now: float) -> None:
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if len(self._entries) <= self.max_entries and now - oldest.at <= self.max_age:
                return
            self._entries.popitem(last=False)


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
        if remembered is not None and position not in remembered.labelled:
            remembered.labelled.add(position)
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
