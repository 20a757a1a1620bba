"""Backups of every SQLite store while the services run and keep writing, and restores that bring the data back.

The vault, curriculum and trainer run as their own processes (`python -m services.<name>`, as the supervisor runs
them); writes go on through the SDK while CreateBackup runs; RestoreBackup stages the backup and the service
exits by itself; the next start applies the restore before any store opens. Each service's first start binds
port 0 and publishes the port; realm.yaml then names it (for dependants, the CLI and restarts).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
import yaml

from fixtures.kit import ADMIN_TOKEN, READ_TOKEN, config_dict_for_tests, with_ports, write_settings
from fixtures.ports import wait_for_address
from realm.cli.main import main as realm_main
from realm.common.v1 import maintenance_pb2 as mpb
from realm.curriculum.v1 import curriculum_pb2 as cpb
from realm.health import probe
from realm.sdk import connect
from realm.sdk.maintenance import maintenance
from realm.trainer.v1 import trainer_pb2 as tpb
from realm.vault.v1 import vault_pb2 as vpb
from services.kit.config import settings_from_dict

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]
SERVICES = ("vault", "curriculum", "trainer")
STORES = {"vault": {"catalog"}, "curriculum": {"progression", "evaluations", "votes", "passives"},
          "trainer": {"trainer"}}
START_TIMEOUT_S = 120.0


class Stack:
    """Service processes that find each other through realm.yaml, logs under tmp_path.

    A service's first start binds port 0 and publishes the port (services.kit.ports); realm.yaml then names it,
    so what starts later (a dependant, the CLI) finds it and a restart comes back on the port it had, as under the
    supervisor. Start in dependency order (vault, curriculum, trainer).
    """

    def __init__(self, tmp_path: Path) -> None:
        hero_dir = tmp_path / "hero"
        hero_dir.mkdir()
        heroes = tmp_path / "heroes"
        heroes.mkdir()
        (heroes / "tiny.yaml").write_text(yaml.safe_dump({"model_dir": str(hero_dir), "architecture": "qwen3",
                                                         "idle": {"enabled": False}}))
        raw = config_dict_for_tests(tmp_path / "var", trainer={"heroes_dir": str(heroes)},
                                    curriculum={"auto_evaluate": False}, backup={"keep": 10})
        for name in ("inference", "warden", "gateway"):
            raw["services"][name]["enabled"] = False
        self.tmp_path = tmp_path
        self.config_path = tmp_path / "realm.yaml"
        self.processes: dict[str, subprocess.Popen] = {}
        self._configure(settings_from_dict(raw, root=tmp_path, env={}))

    def _configure(self, settings) -> None:
        self.settings = settings
        write_settings(settings, self.config_path)
        self.realm = connect(settings, token=ADMIN_TOKEN)

    def start(self, name: str) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'clients'}"}
        with (self.tmp_path / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", f"services.{name}", "--config", str(self.config_path)], cwd=str(REPO),
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        if self.settings.service(name).port == 0:  # its first start: learn the port it bound
            record = wait_for_address(self.settings.data_dir, name, self.processes[name], timeout=START_TIMEOUT_S,
                                      log=self.tmp_path / f"{name}.log")
            self._configure(with_ports(self.settings, {name: record["port"]}))
        self.wait_serving(name)

    def wait_serving(self, name: str) -> None:
        endpoint = self.settings.service(name)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.processes[name].poll() is None, (self.tmp_path / f"{name}.log").read_text()[-3000:]
            if probe(endpoint, timeout=1.0).serving:
                return
            time.sleep(0.1)
        raise AssertionError(f"{name} did not become SERVING")

    def wait_exit(self, name: str) -> int:
        code = self.processes.pop(name).wait(timeout=START_TIMEOUT_S)
        return code

    def stop(self, name: str) -> None:
        process = self.processes[name]
        process.send_signal(signal.SIGTERM)
        self.wait_exit(name)

    def stop_all(self) -> None:
        for name in reversed(SERVICES):
            if name in self.processes:
                try:
                    self.stop(name)
                except subprocess.TimeoutExpired:
                    self.processes.pop(name).kill()

    def cli(self, *argv: str) -> int:
        return realm_main(["--config", str(self.config_path), "--token", ADMIN_TOKEN, *argv])


@pytest.fixture
def stack(tmp_path):
    stack = Stack(tmp_path)
    try:
        yield stack
    finally:
        stack.stop_all()


def start(stack: Stack, *names: str) -> Stack:
    for name in names:
        stack.start(name)
    return stack


class Writers:
    """Background writes into every store through the services' APIs, counted as they complete."""

    def __init__(self, realm, tmp_path: Path) -> None:
        self.realm = realm
        self.tmp_path = tmp_path
        self.done = {"vault": 0, "trainer": 0, "curriculum": 0, "evaluations": 0}
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._loop, args=(name, fn)) for name, fn in
                         (("vault", self._push), ("trainer", self._campaign), ("curriculum", self._record_eval),
                          ("evaluations", self._evaluate))]
        self._progress = threading.Condition(self._lock)

    def _push(self, i: int) -> None:
        path = self.tmp_path / f"data-{i}.jsonl"
        path.write_text(json.dumps({"text": f"row {i}"}) + "\n")
        self.realm.vault.push(path, "dataset", display_name=f"data-{i}")

    def _campaign(self, i: int) -> None:
        self.realm.trainer.CreateCampaign(tpb.CreateCampaignRequest(
            campaign_id=f"c{i}", campaign=tpb.Campaign(display_name=f"c{i}", hero="heroes/tiny")))

    def _record_eval(self, i: int) -> None:
        self.realm.curriculum.RecordEval(cpb.RecordEvalRequest(campaign="campaigns/main", skill="bin", level=1,
                                                               accuracy=0.01, checkpoint=f"assets/x{i}",
                                                               global_step=i + 1))

    def _evaluate(self, i: int) -> None:
        """Into the curriculum's second store (the trial never lands: no inference here, the record does)."""
        self.realm.curriculum.EvaluateCheckpoint(cpb.EvaluateCheckpointRequest(
            campaign="campaigns/main", checkpoint=f"assets/x{i}", skills=["skills/bin"]))

    def _loop(self, name: str, write: Callable[[int], None]) -> None:
        i = 0
        while not self._stop.is_set():
            try:
                write(i)
            except BaseException as exc:  # surfaced by stop(); a failed write must not hang the test
                self.errors.append(exc)
                return
            i += 1
            with self._progress:
                self.done[name] = i
                self._progress.notify_all()

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def wait_for(self, at_least: int) -> dict[str, int]:
        """Block until every store has taken `at_least` more writes; return the counts then."""
        with self._progress:
            start = dict(self.done)
            self._progress.wait_for(lambda: self.errors or all(self.done[k] >= start[k] + at_least
                                                               for k in self.done))
            assert not self.errors, self.errors
            return dict(self.done)

    def stop(self) -> dict[str, int]:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        assert not self.errors, self.errors
        return dict(self.done)


def counts(realm) -> dict[str, int]:
    """What each store holds, read back through the services' APIs."""
    assets = realm.vault.ListAssets(vpb.ListAssetsRequest(page_size=1000, kind=vpb.ASSET_KIND_DATASET)).assets
    campaigns = realm.trainer.ListCampaigns(tpb.ListCampaignsRequest(page_size=1000)).campaigns
    progress = realm.curriculum.GetCampaignProgress(cpb.GetCampaignProgressRequest(campaign="campaigns/main"))
    (history,) = [s.accuracy_history for s in progress.progress.skills if s.skill.removeprefix("skills/") == "bin"]
    evaluations = realm.curriculum.ListEvaluations(cpb.ListEvaluationsRequest(campaign="campaigns/main",
                                                                              page_size=1000)).evaluations
    return {"vault": len(assets), "trainer": len(campaigns), "curriculum": len(history),
            "evaluations": len(evaluations)}


def sound(path: Path) -> bool:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        db.close()


def test_backup_during_writes_then_restore_brings_every_store_back(stack, tmp_path):
    start(stack, *SERVICES)
    writers = Writers(stack.realm, tmp_path)
    writers.start()
    try:
        before = writers.wait_for(3)
        backups = {name: maintenance(stack.realm, name).create_backup() for name in SERVICES}  # writes go on
        after = writers.wait_for(2)
    finally:
        final = writers.stop()

    for name, backup in backups.items():
        assert backup.name.startswith(f"services/{name}/backups/") and backup.service == name
        assert {f.store for f in backup.files} == STORES[name]
        assert backup.reason == mpb.BACKUP_REASON_ON_DEMAND
        assert backup.total_bytes == sum(f.size_bytes for f in backup.files) > 0
        for item in backup.files:
            copy = stack.settings.data_dir / "backups" / name / backup.name.rsplit("/", 1)[1] / item.file
            assert sound(copy) and copy.stat().st_size == item.size_bytes and len(item.sha256) == 64
    assert counts(stack.realm) == final

    for name in SERVICES:
        response = maintenance(stack.realm, name).restore_backup(backups[name].name)
        assert response.state == mpb.RESTORE_STATE_RESTART_PENDING
        assert stack.wait_exit(name) == 0  # the service stops by itself to apply it
    start(stack, *SERVICES)

    restored = counts(stack.realm)
    for store in final:
        # The backup is one moment between the writes finished before it and those finished after it.
        assert before[store] <= restored[store] <= after[store], (store, before, restored, after)
        assert restored[store] < final[store]
    for name in SERVICES:
        for item in backups[name].files:
            assert sound(stack.settings.data_dir / item.store_path)
    listed = list(maintenance(stack.realm, "vault").list_backups())
    assert [b.reason for b in listed][:2] == [mpb.BACKUP_REASON_PRE_RESTORE, mpb.BACKUP_REASON_ON_DEMAND]


def test_the_cli_backs_up_lists_validates_and_restores_offline(stack, tmp_path, capsys):
    start(stack, *SERVICES)
    first = counts(stack.realm)
    assert stack.cli("backup", "--json") == 0
    taken = json.loads(capsys.readouterr().out)
    assert {b["service"] for b in taken["backups"]} == set(SERVICES)
    vault_backup = next(b for b in taken["backups"] if b["service"] == "vault")
    assert vault_backup["files"][0]["store"] == "catalog" and len(vault_backup["files"][0]["sha256"]) == 64

    assert stack.cli("backup", "ls", "--service", "vault", "--json") == 0
    assert [b["name"] for b in json.loads(capsys.readouterr().out)] == [vault_backup["name"]]

    assert stack.cli("backup", "restore", vault_backup["name"], "--validate-only", "--json") == 0
    assert json.loads(capsys.readouterr().out)["state"] == "RESTORE_STATE_VALIDATED"
    assert stack.processes["vault"].poll() is None  # validate_only changes nothing and stops nothing

    path = tmp_path / "later.jsonl"
    path.write_text('{"text": "later"}\n')
    stack.realm.vault.push(path, "dataset")
    assert counts(stack.realm)["vault"] == first["vault"] + 1

    with pytest.raises(SystemExit):  # offline while the vault runs: refused, nothing changed
        stack.cli("backup", "restore", vault_backup["name"], "--offline")
    assert "answers at" in capsys.readouterr().err

    stack.stop("vault")
    assert stack.cli("backup", "restore", vault_backup["name"], "--offline", "--json") == 0
    assert json.loads(capsys.readouterr().out)["restored"] == vault_backup["name"]
    stack.start("vault")
    assert counts(stack.realm)["vault"] == first["vault"]


def test_online_restore_through_the_cli_waits_until_the_service_is_back(stack, capsys):
    start(stack, "vault")
    backup = maintenance(stack.realm, "vault").create_backup()

    def restart_when_it_exits() -> None:  # what the supervisor does
        assert stack.wait_exit("vault") == 0
        stack.start("vault")

    supervisor = threading.Thread(target=restart_when_it_exits)
    supervisor.start()
    try:
        assert stack.cli("backup", "restore", backup.name, "--json") == 0
    finally:
        supervisor.join()
    result = json.loads(capsys.readouterr().out)
    assert result["state"] == "RESTORE_STATE_RESTART_PENDING" and result["serving_again"] is True


def test_maintenance_refusals_are_clear(stack):
    start(stack, "vault")
    vault = maintenance(stack.realm, "vault")
    for call, field in (
        (lambda: vault.CreateBackup(mpb.CreateBackupRequest(parent="services/trainer")), "parent"),
        (lambda: vault.RestoreBackup(mpb.RestoreBackupRequest(name="services/vault/backups/nope")), "name"),
        (lambda: vault.ListBackups(mpb.ListBackupsRequest(page_token="garbage")), "page_token"),
    ):
        with pytest.raises(grpc.RpcError) as error:
            call()
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT and error.value.details().startswith(field)
    with pytest.raises(grpc.RpcError) as missing:
        vault.restore_backup("services/vault/backups/20250101-000000-000000-abcdef")
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND

    reader = maintenance(connect(stack.settings, token=READ_TOKEN), "vault")
    with pytest.raises(grpc.RpcError) as denied:
        list(reader.list_backups())
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED

    made = [vault.create_backup() for _ in range(12)]
    listed = list(vault.list_backups(page_size=3))
    assert [b.name for b in listed] == [b.name for b in reversed(made)][:10]  # backup.keep = 10
