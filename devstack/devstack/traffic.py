"""``python -m devstack.traffic``: send realistic or deliberately shifted traffic through the gateway,
to see the inference log and the drift job at work (what `make traffic` calls).

- ``reference``: messages from the held-out test split of the default spam model's dataset (SMS and
  SpamAssassin e-mail; ``--corpus sms`` for an SMS-only model): drawn like the baseline (the validation
  split of the same data), so the drift job should find nothing;
- ``shifted``: long, prompt-like texts with a different vocabulary, so lengths, words and the
  model's embedding all move.
"""

from __future__ import annotations

import argparse
import random
import sys

import httpx

from ml_common.datasets import Example, load_sms_spam, load_spam_corpora, read_intent_prompts, stratified_split
from model_training.trainer import TrainingConfig

SPLIT_SEED = TrainingConfig.seed  # the default spam model's split (its metrics.json: dataset.split_seed)


CORPORA = {"all": load_spam_corpora, "sms": load_sms_spam}  # the default spam model's data; an SMS-only model's


def reference_texts(count: int, seed: int = 0, split: str = "test", corpus: str = "sms") -> list[str]:
    examples: list[Example] = CORPORA[corpus]()
    texts = [e.text for e in getattr(stratified_split(examples, seed=SPLIT_SEED), split)]
    return random.Random(seed).sample(texts, min(count, len(texts)))


def shifted_texts(count: int, seed: int = 0) -> list[str]:
    prompts = [r["text"] for r in read_intent_prompts()]
    rng = random.Random(seed)
    return [" ".join(rng.sample(prompts, 3)) for _ in range(count)]


def send(gateway_url: str, texts: list[str], environment: str = "staging", batch_size: int = 25) -> int:
    """Send texts through /api/v1/batch-predict; returns how many were answered."""
    answered = 0
    with httpx.Client(base_url=gateway_url, timeout=60) as client:
        for start in range(0, len(texts), batch_size):
            response = client.post(
                "/api/v1/batch-predict",
                json={"emails": texts[start : start + batch_size]},
                headers={"X-Environment": environment},
            )
            response.raise_for_status()
            answered += response.json()["count"]
    return answered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="devstack.traffic", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kind", choices=("reference", "shifted"), default="reference")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--environment", default="staging")
    parser.add_argument("--gateway", default="http://127.0.0.1:8080")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--corpus",
        choices=sorted(CORPORA),
        default="all",
        help="reference traffic's data: all (SMS and e-mail, as the default spam model) or sms",
    )
    args = parser.parse_args(argv)
    if args.kind == "reference":
        texts = reference_texts(args.count, args.seed, corpus=args.corpus)
    else:
        texts = shifted_texts(args.count, args.seed)
    try:
        answered = send(args.gateway, texts, args.environment)
    except httpx.HTTPError as exc:
        print(f"error: {exc} (is `make run` up?)", file=sys.stderr)
        return 1
    print(f"sent {answered} {args.kind} emails to {args.environment} through {args.gateway}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
