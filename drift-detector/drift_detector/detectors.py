"""The three alibi-detect tests of one window against its baseline.

- ``features``: ``KSDrift`` over the numeric features, Bonferroni-corrected across features;
- ``label``, and each categorical column the model's task adds to the log (the intent model's
  ``complexity_level``): ``ChiSquareDrift`` over the verdicts;
- ``embedding``: ``MMDDrift`` (PyTorch backend) over the projected pooled hidden states.

Every test is seeded, and samples are drawn with a seeded generator, so the same window gives the
same result.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import numpy as np
import pyarrow as pa
import torch
from alibi_detect.cd import ChiSquareDrift, KSDrift, MMDDrift

from serving_common.features import FEATURE_NAMES
from serving_common.inference_log.records import extra_columns

log = logging.getLogger(__name__)


@dataclass
class FeatureResult:
    drifted: bool
    p_value: float
    distance: float


@dataclass
class SignalResult:
    signal: str  # features | label | a task's categorical column (complexity_level) | embedding
    method: str
    drifted: bool
    p_value: float  # the smallest p-value of the signal's tests
    threshold: float  # the p-value under which it counts as drift (after correction)
    distance: float
    drifted_features: list[str] = field(default_factory=list)
    features: dict[str, FeatureResult] = field(default_factory=dict)
    skipped: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TestConfig:
    p_value: float
    max_reference_rows: int
    max_window_rows: int
    mmd_permutations: int
    seed: int


def _rows(table: pa.Table, limit: int, seed: int) -> pa.Table:
    if table.num_rows <= limit:
        return table
    keep = np.sort(np.random.default_rng(seed).choice(table.num_rows, size=limit, replace=False))
    return table.take(pa.array(keep))


def _seed(seed: int) -> None:
    np.random.seed(seed)
    torch.manual_seed(seed)


def feature_drift(reference: pa.Table, live: pa.Table, config: TestConfig) -> SignalResult:
    x_ref = np.column_stack([reference[n].to_numpy() for n in FEATURE_NAMES]).astype(np.float32)
    x = np.column_stack([live[n].to_numpy() for n in FEATURE_NAMES]).astype(np.float32)
    _seed(config.seed)
    detector = KSDrift(x_ref, p_val=config.p_value, correction="bonferroni")
    data = detector.predict(x, drift_type="batch", return_p_val=True, return_distance=True)["data"]
    threshold = float(data["threshold"])
    per_feature = {
        name: FeatureResult(bool(p < threshold), float(p), float(d))
        for name, p, d in zip(FEATURE_NAMES, data["p_val"], data["distance"], strict=True)
    }
    drifted = [name for name, r in per_feature.items() if r.drifted]
    return SignalResult(
        signal="features",
        method="KSDrift (Bonferroni)",
        drifted=bool(drifted),
        p_value=float(min(data["p_val"])),
        threshold=threshold,
        distance=float(max(data["distance"])),
        drifted_features=drifted,
        features=per_feature,
    )


def categorical_drift(signal: str, reference: pa.Table, live: pa.Table, config: TestConfig) -> SignalResult:
    """Chi-square over one categorical column, over every category seen on either side."""
    ref, cur = reference[signal].to_pylist(), live[signal].to_pylist()
    categories = sorted({v for v in ref + cur if v is not None})
    if len(categories) < 2:
        return SignalResult(signal, "ChiSquareDrift", False, 1.0, config.p_value, 0.0, skipped="one category only")
    index = {c: i for i, c in enumerate(categories)}

    def encode(values: list) -> np.ndarray:
        return np.array([[index[v]] for v in values if v is not None], dtype=np.int64)

    _seed(config.seed)
    detector = ChiSquareDrift(encode(ref), p_val=config.p_value, categories_per_feature={0: len(categories)})
    data = detector.predict(encode(cur), return_p_val=True, return_distance=True)["data"]
    return SignalResult(
        signal=signal,
        method="ChiSquareDrift",
        drifted=bool(data["is_drift"]),
        p_value=float(np.atleast_1d(data["p_val"])[0]),
        threshold=float(data["threshold"]),
        distance=float(np.atleast_1d(data["distance"])[0]),
    )


def embedding_drift(reference: pa.Table, live: pa.Table, config: TestConfig) -> SignalResult:
    x_ref = np.asarray(reference["embedding"].to_pylist(), dtype=np.float32)
    x = np.asarray(live["embedding"].to_pylist(), dtype=np.float32)
    _seed(config.seed)
    detector = MMDDrift(
        x_ref, backend="pytorch", p_val=config.p_value, n_permutations=config.mmd_permutations, device="cpu"
    )
    _seed(config.seed)
    data = detector.predict(x, return_p_val=True, return_distance=True)["data"]
    return SignalResult(
        signal="embedding",
        method="MMDDrift (pytorch)",
        drifted=bool(data["is_drift"]),
        p_value=float(data["p_val"]),
        threshold=float(data["threshold"]),
        distance=float(data["distance"]),
    )


def task_categories(reference: pa.Table, live: pa.Table) -> list[str]:
    """The model's task's own categorical log columns (the intent model's ``complexity_level``) that both
    tables have and the reference fills."""
    return [
        name
        for name in extra_columns(reference)
        if name in live.column_names
        and pa.types.is_string(reference[name].type)
        and reference[name].null_count < reference.num_rows
    ]


def run_tests(
    reference: pa.Table, live: pa.Table, config: TestConfig, embeddings_comparable: bool
) -> list[SignalResult]:
    reference = _rows(reference, config.max_reference_rows, config.seed)
    live = _rows(live, config.max_window_rows, config.seed + 1)
    results = [feature_drift(reference, live, config), categorical_drift("label", reference, live, config)]
    results += [categorical_drift(name, reference, live, config) for name in task_categories(reference, live)]
    with_embedding = live.filter(live["embedding"].is_valid())
    if not embeddings_comparable:
        results.append(_skipped("embedding", "the window's embedding projection differs from the baseline's"))
    elif with_embedding.num_rows < 2:
        results.append(_skipped("embedding", "no embeddings in the window"))
    else:
        results.append(embedding_drift(reference, with_embedding, config))
    return results


def _skipped(signal: str, why: str) -> SignalResult:
    log.warning("%s test skipped: %s", signal, why)
    return SignalResult(signal, "MMDDrift (pytorch)", False, 1.0, 0.0, 0.0, skipped=why)
