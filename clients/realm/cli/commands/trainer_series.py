"""`realm train series CAMPAIGN [--metric loss] [--from N] [--to N] [--points N] [--ema W] [--json]` — a step
metric of a campaign, downsampled by step buckets that keep min/max/mean, with causal EMA smoothing (what the
Tavern's Battle charts draw, as a table or JSON).

Registered after trainer.py (command modules load in name order) into its `train` group.
"""

from __future__ import annotations

import argparse

from realm.cli.common import add_output_flags, client, emit, subcommands

COLUMNS = ["first_step", "last_step", "count", "min", "max", "mean", "last", "smoothed"]


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subcommands(subparsers.choices["train"])
    series = add_output_flags(group.add_parser(
        "series", help="a step metric (loss, tokens_per_second, ...) downsampled with min/max/mean and EMA"))
    series.add_argument("campaign")
    series.add_argument("--metric", default="loss", help="loss (default), tokens_per_second, learning_rate, ...")
    series.add_argument("--from", dest="start_step", type=int, default=0, help="first step (inclusive)")
    series.add_argument("--to", dest="end_step", type=int, default=0, help="last step (inclusive)")
    series.add_argument("--points", type=int, default=50, help="at most this many buckets (default 50)")
    series.add_argument("--ema", type=float, default=0.0, help="EMA weight in [0, 1); 0 = no smoothing")
    series.set_defaults(handler=cmd_series)


def cmd_series(args) -> int:
    from realm.trainer.v1 import trainer_pb2 as pb

    campaign = args.campaign if args.campaign.startswith("campaigns/") else f"campaigns/{args.campaign}"
    found = client(args).trainer.GetMetricSeries(pb.GetMetricSeriesRequest(
        campaign=campaign, metric=args.metric, start_step=args.start_step, end_step=args.end_step,
        max_points=args.points, smoothing=pb.SMOOTHING_KIND_EMA if args.ema > 0 else pb.SMOOTHING_KIND_NONE,
        smoothing_weight=args.ema))
    if args.json:
        emit(args, found)
        return 0
    rows = [{name: getattr(b, name) for name in COLUMNS} for b in found.buckets]
    emit(args, rows, columns=COLUMNS, title=f"{found.campaign} {found.metric}: {found.points} steps, "
                                            f"{found.bucket_steps} per row, last step {found.last_step}")
    return 0
