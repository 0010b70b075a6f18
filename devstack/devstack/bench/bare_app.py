"""The bench's anchor: a bare FastAPI app, one route, one pydantic model in and one out, no middleware,
uvicorn on its defaults. What one plain Python HTTP hop costs on this machine; ``make bench``'s
serving-overhead rows give the full path as a share of it (the gateway-shaped echo,
:mod:`devstack.bench.echo_app`, is the second row).

``python -m devstack.bench.bare_app --port 8098`` serves ``POST /api/v1/predict`` on loopback."""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel


class EmailIn(BaseModel):
    email_content: str


class VerdictOut(BaseModel):
    prediction: str
    spam_probability: float


def create_app() -> FastAPI:
    app = FastAPI(title="bare")

    @app.post("/api/v1/predict")
    async def predict(body: EmailIn) -> VerdictOut:
        return VerdictOut(prediction="ham", spam_probability=0.01 if body.email_content else 0.0)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(create_app(), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
