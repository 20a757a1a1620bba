"""Shared test set-up: loopback only, quiet logs, and markers documented in pyproject.toml."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Test doubles and shared fixtures live in tests/fixtures (never in a production package): `import fixtures.kit`.
_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

# Tests never reach beyond loopback and never download anything.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.pop("REALM_TOKEN", None)
os.environ.pop("REALM_CONFIG", None)
