"""The local supervisor's state file, <data_dir>/run/supervisor.json: read by `realm status`, written by realm_ops.

The file is the contract between the supervisor (ops package) and the user commands (clients): pids, states,
restarts per service, and the supervisor's own pid.
"""

from __future__ import annotations

import json
from pathlib import Path

from realm.settings import Settings


def supervisor_state_path(settings: Settings) -> Path:
    return settings.data_dir / "run" / "supervisor.json"


def read_supervisor_state(settings: Settings) -> dict | None:
    try:
        state = json.loads(supervisor_state_path(settings).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None
