"""TrainerClient: the trainer's generated RPCs plus helpers for uploading quests and following progress.

    from realm.sdk import connect
    trainer = connect().trainer
    quest = trainer.submit_quest("bin_l1.jsonl", priority="high")      # sidecar bin_l1.meta.json picked up
    for event in trainer.events(after_sequence=0):                      # follows until cancelled
        print(event.kind, event.step.loss)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from realm.sdk.core import ServiceClient
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
        timeout: float | None = None,
    ) -> Iterator[pb.Event]:
        """Events with sequence > after_sequence; follows new ones unless history_only. Reconnect with the
        last sequence you saw to continue without gaps or duplicates."""
        request = pb.StreamEventsRequest(after_sequence=after_sequence, history_only=history_only,
                                         kinds=[event_kind_value(k) for k in kinds])
        for response in self.StreamEvents(request, timeout=timeout):
            yield response.event

    def status(self) -> pb.RunStatus:
        return self.GetRunStatus(pb.GetRunStatusRequest()).status


CLIENT_CLASS = TrainerClient
