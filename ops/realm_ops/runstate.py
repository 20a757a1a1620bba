"""The supervisor's run state: one lock, one state file, and what to do with what a dead supervisor left.

- `<data_dir>/run/supervisor.lock` is held (flock) for the supervisor's lifetime. The kernel drops it when the
  process dies, however it dies, so "is a supervisor running?" never trusts a pid that may have been reused.
- `<data_dir>/run/supervisor.json` (format: realm.runstate) names the supervisor and each child with its pid and
  kernel start time, so a later `realm up` or `realm down` can stop leftovers of a supervisor that died — and
  only those processes, never an unrelated one that got the same pid.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from realm.runstate import read_supervisor_state
from realm.settings import ServiceEndpoint, Settings
from services.kit.files import atomic_write_text

STOP_GRACE_SECONDS = 10.0


class SupervisorRunning(RuntimeError):
    """Another supervisor holds this data directory."""


class PortInUse(RuntimeError):
    """A port this host's services need is bound by another process (named in the message)."""


def lock_path(settings: Settings) -> Path:
    return settings.data_dir / "run" / "supervisor.lock"


def atomic_write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=2))


def acquire_lock(settings: Settings) -> int:
    """The supervisor lock's fd (keep it open while running), or SupervisorRunning naming the holder."""
    path = lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        state = read_supervisor_state(settings) or {}
        raise SupervisorRunning(
            f"a supervisor is already running (pid {state.get('supervisor_pid', '?')}); `realm down` stops it"
        ) from None
    return fd


def is_locked(settings: Settings) -> bool:
    try:
        fd = os.open(lock_path(settings), os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


# -- processes ------------------------------------------------------------------------------------------
def start_ticks(pid: int) -> int | None:
    """The kernel's start time of `pid` (clock ticks since boot): with the pid, a process's identity."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == "Z":  # exited, not yet reaped: gone for our purposes
        return None
    return int(fields[19])


def is_alive(pid: int) -> bool:
    return start_ticks(pid) is not None


def same_process(pid: int | None, ticks: int | None) -> bool:
    return bool(pid) and ticks is not None and start_ticks(pid) == ticks


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def signal_group(pid: int, signum: int) -> None:
    """Signal the child's process group (it leads one), so what it spawned in its group goes too."""
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signum)
        except (ProcessLookupError, PermissionError):
            pass


def wait_gone(pids: Iterable[tuple[int, int]], timeout: float) -> list[int]:
    """Wait until every (pid, ticks) is gone or `timeout` passes; the pids still alive."""
    pending = list(pids)
    deadline = time.monotonic() + timeout
    while pending:
        pending = [(pid, ticks) for pid, ticks in pending if same_process(pid, ticks)]
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return [pid for pid, _ in pending]


def stop_processes(processes: Iterable[tuple[int, int]], grace: float = STOP_GRACE_SECONDS) -> list[int]:
    """SIGTERM each (pid, ticks) group still alive, SIGKILL after `grace`; the pids that were stopped."""
    alive = [(pid, ticks) for pid, ticks in processes if same_process(pid, ticks)]
    for pid, _ in alive:
        signal_group(pid, signal.SIGTERM)
    for pid in wait_gone(alive, grace):
        signal_group(pid, signal.SIGKILL)
    wait_gone(alive, 5.0)
    return [pid for pid, _ in alive]


def leftover_children(state: dict | None) -> dict[str, tuple[int, int]]:
    """Children a state file names that are still the very processes it recorded."""
    leftovers = {}
    for name, entry in ((state or {}).get("services") or {}).items():
        pid, ticks = (entry or {}).get("pid"), (entry or {}).get("start_ticks")
        if same_process(pid, ticks):
            leftovers[name] = (pid, ticks)
    return leftovers


def reclaim_stale(settings: Settings) -> dict[str, int]:
    """With the lock held: stop what a dead supervisor left running; {service: pid} of what was stopped."""
    leftovers = leftover_children(read_supervisor_state(settings))
    stopped = set(stop_processes(leftovers.values()))
    return {name: pid for name, (pid, _) in leftovers.items() if pid in stopped}


def request_shutdown(settings: Settings, timeout: float = 60.0) -> bool:
    """`realm down`, from any shell: stop the supervisor (it stops its children in order) and wait.

    When the supervisor is gone but left children behind, stop those. False when nothing was running.
    """
    state = read_supervisor_state(settings) or {}
    pid, ticks = state.get("supervisor_pid"), state.get("supervisor_start_ticks")
    if is_locked(settings) and same_process(pid, ticks):
        os.kill(pid, signal.SIGTERM)
        if wait_gone([(pid, ticks)], timeout):
            raise TimeoutError(f"supervisor pid {pid} still running after {timeout:.0f}s")
        return True
    return bool(reclaim_stale(settings))


# -- ports ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PortNeed:
    service: str
    host: str
    port: int
    what: str  # "gRPC" / "metrics"


def ports_needed(endpoints: Iterable[ServiceEndpoint]) -> list[PortNeed]:
    needs = []
    for endpoint in endpoints:
        if endpoint.port:
            needs.append(PortNeed(endpoint.name, endpoint.bind_host, endpoint.port, "port"))
        if endpoint.metrics_port:
            needs.append(PortNeed(endpoint.name, endpoint.bind_host, endpoint.metrics_port, "metrics port"))
    return needs


def port_is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # like the servers: TIME_WAIT is no holder
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def port_holders(port: int) -> list[int]:
    """Pids with a listening socket on `port` (those this user may inspect)."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    holders = []
    if not wanted:
        return holders
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in wanted for fd in (entry / "fd").iterdir()):
                holders.append(int(entry.name))
        except OSError:
            continue
    return holders


def check_ports(endpoints: Iterable[ServiceEndpoint]) -> None:
    """PortInUse naming each busy port and, where visible, the process that holds it."""
    problems = []
    for need in ports_needed(endpoints):
        if port_is_free(need.host, need.port):
            continue
        holders = port_holders(need.port)
        who = "; ".join(f"pid {pid}: {command_line(pid)}" for pid in holders) or "a process this user cannot see"
        problems.append(f"{need.service} {need.what} {need.host}:{need.port} is held by {who}")
    if problems:
        raise PortInUse("cannot start: " + " | ".join(problems))
