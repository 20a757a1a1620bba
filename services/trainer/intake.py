"""Quest intake: store the file durably, validate it (curriculum + token-length guardrail), queue or reject.

A rejected quest is kept (state REJECTED) with its report. When the curriculum cannot be reached the quest
stays VALIDATING and the controller retries later: nothing submitted is lost.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
import os
import shutil
import statistics
import threading
import time
import uuid
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.kit.errors import FailedPrecondition, InvalidArgument, RealmError, Unavailable
from services.kit.mantra import Mantra, apply_mantra
from services.trainer.campaigns import CampaignBook
from services.trainer.events import EventLog
from services.trainer.heroes import HeroRegistry, HeroSpec
from services.trainer.models import CampaignState, EventKind, Priority, Quest, QuestState, mint_id
from services.trainer.ports import DatasetSource, DatasetValidator
from services.trainer.quests import QuestQueue

MAX_FINDINGS_PER_KIND = 20
TOKENIZE_BATCH = 256


@dataclass(frozen=True)
class QuestHeader:
    campaign: str = ""
    display_name: str = ""
    priority: Priority = Priority.NORMAL
    schema_id: str = ""
    sidecar_json: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    source: str = "upload"


def _sidecar_schema(sidecar_json: str) -> str:
    if not sidecar_json:
        return ""
    try:
        sidecar = json.loads(sidecar_json)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"sidecar is not JSON: {exc}", field="header.sidecar_json") from None
    if not isinstance(sidecar, dict):
        raise InvalidArgument("sidecar must be a JSON object", field="header.sidecar_json")
    return str(sidecar.get("schema_id") or sidecar.get("schema") or "")


def sniff_schema(path: Path) -> str:
    """Schema of a file that names none (no header schema, no sidecar): from its first JSON row's keys.
    The curriculum then validates every row against it, so a mixed file is still rejected line by line.
    A UTF-8 byte order mark and CRLF line ends are read as such (utf-8-sig; json ignores the CR); a file that
    is not JSON text sniffs as "" and the curriculum's report says why (not UTF-8 / not JSON at line 1)."""
    with path.open("r", encoding="utf-8-sig", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                return ""
            if isinstance(row, dict) and "messages" in row:
                return "chat_sft_v1"
            if isinstance(row, dict) and "text" in row:
                return "completion_v1"
            return ""
    return ""


class TokenLengthGuard:
    """Counts each row's tokens as the worker will (packing.tokenize_example): chat rows with the campaign's mantra
    applied (services/kit/mantra.py, today's date) and the hero's chat template, completion rows plus the EOS the
    worker appends. Rows over max_seq_len are errors, so a quest that passes intake does not fail in the worker."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, float], Any] = {}
        self._lock = threading.Lock()

    def _tokenizer(self, hero: HeroSpec) -> Any:
        marker = hero.model_dir / "tokenizer_config.json"
        key = (str(hero.model_dir), marker.stat().st_mtime if marker.exists() else 0.0)
        with self._lock:
            # transformers' lazy imports are not safe to race from two threads: import under the lock.
            from transformers import AutoTokenizer

            if key not in self._cache:
                self._cache[key] = AutoTokenizer.from_pretrained(str(hero.model_dir))
            return self._cache[key]

    def check(self, path: Path, hero: HeroSpec, max_seq_len: int, mantra: Mantra | None = None,
              today: datetime.date | None = None) -> dict[str, Any]:
        """Findings + stats in ValidationReport shape ({"findings", "counts", "error_count", "stats"})."""
        try:
            tokenizer = self._tokenizer(hero)
        except (OSError, ValueError) as exc:
            finding = {"kind": "tokenizer_unavailable", "severity": "SEVERITY_ERROR", "line": 0,
                       "message": f"cannot load the tokenizer of {hero.name} from {hero.model_dir}: {exc}"}
            return {"findings": [finding], "counts": [{"kind": "tokenizer_unavailable",
                    "severity": "SEVERITY_ERROR", "count": 1}], "error_count": 1, "stats": {}}
        template = hero.effective_chat_template() or None
        lengths: list[int] = []
        over: list[tuple[int, int]] = []
        pending: list[tuple[int, str, int]] = []  # (line, text, tokens the worker adds: the completion's EOS)

        def flush() -> None:
            if not pending:
                return
            encoded = tokenizer([text for _, text, _ in pending], add_special_tokens=False)["input_ids"]
            for (line_no, _, extra), ids in zip(pending, encoded, strict=True):
                count = len(ids) + extra
                lengths.append(count)
                if count > max_seq_len:
                    over.append((line_no, count))
            pending.clear()

        with path.open("r", encoding="utf-8-sig", errors="replace") as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # the curriculum's report names unparsable lines
                if not isinstance(row, dict):
                    continue
                if isinstance(row.get("messages"), list):
                    try:
                        messages = apply_mantra(row["messages"], mantra, today=today)
                        text = tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False)
                    except Exception:  # noqa: BLE001 - a malformed row; the schema check reports it
                        continue
                    pending.append((line_no, text, 0))
                elif isinstance(row.get("text"), str):
                    pending.append((line_no, row["text"], 1))
                if len(pending) >= TOKENIZE_BATCH:
                    flush()
        flush()
        findings = [
            {"kind": "too_long", "severity": "SEVERITY_ERROR", "line": line_no, "field": "messages",
             "message": f"{count} tokens with {hero.name}'s tokenizer and chat template; max_seq_len is {max_seq_len}"}
            for line_no, count in over[:MAX_FINDINGS_PER_KIND]
        ]
        stats: dict[str, float] = {}
        if lengths:
            stats = {"tokens_max": float(max(lengths)), "tokens_p50": float(statistics.median(lengths)),
                     "tokens_mean": float(statistics.fmean(lengths)), "tokens_total": float(sum(lengths)),
                     "max_seq_len": float(max_seq_len)}
        counts = [{"kind": "too_long", "severity": "SEVERITY_ERROR", "count": len(over)}] if over else []
        return {"findings": findings, "counts": counts, "error_count": len(over), "stats": stats}


def _flush_and_sync(handle) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def merge_reports(curriculum: dict[str, Any], guard: dict[str, Any]) -> dict[str, Any]:
    report = dict(curriculum)
    report["findings"] = list(curriculum.get("findings", [])) + guard["findings"]
    report["counts"] = list(curriculum.get("counts", [])) + guard["counts"]
    report["error_count"] = int(curriculum.get("error_count", 0) or 0) + guard["error_count"]
    report["stats"] = {**dict(curriculum.get("stats", {})), **guard["stats"]}
    report["accepted"] = bool(curriculum.get("accepted", False)) and guard["error_count"] == 0
    return report


class QuestIntake:
    def __init__(
        self,
        *,
        root: Path,
        queue: QuestQueue,
        campaigns: CampaignBook,
        heroes: HeroRegistry,
        events: EventLog,
        validator: DatasetValidator,
        datasets: DatasetSource | None,
        max_quest_bytes: int = 2 * 1024**3,
        training_config_builder: Any = None,
    ) -> None:
        self.root = root  # data_dir/trainer
        self.queue = queue
        self.campaigns = campaigns
        self.heroes = heroes
        self.events = events
        self.validator = validator
        self.datasets = datasets
        self.max_quest_bytes = max_quest_bytes
        self.guard = TokenLengthGuard()
        self._build_config = training_config_builder
        self._in_flight: set[str] = set()
        self._in_flight_lock = threading.Lock()
        (root / "incoming").mkdir(parents=True, exist_ok=True)
        (root / "quests").mkdir(parents=True, exist_ok=True)

    # ---- entry points ------------------------------------------------------------------------------------
    def resolve_campaign(self, campaign: str) -> str:
        if not campaign:
            active = self.campaigns.active()
            if active is None:
                raise FailedPrecondition("no campaign given and no campaign is active", field="header.campaign")
            return active.name
        found = self.campaigns.get(campaign)
        if found.state is CampaignState.ARCHIVED:
            raise FailedPrecondition(f"campaign {found.campaign_id} is archived", field="header.campaign")
        return found.name

    async def submit(self, header: QuestHeader, chunks: AsyncIterable[bytes]) -> Quest:
        """Client-streamed upload: the bytes land in a temp file (fsynced) before the quest exists.

        Runs on the servicer's event loop: every file and SQLite call goes to a thread."""
        campaign = await asyncio.to_thread(self.resolve_campaign, header.campaign)
        schema_id = header.schema_id or _sidecar_schema(header.sidecar_json)
        temp = self.root / "incoming" / f"{uuid.uuid4().hex}.part"
        digest = hashlib.sha256()
        size = 0
        lines = 0
        last_byte = b"\n"
        try:
            handle = await asyncio.to_thread(temp.open, "wb")
            try:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > self.max_quest_bytes:
                        raise InvalidArgument(f"file exceeds {self.max_quest_bytes} bytes", field="chunk")
                    digest.update(chunk)
                    lines += chunk.count(b"\n")
                    if chunk:
                        last_byte = chunk[-1:]
                    await asyncio.to_thread(handle.write, chunk)
                await asyncio.to_thread(_flush_and_sync, handle)
            finally:
                await asyncio.to_thread(handle.close)
            if size == 0:
                raise InvalidArgument("the quest file is empty", field="chunk")
            rows = lines + (0 if last_byte == b"\n" else 1)
            quest_id = mint_id(header.display_name or "quest")
            final = await asyncio.to_thread(self._place_upload, temp, quest_id, header.sidecar_json)
        finally:
            await asyncio.to_thread(temp.unlink, missing_ok=True)
        quest = await asyncio.to_thread(
            lambda: self.queue.add(
                quest_id=quest_id, campaign=campaign, display_name=header.display_name, priority=header.priority,
                source=header.source or "upload", labels=dict(header.labels),
                schema_id=schema_id or sniff_schema(final), sidecar_json=header.sidecar_json, file_path=str(final),
                rows=rows, size_bytes=size, sha256=digest.hexdigest(),
            ))
        return await asyncio.to_thread(self.validate, quest)

    def _place_upload(self, temp: Path, quest_id: str, sidecar_json: str) -> Path:
        """The fsynced temp file becomes quests/<id>/quest.jsonl (+ its sidecar); blocking."""
        quest_dir = self.root / "quests" / quest_id
        quest_dir.mkdir(parents=True)
        final = quest_dir / "quest.jsonl"
        os.replace(temp, final)
        if sidecar_json:
            (quest_dir / "quest.meta.json").write_text(sidecar_json, encoding="utf-8")
        return final

    def import_asset(self, header: QuestHeader, dataset_asset: str) -> Quest:
        """Pull a vault dataset asset (its .jsonl file and optional .meta.json sidecar) and queue it."""
        if not dataset_asset:
            raise InvalidArgument("required: assets/{asset} of kind dataset", field="dataset_asset")
        if self.datasets is None:
            raise FailedPrecondition("no vault is configured for this trainer", field="dataset_asset")
        campaign = self.resolve_campaign(header.campaign)
        quest_id = mint_id(header.display_name or dataset_asset.rsplit("/", 1)[-1])
        quest_dir = self.root / "quests" / quest_id
        pulled = self.datasets.fetch(dataset_asset, quest_dir / "asset")
        jsonl_files = sorted(p for p in pulled.rglob("*.jsonl") if p.is_file())
        if len(jsonl_files) != 1:
            shutil.rmtree(quest_dir, ignore_errors=True)
            raise FailedPrecondition(
                f"{dataset_asset} holds {len(jsonl_files)} .jsonl files; a quest needs exactly one",
                field="dataset_asset",
            )
        data = jsonl_files[0]
        sidecar_json = header.sidecar_json
        sidecar_path = data.with_name(data.stem + ".meta.json")
        if not sidecar_json and sidecar_path.is_file():
            sidecar_json = sidecar_path.read_text(encoding="utf-8")
        digest = hashlib.sha256()
        rows = 0
        with data.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        with data.open("rb") as handle:
            rows = sum(1 for line in handle if line.strip())
        quest = self.queue.add(
            quest_id=quest_id, campaign=campaign, display_name=header.display_name or dataset_asset,
            priority=header.priority, source=header.source or "vault", labels=dict(header.labels),
            schema_id=header.schema_id or _sidecar_schema(sidecar_json) or sniff_schema(data),
            sidecar_json=sidecar_json,
            file_path=str(data), rows=rows, size_bytes=data.stat().st_size, sha256=digest.hexdigest(),
            dataset_asset=dataset_asset,
        )
        return self.validate(quest)

    # ---- validation --------------------------------------------------------------------------------------
    def max_seq_len_for(self, campaign_name: str) -> tuple[HeroSpec, int, Mantra]:
        """The hero, its effective max_seq_len and the mantra the worker will apply to this campaign's rows."""
        campaign = self.campaigns.get(campaign_name)
        hero = self.heroes.get(campaign.hero)
        config = self._build_config(hero.config_defaults(), campaign.config_overrides)
        return hero, int(config.max_seq_len), campaign.mantra

    def validate(self, quest: Quest) -> Quest:
        """Curriculum report + token guardrail -> QUEUED or REJECTED; stays VALIDATING if the curriculum is down."""
        with self._in_flight_lock:
            if quest.quest_id in self._in_flight:
                return quest  # another thread is validating it right now
            self._in_flight.add(quest.quest_id)
        try:
            return self._validate(quest)
        finally:
            with self._in_flight_lock:
                self._in_flight.discard(quest.quest_id)

    def _validate(self, quest: Quest) -> Quest:
        path = Path(quest.file_path)
        try:
            hero, max_seq_len, mantra = self.max_seq_len_for(quest.campaign)
        except RealmError as exc:
            report = {"accepted": False, "schema_id": quest.schema_id, "rows": quest.rows, "bytes": quest.bytes,
                      "findings": [{"kind": "training_config", "severity": "SEVERITY_ERROR", "line": 0,
                                    "field": exc.field or "", "message": exc.describe()}],
                      "counts": [{"kind": "training_config", "severity": "SEVERITY_ERROR", "count": 1}],
                      "error_count": 1}
            return self._decide(quest, report)
        try:
            curriculum_report = self.validator.validate(
                path, schema_id=quest.schema_id, sidecar_json=quest.sidecar_json, file_name=path.name
            )
        except Unavailable as exc:
            return self.queue.set_reason(quest.name, f"waiting for the curriculum to validate: {exc.describe()}")
        except RealmError as exc:
            report = {"accepted": False, "schema_id": quest.schema_id, "rows": quest.rows, "bytes": quest.bytes,
                      "findings": [{"kind": "validation_error", "severity": "SEVERITY_ERROR", "line": 0,
                                    "message": exc.describe()}],
                      "counts": [{"kind": "validation_error", "severity": "SEVERITY_ERROR", "count": 1}],
                      "error_count": 1}
            return self._decide(quest, report)
        report = merge_reports(curriculum_report, self.guard.check(path, hero, max_seq_len, mantra))
        return self._decide(quest, report)

    def _decide(self, quest: Quest, report: dict[str, Any]) -> Quest:
        accepted = bool(report.get("accepted"))
        reason = "" if accepted else f"validation failed with {report.get('error_count', 0)} error(s)"
        updated = self.queue.set_validation(quest.name, report, accepted=accepted, reason=reason)
        if updated.state not in (QuestState.QUEUED, QuestState.REJECTED):
            return updated  # left VALIDATING meanwhile (pruned by a level-up): nothing was decided
        self.events.publish(
            EventKind.QUEST_QUEUED if accepted else EventKind.QUEST_REJECTED,
            campaign=updated.campaign, quest=updated.name, message=reason or "queued",
            attributes={"source": updated.source, "priority": updated.priority.value, "rows": str(updated.rows)},
        )
        return updated

    def revalidate_pending(self) -> int:
        """Retry quests left VALIDATING (curriculum was down, or a REJECTED quest was retried)."""
        done = 0
        for quest in self.queue.in_state(QuestState.VALIDATING):
            # Deferred ones carry a reason; fresh ones are being validated by their submitter (unless it died).
            if not quest.state_reason and time.time() - quest.create_time < 60:
                continue
            if self.validate(quest).state is not QuestState.VALIDATING:
                done += 1
        return done
