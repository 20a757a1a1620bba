"""Checkpoint directories: written whole into a temp dir, fsynced, then renamed into place.

Layout of run_dir/checkpoints/step-%08d/ (the number is the campaign-wide global step):
    config.json, generation_config.json, model.safetensors   Hugging Face model (LoRA merged in)
    tokenizer.json, tokenizer_config.json, chat_template.jinja, ...
    trainer_state/state.json      steps, data position, hashes, loss, config
    trainer_state/optimizer.pt    list of optimizer state dicts (AdamW, or AdamW + Muon)
    trainer_state/scheduler.pt    list of LR scheduler state dicts
    trainer_state/rng.pt          python / torch / CUDA RNG states
    trainer_state/adapter/        the PEFT adapter, when LoRA is on (to resume it exactly)
Only complete checkpoints ever carry the `step-` name; a crash leaves a `.tmp-` dir that the next run removes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

STATE_DIR = "trainer_state"
STATE_FILE = "state.json"
_NAME = re.compile(r"^step-(\d{8,})$")


def checkpoint_name(global_step: int) -> str:
    return f"step-{global_step:08d}"


def complete_checkpoints(checkpoints_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    if not checkpoints_dir.is_dir():
        return []
    found = []
    for entry in checkpoints_dir.iterdir():
        match = _NAME.match(entry.name)
        if match and (entry / STATE_DIR / STATE_FILE).is_file():
            found.append((int(match.group(1)), entry))
    return [path for _, path in sorted(found)]


def latest_checkpoint(checkpoints_dir: Path) -> Path | None:
    found = complete_checkpoints(checkpoints_dir)
    return found[-1] if found else None


def remove_partial(checkpoints_dir: Path) -> None:
    if checkpoints_dir.is_dir():
        for entry in checkpoints_dir.iterdir():
            if entry.name.startswith(".tmp-"):
                shutil.rmtree(entry, ignore_errors=True)


def read_state(checkpoint: Path) -> dict[str, Any]:
    return json.loads((checkpoint / STATE_DIR / STATE_FILE).read_text())


def temp_dir_for(checkpoints_dir: Path, global_step: int) -> Path:
    checkpoints_dir.mkdir(parents=True, exist_ok=True)
    temp = checkpoints_dir / f".tmp-{checkpoint_name(global_step)}-{os.getpid()}"
    shutil.rmtree(temp, ignore_errors=True)
    (temp / STATE_DIR).mkdir(parents=True)
    return temp


def publish(temp: Path, checkpoints_dir: Path, global_step: int) -> Path:
    """fsync every file of `temp`, then rename it to its final name (atomic on one filesystem)."""
    for root, _, files in os.walk(temp):
        for name in files:
            with open(Path(root) / name, "rb") as handle:
                os.fsync(handle.fileno())
        _fsync_dir(Path(root))
    final = checkpoints_dir / checkpoint_name(global_step)
    if final.exists():
        # The same step saved again (e.g. pause right after resuming): the existing one is complete.
        shutil.rmtree(temp)
        return final
    os.replace(temp, final)
    _fsync_dir(checkpoints_dir)
    return final


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def tokenizer_hash(model_dir: Path, tokenizer) -> str:
    """Hash of the tokenizer's vocabulary/merges (tokenizer.json when present) and special tokens."""
    source = model_dir / "tokenizer.json"
    digest = hashlib.sha256()
    if source.is_file():
        digest.update(source.read_bytes())
    else:
        digest.update(json.dumps(tokenizer.get_vocab(), sort_keys=True).encode())
    digest.update(json.dumps(tokenizer.special_tokens_map, sort_keys=True).encode())
    return digest.hexdigest()
