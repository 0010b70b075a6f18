"""The labelled prompt dataset of the intent classifier, and the deterministic generator that wrote it.

``common/ml_common/data/intent_prompts.jsonl`` is kept under version control; this module regenerates it
(``python -m model_training intent-data``) so its provenance is reviewable. Each intent has its
own pool of task cores written by hand; prompts combine a core with a topic, an opener, and zero
or more constraints. Complexity is not a label picked at random: it is computed from what the
prompt asks (the core's intrinsic difficulty, number of constraints, multi-part requests, expert
audience), so a model can learn it from the text.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from ml_common.datasets import INTENT_PROMPTS_PATH
from serving_common.postprocess import complexity_level

INTENTS = (
    "question_answering",
    "creative_writing",
    "code_generation",
    "data_analysis",
    "reasoning",
    "summarization",
    "translation",
    "conversation",
    "task_planning",
    "problem_solving",
)

# The word lists live in a data file, reviewed as data: training/data/intent_vocabulary.json.
VOCABULARY_PATH = Path(__file__).resolve().parent.parent / "data" / "intent_vocabulary.json"
_VOCABULARY = json.loads(VOCABULARY_PATH.read_text(encoding="utf-8"))
TOPICS: list[str] = _VOCABULARY["topics"]
LANGUAGES: list[str] = _VOCABULARY["languages"]
HUMAN_LANGUAGES: list[str] = _VOCABULARY["human_languages"]
DATASETS: list[str] = _VOCABULARY["datasets"]
IMPERATIVE_OPENERS: list[str] = _VOCABULARY["imperative_openers"]
QUESTION_OPENERS: list[str] = _VOCABULARY["question_openers"]
CHAT_OPENERS: list[str] = _VOCABULARY["chat_openers"]
CHAT_CLOSERS: list[str] = _VOCABULARY["chat_closers"]
IMPERATIVE_VERBS: frozenset[str] = frozenset(_VOCABULARY["imperative_verbs"])
# Task cores per intent, each with its intrinsic difficulty (0-3), which the complexity score starts from.
CORES: dict[str, list[tuple[str, int]]] = {
    intent: [(core["text"], int(core["difficulty"])) for core in cores]
    for intent, cores in _VOCABULARY["cores"].items()
}
CONSTRAINTS: dict[str, list[str]] = _VOCABULARY["constraints"]
AUDIENCES: list[str] = _VOCABULARY["audiences"]


def _complexity(difficulty: int, n_constraints: int, multi_part: bool, expert: bool, rng: random.Random) -> float:
    score = 0.12 + 0.2 * difficulty + 0.11 * n_constraints + 0.12 * multi_part + 0.08 * expert
    return round(min(max(score + rng.uniform(-0.04, 0.04), 0.0), 1.0), 3)


def _fill(text: str, rng: random.Random) -> str:
    t, t2 = rng.sample(TOPICS, 2)
    h, h2 = rng.sample(HUMAN_LANGUAGES, 2)
    return text.format(t=t, t2=t2, l=rng.choice(LANGUAGES), h=h, h2=h2, d=rng.choice(DATASETS))


def generate(per_intent: int = 320, seed: int = 2026) -> list[dict]:
    rng = random.Random(seed)
    rows: list[dict] = []
    for intent in INTENTS:
        seen: set[str] = set()
        attempts = 0
        while len(seen) < per_intent and attempts < per_intent * 50:
            attempts += 1
            core, difficulty = rng.choice(CORES[intent])
            pool = [c for c in CONSTRAINTS[intent] if c]
            n_constraints = 0 if intent == "conversation" else rng.choice([0, 0, 1, 1, 2, 3])
            chosen = rng.sample(pool, min(n_constraints, len(pool)))
            expert = intent not in {"conversation"} and rng.random() < 0.2
            wants_audience = intent != "conversation" and rng.random() < 0.35
            audience = rng.choice(AUDIENCES[1:2] if expert else AUDIENCES[:1] + AUDIENCES[2:]) if wants_audience else ""
            expert = expert and bool(audience)
            multi_part = intent not in {"conversation"} and rng.random() < 0.15
            imperative = core.split()[0] in IMPERATIVE_VERBS
            opener = rng.choice(IMPERATIVE_OPENERS if imperative else QUESTION_OPENERS)
            if intent == "conversation":
                opener = rng.choice(CHAT_OPENERS)
            body = _fill(core, rng)
            if opener.endswith((": ", "! ")):
                body = body[0].upper() + body[1:]
            text = opener + body
            if chosen:
                parts = [_fill(c, rng).removeprefix("and ") for c in chosen]
                joined = ", ".join(parts[:-1]) + (", and " if len(parts) > 1 else "") + parts[-1]
                text = text.rstrip("?.") + (", " + joined if imperative else "? Please " + joined)
            if audience:
                text = text.rstrip("?.") + " " + audience
            if multi_part:
                follow = _fill(rng.choice(CORES[intent])[0], rng)
                text = text.rstrip("?.") + ". Then " + follow
            text = text[0].upper() + text[1:] if opener == "" or opener[0].isupper() else text
            if intent == "conversation":
                text = text.rstrip("?.!") + rng.choice(CHAT_CLOSERS) if not core.endswith("?") else text
            if not text.endswith(("?", ".", "!")):
                text += "?" if core.endswith("?") and not chosen and not multi_part else "."
            if text.lower() in seen:
                continue
            seen.add(text.lower())
            score = _complexity(difficulty, len(chosen), multi_part, expert, rng)
            rows.append(
                {"text": text, "intent": intent, "complexity": score, "complexity_level": complexity_level(score)}
            )
    return rows


def write_dataset(path: Path = INTENT_PROMPTS_PATH, per_intent: int = 320, seed: int = 2026) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in generate(per_intent, seed):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path
