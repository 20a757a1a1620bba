"""Time to first render of the Tavern's Battle page with 200,000 logged loss points and of its Vault page with
5,000 checkpoints, in Debian's chromium driven by Playwright, against real services (vault, curriculum, trainer,
gateway on loopback). Goal: under 1 s each.

Baseline, measured in the same run: the same pages with a small campaign (200 points / 50 checkpoints), so the
ratio says what the data size costs; the "cold" rows are the first Battle visit right after a trainer restart, with
the series snapshots the trainer saves and (the former behaviour) without them. "First render" = from navigation
start to the page marking itself ready (Battle: both charts drawn from the server's downsampled series; Vault: the
first page of the virtualised list drawn), read in the page with performance.now(). Vault "all" = every
checkpoint listed.

The step events are written straight into the trainer's event table (a worker would take hours to log 200,000
steps here); the checkpoints are real vault uploads (one tiny file each, deduplicated).

    .venv/bin/python bench/tavern_render.py [--points 200000] [--checkpoints 5000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "clients", ROOT / "ops", ROOT / "tests"):
    sys.path.insert(0, str(extra))

from browser.conftest import CHROMIUM_FLAGS, realm_for, sign_in  # noqa: E402
from realm.trainer.v1 import trainer_pb2 as tpb  # noqa: E402
from realm_ops.tiny_hero import build_tiny_hero  # noqa: E402

READY_PROBE = """
window.__readyAt = null; window.__allAt = null;
new MutationObserver(() => {
  const page = document.querySelector('section.page[data-ready=true]');
  if (page && window.__readyAt === null) window.__readyAt = performance.now();
  const count = document.querySelector('[data-vault=count]');
  if (count && !count.textContent.includes('loading') && window.__allAt === null && page) window.__allAt = performance.now();
}).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""


def insert_steps(realm, campaign: str, points: int) -> None:
    rows = [("STEP", time.time(), campaign, "", json.dumps({"step": {"global_step": step, "loss": 3.0 / (1 + step / 1e4)
             + (0.5 if step % 1000 == 0 else 0.0), "tokens_per_second": 1000.0 + step % 100}, "checkpoint": "",
             "run_state": "", "message": "", "attributes": {}})) for step in range(1, points + 1)]
    store = realm.trainer_domain.store
    with store._lock:  # one transaction: 200,000 single INSERTs would take minutes
        store._conn.executemany("INSERT INTO events (kind, time, campaign, quest, payload_json) VALUES (?,?,?,?,?)",
                                rows)
        store._conn.commit()


def push_checkpoints(realm, campaign: str, count: int, tmp: Path) -> None:
    source = tmp / "ckpt"
    source.mkdir(exist_ok=True)
    (source / "config.json").write_text('{"model_type": "qwen3"}')

    def push(step: int):
        realm.admin.vault.push(source, "checkpoint", display_name=f"step {step}",
                               lineage={"campaign": campaign, "global_step": step, "hero": "heroes/tiny"})
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(push, range(1, count + 1)))


def campaign(realm, campaign_id: str) -> str:
    name = realm.admin.trainer.CreateCampaign(tpb.CreateCampaignRequest(campaign=tpb.Campaign(
        display_name=campaign_id, hero="heroes/tiny"), campaign_id=campaign_id)).campaign.name
    return name


def measure(context, url: str, page_name: str, repeats: int) -> tuple[float, float]:
    ready, everything = [], []
    for _ in range(repeats):
        page = context.new_page()
        page.goto(f"{url}/#/{page_name}")
        page.wait_for_function("() => window.__readyAt !== null" + (" && window.__allAt !== null"
                               if page_name == "vault" else ""), timeout=120_000)
        ready.append(page.evaluate("() => window.__readyAt"))
        everything.append(page.evaluate("() => window.__allAt || window.__readyAt"))
        page.close()
    return statistics.median(ready), statistics.median(everything)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--checkpoints", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("needs Debian's chromium: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="tavern-bench-"))
    hero = build_tiny_hero(tmp / "hero")
    results = []
    with realm_for(tmp / "realm", hero, campaign_name="small") as realm:
        realm.admin.trainer.PauseTraining(tpb.PauseTrainingRequest(reason="bench"))
        small, large = realm.campaign, campaign(realm, "large")
        started = time.perf_counter()
        insert_steps(realm, small, 200)
        insert_steps(realm, large, args.points)
        push_checkpoints(realm, small, 50, tmp)
        push_checkpoints(realm, large, args.checkpoints, tmp)
        print(f"data ready in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(tmp / "profile"), executable_path=chromium, headless=True, args=CHROMIUM_FLAGS,
                viewport={"width": 1280, "height": 900})
            context.add_init_script(READY_PROBE)
            sign_in(context.new_page(), realm.url)
            for name, size_label in ((small, "small"), (large, "large")):
                realm.admin.trainer.ActivateCampaign(tpb.ActivateCampaignRequest(name=name))
                for page_name in ("battle", "vault"):
                    ready, everything = measure(context, realm.url, page_name, args.repeats)
                    results.append((page_name, size_label, ready, everything))
            # The first Battle visit right after a trainer restart (large campaign still active): with the series
            # snapshots the trainer saved, and without them (every step event parsed, as before snapshots).
            for size_label, drop_snapshots in (("cold, no snapshot", True), ("cold", False)):
                firsts = []
                for _ in range(args.repeats):
                    if drop_snapshots:
                        realm.trainer_domain.store.execute("DELETE FROM series_snapshots")
                    realm.restart_trainer()
                    firsts.append(measure(context, realm.url, "battle", 1)[0])
                ready = statistics.median(firsts)
                results.append(("battle", size_label, ready, ready))
            context.close()
    by_key = {(p, s): (r, a) for p, s, r, a in results}
    sizes = {("battle", "small"): "200 points", ("battle", "large"): f"{args.points:,} points",
             ("vault", "small"): "50 checkpoints", ("vault", "large"): f"{args.checkpoints:,} checkpoints",
             ("battle", "cold"): f"{args.points:,}, after restart", ("battle", "cold, no snapshot"):
             f"{args.points:,}, restart, no snap"}
    print(f"{'page':8} {'data':>28} {'first render ms':>16} {'all loaded ms':>14} {'ratio vs small':>15}")
    for (page_name, size_label), (ready, everything) in by_key.items():
        ratio = ready / by_key[(page_name, "small")][0]
        print(f"{page_name:8} {sizes[(page_name, size_label)]:>28} {ready:16.0f} {everything:14.0f} {ratio:15.2f}")
    battle, vault = by_key[("battle", "large")][0], by_key[("vault", "large")][0]
    cold, unsnapped = by_key[("battle", "cold")][0], by_key[("battle", "cold, no snapshot")][0]
    print(f"RESULT battle_{args.points}_points_ms={battle:.0f} battle_cold_ms={cold:.0f} "
          f"battle_cold_no_snapshot_ms={unsnapped:.0f} vault_{args.checkpoints}_checkpoints_ms={vault:.0f} "
          f"vault_all_loaded_ms={by_key[('vault', 'large')][1]:.0f} goal_ms=1000 "
          f"met={'yes' if max(battle, cold, vault) < 1000 else 'no'}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
