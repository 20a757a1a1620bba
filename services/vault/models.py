"""Plain data of the vault domain. Enum values equal the proto enum numbers so the servicer maps by value."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class AssetKind(enum.IntEnum):
    UNSPECIFIED = 0
    CHECKPOINT = 1
    DATASET = 2
    EVAL_REPORT = 3
    BASE_MODEL = 4
    TOKENIZER = 5
    CONFIG = 6


class AssetState(enum.IntEnum):
    UNSPECIFIED = 0
    UPLOADING = 1
    ACTIVE = 2
    DELETING = 3
    DELETED = 4
    CORRUPT = 5


class MetricDirection(enum.IntEnum):
    UNSPECIFIED = 0
    MAXIMIZE = 1
    MINIMIZE = 2


class LedgerEventKind(enum.IntEnum):
    UNSPECIFIED = 0
    REGISTERED = 1
    ALIAS_MOVED = 2
    EVAL_ATTACHED = 3
    PINNED = 4
    UNPINNED = 5
    DELETING = 6
    DELETED = 7
    CORRUPT = 8
    VERIFIED = 9
    ALIAS_DELETED = 10
    LEVEL_UP = 11
    NOTE = 12


# Kinds other services may append; the vault alone writes the events that describe its own state changes.
EXTERNAL_EVENT_KINDS = frozenset({LedgerEventKind.LEVEL_UP, LedgerEventKind.NOTE})


@dataclass(frozen=True)
class AssetFile:
    path: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class Lineage:
    hero: str = ""
    campaign: str = ""
    source_assets: tuple[str, ...] = ()
    parent_checkpoint: str = ""
    global_step: int = 0
    config_hash: str = ""
    base_model_digest: str = ""
    tokenizer_hash: str = ""
    chat_template_hash: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    quest: str = ""
    # The mantra (base system prompt) the checkpoint was trained with, so serving applies the same system turn.
    mantra_text: str = ""
    mantra_rule: str = ""
    mantra_version: int = 0


@dataclass(frozen=True)
class Asset:
    name: str
    kind: AssetKind
    state: AssetState
    display_name: str
    files: tuple[AssetFile, ...]
    manifest_digest: str
    size_bytes: int
    zones: tuple[str, ...]
    labels: dict[str, str]
    lineage: Lineage
    pinned: bool
    aliases: tuple[str, ...]
    eval_count: int
    create_time: float
    verify_time: float | None
    in_place: bool


@dataclass(frozen=True)
class FileProgress:
    path: str
    size_bytes: int
    received_bytes: int
    already_stored: bool


@dataclass(frozen=True)
class Upload:
    name: str
    asset: str
    files: tuple[FileProgress, ...]
    committed: bool


@dataclass(frozen=True)
class Alias:
    name: str
    asset: str
    system: bool = False
    metric: str = ""
    metric_value: float = 0.0
    direction: MetricDirection = MetricDirection.UNSPECIFIED
    update_time: float | None = None


@dataclass(frozen=True)
class Eval:
    name: str = ""
    asset: str = ""
    skill: str = ""
    level: int = 0
    accuracy: float = 0.0
    correct: int = 0
    total: int = 0
    report_asset: str = ""
    regime: str = ""
    eval_set_hash: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    create_time: float | None = None


@dataclass(frozen=True)
class LedgerEvent:
    sequence: int = 0
    kind: LedgerEventKind = LedgerEventKind.UNSPECIFIED
    time: float | None = None
    asset: str = ""
    campaign: str = ""
    hero: str = ""
    asset_kind: AssetKind = AssetKind.UNSPECIFIED
    alias: str = ""
    message: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RetentionPolicy:
    campaign: str
    keep_latest: int = 0
    keep_best_per_skill: bool = False
    keep_pinned: bool = False
    keep_newer_than_s: float = 0.0
    min_evals_before_delete: int = 0
    zone_byte_caps: dict[str, int] = field(default_factory=dict)
    enabled: bool = False


@dataclass(frozen=True)
class GcDecision:
    asset: str
    keep: bool
    reasons: tuple[str, ...]
    size_bytes: int
    reclaim_bytes: int
    global_step: int


@dataclass(frozen=True)
class GcResult:
    decisions: tuple[GcDecision, ...]
    deleted_assets: int
    reclaimed_bytes: int
    dry_run: bool
    resumed_deletions: int


@dataclass(frozen=True)
class FileVerification:
    path: str
    ok: bool
    expected_sha256: str
    actual_sha256: str
    problem: str = ""


@dataclass(frozen=True)
class VerifyResult:
    asset: Asset
    ok: bool
    files: tuple[FileVerification, ...]


@dataclass(frozen=True)
class StatsBucket:
    key: str
    assets: int
    files: int
    logical_bytes: int
    stored_bytes: int


@dataclass(frozen=True)
class Stats:
    by_zone: tuple[StatsBucket, ...]
    by_kind: tuple[StatsBucket, ...]
    by_campaign: tuple[StatsBucket, ...]
    total: StatsBucket
