"""A campaign's fixed setup, kept beside the campaigns table: its mantra, its locked fields, where it was forked from.

Mantra: the base system prompt (services/kit/mantra.py decides how it is applied). Every campaign has one (the
default until someone edits it); each change of text or rule bumps its version, which travels with every
checkpoint.

Locked fields: base model, architecture, tokenizer, chat template and max sequence length are fixed when the
campaign's first quest starts. An update that would change one is refused (FAILED_PRECONDITION naming the field
and the way out: fork a new campaign from a checkpoint); a hero file edited under a locked campaign makes the next
quest fail to start with the same message rather than train a different model under the same name.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.kit.errors import FailedPrecondition
from services.kit.mantra import RULE_KEEP, Mantra, check_mantra
from services.trainer.heroes import HeroSpec
from services.trainer.store import TrainerStore

LOCKED_FIELDS = ("base_model", "architecture", "tokenizer", "chat_template", "max_seq_len")
# Tokenizer files that define the vocabulary (tokenizer_config.json also holds the chat template: not here).
_TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "merges.txt", "tokenizer.model", "added_tokens.json",
                    "special_tokens_map.json")

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS campaign_mantras (
        campaign_id TEXT PRIMARY KEY,
        text TEXT NOT NULL,
        rule TEXT NOT NULL,
        version INTEGER NOT NULL,
        update_time REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS campaign_locks (
        campaign_id TEXT PRIMARY KEY,
        fields_json TEXT NOT NULL,
        lock_time REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS campaign_forks (
        campaign_id TEXT PRIMARY KEY,
        checkpoint TEXT NOT NULL,
        source_campaign TEXT NOT NULL DEFAULT '',
        fork_time REAL NOT NULL
    )""",
)


@dataclass(frozen=True)
class CampaignSetup:
    mantra: Mantra
    mantra_update_time: float = 0.0
    locked_fields: tuple[tuple[str, str], ...] = ()
    lock_time: float = 0.0
    forked_from: str = ""
    forked_from_campaign: str = ""

    @property
    def locked(self) -> dict[str, str]:
        return dict(self.locked_fields)


def fork_hint(campaign_name: str, latest_asset: str = "") -> str:
    checkpoint = latest_asset or "CHECKPOINT"
    return (f"fork a new campaign from a checkpoint instead: `realm campaign fork {checkpoint} --name NEW` "
            f"(API: ForkCampaign) and change it there before its first quest")


def lock_violation(campaign_name: str, field: str, locked: str, wanted: str, latest_asset: str = "") -> FailedPrecondition:
    return FailedPrecondition(
        f"{campaign_name} is locked to {field} {locked!r} since its first quest started (asked: {wanted!r}); "
        + fork_hint(campaign_name, latest_asset),
        field=field,
    )


def tokenizer_fingerprint(model_dir: Path) -> str:
    """sha256 over the vocabulary files of a model directory (names and bytes); "" when it has none."""
    digest = hashlib.sha256()
    found = False
    for name in _TOKENIZER_FILES:
        path = Path(model_dir) / name
        if path.is_file():
            found = True
            digest.update(name.encode() + b"\0")
            with path.open("rb") as handle:
                while block := handle.read(1 << 20):
                    digest.update(block)
    return digest.hexdigest() if found else ""


def architecture_of(hero: HeroSpec) -> str:
    """The model class named by the hero directory's config.json (else the hero file's `architecture`)."""
    config = Path(hero.model_dir) / "config.json"
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return hero.architecture
    names = data.get("architectures") or []
    return str(names[0]) if names else str(data.get("model_type") or hero.architecture)


def current_locked_values(hero: HeroSpec, *, base_model: str, max_seq_len: int) -> dict[str, str]:
    """What the locked fields would be if the campaign's first quest started now."""
    return {
        "base_model": base_model,
        "architecture": architecture_of(hero),
        "tokenizer": tokenizer_fingerprint(hero.model_dir),
        "chat_template": hashlib.sha256(hero.effective_chat_template().encode()).hexdigest(),
        "max_seq_len": str(max_seq_len),
    }


class CampaignSetupStore:
    """The three tables above, in the trainer's own database."""

    def __init__(self, store: TrainerStore) -> None:
        self.store = store
        for statement in _SCHEMA:
            store.execute(statement)

    # ---- reading --------------------------------------------------------------------------------------------
    def get(self, campaign_id: str) -> CampaignSetup:
        mantra_row = self.store.query_one("SELECT * FROM campaign_mantras WHERE campaign_id = ?", (campaign_id,))
        lock_row = self.store.query_one("SELECT * FROM campaign_locks WHERE campaign_id = ?", (campaign_id,))
        fork_row = self.store.query_one("SELECT * FROM campaign_forks WHERE campaign_id = ?", (campaign_id,))
        mantra = Mantra() if mantra_row is None else Mantra(
            text=mantra_row["text"], rule=mantra_row["rule"], version=mantra_row["version"])
        locked: tuple[tuple[str, str], ...] = ()
        if lock_row is not None:
            values = json.loads(lock_row["fields_json"])
            locked = tuple((name, str(values[name])) for name in LOCKED_FIELDS if name in values)
        return CampaignSetup(
            mantra=mantra, mantra_update_time=mantra_row["update_time"] if mantra_row else 0.0,
            locked_fields=locked, lock_time=lock_row["lock_time"] if lock_row else 0.0,
            forked_from=fork_row["checkpoint"] if fork_row else "",
            forked_from_campaign=fork_row["source_campaign"] if fork_row else "",
        )

    # ---- mantra ---------------------------------------------------------------------------------------------
    def set_mantra(self, campaign_id: str, *, text: str | None = None, rule: str | None = None,
                   initial: bool = False) -> Mantra:
        """Change the text and/or the rule (None keeps it); the version moves only when something changed.
        `initial`: the mantra a campaign is created with (version 1, nothing trained with another one yet)."""
        with self.store.transaction() as conn:
            row = conn.execute("SELECT * FROM campaign_mantras WHERE campaign_id = ?", (campaign_id,)).fetchone()
            current = Mantra() if row is None else Mantra(text=row["text"], rule=row["rule"], version=row["version"])
            new_text = current.text if text is None else text
            new_rule = current.rule if not rule else rule
            check_mantra(new_text, new_rule)
            if row is not None and (new_text, new_rule) == (current.text, current.rule):
                return current
            changed = (new_text, new_rule) != (current.text, current.rule)
            version = 1 if initial else current.version + int(changed)
            conn.execute(
                "INSERT INTO campaign_mantras (campaign_id, text, rule, version, update_time) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(campaign_id) DO UPDATE SET text = excluded.text, rule = excluded.rule, "
                "version = excluded.version, update_time = excluded.update_time",
                (campaign_id, new_text, new_rule, version, time.time()),
            )
        return Mantra(text=new_text, rule=new_rule, version=version)

    def copy_mantra(self, source_id: str, target_id: str) -> None:
        mantra = self.get(source_id).mantra
        self.store.execute(
            "INSERT OR REPLACE INTO campaign_mantras (campaign_id, text, rule, version, update_time) "
            "VALUES (?, ?, ?, ?, ?)", (target_id, mantra.text, mantra.rule or RULE_KEEP, mantra.version, time.time()))

    # ---- locks ----------------------------------------------------------------------------------------------
    def lock_or_check(self, campaign_name: str, campaign_id: str, values: dict[str, str], *,
                      latest_asset: str = "") -> dict[str, str]:
        """At a quest start: the first one locks `values`; later ones must match them (else FailedPrecondition)."""
        with self.store.transaction() as conn:
            row = conn.execute("SELECT fields_json FROM campaign_locks WHERE campaign_id = ?", (campaign_id,)).fetchone()
            if row is None:
                conn.execute("INSERT INTO campaign_locks (campaign_id, fields_json, lock_time) VALUES (?, ?, ?)",
                             (campaign_id, json.dumps(values, sort_keys=True), time.time()))
                return dict(values)
        locked = json.loads(row["fields_json"])
        for name in LOCKED_FIELDS:
            if name in locked and name in values and str(locked[name]) != str(values[name]):
                raise lock_violation(campaign_name, name, str(locked[name]), str(values[name]), latest_asset)
        return locked

    def check_update(self, campaign_name: str, campaign_id: str, changes: dict[str, Any], *,
                     starting_checkpoint: str, max_seq_len_after: Callable[[dict[str, Any]], int],
                     latest_asset: str = "") -> None:
        """Refuse an update of a locked campaign that would change a locked field, naming it."""
        locked = self.get(campaign_id).locked
        if not locked:
            return
        if "hero" in changes:
            raise lock_violation(campaign_name, "base_model", locked.get("base_model", ""),
                                 f"hero {changes['hero']}", latest_asset)
        if "starting_checkpoint" in changes and str(changes["starting_checkpoint"]) != starting_checkpoint:
            raise lock_violation(campaign_name, "base_model", locked.get("base_model", ""),
                                 str(changes["starting_checkpoint"]), latest_asset)
        if "config_overrides" in changes and "max_seq_len" in locked:
            wanted = max_seq_len_after(dict(changes["config_overrides"]))
            if str(wanted) != locked["max_seq_len"]:
                raise lock_violation(campaign_name, "max_seq_len", locked["max_seq_len"], str(wanted), latest_asset)

    # ---- forks ----------------------------------------------------------------------------------------------
    def record_fork(self, campaign_id: str, checkpoint: str, source_campaign: str) -> None:
        self.store.execute(
            "INSERT OR REPLACE INTO campaign_forks (campaign_id, checkpoint, source_campaign, fork_time) "
            "VALUES (?, ?, ?, ?)", (campaign_id, checkpoint, source_campaign, time.time()))

    def checkpoint_origin(self, checkpoint: str) -> tuple[str, str, str]:
        """(campaign, local checkpoint dir, vault asset or "") of a checkpoint this trainer wrote, found by its asset
        name or directory; ("", "", "") when unknown."""
        row = self.store.query_one(
            "SELECT campaign, checkpoint_dir, asset FROM outbox WHERE asset = ? OR checkpoint_dir = ? "
            "ORDER BY id DESC LIMIT 1", (checkpoint, checkpoint))
        return (row["campaign"], row["checkpoint_dir"], row["asset"]) if row else ("", "", "")
