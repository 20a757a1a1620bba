"""`realm curriculum passives CAMPAIGN` — transfer baselines: gain or loss against the base model per skill.

Registered after curriculum.py (command modules load in name order) into its `curriculum` group.
"""

from __future__ import annotations

import argparse

from realm.cli.common import add_output_flags, client, emit, subcommands, to_dict

COLUMNS = ["checkpoint", "skill", "level", "accuracy", "base_accuracy", "delta", "regression", "total"]
SKILL_COLUMNS = ["skill", "checkpoint", "mean_delta", "regression", "levels"]


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subcommands(subparsers.choices["curriculum"])
    passives = add_output_flags(group.add_parser(
        "passives", help="transfer baselines: gain/loss vs the base model per skill (forgetting shows here)"))
    passives.add_argument("campaign")
    passives.add_argument("--schedule", metavar="CHECKPOINT", default="",
                          help="queue a measurement of this model (assets/…, an alias, a directory) as an idle task")
    passives.add_argument("--base", action="store_true", help="with --schedule: it is the campaign's base model")
    passives.add_argument("--priority", type=int, default=0, help="task priority 0-100 (default 50)")
    passives.set_defaults(handler=cmd_passives)


def cmd_passives(args) -> int:
    from realm.sdk.passives import passives_report, schedule_passives

    realm = client(args)
    if args.schedule:
        emit(args, schedule_passives(realm, args.campaign, args.schedule, base=args.base, priority=args.priority))
        return 0
    report = passives_report(realm, args.campaign)
    if args.json:
        emit(args, report)
        return 0
    rows = []
    for result in report.results:
        row = to_dict(result)
        for key in ("accuracy", "base_accuracy", "delta", "level", "total"):
            row.setdefault(key, 0)
        row["checkpoint"] = ("base: " if result.base else "") + result.checkpoint
        row["base_accuracy"] = row["base_accuracy"] if result.has_base else "-"
        row["regression"] = "REGRESSION" if result.regression else ""
        rows.append(row)
    emit(args, {"campaign": report.campaign, "base_model": report.base_model or "(none measured)",
                "sets": ", ".join(report.sets), "regression_threshold": report.regression_threshold})
    emit(args, rows, columns=COLUMNS, title="measurements")
    emit(args, [to_dict(s) for s in report.skills], columns=SKILL_COLUMNS, title="newest checkpoint per skill")
    return 0
