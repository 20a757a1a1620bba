"""`realm campaign lineage CAMPAIGN [--json]` — the data lineage of a campaign.

Registered after trainer.py (command modules load in name order) into its `campaign` group.
"""

from __future__ import annotations

import argparse

from realm.cli.common import add_output_flags, client, emit, subcommands, to_dict

QUEST_COLUMNS = ["quest", "state", "generator", "generator_version", "validator_version", "schema_id", "rows",
                 "sha256", "checkpoints"]
GENERATOR_COLUMNS = ["generator", "generator_version", "quests", "rows", "checkpoints", "validator_versions",
                     "schema_ids"]


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subcommands(subparsers.choices["campaign"])
    lineage = add_output_flags(group.add_parser(
        "lineage", help="every quest's generator, validator, schema, rows, sha256 and the checkpoints it trained"))
    lineage.add_argument("campaign")
    lineage.set_defaults(handler=cmd_lineage)


def cmd_lineage(args) -> int:
    from realm.trainer.v1 import lineage_pb2 as pb

    campaign = args.campaign if args.campaign.startswith("campaigns/") else f"campaigns/{args.campaign}"
    report = client(args).trainer.GetCampaignLineage(pb.GetCampaignLineageRequest(campaign=campaign))
    if args.json:
        emit(args, report)
        return 0
    quests = []
    for item in report.quests:
        row = to_dict(item)
        row["generator"] = item.generator or "(none)"
        row["sha256"] = item.sha256[:12]
        row["checkpoints"] = ", ".join(f"{c.asset or '(pending)'}@{c.global_step}" for c in item.checkpoints)
        quests.append(row)
    emit(args, quests, columns=QUEST_COLUMNS, title=f"{report.campaign}: quests")
    generators = [{**to_dict(g), "generator": g.generator or "(none)"} for g in report.generators]
    emit(args, generators, columns=GENERATOR_COLUMNS, title="by generator and version")
    return 0
