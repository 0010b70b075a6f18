"""Rspamd on loopback with textserve's module (``integrations/rspamd``) pointed at a gateway: what a mail platform
runs in front of textserve, started from the distribution's own configuration as an installation would be.

The installed configuration (``/etc/rspamd/rspamd.conf``) is used as it is; what an administrator would put in
``/etc/rspamd`` (the module in ``plugins.d/``, its options in ``local.d/textserve.conf``, the section that enables it
in ``rspamd.conf.local``) goes into a directory of this run's own, given as ``LOCAL_CONFDIR``, with the workers bound
to loopback ports and the databases, sockets and logs in that directory too. Nothing under ``/etc`` is written.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from devstack.process import ManagedProcess, ProcessService, free_ports

INTEGRATION = Path(__file__).resolve().parents[2] / "integrations" / "rspamd"
SYSTEM_CONFIG = Path("/etc/rspamd/rspamd.conf")


class Rspamd(ProcessService):
    """Rspamd asking the gateway at ``gateway_url`` about every message, in ``environment``; its scanning worker
    (``/checkv2``, where ``rspamc`` sends) on ``port`` and its controller (web interface) on ``controller_port``,
    free ports when not given. ``options`` are the module's other options (``timeout``, ``max_size``, the scores:
    integrations/rspamd/local.d/textserve.conf), its defaults where not given."""

    def __init__(
        self,
        gateway_url: str,
        work_dir: Path,
        *,
        environment: str = "production",
        port: int | None = None,
        controller_port: int | None = None,
        echo: bool = False,
        **options: str | float | int,
    ) -> None:
        binary = shutil.which("rspamd")
        if binary is None or not SYSTEM_CONFIG.is_file():
            raise FileNotFoundError("Rspamd is not installed (Debian's rspamd package: make tools installs it)")
        free = free_ports(3)
        self.port, self.controller_port, proxy_port = port or free[0], controller_port or free[1], free[2]
        self.url = f"http://127.0.0.1:{self.port}"
        self.controller_url = f"http://127.0.0.1:{self.controller_port}"
        work_dir = work_dir.resolve()  # Rspamd changes its directory: every path it is given is absolute
        conf = work_dir / "etc"
        for directory in ("plugins.d", "local.d", "override.d"):
            (conf / directory).mkdir(parents=True, exist_ok=True)
        for directory in ("db", "run", "log"):
            (work_dir / directory).mkdir(parents=True, exist_ok=True)
        shutil.copy(INTEGRATION / "plugins.d" / "textserve.lua", conf / "plugins.d" / "textserve.lua")
        shutil.copy(INTEGRATION / "rspamd.conf.local", conf / "rspamd.conf.local")
        # The module's options (its defaults, integrations/rspamd/local.d/textserve.conf, for what is not given).
        settings = {"url": gateway_url, "environment": environment, **options}
        (conf / "local.d" / "textserve.conf").write_text(
            "".join(f"{key} = {_ucl(value)};\n" for key, value in settings.items())
        )
        # Rspamd's result, textserve's symbols with their request ids included, as a header of the delivered message
        # (what integrations/textserve_learn.py reads when a user moves a message to or from Junk).
        (conf / "local.d" / "milter_headers.conf").write_text("extended_spam_headers = true;\n")
        overrides = {
            "worker-normal.inc": f'bind_socket = "127.0.0.1:{self.port}";\n',
            "worker-controller.inc": f'bind_socket = "127.0.0.1:{self.controller_port}";\n',
            "worker-proxy.inc": f'bind_socket = "127.0.0.1:{proxy_port}";\n',
            # To the process's output (ManagedProcess keeps it in the log directory).
            "logging.inc": 'type = "console";\nlevel = "info";\n',
            # No regular-expression database compiled by a helper process at start: PCRE runs the same rules.
            "options.inc": "disable_hyperscan = true;\n",
        }
        for name, text in overrides.items():
            (conf / "override.d" / name).write_text(text)
        argv = [binary, "--no-fork", "-c", str(SYSTEM_CONFIG)]
        for var, path in {"LOCAL_CONFDIR": conf, "DBDIR": "db", "RUNDIR": "run", "LOGDIR": "log"}.items():
            argv += ["--var", f"{var}={work_dir / path}"]
        if os.geteuid() == 0:  # "cannot run rspamd workers as root user" without these
            argv += ["--insecure", "-u", "root", "-g", "root"]
        self.process = ManagedProcess("rspamd", argv, log_dir=work_dir, echo=echo, ready_url=f"{self.url}/ping")


def _ucl(value: str | float | int) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)
