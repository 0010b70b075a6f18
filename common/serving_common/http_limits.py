"""What every HTTP server of the platform refuses cheaply: oversized or stalled bodies, oversized or
too many headers, connections that never send a request, idle keep-alive connections.

Two pieces, used by the gateway and by both KServe components alike:

- :func:`bounded_protocol` returns a uvicorn ``httptools`` protocol class that bounds the request
  head (bytes and header count, 431) and the time a connection may take to send it (closed), the
  way nginx's ``large_client_header_buffers`` and ``client_header_timeout`` do. uvicorn itself bounds
  neither.
- :class:`BodyLimitMiddleware` refuses a declared ``Content-Length`` over the limit with 413 before
  reading a byte, cuts a chunked or lying body off as soon as it passes the limit (413), and answers
  408 to a body that does not arrive within its deadline (nginx's ``client_max_body_size`` and
  ``client_body_timeout``); a body under a ``Content-Encoding`` (gzip, ...) is 415 before it is read,
  since bodies are read as sent. It reads the body *before* the application runs, so the work bounds
  inside (the gateway's in-flight limit) count requests that have arrived, never stalled uploads.

Refusals keep the platform's one error shape and close the connection with a lingering close: what the
client is still sending is read and dropped for at most ``LINGER_SECONDS`` (never buffered), so the client
reads the answer instead of a connection reset, and the rest of a 200 MB upload is never read.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from serving_common.errors import (
    HeadersTooLarge,
    PayloadTooLarge,
    PlatformError,
    RequestTimeout,
    UnsupportedContentEncoding,
)
from serving_common.http_errors import error_body, send_error

MIB = 1024 * 1024
_STATUS_TEXT = {408: b"Request Timeout", 413: b"Content Too Large", 431: b"Request Header Fields Too Large"}
_METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class HttpLimitSettings(BaseModel):
    """The fields a service's settings carry for its HTTP server (mixed into each service's settings,
    which are then passed as they are wherever limits are needed)."""

    max_body_bytes: int = Field(
        default=64 * MIB, ge=1024, description="Largest request body accepted, in bytes; past it: 413."
    )
    body_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Time allowed for a request's whole body to arrive; past it: 408."
    )
    max_header_bytes: int = Field(
        default=16 * 1024, ge=1024, description="Largest request head (request line + headers), in bytes; 431."
    )
    max_headers: int = Field(default=100, ge=8, description="Most header fields in one request; past it: 431.")
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Time a connection has to send a complete request head; then it is closed."
    )
    keepalive_seconds: int = Field(
        default=65,
        ge=1,
        description="How long an idle keep-alive connection is kept (above common load balancers' 60 s).",
    )

    def uvicorn_options(self) -> dict[str, Any]:
        """What ``uvicorn.run``/``uvicorn.Config`` takes to enforce the connection-level limits."""
        return {"http": bounded_protocol(self), "timeout_keep_alive": self.keepalive_seconds}


def _refusal_bytes(error: PlatformError) -> bytes:
    """A whole HTTP response for a refusal made below the ASGI application (no request id yet)."""
    body = error_body(error, None)
    head = [
        b"HTTP/1.1 %d %s" % (error.status_code, _STATUS_TEXT[error.status_code]),
        b"content-type: application/json",
        b"content-length: %d" % len(body),
        b"connection: close",
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class _HeadLimitExceeded(Exception):
    pass


# After refusing a request whose body is still arriving, the server half-closes and reads (and drops)
# what the client still sends for at most this long, so the client reads the refusal instead of a
# connection reset (nginx's lingering close).
LINGER_SECONDS = 2.0


class _LingeringTransport:
    """The connection's transport, with ``close()`` made a lingering close while a request is unread."""

    def __init__(self, transport: asyncio.Transport, protocol: Any) -> None:
        self._transport = transport
        self._protocol = protocol
        self._lingering = False
        # The calls made on every request, bound once (not looked up through __getattr__ each time).
        self.write = transport.write
        self.get_extra_info = transport.get_extra_info
        self.pause_reading = transport.pause_reading
        self.resume_reading = transport.resume_reading

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def is_closing(self) -> bool:
        return self._lingering or self._transport.is_closing()

    def close(self) -> None:
        if self.is_closing():
            if not self._lingering:
                return
            self._transport.close()  # a second close ends the linger (the client's EOF, the timer)
            return
        if not self._protocol._mid_request or not self._transport.can_write_eof():
            self._transport.close()
            return
        self._lingering = True
        self._protocol._discarding = True
        self._transport.write_eof()  # the answer is flushed first, then FIN
        self._transport.resume_reading()
        asyncio.get_running_loop().call_later(LINGER_SECONDS, self._transport.close)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the request head bounded in size, count and time."""

    def __init__(self, *args: Any, limits: HttpLimitSettings, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._mid_request = False
        self._discarding = False
        super().connection_made(_LingeringTransport(transport, self))  # type: ignore[arg-type]
        self._head_bytes = 0
        self._head_size = 0
        self._head_fields = 0
        self._head_refusal: tuple[str, dict[str, Any]] | None = None
        self._in_head = True
        self._refused = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._start_head_timer()

    def _start_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = asyncio.get_running_loop().call_later(
                self._limits.header_timeout_seconds, self._head_timed_out
            )

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            # Nothing is answered: the request line may not even have arrived.
            self.transport.close()

    def _refuse_head(self, message: str, details: dict[str, Any]) -> None:
        self._refused = True
        self._stop_head_timer()
        self.transport.write(_refusal_bytes(HeadersTooLarge(message, details=details)))
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._refused or self._discarding:
            return
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self._limits.max_header_bytes:
                self._refuse_head(
                    f"the request head exceeds {self._limits.max_header_bytes} bytes",
                    {"max_header_bytes": self._limits.max_header_bytes},
                )

    def send_400_response(self, msg: str) -> None:
        if self._head_refusal is not None:  # a limit stopped the parser (see on_url / on_header)
            self._refuse_head(*self._head_refusal)
            return
        super().send_400_response(msg)

    def eof_received(self) -> None:
        if self._discarding:
            self.transport.close()
        super().eof_received()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._mid_request = True
        self._in_head = True
        self._head_bytes = 0
        self._head_size = 0
        self._head_fields = 0
        self._head_refusal = None
        self._start_head_timer()

    def _count_head(self, size: int, fields: int = 0) -> None:
        self._head_size += size
        self._head_fields += fields
        if self._head_fields > self._limits.max_headers:
            self._head_refusal = (
                f"the request has more than {self._limits.max_headers} header fields",
                {"max_headers": self._limits.max_headers},
            )
        elif self._head_size > self._limits.max_header_bytes:
            self._head_refusal = (
                f"the request head exceeds {self._limits.max_header_bytes} bytes",
                {"max_header_bytes": self._limits.max_header_bytes},
            )
        if self._head_refusal is not None:
            raise _HeadLimitExceeded  # the parser reports it; send_400_response answers 431

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4, fields=1)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._stop_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._mid_request = False
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Between requests the keep-alive timeout applies, not the head timeout.
        self._in_head = True
        self._head_bytes = 0

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)


def bounded_protocol(limits: HttpLimitSettings) -> Callable[..., HttpToolsProtocol]:
    """The protocol factory uvicorn's ``http`` option takes. A partial of a module-level class, so a
    uvicorn config holding it pickles (KServe hands the config to the worker processes it spawns)."""
    return functools.partial(BoundedHttpToolsProtocol, limits=limits)


class BodyLimitMiddleware:
    """Read the request body, bounded in size and time, before the application sees the request."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, body_timeout_seconds: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_seconds = body_timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _METHODS_WITH_BODY:
            await self.app(scope, receive, send)
            return
        try:
            if (coding := _content_coding(scope)) is not None:
                raise UnsupportedContentEncoding(coding)
            declared = _content_length(scope)
            if declared is not None and declared > self.max_body_bytes:
                raise self._too_large(f"the request body declares {declared} bytes")
            messages = await self._read_body(receive)
        except (PayloadTooLarge, RequestTimeout, UnsupportedContentEncoding) as refusal:
            await send_error(scope, send, refusal, close=True)
            return
        if messages is None:  # the client went away while sending
            return
        await self.app(scope, _replay(messages, receive), send)

    def _too_large(self, what: str) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"{what}; the limit is {self.max_body_bytes} bytes", details={"max_body_bytes": self.max_body_bytes}
        )

    async def _read_body(self, receive: Receive) -> list[Message] | None:
        messages: list[Message] = []
        received = 0
        try:
            async with asyncio.timeout(self.body_timeout_seconds):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return None
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        raise self._too_large(f"the request body passed {self.max_body_bytes} bytes")
                    messages.append(message)
                    if not message.get("more_body", False):
                        return messages
        except TimeoutError:
            raise RequestTimeout(
                f"the request body did not arrive within {self.body_timeout_seconds:g} s",
                details={"body_timeout_seconds": self.body_timeout_seconds, "received_bytes": received},
            ) from None


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP parser has already refused a malformed length
    return None


def _content_coding(scope: Scope) -> str | None:
    """The request's Content-Encoding when it is anything but identity (a gzip body read as sent is garbage: the
    JSON or the message it holds would be misreported as malformed)."""
    for key, value in scope["headers"]:
        if key == b"content-encoding":
            coding: str = value.decode("latin-1").strip()
            if any(c.strip().lower() not in ("", "identity") for c in coding.split(",")):
                return coding
    return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()  # after the body: the disconnect, when it comes

    return replay
