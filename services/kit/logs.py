"""structlog set-up (contextvars first, JSON off a TTY, console on one; stdlib loggers routed through it), and
the size- and count-bounded log files the supervisor writes each service's output into."""

from __future__ import annotations

import logging
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import structlog

from services.kit.config import ConfigError

_configured = False


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at emit time (test capture swaps it; a stale stream would be closed)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging(level: str = "info", fmt: str = "auto", service: str | None = None) -> None:
    """Configure structlog and the stdlib root logger once per process (idempotent)."""
    global _configured
    numeric = getattr(logging, str(level).upper(), logging.INFO)
    json_output = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if json_output else (lambda _, __, e: e),
            renderer,
        ],
    )
    handler = _CurrentStderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    # Noisy libraries go through the same handler, at warning unless debugging.
    for name in ("grpc", "transformers", "torch", "asyncio", "urllib3", "filelock"):
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
    if service:
        structlog.contextvars.bind_contextvars(service=service)
    _configured = True


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


# -- log files: size- and count-bounded rotation ---------------------------------------------------------------
# The supervisor gives each child a pipe instead of a file and pumps the bytes here, so every byte a service
# (or a library's C code, or a crash traceback) writes passes one writer that can rotate: a child holding an
# O_APPEND file descriptor would keep writing into a renamed file forever.

DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_LOG_BACKUPS = 5
PUMP_READ_BYTES = 64 * 1024


@dataclass(frozen=True)
class LogRotation:
    """`logging.max_bytes` (size of one file) and `logging.backups` (rotated files kept beside the live one)."""

    max_bytes: int = DEFAULT_LOG_MAX_BYTES
    backups: int = DEFAULT_LOG_BACKUPS

    @classmethod
    def from_section(cls, section: dict) -> LogRotation:
        max_bytes = section.get("max_bytes", DEFAULT_LOG_MAX_BYTES)
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1024:
            raise ConfigError("logging.max_bytes", f"must be an integer >= 1024, got {max_bytes!r}")
        backups = section.get("backups", DEFAULT_LOG_BACKUPS)
        if isinstance(backups, bool) or not isinstance(backups, int) or backups < 0:
            raise ConfigError("logging.backups", f"must be an integer >= 0, got {backups!r}")
        return cls(max_bytes, backups)


class RotatingLogFile:
    """`name.log` plus at most `backups` rotated files `name.log.1` (newest) .. `name.log.N`; no file passes
    `max_bytes`. Rotation cuts at the last line end that fits, so lines stay whole unless one is longer than a
    whole file. Thread-safe."""

    def __init__(self, path: str | os.PathLike[str], rotation: LogRotation) -> None:
        self.path = Path(path)
        self.rotation = rotation
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "ab", buffering=0)
        self._size = self._handle.tell()

    def write(self, data: bytes) -> None:
        with self._lock:
            while data:
                room = self.rotation.max_bytes - self._size
                if len(data) <= room:
                    self._handle.write(data)
                    self._size += len(data)
                    return
                cut = data.rfind(b"\n", 0, room) + 1 if room > 0 else 0
                if cut == 0 and self._size == 0:
                    cut = room  # one line longer than a whole file: split it rather than exceed the bound
                if cut:
                    self._handle.write(data[:cut])
                    data = data[cut:]
                self._rotate()

    def _rotate(self) -> None:
        self._handle.close()
        if self.rotation.backups == 0:
            self.path.unlink(missing_ok=True)
        else:
            Path(f"{self.path}.{self.rotation.backups}").unlink(missing_ok=True)
            for index in range(self.rotation.backups - 1, 0, -1):
                older = Path(f"{self.path}.{index}")
                if older.exists():
                    os.replace(older, f"{self.path}.{index + 1}")
            os.replace(self.path, f"{self.path}.1")
        self._handle = open(self.path, "ab", buffering=0)
        self._size = 0

    def close(self) -> None:
        with self._lock:
            self._handle.close()


class LogPump:
    """A daemon thread copying a child's output pipe into a RotatingLogFile until every writer closes it."""

    def __init__(self, read_fd: int, log_file: RotatingLogFile) -> None:
        self._fd = read_fd
        self._file = log_file
        self._thread = threading.Thread(target=self._run, name=f"log-pump:{log_file.path.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while chunk := os.read(self._fd, PUMP_READ_BYTES):
                self._file.write(chunk)
        except OSError:
            pass  # the pipe or the disk failed: the child keeps running, its output is lost, not its work
        finally:
            os.close(self._fd)
            self._file.close()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()


def start_log_pump(path: str | os.PathLike[str], rotation: LogRotation) -> tuple[int, LogPump]:
    """A pipe whose write end a child gets as stdout/stderr (close it in the parent after spawning), pumped
    into the rotating file at `path`."""
    read_fd, write_fd = os.pipe()
    return write_fd, LogPump(read_fd, RotatingLogFile(path, rotation))
