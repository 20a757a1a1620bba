"""Heroes: the models a campaign trains, described by one YAML file each.

A hero file (heroes/<id>.yaml):

    display_name: Tiny Hero
    description: ...
    model_dir: var/heroes/tiny          # a Hugging Face directory; relative paths resolve against the project root
    architecture: qwen3
    chat_template: ""                   # empty: the tokenizer's own template
    training_defaults: {learning_rate: 0.002, max_seq_len: 256, ...}   # TrainingConfig fields
    optimizer: {kind: adamw, weight_decay: 0.0}                         # merged into the training defaults
    lora: {enabled: false, rank: 8, alpha: 16, dropout: 0.05, target_modules: [q_proj, v_proj]}
    idle: {enabled: true, skills: [bin], queue_threshold: 1, batch_rows: 256, preset: balanced}
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from services.kit.errors import InvalidArgument, NotFound

HERO_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# Hero ids may also hold dots (heroes/qwen3-0.6b), never two in a row.
HERO_FILE_ID_PATTERN = re.compile(r"^(?!.*\.\.)[a-z0-9][a-z0-9._-]{0,62}$")
_KNOWN_KEYS = {
    "name", "display_name", "description", "model_dir", "architecture", "chat_template",
    "training_defaults", "optimizer", "lora", "idle", "parameter_count",
}


@dataclass(frozen=True)
class LoraSpec:
    enabled: bool = False
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ()
    quantize_base_4bit: bool = False


@dataclass(frozen=True)
class IdleBehaviour:
    """What the hero loop does when the active campaign's queue runs low."""

    enabled: bool = False
    skills: tuple[str, ...] = ()
    # Enqueue a generated quest when fewer than this many quests are waiting.
    queue_threshold: int = 1
    # Rows requested from the curriculum per hero-loop quest.
    batch_rows: int = 256
    preset: str = "balanced"


@dataclass(frozen=True)
class HeroSpec:
    hero_id: str
    display_name: str
    description: str
    model_dir: Path
    architecture: str
    chat_template: str
    training_defaults: dict[str, Any]
    optimizer: dict[str, Any]
    lora: LoraSpec
    idle: IdleBehaviour
    parameter_count: int = 0
    source_file: Path | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return f"heroes/{self.hero_id}"

    def effective_chat_template(self) -> str:
        """The template the hero trains with: the YAML's, else the tokenizer's."""
        return self.chat_template or read_tokenizer_chat_template(self.model_dir)

    def config_defaults(self) -> dict[str, Any]:
        """Hero defaults for `build_training_config`: training_defaults + the optimizer block + LoRA."""
        merged = dict(self.training_defaults)
        for key, value in self.optimizer.items():
            merged.setdefault("optimizer" if key == "kind" else key, value)
        if self.lora.enabled:
            lora: dict[str, Any] = {
                "enabled": True,
                "rank": self.lora.rank,
                "alpha": self.lora.alpha,
                "dropout": self.lora.dropout,
                "quantize_base_4bit": self.lora.quantize_base_4bit,
            }
            if self.lora.target_modules:
                lora["target_modules"] = list(self.lora.target_modules)
            merged.setdefault("lora", lora)
        return merged


def read_tokenizer_chat_template(model_dir: Path) -> str:
    jinja = model_dir / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    tokenizer_config = model_dir / "tokenizer_config.json"
    if tokenizer_config.is_file():
        template = json.loads(tokenizer_config.read_text(encoding="utf-8")).get("chat_template") or ""
        return template if isinstance(template, str) else ""
    return ""


def count_safetensors_parameters(model_dir: Path) -> int:
    """Parameter count read from the safetensors headers only (no tensor is loaded); 0 when absent."""
    files = sorted(model_dir.glob("*.safetensors"))
    total = 0
    for path in files:
        with path.open("rb") as handle:
            (header_len,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(header_len))
        for key, info in header.items():
            if key == "__metadata__":
                continue
            count = 1
            for dim in info.get("shape", []):
                count *= int(dim)
            total += count
    return total


def _mapping(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidArgument("must be a mapping", field=where)
    return dict(raw)


def parse_hero(hero_id: str, raw: Any, *, root: Path, source_file: Path | None = None) -> HeroSpec:
    """Build a HeroSpec from a parsed YAML document; every bad field is named in the error."""
    if not HERO_FILE_ID_PATTERN.match(hero_id):
        raise InvalidArgument(f"hero id {hero_id!r} must match {HERO_FILE_ID_PATTERN.pattern}", field="name")
    doc = _mapping(raw, "hero")
    unknown = sorted(set(doc) - _KNOWN_KEYS)
    if unknown:
        raise InvalidArgument(f"unknown keys {unknown}; known: {sorted(_KNOWN_KEYS)}", field="hero")
    model_dir_raw = doc.get("model_dir")
    if not isinstance(model_dir_raw, str) or not model_dir_raw:
        raise InvalidArgument("required: path of a Hugging Face model directory", field="model_dir")
    model_dir = Path(model_dir_raw).expanduser()
    if not model_dir.is_absolute():
        model_dir = root / model_dir

    lora_raw = _mapping(doc.get("lora"), "lora")
    try:
        lora = LoraSpec(
            enabled=bool(lora_raw.get("enabled", False)),
            rank=int(lora_raw.get("rank", 8)),
            alpha=int(lora_raw.get("alpha", 16)),
            dropout=float(lora_raw.get("dropout", 0.05)),
            target_modules=tuple(str(m) for m in lora_raw.get("target_modules", []) or []),
            quantize_base_4bit=bool(lora_raw.get("quantize_base_4bit", False)),
        )
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"bad value: {exc}", field="lora") from exc
    if lora.rank <= 0:
        raise InvalidArgument("must be > 0", field="lora.rank")
    if not 0.0 <= lora.dropout < 1.0:
        raise InvalidArgument("must be in [0, 1)", field="lora.dropout")

    idle_raw = _mapping(doc.get("idle"), "idle")
    try:
        idle = IdleBehaviour(
            enabled=bool(idle_raw.get("enabled", False)),
            skills=tuple(str(s) for s in idle_raw.get("skills", []) or []),
            queue_threshold=int(idle_raw.get("queue_threshold", 1)),
            batch_rows=int(idle_raw.get("batch_rows", 256)),
            preset=str(idle_raw.get("preset", "balanced")),
        )
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"bad value: {exc}", field="idle") from exc
    if idle.queue_threshold < 0:
        raise InvalidArgument("must be >= 0", field="idle.queue_threshold")
    if not 1 <= idle.batch_rows <= 100_000:
        raise InvalidArgument("must be in [1, 100000]", field="idle.batch_rows")

    parameter_count = int(doc.get("parameter_count", 0) or 0)
    if parameter_count == 0 and model_dir.is_dir():
        parameter_count = count_safetensors_parameters(model_dir)

    return HeroSpec(
        hero_id=hero_id,
        display_name=str(doc.get("display_name") or hero_id),
        description=str(doc.get("description") or ""),
        model_dir=model_dir,
        architecture=str(doc.get("architecture") or ""),
        chat_template=str(doc.get("chat_template") or ""),
        training_defaults=_mapping(doc.get("training_defaults"), "training_defaults"),
        optimizer=_mapping(doc.get("optimizer"), "optimizer"),
        lora=lora,
        idle=idle,
        parameter_count=parameter_count,
        source_file=source_file,
    )


class HeroRegistry:
    """Hero YAML files in one directory, re-read on every lookup so edits apply without a restart."""

    def __init__(self, heroes_dir: Path, *, root: Path) -> None:
        self.heroes_dir = heroes_dir
        self.root = root

    @staticmethod
    def hero_id(name: str) -> str:
        hero_id = name.removeprefix("heroes/")
        if not hero_id or "/" in hero_id:
            raise InvalidArgument(f"expected heroes/{{hero}}, got {name!r}", field="name")
        return hero_id

    def _file(self, hero_id: str) -> Path | None:
        for suffix in (".yaml", ".yml"):
            path = self.heroes_dir / f"{hero_id}{suffix}"
            if path.is_file():
                return path
        return None

    def get(self, name: str) -> HeroSpec:
        hero_id = self.hero_id(name)
        path = self._file(hero_id)
        if path is None:
            raise NotFound(f"no hero file {hero_id}.yaml in {self.heroes_dir}", field="name")
        return self._load(hero_id, path)

    def _load(self, hero_id: str, path: Path) -> HeroSpec:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise InvalidArgument(f"{path}: not valid YAML: {exc}", field="hero") from exc
        return parse_hero(hero_id, raw, root=self.root, source_file=path)

    def list(self) -> list[HeroSpec]:
        if not self.heroes_dir.is_dir():
            return []
        heroes = []
        for path in sorted(self.heroes_dir.iterdir()):
            if path.suffix in (".yaml", ".yml") and path.is_file():
                heroes.append(self._load(path.stem, path))
        return heroes
