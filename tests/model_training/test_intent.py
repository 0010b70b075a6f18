import json

import numpy as np
import pytest
import torch

from feature_transformer.settings import TransformerSettings
from feature_transformer.transformer import TextTransformer
from ml_common.classifier import SequenceClassifier
from ml_common.datasets import read_intent_prompts
from model_training.intent_data import INTENTS, generate
from serving_common.model_dir import TOKENIZER_FILE, validate_model_dir
from serving_common.pipeline import TextPipeline
from serving_common.postprocess import complexity_level
from serving_common.tasks import INTENT
from serving_common.tokenization import TextEncoder


def test_committed_dataset_is_what_the_generator_writes():
    rows = read_intent_prompts()
    assert rows == generate(), "training/data/intent_prompts.jsonl is stale: python -m model_training intent-data"


def test_dataset_has_hundreds_of_varied_prompts_per_intent():
    rows = read_intent_prompts()
    for intent in INTENTS:
        texts = [r["text"] for r in rows if r["intent"] == intent]
        assert len(texts) >= 250, intent
        assert len(set(texts)) == len(texts)
        assert len({t.split()[0] for t in texts}) >= 5, f"{intent} prompts all start alike"
    levels = {r["complexity_level"] for r in rows}
    assert levels == {"simple", "moderate", "complex"}
    assert all(complexity_level(r["complexity"]) == r["complexity_level"] for r in rows)


@pytest.mark.parametrize(
    ("score", "level"),
    [(0.0, "simple"), (0.329, "simple"), (0.33, "moderate"), (0.669, "moderate"), (0.67, "complex"), (1.0, "complex")],
)
def test_complexity_levels(score, level):
    assert complexity_level(score) == level


def test_intent_model_directory_describes_two_heads(intent_model_dir):
    metadata = validate_model_dir(intent_model_dir)
    assert metadata.task == INTENT.name and metadata.name == "intent-classifier"
    heads = {h.name: h for h in metadata.heads}
    assert heads["intent"].labels == list(INTENTS) and heads["intent"].size == 10
    assert heads["complexity"].start == 10 and heads["complexity"].size == 1
    config = json.loads((intent_model_dir / "config.json").read_text())
    assert len(config["id2label"]) == metadata.num_outputs == 11
    metrics = json.loads((intent_model_dir / "metrics.json").read_text())
    assert {"intent_macro_f1", "complexity_level_accuracy"} <= set(metrics["held_out"])


def test_both_heads_come_from_one_forward_pass(intent_model_dir):
    classifier = SequenceClassifier.load(intent_model_dir, torch.device("cpu"), torch.float32)
    calls = []
    # The encoder runs once for both heads.
    handle = classifier.model.base_model.register_forward_hook(lambda *_: calls.append(1))
    encoder = TextEncoder.from_file(intent_model_dir / TOKENIZER_FILE, 512)
    batch = encoder.encode(["Translate 'thank you' into German", "Write a haiku about tides"])
    logits = classifier.forward(batch.input_ids, batch.attention_mask)
    handle.remove()
    assert len(calls) == 1 and logits.shape == (2, 11)
    verdicts = INTENT.verdicts(logits, classifier.metadata)
    for v in verdicts:
        assert v.intent in INTENTS and 0 <= v.complexity_score <= 1
        assert sum(v.all_intents.values()) == pytest.approx(1.0)


def test_intent_verdicts_refuse_logits_that_do_not_fit_the_heads(intent_model_dir):
    with pytest.raises(ValueError, match="expected logits of shape"):
        INTENT.verdicts(np.zeros((1, 10)), validate_model_dir(intent_model_dir))


async def test_transformer_answers_intent_shape(intent_model_dir):
    from serving_common.v2_binary import Message, Tensor

    metadata = validate_model_dir(intent_model_dir)
    encoder = TextEncoder.from_file(intent_model_dir / TOKENIZER_FILE, 512)
    transformer = TextTransformer("intent-classifier", TextPipeline(metadata, encoder), TransformerSettings())
    await transformer.preprocess({"instances": [{"text": "Plan a three-day trip to Lisbon"}]}, {})
    logits = np.zeros((1, 11), dtype=np.float32)
    logits[0, INTENTS.index("task_planning")] = 5.0
    answer = Message([Tensor("logits", logits)], model_name="intent-classifier", model_version="v")
    result = transformer.postprocess(answer, {})
    prediction = result["predictions"][0]
    assert prediction["intent"] == "task_planning"
    assert (
        next(t["intent"] for t in prediction["top_intents"]) == "task_planning" and len(prediction["top_intents"]) == 3
    )
    assert prediction["complexity_score"] == pytest.approx(0.5) and prediction["complexity_level"] == "moderate"


def test_complexity_follows_the_rubric_and_never_the_jitter():
    import itertools
    import random

    from model_training.intent_data import _complexity, work

    for difficulty, constraints, multi_part, expert in itertools.product(
        range(3), range(4), (False, True), (False, True)
    ):
        w = work(difficulty, constraints, multi_part, expert)
        expected = "simple" if w < 1 else "moderate" if w < 2 else "complex"
        for seed in range(50):
            score = _complexity(difficulty, constraints, multi_part, expert, random.Random(seed))
            assert complexity_level(score) == expected and 0.0 <= score <= 1.0
    # The rubric (docs/api.md) in examples: a worked answer alone is moderate, a short one with two constraints
    # simple, a worked one with three constraints or a second part complex.
    assert work(1, 0, False, False) == 1.0 and work(0, 2, False, False) < 1.0
    assert work(1, 3, False, False) >= 2.0 and work(1, 0, True, False) >= 2.0


def test_prompts_are_said_in_many_ways():
    from model_training.intent_data import CONTEXT_SENTENCES

    rows = read_intent_prompts()
    texts = [r["text"] for r in rows]
    with_context = [r for r in rows if any(r["text"].startswith(c) for c in CONTEXT_SENTENCES)]
    assert len(with_context) > 0.2 * len(rows)
    # Context that mentions code or data, in front of prompts that ask for neither.
    mentions = [r for r in with_context if r["intent"] not in {"code_generation", "data_analysis"}]
    assert any(w in r["text"] for r in mentions for w in ("Python", "SQL", "CSV", "spreadsheet"))
    assert sum(t == t.lower() for t in texts) > 0.1 * len(texts)
    assert len({len(t.split()) for t in texts}) >= 40, "prompt lengths barely vary"
