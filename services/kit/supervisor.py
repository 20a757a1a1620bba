"""The local supervisor behind `realm up` (the original system's "Weaver").

Starts every service configured for this host as a child process, in dependency order, waiting for each to
report SERVING before starting what depends on it; restarts a crashed child with exponential backoff within a
restart budget per hour; stops everything in reverse order on SIGTERM/SIGINT. Its state (pids, restarts) is
written atomically to <data_dir>/run/supervisor.json for `realm status` and `realm down`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from services.kit.config import ServiceEndpoint, Settings
from services.kit.health import probe

RESTART_BACKOFF_START = 1.0
RESTART_BACKOFF_MAX = 30.0
DEFAULT_RESTART_BUDGET_PER_HOUR = 10
DEFAULT_START_TIMEOUT = 180.0
STOP_GRACE_SECONDS = 10.0


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


def _atomic_write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    with open(tmp, "w") as handle:
        json.dump(data, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def state_path(settings: Settings) -> Path:
    return settings.data_dir / "run" / "supervisor.json"


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
        services = settings.services_on_host()
        if only:
            unknown = set(only) - {s.name for s in services}
            if unknown:
                raise ValueError(f"not configured on this host: {', '.join(sorted(unknown))}")
            services = [s for s in services if s.name in only]
        self.children = [Child(s) for s in start_order(services)]
        self.log_dir = settings.data_dir / "logs"
        self._on_event = on_event or (lambda service, state, message: None)
        self._stopping = False

    # -- child processes -------------------------------------------------------------------------------
    def _command(self, endpoint: ServiceEndpoint) -> list[str]:
        return [sys.executable, "-m", f"services.{endpoint.name}", "--config", str(self.config_path)]

    def _spawn(self, child: Child) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_file = open(self.log_dir / f"{child.endpoint.name}.log", "ab")
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        child.process = subprocess.Popen(
            self._command(child.endpoint),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=str(self.settings.root),
            start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops children in order
        )
        log_file.close()
        child.state = "STARTING"
        child.started_at = time.monotonic()
        self._event(child, "STARTING", f"pid {child.process.pid}")

    def _event(self, child: Child, state: str, message: str = "") -> None:
        self._on_event(child.endpoint.name, state, message)
        self.write_state()

    def write_state(self) -> None:
        _atomic_write_json(
            state_path(self.settings),
            {
                "supervisor_pid": os.getpid(),
                "config": str(self.config_path),
                "update_time": time.time(),
                "services": {
                    c.endpoint.name: {
                        "pid": c.process.pid if c.process and c.process.poll() is None else None,
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
        previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

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
            self.stop_all()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def stop_all(self) -> None:
        self._stopping = True
        for child in reversed(self.children):
            process = child.process
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            child.process = None
            child.state = "STOPPED"
            self._event(child, "STOPPED")
        self.write_state()


def read_state(settings: Settings) -> dict | None:
    try:
        return json.loads(state_path(settings).read_text())
    except (OSError, ValueError):
        return None


def request_shutdown(settings: Settings, timeout: float = 60.0) -> bool:
    """`realm down`: SIGTERM the supervisor and wait for it to exit. False when none is running."""
    state = read_state(settings)
    pid = state.get("supervisor_pid") if state else None
    if not pid or not is_alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_alive(pid):
            return True
        time.sleep(0.2)
    raise TimeoutError(f"supervisor pid {pid} still running after {timeout:.0f}s")


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # an exited process its parent has not reaped yet is a zombie: gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True
