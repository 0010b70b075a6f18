"""How the prediction routes answer."""

from __future__ import annotations

from fastapi.responses import Response
from pydantic import BaseModel
from starlette.background import BackgroundTask

from api_gateway.inference import After


def json_response(model: BaseModel, after: After = None) -> Response:
    """The route's answer, serialised once. Routes still declare their response model (OpenAPI, docs);
    answering a Response skips FastAPI validating again what was built from validated parts. ``after``
    runs once the answer has been sent."""
    background = BackgroundTask(after) if after is not None else None
    return Response(model.model_dump_json(), media_type="application/json", background=background)
