"""The partition scenario shared by the plain-process and the container fleet tests: a campaign across the hosts,
the storage host's link cut and restored. Figures are printed, not asserted."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import yaml

from fixtures.kit import ADMIN_TOKEN, config_dict_for_tests
from realm.curriculum.v1 import curriculum_pb2 as cpb
from realm.health import probe
from realm.inference.v1 import inference_pb2 as ipb
from realm.sdk import connect
from realm.trainer.v1 import trainer_pb2 as tpb
from realm.vault.v1 import vault_pb2 as vpb
from realm.warden.v1 import warden_pb2 as wpb

PLACEMENT = {"vault": "storage", "curriculum": "control", "inference": "inference", "trainer": "training",
             "warden": "control"}
PORTS = {"trainer": 50051, "inference": 50052, "vault": 50053, "curriculum": 50054, "warden": 50055}


def write_fleet_config(path: Path, fleet, *, data_dir: str, heroes_dir: str) -> Path:
    """One realm.yaml naming the four hosts at their namespace addresses; services on fixed ports (each host has
    its own port space). Data and hero directories as the services will see them."""
    raw = config_dict_for_tests(
        Path(data_dir),
        trainer={"heroes_dir": heroes_dir, "outbox_retry_initial_s": 0.5, "outbox_retry_max_s": 2.0},
        curriculum={"eval_window": 2, "thresholds": {"bin": 0.4}, "full_eval_every": 0, "sparring": {"enabled": False}},
        warden={"keepalive_seconds": 1.0, "probe_timeout_seconds": 1.0, "backoff_initial_seconds": 0.2,
                "backoff_max_seconds": 1.0, "alert_after_seconds": 3, "critical_services": ["vault"]},
    )
    raw["hosts"] = {name: {"address": host.address, "roles": [name]} for name, host in fleet.hosts.items()}
    raw["services"] = {name: {"host": PLACEMENT[name], "port": PORTS[name]} for name in PLACEMENT}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    path.chmod(0o644)
    return path


def write_hero_file(heroes_dir: Path, model_dir: str) -> Path:
    """The tiny hero, shortened for the test: a checkpoint every 10 steps."""
    heroes_dir.mkdir(parents=True, exist_ok=True)
    (heroes_dir / "tiny.yaml").write_text(yaml.safe_dump({
        "display_name": "Tiny Hero", "model_dir": model_dir, "architecture": "qwen3",
        "training_defaults": {"learning_rate": 0.003, "lr_schedule": "constant", "warmup_steps": 5,
                              "micro_batch_size": 8, "max_seq_len": 256, "epochs": 1, "checkpoint_every_steps": 10},
        "optimizer": {"kind": "adamw", "weight_decay": 0.0},
        "idle": {"enabled": True, "skills": ["bin"], "queue_threshold": 1, "batch_rows": 1536, "preset": "equal"},
    }))
    (heroes_dir / "tiny.yaml").chmod(0o644)
    return heroes_dir


def wait_until_serving(settings, names, what: str, timeout: float = 240) -> None:
    for name in names:
        wait_for(lambda name=name: probe(settings.service(name), timeout=1.0).serving, timeout,
                 f"{name} SERVING on {settings.service(name).host} ({what})")


def wait_for(predicate, timeout: float, what: str, interval: float = 0.5):
    """Poll a condition on other processes (there is no event to wait on across process boundaries)."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # a partitioned service answers with errors
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last error: {last_error})")


def checkpoint_events(realm) -> tuple[list, list]:
    events = list(realm.trainer.StreamEvents(tpb.StreamEventsRequest(
        history_only=True, kinds=[tpb.EVENT_KIND_CHECKPOINT_SAVED, tpb.EVENT_KIND_CHECKPOINT_REGISTERED])))
    saved = [r.event for r in events if r.event.kind == tpb.EVENT_KIND_CHECKPOINT_SAVED]
    registered = [r.event for r in events if r.event.kind == tpb.EVENT_KIND_CHECKPOINT_REGISTERED]
    return saved, registered


def evaluations(realm, campaign: str) -> list:
    found = realm.curriculum.ListEvaluations(cpb.ListEvaluationsRequest(campaign=campaign, page_size=1000))
    return [e for e in found.evaluations if e.state == cpb.EVALUATION_STATE_SUCCEEDED]


def checkpoints(realm, campaign: str) -> list:
    return list(realm.vault.ListAssets(vpb.ListAssetsRequest(
        kind=vpb.ASSET_KIND_CHECKPOINT, campaign=campaign, page_size=1000, show_deleted=True)).assets)


class FleetWatch(threading.Thread):
    """Follows the warden's WatchFleet stream and records when the storage host changes state."""

    def __init__(self, realm) -> None:
        super().__init__(daemon=True)
        self._stream = realm.warden.WatchFleet(wpb.WatchFleetRequest(), timeout=3600)
        self.storage_state: dict[int, float] = {}  # state -> first time seen
        self.offline = threading.Event()
        self.online_again = threading.Event()

    def run(self) -> None:
        try:
            for update in self._stream:
                host = next(h for h in update.status.hosts if h.name == "hosts/storage")
                now = time.monotonic()
                if host.state == wpb.FLEET_STATE_OFFLINE:
                    self.storage_state.setdefault(wpb.FLEET_STATE_OFFLINE, now)
                    self.offline.set()
                elif host.state == wpb.FLEET_STATE_ONLINE and self.offline.is_set():
                    self.storage_state.setdefault(wpb.FLEET_STATE_ONLINE, now)
                    self.online_again.set()
        except Exception:  # cancelled at the end of the test
            pass

    def stop(self) -> None:
        self._stream.cancel()


def exercise_partition(fleet, config: Path) -> dict:
    """Run a campaign across the fleet, cut the storage link, restore it; returns the figures."""
    realm = connect(config, token=ADMIN_TOKEN)
    watch = FleetWatch(realm)
    watch.start()
    campaign = realm.trainer.CreateCampaign(tpb.CreateCampaignRequest(
        campaign=tpb.Campaign(display_name="fleet", hero="heroes/tiny", skills=["bin"]), campaign_id="fleet",
    )).campaign.name
    realm.trainer.ActivateCampaign(tpb.ActivateCampaignRequest(name=campaign))
    wait_for(lambda: checkpoint_events(realm)[1] and evaluations(realm, campaign), 400,
             "a first checkpoint in the vault and a first trial through inference")
    loaded = wait_for(lambda: [m for m in realm.inference.ListModels(ipb.ListModelsRequest()).models
                               if m.state == ipb.MODEL_STATE_READY], 60, "a model loaded in inference")

    # --- cut the storage host off -------------------------------------------------------------------
    saved_before, registered_before = checkpoint_events(realm)
    cut_at = time.monotonic()
    fleet.cut("storage")
    assert watch.offline.wait(60), "the warden never reported the storage host OFFLINE"
    time_to_offline = watch.storage_state[wpb.FLEET_STATE_OFFLINE] - cut_at
    storage = realm.warden.GetHost(wpb.GetHostRequest(name="hosts/storage")).host
    assert storage.state == wpb.FLEET_STATE_OFFLINE
    assert {s.state for s in storage.services} == {wpb.SERVING_STATE_UNREACHABLE}

    # the trainer keeps training: new checkpoints are saved and wait in its outbox
    held = wait_for(lambda: (lambda s, r: len(s) - len(r) if len(s) >= len(saved_before) + 2 else 0)(
        *checkpoint_events(realm)), 300, "two checkpoints saved while the vault is unreachable")
    saved_during, registered_during = checkpoint_events(realm)
    assert len(registered_during) == len(registered_before), "a registration landed through a cut link"
    # inference keeps serving the model it has
    answer = realm.inference.Generate(ipb.GenerateRequest(
        model=loaded[0].name, prompt="1+1=", parameters=ipb.GenerationParameters(max_new_tokens=4)))
    assert answer.summary.generated_tokens >= 1

    # --- restore the link -----------------------------------------------------------------------------
    restored_at = time.monotonic()
    fleet.restore("storage")
    saved_names = {e.checkpoint for e in saved_during}
    wait_for(lambda: len(checkpoint_events(realm)[1]) >= len(saved_during), 300,
             "every checkpoint saved during the cut registered")
    trials_before_restore = {e.name for e in evaluations(realm, campaign)}

    def registered_since_restore() -> set[str]:
        return {e.checkpoint for e in checkpoint_events(realm)[1][len(registered_during):]}

    # Any of them: the trainer keeps saving, and a newer checkpoint supersedes a trial not yet started (by design),
    # so on a slow machine the held ones may all be superseded by one registered after them.
    wait_for(lambda: {t.checkpoint for t in evaluations(realm, campaign)} & registered_since_restore(), 300,
             "a trial of a checkpoint registered after the link came back")
    registered_after = checkpoint_events(realm)[1]
    time_to_catch_up = time.monotonic() - restored_at
    assert watch.online_again.wait(30)
    time_to_online = watch.storage_state[wpb.FLEET_STATE_ONLINE] - restored_at

    # nothing lost: every registration is catalogued with its lineage, no trial dropped
    catalogued = {a.name: a for a in checkpoints(realm, campaign)}
    assert {e.checkpoint for e in registered_after} <= set(catalogued)
    for asset in catalogued.values():
        assert asset.lineage.campaign == campaign and asset.lineage.global_step > 0 and asset.lineage.quest
    assert trials_before_restore <= {e.name for e in evaluations(realm, campaign)}
    assert len(saved_names) >= len(saved_before) + 2
    figures = {"time_to_offline_s": round(time_to_offline, 2), "registrations_held": held,
               "time_to_online_s": round(time_to_online, 2), "time_to_catch_up_s": round(time_to_catch_up, 1)}
    print(f"\nFLEET time_to_offline_s={time_to_offline:.2f} registrations_held={held} "
          f"time_to_online_s={time_to_online:.2f} time_to_catch_up_s={time_to_catch_up:.1f}")
    watch.stop()
    return figures
