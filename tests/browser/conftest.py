"""The Tavern in a real browser: Debian's chromium driven by Python Playwright, against real services on loopback
(vault, curriculum, trainer with its real worker and the tiny hero, and the gateway), each bound to port 0 in
dependency order, the settings of the next naming the ports read back (fixtures.kit.start_server).

The services run in an asyncio loop on a background thread; the tests drive the browser from the main thread and
check every UI action through the API (the synchronous SDK, straight to the services).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures.kit import ADMIN_TOKEN, config_dict_for_tests, start_server

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
# Records CSP violations and script errors from the first instant of every document (Playwright injects this
# through the DevTools protocol, so the page's own CSP does not apply to it).
WATCHER = """
window.__tavern = {csp: [], errors: []};
document.addEventListener('securitypolicyviolation', (e) => window.__tavern.csp.push(
  {directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample}));
window.addEventListener('error', (e) => window.__tavern.errors.push(String(e.message)));
"""
# Small and quick on a shared 2-core CPU; max_steps comes from each quest's rows (1 epoch, 4 rows a step).
TRAINING_DEFAULTS = {"checkpoint_every_steps": 50, "max_seq_len": 128, "micro_batch_size": 4, "epochs": 1,
                     "learning_rate": 0.003, "warmup_steps": 0, "seed": 1}


def chat_rows(count: int, start: int = 0) -> bytes:
    import json

    rows = [{"messages": [{"role": "user", "content": f"{a} + {a}?"}, {"role": "assistant", "content": str(2 * a)}]}
            for a in range(start, start + count)]
    return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()


class Background:
    """An event loop on its own thread that hosts the servers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._stack = contextlib.AsyncExitStack()

    def run(self, coroutine, timeout: float = 300):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def call(self, function, *args, **kwargs):
        """Run a plain function on the loop's thread (e.g. EventLog.publish, which wakes followers there)."""
        async def wrapper():
            return function(*args, **kwargs)
        return self.run(wrapper())

    def enter(self, context_manager):
        return self.run(self._stack.enter_async_context(context_manager))

    def close(self) -> None:
        self.run(self._stack.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@dataclass
class Realm:
    background: Background
    url: str
    admin: Any  # realm.sdk.Realm with the admin token
    trainer_domain: Any
    campaign: str
    tmp: Path
    _restart_trainer: Any = None

    def restart_trainer(self):
        """Stop the trainer and start a new one on the same port and store; returns (and keeps) its domain."""
        self.trainer_domain = self.background.run(self._restart_trainer())
        return self.trainer_domain

    def submit(self, data: bytes, display_name: str, priority: str = "PRIORITY_NORMAL"):
        from realm.trainer.v1 import trainer_pb2 as tpb

        def messages():
            yield tpb.SubmitQuestRequest(header=tpb.QuestHeader(campaign=self.campaign, display_name=display_name,
                                                               priority=tpb.Priority.Value(priority)))
            yield tpb.SubmitQuestRequest(chunk=data)
        return self.admin.trainer.SubmitQuest(messages()).quest


@contextlib.asynccontextmanager
async def serve_stack(tmp: Path, hero_dir: Path):
    from aiohttp import web

    from services.curriculum.app import setup as curriculum_setup
    from services.gateway.app import create_app, make_runner
    from services.gateway.config import config_from_settings
    from services.kit.config import settings_from_dict
    from services.trainer.app import build_domain
    from services.trainer.app import setup as trainer_setup
    from services.vault.app import setup as vault_setup

    heroes = tmp / "heroes"
    heroes.mkdir(parents=True, exist_ok=True)
    (heroes / "tiny.yaml").write_text(yaml.safe_dump({
        "display_name": "Tiny Hero", "model_dir": str(hero_dir), "architecture": "qwen3",
        "training_defaults": TRAINING_DEFAULTS, "idle": {"enabled": False}}))
    raw = config_dict_for_tests(tmp / "var", trainer={
        "heroes_dir": str(heroes), "idle_poll_s": 0.1, "validation_retry_s": 0.5, "outbox_retry_initial_s": 0.1,
        "outbox_retry_max_s": 0.5, "worker_env": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}})
    settings = settings_from_dict(raw, root=tmp, env={})  # every port 0: each server reads its own back
    servers = []
    runner = None
    try:
        settings = await start_stack(settings, servers, (("vault", vault_setup), ("curriculum", curriculum_setup)))
        domain = build_domain(settings)
        trainer, settings = await start_server(settings, "trainer", trainer_setup, domain=domain)
        servers.append(trainer)
        # The curriculum sends sparring quests to the trainer, which needs it first: once the trainer listens,
        # the curriculum restarts (on its port) with the trainer's too.
        settings = await restart(settings, servers, "curriculum", curriculum_setup)
        addresses = {name: settings.service(name).address for name in ("vault", "curriculum", "trainer")}
        app = create_app(config_from_settings(settings, addresses, heartbeat_seconds=1.0))
        runner = make_runner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]

        async def restart_trainer():
            """A fresh trainer (new domain, caches and controller) on the same port and data dir, as after a
            restart."""
            nonlocal trainer
            await trainer.stop(0.5)
            servers.remove(trainer)
            fresh = build_domain(settings)
            trainer, _ = await start_server(settings, "trainer", trainer_setup, domain=fresh)
            servers.append(trainer)
            return fresh

        yield settings, domain, f"http://127.0.0.1:{port}", restart_trainer
    finally:
        if runner is not None:
            await runner.cleanup()
        for server in reversed(servers):
            await server.stop(0.5)


async def start_stack(settings, servers: list, plan) -> Any:
    """Start each (name, setup) of `plan` in order on port 0; returns the settings naming every port bound."""
    for name, setup in plan:
        server, settings = await start_server(settings, name, setup)
        servers.append(server)
    return settings


async def restart(settings, servers: list, name: str, setup) -> Any:
    """Stop `name` and start it again on the port it had, with `settings` (naming peers started after it)."""
    old = next(s for s in servers if s.name == name)
    await old.stop(0.5)
    server, settings = await start_server(settings, name, setup)
    servers[servers.index(old)] = server
    return settings


@pytest.fixture(scope="session")
def tiny_hero_dir(tmp_path_factory) -> Path:
    from realm_ops.tiny_hero import build_tiny_hero

    return build_tiny_hero(tmp_path_factory.mktemp("hero") / "tiny")


@contextlib.contextmanager
def realm_for(tmp: Path, hero_dir: Path, campaign_name: str = "Browser campaign"):
    from realm.sdk import connect
    from realm.trainer.v1 import trainer_pb2 as tpb

    background = Background()
    try:
        settings, domain, url, restart_trainer = background.enter(serve_stack(tmp, hero_dir))
        admin = connect(settings, token=ADMIN_TOKEN)
        campaign = admin.trainer.CreateCampaign(tpb.CreateCampaignRequest(campaign=tpb.Campaign(
            display_name=campaign_name, hero="heroes/tiny"), campaign_id="browser")).campaign.name
        admin.trainer.ActivateCampaign(tpb.ActivateCampaignRequest(name=campaign))
        yield Realm(background, url, admin, domain, campaign, tmp, restart_trainer)
    finally:
        background.close()


@pytest.fixture(scope="module")
def realm(tmp_path_factory, tiny_hero_dir):
    with realm_for(tmp_path_factory.mktemp("realm"), tiny_hero_dir) as running:
        yield running


@pytest.fixture(scope="session")
def chromium() -> str:
    pytest.importorskip("playwright.sync_api")
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    return path


@pytest.fixture
def browser_context(chromium, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=chromium, headless=True, args=CHROMIUM_FLAGS,
            accept_downloads=True, viewport={"width": 1280, "height": 900})
        context.add_init_script(WATCHER)
        try:
            yield context
        finally:
            context.close()


def sign_in(page, url: str, token: str = ADMIN_TOKEN) -> None:
    page.goto(url + "/")
    page.fill("#token", token)
    page.click("form.signin button[type=submit]")
    page.wait_for_selector("[data-action=sign-out]")


@pytest.fixture
def page(browser_context, realm):
    page = browser_context.new_page()
    sign_in(page, realm.url)
    return page


def open_page(page, url: str, name: str, query: str = "") -> None:
    page.goto(f"{url}/#/{name}{query}")
    page.wait_for_selector(f"section.page[data-page={name}][data-ready=true]", timeout=60_000)


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def download_csv(page, chart: str) -> list[dict[str, str]]:
    with page.expect_download() as info:
        page.click(f"[data-action=csv-{chart}]")
    text = Path(info.value.path()).read_text()
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


def watcher_report(page) -> dict:
    return page.evaluate("() => window.__tavern")
