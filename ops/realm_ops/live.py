"""One terminal view for `realm up` and `realm play`: a live region (service states, training progress) with
event and log lines printed above it — never over it.

Everything that writes to the terminal goes through one rich Console: the live region, event lines, and the
process's log records (the root logger's handler is swapped for one that prints through that console). Rich
then clears the live region, prints the line, and redraws the region below it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

STATE_STYLES = {"SERVING": "green", "STARTING": "yellow", "BACKOFF": "yellow", "FAILED": "red", "STOPPED": "dim",
                "NOT_SERVING": "red"}


class ConsoleLogHandler(logging.Handler):
    """Prints log records through the live view's console (formatted by the handler it replaces)."""

    def __init__(self, console: Console, formatter: logging.Formatter | None = None) -> None:
        super().__init__()
        self.console = console
        if formatter is not None:
            self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.print(Text(self.format(record)), soft_wrap=True)
        except Exception:
            self.handleError(record)


class LiveView:
    """`with LiveView(console) as view:` — `view.event(...)`, `view.line(...)`, `view.progress_update(...)`."""

    def __init__(self, console: Console | None = None, *, progress: bool = False) -> None:
        self.console = console or Console(stderr=True)
        self.states: dict[str, tuple[str, str]] = {}
        self.progress: Progress | None = None
        self._task: Any = None
        if progress:
            self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
                                     TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=self.console)
            self._task = self.progress.add_task("waiting for a quest", total=None, info="")
        self._live = Live(get_renderable=self._render, console=self.console, refresh_per_second=4,
                          transient=True, redirect_stdout=True, redirect_stderr=True)
        self._replaced: list[logging.Handler] = []

    def _render(self) -> Group:
        parts: list[Any] = []
        if self.states:
            table = Table.grid(padding=(0, 2))
            for name, (state, message) in self.states.items():
                table.add_row(Text(name, style="bold"), Text(state, style=STATE_STYLES.get(state, "white")),
                              Text(message, style="dim"))
            parts.append(table)
        if self.progress is not None:
            parts.append(self.progress.get_renderable())
        return Group(*parts)

    def __enter__(self) -> LiveView:
        root = logging.getLogger()
        self._replaced = list(root.handlers)
        formatter = next((h.formatter for h in self._replaced if h.formatter is not None), None)
        for handler in self._replaced:
            root.removeHandler(handler)
        root.addHandler(ConsoleLogHandler(self.console, formatter))
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.stop()
        root = logging.getLogger()
        for handler in list(root.handlers):
            if isinstance(handler, ConsoleLogHandler) and handler.console is self.console:
                root.removeHandler(handler)
        for handler in self._replaced:
            root.addHandler(handler)

    def line(self, markup: str) -> None:
        """A line above the live region (rich markup)."""
        self.console.print(markup, soft_wrap=True)

    def event(self, service: str, state: str, message: str) -> None:
        """A supervisor event: the service's row in the live region, and one line above it."""
        self.states[service] = (state, message)
        style = STATE_STYLES.get(state, "white")
        self.line(f"{time.strftime('%H:%M:%S')} [{style}]{state:<11}[/] {escape(service):<11} {escape(message)}")

    def progress_update(self, **fields: Any) -> None:
        if self.progress is not None:
            self.progress.update(self._task, **fields)
