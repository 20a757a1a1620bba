"""`realm vault ...`: list, inspect, push, pull, alias, pin, delete, retention/GC, verify, stats, ledger."""

from __future__ import annotations

import argparse
from typing import Any

from realm.cli.common import add_output_flags, client, console, emit, fail, progress, to_dict

ASSET_COLUMNS = ["name", "kind", "state", "display_name", "size_bytes", "campaign", "global_step", "aliases"]


def register(subparsers: argparse._SubParsersAction) -> None:
    vault = subparsers.add_parser("vault", help="checkpoints, datasets and reports in the vault")
    sub = vault.add_subparsers(dest="vault_command", metavar="ACTION", required=True)

    ls = add_output_flags(sub.add_parser("ls", help="list assets (newest first)"))
    ls.add_argument("--kind", help="checkpoint, dataset, eval_report, base_model, tokenizer, config")
    ls.add_argument("--campaign")
    ls.add_argument("--hero")
    ls.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    ls.add_argument("--all", action="store_true", help="include deleted assets")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--page-token", default="")
    ls.set_defaults(handler=cmd_ls)

    show = add_output_flags(sub.add_parser("show", help="one asset (by name or alias) with files and lineage"))
    show.add_argument("name", help="assets/{id} or campaigns/{c}/aliases/{alias}")
    show.set_defaults(handler=cmd_show)

    push = add_output_flags(sub.add_parser("push", help="upload a file or directory as one asset"))
    push.add_argument("path")
    push.add_argument("--kind", required=True)
    push.add_argument("--campaign", default="")
    push.add_argument("--hero", default="")
    push.add_argument("--step", type=int, default=0, help="global step (checkpoints)")
    push.add_argument("--parent", default="", help="parent checkpoint asset")
    push.add_argument("--quest", default="")
    push.add_argument("--source", action="append", default=[], help="source dataset asset (repeatable)")
    push.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    push.add_argument("--name", default="", help="display name (default: the path's name)")
    push.add_argument("--zone", default="")
    push.add_argument("--request-id", default="", help="idempotency key: re-running continues the same upload")
    push.set_defaults(handler=cmd_push)

    pull = add_output_flags(sub.add_parser("pull", help="download an asset into a directory, verified"))
    pull.add_argument("name", help="assets/{id} or campaigns/{c}/aliases/{alias}")
    pull.add_argument("dest")
    pull.add_argument("--overwrite", action="store_true")
    pull.set_defaults(handler=cmd_pull)

    alias = sub.add_parser("alias", help="set, list, resolve or remove aliases")
    alias_sub = alias.add_subparsers(dest="alias_command", metavar="ACTION", required=True)
    alias_set = add_output_flags(alias_sub.add_parser("set", help="point an alias at an asset"))
    alias_set.add_argument("alias", help="campaigns/{c}/aliases/{alias}")
    alias_set.add_argument("asset")
    alias_set.add_argument("--metric", default="")
    alias_set.add_argument("--value", type=float, default=0.0)
    alias_set.add_argument("--direction", choices=["max", "min"])
    alias_set.add_argument("--only-if-better", action="store_true")
    alias_set.set_defaults(handler=cmd_alias_set)
    alias_ls = add_output_flags(alias_sub.add_parser("ls", help="aliases of a campaign"))
    alias_ls.add_argument("campaign")
    alias_ls.set_defaults(handler=cmd_alias_ls)
    alias_get = add_output_flags(alias_sub.add_parser("resolve", help="the asset an alias points at"))
    alias_get.add_argument("alias")
    alias_get.set_defaults(handler=cmd_alias_resolve)
    alias_rm = add_output_flags(alias_sub.add_parser("rm", help="remove a user alias"))
    alias_rm.add_argument("alias")
    alias_rm.set_defaults(handler=cmd_alias_rm)

    pin = add_output_flags(sub.add_parser("pin", help="pin an asset (retention keeps it)"))
    pin.add_argument("name")
    pin.add_argument("--note", default="")
    pin.set_defaults(handler=cmd_pin)
    unpin = add_output_flags(sub.add_parser("unpin", help="remove a pin"))
    unpin.add_argument("name")
    unpin.set_defaults(handler=cmd_unpin)

    rm = add_output_flags(sub.add_parser("rm", help="delete an asset (two-phase; refused if pinned/aliased)"))
    rm.add_argument("name")
    rm.add_argument("--force", action="store_true")
    rm.set_defaults(handler=cmd_rm)

    policy = add_output_flags(sub.add_parser("policy", help="show or set a campaign's retention policy"))
    policy.add_argument("campaign", help="campaigns/{c}, or campaigns/- for the default")
    policy.add_argument("--set", action="store_true", help="replace the policy with the flags given")
    policy.add_argument("--keep-latest", type=int, default=0)
    policy.add_argument("--keep-best", action="store_true", help="keep the best checkpoint per skill")
    policy.add_argument("--keep-pinned", action="store_true")
    policy.add_argument("--keep-newer-than", type=float, default=0.0, metavar="SECONDS")
    policy.add_argument("--min-evals", type=int, default=0)
    policy.add_argument("--zone-cap", action="append", default=[], metavar="ZONE=BYTES")
    policy.add_argument("--disabled", action="store_true")
    policy.set_defaults(handler=cmd_policy)

    gc = add_output_flags(sub.add_parser("gc", help="apply retention (use --dry-run to see the plan)"))
    gc.add_argument("--campaign", default="")
    gc.add_argument("--dry-run", action="store_true")
    gc.set_defaults(handler=cmd_gc)

    verify = add_output_flags(sub.add_parser("verify", help="re-hash an asset's files"))
    verify.add_argument("name")
    verify.set_defaults(handler=cmd_verify)

    stats = add_output_flags(sub.add_parser("stats", help="bytes and counts per zone, kind and campaign"))
    stats.set_defaults(handler=cmd_stats)

    ledger = add_output_flags(sub.add_parser("ledger", help="ledger events (--follow to keep watching)"))
    ledger.add_argument("--after", type=int, default=0, help="start after this sequence")
    ledger.add_argument("--campaign", default="")
    ledger.add_argument("--follow", action="store_true")
    ledger.add_argument("--from-now", action="store_true",
                        help="with --follow: only events appended from now on (no replay of the ledger)")
    ledger.set_defaults(handler=cmd_ledger)


def _vault(args: argparse.Namespace):
    return client(args).vault


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"{flag} expects KEY=VALUE, got {item!r}", 2)
        out[key] = value
    return out


def _kind(name: str | None) -> int:
    from realm.sdk.vault import asset_kind

    if not name:
        return 0
    try:
        return asset_kind(name)
    except ValueError:
        fail(f"unknown kind {name!r}", 2)
        raise


def _asset_row(asset) -> dict[str, Any]:
    row = to_dict(asset)
    lineage = row.get("lineage", {})
    return {**row, "campaign": lineage.get("campaign", ""), "global_step": lineage.get("global_step", "0"),
            "aliases": ", ".join(a.split("/aliases/", 1)[-1] for a in row.get("aliases", [])),
            "kind": row.get("kind", "").removeprefix("ASSET_KIND_").lower(),
            "state": row.get("state", "").removeprefix("ASSET_STATE_")}


def cmd_ls(args: argparse.Namespace) -> int:
    vault = _vault(args)
    pb = vault.messages
    page = vault.ListAssets(pb.ListAssetsRequest(
        page_size=args.limit, page_token=args.page_token, kind=_kind(args.kind), campaign=args.campaign or "",
        hero=args.hero or "", show_deleted=args.all, labels=_pairs(args.label, "--label")))
    if args.json:
        emit(args, {"assets": to_dict(list(page.assets)), "next_page_token": page.next_page_token,
                    "total_size": page.total_size})
        return 0
    emit(args, [_asset_row(a) for a in page.assets], ASSET_COLUMNS)
    if page.next_page_token:
        console.print(f"{page.total_size} in all; next page: --page-token {page.next_page_token}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    vault = _vault(args)
    asset = vault.GetAsset(vault.messages.GetAssetRequest(name=args.name)).asset
    if args.json:
        emit(args, asset)
        return 0
    row = _asset_row(asset)
    emit(args, {k: v for k, v in row.items() if k != "files"})
    emit(args, list(row.get("files", [])), ["path", "size_bytes", "sha256"], title="files")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from pathlib import Path

    from realm.sdk.vault import list_files

    vault = _vault(args)
    lineage = {"hero": args.hero, "campaign": args.campaign, "global_step": args.step,
               "parent_checkpoint": args.parent, "quest": args.quest, "source_assets": args.source}
    total = sum(p.stat().st_size for _, p in list_files(Path(args.path)))
    if args.json:
        asset = vault.push(args.path, args.kind, lineage=lineage, labels=_pairs(args.label, "--label"),
                           display_name=args.name, zone=args.zone, request_id=args.request_id)
    else:
        with progress(total, f"push {args.path}") as bar:
            asset = vault.push(args.path, args.kind, lineage=lineage, labels=_pairs(args.label, "--label"),
                               display_name=args.name, zone=args.zone, request_id=args.request_id,
                               progress=lambda done, _total: bar.update(completed=done))
    emit(args, asset if args.json else _asset_row(asset), None if args.json else ASSET_COLUMNS)
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    vault = _vault(args)
    asset = vault.GetAsset(vault.messages.GetAssetRequest(name=args.name)).asset
    if args.json:
        path = vault.pull(asset.name, args.dest, overwrite=args.overwrite)
    else:
        with progress(asset.size_bytes, f"pull {asset.name}") as bar:
            path = vault.pull(asset.name, args.dest, overwrite=args.overwrite,
                              progress=lambda done, _total: bar.update(completed=done))
    emit(args, {"asset": asset.name, "path": str(path), "files": len(asset.files), "size_bytes": asset.size_bytes})
    return 0


def cmd_alias_set(args: argparse.Namespace) -> int:
    vault = _vault(args)
    pb = vault.messages
    direction = {"max": pb.METRIC_DIRECTION_MAXIMIZE, "min": pb.METRIC_DIRECTION_MINIMIZE}.get(args.direction, 0)
    result = vault.SetAlias(pb.SetAliasRequest(
        alias=pb.Alias(name=args.alias, asset=args.asset, metric=args.metric, metric_value=args.value,
                       direction=direction), only_if_better=args.only_if_better))
    emit(args, {"alias": to_dict(result.alias), "moved": result.moved} if args.json else
         {**to_dict(result.alias), "moved": result.moved})
    return 0


def cmd_alias_ls(args: argparse.Namespace) -> int:
    vault = _vault(args)
    aliases = vault.ListAliases(vault.messages.ListAliasesRequest(campaign=args.campaign, page_size=1000)).aliases
    emit(args, list(aliases), ["name", "asset", "system", "metric", "metric_value"])
    return 0


def cmd_alias_resolve(args: argparse.Namespace) -> int:
    vault = _vault(args)
    result = vault.ResolveAlias(vault.messages.ResolveAliasRequest(name=args.alias))
    emit(args, result if args.json else _asset_row(result.asset), None if args.json else ASSET_COLUMNS)
    return 0


def cmd_alias_rm(args: argparse.Namespace) -> int:
    vault = _vault(args)
    vault.DeleteAlias(vault.messages.DeleteAliasRequest(name=args.alias))
    emit(args, {"deleted": args.alias})
    return 0


def cmd_pin(args: argparse.Namespace) -> int:
    vault = _vault(args)
    asset = vault.PinAsset(vault.messages.PinAssetRequest(name=args.name, note=args.note)).asset
    emit(args, asset if args.json else _asset_row(asset), None if args.json else ASSET_COLUMNS + ["pinned"])
    return 0


def cmd_unpin(args: argparse.Namespace) -> int:
    vault = _vault(args)
    asset = vault.UnpinAsset(vault.messages.UnpinAssetRequest(name=args.name)).asset
    emit(args, asset if args.json else _asset_row(asset), None if args.json else ASSET_COLUMNS + ["pinned"])
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    vault = _vault(args)
    asset = vault.DeleteAsset(vault.messages.DeleteAssetRequest(name=args.name, force=args.force)).asset
    emit(args, asset if args.json else _asset_row(asset), None if args.json else ASSET_COLUMNS)
    return 0


def cmd_policy(args: argparse.Namespace) -> int:
    vault = _vault(args)
    pb = vault.messages
    if args.set:
        policy = pb.RetentionPolicy(
            campaign=args.campaign, keep_latest=args.keep_latest, keep_best_per_skill=args.keep_best,
            keep_pinned=args.keep_pinned, min_evals_before_delete=args.min_evals, enabled=not args.disabled,
            zone_byte_caps={k: int(v) for k, v in _pairs(args.zone_cap, "--zone-cap").items()})
        policy.keep_newer_than.FromNanoseconds(int(args.keep_newer_than * 1e9))
        result = vault.SetRetentionPolicy(pb.SetRetentionPolicyRequest(policy=policy)).policy
    else:
        result = vault.GetRetentionPolicy(pb.GetRetentionPolicyRequest(campaign=args.campaign)).policy
    emit(args, result)
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    vault = _vault(args)
    result = vault.RunGc(vault.messages.RunGcRequest(campaign=args.campaign, dry_run=args.dry_run))
    if args.json:
        emit(args, result)
        return 0
    emit(args, [{**to_dict(d), "keep": d.keep, "reasons": ", ".join(d.reasons)} for d in result.decisions],
         ["asset", "global_step", "keep", "reasons", "size_bytes", "reclaim_bytes"],
         title="plan (dry run)" if result.dry_run else "retention")
    console.print(f"deleted {result.deleted_assets} assets, reclaimed {result.reclaimed_bytes} bytes"
                  f"{' (would reclaim)' if result.dry_run else ''}; finished {result.resumed_deletions}"
                  " interrupted deletions")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    vault = _vault(args)
    result = vault.VerifyAsset(vault.messages.VerifyAssetRequest(name=args.name))
    if args.json:
        emit(args, result)
    else:
        emit(args, [{**to_dict(f), "ok": f.ok} for f in result.files], ["path", "ok", "problem"],
             title=f"{result.asset.name}: {'OK' if result.ok else 'CORRUPT'}")
    return 0 if result.ok else 1


def cmd_stats(args: argparse.Namespace) -> int:
    vault = _vault(args)
    stats = vault.GetStats(vault.messages.GetStatsRequest())
    if args.json:
        emit(args, stats)
        return 0
    columns = ["key", "assets", "files", "logical_bytes", "stored_bytes"]
    for title in ("by_zone", "by_kind", "by_campaign"):
        emit(args, list(getattr(stats, title)), columns, title=title)
    emit(args, [stats.total], columns, title="total")
    return 0


def cmd_ledger(args: argparse.Namespace) -> int:
    import json

    vault = _vault(args)
    pb = vault.messages
    if args.from_now and (args.after or not args.follow):
        fail("--from-now only goes with --follow (and without --after): it skips every existing event", 2)
    events = vault.ledger(args.after, campaign=args.campaign, follow=args.follow, from_now=args.from_now)
    if args.json and not args.follow:  # one JSON array; with --follow one JSON object per line
        emit(args, list(events))
        return 0
    for e in events:
        if args.json:
            print(json.dumps(to_dict(e)), flush=True)
        else:
            console.print(f"{e.sequence:>6} {pb.LedgerEventKind.Name(e.kind).removeprefix('LEDGER_EVENT_KIND_'):<14}"
                          f" {e.asset} {e.alias} {e.message}")
    return 0
