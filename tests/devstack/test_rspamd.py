"""The local Rspamd's configuration: what an administrator would put in /etc/rspamd, in a directory of its own."""

from __future__ import annotations

from pathlib import Path

from devstack.rspamd import INTEGRATION, Rspamd


def test_a_relative_directory_is_given_to_rspamd_as_absolute_paths(tmp_path, monkeypatch):
    # Rspamd changes its working directory: a relative LOCAL_CONFDIR left the module unloaded (make run's var/rspamd).
    monkeypatch.chdir(tmp_path)
    server = Rspamd("http://127.0.0.1:8080", Path("var/rspamd"), port=11999, controller_port=11998, timeout=1.5)
    argv = server.process.argv
    variables = dict(argv[i + 1].split("=", 1) for i, arg in enumerate(argv) if arg == "--var")
    assert set(variables) == {"LOCAL_CONFDIR", "DBDIR", "RUNDIR", "LOGDIR"}
    assert all(Path(v).is_absolute() and Path(v).is_relative_to(tmp_path) for v in variables.values())
    conf = tmp_path / "var/rspamd/etc"
    assert (conf / "plugins.d/textserve.lua").read_text() == (INTEGRATION / "plugins.d/textserve.lua").read_text()
    assert (conf / "rspamd.conf.local").read_text() == (INTEGRATION / "rspamd.conf.local").read_text()
    options = (conf / "local.d/textserve.conf").read_text().splitlines()
    assert options == ['url = "http://127.0.0.1:8080";', 'environment = "production";', "timeout = 1.5;"]
    # Rspamd's result as a header of the delivered message: where textserve_learn.py finds the request id.
    assert (conf / "local.d/milter_headers.conf").read_text() == "extended_spam_headers = true;\n"
    assert 'bind_socket = "127.0.0.1:11999";' in (conf / "override.d/worker-normal.inc").read_text()
    assert 'bind_socket = "127.0.0.1:11998";' in (conf / "override.d/worker-controller.inc").read_text()
    assert server.url == "http://127.0.0.1:11999" and server.controller_url == "http://127.0.0.1:11998"
