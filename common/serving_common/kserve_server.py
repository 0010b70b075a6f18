"""What the two KServe components (feature transformer, model server) share about being served.

KServe's ``RESTServer`` always binds 0.0.0.0; locally and in tests everything binds loopback, so
the host is a flag here. The flag set is KServe's own (``kserve.model_server.parser``) plus ours,
so the arguments the KServe controller passes keep working.
"""

from __future__ import annotations

import argparse

import kserve
from kserve.model_server import parser as kserve_parser


def build_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(parents=[kserve_parser], description=description)
    # KServe defaults --model_name to "model"; ours default to the model directory's metadata.
    parser.set_defaults(model_name=None)
    parser.add_argument("--http_host", default="0.0.0.0", help="address the REST server binds")
    return parser


class ModelServer(kserve.ModelServer):
    def __init__(self, http_host: str = "0.0.0.0", **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.http_host = http_host

    async def _serve(self) -> None:
        # start() has built the uvicorn config but not started it yet: the bind host can still change.
        if self._rest_server is not None:
            self._rest_server.config.host = self.http_host
        await super()._serve()
