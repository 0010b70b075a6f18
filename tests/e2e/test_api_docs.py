"""/docs in a real headless Chromium with the network cut: every host but loopback resolves to nothing,
as in an air-gapped cluster. FastAPI's default page, which loads Swagger UI from a CDN, renders no
operation there; the gateway's own page must render every route of its OpenAPI schema."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser

import httpx
import pytest

from devstack.process import free_port
from devstack.stack import gateway_process

pytestmark = pytest.mark.e2e

NO_NETWORK = "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory):
    port = free_port()
    # No InferenceService behind it: the docs need none.
    gateway = gateway_process(
        "docs-gateway", port, "http://127.0.0.1:9", "http://127.0.0.1:9", log_dir=tmp_path_factory.mktemp("docs")
    )
    gateway.start()
    try:
        gateway.wait_ready(60)
        yield f"http://127.0.0.1:{port}"
    finally:
        gateway.stop()


class _AssetLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def _render(url: str, profile) -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Chromium is needed for this test: `make tools` installs it (Debian package chromium)"
    done = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            f"--host-resolver-rules={NO_NETWORK}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_docs_assets_come_from_the_gateway(gateway_url):
    page = httpx.get(f"{gateway_url}/docs", timeout=10)
    assert page.status_code == 200
    links = _AssetLinks()
    links.feed(page.text)
    assert links.urls, "the page loads no asset"
    for url in links.urls:
        assert url.startswith("/docs/assets/"), f"{url} is not served by the gateway"
        asset = httpx.get(f"{gateway_url}{url}", timeout=10)
        assert asset.status_code == 200 and asset.content, url
    assert httpx.get(f"{gateway_url}/redoc", timeout=10).status_code == 404  # no CDN page left behind


def test_docs_render_every_operation_without_network(gateway_url, tmp_path):
    dom = _render(f"{gateway_url}/docs", tmp_path / "profile")
    rendered = set(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', dom))
    schema = httpx.get(f"{gateway_url}/openapi.json", timeout=10).json()
    assert rendered == set(schema["paths"]), dom[-3000:]
    assert "/api/v1/predict" in rendered
