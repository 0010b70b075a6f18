"""The local spamd's configuration: what an administrator would put in /etc/spamassassin, in a directory of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.spamassassin import INTEGRATION, SYSTEM_CONFIG, Spamd


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory under /tmp that other users can pass (pytest's own base directory is closed to them)."""
    path = Path(tempfile.mkdtemp(prefix="textserve-spamd-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_site_configuration_is_the_distributions_with_textserves_files_and_the_given_settings_last(open_dir):
    tmp_path = open_dir
    (tmp_path / "work").mkdir()
    server = Spamd("http://127.0.0.1:8080", tmp_path / "work" / "spamd", port=11999, timeout=1.5)
    site = tmp_path / "work" / "spamd" / "etc"
    assert {p.name for p in SYSTEM_CONFIG.glob("*.pre")} <= {p.name for p in site.iterdir()}
    assert (site / "local.cf").read_bytes() == (SYSTEM_CONFIG / "local.cf").read_bytes()
    for name in ("textserve.pre", "TextServe.pm", "textserve.cf"):
        assert (site / name).read_bytes() == (INTEGRATION / name).read_bytes()
    # SpamAssassin reads *.cf in name order: the given settings come after textserve.cf's defaults, so they win.
    assert sorted(p.name for p in site.glob("*.cf"))[-1] == "textserve_local.cf"
    assert (site / "textserve_local.cf").read_text().splitlines() == [
        "textserve_url http://127.0.0.1:8080",
        "textserve_environment production",
        "textserve_timeout 1.5",
    ]
    argv = server.process.argv
    assert "--local" in argv and "--listen=127.0.0.1:11999" in argv and f"--siteconfigpath={site}" in argv
    if os.geteuid() == 0:  # checked as nobody, who can read the configuration
        assert "--username=nobody" in argv
        assert all(p.stat().st_mode & 0o004 for p in site.iterdir())


@pytest.mark.skipif(os.geteuid() != 0, reason="spamd switches to nobody only when started as root")
def test_as_root_a_directory_nobody_cannot_reach_is_refused_up_front(tmp_path):
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    with pytest.raises(ValueError, match=f"{closed} is closed to other users"):
        Spamd("http://127.0.0.1:8080", Path(closed / "spamd"))


def test_the_site_configuration_passes_spamassassins_lint(open_dir):
    """The plugin loads and its rules and settings parse: what ``spamassassin --lint`` checks before a reload."""
    server = Spamd("http://127.0.0.1:8080", open_dir / "spamd", timeout=2)
    command = ["spamassassin", "--lint", "-L", f"--siteconfigpath={server.site_config}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    (server.site_config / "textserve_local.cf").write_text("textserve_timeout soon\n")
    refused = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode != 0 and "textserve_timeout" in refused.stderr
