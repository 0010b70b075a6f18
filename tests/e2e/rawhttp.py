"""HTTP/1.1 by hand over asyncio streams, for what well-behaved clients never do: huge, chunked,
stalled and dripping bodies, oversized heads. Loopback only; every loop is bounded in bytes or time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class RawAnswer:
    status: int | None  # None: the connection closed without an answer
    body: dict = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    sent_bytes: int = 0
    seconds: float = 0.0


def _address(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    assert parts.hostname in ("127.0.0.1", "localhost"), "raw HTTP tests talk to loopback only"
    return parts.hostname, parts.port or 80


def head(path: str, headers: dict[str, str], method: str = "POST") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int | None, dict[str, str], dict]:
    try:
        status_line = await reader.readline()
        if not status_line:
            return None, {}, {}
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        raw = await reader.readexactly(length) if length else b""
    except (ConnectionError, asyncio.IncompleteReadError):
        return None, {}, {}
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        body = {"raw": raw.decode(errors="replace")}
    return status, headers, body


async def send_big_body(
    base_url: str, path: str, total_bytes: int, *, chunked: bool, chunk: int = 1 << 20, deadline: float = 60.0
) -> RawAnswer:
    """Upload ``total_bytes`` as fast as the server takes them, reading its answer all along; stop at the
    answer, the server closing, or the deadline."""
    host, port = _address(base_url)
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(total_bytes)}
    writer.write(head(path, {"Content-Type": "application/json", **framing}))
    answer = asyncio.ensure_future(_read_answer(reader))
    sent = 0
    payload = b"x" * chunk
    try:
        async with asyncio.timeout(deadline):
            while sent < total_bytes and not answer.done():
                data = payload[: min(chunk, total_bytes - sent)]
                writer.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
                await writer.drain()
                sent += len(data)
                await asyncio.sleep(0)  # let the answer be read as soon as it arrives
            status, headers, body = await answer
    except (ConnectionError, TimeoutError):
        status, headers, body = await asyncio.wait_for(answer, 5) if not answer.cancelled() else (None, {}, {})
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return RawAnswer(status, body, headers, sent, time.perf_counter() - started)


async def drip_body(base_url: str, path: str, declared: int, every: float, deadline: float) -> RawAnswer:
    """Declare ``declared`` bytes and send one byte every ``every`` seconds until answered or ``deadline``."""
    host, port = _address(base_url)
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(head(path, {"Content-Type": "application/json", "Content-Length": str(declared)}))
    answer = asyncio.ensure_future(_read_answer(reader))
    sent = 0
    try:
        async with asyncio.timeout(deadline):
            while sent < declared - 1 and not answer.done():
                writer.write(b" ")
                await writer.drain()
                sent += 1
                await asyncio.wait({answer}, timeout=every)
            status, headers, body = await answer
    except (ConnectionError, TimeoutError):
        status, headers, body = (None, {}, {})
    finally:
        answer.cancel()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return RawAnswer(status, body, headers, sent, time.perf_counter() - started)


async def send_raw(base_url: str, data: bytes, deadline: float = 10.0) -> RawAnswer:
    """Send ``data`` as it is and read one answer (or the close)."""
    host, port = _address(base_url)
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(data)
        await writer.drain()
        status, headers, body = await asyncio.wait_for(_read_answer(reader), deadline)
    except ConnectionError:
        status, headers, body = None, {}, {}
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return RawAnswer(status, body, headers, len(data), time.perf_counter() - started)


async def closed_within(base_url: str, seconds: float, prefix: bytes = b"") -> float | None:
    """Open a connection, send ``prefix`` (maybe nothing) and wait for the server to close it."""
    host, port = _address(base_url)
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(prefix)
        await writer.drain()
        async with asyncio.timeout(seconds):
            while await reader.read(65536):
                pass
        return time.perf_counter() - started
    except TimeoutError:
        return None
    except ConnectionError:
        return time.perf_counter() - started
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def burst(base_url: str, path: str, bodies: list[bytes], headers: list[dict[str, str]]) -> list[RawAnswer]:
    """Open one connection per request, then send every request at once (microseconds apart, as a
    loaded gateway sees them; a Python HTTP client would space them by its own per-request work), and
    read every answer."""
    host, port = _address(base_url)
    connections = [await asyncio.open_connection(host, port) for _ in bodies]
    payloads = [
        head(path, {"Content-Type": "application/json", "Content-Length": str(len(body)), **extra}) + body
        for body, extra in zip(bodies, headers, strict=True)
    ]
    started = time.perf_counter()
    for (_, writer), payload in zip(connections, payloads, strict=True):
        writer.write(payload)
    answers = await asyncio.gather(*(asyncio.wait_for(_read_answer(reader), 30) for reader, _ in connections))
    elapsed = time.perf_counter() - started
    for _, writer in connections:
        writer.close()
    return [
        RawAnswer(status, body, hdrs, len(payload), elapsed)
        for (status, hdrs, body), payload in zip(answers, payloads, strict=True)
    ]
