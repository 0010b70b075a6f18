"""Rspamd, as a mail platform runs it (Debian's package, its own configuration), with textserve's module
(``integrations/rspamd``): each message Rspamd checks goes raw to the gateway, and the verdict becomes a symbol
carrying the model's probability, version and request id; without a verdict, mail keeps flowing on Rspamd's
other rules."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart

import httpx
import pytest

from devstack.rspamd import INTEGRATION, Rspamd

pytestmark = pytest.mark.e2e

MAX_SIZE = 50_000
SYMBOLS = ("TEXTSERVE_SPAM", "TEXTSERVE_HAM", "TEXTSERVE_FAIL")


def _message(subject: str, body: str) -> bytes:
    message = EmailMessage()
    message["From"] = "Sender <sender@example.com>"
    message["To"] = "you@example.org"
    message["Subject"] = subject
    message["Message-ID"] = "<1@example.com>"
    message.set_content(body)
    return message.as_bytes()


SPAM = _message(
    "You have been selected",
    "WINNER!! As a valued customer you have been selected to receive a $900 prize. Call 09061701461 now to claim, "
    "or reply with your bank details. Offer ends today.",
)
HAM = _message(
    "Minutes of Tuesday's meeting",
    "Hello team,\n\nthe minutes of Tuesday's meeting are attached. Please review the action items before Friday "
    "and let me know if anything is missing.\n\nThanks,\nAnna",
)


def _check(rspamd: Rspamd, message: bytes) -> dict:
    answer = httpx.post(f"{rspamd.url}/checkv2", content=message, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _textserve(result: dict) -> dict[str, dict]:
    return {name: symbol for name, symbol in result["symbols"].items() if name in SYMBOLS}


def _options(symbol: dict) -> dict[str, str]:
    return dict(option.split("=", 1) for option in symbol["options"])


@pytest.fixture(scope="module")
def silent_gateway():
    """A port that accepts connections and never answers."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        yield f"http://127.0.0.1:{silent.getsockname()[1]}"


@pytest.fixture(scope="module")
def servers(stack, silent_gateway, tmp_path_factory):
    """Two Rspamd instances, started side by side (each spends some 15 s compiling its URL matcher): one on the
    platform's gateway, one on a gateway that never answers."""
    started = {
        "rspamd": Rspamd(stack.gateway_url, tmp_path_factory.mktemp("rspamd"), max_size=MAX_SIZE),
        "silent": Rspamd(silent_gateway, tmp_path_factory.mktemp("rspamd-silent"), timeout=1.0),
    }
    for server in started.values():
        server.process.start()
    try:
        for server in started.values():
            server.process.wait_ready(90)
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture(scope="module")
def rspamd(servers):
    return servers["rspamd"]


def _direct(api, message: bytes) -> dict:
    answer = api.post(
        "/api/v1/predict", content=message, headers={"content-type": "message/rfc822", "X-Environment": "production"}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_spam_is_textserve_spam_scored_by_its_probability_and_its_request_id_takes_feedback(rspamd, api):
    symbols = _textserve(_check(rspamd, SPAM))
    assert list(symbols) == ["TEXTSERVE_SPAM"]
    verdict = _direct(api, SPAM)  # the same message straight to the gateway: the same model, the same number
    assert verdict["prediction"] == "spam"
    options = _options(symbols["TEXTSERVE_SPAM"])
    assert float(options["p"]) == pytest.approx(verdict["spam_probability"], abs=1e-4)
    assert symbols["TEXTSERVE_SPAM"]["score"] == pytest.approx(5.0 * verdict["spam_probability"], abs=1e-3)
    assert options["version"] == verdict["model_version"]
    # The request id is the prediction's own in production: a user's "not spam" reaches the model's feedback.
    feedback = api.post(
        "/api/v1/feedback",
        json={"request_id": options["request_id"], "label": "ham"},
        headers={"X-Environment": "production"},
    )
    assert feedback.status_code == 200, feedback.text
    assert feedback.json()["matched"] is True and feedback.json()["predicted"] == "spam"


def _learn(stack, label: str, message: bytes) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, str(INTEGRATION.parent / "textserve_learn.py"), label, "--url", stack.gateway_url]
    return subprocess.run(command, input=message, capture_output=True, timeout=60, check=False)


def test_moving_a_message_out_of_junk_sends_its_label_by_the_request_id_rspamd_added(rspamd, stack):
    """What Dovecot's IMAPSieve pipes a moved message to: the delivered message carries Rspamd's X-Spamd-Result
    (milter_headers, extended_spam_headers), and the label reaches the prediction by its request id."""
    answer = _check(rspamd, SPAM)
    added = answer["milter"]["add_headers"]["X-Spamd-Result"]["value"]
    assert answer["milter"]["remove_headers"]["X-Spamd-Result"] == 0  # a sender's own header is removed, all of them
    delivered = f"X-Spamd-Result: {added}\r\n".encode() + SPAM
    learned = _learn(stack, "ham", delivered)
    assert learned.returncode == 0, learned.stderr
    taken = json.loads(learned.stdout)
    assert taken["request_id"] == _options(answer["symbols"]["TEXTSERVE_SPAM"])["request_id"]
    assert taken["matched"] is True and taken["predicted"] == "spam" and taken["environment"] == "production"
    # A message textserve never answered (no textserve symbol in its header, or no header): nothing is sent.
    unscanned = _learn(stack, "spam", SPAM)
    assert unscanned.returncode == 1 and unscanned.stdout == b""


def test_ham_is_textserve_ham_with_a_negative_score(rspamd, api):
    symbols = _textserve(_check(rspamd, HAM))
    assert list(symbols) == ["TEXTSERVE_HAM"]
    verdict = _direct(api, HAM)
    assert verdict["prediction"] == "ham"
    assert symbols["TEXTSERVE_HAM"]["score"] == pytest.approx(-2.0 * (1 - verdict["spam_probability"]), abs=1e-3)


def test_a_message_textserve_refuses_is_textserve_fail_and_still_gets_an_action(rspamd):
    attachment_only = MIMEMultipart()
    attachment_only["From"] = "sender@example.com"
    attachment_only.attach(MIMEApplication(b"%PDF-1.4 not text", "pdf", Name="scan.pdf"))
    result = _check(rspamd, attachment_only.as_bytes())
    symbols = _textserve(result)
    assert list(symbols) == ["TEXTSERVE_FAIL"]
    assert symbols["TEXTSERVE_FAIL"]["score"] == 0.0
    assert symbols["TEXTSERVE_FAIL"]["options"] == ["HTTP 422 malformed_email"]
    assert result["action"]  # Rspamd decided on its other rules


def test_a_message_over_max_size_is_not_sent(rspamd, api):
    large = _message("Quarterly figures", "The figures for the quarter are below.\n" + "Revenue line 42.\n" * 4_000)
    assert len(large) > MAX_SIZE
    assert _direct(api, large)["prediction"]  # the gateway itself would take it
    assert _textserve(_check(rspamd, large)) == {}


def test_a_gateway_that_does_not_answer_in_time_is_textserve_fail(servers):
    result = _check(servers["silent"], HAM)
    assert _textserve(result) == {"TEXTSERVE_FAIL": result["symbols"]["TEXTSERVE_FAIL"]}
    assert result["symbols"]["TEXTSERVE_FAIL"]["options"] == ["IO timeout"]
    assert result["action"]
