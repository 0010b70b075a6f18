"""Raw RFC 822 messages through the real platform, as a mail server hands them over: the gateway reads
them with the one e-mail parser, and the model scores exactly what it would score for the same subject
and body sent as JSON (for a message a mailing list delivered: without the list's subject tag and footer)."""

from __future__ import annotations

import base64
import quopri
import uuid
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from serving_common.features import FEATURE_NAMES
from serving_common.inference_log.reader import InferenceLogReader
from tests.e2e.test_inference_log import _rows_for

pytestmark = pytest.mark.e2e

SUBJECT = "You have been selected"
BODY = "WINNER!! As a valued customer you have been selected to receive a £900 prize. Call 09061701461 now."
RFC822 = {"content-type": "message/rfc822"}


def _headers(message):
    message["From"] = "Prize Desk <promo@example.com>"
    message["To"] = "you@example.org"
    message["Subject"] = SUBJECT
    return message


def _encoded(encoding: str) -> bytes:
    message = _headers(MIMEText("", "plain", "utf-8"))
    del message["Content-Transfer-Encoding"]
    message["Content-Transfer-Encoding"] = encoding
    raw = BODY.encode()
    message.set_payload(base64.encodebytes(raw).decode() if encoding == "base64" else quopri.encodestring(raw).decode())
    return message.as_bytes()


def _html_only() -> bytes:
    message = _headers(EmailMessage())
    message.set_content(f"<html><body><p>{BODY}</p><script>hidden()</script></body></html>", subtype="html")
    return message.as_bytes()


def _html_with_hidden_text() -> bytes:
    """Spam padded with text a reader cannot see, ahead of what it shows: read as its visible text alone."""
    hidden = "Hello team, the minutes of Tuesday's meeting are attached; lunch is at noon. " * 20
    message = _headers(EmailMessage())
    message.set_content(
        f'<html><body><div style="display:none">{hidden}</div><span style="font-size:0px">{hidden}</span>'
        f"<p hidden>{hidden}</p><p>{BODY}</p></body></html>",
        subtype="html",
    )
    return message.as_bytes()


def _html_behind_an_innocent_plain_version() -> bytes:
    """A multipart/alternative whose plain version says something else than the HTML a client shows: read as
    the HTML."""
    message = _headers(MIMEMultipart("alternative"))
    message.attach(MIMEText("Hello team, the minutes of Tuesday's meeting are attached; lunch is at noon.", "plain"))
    message.attach(MIMEText(f"<html><body><p>{BODY}</p></body></html>", "html"))
    return message.as_bytes()


def _latin1() -> bytes:
    return _headers(MIMEText(BODY, "plain", "latin-1")).as_bytes()


def _multipart_with_attachment() -> bytes:
    message = _headers(MIMEMultipart("mixed"))
    message.attach(MIMEText(BODY, "plain", "utf-8"))
    attachment = MIMEApplication(b"%PDF-1.4 \x00\x01 unrelated words", Name="terms.pdf")
    attachment["Content-Disposition"] = 'attachment; filename="terms.pdf"'
    message.attach(attachment)
    return message.as_bytes()


def _through_a_list() -> bytes:
    """As a mailing list delivers it: its tag in front of the subject, its footer under the body."""
    message = EmailMessage()
    message["From"] = "Prize Desk <promo@example.com>"
    message["To"] = "offers@lists.example.org"
    message["Subject"] = f"[offers] {SUBJECT}"
    message["List-Id"] = "Offers <offers.lists.example.org>"
    message["List-Post"] = "<mailto:offers@lists.example.org>"
    footer = (
        "_" * 47 + "\nOffers mailing list\noffers@lists.example.org\nhttps://lists.example.org/mailman/listinfo/offers"
    )
    message.set_content(f"{BODY}\n\n{footer}\n")
    return message.as_bytes()


MESSAGES = {
    "html-only": _html_only,
    "html-with-hidden-text": _html_with_hidden_text,
    "html-behind-an-innocent-plain-version": _html_behind_an_innocent_plain_version,
    "base64": lambda: _encoded("base64"),
    "quoted-printable": lambda: _encoded("quoted-printable"),
    "latin-1": _latin1,
    "multipart-with-attachment": _multipart_with_attachment,
    "delivered-by-a-mailing-list": _through_a_list,
}


@pytest.fixture(scope="module")
def as_json(api):
    """The verdict for the same subject and body sent as JSON: what every raw form must reproduce."""
    response = api.post("/api/v1/predict", json={"email_content": BODY, "subject": SUBJECT})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("kind", MESSAGES)
def test_a_raw_message_is_scored_as_its_subject_and_body(api, as_json, kind):
    response = api.post("/api/v1/predict", content=MESSAGES[kind](), headers=RFC822)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["spam_probability"] == pytest.approx(as_json["spam_probability"], abs=1e-6)
    assert body["prediction"] == as_json["prediction"] and body["model_name"] == "spam-detector"


@pytest.mark.parametrize("kind", MESSAGES)
def test_raw_email_in_json_is_the_same_as_the_raw_body(api, as_json, kind):
    raw = MESSAGES[kind]().decode("latin-1" if kind == "latin-1" else "utf-8")
    response = api.post("/api/v1/predict", json={"raw_email": raw, "email_id": "m-7"})
    assert response.status_code == 200, response.text
    assert response.json()["spam_probability"] == pytest.approx(as_json["spam_probability"], abs=1e-6)
    assert response.json()["email_id"] == "m-7"


def test_html_naming_its_charset_in_its_head_alone_is_read_in_it(api, inference_log_dir):
    """HTML whose MIME header names no charset and whose ``<meta>`` does (KOI8-R), as much mail in legacy
    charsets is sent: read as the same text sent as JSON (the features the transformer logs, the score), not as
    the Windows-1252 it read as before (KOI8-R's small letters are Windows-1252's capitals: ``ðÏÚÄÒÁ``)."""
    text = "Поздравляем! Вы выиграли приз в 900 фунтов. Позвоните сейчас по номеру 09061701461."
    head = '<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">'
    raw = (
        f"From: Prize Desk <promo@example.com>\r\nTo: you@example.org\r\nSubject: {SUBJECT}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + f"<html><head>{head}</head><body><p>{text}</p></body></html>".encode("koi8-r")
    ids = [f"charset-{uuid.uuid4().hex}" for _ in range(2)]
    as_json = api.post(
        "/api/v1/predict", json={"email_content": text, "subject": SUBJECT}, headers={"X-Request-ID": ids[0]}
    )
    response = api.post("/api/v1/predict", content=raw, headers={**RFC822, "X-Request-ID": ids[1]})
    assert response.status_code == as_json.status_code == 200, response.text
    assert response.json()["spam_probability"] == pytest.approx(as_json.json()["spam_probability"], abs=1e-6)
    reader = InferenceLogReader(str(inference_log_dir))
    [json_row], [raw_row] = (_rows_for(reader, "staging", "spam-detector", rid, 1) for rid in ids)
    assert 0 < raw_row["uppercase_ratio"] < 0.1  # the misread text's capitals were over half its letters
    assert {name: raw_row[name] for name in FEATURE_NAMES} == {name: json_row[name] for name in FEATURE_NAMES}


def test_a_batch_mixes_raw_messages_and_bodies_in_order(api, as_json):
    emails = [{"raw_email": _html_only().decode()}, {"email_content": "See you at lunch?", "email_id": "b"}, BODY]
    response = api.post("/api/v1/batch-predict", json={"emails": emails})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert predictions[0]["spam_probability"] == pytest.approx(as_json["spam_probability"], abs=1e-6)
    assert predictions[1]["email_id"] == "b" and response.json()["count"] == 3


@pytest.mark.parametrize("raw", [b"no header fields here, only words\nand more words", b"", b"Subject: \r\n\r\n  \r\n"])
def test_a_malformed_message_is_422(api, raw):
    response = api.post("/api/v1/predict", content=raw, headers=RFC822)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "malformed_email"


def test_html_left_open_at_every_tag_is_answered(api):
    """A megabyte of tags with an unclosed quote: each one sent the HTML parser to the end of the message again
    (hours of one core's time, the request lost to its timeout); now one pass."""
    message = _headers(EmailMessage())
    message.set_content("<p>" + BODY + "</p>" + "<a b='" * 170_000, subtype="html")
    response = api.post("/api/v1/predict", content=message.as_bytes(), headers=RFC822)
    assert response.status_code == 200, response.text
    assert response.json()["model_name"] == "spam-detector"


def test_a_list_message_whose_subject_is_many_replies_is_answered(api):
    """250 "Re :" in front of a subject with no list tag: the tag's pattern could fail each of them two ways, and
    the gateway's parser would have held a core (and the GIL) past any deadline."""
    message = _headers(EmailMessage())
    del message["Subject"]
    message["Subject"] = "Re :" * 250 + " " + SUBJECT
    message["List-Id"] = "Offers <offers.example.com>"
    message.set_content(BODY)
    response = api.post("/api/v1/predict", content=message.as_bytes(), headers=RFC822)
    assert response.status_code == 200, response.text
    assert response.json()["model_name"] == "spam-detector"


def test_a_malformed_message_in_a_batch_is_422_naming_its_position(api):
    emails = [BODY, {"raw_email": "not a message at all"}]
    response = api.post("/api/v1/batch-predict", json={"emails": emails})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "malformed_email" and error["details"]["index"] == 1
    assert error["message"].startswith("email 1:")


@pytest.mark.parametrize(
    "body",
    [
        {"email_content": BODY, "raw_email": "Subject: x\r\n\r\nhello"},  # both
        {"email_id": "only-an-id"},  # neither
        {"raw_email": "Subject: x\r\n\r\nhello", "subject": "another subject"},
    ],
)
def test_exactly_one_of_body_and_raw_message(api, body):
    response = api.post("/api/v1/predict", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"


def test_openapi_offers_json_and_rfc822_on_predict(api):
    content = api.get("/openapi.json").json()["paths"]["/api/v1/predict"]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "message/rfc822"}
    email_in = api.get("/openapi.json").json()["components"]["schemas"]["EmailIn"]["properties"]
    assert {"email_content", "raw_email"} <= set(email_in)
