"""TrainerClient: the trainer's generated RPCs plus helpers for uploading quests and following progress.

    from realm.sdk import connect
    trainer = connect().trainer
    quest = trainer.submit_quest("bin_l1.jsonl", priority="high")      # sidecar bin_l1.meta.json picked up
    for event in trainer.events(from_now=True):                         # new events, until cancelled
        print(event.kind, event.step.loss)
    report = campaign_report(connect(), "campaigns/road")              # timeline: levels, trials, steps
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc

from realm.sdk.core import ServiceClient
from realm.trainer.v1 import loop_time_pb2 as loop_pb
from realm.trainer.v1 import quest_view_pb2 as quest_view_pb
from realm.trainer.v1 import trainer_pb2 as pb

CHUNK_BYTES = 1024 * 1024


def priority_value(priority: int | str) -> int:
    """"high" / "PRIORITY_HIGH" / 1 -> 1."""
    if isinstance(priority, int):
        return priority
    name = priority.upper()
    return pb.Priority.Value(name if name.startswith("PRIORITY_") else f"PRIORITY_{name}")


def event_kind_value(kind: int | str) -> int:
    if isinstance(kind, int):
        return kind
    name = kind.upper()
    return pb.EventKind.Value(name if name.startswith("EVENT_KIND_") else f"EVENT_KIND_{name}")


def sidecar_for(path: Path) -> Path:
    """quest.jsonl -> quest.meta.json"""
    return path.with_name(path.name.removesuffix(".jsonl") + ".meta.json")


class TrainerClient(ServiceClient):
    def submit_quest(
        self,
        source: str | os.PathLike[str],
        *,
        campaign: str = "",
        priority: int | str = "normal",
        display_name: str = "",
        labels: Mapping[str, str] | None = None,
        schema_id: str = "",
        sidecar_json: str | None = None,
        source_label: str = "upload",
    ) -> pb.Quest:
        """Stream a JSONL file to SubmitQuest. The quest comes back QUEUED or REJECTED (with its report);
        `campaign` empty = the active campaign. The `.meta.json` sidecar next to the file is sent when present."""
        path = Path(source)
        if sidecar_json is None:
            sidecar = sidecar_for(path)
            sidecar_json = sidecar.read_text(encoding="utf-8") if sidecar.is_file() else ""
        header = pb.QuestHeader(
            campaign=campaign, display_name=display_name or path.name.removesuffix(".jsonl"),
            priority=priority_value(priority), schema_id=schema_id, sidecar_json=sidecar_json,
            labels=dict(labels or {}), source=source_label,
        )

        def messages() -> Iterator[pb.SubmitQuestRequest]:
            yield pb.SubmitQuestRequest(header=header)
            with open(path, "rb") as handle:
                while block := handle.read(CHUNK_BYTES):
                    yield pb.SubmitQuestRequest(chunk=block)

        return self.SubmitQuest(messages()).quest

    def submit_quest_bytes(self, data: bytes, *, display_name: str, **header: str | int) -> pb.Quest:
        def messages() -> Iterator[pb.SubmitQuestRequest]:
            yield pb.SubmitQuestRequest(header=pb.QuestHeader(
                display_name=display_name, campaign=str(header.get("campaign", "")),
                priority=priority_value(header.get("priority", "normal")),
                schema_id=str(header.get("schema_id", "")), sidecar_json=str(header.get("sidecar_json", "")),
                source=str(header.get("source", "upload"))))
            for start in range(0, len(data), CHUNK_BYTES):
                yield pb.SubmitQuestRequest(chunk=data[start : start + CHUNK_BYTES])

        return self.SubmitQuest(messages()).quest

    def events(
        self, after_sequence: int = 0, *, kinds: Iterable[int | str] = (), history_only: bool = False,
        from_now: bool = False, timeout: float | None = None,
    ) -> Iterator[pb.Event]:
        """Events with sequence > after_sequence; follows new ones unless history_only. `from_now` (with
        after_sequence 0) skips the history: only events published after the call. Reconnect with the last
        sequence you saw to continue without gaps or duplicates."""
        request = pb.StreamEventsRequest(after_sequence=after_sequence, history_only=history_only,
                                         from_now=from_now, kinds=[event_kind_value(k) for k in kinds])
        for response in self.StreamEvents(request, timeout=timeout):
            yield response.event

    def status(self) -> pb.RunStatus:
        return self.GetRunStatus(pb.GetRunStatusRequest()).status

    def quest_preview(self, quest: str, rows: int = 5) -> quest_view_pb.GetQuestPreviewResponse:
        """The first `rows` rows (1-100) of a quest's file, as the trainer keeps it (bounded in bytes)."""
        name = quest if quest.startswith("quests/") else f"quests/{quest}"
        return self.GetQuestPreview(quest_view_pb.GetQuestPreviewRequest(name=name, rows=rows))

    def queue_estimate(self, campaign: str) -> quest_view_pb.EstimateQuestQueueResponse:
        """Steps, duration and start time of each quest of the campaign's queue, in run order."""
        name = campaign if campaign.startswith("campaigns/") else f"campaigns/{campaign}"
        return self.EstimateQuestQueue(quest_view_pb.EstimateQuestQueueRequest(campaign=name))



# ---- campaign report ----------------------------------------------------------------------------------------
def _seconds(timestamp) -> float:
    return timestamp.seconds + timestamp.nanos / 1e9 if timestamp and (timestamp.seconds or timestamp.nanos) else 0.0


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="seconds") if seconds else ""


def _minutes(seconds: float, start: float) -> float | None:
    return round((seconds - start) / 60.0, 2) if seconds and start else None


def _pages(fetch, items: str) -> list:
    """Every item of a paginated List call; `fetch(page_token)` returns one response."""
    result, token = [], ""
    while True:
        response = fetch(token)
        result.extend(getattr(response, items))
        token = response.next_page_token
        if not token:
            return result


def campaign_report(realm, campaign: str, *, now: float | None = None) -> dict[str, Any]:
    """A campaign's timeline, read through the SDK only: levels reached per skill with times (the curriculum's
    progression history), accuracy per trial and regime (its evaluations), steps and wall time (the trainer).

    Wall time runs from the first quest start to `now`; `minutes` columns are relative to that start (to the
    campaign's creation when no quest has started). A curriculum that cannot be reached leaves its sections
    empty and says so in `curriculum_error`."""
    from realm.curriculum.v1 import curriculum_pb2 as cpb

    name = campaign if campaign.startswith("campaigns/") else f"campaigns/{campaign}"
    now = time.time() if now is None else now
    info = realm.trainer.GetCampaign(pb.GetCampaignRequest(name=name)).campaign
    quests = _pages(lambda token: realm.trainer.ListQuests(
        pb.ListQuestsRequest(campaign=name, page_size=500, page_token=token)), "quests")
    starts = [_seconds(q.start_time) for q in quests if _seconds(q.start_time)]
    first_start = min(starts) if starts else 0.0
    origin = first_start or _seconds(info.create_time)
    by_state: dict[str, int] = {}
    for quest in quests:
        state = pb.QuestState.Name(quest.state).removeprefix("QUEST_STATE_")
        by_state[state] = by_state.get(state, 0) + 1
    report: dict[str, Any] = {
        "campaign": name, "display_name": info.display_name, "hero": info.hero,
        "state": pb.CampaignState.Name(info.state).removeprefix("CAMPAIGN_STATE_"),
        "training": {
            "global_step": int(info.global_step), "trained_tokens": int(info.trained_tokens),
            "first_quest_start": _iso(first_start),
            "wall_seconds": round(now - first_start, 1) if first_start else 0.0,
        },
        "quests": {"total": len(quests), "by_state": by_state,
                   "by_source": _count(q.source or "upload" for q in quests)},
        "skills": [], "trials": [], "curriculum_error": "", "loop": _loop_time(realm, name),
    }
    try:
        progress = realm.curriculum.GetCampaignProgress(cpb.GetCampaignProgressRequest(campaign=name)).progress
        evaluations = _pages(lambda token: realm.curriculum.ListEvaluations(
            cpb.ListEvaluationsRequest(campaign=name, page_size=200, page_token=token)), "evaluations")
    except grpc.RpcError as exc:
        report["curriculum_error"] = f"{exc.code().name}: {exc.details()}"
        return report
    step_of: dict[str, int] = {}
    for skill in progress.skills:
        report["skills"].append({
            "skill": skill.skill.removeprefix("skills/"), "enabled": skill.enabled,
            "mastered_level": skill.mastered_level, "training_level": skill.training_level,
            "max_level": skill.max_level,
            "levels": [{"from_level": c.from_level, "to_level": c.to_level, "time": _iso(_seconds(c.time)),
                        "minutes": _minutes(_seconds(c.time), origin), "checkpoint": c.checkpoint,
                        "mean_accuracy": round(c.mean_accuracy, 4)} for c in skill.progression],
        })
        for point in skill.accuracy_history:
            step_of.setdefault(point.checkpoint, int(point.global_step))
    trial_seconds = 0.0
    for evaluation in sorted(evaluations, key=lambda e: (_seconds(e.create_time), e.name)):
        when = _seconds(evaluation.end_time) or _seconds(evaluation.create_time)
        started, ended = _seconds(evaluation.start_time), _seconds(evaluation.end_time)
        cost = round(ended - started, 2) if started and ended >= started else None
        trial_seconds += cost or 0.0
        report["trials"].append({
            "evaluation": evaluation.name, "checkpoint": evaluation.checkpoint,
            "global_step": step_of.get(evaluation.checkpoint), "full": evaluation.full,
            "state": cpb.EvaluationState.Name(evaluation.state).removeprefix("EVALUATION_STATE_"),
            "time": _iso(when), "minutes": _minutes(when, origin), "seconds": cost,
            "results": [{"skill": r.skill.removeprefix("skills/"), "level": r.level,
                         "regime": cpb.Regime.Name(r.regime).removeprefix("REGIME_").lower(),
                         "accuracy": round(r.accuracy, 4), "correct": r.correct, "total": r.total}
                        for r in evaluation.results],
        })
    if report["loop"]:
        # Trials run in the curriculum, beside the trainer's loop (they share its host's CPU on one machine).
        report["loop"]["trial_seconds"] = round(trial_seconds, 1)
    return report


LOOP_PHASES = ("training", "worker_startup", "checkpoint_save", "waiting_for_data", "idle")


def _loop_time(realm, name: str) -> dict[str, Any]:
    """The trainer's time split of the campaign's loop (GetLoopTime); {} from a trainer that does not have it."""
    try:
        loop = realm.trainer.GetLoopTime(loop_pb.GetLoopTimeRequest(campaign=name)).loop_time
    except grpc.RpcError as exc:
        if exc.code() in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.NOT_FOUND):
            return {}
        raise
    return {"seconds": {phase: round(getattr(loop, f"{phase}_seconds"), 1) for phase in LOOP_PHASES},
            "wall_seconds": round(loop.wall_seconds, 1), "busy_share": round(loop.busy_share, 4),
            "upload_seconds": round(loop.upload_seconds, 1), "worker_starts": int(loop.worker_starts),
            "worker_reuses": int(loop.worker_reuses), "since": _iso(_seconds(loop.since))}


def _count(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


CLIENT_CLASS = TrainerClient
