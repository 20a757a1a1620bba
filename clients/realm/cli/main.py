"""`realm` — the command line for Realm. Command groups live in realm.cli.commands.*, discovered here.

Installed packages may add command groups through the `realm.cli` entry-point group (each entry a
`register(subparsers)` callable): the full install's ops package adds `up`, `down`, `play` and `hero build-tiny`
that way, so a clients-only install has the user commands and never imports the servers.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from importlib.metadata import EntryPoint, distributions

import grpc

from realm.cli import commands
from realm.settings import ConfigError

PLUGIN_GROUP = "realm.cli"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="realm", description="Realm: train a hero, level by level.")
    parser.add_argument("--config", help="path to realm.yaml (default: $REALM_CONFIG or ./realm.yaml)")
    parser.add_argument("--token", help="bearer token (default: $REALM_TOKEN or the config's client token)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    for plugin in plugins():
        plugin.load()(subparsers)
    return parser


def plugins() -> list[EntryPoint]:
    """Entry points of the `realm.cli` group across every installed distribution.

    Not `entry_points(group=...)`: it keeps one distribution per name, and a stale `realm.egg-info` in the
    working directory (first on sys.path under `python -m`) would hide the installed one's plugins.
    """
    found: dict[str, EntryPoint] = {}
    for dist in distributions():
        for entry in dist.entry_points:
            if entry.group == PLUGIN_GROUP:
                found.setdefault(entry.name, entry)
    return [found[name] for name in sorted(found)]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.error(f"{args.command}: choose a sub-command")
    try:
        result = handler(args)
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else None
        details = exc.details() if hasattr(exc, "details") else str(exc)
        print(f"error: {code.name if code else 'RPC'}: {details}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # config errors and the like: one clear line, no traceback
        if isinstance(exc, ConfigError | FileNotFoundError | ValueError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
