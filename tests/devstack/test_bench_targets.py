"""The bench's target table for a GPU run: read from the run's own rows and ceilings, whatever they hold
(a fixed-rate row or not, a static-shape ceiling measured or failed to capture)."""

from __future__ import annotations

from devstack.bench.report import Row
from devstack.bench.targets import targets

C = 256


def _rows(offered: Row | None = None) -> list[Row]:
    rows = [
        Row("model-server alone, batching on", C, 9000.0, 9000.0, mean_batch_size=96.0, extra={"forward_busy": 0.8}),
        Row("transformer + model-server, batching on", C, 6000.0, 6000.0, mean_batch_size=60.0),
        Row(
            "full gateway path, batching on",
            C,
            5200.0,
            5200.0,
            p95_ms=80.0,
            extra={"cores_by_process": {"gateway": 3.1, "staging-transformer": 4.0}},
        ),
    ]
    return rows + ([offered] if offered else [])


def _context(ceilings: dict) -> dict:
    return {
        "gpu": True,
        "ceiling_seq_per_s": 8000.0,
        "ceiling_by_batch": {1: 300.0, 128: 8000.0},
        "ceiling_kind": "static shapes",
        "gpu_ceilings": ceilings,
        "batching_gain_model_server": 9.5,
        "full_path_share_of_ceiling": 0.65,
        "gateway_hop_p50_ms": 1.5,
        "onnx_ceiling_by_batch": {},  # what a GPU run's context holds: no ONNX rows
        "onnx_speedup_batch_1": None,
    }


def test_a_gpu_run_reads_its_fixed_rate_row_and_its_static_shape_ceiling():
    offered = Row(
        "full gateway path, batching on, offered 5000 req/s",
        C,
        4990.0,
        4990.0,
        p95_ms=140.0,
        extra={"cores_by_process": {"gateway": 3.0}},
    )
    ceilings = {
        "eager": {"seq_per_s": 5000.0, "batch": 128, "by_batch": {}},
        "static shapes": {"seq_per_s": 8000.0, "batch": 128, "by_batch": {}},
    }
    table = targets(_rows(offered), _context(ceilings), C)
    full_path = next(line for line in table.splitlines() if ">= 5,000 req/s" in line)
    assert "4990.0 req/s, p95 140.0 ms" in full_path and "at a fixed 5,000 req/s offered" in full_path
    assert "| not met |" in full_path  # p95 over 100 ms at the fixed rate, though the closed loop met it
    assert "gateway 3.0" in full_path
    share = next(line for line in table.splitlines() if ">= 60 %" in line)
    assert "65% of 8000 seq/s" in share and "| met |" in share
    static = next(line for line in table.splitlines() if "static-shape (CUDA graph) ceiling" in line)
    assert "8000 at batch 128 | not met" in static and "eager 5000 (batch 128)" in static


def test_a_failed_capture_is_reported_and_the_closed_loop_row_stands_in_for_a_missing_fixed_rate():
    ceilings = {
        "eager": {"seq_per_s": 5000.0, "batch": 128, "by_batch": {}},
        "static shapes": {"error": "operation not permitted when stream is capturing"},
    }
    table = targets(_rows(), _context(ceilings), C)
    assert "closed loop at 256 (no fixed-rate row)" in table
    static = next(line for line in table.splitlines() if "static-shape (CUDA graph) ceiling" in line)
    assert "capture failed | not met" in static and "stream is capturing" in static
