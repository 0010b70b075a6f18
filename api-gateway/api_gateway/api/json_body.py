"""How the gateway decodes JSON bodies: by orjson, as UTF-8 only, with half a surrogate pair refused.

FastAPI decodes a declared body with ``json.loads``, which accepts escapes such as ``"\\ud800"`` (half of a
UTF-16 pair) and yields a string that cannot be encoded: it passed validation and failed later, as a 500, where
the text went upstream or into a log. orjson refuses it at the door. Declared bodies are read through
:class:`JsonBodyRoute` (the ``route_class`` of every router that declares one: FastAPI's documented way to give
routes another request class), and ``/predict`` reads its own body with :func:`load_json`; either way a body
that is not JSON is the 422 ``Invalid JSON: <what> at character <n>``
(:func:`serving_common.http_errors.validation_failed`), and one that is not UTF-8 is told so.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute


def load_json(body: bytes) -> Any:
    """``orjson.loads``; a body that is not UTF-8 raises ``UnicodeDecodeError``, as ``json.loads`` does, rather than
    a decode error about surrogates."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        body.decode("utf-8")  # raises when that is the fault; checked only on the way out
        raise


def json_invalid(exc: json.JSONDecodeError) -> dict[str, Any]:
    """The validation error FastAPI makes of a declared body it cannot decode, for a body read by hand."""
    return {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error", "ctx": {"error": exc.msg}}


class OrjsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            # orjson's decode error is a json.JSONDecodeError, and FastAPI answers either that or a
            # UnicodeDecodeError as a malformed body.
            self._json = load_json(await self.body())
        return self._json


class JsonBodyRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def decode_with_orjson(request: Request) -> Response:
            return await handler(OrjsonRequest(request.scope, request.receive))

        return decode_with_orjson
