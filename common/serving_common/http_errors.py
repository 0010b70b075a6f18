"""The one place where errors become HTTP responses, for every server of the platform.

Every error leaves as ``{"error": {"code", "message", "details"}, "request_id"}`` with the status of
its class in :mod:`serving_common.errors`. :func:`as_platform_error` turns anything raised (ours, the
framework's, a library's through a translation table) into one of those classes; the FastAPI
handlers and the plain-ASGI paths (:func:`send_error`) both answer with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope, Send

from serving_common.errors import (
    InvalidInput,
    MethodNotAllowed,
    NotFound,
    PlatformError,
    ServerError,
    error_payload,
)
from serving_common.request_context import REQUEST_ID_HEADER, request_id_var

log = logging.getLogger(__name__)

# A library's exception type -> the platform error it means (the KServe components register KServe's).
Translations = Mapping[type[BaseException], Callable[[str], PlatformError]]
NO_TRANSLATIONS: Translations = MappingProxyType({})


def validation_failed(raw_errors: Sequence[Mapping[str, Any]]) -> InvalidInput:
    """Validation errors (pydantic's, or FastAPI's of a declared body) as one 422: the first one's place and
    message, and every one's place, message and type in the details (not the input, which may be mail)."""
    errors = [_entry(e) for e in raw_errors]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
    return InvalidInput(f"{where}: {first['msg']}", details={"errors": errors})


def _entry(error: Mapping[str, Any]) -> dict[str, Any]:
    ctx = error.get("ctx") or {}
    if error.get("type") == "json_invalid" and "error" in ctx:
        # FastAPI's decoding of a declared body: its place is a character offset and its message "JSON decode
        # error"; the decoder's own words (in ctx) say what is wrong, as pydantic's parser does on /predict.
        where = error.get("loc", ())[1:2]  # (body, offset)
        at = f" at character {where[0] + 1}" if where and isinstance(where[0], int) else ""
        return {"loc": ["body"], "msg": f"Invalid JSON: {ctx['error']}{at}", "type": "json_invalid"}
    return {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type", "")}


def _validation_error(exc: RequestValidationError, content_type: str | None) -> InvalidInput:
    if _whole_body_not_json(exc, content_type):
        return body_not_json(media_type_of(content_type))
    return validation_failed(exc.errors())


JSON_MEDIA_TYPE = "application/json"


def media_type_of(content_type: str | None) -> str:
    """``text/plain; charset=utf-8`` -> ``text/plain``."""
    return (content_type or "").split(";")[0].strip().lower()


def is_json(media_type: str) -> bool:
    return media_type == JSON_MEDIA_TYPE or media_type.endswith("+json")


def body_not_json(media_type: str, accepted: tuple[str, ...] = (JSON_MEDIA_TYPE,)) -> InvalidInput:
    """A body that is not JSON under a Content-Type that does not claim it is (a raw message or a form sent to a
    JSON route): the 422 names the type it came with and the types the route takes."""
    return InvalidInput(
        f"the body is not JSON, and its Content-Type is {media_type or 'missing'}: send {' or '.join(accepted)}",
        details={"content_type": media_type or None, "accepted": list(accepted)},
    )


def body_not_utf8() -> InvalidInput:
    """A body that cannot be decoded as UTF-8: the same class of mistake as malformed JSON, so a 422 alike on every
    route (FastAPI's declared bodies and the routes that read their own)."""
    return InvalidInput("the request body is not valid UTF-8 JSON")


# What a validator says of a body that is not a JSON object at all.
_NOT_AN_OBJECT = frozenset({"json_invalid", "model_attributes_type", "model_type", "dict_type"})


def _whole_body_not_json(exc: RequestValidationError, content_type: str | None) -> bool:
    first: dict[str, Any] = next(iter(exc.errors()), {})
    return (
        tuple(first.get("loc", ())) == ("body",)
        and first.get("type") in _NOT_AN_OBJECT
        and not is_json(media_type_of(content_type))
    )


def _http_error(exc: StarletteHTTPException) -> PlatformError:
    if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
        return body_not_utf8()  # FastAPI's own wording for a body it cannot decode (e.g. not UTF-8)
    if exc.status_code == 405:
        allow = (exc.headers or {}).get("Allow", "")
        return MethodNotAllowed(sorted(m.strip() for m in allow.split(",") if m.strip()))
    known: dict[int, type[PlatformError]] = {404: NotFound, 422: InvalidInput}
    if exc.status_code in known:
        return known[exc.status_code](str(exc.detail))
    error = PlatformError(str(exc.detail))
    error.status_code, error.code = exc.status_code, "http_error"
    return error


def as_platform_error(
    exc: BaseException, translations: Translations = NO_TRANSLATIONS, content_type: str | None = None
) -> PlatformError:
    """What any exception means in the platform's hierarchy; unknown ones are internal errors. ``content_type``
    (the request's) lets a body that was not JSON be told so."""
    if isinstance(exc, PlatformError):
        return exc
    if isinstance(exc, RequestValidationError):
        return _validation_error(exc, content_type)
    if isinstance(exc, StarletteHTTPException):
        return _http_error(exc)
    for exc_type, translate in translations.items():
        if isinstance(exc, exc_type):
            return translate(str(exc) or exc_type.__name__)
    return ServerError("internal server error")


def _log(error: PlatformError, exc: BaseException) -> None:
    if error.status_code >= 500:
        if isinstance(exc, PlatformError) or error.code != ServerError.code:
            log.warning("%s: %s", error.code, error.message)
        else:
            log.error("unhandled error", exc_info=exc)


def error_body(error: PlatformError, request_id: str | None) -> bytes:
    return orjson.dumps(error_payload(error.code, error.message, error.details, request_id))


def install_error_handlers(app: FastAPI, translations: Translations = NO_TRANSLATIONS) -> None:
    """One handler for everything a FastAPI app raises (registered for each base Starlette dispatches on)."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        error = as_platform_error(exc, translations, request.headers.get("content-type"))
        _log(error, exc)
        # The gateway sets the request-id context; the KServe components only have the header.
        request_id = request_id_var.get() or request.headers.get(REQUEST_ID_HEADER)
        return JSONResponse(
            status_code=error.status_code,
            content=error_payload(error.code, error.message, error.details, request_id),
            headers=error.headers,
        )

    for exc_type in (Exception, PlatformError, RequestValidationError, StarletteHTTPException, *translations):
        app.add_exception_handler(exc_type, handle)


async def send_error(
    scope: Scope,
    send: Send,
    exc: BaseException,
    translations: Translations = NO_TRANSLATIONS,
    *,
    close: bool = False,
) -> None:
    """The same answer from plain ASGI code that runs outside FastAPI's handlers (middleware, lean paths).
    ``close`` ends the connection after it (the unread rest of a refused body is not drained)."""
    error = as_platform_error(exc, translations)
    _log(error, exc)
    incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == REQUEST_ID_HEADER.encode()), None)
    body = error_body(error, request_id_var.get() or incoming)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in (error.headers or {}).items()]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
