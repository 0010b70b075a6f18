"""The bench's rows for the default models: which runtimes it measures on this CPU, and which it marks served."""

from __future__ import annotations

import pytest

from devstack.bench import defaults


@pytest.mark.parametrize("native", [True, False])
def test_bfloat16_is_measured_only_where_the_cpu_does_it_in_hardware(monkeypatch, native):
    monkeypatch.setattr(defaults, "has_native_bf16", lambda device: native)
    labels = [label for _, _, label in defaults.configurations()]
    assert ("bfloat16 PyTorch" in labels) is native
    assert {"float32 PyTorch", "onnx", "onnx-int8"} <= set(labels)  # every other runtime, on every CPU
    assert defaults.served_label() in labels  # what the model server runs here is always measured
