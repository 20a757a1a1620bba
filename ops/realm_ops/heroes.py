"""Where a hero's model directory is (from realm.yaml's trainer.heroes_dir and the hero's YAML file), and
building the tiny hero there when it is missing."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import yaml

from realm.settings import ConfigError, Settings

TINY_HERO = "tiny"


def hero_file(settings: Settings, hero: str) -> Path:
    from services.trainer.config import TrainerConfig

    heroes_dir = TrainerConfig.from_section(settings.section("trainer"), data_dir=settings.data_dir,
                                            root=settings.root).heroes_dir
    for suffix in (".yaml", ".yml"):
        path = heroes_dir / f"{hero}{suffix}"
        if path.is_file():
            return path
    raise ConfigError("trainer.heroes_dir", f"no hero file {hero}.yaml in {heroes_dir}")


def hero_model_dir(settings: Settings, hero: str) -> Path:
    """The hero's `model_dir`, resolved against the project root as the trainer resolves it."""
    path = hero_file(settings, hero)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    model_dir = raw.get("model_dir") if isinstance(raw, dict) else None
    if not isinstance(model_dir, str) or not model_dir:
        raise ConfigError("model_dir", "must name the hero's model directory", str(path))
    model_dir_path = Path(model_dir).expanduser()
    return model_dir_path if model_dir_path.is_absolute() else settings.root / model_dir_path


def build_tiny(out: Path, *, seed: int = 0, threads: int = 2) -> Path:
    import torch

    from realm_ops.tiny_hero import build_tiny_hero

    torch.set_num_threads(max(1, threads))
    return build_tiny_hero(out, seed=seed)


def ensure_tiny_hero(settings: Settings, hero: str, say: Callable[[str], None]) -> None:
    """Build the tiny hero where its YAML points when it is absent; other heroes must exist already."""
    target = hero_model_dir(settings, hero)
    if (target / "config.json").exists():
        say(f"hero {hero}: {target} (already built)")
        return
    if hero != TINY_HERO:
        raise ConfigError("model_dir", f"hero {hero!r} has no model at {target}", str(hero_file(settings, hero)))
    say(f"building the tiny hero in {target} (random init, tokenizer trained locally) …")
    started = time.monotonic()
    build_tiny(target)
    say(f"tiny hero built in {time.monotonic() - started:.1f}s")
