"""SpamAssassin, as a mail platform runs it (Debian's spamd and spamc, the distribution's rules and site
configuration), with textserve's plugin (``integrations/spamassassin``): each message spamd checks goes raw to the
gateway, once, and the verdict decides which TEXTSERVE_ rule hits, with the model's probability, version and request
id in X-Spam-TextServe; without a verdict, mail keeps flowing on SpamAssassin's other rules."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path

import pytest

from devstack.process import free_port
from devstack.spamassassin import Spamd
from tests.e2e.mail_filters import HAM, SPAM, direct, learn, message

pytestmark = pytest.mark.e2e

MAX_SIZE = 50_000
RULES = ("TEXTSERVE_SPAM_99", "TEXTSERVE_SPAM", "TEXTSERVE_HAM", "TEXTSERVE_FAIL")


def _headers(checked: bytes) -> dict[str, str]:
    """SpamAssassin's headers of the message spamd returned (the outer message when it wrapped a spam one)."""
    parsed = BytesHeaderParser(policy=default).parsebytes(checked)
    return {name: " ".join(str(parsed[name] or "").split()) for name in ("X-Spam-Status", "X-Spam-TextServe")}


def _textserve_rules(headers: dict[str, str]) -> list[str]:
    # X-Spam-Status: Yes, score=6.2 required=5.0 tests=MISSING_DATE,[folded]TEXTSERVE_SPAM_99 autolearn=no ...
    tests = re.search(r"tests=(.*?) (?:autolearn|version)=", headers["X-Spam-Status"])
    assert tests is not None, headers
    return [rule for rule in tests.group(1).replace(" ", "").split(",") if rule in RULES]


def _fields(header: str) -> dict[str, str]:
    """``spam p=0.9988 version=v2-... request_id=...`` as {"verdict": "spam", "p": ..., ...}."""
    verdict, *fields = header.split()
    return {"verdict": verdict, **dict(field.split("=", 1) for field in fields)}


def _production_predictions(api) -> float:
    text = api.get("/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("gateway_requests_total{") and 'endpoint="predict"' in line and "production" in line
    )


@pytest.fixture(scope="module")
def servers(stack, silent_gateway, dripping_gateway, flooding_gateway):
    """Five spamd instances: on the platform's gateway, on a gateway that never answers, on one that answers a byte
    at a time, on one that answers 64 MiB, on a port where nothing listens. In directories of their own under /tmp:
    run as root, spamd checks mail as nobody, who must be able to read them."""
    work = Path(tempfile.mkdtemp(prefix="textserve-spamd-"))
    work.chmod(0o755)
    refused_port = free_port()
    started = {
        "spamd": Spamd(stack.gateway_url, work / "spamd", max_size=MAX_SIZE),
        "silent": Spamd(silent_gateway, work / "silent", timeout=1),
        "dripping": Spamd(dripping_gateway, work / "dripping", timeout=1),
        "flooding": Spamd(flooding_gateway, work / "flooding"),
        "refused": Spamd(f"http://127.0.0.1:{refused_port}", work / "refused"),
    }
    try:
        for server in started.values():
            server.start()
        yield {**started, "refused_port": refused_port}
    finally:
        for server in started.values():
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def spamd(servers):
    return servers["spamd"]


def _expected_rule(verdict: dict) -> str:
    if verdict["prediction"] == "ham":
        return "TEXTSERVE_HAM"
    return "TEXTSERVE_SPAM_99" if verdict["spam_probability"] >= 0.99 else "TEXTSERVE_SPAM"


def test_starting_spamd_sends_nothing(stack, api):
    """spamd checks a made-up message as it starts (to compile its rules): not mail, so not a prediction."""
    work = Path(tempfile.mkdtemp(prefix="textserve-spamd-start-"))
    work.chmod(0o755)
    before = _production_predictions(api)
    try:
        with Spamd(stack.gateway_url, work / "spamd") as started:
            log = started.process.log_text()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert "server started" in log
    assert _production_predictions(api) == before
    assert "textserve" not in log


@pytest.mark.parametrize("message", [SPAM, HAM], ids=["spam", "ham"])
def test_one_request_per_message_and_the_rule_of_the_gateways_verdict_with_its_probability_and_version(
    spamd, api, message
):
    before = _production_predictions(api)
    headers = _headers(spamd.check(message))
    assert _production_predictions(api) - before == 1  # four rules ask; the message is sent once
    verdict = direct(api, message)  # the same message straight to the gateway: the same model, the same number
    assert _textserve_rules(headers) == [_expected_rule(verdict)]
    fields = _fields(headers["X-Spam-TextServe"])
    assert fields["verdict"] == verdict["prediction"]
    assert float(fields["p"]) == pytest.approx(verdict["spam_probability"], abs=1e-4)
    assert fields["version"] == verdict["model_version"]
    assert re.fullmatch(r"[0-9a-f]{32}", fields["request_id"])


def test_moving_a_checked_message_sends_its_label_by_the_request_id_spamassassin_added(spamd, stack):
    """What Dovecot's IMAPSieve pipes a moved message to: the delivered message as spamd returned it."""
    forged = b"X-Spam-TextServe: ham p=0.0001 version=v0 request_id=" + b"0" * 32 + b"\r\n" + SPAM
    delivered = spamd.check(forged)
    fields = _fields(_headers(delivered)["X-Spam-TextServe"])
    assert fields["request_id"] != "0" * 32  # the sender's own header is not the one read
    learned = learn(stack.gateway_url, "ham", delivered)
    assert learned.returncode == 0, learned.stderr
    taken = json.loads(learned.stdout)
    assert taken["request_id"] == fields["request_id"]
    assert taken["matched"] is True and taken["predicted"] == fields["verdict"]
    assert taken["environment"] == "production"


def test_a_message_textserve_refuses_is_textserve_fail_and_spamassassin_still_decides(spamd):
    attachment_only = MIMEMultipart()
    attachment_only["From"] = "sender@example.com"
    attachment_only.attach(MIMEApplication(b"%PDF-1.4 not text", "pdf", Name="scan.pdf"))
    headers = _headers(spamd.check(attachment_only.as_bytes()))
    assert _textserve_rules(headers) == ["TEXTSERVE_FAIL"]
    assert headers["X-Spam-TextServe"] == "fail HTTP 422 malformed_email"
    assert re.match(r"(Yes|No), score=", headers["X-Spam-Status"])  # decided on its other rules
    assert "textserve: no verdict: HTTP 422 malformed_email" in spamd.process.log_text()


def test_a_message_over_max_size_is_not_sent(spamd, api):
    large = message("Quarterly figures", "The figures for the quarter are below.\n" + "Revenue line 42.\n" * 4_000)
    assert len(large) > MAX_SIZE
    assert direct(api, large)["prediction"]  # the gateway itself would take it
    before = _production_predictions(api)
    headers = _headers(spamd.check(large))
    assert _production_predictions(api) == before
    assert _textserve_rules(headers) == []
    assert headers["X-Spam-TextServe"] == "none over textserve_max_size"


def test_a_gateway_that_does_not_answer_in_time_is_textserve_fail(servers):
    headers = _headers(servers["silent"].check(HAM))
    assert _textserve_rules(headers) == ["TEXTSERVE_FAIL"]
    assert headers["X-Spam-TextServe"].startswith("fail Timed out")
    assert re.match(r"(Yes|No), score=", headers["X-Spam-Status"])


def test_a_gateway_that_answers_a_byte_at_a_time_is_cut_off_at_the_timeout(servers):
    """textserve_timeout bounds the whole call, not each wait on the socket (HTTP::Tiny's own timeout alone would
    keep reading the drip until spamd's 300-s limit for the message)."""
    started = time.monotonic()
    headers = _headers(servers["dripping"].check(HAM, timeout=30))
    assert time.monotonic() - started < 15
    assert _textserve_rules(headers) == ["TEXTSERVE_FAIL"]
    assert headers["X-Spam-TextServe"] == "fail Timed out after 1 s (textserve_timeout)"
    assert re.match(r"(Yes|No), score=", headers["X-Spam-Status"])
    # The next message opens a new connection rather than reading the rest of the half-read answer.
    assert _headers(servers["dripping"].check(SPAM, timeout=30))["X-Spam-TextServe"].startswith("fail Timed out")


def test_an_answer_larger_than_any_verdict_is_refused_not_held(servers):
    headers = _headers(servers["flooding"].check(HAM, timeout=30))
    assert _textserve_rules(headers) == ["TEXTSERVE_FAIL"]
    assert headers["X-Spam-TextServe"] == "fail Size of response body exceeds the maximum allowed of 65536"


def test_a_gateway_that_refuses_connections_is_textserve_fail_naming_why(servers):
    headers = _headers(servers["refused"].check(HAM))
    assert _textserve_rules(headers) == ["TEXTSERVE_FAIL"]
    assert headers["X-Spam-TextServe"].startswith(f"fail Could not connect to '127.0.0.1:{servers['refused_port']}'")
