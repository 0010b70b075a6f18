"""The bench's process sizing per host, its load generator's command line, and its row-by-row results file."""

from __future__ import annotations

import json

from devstack.bench.load import LoadGenerator
from devstack.bench.report import Row, RowFile
from devstack.bench.sizing import Sizing


def test_processes_are_sized_to_the_host():
    assert Sizing.for_host(2) == Sizing(1, 1, None)  # a small host: one each, the load generator unpinned
    assert Sizing.for_host(16) == Sizing(3, 6, "12-15")
    assert Sizing.for_host(8) == Sizing(1, 3, "6-7")


def test_the_load_generator_is_pinned_and_offers_a_fixed_rate_when_asked():
    assert LoadGenerator().command(64) == ["hey"]
    fixed = LoadGenerator("12-15").at(5000)
    assert fixed.command(256) == ["taskset", "-c", "12-15", "hey", "-q", "19.531"]  # 5,000/s over 256 connections


def test_rows_are_written_as_they_are_measured(tmp_path):
    path = tmp_path / "bench-results" / "2026-12-05-h200.json"
    rows = RowFile(path, {"machine": "test"})
    rows.add(Row("full gateway path", 256, 5000.0, 5000.0))
    assert json.loads(path.read_text())["rows"][0]["requests_per_s"] == 5000.0
    rows.add(Row("model-server alone", 256, 7000.0, 7000.0))
    written = json.loads(path.read_text())
    assert written["context"] == {"machine": "test"} and len(written["rows"]) == 2
