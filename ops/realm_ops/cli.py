"""The ops package's `realm` commands: `up`, `down`, `play` and `hero build-tiny`.

`realm.cli.main` loads `register` through the `realm.cli` entry point (pyproject.toml), so the one `realm`
command of a full install has these next to the user commands; a clients-only install has the user commands.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from realm.cli.common import console, emit, err_console, fail, settings, subcommands
from realm_ops import play


def register(subparsers: argparse._SubParsersAction) -> None:
    up = subparsers.add_parser("up", help="start every service of this host under the supervisor (Ctrl-C stops)")
    up.add_argument("--only", help="comma-separated services to run (default: all configured for this host)")
    up.set_defaults(handler=cmd_up)

    down = subparsers.add_parser("down", help="stop the running supervisor and its services (from any shell)")
    down.add_argument("--timeout", type=float, default=60.0)
    down.set_defaults(handler=cmd_down)

    play.register(subparsers)

    hero = subcommands(subparsers.choices["hero"])
    build = hero.add_parser("build-tiny", help="build the tiny hero locally (random init, local tokenizer)",
                            description="build the tiny hero locally (random init, local tokenizer)")
    build.add_argument("--json", action="store_true", help="print machine-readable JSON")
    build.add_argument("--out", help="model directory (default: the tiny hero's model_dir from its hero YAML)")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--threads", type=int, default=1)
    build.add_argument("--force", action="store_true")
    build.set_defaults(handler=cmd_hero_build_tiny)


def cmd_up(args: argparse.Namespace) -> int:
    from realm.settings import default_config_path
    from realm_ops.live import LiveView
    from realm_ops.runstate import PortInUse, SupervisorRunning
    from realm_ops.supervisor import Supervisor
    from services.kit.logs import configure_logging

    conf = settings(args)
    configure_logging(fmt="console" if err_console.is_terminal else "json")
    only = [s.strip() for s in args.only.split(",")] if args.only else None
    view = LiveView(console)
    supervisor = Supervisor(conf, conf.path or default_config_path(), only=only, on_event=view.event)
    try:
        supervisor.claim()  # refuse early, naming the running supervisor or whatever holds a port
    except (SupervisorRunning, PortInUse) as exc:
        fail(str(exc))
    with view:
        for service, pid in supervisor.reclaimed.items():
            view.line(f"[yellow]stopped a leftover {service} (pid {pid}) of a supervisor that died[/yellow]")
        view.line(f"[bold]realm up[/bold]: {', '.join(c.endpoint.name for c in supervisor.children)} "
                  f"(logs in {supervisor.log_dir}); Ctrl-C or `realm down` stops everything")
        supervisor.run()
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from realm_ops.runstate import request_shutdown

    if not request_shutdown(settings(args), timeout=args.timeout):
        console.print("no supervisor is running")
        return 0
    console.print("stopped")
    return 0


def cmd_hero_build_tiny(args: argparse.Namespace) -> int:
    from realm_ops.heroes import TINY_HERO, build_tiny, hero_model_dir

    out = Path(args.out) if args.out else hero_model_dir(settings(args), TINY_HERO)
    if (out / "config.json").exists() and not args.force:
        emit(args, {"model_dir": str(out), "built": False, "reason": "already exists (use --force to rebuild)"})
        return 0
    path = build_tiny(out, seed=args.seed, threads=args.threads)
    info = json.loads((path / "realm_hero.json").read_text())
    emit(args, {"model_dir": str(path), "built": True, **info})
    return 0
