"""Shared test set-up: loopback only, quiet logs, and markers documented in pyproject.toml."""

from __future__ import annotations

import os

# Tests never reach beyond loopback and never download anything.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.pop("REALM_TOKEN", None)
os.environ.pop("REALM_CONFIG", None)
