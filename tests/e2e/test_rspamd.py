"""Rspamd, as a mail platform runs it (Debian's package, its own configuration), with textserve's module
(``integrations/rspamd``): each message Rspamd checks goes raw to the gateway, and the verdict becomes a symbol
carrying the model's probability, version and request id; without a verdict, mail keeps flowing on Rspamd's
other rules."""

from __future__ import annotations

import json
import time
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart

import httpx
import pytest

from devstack.rspamd import Rspamd
from tests.e2e.mail_filters import HAM, SPAM, direct, learn, message

pytestmark = pytest.mark.e2e

MAX_SIZE = 50_000
SYMBOLS = ("TEXTSERVE_SPAM", "TEXTSERVE_HAM", "TEXTSERVE_FAIL")


def _check(rspamd: Rspamd, message: bytes) -> dict:
    answer = httpx.post(f"{rspamd.url}/checkv2", content=message, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _textserve(result: dict) -> dict[str, dict]:
    return {name: symbol for name, symbol in result["symbols"].items() if name in SYMBOLS}


def _options(symbol: dict) -> dict[str, str]:
    return dict(option.split("=", 1) for option in symbol["options"])


@pytest.fixture(scope="module")
def servers(stack, silent_gateway, dripping_gateway, flooding_gateway, tmp_path_factory):
    """Four Rspamd instances, started side by side (each spends some 15 s compiling its URL matcher): one on the
    platform's gateway, one on a gateway that never answers, one on a gateway that answers a byte at a time, one on a
    gateway that answers 64 MiB."""
    started = {
        "rspamd": Rspamd(stack.gateway_url, tmp_path_factory.mktemp("rspamd"), max_size=MAX_SIZE),
        "silent": Rspamd(silent_gateway, tmp_path_factory.mktemp("rspamd-silent"), timeout=1.0),
        "dripping": Rspamd(dripping_gateway, tmp_path_factory.mktemp("rspamd-dripping"), timeout=1.0),
        "flooding": Rspamd(flooding_gateway, tmp_path_factory.mktemp("rspamd-flooding")),
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


def test_spam_is_textserve_spam_scored_by_its_probability_and_its_request_id_takes_feedback(rspamd, api):
    symbols = _textserve(_check(rspamd, SPAM))
    assert list(symbols) == ["TEXTSERVE_SPAM"]
    verdict = direct(api, SPAM)  # the same message straight to the gateway: the same model, the same number
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


def test_moving_a_message_out_of_junk_sends_its_label_by_the_request_id_rspamd_added(rspamd, stack):
    """What Dovecot's IMAPSieve pipes a moved message to: the delivered message carries Rspamd's X-Spamd-Result
    (milter_headers, extended_spam_headers), and the label reaches the prediction by its request id."""
    answer = _check(rspamd, SPAM)
    added = answer["milter"]["add_headers"]["X-Spamd-Result"]["value"]
    assert answer["milter"]["remove_headers"]["X-Spamd-Result"] == 0  # a sender's own header is removed, all of them
    delivered = f"X-Spamd-Result: {added}\r\n".encode() + SPAM
    learned = learn(stack.gateway_url, "ham", delivered)
    assert learned.returncode == 0, learned.stderr
    taken = json.loads(learned.stdout)
    assert taken["request_id"] == _options(answer["symbols"]["TEXTSERVE_SPAM"])["request_id"]
    assert taken["matched"] is True and taken["predicted"] == "spam" and taken["environment"] == "production"
    # A message textserve never answered (no textserve symbol in its header, or no header): nothing is sent.
    unscanned = learn(stack.gateway_url, "spam", SPAM)
    assert unscanned.returncode == 1 and unscanned.stdout == b""


def test_ham_is_textserve_ham_with_a_negative_score(rspamd, api):
    symbols = _textserve(_check(rspamd, HAM))
    assert list(symbols) == ["TEXTSERVE_HAM"]
    verdict = direct(api, HAM)
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
    large = message("Quarterly figures", "The figures for the quarter are below.\n" + "Revenue line 42.\n" * 4_000)
    assert len(large) > MAX_SIZE
    assert direct(api, large)["prediction"]  # the gateway itself would take it
    assert _textserve(_check(rspamd, large)) == {}


def test_a_gateway_that_does_not_answer_in_time_is_textserve_fail(servers):
    result = _check(servers["silent"], HAM)
    assert _textserve(result) == {"TEXTSERVE_FAIL": result["symbols"]["TEXTSERVE_FAIL"]}
    assert result["symbols"]["TEXTSERVE_FAIL"]["options"] == ["IO timeout"]
    assert result["action"]


# How Rspamd reports a call its timer cut off: as a timeout, or as the read the timer interrupted, whichever of the
# two its event loop handles first (25 calls to the dripping gateway: 13 and 12, each after 1.02 s).
CUT_OFF = (["IO timeout"], ["HTTP IO read error: Resource temporarily unavailable"])


def test_a_gateway_that_answers_a_byte_at_a_time_is_cut_off_at_the_timeout(servers):
    """The module's timeout (1 s on this instance) bounds the whole call, not each wait on the socket."""
    started = time.monotonic()
    result = _check(servers["dripping"], HAM)
    assert 1.0 <= time.monotonic() - started < 8  # the module's timeout; Rspamd's own limit for a whole message
    assert _textserve(result) == {"TEXTSERVE_FAIL": result["symbols"]["TEXTSERVE_FAIL"]}
    assert result["symbols"]["TEXTSERVE_FAIL"]["options"] in CUT_OFF
    assert result["action"]


def test_an_answer_larger_than_any_verdict_is_refused_not_held(servers):
    result = _check(servers["flooding"], HAM)
    assert _textserve(result) == {"TEXTSERVE_FAIL": result["symbols"]["TEXTSERVE_FAIL"]}
    assert result["symbols"]["TEXTSERVE_FAIL"]["options"] == ["Request entity too large: 67108864"]
    assert result["action"]
