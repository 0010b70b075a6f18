"""The one place where errors become HTTP responses (FastAPI apps).

Every error leaves as ``{"error": {"code", "message", "details"}, "request_id"}``.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving_common.errors import PlatformError, error_payload
from serving_common.request_context import REQUEST_ID_HEADER, request_id_var

log = logging.getLogger(__name__)


def error_response(
    request: Request, status: int, code: str, message: str, details: dict | None = None, headers: dict | None = None
) -> JSONResponse:
    # The gateway sets the request-id context; the KServe components only have the header.
    request_id = request_id_var.get() or request.headers.get(REQUEST_ID_HEADER)
    return JSONResponse(status_code=status, content=error_payload(code, message, details, request_id), headers=headers)


async def platform_error_handler(request: Request, exc: PlatformError) -> JSONResponse:
    if exc.status_code >= 500:
        log.warning("%s: %s", exc.code, exc.message)
    return error_response(request, exc.status_code, exc.code, exc.message, exc.details, exc.headers)


async def validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
    return error_response(request, 422, "invalid_input", f"{where}: {first['msg']}", {"errors": errors})


async def _http_exception(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
        # FastAPI's own wording for a body it cannot decode (e.g. not UTF-8): the same class of
        # mistake as malformed JSON, so the same answer.
        return error_response(request, 422, "invalid_input", "the request body is not valid UTF-8 JSON")
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(request, exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))


async def unhandled_error_handler(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    return error_response(request, 500, "internal_error", "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PlatformError, platform_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(Exception, unhandled_error_handler)
