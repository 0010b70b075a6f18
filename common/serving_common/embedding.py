"""The low-dimensional embedding of an input that the inference log and the baselines keep.

The model server takes the model's pooled hidden state (what its classification head reads) and
multiplies it by a fixed random projection to :data:`EMBEDDING_DIM` dimensions. Random projections
keep pairwise distances (Johnson-Lindenstrauss), which is all the MMD drift test needs, and need no
fitting: the projection is a pure function of the model (its version and hidden size), so the
model server, the baseline generator and every replica compute the same matrix without sharing a
file. Its id, a hash of the matrix, is logged with every row and stored with the baseline, so a
mismatch is caught instead of compared.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

EMBEDDING_DIM = 32


@dataclass(frozen=True)
class Projection:
    matrix: np.ndarray  # [hidden_size, dim], float32

    @classmethod
    def for_model(cls, model_version: str, hidden_size: int, dim: int = EMBEDDING_DIM) -> Projection:
        seed = int.from_bytes(hashlib.sha256(f"{model_version}/{hidden_size}/{dim}".encode()).digest()[:8], "big")
        gaussian = np.random.default_rng(seed).standard_normal((hidden_size, dim))
        return cls((gaussian / np.sqrt(dim)).astype(np.float32))

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    @cached_property  # hashed once: the model server sends it with every response
    def id(self) -> str:
        return "rp-" + hashlib.sha256(np.ascontiguousarray(self.matrix).tobytes()).hexdigest()[:12]

    def apply(self, pooled: np.ndarray) -> np.ndarray:
        projected: np.ndarray = (np.asarray(pooled, dtype=np.float32) @ self.matrix).astype(np.float32)
        return projected
