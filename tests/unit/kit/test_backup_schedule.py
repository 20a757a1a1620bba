"""The kit's backup schedule: scheduled backups keep coming, a failing one does not end the schedule."""

from __future__ import annotations

import asyncio
import sqlite3

from fixtures.kit import make_test_settings
from services.kit.backup import REASON_SCHEDULED, BackupRecord, manager_for
from services.kit.maintenance import backup_schedule, cancel


async def test_the_schedule_takes_backups_and_survives_a_failure(tmp_path):
    settings = make_test_settings(tmp_path, backup={"keep": 2})
    manager = manager_for(settings, "trainer")
    store = settings.data_dir / "trainer.sqlite3"
    manager.declare("trainer", store)  # not created yet: the first scheduled backups fail
    outcomes: list[BackupRecord | Exception] = []
    three_good = asyncio.Event()

    def on_backup(outcome) -> None:
        outcomes.append(outcome)
        if len(outcomes) == 2:
            sqlite3.connect(store).execute("CREATE TABLE t (x)").connection.close()
        if sum(isinstance(o, BackupRecord) for o in outcomes) == 3:
            three_good.set()

    task = asyncio.get_running_loop().create_task(backup_schedule(manager, 0.01, on_backup))
    try:
        await asyncio.wait_for(three_good.wait(), 60)
    finally:
        await cancel(task)

    assert all(isinstance(o, Exception) for o in outcomes[:2])
    assert all(isinstance(o, BackupRecord) and o.reason == REASON_SCHEDULED for o in outcomes[2:])
    assert len(manager.list()) == 2  # keep = 2
