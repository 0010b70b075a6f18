import socket
import sys

import pytest

from devstack.process import ManagedProcess, free_ports
from devstack.stack import StackConfig


def test_free_ports_are_distinct_and_bindable():
    ports = free_ports(40)
    assert len(set(ports)) == 40
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))


def test_a_stack_never_gives_two_of_its_servers_one_port(tmp_path):
    for _ in range(20):
        config = StackConfig.on_free_ports({"staging": [], "production": []}, log_dir=tmp_path)
        ports = [
            config.gateway_port,
            *(p for pair in config.pair_ports.values() for p in (pair.transformer, pair.predictor)),
        ]
        assert len(set(ports)) == len(ports) == 5


def test_a_running_process_is_not_started_twice_and_a_stopped_one_starts_again(tmp_path):
    proc = ManagedProcess(
        "sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], log_dir=tmp_path, echo=False
    )
    proc.start()
    try:
        first = proc.proc
        with pytest.raises(RuntimeError, match="sleeper is already running"):
            proc.start()
        assert proc.proc is first  # still the one to stop
    finally:
        proc.stop()
    proc.start()  # stopped: it may start again, as the failure tests restart a killed server
    proc.stop()


def test_a_server_without_http_is_waited_for_by_its_probe_and_a_probe_never_true_times_out(tmp_path):
    answers = iter([False, False, True])
    proc = ManagedProcess(
        "probed",
        [sys.executable, "-c", "import time; time.sleep(60)"],
        log_dir=tmp_path,
        echo=False,
        ready_probe=lambda: next(answers),
    )
    proc.start()
    try:
        proc.wait_ready(10)  # returns at the third probe
        assert next(answers, "used up") == "used up"
        proc.ready_probe = lambda: False
        with pytest.raises(TimeoutError, match="probed not ready after 1s"):
            proc.wait_ready(1)
    finally:
        proc.stop()
