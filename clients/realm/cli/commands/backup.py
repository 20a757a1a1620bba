"""`realm backup [--service S]`, `realm backup ls`, `realm backup restore NAME`: the SQLite stores' backups.

A restore never overwrites a store under a running service. Online (default), the service verifies the backup,
stages it and stops; the supervisor starts it again and the kit puts the files back before any store opens; this
command waits until the service is SERVING again. `--offline` is for a stopped service (e.g. one whose store is
damaged and will not start): it runs the service's own entry point with `--restore-backup`, which refuses while
the service answers at its address or holds its lock.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import grpc

from realm.cli.common import add_output_flags, client, console, emit, fail, settings, to_dict

BACKUP_COLUMNS = ("name", "reason", "create_time", "stores", "total_bytes")
# Services with a gRPC MaintenanceService (the gateway is HTTP and keeps nothing durable).
GRPC_SERVICES = ("vault", "curriculum", "trainer", "inference", "warden")


def register(subparsers: argparse._SubParsersAction) -> None:
    backup = add_output_flags(subparsers.add_parser(
        "backup", help="back up the SQLite stores of every service (or --service S); ls, restore"))
    backup.add_argument("--service", help="only this service (default: every configured service with stores)")
    backup.set_defaults(handler=cmd_create)
    actions = backup.add_subparsers(dest="backup_command", metavar="ACTION")

    ls = add_output_flags(actions.add_parser("ls", help="list backups, newest first"))
    ls.add_argument("--service", default=argparse.SUPPRESS, help="only this service")
    ls.set_defaults(handler=cmd_ls)

    restore = add_output_flags(actions.add_parser("restore", help="restore a backup (services/S/backups/ID)"))
    restore.add_argument("name", help="the backup's name, as `realm backup ls` prints it")
    restore.add_argument("--validate-only", action="store_true", help="verify the backup, change nothing")
    restore.add_argument("--offline", action="store_true",
                         help="the service is stopped: restore its files here, through its own entry point")
    restore.add_argument("--wait", type=float, default=180.0,
                         help="seconds to wait for the service to be SERVING again after an online restore")
    restore.set_defaults(handler=cmd_restore)


def _services(args: argparse.Namespace, realm) -> list[str]:
    wanted = getattr(args, "service", None)
    if wanted:
        if wanted not in GRPC_SERVICES:
            fail(f"--service: unknown service {wanted!r}; expected one of {', '.join(GRPC_SERVICES)}", code=2)
        if wanted not in realm.addresses:
            fail(f"--service: {wanted} has no address in realm.yaml", code=2)
        return [wanted]
    return [s for s in GRPC_SERVICES if s in realm.addresses]


def _row(backup) -> dict:
    data = to_dict(backup)
    data["stores"] = ", ".join(f["store"] for f in data.get("files", []))
    return data


def cmd_create(args: argparse.Namespace) -> int:
    from realm.sdk.maintenance import maintenance

    realm = client(args)
    only_one = bool(getattr(args, "service", None))
    made, skipped = [], []
    for service in _services(args, realm):
        try:
            made.append(maintenance(realm, service).create_backup())
        except grpc.RpcError as exc:
            # A service without SQLite stores (inference, warden) has nothing to back up; say so, go on.
            if only_one or exc.code() not in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.UNAVAILABLE):
                raise
            skipped.append({"service": service, "reason": f"{exc.code().name}: {exc.details()}"})
    if getattr(args, "json", False):
        emit(args, {"backups": [to_dict(b) for b in made], "skipped": skipped})
        return 0
    emit(args, [_row(b) for b in made], BACKUP_COLUMNS, title="backups taken")
    for item in skipped:
        console.print(f"[dim]{item['service']}: skipped ({item['reason']})[/dim]")
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    from realm.sdk.maintenance import maintenance

    realm = client(args)
    found = []
    for service in _services(args, realm):
        try:
            found.extend(maintenance(realm, service).list_backups())
        except grpc.RpcError as exc:
            if getattr(args, "service", None) or exc.code() != grpc.StatusCode.UNAVAILABLE:
                raise
            console.print(f"[dim]{service}: not reachable ({exc.details()})[/dim]", highlight=False)
    if getattr(args, "json", False):
        emit(args, [to_dict(b) for b in found])
    else:
        emit(args, [_row(b) for b in found], BACKUP_COLUMNS)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from realm.common.v1 import maintenance_pb2 as mpb
    from realm.sdk.maintenance import maintenance, service_of

    try:
        service = service_of(args.name)
    except ValueError as exc:
        fail(f"name: {exc}", code=2)
    if service not in GRPC_SERVICES:
        fail(f"name: unknown service {service!r} in {args.name}", code=2)
    if args.offline:
        return _restore_offline(args, service)
    realm = client(args)
    try:
        response = maintenance(realm, service).restore_backup(args.name, validate_only=args.validate_only)
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.UNAVAILABLE:
            fail(f"the {service} service is not reachable; if it is stopped, restore offline: "
                 f"realm backup restore {args.name} --offline")
        raise
    result = {"backup": to_dict(response.backup), "state": mpb.RestoreState.Name(response.state),
              "message": response.message}
    if not args.validate_only and args.wait > 0:
        result["serving_again"] = _wait_for_restart(args, service)
        if not result["serving_again"]:
            result["message"] += f"; the service was not SERVING again within {args.wait:.0f}s"
    emit(args, result)
    return 0 if args.validate_only or args.wait <= 0 or result["serving_again"] else 1


def _wait_for_restart(args: argparse.Namespace, service: str) -> bool:
    """The service stops to apply the restore, then comes back: wait for the stop, then for SERVING."""
    from realm.health import probe

    endpoint = settings(args).service(service)
    deadline = time.monotonic() + args.wait
    went_down = False
    while time.monotonic() < deadline:
        serving = probe(endpoint, timeout=1.0).serving
        if not serving:
            went_down = True
        elif went_down:
            return True
        time.sleep(0.25)
    return False


def _restore_offline(args: argparse.Namespace, service: str) -> int:
    """Through the service's own entry point: this package never imports the services (a process boundary)."""
    command = [sys.executable, "-m", f"services.{service}", "--restore-backup", args.name]
    if getattr(args, "config", None):
        command += ["--config", args.config]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        message = completed.stderr.strip().splitlines()[-1:] or [f"exit {completed.returncode}"]
        fail(message[0].removeprefix("error: "))
    emit(args, json.loads(completed.stdout.strip().splitlines()[-1]))
    return 0
