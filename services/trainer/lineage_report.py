"""The data lineage of a campaign: every quest with where its rows came from (generator id and version from its
sidecar, the validator that accepted it, schema, rows, bytes, sha256) and the checkpoints saved while training on
it (from the checkpoint outbox, with their vault assets once registered), aggregated by generator and version.

Read-only over the trainer's own tables; the vault holds the same checkpoint -> quest link in each checkpoint's
lineage (`quest`, `source_assets`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from services.kit.errors import InvalidArgument, NotFound
from services.trainer.models import Quest


@dataclass(frozen=True)
class CheckpointRef:
    asset: str
    global_step: int
    state: str


@dataclass(frozen=True)
class QuestLineage:
    quest: Quest
    generator: str
    generator_version: str
    validator_version: str
    checkpoints: tuple[CheckpointRef, ...]


@dataclass(frozen=True)
class GeneratorLineage:
    generator: str
    generator_version: str
    quests: int = 0
    rows: int = 0
    checkpoints: int = 0
    validator_versions: tuple[str, ...] = ()
    schema_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class CampaignLineage:
    campaign: str
    quests: tuple[QuestLineage, ...] = ()
    generators: tuple[GeneratorLineage, ...] = field(default_factory=tuple)


def _sidecar(quest: Quest) -> dict:
    try:
        data = json.loads(quest.sidecar_json) if quest.sidecar_json else {}
    except ValueError:
        return {}  # intake refuses a non-JSON sidecar; an old row may still carry one
    return data if isinstance(data, dict) else {}


def quest_lineage(quest: Quest, outbox_rows: list[dict]) -> QuestLineage:
    sidecar = _sidecar(quest)
    generator = str(sidecar.get("generator") or quest.labels.get("generator", ""))
    version = sidecar.get("generator_version", quest.labels.get("generator_version", ""))
    checkpoints = tuple(CheckpointRef(row.get("asset", ""), int(row["global_step"]), str(row["state"]).lower())
                        for row in sorted(outbox_rows, key=lambda r: r["global_step"]))
    return QuestLineage(quest, generator, "" if version is None else str(version),
                        str(quest.validation.get("validator_version", "")), checkpoints)


def aggregate(quests: list[QuestLineage]) -> tuple[GeneratorLineage, ...]:
    groups: dict[tuple[str, str], list[QuestLineage]] = {}
    for item in quests:
        groups.setdefault((item.generator, item.generator_version), []).append(item)
    return tuple(GeneratorLineage(
        generator=generator, generator_version=version, quests=len(items),
        rows=sum(i.quest.rows for i in items), checkpoints=sum(len(i.checkpoints) for i in items),
        validator_versions=tuple(sorted({i.validator_version for i in items if i.validator_version})),
        schema_ids=tuple(sorted({i.quest.schema_id for i in items if i.quest.schema_id})),
    ) for (generator, version), items in sorted(groups.items()))


def campaign_lineage(campaign: str, quests: list[Quest], outbox_rows: list[dict]) -> CampaignLineage:
    """`quests` of the campaign (any order) and the outbox rows (any campaign): the report, oldest quest first."""
    by_quest: dict[str, list[dict]] = {}
    for row in outbox_rows:
        by_quest.setdefault(row["quest"], []).append(row)
    items = [quest_lineage(q, by_quest.get(q.name, [])) for q in sorted(quests, key=lambda q: (q.create_time,
                                                                                                q.quest_id))]
    return CampaignLineage(campaign, tuple(items), aggregate(items))


def read_campaign_lineage(campaigns, queue, outbox, campaign: str) -> CampaignLineage:
    """The report from the trainer's stores (CampaignBook, QuestQueue, CheckpointOutbox)."""
    if not campaign:
        raise InvalidArgument("name the campaign (campaigns/{id})", field="campaign")
    try:
        found = campaigns.get(campaign)
    except NotFound as exc:
        raise NotFound(exc.message, field="campaign") from None
    quests: list[Quest] = []
    token = ""
    while True:
        page, token = queue.list(campaign=found.name, page_size=1000, page_token=token)
        quests += page
        if not token:
            break
    return campaign_lineage(found.name, quests, outbox.rows())
