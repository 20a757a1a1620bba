"""`realm` — the command line for Realm. Command groups live in realm.cli.commands.*, discovered here."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import grpc

from realm.cli import commands


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
    return parser


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
        from services.kit.config import ConfigError

        if isinstance(exc, ConfigError | FileNotFoundError | ValueError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
