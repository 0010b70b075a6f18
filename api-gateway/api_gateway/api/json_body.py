"""How the gateway decodes JSON bodies: by orjson, as UTF-8 only, with half a surrogate pair refused.

FastAPI decodes a declared body with ``json.loads``, which accepts escapes such as ``"\\ud800"`` (half of a
UTF-16 pair) and yields a string that cannot be encoded: it passed validation and failed later, as a 500, where
the text went upstream or into a log. orjson refuses it at the door. Declared bodies are read through
:class:`JsonBodyRoute` (the ``route_class`` of every router that declares one: FastAPI's documented way to give
routes another request class), and ``/predict`` reads its own body with :func:`load_json`; either way a body
that is not JSON is the 422 ``Invalid JSON: <what> at character <n>``
(:func:`serving_common.http_errors.validation_failed`), and one that is not UTF-8 is told so. Before either, a
body that holds more values than the gateway's ``max_json_values`` is refused (:func:`refuse_too_many_values`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute

from serving_common.errors import PayloadTooLarge


def load_json(body: bytes) -> Any:
    """``orjson.loads``; a body that is not UTF-8 raises ``UnicodeDecodeError``, as ``json.loads`` does, rather than
    a decode error about surrogates."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        body.decode("utf-8")  # raises when that is the fault; checked only on the way out
        raise


def refuse_too_many_values(body: bytes, limit: int) -> None:
    """PayloadTooLarge when a JSON body holds more than ``limit`` values (objects, arrays, strings, numbers, at any
    depth, the body itself included), before anything validates it: pydantic reads a list or an object to its end
    and makes an error of every bad member, on the event loop (a 10 MiB batch of ``{}`` held the gateway, /health
    included, for 54 s; a million unknown fields for 4 s). A body with fewer commas and opening brackets than the
    limit cannot hold more (each value after an array's or object's first follows a comma), so most bodies pass
    on three scans of their bytes; another is decoded and counted, no further than the limit. A body that is not
    JSON is left to the decoder, which says what is wrong with it."""
    if body.count(b",") + body.count(b"[") + body.count(b"{") < limit:
        return
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return
    held, containers = 1, [value] if isinstance(value, dict | list) else []
    while containers:
        container = containers.pop()
        members = container.values() if isinstance(container, dict) else container
        held += len(members)
        if held > limit:
            raise PayloadTooLarge(
                f"the JSON body holds more than {limit:,} values (objects, arrays, strings, numbers); "
                f"the limit is {limit:,}",
                details={"max_json_values": limit},
            )
        containers.extend(m for m in members if isinstance(m, dict | list))


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
            request = OrjsonRequest(request.scope, request.receive)
            refuse_too_many_values(await request.body(), request.app.state.settings.max_json_values)
            return await handler(request)

        return decode_with_orjson
