"""``make bench``'s mixed-traffic step: single requests beside the largest batch.

What an interactive client of an environment meets while a mail server posts a full ``batch-predict`` to it:
the gateway's largest accepted batch, the longest SpamAssassin e-mails with text (parsed, sent as
``email_content`` so the gateway's parse of raw mail is not in it), goes to staging while single requests
follow one another to the same environment until it answers. Reported: the singles alone first, then per
batch how long it took, how many singles were answered meanwhile and their latency. Before 2026-12-07 a batch
stalled its environment's transformer while it was prepared and the model server for all of its passes
(docs/benchmarks.md, "Other requests while a large batch runs").
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass

import httpx
import numpy as np

from api_gateway.core.config import GatewaySettings
from ml_common.mail_corpus import raw_messages, tarball
from serving_common.email_message import parse_email

ENVIRONMENT = "staging"
SPAM_MODEL = "spam-detector"


@dataclass(frozen=True)
class Latencies:
    count: int
    p50_ms: float
    p90_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: list[float]) -> Latencies:
        ms = np.array(seconds) * 1000 if seconds else np.zeros(1)
        return cls(
            len(seconds),
            round(float(np.percentile(ms, 50)), 1),
            round(float(np.percentile(ms, 90)), 1),
            round(float(ms.max()), 1),
        )


@dataclass(frozen=True)
class BatchRound:
    status: int
    batch_ms: float
    singles: Latencies


def largest_batch(max_length: int) -> list[dict[str, str | None]]:
    """The gateway's largest accepted batch of real e-mails for a model of ``max_length`` tokens (its e-mail and
    token limits): the longest SpamAssassin messages with text."""
    settings = GatewaySettings()
    limit = min(settings.max_batch_size, settings.max_batch_tokens // max_length)
    emails: list[dict[str, str | None]] = []
    for raw in sorted((raw for _, _, raw in raw_messages(tarball())), key=len, reverse=True):
        parsed = parse_email(raw)
        if parsed.body.strip():
            emails.append({"email_content": parsed.body, "subject": parsed.subject})
        if len(emails) == limit:
            break
    return emails


def mixed_traffic(gateway_url: str, emails: list[dict[str, str | None]], rounds: int) -> dict:
    """Singles alone, then ``rounds`` batches of ``emails`` each with singles beside it, all to staging."""
    headers = {"X-Environment": ENVIRONMENT}
    with httpx.Client(base_url=gateway_url, timeout=120, headers=headers) as client:
        sent = 0

        def single() -> float:
            nonlocal sent
            sent += 1  # a new text every time: no cache anywhere can answer
            started = time.perf_counter()
            response = client.post("/api/v1/predict", json={"email_content": f"Lunch on Friday at {sent}?"})
            response.raise_for_status()
            return time.perf_counter() - started

        _wait_for_spam_model(client)
        for _ in range(20):
            single()
        alone = Latencies.of([single() for _ in range(100)])
        measured: list[BatchRound] = []
        for _ in range(rounds):
            answer: dict[str, float] = {}
            poster = threading.Thread(
                target=_post_batch, args=(gateway_url, emails, headers, answer), name="largest-batch"
            )
            poster.start()
            beside = []
            while poster.is_alive():
                beside.append(single())
            poster.join()
            measured.append(BatchRound(int(answer["status"]), round(answer["seconds"] * 1000, 1), Latencies.of(beside)))
    return {
        "emails": len(emails),
        "singles_alone": asdict(alone),
        "rounds": [asdict(r) for r in measured],
    }


def _post_batch(gateway_url: str, emails: list[dict[str, str | None]], headers: dict, answer: dict) -> None:
    """The batch's status and time into ``answer``; status 0 when no answer came (the report shows it)."""
    started = time.perf_counter()
    try:
        url = f"{gateway_url}/api/v1/batch-predict"
        status = httpx.post(url, json={"emails": emails}, headers=headers, timeout=120).status_code
    except httpx.HTTPError:
        status = 0
    answer.update(status=status, seconds=time.perf_counter() - started)


def _wait_for_spam_model(client: httpx.Client, timeout: float = 60.0) -> None:
    """Until the gateway has seen the spam model ready in both environments (its max length read from its
    metadata, which the gateway's token limit counts with)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        environments = client.get("/ready").json().get("environments", {})
        if environments and all(e["models"].get(SPAM_MODEL, {}).get("ready") for e in environments.values()):
            return
        time.sleep(0.2)
    raise TimeoutError(f"the gateway did not see {SPAM_MODEL} ready within {timeout:.0f} s")


def mixed_lines(result: dict) -> str:
    """The step's markdown: one row for the singles alone, one per batch."""
    alone = result["singles_alone"]
    lines = [
        f"\nSingles beside the largest batch ({result['emails']} e-mails to {ENVIRONMENT}, "
        "singles one after another to the same environment):\n",
        "| round | the batch (status, ms) | singles answered | p50 / p90 / max ms |",
        "|---|---|---|---|",
        f"| singles alone | - | {alone['count']} | {alone['p50_ms']} / {alone['p90_ms']} / {alone['max_ms']} |",
    ]
    for n, r in enumerate(result["rounds"], start=1):
        s = r["singles"]
        lines.append(
            f"| batch {n} | {r['status']}, {r['batch_ms']} | {s['count']} | {s['p50_ms']} / {s['p90_ms']} / "
            f"{s['max_ms']} |"
        )
    return "\n".join(lines) + "\n"
