"""The transformer's v2 calls to its predictor, over one pooled aiohttp session.

KServe's own client is an ``httpx.AsyncClient``. httpx's connection pool costs time per request that
grows with the number of connections: in a loopback test (`docs/benchmarks.md`) it managed 715
requests/s with 8 concurrent calls and 174 with 256, where aiohttp managed 6,014 and 3,984. Behind a
batching predictor the transformer holds hundreds of calls open, so the hop goes through aiohttp.
Requests go as binary v2 and answers are read, binary or JSON, by the platform's one codec
(:mod:`serving_common.v2_binary`, the format KServe's SDK writes and reads), which keeps the answer's
``model_version``: KServe's ``InferResponse.from_bytes`` drops it.
"""

from __future__ import annotations

import asyncio
import os
import ssl

import aiohttp
from kserve.model import append_forwardable_headers
from kserve.protocol.infer_type import InferRequest

from feature_transformer.errors import PredictorFailed, PredictorUnavailable
from serving_common import v2_binary
from serving_common.errors import InvalidInput


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

    async def infer(self, model_name: str, request: InferRequest, headers: dict[str, str] | None) -> v2_binary.Message:
        """The predictor's answer to ``request`` (KServe's v2 request type, as preprocess builds it)."""
        tensors = [v2_binary.Tensor(t.name, t.as_numpy(), t.parameters or {}) for t in request.inputs]
        body, json_length = v2_binary.encode(tensors, "inputs", id=request.id, parameters=request.parameters)
        send_headers = append_forwardable_headers(headers, {"content-type": v2_binary.CONTENT_TYPE})
        send_headers[v2_binary.HEADER_LENGTH] = str(json_length)
        url = f"{self.base_url}/v2/models/{model_name}/infer"
        try:
            async with self._get_session().post(url, data=body, headers=send_headers) as response:
                content = await response.read()
                status = response.status
                header_length = response.headers.get(v2_binary.HEADER_LENGTH)
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
        try:  # a JSON answer (no header length) is a header with the values inline
            length = v2_binary.header_length(header_length, len(content)) if header_length else len(content)
            return v2_binary.decode(content, length, "outputs")
        except InvalidInput as exc:  # the predictor's fault, not the caller's
            raise PredictorFailed(f"the predictor's answer could not be read: {exc.message}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            # Let the connector's transports finish closing before the loop goes.
            await asyncio.sleep(0)
