"""The live view: log records and events print as whole lines above the live region, never inside it."""

from __future__ import annotations

import io
import logging
import re

from rich.console import Console

from realm_ops.live import ConsoleLogHandler, LiveView


def test_log_records_and_events_go_through_the_live_consoles_own_lines():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None)
    root = logging.getLogger()
    before = list(root.handlers)
    with LiveView(console, progress=True) as view:
        assert [type(h) for h in root.handlers] == [ConsoleLogHandler]
        view.progress_update(completed=3, total=10, description="quest-a", info="step 3")
        view.console.file.flush()
        logging.getLogger("realm.test").warning("a log line while the bar is live")
        view.event("vault", "BACKOFF", "exit -9; restarting in 1s [soon]")
    assert root.handlers == before  # the previous handlers are back

    # Rich moves the cursor up and clears the region before each line: split on those control sequences.
    text = out.getvalue().replace("\x1b[2K", "\n").replace("\r", "\n")
    lines = [line for line in text.split("\n") if line.strip()]
    log_lines = [line for line in lines if "a log line while the bar is live" in line]
    event_lines = [line for line in lines if re.match(r"\d\d:\d\d:\d\d BACKOFF +vault +exit -9", line)]
    assert len(log_lines) == 1 and len(event_lines) == 1
    for line in log_lines + event_lines:
        assert "quest" not in line and "━" not in line  # no progress bar on the same line
    assert event_lines[0].endswith("restarting in 1s [soon]")  # markup in a message is printed, not parsed
