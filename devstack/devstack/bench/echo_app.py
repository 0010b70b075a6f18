"""A bare FastAPI app with the gateway's own request and response models, answering without any
upstream: the ceiling any Python front door on this machine could reach (``make bench``'s
serving-overhead rows compare the full path with it).

``python -m devstack.bench.echo_app --port 8099`` serves ``POST /api/v1/predict`` on loopback, under the same
uvicorn protocol and limits as the gateway, so the comparison is of the work, not of the server."""

from __future__ import annotations

import argparse
import time

import uvicorn
from fastapi import FastAPI

from api_gateway.api.schemas import EmailIn, PredictOut
from serving_common.http_limits import HttpLimitSettings


def create_app() -> FastAPI:
    app = FastAPI(title="echo")

    @app.post("/api/v1/predict", response_model=PredictOut)
    async def predict(body: EmailIn) -> PredictOut:
        started = time.perf_counter()
        return PredictOut(
            prediction="ham",
            spam_probability=0.01,
            confidence="high",
            truncated=False,
            email_id=body.email_id,
            environment="staging",
            model_name="echo",
            model_version="echo",
            request_id="echo",
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(
        create_app(),
        host="127.0.0.1",
        port=args.port,
        log_config=None,
        access_log=False,
        **HttpLimitSettings().uvicorn_options(),
    )


if __name__ == "__main__":
    main()
