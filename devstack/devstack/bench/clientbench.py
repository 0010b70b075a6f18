"""``python -m devstack.bench.clientbench``: the HTTP client libraries the hops could use, on loopback.

A trivial ASGI server (uvicorn, in a subprocess) answers every POST at once; each client sends the
same 4,000 POSTs (a v2-sized JSON body) at several concurrency levels over one pooled session. What
is left is the client's own cost per request, the thing the transformer and gateway pay on every
call. It chose aiohttp over httpx for both hops (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx

from devstack.process import ManagedProcess, free_port

BODY = b'{"inputs": [{"name": "input_ids", "data": [' + b",".join([b"101"] * 256) + b"]}]}"


async def app(scope, receive, send) -> None:  # the server: reads the body, answers a fixed JSON
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"ok": true}'})


async def _run(send_one, requests: int, concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await send_one()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(requests)))
    return requests / (time.perf_counter() - started)


async def with_httpx(url: str, requests: int, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:
        return await _run(lambda: client.post(url, content=BODY), requests, concurrency)


async def with_aiohttp(url: str, requests: int, concurrency: int) -> float:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def send_one() -> None:
            async with session.post(url, data=BODY) as response:
                await response.read()

        return await _run(send_one, requests, concurrency)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack.bench.clientbench", description=__doc__)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 64, 256])
    args = parser.parse_args(argv)
    port = free_port()
    server = ManagedProcess(
        "echo-server",
        [sys.executable, "-m", "uvicorn", "devstack.bench.clientbench:app", "--port", str(port), "--no-access-log"],
        log_dir=Path(tempfile.mkdtemp(prefix="clientbench-")),
        echo=False,
        ready_url=f"http://127.0.0.1:{port}/",
    )
    url = f"http://127.0.0.1:{port}/"
    server.start()
    try:
        server.wait_ready(30)
        print("| concurrency | httpx req/s | aiohttp req/s |\n|---|---|---|")
        for c in args.concurrency:
            a = asyncio.run(with_httpx(url, args.requests, c))
            b = asyncio.run(with_aiohttp(url, args.requests, c))
            print(f"| {c} | {a:,.0f} | {b:,.0f} |", flush=True)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
