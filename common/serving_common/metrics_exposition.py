"""/metrics for a service served by one process or by several worker processes on one port.

With several workers each process counts into files of one directory (prometheus_client's multiprocess
mode, chosen by ``PROMETHEUS_MULTIPROC_DIR`` when a worker first imports prometheus_client), and whichever
worker answers a scrape sums them all: no count is lost to the worker that did not answer it. Gauges say
how their workers' values combine (``multiprocess_mode``); one process ignores it. A worker that stops
gracefully takes its live gauges with it (:func:`forget_this_process`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import REGISTRY, CollectorRegistry, exposition, multiprocess

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def workers_metrics_dir() -> Iterator[str]:
    """A fresh directory for the workers' counts, named in the environment the workers inherit; removed
    once they have stopped. Enter it before the workers start."""
    directory = tempfile.mkdtemp(prefix="textserve-metrics-")
    os.environ[MULTIPROC_DIR] = directory
    try:
        yield directory
    finally:
        os.environ.pop(MULTIPROC_DIR, None)
        shutil.rmtree(directory, ignore_errors=True)


def exposition_of(accept: str) -> tuple[bytes, str]:
    """The metrics of this process, or of every worker when they count in multiprocess mode, encoded for
    the scraper's ``Accept`` header; and the content type."""
    registry = REGISTRY
    if MULTIPROC_DIR in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    encoder, content_type = exposition.choose_encoder(accept)
    return encoder(registry), content_type


def forget_this_process() -> None:
    """At a worker's graceful exit: drop its share of the ``live*`` gauges (in-flight requests, readiness),
    which would otherwise keep counting a process that is gone. Its counters stay: they were counted."""
    if MULTIPROC_DIR in os.environ:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
