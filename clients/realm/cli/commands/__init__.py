"""Command groups: each module here exposes `register(subparsers)`; realm.cli.main discovers them.

Convention: every leaf command calls `parser.set_defaults(handler=fn)`, where `fn(args) -> int | None` does the
work (exit code; None = 0). Use realm.cli.common for --json, the SDK client, output and progress bars.
"""
