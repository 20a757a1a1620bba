"""The worker's side of the mantra: the job's mantra applied to every chat row before tokenising.

The rule itself lives in services/kit/mantra.py (`apply_mantra`), the one function the inference service uses too.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from services.kit.mantra import apply_mantra_to_row
from services.trainer.worker.protocol import Job


def job_mantra_date(job: Job) -> datetime.date:
    """The date that fills {date}: the job's (fixed when the quest started, so a resume tokenises the same rows)."""
    return datetime.date.fromisoformat(job.mantra_date) if job.mantra_date else datetime.date.today()


def rows_with_mantra(job: Job, rows: Sequence[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    if job.mantra is None:
        return list(rows)
    today = job_mantra_date(job)
    return [(line, apply_mantra_to_row(row, job.mantra, today=today)) for line, row in rows]
