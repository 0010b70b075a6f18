"""What the mail-filter suites (test_rspamd.py, test_spamassassin.py) share: the messages they check, the gateway's own
verdict on a raw message, and a user's move piped to textserve_learn.py (the gateways that never answer or answer a
byte at a time are fixtures in conftest.py)."""

from __future__ import annotations

import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import httpx

LEARN_SCRIPT = Path(__file__).resolve().parents[2] / "integrations" / "textserve_learn.py"


def message(subject: str, body: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Sender <sender@example.com>"
    mail["To"] = "you@example.org"
    mail["Subject"] = subject
    mail["Date"] = "Mon, 06 Jan 2025 08:30:00 +0000"
    mail["Message-ID"] = "<1@example.com>"
    mail.set_content(body)
    return mail.as_bytes()


SPAM = message(
    "You have been selected",
    "WINNER!! As a valued customer you have been selected to receive a $900 prize. Call 09061701461 now to claim, "
    "or reply with your bank details. Offer ends today.",
)
HAM = message(
    "Minutes of Tuesday's meeting",
    "Hello team,\n\nthe minutes of Tuesday's meeting are attached. Please review the action items before Friday "
    "and let me know if anything is missing.\n\nThanks,\nAnna",
)


def direct(api: httpx.Client, raw: bytes) -> dict:
    """The gateway's verdict on the raw message in production, as the filters ask for it."""
    answer = api.post(
        "/api/v1/predict", content=raw, headers={"content-type": "message/rfc822", "X-Environment": "production"}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def learn(gateway_url: str, label: str, delivered: bytes) -> subprocess.CompletedProcess[bytes]:
    """``textserve_learn.py LABEL`` with the delivered message on its standard input, as Dovecot pipes it."""
    command = [sys.executable, str(LEARN_SCRIPT), label, "--url", gateway_url]
    return subprocess.run(command, input=delivered, capture_output=True, timeout=60, check=False)
