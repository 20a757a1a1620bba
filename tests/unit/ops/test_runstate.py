"""Process identity, the supervisor lock and port holders, on real processes and sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from fixtures.kit import make_test_settings
from realm_ops.runstate import (
    PortInUse,
    SupervisorRunning,
    acquire_lock,
    check_ports,
    is_locked,
    port_holders,
    same_process,
    start_ticks,
    stop_processes,
)


def test_a_reused_pid_is_not_the_recorded_process():
    ticks = start_ticks(os.getpid())
    assert same_process(os.getpid(), ticks)
    assert not same_process(os.getpid(), ticks + 1)
    assert not same_process(None, ticks)


def test_a_second_lock_holder_is_refused_and_the_lock_dies_with_its_fd(tmp_path):
    settings = make_test_settings(tmp_path)
    fd = acquire_lock(settings)
    assert is_locked(settings)
    with pytest.raises(SupervisorRunning, match="already running"):
        acquire_lock(settings)
    os.close(fd)
    assert not is_locked(settings)
    os.close(acquire_lock(settings))


def test_the_holder_of_a_listening_port_is_named(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert os.getpid() in port_holders(port)
        raw_settings = make_test_settings(tmp_path)
        endpoint = raw_settings.service("vault").__class__(
            name="vault", host="local", connect_host="127.0.0.1", bind_host="127.0.0.1", port=port,
            metrics_port=None, depends_on=(), enabled=True)
        with pytest.raises(PortInUse, match=rf"vault port 127.0.0.1:{port} is held by pid {os.getpid()}"):
            check_ports([endpoint])
    check_ports([endpoint])  # free again


def test_stop_processes_ends_a_process_that_ignores_sigterm():
    stubborn = subprocess.Popen([sys.executable, "-c",
                                 "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                                 "print('ready', flush=True); time.sleep(600)"],
                                stdout=subprocess.PIPE, start_new_session=True)
    assert stubborn.stdout.readline().strip() == b"ready"
    stopped = stop_processes([(stubborn.pid, start_ticks(stubborn.pid))], grace=0.5)
    assert stopped == [stubborn.pid]
    assert stubborn.wait(10) == -9
