"""`realm task ls|run|status|cancel` — background (idle-GPU) tasks on the inference host."""

from __future__ import annotations

import argparse

from realm.cli.common import add_output_flags, client, emit, to_dict

COLUMNS = ["name", "kind", "priority", "state", "progress", "worker", "message", "error"]
SCHEDULER_COLUMNS = ["idle", "interactive_requests", "background_requests", "max_interactive_delay_seconds",
                     "preemptions", "bound_exceeded"]


def register(subparsers: argparse._SubParsersAction) -> None:
    task = subparsers.add_parser("task", help="background tasks the inference host runs when idle")
    ts = task.add_subparsers(dest="task_command", metavar="SUBCOMMAND", required=True)
    ls = add_output_flags(ts.add_parser("ls", help="list tasks (newest first) and the scheduler's status"))
    ls.add_argument("--state", default="", help="queued, running, succeeded, failed or cancelled")
    ls.add_argument("--kind", default="")
    ls.set_defaults(handler=cmd_ls)
    run = add_output_flags(ts.add_parser("run", help="register a task; it runs when the host is idle"))
    run.add_argument("kind", help='"eval" (full eval of a checkpoint), "passives" (transfer baselines) or "sparring" '
                     '(wrong answers to fresh problems become a correction quest)')
    run.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                     help="a task parameter, e.g. -p campaign=c1 -p checkpoint=assets/abc")
    run.add_argument("--priority", type=int, default=50, help="0-100, higher first (default 50)")
    run.add_argument("--id", default="", help="task id (default: minted)")
    run.add_argument("--name", default="", help="display name")
    run.set_defaults(handler=cmd_run)
    status = add_output_flags(ts.add_parser("status", help="one task, or the scheduler when no task is named"))
    status.add_argument("task", nargs="?", default="")
    status.set_defaults(handler=cmd_status)
    cancel = add_output_flags(ts.add_parser("cancel", help="cancel a task (a running one stops at its next report)"))
    cancel.add_argument("task")
    cancel.set_defaults(handler=cmd_cancel)


def _parameters(pairs: list[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--param: expected KEY=VALUE, got {pair!r}")
        parameters[key] = value
    return parameters


def _row(task) -> dict:
    row = to_dict(task)
    row.setdefault("progress", 0.0)
    row["state"] = row.get("state", "").removeprefix("TASK_STATE_").lower()
    return row


def cmd_ls(args) -> int:
    from realm.sdk.tasks import list_tasks

    tasks, scheduler = list_tasks(client(args), state=args.state, kind=args.kind)
    if args.json:
        emit(args, {"tasks": [_row(t) for t in tasks], "scheduler": to_dict(scheduler)})
    else:
        emit(args, [_row(t) for t in tasks], columns=COLUMNS)
        emit(args, to_dict(scheduler), columns=SCHEDULER_COLUMNS, title="scheduler")
    return 0


def cmd_run(args) -> int:
    from realm.sdk.tasks import create_task

    task = create_task(client(args), args.kind, _parameters(args.param), priority=args.priority,
                       display_name=args.name, task_id=args.id)
    emit(args, _row(task))
    return 0


def cmd_status(args) -> int:
    from realm.sdk.tasks import get_task, list_tasks

    realm = client(args)
    if args.task:
        emit(args, _row(get_task(realm, args.task)))
    else:
        emit(args, to_dict(list_tasks(realm, page_size=1)[1]), columns=SCHEDULER_COLUMNS)
    return 0


def cmd_cancel(args) -> int:
    from realm.sdk.tasks import cancel_task

    emit(args, _row(cancel_task(client(args), args.task)))
    return 0
