"""The controller's transition tables (its behaviour is tested end to end in test_controller.py)."""

from __future__ import annotations

from services.trainer.controller import ENDINGS, SENDS, Ending
from services.trainer.worker.protocol import TERMINAL_EVENT_KINDS, ControlWord, WorkerEventKind


def test_every_attempt_outcome_has_an_ending():
    """ENDINGS covers every (terminal event, control word sent) pair a worker can produce."""
    for kind in (None, *TERMINAL_EVENT_KINDS):
        for word in (None, *ControlWord):
            assert isinstance(ENDINGS[(kind, word)], Ending)
    assert ENDINGS[(None, None)] is Ending.CRASHED and ENDINGS[(None, ControlWord.SKIP)] is Ending.SKIPPED


def test_a_terminal_event_speaks_for_itself_whatever_was_asked():
    for word in (None, *ControlWord):
        assert ENDINGS[(WorkerEventKind.COMPLETED, word)] is Ending.COMPLETED
        assert ENDINGS[(WorkerEventKind.STOPPED, word)] is Ending.HALTED


def test_a_stop_overrides_a_pending_pause_but_nothing_overrides_a_skip():
    assert SENDS[(ControlWord.STOP, ControlWord.PAUSE)] is True
    assert (ControlWord.PAUSE, ControlWord.STOP) not in SENDS
    assert (ControlWord.STOP, ControlWord.SKIP) not in SENDS
