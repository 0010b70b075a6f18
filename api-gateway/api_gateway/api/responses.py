"""How the prediction routes answer."""

from __future__ import annotations

from fastapi.responses import Response
from pydantic import BaseModel


def json_response(model: BaseModel) -> Response:
    """The route's answer, serialised once. Routes still declare their response model (OpenAPI, docs);
    answering a Response skips FastAPI validating again what was built from validated parts. FastAPI
    attaches the route's ``BackgroundTasks`` to it, to run once it has been sent."""
    return Response(model.model_dump_json(), media_type="application/json")
