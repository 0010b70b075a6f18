"""Request-id handling as plain ASGI middleware (no per-request task or body buffering)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api_gateway import metrics
from api_gateway.core.errors import GatewayOverloaded
from serving_common.http_errors import send_error
from serving_common.request_context import REQUEST_ID_HEADER, accept_or_generate_request_id, request_id_var

_HEADER = REQUEST_ID_HEADER.encode()


class RequestIdMiddleware:
    """Accept the caller's ``X-Request-ID`` or mint one; expose it to the app and return it. Every answer passes
    here, so this also counts them (``gateway_http_responses_total``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == _HEADER), None)
        request_id = accept_or_generate_request_id(incoming)
        token = request_id_var.set(request_id)

        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != _HEADER]
                headers.append((_HEADER, request_id.encode()))
                message["headers"] = headers
                route = getattr(scope.get("route"), "path", metrics.UNROUTED)  # set by the router once matched
                metrics.RESPONSES.labels(route, str(message["status"])).inc()
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # A bug (an exception no handler maps) would otherwise be answered by Starlette's outermost
            # middleware, outside this one: a 500 without the request id that would find it in the logs.
            if started:
                raise
            await send_error(scope, send_with_id, exc)  # logs it with its traceback
        finally:
            request_id_var.reset(token)


class InFlightLimitMiddleware:
    """Bound the requests processed at once on /api/*: past the bound, 503 with Retry-After at once,
    so overload shows up as fast refusals instead of unbounded latency. Health and metrics stay open."""

    def __init__(self, app: ASGIApp, max_in_flight: int) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            error = GatewayOverloaded(f"the gateway is at its limit of {self.max_in_flight} requests in flight")
            await send_error(scope, send, error)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
