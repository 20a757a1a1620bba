"""The import contracts in pyproject.toml ([tool.importlinter]) hold on the tree, and each one bites: a copy of
the packages with one violating import fails `lint-imports`, naming the broken contract."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = {c["id"]: c["name"] for c in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
             ["contracts"]}

# contract id -> (file of the copy to edit, the import that breaks the contract)
VIOLATIONS = {
    "services-independent": ("services/vault/names.py", "import services.trainer.quests"),
    "clients-standalone": ("clients/realm/sdk/core.py", "import services.kit.errors"),
    "kit-imports-no-service": ("services/kit/paging.py", "import services.vault.names"),
    "services-never-import-ops": ("services/warden/config.py", "import realm_ops.runstate"),
    "domain-without-grpc": ("services/vault/gc.py", "import grpc"),
    "worker-apart-from-service": ("services/trainer/worker/optim.py", "import services.trainer.store"),
}


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    # The copy's packages first on the path: the editable install's finder only answers what the path does not.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(tree / d) for d in ("clients", "ops", "."))}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", str(tree / "pyproject.toml")],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=300)


def copy_packages(dest: Path) -> Path:
    only_python = shutil.ignore_patterns("__pycache__", "*.pyc", "tavern", "data", "*.md", "*.json", "*.txt")
    for source in ("clients/realm", "ops/realm_ops", "services"):
        shutil.copytree(ROOT / source, dest / source, ignore=only_python)
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return copy_packages(tmp_path_factory.mktemp("tree"))


def test_every_contract_holds_on_the_real_tree():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in CONTRACTS.values():
        assert f"{name} KEPT" in result.stdout


def test_every_contract_has_a_violation_that_proves_it_bites():
    assert set(VIOLATIONS) == set(CONTRACTS)


def test_the_copied_tree_passes_before_it_is_broken(pristine):
    result = lint_imports(pristine)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("contract", sorted(VIOLATIONS))
def test_one_violating_import_breaks_its_contract(pristine, tmp_path, contract):
    tree = tmp_path / "tree"
    shutil.copytree(pristine, tree)
    relative, statement = VIOLATIONS[contract]
    target = tree / relative
    target.write_text(target.read_text() + f"\n{statement}  # deliberately breaks {contract}\n")

    result = lint_imports(tree)

    assert result.returncode != 0, result.stdout
    assert f"{CONTRACTS[contract]} BROKEN" in result.stdout
