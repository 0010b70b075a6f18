"""The labelled prompt dataset of the intent classifier, and the deterministic generator that wrote it.

``common/ml_common/data/intent_prompts.jsonl`` is kept under version control; this module regenerates it
(``python -m model_training intent-data``) so its provenance is reviewable. Each intent has its
own pool of task cores written by hand; prompts combine a core with a topic, an opener, and zero
or more constraints. Complexity is not a label picked at random: it is computed from what the
prompt asks, by the rubric docs/api.md states (``work`` below), so a model can learn it from the text.

What a prompt asks is then said in many ways, none of which changes its intent or complexity: a
sentence of context before it (some mention code, data or spreadsheets without asking for any), a
closing thanks, lower case without punctuation, and typos. A model that learns the templates alone
does badly on prompts people write (docs/models.md).
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
CONTEXT_SENTENCES: list[str] = _VOCABULARY["context_sentences"]
CLOSING_SENTENCES: list[str] = _VOCABULARY["closing_sentences"]

# The complexity rubric (docs/api.md, "Complexity"). ``work`` is what a complete answer takes: the core's kind
# (difficulty 0 a short direct answer, 1 a worked answer, 2 a demanding one), one more for a second part to
# do after the first, and 0.35 for each constraint on the answer and for an expert audience. Simple below 1,
# moderate below 2, complex from 2. The score places the prompt in the middle of its level's band of the served
# boundaries (simple < 0.33 <= moderate < 0.67 <= complex), so a level never depends on the jitter.
DIFFICULTY_WORK = {0: 0.0, 1: 1.0, 2: 1.5}
# Each constraint on the answer, and an expert audience, add this much work.
CONSTRAINT_WORK = 0.35
# (lowest work, work that fills the band, band of the score) per level.
LEVEL_BANDS = ((0.0, 1.0, (0.0, 0.33)), (1.0, 1.0, (0.33, 0.67)), (2.0, 1.5, (0.67, 1.0)))


def work(difficulty: int, n_constraints: int, multi_part: bool, expert: bool) -> float:
    return DIFFICULTY_WORK[difficulty] + CONSTRAINT_WORK * (n_constraints + expert) + 1.0 * multi_part


def _complexity(difficulty: int, n_constraints: int, multi_part: bool, expert: bool, rng: random.Random) -> float:
    w = work(difficulty, n_constraints, multi_part, expert)
    floor, span, (low, high) = next(band for band in reversed(LEVEL_BANDS) if w >= band[0])
    # The middle 40 % of the band: the commonest prompt of a level (no constraints) sits a tenth of the
    # score range away from the level below, so a regression head's small errors do not change levels.
    position = 0.3 + 0.4 * min((w - floor) / span, 1.0)
    return round(low + (high - low) * position + rng.uniform(-0.02, 0.02), 3)


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 2)
    kind = rng.randrange(3)
    if kind == 0:  # two letters swapped
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:  # a letter dropped
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]  # a letter doubled


def _vary(text: str, rng: random.Random) -> str:
    """Say the same request another way: context before it, thanks after it, casual casing, typos."""
    if rng.random() < 0.3:
        text = rng.choice(CONTEXT_SENTENCES) + " " + text
    if rng.random() < 0.15:
        text = text + " " + rng.choice(CLOSING_SENTENCES)
    if rng.random() < 0.25:
        words = text.split(" ")
        candidates = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
        for i in rng.sample(candidates, min(len(candidates), rng.choice([1, 1, 2]))):
            words[i] = _typo(words[i], rng)
        text = " ".join(words)
    if rng.random() < 0.15:
        text = text.lower().rstrip("?.!")
    return text


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
            text = _vary(text, rng)
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
