"""What a task is: the one plug-in point of the platform.

A task (spam, intent, or one of yours) says what its verdicts are and how logits become them, what
its wire output and response are, which columns its rows add to the inference log, how a staging
verdict is compared with production's in shadow traffic, and which label a verdict counts under.
Everything else (the model server, the feature transformer, the gateway's upstreams, its generic
``/api/v1/tasks/{task}`` routes, shadow traffic, the inference log, the baseline generator and the
drift detector) asks the task, found by the name in a model's ``metadata.json``.

A new task is one module: a :class:`ModelTask` subclass, registered with :func:`register`, and named
in ``TEXTSERVE_TASK_PLUGINS`` so that every service imports it (:func:`load_plugins`).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, TypeVar

import numpy as np
from pydantic import BaseModel

from serving_common.errors import UnknownTask
from serving_common.model_dir import ModelMetadata
from serving_common.schemas import TaskResponse

# The Parquet types a task's own log columns may have (serving_common.inference_log.records maps them).
LogType = Literal["float64", "string", "bool"]


@dataclass(frozen=True)
class Prediction:
    """A verdict as the inference log keeps it: the label and its probability, which every task has,
    and the task's own columns (``ModelTask.log_columns``)."""

    label: str
    probability: float
    extras: Mapping[str, float | str | bool | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    """Staging's verdict on a row against production's: agreement per compared field, and how far the
    probability staging gives production's label is from production's own."""

    agreements: Mapping[str, bool]
    probability_delta: float


VerdictT = TypeVar("VerdictT")
OutputT = TypeVar("OutputT", bound=BaseModel)
ResponseT = TypeVar("ResponseT", bound=TaskResponse)


class ModelTask(ABC, Generic[VerdictT, OutputT, ResponseT]):
    """What a model family's verdicts are, from logits to the log row, the wire and shadow comparison."""

    name: ClassVar[str]
    response_model: ClassVar[type[Any]]  # type[ResponseT]; a ClassVar cannot name a type variable
    # Columns this task's rows add to the inference log, after the common ones (name -> Parquet type).
    log_columns: ClassVar[Mapping[str, LogType]] = {}

    def check(self, metadata: ModelMetadata) -> None:
        """ValueError when ``metadata`` does not describe a model of this task (called at load time)."""

    @abstractmethod
    def verdicts(self, logits: np.ndarray, metadata: ModelMetadata) -> list[VerdictT]:
        """One verdict per row of a [batch, outputs] logits tensor; ValueError when it does not fit."""

    @abstractmethod
    def log_row(self, verdict: VerdictT) -> Prediction: ...

    @abstractmethod
    def output(self, verdict: VerdictT, *, truncated: bool, features: dict[str, float]) -> OutputT: ...

    @staticmethod
    @abstractmethod
    def answer_label(output: OutputT) -> str:
        """The label a wire output names (the gateway counts predictions by it)."""

    def answer_labels(self, labels: Sequence[str]) -> list[str]:
        """Of a model's output labels (its metadata's ``labels``), those a verdict can name: what a true label
        sent back may be."""
        return list(labels)

    @abstractmethod
    def compare(self, production: OutputT, staging: OutputT) -> Comparison:
        """How staging's answer on a mirrored row differs from production's."""

    def response(
        self,
        verdicts: Sequence[VerdictT],
        *,
        truncated: Sequence[bool],
        features: Sequence[dict[str, float]],
        model_name: str,
        model_version: str,
    ) -> ResponseT:
        outputs = [
            self.output(v, truncated=cut, features=feats)
            for v, cut, feats in zip(verdicts, truncated, features, strict=True)
        ]
        response: ResponseT = self.response_model(
            predictions=outputs, model_name=model_name, model_version=model_version
        )
        return response


AnyTask = ModelTask[Any, Any, Any]
_REGISTRY: dict[str, AnyTask] = {}


def register(task: AnyTask) -> AnyTask:
    """Make ``task`` known by its name; registering the same class twice is harmless."""
    known = _REGISTRY.get(task.name)
    if known is not None and type(known) is not type(task):
        raise ValueError(f"task {task.name!r} is already registered by {type(known).__qualname__}")
    _REGISTRY.setdefault(task.name, task)
    return _REGISTRY[task.name]


def registered() -> list[str]:
    return sorted(_REGISTRY)


def task_named(name: str) -> AnyTask:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownTask(
            f"unknown task {name!r}; registered tasks: {', '.join(registered())} "
            "(a task of your own is named in TEXTSERVE_TASK_PLUGINS)",
            details={"task": name, "tasks": registered()},
        ) from None


def task_of(metadata: ModelMetadata) -> AnyTask:
    """The task of a model, once it has checked that the model's metadata is one of its own."""
    task = task_named(metadata.task)
    task.check(metadata)
    return task


def load_plugins(specs: Iterable[str]) -> None:
    """Import each ``module`` or ``module:attribute`` of ``specs``. An attribute that is a task class or
    instance is registered; a bare module registers its tasks itself when imported."""
    for spec in specs:
        module_name, _, attribute = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ValueError(f"task plug-in {spec!r} cannot be imported ({exc})") from None
        if not attribute:
            continue
        found = getattr(module, attribute, None)
        if isinstance(found, type) and issubclass(found, ModelTask):
            found = found()
        if not isinstance(found, ModelTask):
            raise ValueError(f"task plug-in {spec!r} is not a ModelTask class or instance")
        register(found)
