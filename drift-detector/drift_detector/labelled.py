"""Users' labels in the drift job: each run counts the last window's labels against their predictions
(the quality figure that counts every label), and ``labelled-data`` exports the joined rows for retraining.

Both join through :mod:`serving_common.inference_log.labelled`: the live per-pod counts of the gateway
(``gateway_feedback_total``) see a label only when it reaches the replica that answered the prediction
within its memory; this join finds every prediction in the inference log, whichever replica wrote it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from drift_detector.metrics import DriftMetrics
from drift_detector.settings import DriftSettings
from serving_common.inference_log.labelled import Labelled, labelled_data

log = logging.getLogger(__name__)


def join(
    settings: DriftSettings, start: datetime, end: datetime, exclude_keys: frozenset[str] = frozenset()
) -> Labelled:
    if settings.feedback_log_url is None:
        raise ValueError("no feedback log: set DRIFT_FEEDBACK_LOG_URL or --feedback-log-url")
    salt = settings.inference_log_hash_salt
    return labelled_data(
        settings.inference_log_url,
        settings.feedback_log_url,
        start,
        end,
        lookback=timedelta(hours=settings.label_lookback_hours),
        environments=settings.environments,
        models=settings.models,
        exclude_keys=exclude_keys,
        hash_salt=salt.get_secret_value().encode() if salt else None,
    )


def count_labelled(settings: DriftSettings, end: datetime, metrics: DriftMetrics) -> dict[str, Any]:
    """The last labelled window's verdict-against-label counts, as gauges; what the run's report says."""
    window = timedelta(hours=settings.labelled_window_hours)
    labelled = join(settings, end - window, end)
    metrics.labelled_window.set(window.total_seconds())
    counts = (
        labelled.table.group_by(["environment", "model_name", "model_version", "predicted", "label"])
        .aggregate([([], "count_all")])
        .to_pylist()
    )
    for row in counts:
        metrics.labelled.labels(
            row["environment"], row["model_name"], row["model_version"], row["predicted"], row["label"]
        ).set(row["count_all"])
    for (env, model), n in labelled.report.unmatched_by_pair.items():
        metrics.labelled_unmatched.labels(env, model).set(n)
    log.info(
        "labels of the last %s h: %d joined, %d unmatched",
        settings.labelled_window_hours,
        labelled.report.joined,
        labelled.report.unmatched,
    )
    return {
        "start": labelled.start.isoformat(),
        "end": labelled.end.isoformat(),
        **labelled.report.as_dict(),
        "counts": [{**row, "actual": row.pop("label"), "rows": row.pop("count_all")} for row in counts],
    }
