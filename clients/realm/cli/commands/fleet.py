"""`realm up`, `realm down`, `realm status`: run and inspect the services of this host."""

from __future__ import annotations

import argparse
import time

from realm.cli.common import add_output_flags, console, emit, fail, settings


def register(subparsers: argparse._SubParsersAction) -> None:
    up = subparsers.add_parser("up", help="start every service of this host under the supervisor (Ctrl-C stops)")
    up.add_argument("--only", help="comma-separated services to run (default: all configured for this host)")
    up.set_defaults(handler=cmd_up)

    down = subparsers.add_parser("down", help="stop the running supervisor and its services")
    down.add_argument("--timeout", type=float, default=60.0)
    down.set_defaults(handler=cmd_down)

    status = add_output_flags(subparsers.add_parser("status", help="health of every configured service"))
    status.add_argument("--timeout", type=float, default=2.0, help="per-service health check deadline (s)")
    status.set_defaults(handler=cmd_status)


def cmd_up(args: argparse.Namespace) -> int:
    from services.kit.config import default_config_path
    from services.kit.logs import configure_logging
    from services.kit.supervisor import Supervisor, is_alive, read_state

    conf = settings(args)
    configure_logging(fmt="console" if console.is_terminal else "json")
    existing = read_state(conf)
    if existing and existing.get("supervisor_pid") and is_alive(existing["supervisor_pid"]):
        fail(f"a supervisor is already running (pid {existing['supervisor_pid']}); `realm down` stops it")
    styles = {"SERVING": "green", "STARTING": "yellow", "BACKOFF": "yellow", "FAILED": "red", "STOPPED": "dim",
              "NOT_SERVING": "red"}

    def on_event(service: str, state: str, message: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        console.print(f"{stamp} [{styles.get(state, 'white')}]{state:<11}[/] {service:<11} {message}")

    only = [s.strip() for s in args.only.split(",")] if args.only else None
    supervisor = Supervisor(conf, conf.path or default_config_path(), only=only, on_event=on_event)
    console.print(f"[bold]realm up[/bold]: {', '.join(c.endpoint.name for c in supervisor.children)} "
                  f"(logs in {supervisor.log_dir}); Ctrl-C stops everything")
    supervisor.run()
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from services.kit.supervisor import request_shutdown

    if not request_shutdown(settings(args), timeout=args.timeout):
        console.print("no supervisor is running")
        return 0
    console.print("stopped")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from services.kit.health import probe
    from services.kit.supervisor import read_state

    conf = settings(args)
    endpoints = [s for s in conf.services.values() if s.enabled]
    with ThreadPoolExecutor(max_workers=max(1, len(endpoints))) as pool:
        probes = list(pool.map(lambda e: probe(e, timeout=args.timeout), endpoints))
    supervised = (read_state(conf) or {}).get("services", {})
    rows = [
        {
            "service": p.service,
            "host": conf.service(p.service).host,
            "address": p.address,
            "state": p.state,
            "latency_ms": round(p.latency_ms, 1),
            "pid": (supervised.get(p.service) or {}).get("pid"),
            "restarts": (supervised.get(p.service) or {}).get("restarts"),
            "error": p.error,
        }
        for p in probes
    ]
    emit(args, rows, columns=["service", "host", "address", "state", "latency_ms", "pid", "restarts", "error"])
    return 0 if all(r["state"] == "SERVING" for r in rows) else 3
