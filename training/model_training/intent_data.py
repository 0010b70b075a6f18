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

TOPICS = [
    "photosynthesis",
    "the French Revolution",
    "black holes",
    "inflation",
    "the immune system",
    "climate change",
    "machine learning",
    "the Roman Empire",
    "volcanoes",
    "cryptocurrency",
    "the water cycle",
    "quantum computing",
    "the stock market",
    "sleep",
    "vaccines",
    "the Renaissance",
    "plate tectonics",
    "renewable energy",
    "the human brain",
    "supply chains",
    "the Cold War",
    "coral reefs",
    "electric cars",
    "antibiotics",
    "social media",
    "the printing press",
    "honeybees",
    "interest rates",
    "the internet",
    "jazz music",
    "the Silk Road",
    "earthquakes",
    "nutrition",
    "remote work",
    "urban planning",
    "the moon landing",
    "microplastics",
    "genetics",
    "the Industrial Revolution",
    "solar panels",
    "coffee",
    "chess openings",
    "marathon training",
    "the Great Depression",
    "rainforests",
    "3D printing",
    "democracy",
    "tides",
]
LANGUAGES = ["Python", "JavaScript", "TypeScript", "Go", "Rust", "Java", "C#", "SQL", "Bash", "Kotlin", "C++", "Ruby"]
HUMAN_LANGUAGES = [
    "French",
    "Spanish",
    "German",
    "Italian",
    "Portuguese",
    "Japanese",
    "Chinese",
    "Korean",
    "Dutch",
    "Polish",
    "Arabic",
    "Hindi",
    "Turkish",
    "Swedish",
]
DATASETS = [
    "monthly sales figures",
    "customer churn records",
    "website traffic logs",
    "survey responses",
    "sensor readings from a factory line",
    "hospital admission data",
    "A/B test results",
    "student exam scores",
    "delivery times",
    "energy consumption per household",
    "app crash reports",
    "housing prices",
    "support ticket volumes",
    "weather station measurements",
    "inventory levels",
]

# Openers that fit an imperative core ("write ...") and ones that fit a question or a statement.
IMPERATIVE_OPENERS = [
    "",
    "",
    "Can you ",
    "Could you ",
    "Please ",
    "I need you to ",
    "Help me ",
    "I'd like you to ",
    "Hey, can you ",
    "Would you ",
    "Quick one: ",
    "For a project, ",
]
QUESTION_OPENERS = [
    "",
    "",
    "",
    "Quick question: ",
    "I was wondering, ",
    "Hi! ",
    "Honest question: ",
    "Sorry to bother you, ",
]
CHAT_OPENERS = ["", "", "", "Hey! ", "Hello, ", "Hmm, ", "Honestly, ", "So, ", "Haha, ", "Ugh, ", "Oh, "]
CHAT_CLOSERS = ["", "", ".", "!", " :)", " haha", " lol", "...", " by the way."]
IMPERATIVE_VERBS = (
    "write",
    "implement",
    "explain",
    "make",
    "plan",
    "translate",
    "summarize",
    "analyze",
    "calculate",
    "find",
    "build",
    "segment",
    "compare",
    "compute",
    "run",
    "forecast",
    "identify",
    "clean",
    "create",
    "plot",
    "detect",
    "estimate",
    "group",
    "solve",
    "evaluate",
    "prove",
    "reason",
    "deduce",
    "give",
    "condense",
    "extract",
    "shorten",
    "recap",
    "render",
    "convert",
    "localize",
    "break",
    "outline",
    "schedule",
    "organize",
    "draft",
    "tell",
    "define",
    "compose",
    "invent",
    "generate",
    "let's",
)

# (core, intrinsic difficulty 0..2). {t}=topic, {l}=programming language, {h}=human language, {d}=dataset.
CORES: dict[str, list[tuple[str, int]]] = {
    "question_answering": [
        ("what is {t}?", 0),
        ("who discovered the key ideas behind {t}?", 0),
        ("when did {t} first become important?", 0),
        ("explain how {t} works", 1),
        ("what are the main causes of {t}?", 1),
        ("why does {t} matter today?", 1),
        ("what is the difference between {t} and {t2}?", 1),
        ("tell me three facts about {t}", 0),
        ("what does the term {t} mean?", 0),
        ("how is {t} measured?", 1),
        ("where can I learn the basics of {t}?", 0),
        ("what are the open research questions about {t}?", 2),
        ("what is the current scientific consensus on {t}?", 2),
        ("how did our understanding of {t} change over the last century?", 2),
        ("is it true that {t} affects {t2}?", 1),
        ("define {t} in one sentence", 0),
        ("what are common misconceptions about {t}?", 1),
        ("which countries are most associated with {t}?", 0),
        ("how big of an effect does {t} have on {t2}?", 2),
    ],
    "creative_writing": [
        ("write a short poem about {t}", 0),
        ("write a haiku about {t}", 0),
        ("write a bedtime story involving {t}", 1),
        ("write a science fiction story where {t} changes the world", 2),
        ("compose song lyrics about {t}", 1),
        ("write a limerick about {t}", 0),
        ("write a dialogue between two characters arguing about {t}", 1),
        ("write the opening chapter of a mystery novel set around {t}", 2),
        ("write a funny tweet about {t}", 0),
        ("write a sonnet that uses {t} as a metaphor for love", 2),
        ("invent a myth that explains {t}", 1),
        ("write a screenplay scene about {t}", 2),
        ("write a children's rhyme about {t}", 0),
        ("write a short horror story inspired by {t}", 1),
        ("write a persuasive speech celebrating {t}", 1),
        ("write a diary entry from someone experiencing {t}", 1),
        ("write a fable with a moral about {t}", 1),
        ("create a fictional world whose economy is built on {t}", 2),
        ("write a free verse poem about {t} and {t2}", 1),
    ],
    "code_generation": [
        ("write a {l} function that reverses a string", 0),
        ("write a {l} function to check if a number is prime", 0),
        ("implement a binary search in {l}", 1),
        ("write a {l} script that renames all files in a folder", 1),
        ("implement an LRU cache in {l}", 2),
        ("write a REST API endpoint in {l} that returns a list of users", 1),
        ("write a {l} class for a bank account with deposit and withdraw methods", 1),
        ("implement Dijkstra's shortest path algorithm in {l}", 2),
        ("write a {l} function that parses a CSV file", 1),
        ("write a unit test in {l} for a function that adds two numbers", 0),
        ("write a thread-safe queue in {l}", 2),
        ("write a {l} program that prints FizzBuzz", 0),
        ("implement a rate limiter in {l} using a token bucket", 2),
        ("write a {l} function to merge two sorted lists", 1),
        ("generate {l} code that reads JSON from a file and validates its fields", 1),
        ("write a {l} CLI tool that downloads a web page and counts its words", 1),
        ("implement a trie with insert and prefix search in {l}", 2),
        ("write a regex in {l} that matches email addresses", 0),
        ("write a {l} decorator or wrapper that retries a failing call with exponential backoff", 2),
    ],
    "data_analysis": [
        ("analyze these {d} and tell me the trend", 1),
        ("calculate the average and median of the {d}", 0),
        ("find outliers in the {d}", 1),
        ("build a regression model to predict {d}", 2),
        ("what chart should I use to show {d}?", 0),
        ("segment the {d} into clusters and describe each group", 2),
        ("compare the {d} between this year and last year", 1),
        ("compute the correlation between the {d} and the season", 1),
        ("run a significance test on the {d}", 2),
        ("summarize the key statistics of the {d} in a table", 0),
        ("forecast the next quarter from the {d}", 2),
        ("identify which factors drive the {d}", 2),
        ("clean the {d} and handle the missing values", 1),
        ("create a pivot table of the {d} by region", 1),
        ("plot a histogram of the {d}", 0),
        ("detect seasonality in the {d}", 2),
        ("estimate the confidence interval for the mean of the {d}", 2),
        ("group the {d} by month and count them", 0),
    ],
    "reasoning": [
        ("if all bloops are razzies and all razzies are lazzies, are all bloops lazzies?", 0),
        ("a bat and a ball cost $1.10 in total and the bat costs $1 more than the ball; how much is the ball?", 1),
        ("is the argument that {t} causes {t2} logically valid? walk through it", 2),
        ("what can we conclude if every claim about {t} in this paragraph is true?", 1),
        ("solve this riddle: what has keys but cannot open locks?", 0),
        ("three friends each tell one lie and one truth about who ate the cake; who did it?", 2),
        ("what is the next number in the sequence 2, 6, 12, 20, 30?", 1),
        ("evaluate the pros and cons of {t} and decide which side is stronger", 2),
        ("if it takes 5 machines 5 minutes to make 5 widgets, how long do 100 machines take to make 100 widgets?", 1),
        ("identify the logical fallacy in the claim that {t} is good because it is popular", 1),
        ("prove that the square root of 2 is irrational", 2),
        ("which is heavier, a kilo of feathers or a kilo of steel?", 0),
        ("reason step by step about whether {t} will matter more in ten years", 2),
        ("deduce the order of five runners from these clues", 2),
        ("explain why correlation does not imply causation using {t}", 1),
        ("is this statement a contradiction: this sentence is false?", 1),
        ("what assumptions does an argument about {t} rely on?", 2),
    ],
    "summarization": [
        ("summarize this article about {t}", 0),
        ("give me a tl;dr of this report on {t}", 0),
        ("condense this research paper on {t} into five bullet points", 1),
        ("summarize the meeting notes below", 0),
        ("write an executive summary of this document about {t}", 1),
        ("summarize this book chapter about {t} in one paragraph", 1),
        ("extract the key findings from this study on {t}", 1),
        ("summarize this long email thread for me", 0),
        ("create an abstract for this paper about {t}", 2),
        ("summarize the arguments on both sides of the debate about {t}", 2),
        ("shorten this text about {t} to under 100 words", 0),
        ("give me the main takeaways of this podcast transcript on {t}", 1),
        ("summarize these customer reviews", 0),
        ("write a one-line summary of this news story about {t}", 0),
        ("summarize these three papers on {t} and note where they disagree", 2),
        ("recap this lecture on {t} for a student", 1),
    ],
    "translation": [
        ("translate 'good morning, how are you?' into {h}", 0),
        ("translate this paragraph about {t} into {h}", 1),
        ("how do you say 'where is the train station' in {h}?", 0),
        ("translate this legal contract into {h}", 2),
        ("translate this menu into {h}", 0),
        ("translate this poem into {h} while keeping the rhyme", 2),
        ("what is the {h} word for {t}?", 0),
        ("translate this technical manual section on {t} into {h}", 2),
        ("render this email into formal {h}", 1),
        ("translate these subtitles into {h}", 1),
        ("convert this text from English to {h}", 0),
        ("translate this idiom into {h} with an equivalent expression", 1),
        ("translate my cover letter into {h}", 1),
        ("translate this product description into {h} and {h2}", 1),
        ("localize this marketing slogan about {t} for {h} speakers", 2),
        ("translate the sentence 'I love {t}' into {h}", 0),
    ],
    "conversation": [
        ("hi, how are you today?", 0),
        ("good morning! what's up?", 0),
        ("I just wanted to chat for a bit", 0),
        ("do you like {t}?", 0),
        ("I'm feeling a bit bored, talk to me", 0),
        ("tell me about your day", 0),
        ("what's your favourite thing about {t}?", 0),
        ("thanks, that was really helpful!", 0),
        ("I had a rough day at work and need to vent", 1),
        ("let's just talk about {t} casually", 0),
        ("what do you think about {t}? just curious", 0),
        ("can we have a friendly chat about movies?", 0),
        ("I'm nervous about my exam tomorrow", 1),
        ("hello there, nice to meet you", 0),
        ("ha, that's funny. tell me another one", 0),
        ("I'm lonely tonight, can you keep me company?", 1),
        ("what's new with you?", 0),
        ("good night, talk tomorrow", 0),
    ],
    "task_planning": [
        ("make a study plan for learning {t}", 1),
        ("plan a three-day trip to Lisbon", 1),
        ("create a weekly meal plan", 0),
        ("break down the steps to launch a podcast about {t}", 1),
        ("create a project plan for migrating our database", 2),
        ("make a to-do list for moving house", 0),
        ("plan a wedding on a small budget", 2),
        ("create a roadmap for building a startup around {t}", 2),
        ("schedule my week so I can exercise every day", 0),
        ("plan a birthday party for a ten-year-old", 0),
        ("outline the milestones for writing a thesis on {t}", 2),
        ("make a checklist for preparing a job interview", 0),
        ("plan a marathon training schedule for the next 16 weeks", 1),
        ("organize a team offsite for 30 people", 1),
        ("plan the rollout of a new software release across three regions", 2),
        ("create a daily routine to improve my sleep", 0),
        ("draft a 90-day onboarding plan for a new engineer", 2),
    ],
    "problem_solving": [
        ("my laptop is running slowly, how can I fix it?", 0),
        ("my code throws a null pointer exception, how do I debug it?", 1),
        ("how can I reduce my monthly expenses?", 0),
        ("our website's conversion rate dropped; what could be the cause?", 2),
        ("my sourdough never rises, what am I doing wrong?", 0),
        ("how do I resolve a conflict between two team members?", 1),
        ("my Wi-Fi keeps disconnecting, what should I try?", 0),
        ("our API latency doubled after a deploy; how do we find the cause?", 2),
        ("how can I stop procrastinating?", 0),
        ("my plants' leaves are turning yellow, how do I save them?", 0),
        ("we are over budget on a project; how do we get back on track?", 2),
        ("my car makes a grinding noise when braking, what is it?", 1),
        ("how do I fix a merge conflict in git?", 1),
        ("customers complain about slow support replies; how can we improve?", 1),
        ("our database deadlocks under load; how do we diagnose and fix it?", 2),
        ("how do I get rid of mold in my bathroom?", 0),
        ("my team keeps missing deadlines; how do we fix our process?", 2),
        ("my phone battery drains fast, how can I fix it?", 0),
    ],
}

CONSTRAINTS: dict[str, list[str]] = {
    "question_answering": [
        "cite sources",
        "keep it under 100 words",
        "explain it like I'm five",
        "include historical context",
        "compare it with {t2}",
        "use precise technical terminology",
    ],
    "creative_writing": [
        "in the style of Edgar Allan Poe",
        "with a twist ending",
        "under 200 words",
        "in iambic pentameter",
        "from the point of view of a cat",
        "that includes the word 'lantern'",
        "with a hopeful tone",
    ],
    "code_generation": [
        "with type hints",
        "with unit tests",
        "handling all edge cases",
        "optimized for O(n log n) time",
        "without external libraries",
        "with docstrings and comments",
        "that is safe for concurrent use",
    ],
    "data_analysis": [
        "and visualize the results",
        "using pandas",
        "and explain the methodology",
        "accounting for seasonality",
        "and report confidence intervals",
        "for each region separately",
        "and flag anomalies",
    ],
    "reasoning": [
        "show every step",
        "state your assumptions",
        "consider counterarguments",
        "give a formal proof",
        "answer in one sentence",
        "explain where intuition goes wrong",
    ],
    "summarization": [
        "in three bullet points",
        "for a non-technical audience",
        "keeping all the numbers",
        "in under 50 words",
        "highlighting action items",
        "with a neutral tone",
    ],
    "translation": [
        "keeping a formal register",
        "preserving the formatting",
        "and explain any idioms",
        "adapting cultural references",
        "with a word-by-word gloss",
    ],
    "conversation": ["", "no need for advice", "just keep it light"],
    "task_planning": [
        "with deadlines",
        "within a budget of $500",
        "with dependencies between tasks",
        "as a Gantt-style timeline",
        "including risks and mitigations",
        "for a team of five",
        "broken into daily steps",
    ],
    "problem_solving": [
        "step by step",
        "listing the most likely causes first",
        "with a root cause analysis",
        "considering cost",
        "without buying new hardware",
        "and how to prevent it next time",
    ],
}
AUDIENCES = [
    "for a beginner",
    "for an expert audience",
    "for my manager",
    "for a high school class",
    "for a research team",
]


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
