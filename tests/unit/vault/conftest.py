from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from services.vault.config import VaultConfig, ZoneConfig
from services.vault.domain import VaultDomain
from services.vault.models import Asset, AssetFile, AssetKind, Lineage


class Clock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def make_domain(tmp_path: Path, clock: Clock | None = None, **overrides) -> VaultDomain:
    config = VaultConfig(
        state_dir=tmp_path / "state",
        zones=(ZoneConfig("hot", tmp_path / "hot"), ZoneConfig("cold", tmp_path / "cold")),
        default_zone="hot",
        **overrides,
    )
    return VaultDomain(config, clock=clock or Clock())


def declare(files: dict[str, bytes]) -> list[AssetFile]:
    return [AssetFile(p, len(b), hashlib.sha256(b).hexdigest()) for p, b in files.items()]


def upload(domain: VaultDomain, files: dict[str, bytes], *, kind: int = AssetKind.CHECKPOINT,
           campaign: str = "campaigns/c1", step: int = 0, hero: str = "heroes/h1", zone: str = "",
           commit: bool = True, **kwargs) -> Asset | str:
    up = domain.create_upload(kind=kind, files=declare(files), lineage=Lineage(hero=hero, campaign=campaign,
                                                                                global_step=step),
                              zone=zone, **kwargs)
    for progress in up.files:
        if progress.already_stored:
            continue
        writer = domain.open_writer(up.name, progress.path, progress.received_bytes)
        data = files[progress.path]
        try:
            for start in range(progress.received_bytes, len(data), 7000):
                writer.write(data[start:start + 7000])
        finally:
            writer.close()
    return domain.commit_upload(up.name) if commit else up.name


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def domain(tmp_path: Path, clock: Clock):
    d = make_domain(tmp_path, clock)
    yield d
    d.close()


class Helpers:
    declare = staticmethod(declare)
    upload = staticmethod(upload)
    make_domain = staticmethod(make_domain)
    Clock = Clock


@pytest.fixture
def h() -> type[Helpers]:
    return Helpers
