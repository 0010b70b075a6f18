"""An S3-compatible object store on loopback: moto's standalone server, as s3fs's own test suite runs one.

The platform reaches it the way it reaches S3 in a cluster: s3fs (through fsspec) with the usual AWS
variables, ``AWS_ENDPOINT_URL`` naming the server. Its data lives in the server's memory and is gone when
it stops; its credentials are made up per run (the secret is random, so a test can look for it in logs).
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import fsspec

from devstack.process import ManagedProcess, ProcessService, free_port

# The buckets of a cluster (docs/object-storage.md).
BUCKETS = ("textserve-models", "textserve-inference-log", "textserve-feedback-log", "textserve-drift-reports")
REGION = "us-east-1"


class ObjectStore(ProcessService):
    def __init__(self, log_dir: Path, *, port: int | None = None, host: str = "127.0.0.1", echo: bool = False):
        self.host = host
        self.port = port or free_port(host)
        self.endpoint = f"http://{host}:{self.port}"
        self.access_key = "textserve-local"
        self.secret_key = secrets.token_hex(20)
        self.process = ManagedProcess(
            "object-store",
            [sys.executable, "-m", "moto.server", "-H", host, "-p", str(self.port)],
            log_dir=log_dir,
            echo=echo,
            ready_url=f"{self.endpoint}/moto-api/",
        )

    def env(self) -> dict[str, str]:
        """What a process needs to reach the store as it would reach S3."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": REGION,
        }

    def filesystem(self) -> fsspec.AbstractFileSystem:
        """An s3fs filesystem on this store, for the caller's own process (no environment needed)."""
        return fsspec.filesystem(
            "s3",
            key=self.access_key,
            secret=self.secret_key,
            endpoint_url=self.endpoint,
            skip_instance_cache=True,
        )

    def start(self, timeout: float = 60.0, buckets: tuple[str, ...] = BUCKETS) -> None:
        super().start(timeout)
        try:
            self.create_buckets(buckets)
        except BaseException:  # a store that cannot be set up is not left running
            self.process.stop()
            raise

    def create_buckets(self, buckets: tuple[str, ...] = BUCKETS) -> None:
        fs = self.filesystem()
        for bucket in buckets:
            # Tolerates a bucket made meanwhile: s3fs's makedirs, which the log writers retry with, makes a
            # missing bucket, so a writer can make one between a check and this call.
            fs.makedirs(bucket, exist_ok=True)
