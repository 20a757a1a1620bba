"""`realm quest preview QUEST [--rows 5] [--json]` — the first rows of a quest's file as the trainer keeps it;
`realm quest eta [CAMPAIGN] [--json]` — steps, duration and start time of each quest in the queue, in run order.

Registered after trainer.py (command modules load in name order) into its `quest` group.
"""

from __future__ import annotations

import argparse
import json

from realm.cli.common import add_output_flags, client, emit, fail, subcommands

ETA_COLUMNS = ["position", "quest", "steps", "tokens", "duration", "starts_in", "basis"]


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subcommands(subparsers.choices["quest"])
    preview = add_output_flags(group.add_parser("preview", help="the first rows of a quest (queued or not)"))
    preview.add_argument("quest")
    preview.add_argument("--rows", type=int, default=5, help="how many rows, 1-100 (default 5)")
    preview.set_defaults(handler=cmd_preview)
    eta = add_output_flags(group.add_parser("eta", help="when each queued quest should start, and for how long"))
    eta.add_argument("campaign", nargs="?", help="default: the active campaign")
    eta.set_defaults(handler=cmd_eta)


def cmd_preview(args) -> int:
    found = client(args).trainer.quest_preview(args.quest, rows=args.rows)
    if args.json:
        emit(args, found)
        return 0
    rows = [{"line": r.line, "row": json.dumps(_row(r), ensure_ascii=False) if r.HasField("row") else r.text,
             "clipped": r.clipped} for r in found.rows]
    more = " (more follow)" if found.truncated else ""
    emit(args, rows, columns=["line", "row", "clipped"],
         title=f"{found.quest}: first {len(rows)} of {found.total_rows} rows{more}")
    return 0


def _row(row) -> dict:
    from google.protobuf import json_format

    return json_format.MessageToDict(row.row)


def _duration(seconds: float, known: bool) -> str:
    if not known:
        return "unknown"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def cmd_eta(args) -> int:
    trainer = client(args).trainer
    campaign = args.campaign
    if not campaign:
        from realm.trainer.v1 import trainer_pb2 as pb

        active = [c for c in trainer.ListCampaigns(pb.ListCampaignsRequest(page_size=500)).campaigns
                  if c.state == pb.CAMPAIGN_STATE_ACTIVE]
        if not active:
            fail("no campaign is active; name one")
        campaign = active[0].name
    found = trainer.queue_estimate(campaign)
    if args.json:
        emit(args, found)
        return 0
    rows = [{"position": e.position or "running", "quest": e.quest, "steps": e.steps, "tokens": e.tokens,
             "duration": _duration(e.duration_seconds, e.duration_seconds > 0),
             "starts_in": _duration(e.starts_in_seconds, e.known), "basis": e.basis} for e in found.quests]
    rate = f"{found.tokens_per_second:.0f} tokens/s ({found.throughput_basis})"
    emit(args, rows, columns=ETA_COLUMNS,
         title=f"{found.campaign}{'' if found.active else ' (not active)'}: {rate}")
    return 0
