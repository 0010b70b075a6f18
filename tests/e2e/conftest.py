"""One real platform for every end-to-end test module: two model-servers, two feature transformers and
the gateway, each its own process on loopback."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from devstack.process import ManagedProcess, free_port
from devstack.stack import LocalStack, StackConfig, gateway_process
from tests.deploy.dashboards import rule_groups


@pytest.fixture(scope="session")
def inference_log_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("inference-log")


@pytest.fixture(scope="session")
def stack(stack_model_dirs, inference_log_dir, tmp_path_factory):
    config = StackConfig.on_free_ports(
        stack_model_dirs,
        log_dir=tmp_path_factory.mktemp("logs"),
        echo=False,
        inference_log_url=str(inference_log_dir),
        feedback_log_url=str(inference_log_dir.parent / "feedback-log"),
        # Per-request log lines on in staging only (tracing tests read them); production keeps the default.
        predictor_args={"staging": ["--enable_latency_logging", "true"]},
        transformer_args={"staging": ["--enable_latency_logging", "true"]},
        # A short body deadline, so the drip test of the KServe components ends quickly.
        component_env={"FEATURE_TRANSFORMER_BODY_TIMEOUT_SECONDS": "3", "MODEL_SERVER_BODY_TIMEOUT_SECONDS": "3"},
        # Production's traffic is mirrored to staging, as `make run` does, so every metric the dashboards
        # read exists (tests/e2e/test_prometheus.py); shadow behaviour itself is tested in test_shadow.py.
        gateway_env={"GATEWAY_SHADOW_SHARES": json.dumps({"spam-detector": 1.0, "intent-classifier": 1.0})},
    )
    stack = LocalStack(config)
    gateway = stack.processes["gateway"]
    # The gateway first, alone: it must report not-ready while no InferenceService is up.
    gateway.start()
    try:
        gateway.wait_ready(60)
        before = httpx.get(f"{stack.gateway_url}/ready", timeout=10)
        stack.ready_before_load = (before.status_code, before.json())
        for name, proc in stack.processes.items():
            if name != "gateway":
                proc.start()
        for proc in stack.processes.values():
            proc.wait_ready(180)
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def api(stack):
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        yield client


@contextmanager
def extra_gateway(name: str, log_dir, staging_url: str, production_url: str, **settings: str):
    """A gateway process of its own on loopback (GATEWAY_* settings as keyword arguments, upper-cased),
    for tests that need other settings than the shared stack's; yields (process, base URL)."""
    port = free_port()
    env = {f"GATEWAY_{k.upper()}": v for k, v in settings.items()}
    gateway = gateway_process(name, port, staging_url, production_url, log_dir=log_dir, env=env)
    gateway.start()
    try:
        gateway.wait_ready(60)
        yield gateway, f"http://127.0.0.1:{port}"
    finally:
        gateway.stop()


def transformer_process(
    name: str, log_dir, model_dir, predictor_port: int, transformer_args=(), env=None
) -> ManagedProcess:
    """A feature transformer of its own on loopback in front of the predictor on ``predictor_port``, with its
    base URL in ``.url``. Its inference log goes under ``log_dir`` unless its flags say otherwise."""
    port = free_port()
    transformer = ManagedProcess(
        name,
        [
            sys.executable,
            "-m",
            "feature_transformer",
            "--http_port",
            str(port),
            "--http_host",
            "127.0.0.1",
            "--enable_grpc",
            "false",
            "--model_dir",
            str(model_dir),
            "--predictor_host",
            f"127.0.0.1:{predictor_port}",
            "--predictor_protocol",
            "v2",
            "--inference_log_url",
            str(log_dir / "inference-log"),
            *transformer_args,
        ],
        log_dir=log_dir,
        env=env,
        echo=False,
        ready_url=f"http://127.0.0.1:{port}/v2/health/live",
    )
    transformer.url = f"http://127.0.0.1:{port}"
    return transformer


@contextmanager
def extra_pair(name: str, log_dir, model_dir, predictor_args=(), transformer_args=(), env=None):
    """A model-server + feature-transformer pair of its own on loopback, serving ``model_dir``, for
    tests that need another model or other flags than the shared stack's; yields (predictor, transformer)
    as ManagedProcesses with their base URLs in ``.url``. The transformer's inference log goes under
    ``log_dir`` unless its flags say otherwise; ``env`` reaches both processes."""
    predictor_port = free_port()
    common = ["--http_host", "127.0.0.1", "--enable_grpc", "false", "--model_dir", str(model_dir)]
    predictor = ManagedProcess(
        f"{name}-predictor",
        [sys.executable, "-m", "model_server", "--http_port", str(predictor_port), *common, *predictor_args],
        log_dir=log_dir,
        env=env,
        echo=False,
        ready_url=f"http://127.0.0.1:{predictor_port}/v2/health/ready",
    )
    transformer = transformer_process(f"{name}-transformer", log_dir, model_dir, predictor_port, transformer_args, env)
    predictor.url = f"http://127.0.0.1:{predictor_port}"
    for proc in (predictor, transformer):
        proc.start()
    try:
        for proc in (predictor, transformer):
            proc.wait_ready(120)
        yield predictor, transformer
    finally:
        transformer.stop()
        predictor.stop()


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"timed out waiting for {what}")


@contextmanager
def running_prometheus(work: Path, scrape_configs: list[dict]):
    """A real Prometheus (Debian's package) on loopback with the platform's rules, scraping every second;
    yields its base URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed (make test installs Debian's package)")
    work.mkdir(parents=True, exist_ok=True)
    # The shipped rules, evaluated every second like the scrapes: a group's first evaluation falls anywhere in
    # its interval (30 s as shipped), which a test would otherwise wait out.
    groups = rule_groups()
    for group in groups["groups"]:
        group["interval"] = "1s"
    (work / "rules.yaml").write_text(yaml.safe_dump(groups))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(work / "rules.yaml")],
        "scrape_configs": scrape_configs,
    }
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    with open(work / "prometheus.log", "w") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{base}/-/ready", timeout=2).status_code == 200, 60, "Prometheus ready")
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def silent_gateway() -> Iterator[str]:
    """The URL of a port that accepts connections and never answers (the mail filters' tests)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        yield f"http://127.0.0.1:{silent.getsockname()[1]}"


@pytest.fixture(scope="module")
def flooding_gateway() -> Iterator[str]:
    """The URL of a port that answers every request with a 200 declaring 64 MiB of body and sends it as fast as
    the client reads (the mail filters' tests): a client that holds whatever it is sent would hold all of it."""
    stop = threading.Event()
    chunk = b"0" * 65536

    def flood(conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 67108864\r\n\r\n")
                for _ in range(1024):
                    if stop.is_set():
                        return
                    conn.sendall(chunk)
            except OSError:  # the client gave up and closed
                return

    yield from _serving(stop, flood)


@pytest.fixture(scope="module")
def dripping_gateway() -> Iterator[str]:
    """The URL of a port that answers every request with a status line, then one header byte every 0.2 s for ever:
    never silent for long, never done (the mail filters' tests). A client that bounds each wait on the socket rather
    than the whole call would wait on it without end."""
    stop = threading.Event()

    def drip(conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while not stop.wait(0.2):
                    conn.sendall(b"X")
            except OSError:  # the client gave up and closed
                return

    yield from _serving(stop, drip)


def _serving(stop: threading.Event, answer: Callable[[socket.socket], None]) -> Iterator[str]:
    """A loopback port whose every connection ``answer`` handles on a thread of its own, until ``stop``."""

    def serve(server: socket.socket) -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:  # closed at the end
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        threading.Thread(target=serve, args=(server,), daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.getsockname()[1]}"
        finally:
            stop.set()
            server.shutdown(socket.SHUT_RDWR)
