"""The transformer's v2 calls to its predictor, over one pooled aiohttp session.

KServe's own client is an ``httpx.AsyncClient``. httpx's connection pool costs time per request that
grows with the number of connections: in a loopback test (`docs/benchmarks.md`) it managed 715
requests/s with 8 concurrent calls and 174 with 256, where aiohttp managed 6,014 and 3,984. Behind a
batching predictor the transformer holds hundreds of calls open, so the hop goes through aiohttp.
The wire format is KServe's own (``InferRequest.to_rest`` / ``InferResponse.from_bytes``), binary
tensor extension included.
"""

from __future__ import annotations

import asyncio
import os
import ssl

import aiohttp
import orjson
from kserve.constants.constants import INFERENCE_CONTENT_LENGTH_HEADER
from kserve.model import append_forwardable_headers
from kserve.protocol.infer_type import InferRequest, InferResponse

from feature_transformer.errors import PredictorFailed, PredictorUnavailable


class PredictorClient:
    def __init__(self, base_url: str, timeout_seconds: float, connections: int):
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        # Created on first use: an aiohttp session belongs to the running event loop.
        if self._session is None or self._session.closed:
            # As KServe does: a CA bundle for TLS to the predictor comes from REQUESTS_CA_BUNDLE.
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            tls = ssl.create_default_context(cafile=bundle) if bundle else True
            connector = aiohttp.TCPConnector(limit=self._connections, limit_per_host=self._connections, ssl=tls)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self._session

    async def infer(self, model_name: str, request: InferRequest, headers: dict[str, str] | None) -> InferResponse:
        data, json_length = request.to_rest()
        send_headers = append_forwardable_headers(headers, {"content-type": "application/json"})
        if json_length:  # binary tensor data after a JSON header of this length
            send_headers[INFERENCE_CONTENT_LENGTH_HEADER] = str(json_length)
            send_headers["content-type"] = "application/octet-stream"
        body = data if isinstance(data, bytes) else orjson.dumps(data)
        url = f"{self.base_url}/v2/models/{model_name}/infer"
        try:
            async with self._get_session().post(url, data=body, headers=send_headers) as response:
                content = await response.read()
                status = response.status
                header_length = response.headers.get(INFERENCE_CONTENT_LENGTH_HEADER)
        except TimeoutError:
            raise PredictorUnavailable("the predictor did not answer in time") from None
        except aiohttp.ClientError as exc:
            raise PredictorUnavailable(f"the predictor is unreachable ({type(exc).__name__})") from None
        if status in (429, 503):
            raise PredictorUnavailable(f"the predictor is unavailable (HTTP {status})")
        if status != 200:
            raise PredictorFailed(
                f"the predictor answered HTTP {status}", details={"body": content[:300].decode(errors="replace")}
            )
        return InferResponse.from_bytes(content, int(header_length or len(content)))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            # Let the connector's transports finish closing before the loop goes.
            await asyncio.sleep(0)
