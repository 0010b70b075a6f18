"""Every Prometheus metric the feature transformer exports beyond KServe's own ``request_*_seconds``."""

from __future__ import annotations

from prometheus_client import Counter

TEXTS = Counter("transformer_texts_total", "Texts tokenised and sent to the predictor.", ["model_name"])
TRUNCATED = Counter(
    "transformer_truncated_texts_total", "Texts longer than the model's max tokens, cut to fit.", ["model_name"]
)
