"""The local supervisor behind `realm up` (the original system's "Weaver").

Starts every service configured for this host as a child process, in dependency order, waiting for each to
report SERVING before starting what depends on it; restarts a crashed child with exponential backoff within a
restart budget per hour; stops everything in reverse order on SIGTERM/SIGINT/SIGHUP. Its state (pids, restarts)
is written atomically to <data_dir>/run/supervisor.json for `realm status` and `realm down`.

Children never outlive it: each leads its own process group (a terminal's Ctrl-C reaches only the supervisor,
which stops them in order) and gets SIGTERM from the kernel when the supervisor dies, SIGKILL included
(PR_SET_PDEATHSIG). A supervisor that died anyway leaves a state file the next start reclaims (realm_ops.runstate).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from realm.health import probe
from realm.runstate import read_supervisor_state, supervisor_state_path
from realm.settings import ServiceEndpoint, Settings
from realm_ops.environment import child_environment
from realm_ops.runstate import (
    STOP_GRACE_SECONDS,
    acquire_lock,
    atomic_write_json,
    check_ports,
    is_alive,
    reclaim_stale,
    request_shutdown,
    start_ticks,
    stop_processes,
)
from services.kit.lifetime import PARENT_PID_ENV
from services.kit.logs import LogPump, LogRotation, start_log_pump

RESTART_BACKOFF_START = 1.0
RESTART_BACKOFF_MAX = 30.0
DEFAULT_RESTART_BUDGET_PER_HOUR = 10
DEFAULT_START_TIMEOUT = 180.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
__all__ = ["Supervisor", "is_alive", "read_state", "request_shutdown", "start_order", "state_path"]


def start_order(services: list[ServiceEndpoint]) -> list[ServiceEndpoint]:
    """Topological order by depends_on (dependencies on services not run here are ignored)."""
    by_name = {s.name: s for s in services}
    ordered: list[ServiceEndpoint] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in (s.name for s in ordered):
            return
        if name in visiting:
            raise ValueError(f"dependency cycle through service {name!r}")
        visiting.add(name)
        for dep in by_name[name].depends_on:
            if dep in by_name:
                visit(dep)
        visiting.discard(name)
        ordered.append(by_name[name])

    for svc in services:
        visit(svc.name)
    return ordered


@dataclass
class Child:
    endpoint: ServiceEndpoint
    process: subprocess.Popen | None = None
    state: str = "STOPPED"  # STARTING, SERVING, NOT_SERVING, BACKOFF, FAILED, STOPPED
    restarts: deque = field(default_factory=deque)  # monotonic times of restarts in the last hour
    total_restarts: int = 0
    next_start_at: float = 0.0
    backoff: float = RESTART_BACKOFF_START
    started_at: float = 0.0
    last_exit: int | None = None
    start_ticks: int | None = None  # the kernel's start time of `process`: its identity in the state file


state_path = supervisor_state_path
read_state = read_supervisor_state


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        config_path: Path,
        *,
        only: list[str] | None = None,
        restart_budget_per_hour: int | None = None,
        start_timeout: float | None = None,
        on_event: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.config_path = Path(config_path).resolve()
        section = settings.section("supervisor")
        self.restart_budget = restart_budget_per_hour or int(
            section.get("restart_budget_per_hour", DEFAULT_RESTART_BUDGET_PER_HOUR)
        )
        self.start_timeout = start_timeout or float(section.get("start_timeout_seconds", DEFAULT_START_TIMEOUT))
        pass_env = section.get("pass_env", [])
        if not isinstance(pass_env, list) or not all(isinstance(n, str) for n in pass_env):
            raise ValueError("supervisor.pass_env must be a list of environment variable names")
        self.pass_env = tuple(pass_env)
        services = settings.services_on_host()
        if only:
            unknown = set(only) - {s.name for s in services}
            if unknown:
                raise ValueError(f"not configured on this host: {', '.join(sorted(unknown))}")
            services = [s for s in services if s.name in only]
        self.children = [Child(s) for s in start_order(services)]
        self.log_dir = settings.data_dir / "logs"
        self.log_rotation = LogRotation.from_section(settings.log_settings())
        self.log_pumps: dict[str, LogPump] = {}  # service -> the pump of its latest child
        self._on_event = on_event or (lambda service, state, message: None)
        self._stopping = False
        self._lock_fd: int | None = None
        self.reclaimed: dict[str, int] = {}  # leftovers of a dead supervisor stopped at start

    # -- start-up checks -------------------------------------------------------------------------------
    def claim(self) -> None:
        """Take the data directory: the lock, then leftovers of a dead supervisor, then free ports.

        SupervisorRunning when another supervisor holds it; PortInUse naming whoever holds a needed port.
        """
        if self._lock_fd is not None:
            return
        self._lock_fd = acquire_lock(self.settings)
        try:
            self.reclaimed = reclaim_stale(self.settings)
            check_ports(c.endpoint for c in self.children)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- child processes -------------------------------------------------------------------------------
    def _command(self, endpoint: ServiceEndpoint) -> list[str]:
        return [sys.executable, "-m", f"services.{endpoint.name}", "--config", str(self.config_path)]

    def _spawn(self, child: Child) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # A pipe pumped into a size/count-rotating file (services.kit.logs): a child's own O_APPEND fd could not rotate.
        log_fd, self.log_pumps[child.endpoint.name] = start_log_pump(self.log_dir / f"{child.endpoint.name}.log",
                                                                     self.log_rotation)
        try:
            child.process = subprocess.Popen(
                self._command(child.endpoint),
                stdout=log_fd,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # The child sets PR_SET_PDEATHSIG on itself first thing (kit lifetime): the kernel stops it if
                # the supervisor dies. No preexec_fn: it would make this gRPC-using process fork(), and gRPC's
                # fork handlers can abort the child before exec.
                env={**child_environment(self.settings, os.environ, self.pass_env), PARENT_PID_ENV: str(os.getpid())},
                cwd=str(self.settings.root),
                start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops children in order
            )
        finally:
            os.close(log_fd)  # the child holds the write end; the pump ends when the child (and its kin) exit
        child.start_ticks = start_ticks(child.process.pid)
        child.state = "STARTING"
        child.started_at = time.monotonic()
        self._event(child, "STARTING", f"pid {child.process.pid}")

    def _event(self, child: Child, state: str, message: str = "") -> None:
        self.write_state()
        try:
            self._on_event(child.endpoint.name, state, message)
        except Exception:  # a closed terminal or broken pipe must not keep the supervisor from stopping children
            self._on_event = lambda service, state, message: None

    def write_state(self) -> None:
        atomic_write_json(
            state_path(self.settings),
            {
                "supervisor_pid": os.getpid(),
                "supervisor_start_ticks": start_ticks(os.getpid()),
                "config": str(self.config_path),
                "update_time": time.time(),
                "services": {
                    c.endpoint.name: {
                        "pid": c.process.pid if c.process and c.process.poll() is None else None,
                        "start_ticks": c.start_ticks if c.process and c.process.poll() is None else None,
                        "state": c.state,
                        "address": c.endpoint.address,
                        "restarts": c.total_restarts,
                        "last_exit": c.last_exit,
                    }
                    for c in self.children
                },
            },
        )

    def _wait_serving(self, child: Child) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline and not self._stopping:
            if child.process is None or child.process.poll() is not None:
                return False
            if probe(child.endpoint, timeout=1.0).serving:
                child.state = "SERVING"
                child.backoff = RESTART_BACKOFF_START
                self._event(child, "SERVING", child.endpoint.address)
                return True
            time.sleep(0.2)
        return False

    # -- main loop -------------------------------------------------------------------------------------
    def start_all(self) -> None:
        for child in self.children:
            if self._stopping:
                return
            self._spawn(child)
            if not self._wait_serving(child):
                if child.process is not None and child.process.poll() is not None:
                    self._handle_exit(child)
                else:
                    self._event(child, child.state, "not SERVING yet; continuing")

    def _handle_exit(self, child: Child) -> None:
        assert child.process is not None
        child.last_exit = child.process.returncode
        child.process = None
        now = time.monotonic()
        while child.restarts and now - child.restarts[0] > 3600:
            child.restarts.popleft()
        if len(child.restarts) >= self.restart_budget:
            child.state = "FAILED"
            self._event(child, "FAILED", f"exit {child.last_exit}; restart budget ({self.restart_budget}/h) spent")
            return
        child.state = "BACKOFF"
        child.next_start_at = now + child.backoff
        self._event(child, "BACKOFF", f"exit {child.last_exit}; restarting in {child.backoff:.0f}s")
        child.backoff = min(child.backoff * 2, RESTART_BACKOFF_MAX)

    def poll_once(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.state == "FAILED":
                continue
            if child.process is not None and child.process.poll() is not None:
                self._handle_exit(child)
            elif child.process is None and child.state == "BACKOFF" and now >= child.next_start_at:
                child.restarts.append(now)
                child.total_restarts += 1
                self._spawn(child)
            elif child.process is not None and child.state in ("STARTING", "NOT_SERVING", "SERVING"):
                serving = probe(child.endpoint, timeout=1.0).serving
                new_state = "SERVING" if serving else ("STARTING" if child.state == "STARTING" else "NOT_SERVING")
                if new_state != child.state:
                    if new_state == "SERVING":
                        child.backoff = RESTART_BACKOFF_START
                    child.state = new_state
                    self._event(child, new_state, child.endpoint.address)

    def run(self, poll_interval: float = 0.5) -> None:
        self.claim()
        previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}

        def request_stop(signum, frame):
            self._stopping = True

        for signum in previous:
            signal.signal(signum, request_stop)
        try:
            self.write_state()
            self.start_all()
            while not self._stopping:
                self.poll_once()
                time.sleep(poll_interval)
        finally:
            try:
                self.stop_all()
            finally:
                self.release()
                for signum, handler in previous.items():
                    signal.signal(signum, handler)

    def stop_all(self) -> None:
        """Stop children in reverse start order: SIGTERM to each process group, SIGKILL after the grace."""
        self._stopping = True
        for child in reversed(self.children):
            process = child.process
            if process is None:
                continue
            if process.poll() is None:
                ticks = child.start_ticks or start_ticks(process.pid)
                stop_processes([(process.pid, ticks)], STOP_GRACE_SECONDS)
            process.wait()
            child.process = None
            child.state = "STOPPED"
            self._event(child, "STOPPED")
        self.write_state()
