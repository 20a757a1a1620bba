"""`realm status` (every configured service, probed directly, plus the warden's view) and `realm fleet` (the warden).

`up`/`down` live in the ops package."""

from __future__ import annotations

import argparse
import json

from realm.cli.common import add_output_flags, client, console, emit, settings


def register(subparsers: argparse._SubParsersAction) -> None:
    # `realm up` / `realm down` run the local supervisor: they come from the ops package (realm_ops.cli).
    status = add_output_flags(subparsers.add_parser("status", help="health of every configured service"))
    status.add_argument("--timeout", type=float, default=2.0, help="per-service health check deadline (s)")
    status.set_defaults(handler=cmd_status)

    fleet = add_output_flags(subparsers.add_parser(
        "fleet", help="the warden's view: hosts ONLINE/DEGRADED/OFFLINE, every service's health, disks, alerts"))
    fleet.add_argument("--watch", action="store_true", help="follow the warden's WatchFleet stream (Ctrl-C stops)")
    fleet.set_defaults(handler=cmd_fleet)


def cmd_status(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from realm.health import probe
    from realm.runstate import read_supervisor_state

    conf = settings(args)
    endpoints = [s for s in conf.services.values() if s.enabled]
    with ThreadPoolExecutor(max_workers=max(1, len(endpoints))) as pool:
        probes = list(pool.map(lambda e: probe(e, timeout=args.timeout), endpoints))
    supervised = (read_supervisor_state(conf) or {}).get("services", {})
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
    fleet = _fleet_status(args, timeout=args.timeout)
    watched = {s.service: s for h in fleet.hosts for s in h.services} if fleet is not None else {}
    for row in rows:
        seen = watched.get(row["service"])
        row["warden_state"] = _name(seen.state, "SERVING_STATE_") if seen is not None else None
        row["since"] = _time(seen.last_change_time) if seen is not None else None
    emit(args, rows, columns=["service", "host", "address", "state", "latency_ms", "pid", "restarts",
                              "warden_state", "since", "error"])
    if fleet is not None and not getattr(args, "json", False):
        _print_hosts_and_alerts(fleet)
    return 0 if all(r["state"] == "SERVING" for r in rows) else 3


def _name(number: int, prefix: str) -> str:
    from realm.warden.v1 import warden_pb2

    enum = {"SERVING_STATE_": warden_pb2.ServingState, "FLEET_STATE_": warden_pb2.FleetState,
            "DISK_LEVEL_": warden_pb2.DiskLevel, "ALERT_SEVERITY_": warden_pb2.AlertSeverity,
            "ALERT_KIND_": warden_pb2.AlertKind, "PROBE_MODE_": warden_pb2.ProbeMode}[prefix]
    return enum.Name(number).removeprefix(prefix)


def _time(stamp) -> str | None:
    if not (stamp.seconds or stamp.nanos):
        return None
    return stamp.ToDatetime().strftime("%Y-%m-%dT%H:%M:%SZ")


def _fleet_status(args: argparse.Namespace, timeout: float):
    """The warden's FleetStatus, or None when no warden is configured or it does not answer."""
    import grpc

    from realm.warden.v1 import warden_pb2

    conf = settings(args)
    if "warden" not in conf.services or not conf.services["warden"].enabled:
        return None
    try:
        return client(args).warden.GetFleetStatus(warden_pb2.GetFleetStatusRequest(), timeout=timeout).status
    except grpc.RpcError:
        return None


def _print_hosts_and_alerts(fleet) -> None:
    hosts = ", ".join(f"{h.name.removeprefix('hosts/')} {_name(h.state, 'FLEET_STATE_')}" for h in fleet.hosts)
    console.print(f"warden: fleet {_name(fleet.state, 'FLEET_STATE_')} ({fleet.serving}/{fleet.total} serving); "
                  f"hosts: {hosts}")
    for alert in fleet.alerts:
        console.print(f"[red]ALERT[/red] {_name(alert.severity, 'ALERT_SEVERITY_')} {alert.message}")


def fleet_rows(fleet) -> dict:
    """FleetStatus as plain rows: hosts, services, disks, alerts."""
    hosts, services, disks = [], [], []
    for host in fleet.hosts:
        name = host.name.removeprefix("hosts/")
        hosts.append({"host": name, "address": host.address, "roles": ",".join(host.roles),
                      "state": _name(host.state, "FLEET_STATE_"),
                      "serving": sum(1 for s in host.services if s.state == 1), "services": len(host.services)})
        for s in host.services:
            services.append({"service": s.service, "host": name, "address": s.address,
                             "state": _name(s.state, "SERVING_STATE_"), "since": _time(s.last_change_time),
                             "latency_ms": round(s.latency_ms, 1), "mode": _name(s.mode, "PROBE_MODE_"),
                             "reconnects": s.reconnects, "error": s.error})
        for d in host.disks:
            disks.append({"host": name, "path": d.path, "used_percent": round(d.used_percent, 1),
                          "free_gb": round(d.free_bytes / 1e9, 2), "level": _name(d.level, "DISK_LEVEL_")})
    alerts = [{"kind": _name(a.kind, "ALERT_KIND_"), "severity": _name(a.severity, "ALERT_SEVERITY_"),
               "subject": a.subject, "host": a.host, "since": _time(a.fire_time), "message": a.message}
              for a in fleet.alerts]
    return {"state": _name(fleet.state, "FLEET_STATE_"), "serving": fleet.serving, "total": fleet.total,
            "hosts": hosts, "services": services, "disks": disks, "alerts": alerts}


def _show_fleet(args: argparse.Namespace, fleet) -> None:
    data = fleet_rows(fleet)
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False), flush=True)
        return
    console.print(f"[bold]fleet {data['state']}[/bold] ({data['serving']}/{data['total']} serving)")
    emit(args, data["hosts"], columns=["host", "address", "roles", "state", "serving", "services"], title="hosts")
    emit(args, data["services"], columns=["service", "host", "state", "since", "latency_ms", "mode", "reconnects",
                                          "error"], title="services")
    if data["disks"]:
        emit(args, data["disks"], columns=["host", "path", "used_percent", "free_gb", "level"], title="disks")
    for alert in data["alerts"]:
        console.print(f"[red]ALERT[/red] {alert['severity']} {alert['message']} (since {alert['since']})")


def cmd_fleet(args: argparse.Namespace) -> int:
    from realm.warden.v1 import warden_pb2

    warden = client(args).warden
    if not args.watch:
        fleet = warden.GetFleetStatus(warden_pb2.GetFleetStatusRequest()).status
        _show_fleet(args, fleet)
        return 0 if fleet.state == warden_pb2.FLEET_STATE_ONLINE else 3
    try:
        for update in warden.WatchFleet(warden_pb2.WatchFleetRequest()):
            _show_fleet(args, update.status)
            for event in update.alert_events:
                verb = "resolved" if event.HasField("resolve_time") else "fired"
                if not getattr(args, "json", False):
                    console.print(f"alert {verb}: {event.message}")
    except KeyboardInterrupt:
        return 0
    return 0
