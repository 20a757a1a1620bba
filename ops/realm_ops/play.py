"""`realm play` — what `make run` runs: build the tiny hero if absent, start every service of this host under the
supervisor, make sure a campaign is active, and show the hero's progress live until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import threading
import time

import grpc
from rich.markup import escape

from realm.cli.common import settings
from realm_ops.heroes import ensure_tiny_hero
from realm_ops.live import LiveView

DEFAULT_SKILLS = ("bin", "syllo")
# The tiny hero's default campaign trains BIN only. Measured in `make run`'s loop (bench/loop_speed.py): every
# 12-row SYLLO quest wiped BIN L1 trial accuracy (0.64 -> 0.02, 0.74 -> 0.38) and SYLLO's long prompts were half of
# every trial's work while staying at 0 %. `realm play --skill bin --skill syllo` still trains both.
HERO_SKILLS = {"tiny": ("bin",)}
# A SYLLO row is ~15x the tokens of a BIN row for the tiny hero, and a long SYLLO quest at full learning rate
# wipes its BIN answer format (trials right after one scored 0): a tiny weight keeps SYLLO quests to a few steps.
DEFAULT_WEIGHTS = {"bin": 1.0, "syllo": 0.002}
# The tiny hero's default campaign trains without a mantra: the default one ("Today is {date}. You are happy...")
# is ~49 tokens of system turn on every ~29-token BIN L1 row, 2.7x the compute per example for a random-init
# model that has no use for it (bench/loop_levers.py measures the difference). Other heroes keep the default.
HERO_MANTRAS = {"tiny": ""}
# Every service of this host shares the same few cores: OpenMP threads that spin while they wait starve the
# other processes (inference running a trial beside the training worker). An operator's own value wins.
PLAY_ENVIRONMENT = {"OMP_WAIT_POLICY": "PASSIVE"}


def register(subparsers: argparse._SubParsersAction) -> None:
    play = subparsers.add_parser("play", help="build the tiny hero if needed, start everything, train and watch")
    play.add_argument("--campaign", default="default", help="campaign id to create/activate (default: default)")
    play.add_argument("--hero", default="tiny", help="hero to train (default: tiny)")
    play.add_argument("--skill", action="append",
                      help="skills of a new campaign (default: bin for the tiny hero, else bin and syllo)")
    play.add_argument("--no-follow", action="store_true", help="start and bootstrap only; no live progress")
    play.set_defaults(handler=cmd_play)


def wait_serving(conf, names: list[str], stop: threading.Event, timeout: float = 600) -> bool:
    from realm.health import probe

    deadline = time.monotonic() + timeout
    while not stop.is_set() and time.monotonic() < deadline:
        if all(probe(conf.service(n), timeout=1.0).serving for n in names if n in conf.services):
            return True
        stop.wait(0.5)
    return False


def ensure_campaign(realm, args) -> str:
    """The active campaign, or a new one; its curriculum weights are set before it is activated, so the
    trainer's hero loop plans with them from its very first batch."""
    from realm.curriculum.v1 import curriculum_pb2
    from realm.trainer.v1 import campaign_setup_pb2 as spb
    from realm.trainer.v1 import trainer_pb2 as pb

    trainer = realm.trainer
    active = trainer.ListCampaigns(pb.ListCampaignsRequest(page_size=100, state=pb.CAMPAIGN_STATE_ACTIVE)).campaigns
    if active:
        return active[0].name
    name = f"campaigns/{args.campaign}"
    try:
        campaign = trainer.GetCampaign(pb.GetCampaignRequest(name=name)).campaign
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.NOT_FOUND:
            raise
        draft = pb.Campaign(display_name=args.campaign, hero=f"heroes/{args.hero}",
                            skills=args.skill or list(HERO_SKILLS.get(args.hero, DEFAULT_SKILLS)))
        if args.hero in HERO_MANTRAS:  # an empty text = no mantra
            draft.mantra.CopyFrom(spb.Mantra(text=HERO_MANTRAS[args.hero]))
        campaign = trainer.CreateCampaign(pb.CreateCampaignRequest(campaign=draft, campaign_id=args.campaign)).campaign
    realm.curriculum.ConfigureCampaign(curriculum_pb2.ConfigureCampaignRequest(
        campaign=name,
        skills=[curriculum_pb2.SkillSettings(skill=s, enabled=True, weight=DEFAULT_WEIGHTS.get(s, 1.0))
                for s in campaign.skills],
    ))
    trainer.ActivateCampaign(pb.ActivateCampaignRequest(name=name))
    return name


def tavern_url(conf) -> str | None:
    return conf.http_url("gateway") if "gateway" in conf.services else None


def follow(realm, campaign: str, stop: threading.Event, view: LiveView, conf) -> None:
    """Live progress from the trainer's event stream; trial results and level-ups as lines above it."""
    from realm.trainer.v1 import trainer_pb2 as pb

    url = tavern_url(conf)
    view.line(f"[bold]campaign {campaign}[/bold] — training" + (f"; the Tavern is at {url}" if url else ""))
    after = 0
    while not stop.is_set():
        try:
            stream = realm.trainer.StreamEvents(pb.StreamEventsRequest(after_sequence=after))
            for response in stream:
                event = response.event
                after = event.sequence
                if stop.is_set():
                    stream.cancel()
                    return
                if event.kind == pb.EVENT_KIND_STEP:
                    s = event.step
                    view.progress_update(completed=s.quest_step, total=s.quest_steps_total or None,
                                         description=event.quest.removeprefix("quests/"),
                                         info=f"step {s.global_step} loss {s.loss:.4f} "
                                              f"{s.tokens_per_second:,.0f} tok/s eta {s.eta_seconds:,.0f}s")
                    continue
                kind = pb.EventKind.Name(event.kind).removeprefix("EVENT_KIND_").lower()
                detail = " ".join(f"{k}={v}" for k, v in sorted(event.attributes.items()))
                style = "bold green" if event.kind == pb.EVENT_KIND_LEVEL_UP else "white"
                view.line(f"[{style}]{time.strftime('%H:%M:%S')} {kind:<22} "
                          f"{event.checkpoint or event.quest} {event.message} {detail}[/]")
        except Exception as exc:  # a restarting trainer: reconnect and resume from the last sequence
            if stop.is_set():
                return
            view.line(f"[yellow]event stream interrupted ({exc.__class__.__name__}); reconnecting[/yellow]")
            stop.wait(2)


def cmd_play(args: argparse.Namespace) -> int:
    from realm.sdk import connect
    from realm.settings import default_config_path
    from realm_ops.runstate import PortInUse, SupervisorRunning
    from realm_ops.supervisor import Supervisor
    from services.kit.logs import configure_logging

    conf = settings(args)
    for name, value in PLAY_ENVIRONMENT.items():
        os.environ.setdefault(name, value)  # inherited by the supervisor's children (realm.yaml supervisor.pass_env)
    configure_logging("warning", "console")
    stop = threading.Event()
    with LiveView(progress=not args.no_follow) as view:
        ensure_tiny_hero(conf, args.hero, view.line)

        def on_event(service: str, state: str, message: str) -> None:
            if state != "SERVING" or message:
                view.event(service, state, message)

        supervisor = Supervisor(conf, conf.path or default_config_path(), on_event=on_event)
        try:
            supervisor.claim()  # fail now, naming what holds a port, rather than after the bootstrap started
        except (SupervisorRunning, PortInUse) as exc:
            view.line(f"[red]error:[/red] {escape(str(exc))}")
            return 1
        for service, pid in supervisor.reclaimed.items():
            view.line(f"[yellow]stopped a leftover {service} (pid {pid}) of a supervisor that died[/yellow]")

        def bootstrap() -> None:
            if not wait_serving(conf, ["trainer", "curriculum", "vault"], stop):
                return
            realm = connect(conf)
            try:
                campaign = ensure_campaign(realm, args)
            except Exception as exc:
                view.line(f"[red]could not start the campaign: {exc}[/red]")
                return
            url, token = tavern_url(conf), conf.client_token_spec()
            if url:
                view.line(f"Tavern: {url}  (token: {token.file or token.env or 'in realm.yaml'})")
            if not args.no_follow:
                follow(realm, campaign, stop, view, conf)

        helper = threading.Thread(target=bootstrap, daemon=True)
        helper.start()
        try:
            supervisor.run()
        finally:
            stop.set()
    return 0
