"""SpamAssassin's daemon (spamd) on loopback with textserve's plugin (``integrations/spamassassin``) pointed at a
gateway: what a mail platform runs in front of textserve, with the distribution's own rules and site configuration.

What an administrator would put in ``/etc/spamassassin`` (the distribution's ``*.pre`` files and ``local.cf``, with
textserve's ``textserve.pre``, ``TextServe.pm`` and ``textserve.cf`` beside them) goes into a directory of this
run's own, given to spamd as its site configuration; its rules are the installed ones (``/usr/share/spamassassin``).
Network tests are off (``-L``: no DNS here). Nothing under ``/etc`` is written. Started as root, spamd checks
mail as ``nobody``, as Debian's spamd checks it as its own user: the directory must be readable by everyone then.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
from pathlib import Path

from devstack.process import ManagedProcess, ProcessService, free_port

INTEGRATION = Path(__file__).resolve().parents[2] / "integrations" / "spamassassin"
SYSTEM_CONFIG = Path("/etc/spamassassin")
FILES = ("textserve.pre", "TextServe.pm", "textserve.cf")


class Spamd(ProcessService):
    """spamd asking the gateway at ``gateway_url`` about every message, in ``environment``, on ``port`` (where
    ``spamc -p`` sends; a free port when not given). ``options`` are the plugin's other settings without their
    ``textserve_`` prefix (``timeout``, ``max_size``, ``api_key``: integrations/spamassassin/textserve.cf), its
    defaults where not given."""

    def __init__(
        self,
        gateway_url: str,
        work_dir: Path,
        *,
        environment: str = "production",
        port: int | None = None,
        echo: bool = False,
        **options: str | float | int,
    ) -> None:
        binary, self.spamc = shutil.which("spamd") or shutil.which("spamd", path="/usr/sbin"), shutil.which("spamc")
        if binary is None or self.spamc is None or not SYSTEM_CONFIG.is_dir():
            raise FileNotFoundError("SpamAssassin is not installed (Debian's spamd, spamc: make tools installs them)")
        self.port = port or free_port()
        work_dir = work_dir.resolve()
        self.site_config = work_dir / "etc"
        self.site_config.mkdir(parents=True, exist_ok=True)
        for path in [*SYSTEM_CONFIG.glob("*.pre"), SYSTEM_CONFIG / "local.cf"]:
            shutil.copy(path, self.site_config / path.name)
        for name in FILES:
            shutil.copy(INTEGRATION / name, self.site_config / name)
        # The plugin's settings after textserve.cf's own, so these win (SpamAssassin reads *.cf in name order).
        settings = {"url": gateway_url, "environment": environment, **options}
        (self.site_config / "textserve_local.cf").write_text(
            "".join(f"textserve_{key} {value}\n" for key, value in settings.items())
        )
        argv = [binary, "--local", f"--siteconfigpath={self.site_config}", f"--listen=127.0.0.1:{self.port}"]
        argv += ["--max-children=2", "--min-children=1", "--syslog=stderr", f"--pidfile={work_dir / 'spamd.pid'}"]
        if os.geteuid() == 0:  # spamd will not check mail as root
            argv += ["--username=nobody"]
            _readable_by_everyone(work_dir)
        self.process = ManagedProcess("spamd", argv, log_dir=work_dir, echo=echo, ready_probe=self.ping)

    def ping(self) -> bool:
        """spamd's own liveness check (the SPAMC protocol's PING), as ``spamc -K`` sends it."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2.0) as conn:
                conn.sendall(b"PING SPAMC/1.5\r\n\r\n")
                return conn.recv(64).startswith(b"SPAMD/1.5 0 PONG")
        except OSError:
            return False

    def check(self, message: bytes, timeout: float = 60.0) -> bytes:
        """The message as spamd returns it to the MTA (``spamc``): SpamAssassin's headers added."""
        command = [str(self.spamc), "-d", "127.0.0.1", "-p", str(self.port), "-x"]
        done = subprocess.run(command, input=message, capture_output=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"spamc exited with {done.returncode}: {done.stderr.decode(errors='replace')}")
        return done.stdout


def _readable_by_everyone(work_dir: Path) -> None:
    """spamd's children, as ``nobody``, read the site configuration: ValueError naming a directory on the way that
    they could not pass."""
    for path in [work_dir, *work_dir.parents]:
        if path != work_dir and not path.stat().st_mode & stat.S_IXOTH:
            raise ValueError(f"{path} is closed to other users: spamd's children (nobody) cannot read {work_dir}")
    for path in [work_dir, *work_dir.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0))
