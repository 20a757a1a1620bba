"""Helpers every CLI command group uses: output flags, the connected SDK, JSON/table output, progress bars."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

console = Console(stderr=False)
err_console = Console(stderr=True)


def add_output_flags(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    return parser


def client(args: argparse.Namespace):
    """The SDK, connected with --config / $REALM_CONFIG and --token / $REALM_TOKEN (or the config's token)."""
    from realm.sdk import connect

    return connect(getattr(args, "config", None), token=getattr(args, "token", None))


def settings(args: argparse.Namespace):
    from realm.settings import load_settings

    return load_settings(getattr(args, "config", None))


def subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    """The sub-command action of a command group, so a plugin can add to it (e.g. `realm hero build-tiny`)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise LookupError(f"{parser.prog} has no sub-commands")


def to_dict(message: Message | Any) -> Any:
    if isinstance(message, Message):
        return json_format.MessageToDict(message, preserving_proto_field_name=True)
    if isinstance(message, list | tuple):
        return [to_dict(m) for m in message]
    return message


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def emit(args: argparse.Namespace, data: Any, columns: Sequence[str] | None = None, title: str | None = None) -> None:
    """--json: print JSON. Otherwise a table for lists of dicts (with `columns`), key/value rows for a dict."""
    data = to_dict(data)
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False))
        return
    if isinstance(data, list):
        if not data:
            console.print("(none)")
            return
        cols = list(columns or sorted({k for row in data for k in row}))
        table = Table(title=title)
        for col in cols:
            table.add_column(col)
        for row in data:
            table.add_row(*(_cell(row.get(col)) for col in cols))
        console.print(table)
    elif isinstance(data, dict):
        table = Table(title=title, show_header=False)
        table.add_column("field", style="bold")
        table.add_column("value")
        for key in columns or data.keys():
            table.add_row(key, _cell(data.get(key)))
        console.print(table)
    else:
        console.print(data)


def progress(total: float | None, description: str) -> _ProgressBar:
    return _ProgressBar(total, description)


class _ProgressBar:
    def __init__(self, total: float | None, description: str) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=False,
        )
        self._task = self._progress.add_task(description, total=total, info="")

    def __enter__(self) -> _ProgressBar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def advance(self, amount: float = 1) -> None:
        self._progress.advance(self._task, amount)

    def update(self, *, completed: float | None = None, total: float | None = None, info: str | None = None,
               description: str | None = None) -> None:
        fields: dict[str, Any] = {}
        if completed is not None:
            fields["completed"] = completed
        if total is not None:
            fields["total"] = total
        if info is not None:
            fields["info"] = info
        if description is not None:
            fields["description"] = description
        self._progress.update(self._task, **fields)


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"[red]error:[/red] {message}")
    raise SystemExit(code)


def rows(items: Iterable[Any]) -> list[Any]:
    return [to_dict(i) for i in items]
