"""Gateway behaviour that needs no model: routing of the environment header, validation, error shape.

Upstream URLs point at loopback ports where nothing listens, so upstream failures are real
connection failures, not mocks.
"""

import gzip

import pytest
from fastapi.testclient import TestClient

from api_gateway.core.config import GatewaySettings
from api_gateway.main import create_app
from devstack.process import free_port
from serving_common.request_context import accept_or_generate_request_id


@pytest.fixture
def client():
    settings = GatewaySettings(
        staging_url=f"http://127.0.0.1:{free_port()}",
        production_url=f"http://127.0.0.1:{free_port()}",
        max_batch_size=3,
        max_text_chars=50,
        upstream_connect_timeout_seconds=0.5,
    )
    with TestClient(create_app(settings)) as c:
        yield c


def _assert_error_shape(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "request_id"}
    assert body["error"]["code"] == code and body["error"]["message"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def test_health_is_always_ok(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_ready_is_503_when_the_default_environment_is_down(client):
    response = client.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False and body["default_environment"] == "staging"
    assert set(body["environments"]) == {"staging", "production"}
    assert set(body["environments"]["staging"]["models"]) == {"spam-detector", "intent-classifier"}


@pytest.mark.parametrize("value", ["prod", "dev", "STAGING-1"])
def test_unknown_environment_is_400_naming_the_valid_ones(client, value):
    response = client.post("/api/v1/predict", json={"email_content": "hi"}, headers={"X-Environment": value})
    body = _assert_error_shape(response, 400, "unknown_environment")
    assert "staging" in body["error"]["message"] and "production" in body["error"]["message"]


def test_environment_header_is_case_insensitive_and_routes_to_its_own_upstream(client):
    response = client.post("/api/v1/predict", json={"email_content": "hi"}, headers={"X-Environment": "PRODUCTION"})
    body = _assert_error_shape(response, 503, "upstream_unavailable")
    assert body["error"]["details"]["environment"] == "production"


def test_default_environment_is_staging(client):
    body = _assert_error_shape(
        client.post("/api/v1/predict", json={"email_content": "hi"}), 503, "upstream_unavailable"
    )
    assert body["error"]["details"]["environment"] == "staging"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"email_content": ""},
        {"email_content": "   "},
        {"email_content": 5},
        {"email_content": "x", "bogus": 1},
        {"email_content": "\u0013\u200b\U000323ed"},
    ],
)
def test_invalid_bodies_are_422(client, payload):
    _assert_error_shape(client.post("/api/v1/predict", json=payload), 422, "invalid_input")


@pytest.mark.parametrize("body", [b"\xff\xfe\x00", '{"email_content": "caf\xe9"}'.encode("latin-1")])
def test_bodies_that_are_not_utf8_are_422(client, body):
    response = client.post("/api/v1/predict", content=body, headers={"content-type": "application/json"})
    assert (
        _assert_error_shape(response, 422, "invalid_input")["error"]["message"]
        == "the request body is not valid UTF-8 JSON"
    )


def test_malformed_json_is_422(client):
    response = client.post("/api/v1/predict", content=b"{nope", headers={"content-type": "application/json"})
    _assert_error_shape(response, 422, "invalid_input")


def test_oversized_text_and_batch_are_413(client):
    _assert_error_shape(client.post("/api/v1/predict", json={"email_content": "x" * 51}), 413, "payload_too_large")
    _assert_error_shape(client.post("/api/v1/batch-predict", json={"emails": ["a"] * 4}), 413, "payload_too_large")


def test_request_id_is_accepted_or_generated(client):
    given = client.get("/health", headers={"X-Request-ID": "client-id-1"})
    assert given.headers["x-request-id"] == "client-id-1"
    generated = client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces" and len(generated.headers["x-request-id"]) == 32


@pytest.mark.parametrize("candidate", ["ok-id\n", "x" * 129, "", "id;rm", "caf\u00e9"])
def test_a_request_id_outside_its_grammar_is_replaced_not_echoed(candidate):
    assert accept_or_generate_request_id("a.b:c-1_2") == "a.b:c-1_2"
    replaced = accept_or_generate_request_id(candidate)
    assert replaced != candidate and len(replaced) == 32


def test_openapi_documents_examples(client):
    spec = client.get("/openapi.json").json()
    assert {"/api/v1/predict", "/api/v1/batch-predict", "/health", "/ready"} <= set(spec["paths"])
    assert spec["components"]["schemas"]["EmailIn"]["examples"]
    assert client.get("/docs").status_code == 200


def test_metrics_are_exported(client):
    client.post("/api/v1/predict", json={"email_content": "hi"})
    text = client.get("/metrics").text
    assert 'gateway_requests_total{endpoint="predict",environment="staging"' in text
    assert "gateway_upstream_errors_total" in text


@pytest.mark.parametrize("payload", [{}, {"text": ""}, {"text": "  "}, {"text": ["a"]}, {"prompt": "x"}])
def test_invalid_intent_bodies_are_422(client, payload):
    _assert_error_shape(client.post("/api/v1/intent/predict", json=payload), 422, "invalid_input")


def test_intent_batch_limits(client):
    _assert_error_shape(client.post("/api/v1/intent/batch-predict", json={"texts": []}), 422, "invalid_input")
    _assert_error_shape(
        client.post("/api/v1/intent/batch-predict", json={"texts": ["a"] * 4}), 413, "payload_too_large"
    )


def test_intent_goes_to_the_intent_service_of_the_environment(client):
    response = client.post("/api/v1/intent/predict", json={"text": "hi"}, headers={"X-Environment": "production"})
    body = _assert_error_shape(response, 503, "upstream_unavailable")
    assert body["error"]["details"] == {"environment": "production", "model_name": "intent-classifier"}


def test_models_endpoint_reports_unreachable_services(client):
    body = client.get("/api/v1/models").json()
    for env in ("staging", "production"):
        assert {m["name"] for m in body["environments"][env]} == {"spam-detector", "intent-classifier"}
        assert all(m["version"] is None and m["ready"] is False for m in body["environments"][env])


def _settings(**overrides):
    return GatewaySettings(
        staging_url=f"http://127.0.0.1:{free_port()}",
        production_url=f"http://127.0.0.1:{free_port()}",
        upstream_connect_timeout_seconds=0.5,
        **overrides,
    )


def test_a_batch_over_the_token_limit_is_413_naming_the_limit():
    # Until the gateway has read the model's max length (no upstream here) a text counts min(chars + 2, 512).
    with TestClient(create_app(_settings(max_batch_tokens=1000))) as client:
        fits = client.post("/api/v1/batch-predict", json={"emails": ["x" * 498, "y" * 498]})
        assert fits.status_code == 503  # within the limit: sent upstream, which is down
        over = client.post("/api/v1/batch-predict", json={"emails": ["x" * 498, "y" * 498, "z"]})
        body = _assert_error_shape(over, 413, "payload_too_large")
        assert body["error"]["details"] == {"max_batch_tokens": 1000, "batch_tokens": 1003, "max_length": 512}
        assert "1000" in body["error"]["message"]
        # A long text costs no more than the model's max length.
        long = client.post("/api/v1/predict", json={"email_content": "w " * 5000})
        assert long.status_code == 503


def test_a_raw_message_is_parsed_before_anything_goes_upstream(client):
    raw = b"From: a@example.com\r\nSubject: hello\r\nContent-Type: text/html\r\n\r\n<p>See you at lunch</p>\r\n"
    parsed = client.post("/api/v1/predict", content=raw, headers={"content-type": "message/rfc822"})
    _assert_error_shape(parsed, 503, "upstream_unavailable")  # read, then the (absent) upstream was called
    malformed = client.post("/api/v1/predict", content=b"hello", headers={"content-type": "message/rfc822"})
    _assert_error_shape(malformed, 422, "malformed_email")


def test_json_errors_on_predict_keep_their_shape_and_location(client):
    body = _assert_error_shape(client.post("/api/v1/predict", json={"email_content": 5}), 422, "invalid_input")
    assert body["error"]["details"]["errors"][0]["loc"] == ["body", "email_content"]
    _assert_error_shape(client.post("/api/v1/predict", content=b"{not json"), 422, "invalid_input")
    _assert_error_shape(client.post("/api/v1/predict", json={"email_content": "hi", "extra": 1}), 422, "invalid_input")


def test_every_served_task_has_the_generic_routes_and_an_unserved_one_is_404(client):
    response = client.post("/api/v1/tasks/intent/predict", json={"text": "hi"}, headers={"X-Environment": "production"})
    body = _assert_error_shape(response, 503, "upstream_unavailable")  # reached intent's production service
    assert body["error"]["details"] == {"environment": "production", "model_name": "intent-classifier"}
    _assert_error_shape(
        client.post("/api/v1/tasks/spam/batch-predict", json={"texts": ["a"] * 4}), 413, "payload_too_large"
    )
    _assert_error_shape(client.post("/api/v1/tasks/spam/predict", json={"text": " \u200b "}), 422, "invalid_input")
    unknown = _assert_error_shape(
        client.post("/api/v1/tasks/sentiment/predict", json={"text": "hi"}), 404, "unknown_task"
    )
    assert "intent, spam" in unknown["error"]["message"]


def test_upstreams_are_keyed_by_task_and_environment_with_the_old_settings_as_shorthands():
    settings = _settings(
        staging_intent_url="http://intent-staging",
        upstreams={"spam": {"staging": "http://spam-s", "production": "http://spam-p"}},
        model_names={"spam": "mail-filter"},
    )
    upstreams = settings.task_upstreams()
    assert dict(upstreams["spam"].urls) == {"staging": "http://spam-s", "production": "http://spam-p"}
    assert upstreams["spam"].model_name == "mail-filter"
    assert upstreams["intent"].urls["staging"] == "http://intent-staging"
    assert upstreams["intent"].urls["production"] == settings.production_url  # intent falls back to the spam URL


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"upstreams": {"sentiment": {"staging": "http://a", "production": "http://b"}}}, "unknown task 'sentiment'"),
        ({"upstreams": {"spam": {"staging": "http://a"}}}, "spam has no URL for production"),
        ({"model_names": {"intent": "spam-detector"}}, "two tasks serve one model name"),
        ({"shadow_shares": {"sentiment-model": 0.5}}, "shadow_shares"),
    ],
)
def test_upstream_settings_that_cannot_serve_are_refused_at_start(overrides, message):
    with pytest.raises(ValueError, match=message):
        _settings(**overrides)


def test_predict_is_served_below_fastapi_and_still_documented(client):
    from starlette.routing import Match

    from api_gateway.api.routes.predict import LEAN_PREDICT_ROUTE

    scope = {"type": "http", "method": "POST", "path": "/api/v1/predict", "root_path": ""}
    serving = next(r for r in client.app.router.routes if r.matches(scope)[0] is Match.FULL)
    assert serving is LEAN_PREDICT_ROUTE  # the plain Starlette route: no dependency solving per request
    assert "post" in client.app.openapi()["paths"]["/api/v1/predict"]  # FastAPI's route documents it
    # Its errors keep the platform's shape (the cases above and below), through the app's one set of handlers.


def test_a_raw_message_nested_past_the_bound_is_422_in_predict_and_in_a_batch(client):
    head = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(60))
    raw = f"From: a@example.com\nSubject: deep\n{head}Content-Type: text/plain\n\nhello\n"
    response = client.post("/api/v1/predict", content=raw.encode(), headers={"content-type": "message/rfc822"})
    assert "nested" in _assert_error_shape(response, 422, "malformed_email")["error"]["message"]
    batch = client.post("/api/v1/batch-predict", json={"emails": ["fine", {"raw_email": raw}]})
    _assert_error_shape(batch, 422, "malformed_email")


def test_an_unexpected_error_is_a_500_that_carries_the_request_id(client, monkeypatch, caplog):
    import api_gateway.api.emails as emails

    def broken(raw):
        raise RuntimeError("a bug, not the caller's fault")

    monkeypatch.setattr(emails, "parse_email", broken)
    response = client.post(
        "/api/v1/predict",
        content=b"Subject: x\n\nhi",
        headers={"content-type": "message/rfc822", "X-Request-ID": "trace-me-1"},
    )
    body = _assert_error_shape(response, 500, "internal_error")
    assert body["request_id"] == "trace-me-1" and "a bug" not in response.text  # no internals leak to the caller
    assert any(r.exc_info and "a bug" in str(r.exc_info[1]) for r in caplog.records)  # but the log has them


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "text/plain"])
def test_a_raw_message_sent_without_its_content_type_is_told_which_to_send(client, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/api/v1/predict", content=b"From: a@example.com\nSubject: hi\n\nhello", headers=headers)
    body = _assert_error_shape(response, 422, "invalid_input")
    assert "message/rfc822" in body["error"]["message"] and "application/json" in body["error"]["message"]
    assert body["error"]["details"]["content_type"] == content_type


def test_json_sent_as_text_plain_is_still_read(client):
    response = client.post(
        "/api/v1/predict", content=b'{"email_content": "hi"}', headers={"content-type": "text/plain"}
    )
    _assert_error_shape(response, 503, "upstream_unavailable")  # accepted; no upstream in this test


@pytest.mark.parametrize(
    ("item", "where", "says"),
    [
        (None, "emails.1", "a string (its body) or an object"),
        (5, "emails.1", "a string (its body) or an object"),
        ("   ", "emails.1.email_content", "visible text"),
        ({"email_content": "x", "raw_email": "Subject: y\n\ny"}, "emails.1", "exactly one of"),
        ({"email_content": "x", "bogus": 1}, "emails.1.bogus", "Extra inputs"),
    ],
)
def test_a_bad_batch_item_is_named_by_its_place_and_field(client, item, where, says):
    response = client.post("/api/v1/batch-predict", json={"emails": ["fine", item]})
    message = _assert_error_shape(response, 422, "invalid_input")["error"]["message"]
    assert message.startswith(f"{where}: ") and says in message and "function-after" not in message


def test_raw_mail_is_read_off_the_event_loop(client, monkeypatch):
    import asyncio

    import api_gateway.api.emails as emails

    where, real = [], emails.parse_email

    def recording(raw):
        try:
            asyncio.get_running_loop()
            where.append("event loop")
        except RuntimeError:
            where.append("worker thread")
        return real(raw)

    monkeypatch.setattr(emails, "parse_email", recording)
    # A small message too: a crafted one of a few KB can cost up to the parser's bound on header work.
    small = b"From: a@example.com\nSubject: hi\n\nhello"
    client.post("/api/v1/predict", content=small, headers={"content-type": "message/rfc822"})
    client.post("/api/v1/predict", json={"raw_email": small.decode()})
    client.post("/api/v1/batch-predict", json={"emails": ["plain text", {"raw_email": small.decode()}]})
    client.post("/api/v1/batch-predict", json={"emails": [{"raw_email": small.decode()}] * 2})
    assert where == ["worker thread"] * 5


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/v1/batch-predict", "message/rfc822"),
        ("/api/v1/intent/predict", "text/plain"),
        ("/api/v1/feedback", "application/x-www-form-urlencoded"),
    ],
)
def test_a_json_route_sent_another_media_type_says_to_send_json(client, path, content_type):
    response = client.post(
        path, content=b"From: a@example.com\nSubject: hi\n\nhello", headers={"content-type": content_type}
    )
    body = _assert_error_shape(response, 422, "invalid_input")
    assert (
        body["error"]["message"]
        == f"the body is not JSON, and its Content-Type is {content_type}: send application/json"
    )
    assert body["error"]["details"] == {"content_type": content_type, "accepted": ["application/json"]}


def test_a_json_route_sent_a_json_array_keeps_the_validation_answer(client):
    response = client.post("/api/v1/batch-predict", json=["not", "an", "object"])
    assert "not JSON" not in _assert_error_shape(response, 422, "invalid_input")["error"]["message"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/predict", '{"email_content": "hello HALF world"}'),
        ("/api/v1/batch-predict", '{"emails": ["fine", "hello HALF world"]}'),
        ("/api/v1/batch-predict", '{"emails": [{"email_content": "fine", "email_id": "HALF"}]}'),
        ("/api/v1/intent/predict", '{"text": "write a HALF function"}'),
        ("/api/v1/intent/batch-predict", '{"texts": ["HALF"]}'),
        ("/api/v1/tasks/intent/predict", '{"text": "write a HALF function"}'),
        ("/api/v1/feedback", '{"request_id": "r1", "label": "spam", "text": "hello HALF"}'),
    ],
)
@pytest.mark.parametrize("half", ["\\ud800", "\\udfff", "\\ud83d"])
def test_half_a_surrogate_pair_is_a_422_not_a_500(client, path, body, half):
    # JSON can escape one half of a UTF-16 pair; the string it makes cannot be encoded, and once failed upstream
    # or in the log as a 500. A whole pair (an emoji) is text like any other: validated, then sent upstream
    # (which is down here: 503).
    json = {"content-type": "application/json"}
    response = client.post(path, content=body.replace("HALF", half).encode(), headers=json)
    error = _assert_error_shape(response, 422, "invalid_input")["error"]
    assert error["message"].startswith("body: Invalid JSON: ") and "surrogate" in error["message"], error
    assert error["details"]["errors"][0]["loc"] == ["body"]
    whole = client.post(path, content=body.replace("HALF", "\\ud83d\\ude00").encode(), headers=json)
    _assert_error_shape(whole, 503, "upstream_unavailable" if path != "/api/v1/feedback" else "model_not_ready")


def test_malformed_json_is_told_alike_on_every_route(client):
    for path in ("/api/v1/predict", "/api/v1/batch-predict", "/api/v1/intent/predict", "/api/v1/feedback"):
        response = client.post(path, content=b'{"a": 1,}', headers={"content-type": "application/json"})
        message = _assert_error_shape(response, 422, "invalid_input")["error"]["message"]
        assert message.startswith("body: Invalid JSON: trailing comma") and " at " in message, (path, message)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/api/v1/predict", ["POST"]),
        ("DELETE", "/api/v1/intent/batch-predict", ["POST"]),
        ("POST", "/health", ["GET"]),
    ],
)
def test_a_wrong_method_is_a_405_naming_the_allowed_ones(client, method, path, allowed):
    response = client.request(method, path)
    error = _assert_error_shape(response, 405, "method_not_allowed")["error"]
    assert response.headers["allow"] == ", ".join(allowed)  # RFC 9110: a 405 must carry Allow
    assert error["details"] == {"allowed": allowed} and ", ".join(allowed) in error["message"]


@pytest.mark.parametrize("coding", ["gzip", "br", "gzip, identity"])
@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/v1/predict", "application/json"),
        ("/api/v1/predict", "message/rfc822"),
        ("/api/v1/batch-predict", "application/json"),
    ],
)
def test_a_compressed_body_is_a_415_not_a_malformed_one(client, coding, path, content_type):
    # Read as sent, a gzip body was told "not valid UTF-8 JSON" or "not an RFC 822 message", neither true.
    body = gzip.compress(b'{"email_content": "hello there", "emails": ["hi"]}')
    response = client.post(path, content=body, headers={"content-type": content_type, "content-encoding": coding})
    error = _assert_error_shape(response, 415, "unsupported_content_encoding")["error"]
    assert response.headers["accept-encoding"] == "identity"
    assert error["details"] == {"content_encoding": coding, "accepted": ["identity"]}
    assert error["message"] == f"Content-Encoding {coding} is not accepted: send the body uncompressed"


def test_an_identity_content_encoding_is_read_as_any_body(client):
    response = client.post(
        "/api/v1/predict", json={"email_content": "hello there"}, headers={"content-encoding": "identity"}
    )
    _assert_error_shape(response, 503, "upstream_unavailable")  # read and validated, then the upstream is down


def test_a_header_the_email_package_chokes_on_is_read_not_a_500(client):
    raw = b"From: a@example.com\r\nSubject: s\r\nContent-Type: text/plain; name*0*\r\n\r\nthe body\r\n"
    response = client.post("/api/v1/predict", content=raw, headers={"content-type": "message/rfc822"})
    _assert_error_shape(response, 503, "upstream_unavailable")  # read, then sent to the (absent) upstream


def test_every_answer_is_counted_by_route_and_status_refusals_included(client):
    def count(route: str, status: int) -> float:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith(f'gateway_http_responses_total{{route="{route}",status="{status}"}}'):
                return float(line.split()[-1])
        return 0.0

    before = {
        "malformed": count("/api/v1/predict", 422),
        "intent": count("/api/v1/intent/predict", 422),
        "refused_body": count("unrouted", 415),
        "missing": count("unrouted", 404),
        "health": count("/health", 200),
    }
    client.post("/api/v1/predict", content=b"hello", headers={"content-type": "message/rfc822"})  # malformed_email
    client.post("/api/v1/intent/predict", json={"text": ""})
    client.post(
        "/api/v1/predict", content=b"x", headers={"content-type": "application/json", "content-encoding": "gzip"}
    )
    client.get("/api/v1/nothing-here")
    client.get("/health")
    after = {
        "malformed": count("/api/v1/predict", 422),
        "intent": count("/api/v1/intent/predict", 422),
        "refused_body": count("unrouted", 415),
        "missing": count("unrouted", 404),
        "health": count("/health", 200),
    }
    assert {k: after[k] - before[k] for k in before} == dict.fromkeys(before, 1.0)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/batch-predict", {"emails": [{}] * 20_000}),
        ("/api/v1/batch-predict", {"emails": [{f"k{i}": i for i in range(5_000)}] * 3}),
        ("/api/v1/predict", {f"k{i}": 1 for i in range(20_000)}),
        ("/api/v1/intent/batch-predict", {"texts": ["a"] * 20_000}),
        ("/api/v1/tasks/spam/batch-predict", {"texts": [[[]]] * 5_000}),
        ("/api/v1/feedback", {"request_id": "r", "label": "spam", **{f"k{i}": 1 for i in range(20_000)}}),
    ],
)
def test_a_json_body_of_more_values_than_the_bound_is_413_before_it_is_validated(client, path, body):
    """pydantic reads every member of a list or an object and makes an error of each bad one, on the event loop
    (10 MiB of {} in a batch held the gateway 54 s); a body of more values than GATEWAY_MAX_JSON_VALUES is refused
    first, naming the bound, on every JSON route."""
    answer = _assert_error_shape(client.post(path, json=body), 413, "payload_too_large")
    assert answer["error"]["details"] == {"max_json_values": 10_000}
    assert "more than 10,000 values" in answer["error"]["message"]


def test_values_are_counted_exactly_and_commas_inside_strings_are_not_values(client):
    import orjson

    from api_gateway.api.json_body import refuse_too_many_values
    from serving_common.errors import PayloadTooLarge

    refuse_too_many_values(orjson.dumps({"a": [[0]] * 33, "b": 1}), 69)  # the object, 2 members, 33 arrays of 1
    with pytest.raises(PayloadTooLarge):
        refuse_too_many_values(orjson.dumps({"a": [[0]] * 33, "b": 1}), 68)
    refuse_too_many_values(orjson.dumps(",[{" * 100), 64)  # one string
    wide = {"emails": [{"email_content": "[{,}]" * 4_000}]}  # 20,000 commas and brackets in one string
    answer = _assert_error_shape(client.post("/api/v1/batch-predict", json=wide), 413, "payload_too_large")
    assert answer["error"]["details"]["max_text_chars"] == 50  # the text's own bound answers, not the JSON one


def test_a_json_bound_that_a_full_batch_would_not_fit_is_refused_at_start():
    with pytest.raises(ValueError, match="max_json_values 10000 is less than a full batch"):
        GatewaySettings(max_batch_size=2_000)
    assert GatewaySettings(max_batch_size=2_000, max_json_values=12_002).max_json_values == 12_002
