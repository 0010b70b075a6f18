"""The tasks the platform serves, found by name (see :mod:`serving_common.tasks.base`). Spam and intent
are built in; others are plug-ins named in ``TEXTSERVE_TASK_PLUGINS``."""

from serving_common.tasks.base import (
    AnyTask,
    Comparison,
    LogType,
    ModelTask,
    Prediction,
    load_plugins,
    register,
    registered,
    task_named,
    task_of,
)
from serving_common.tasks.intent import IntentTask, IntentVerdict
from serving_common.tasks.spam import SpamTask, SpamVerdict

SPAM = SpamTask()
INTENT = IntentTask()
register(SPAM)
register(INTENT)

__all__ = [
    "INTENT",
    "SPAM",
    "AnyTask",
    "Comparison",
    "IntentTask",
    "IntentVerdict",
    "LogType",
    "ModelTask",
    "Prediction",
    "SpamTask",
    "SpamVerdict",
    "load_plugins",
    "register",
    "registered",
    "task_named",
    "task_of",
]
