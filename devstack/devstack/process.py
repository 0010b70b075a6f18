"""Starting, watching and stopping one service process, with its output prefixed by component."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Self

import httpx


def free_port(host: str = "127.0.0.1") -> int:
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports free now. Each socket stays bound until all are, so the system cannot hand
    one port out twice: two servers of one stack given the same port would leave the second dead on bind,
    and its clients talking to the first (a fresh-clone run once saw a transformer answer its own
    predictor's calls)."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]


class ManagedProcess:
    """A child process whose every output line goes to a log file and, optionally, to our stdout
    as ``[name] line``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        log_dir: Path,
        echo: bool = True,
        ready_url: str | None = None,
        ready_probe: Callable[[], bool] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.log_path = Path(log_dir) / f"{name}.log"
        self.echo = echo
        self.ready_url = ready_url
        self.ready_probe = ready_probe  # for a server that does not speak HTTP: True once it serves
        self.proc: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None

    def start(self) -> None:
        """RuntimeError while the process runs: a second one would lose the first, which nothing would stop."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError(f"{self.name} is already running (pid {self.proc.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._pump = threading.Thread(target=self._copy_output, name=f"log-{self.name}", daemon=True)
        self._pump.start()

    def _copy_output(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        prefix = f"[{self.name}] "
        with self.log_path.open("a", encoding="utf-8") as log:
            for raw in iter(self.proc.stdout.readline, b""):
                line = raw.decode("utf-8", errors="replace")
                log.write(line)
                log.flush()
                if self.echo:
                    sys.stdout.write(prefix + line)
                    sys.stdout.flush()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Poll ``ready_url`` until it answers 200 (or ``ready_probe`` until it is true); fail early, with the
        log's tail, if the process dies."""
        if self.ready_url is None and self.ready_probe is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"{self.name} exited with {self.proc and self.proc.returncode}:\n{self.tail()}")
            if self._ready():
                return
            time.sleep(0.25)
        where = f" at {self.ready_url}" if self.ready_url is not None else ""
        raise TimeoutError(f"{self.name} not ready after {timeout:.0f}s{where}:\n{self.tail()}")

    def _ready(self) -> bool:
        if self.ready_probe is not None:
            return self.ready_probe()
        assert self.ready_url is not None
        try:
            return httpx.get(self.ready_url, timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def tail(self, lines: int = 30) -> str:
        try:
            return "".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines(True)[-lines:])
        except FileNotFoundError:
            return ""

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (graceful: finish in-flight work), then SIGKILL after ``timeout``."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self._pump is not None:
            self._pump.join(timeout=5)
        return self.proc.returncode


class ProcessService:
    """A helper service that one managed process runs (an object store, a mail filter): a context manager that
    starts it on entry and stops it on exit."""

    process: ManagedProcess

    def start(self, timeout: float = 60.0) -> None:
        """Start the process and wait until it serves; a process that never does is stopped, not left running."""
        self.process.start()
        try:
            self.process.wait_ready(timeout)
        except BaseException:
            self.process.stop()
            raise

    def stop(self) -> None:
        self.process.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
