"""`realm hero|campaign|quest|train|memory ...` — the trainer's command groups."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import field_mask_pb2, struct_pb2

from realm.cli.common import add_output_flags, client, console, emit, err_console, fail, progress, to_dict
from realm.trainer.v1 import trainer_pb2 as pb

QUEST_COLUMNS = ["name", "display_name", "state", "priority", "position", "rows", "steps_done", "steps_total",
                 "source", "state_reason"]
CAMPAIGN_COLUMNS = ["name", "display_name", "hero", "state", "global_step", "trained_tokens"]


def _name(collection: str, value: str) -> str:
    return value if value.startswith(f"{collection}/") else f"{collection}/{value}"


def _trainer(args: argparse.Namespace):
    return client(args).trainer


def _parse_value(text: str) -> Any:
    """key=value overrides: the value is YAML (numbers, booleans, lists)."""
    return yaml.safe_load(text)


def _overrides(pairs: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--set expects key=value, got {pair!r}")
        result[key] = _parse_value(value)
    return result


def _sub(parent, name: str, help_text: str, handler, *, output: bool = True) -> argparse.ArgumentParser:
    parser = parent.add_parser(name, help=help_text, description=help_text)
    if output:
        add_output_flags(parser)
    parser.set_defaults(handler=handler)
    return parser


# ---- hero ------------------------------------------------------------------------------------------------
def hero_ls(args):
    heroes = _trainer(args).ListHeroes(pb.ListHeroesRequest(page_size=500)).heroes
    rows = [{k: v for k, v in to_dict(h).items() if k != "chat_template"} for h in heroes]
    emit(args, rows, columns=["name", "display_name", "architecture", "parameter_count", "model_dir"])


def hero_show(args):
    emit(args, _trainer(args).GetHero(pb.GetHeroRequest(name=_name("heroes", args.hero))).hero)


# ---- campaign --------------------------------------------------------------------------------------------
def campaign_new(args):
    overrides = struct_pb2.Struct()
    overrides.update(_overrides(args.set))
    campaign = pb.Campaign(display_name=args.name, hero=_name("heroes", args.hero),
                           starting_checkpoint=args.starting_checkpoint or "", config_overrides=overrides,
                           skills=args.skill or [])
    trainer = _trainer(args)
    created = trainer.CreateCampaign(pb.CreateCampaignRequest(campaign=campaign, campaign_id=args.id or "")).campaign
    if args.weight or args.preset is not None:
        _configure_curriculum(args, created)
    if args.activate:
        created = trainer.ActivateCampaign(pb.ActivateCampaignRequest(name=created.name)).campaign
    emit(args, created, columns=CAMPAIGN_COLUMNS)


def _configure_curriculum(args, created) -> None:
    """Skill weights and the campaign's scheduling preset live in the curriculum (it schedules)."""
    from realm.curriculum.v1 import curriculum_pb2 as cpb

    weights = {}
    for pair in args.weight or []:
        skill, sep, value = pair.partition("=")
        try:
            weights[skill.removeprefix("skills/")] = float(value) if sep else 1.0
        except ValueError:
            fail(f"--weight expects SKILL=NUMBER, got {pair!r}")
    skills = [s.removeprefix("skills/") for s in created.skills] or list(weights)
    settings = [cpb.SkillSettings(skill=s, enabled=True, weight=weights.get(s, 1.0)) for s in skills]
    client(args).curriculum.configure(created.name, settings, preset=args.preset)


def campaign_ls(args):
    state = pb.CampaignState.Value(f"CAMPAIGN_STATE_{args.state.upper()}") if args.state else 0
    request = pb.ListCampaignsRequest(page_size=500, hero=_name("heroes", args.hero) if args.hero else "",
                                      state=state)
    emit(args, list(_trainer(args).ListCampaigns(request).campaigns), columns=CAMPAIGN_COLUMNS)


def campaign_show(args):
    trainer = _trainer(args)
    name = _name("campaigns", args.campaign)
    data = to_dict(trainer.GetCampaign(pb.GetCampaignRequest(name=name)).campaign)
    data["progress"] = to_dict(trainer.GetHeroProgress(pb.GetHeroProgressRequest(campaign=name)).progress)
    emit(args, data)


def campaign_activate(args):
    emit(args, _trainer(args).ActivateCampaign(
        pb.ActivateCampaignRequest(name=_name("campaigns", args.campaign))).campaign, columns=CAMPAIGN_COLUMNS)


def campaign_archive(args):
    emit(args, _trainer(args).ArchiveCampaign(
        pb.ArchiveCampaignRequest(name=_name("campaigns", args.campaign))).campaign, columns=CAMPAIGN_COLUMNS)


def _short_time(iso: str) -> str:
    """2026-11-28T10:31:42+00:00 -> 11-28 10:31:42 (UTC), so the tables fit a terminal."""
    return iso[5:19].replace("T", " ") if iso else ""


def report_tables(report: dict[str, Any]) -> list[tuple[str, list[str], list[dict[str, Any]]]]:
    """The campaign report as (title, columns, rows) tables: summary, levels reached, trials, per-regime."""
    training = report["training"]
    summary = [{"field": k, "value": v} for k, v in (
        ("campaign", report["campaign"]), ("hero", report["hero"]), ("state", report["state"]),
        ("global step", f"{training['global_step']:,}"), ("trained tokens", f"{training['trained_tokens']:,}"),
        ("first quest start", training["first_quest_start"] or "(none yet)"),
        ("wall time (min)", round(training["wall_seconds"] / 60.0, 1)),
        ("quests", " ".join(f"{k.lower()}={v}" for k, v in sorted(report["quests"]["by_state"].items()))),
    )]
    if report.get("curriculum_error"):
        summary.append({"field": "curriculum", "value": f"unreachable: {report['curriculum_error']}"})
    loop = report.get("loop") or {}
    wall = loop.get("wall_seconds") or 0.0
    loop_rows = [{"phase": phase.replace("_", " "), "seconds": seconds,
                  "share": f"{seconds / wall:.1%}" if wall else ""} for phase, seconds in loop.get("seconds", {}).items()]
    if loop:
        loop_rows += [{"phase": "(beside the loop) upload", "seconds": loop["upload_seconds"], "share": ""},
                      {"phase": "(beside the loop) trials", "seconds": loop.get("trial_seconds", ""), "share": ""},
                      {"phase": "worker processes started / reused",
                       "seconds": f"{loop['worker_starts']} / {loop['worker_reuses']}", "share": ""}]
    skills = [s for s in report["skills"] if s["enabled"] or s["levels"]]
    levels = [{"skill": s["skill"], "level": f"L{c['to_level']}", "from": f"L{c['from_level']}",
               "minutes": c["minutes"], "time": _short_time(c["time"]), "mean accuracy": c["mean_accuracy"],
               "checkpoint": c["checkpoint"]} for s in skills for c in s["levels"]]
    levels.sort(key=lambda row: row["minutes"] if row["minutes"] is not None else 0.0)
    standing = [{"skill": s["skill"], "mastered": s["mastered_level"], "training": s["training_level"],
                 "max": s["max_level"], "level-ups": len(s["levels"])} for s in skills]
    trials, regimes = [], {}
    for trial in report["trials"]:
        for r in trial["results"]:
            trials.append({"minutes": trial["minutes"], "step": trial["global_step"], "skill": r["skill"],
                           "level": r["level"], "regime": r["regime"], "accuracy": r["accuracy"],
                           "correct": f"{r['correct']}/{r['total']}", "full": "yes" if trial["full"] else ""})
            if trial["state"] != "SUCCEEDED":
                continue
            entry = regimes.setdefault((r["skill"], r["level"], r["regime"]), [])
            entry.append(r["accuracy"])
    by_regime = [{"skill": skill, "level": level, "regime": regime, "trials": len(values), "first": values[0],
                  "last": values[-1], "best": max(values)}
                 for (skill, level, regime), values in sorted(regimes.items())]
    return [
        ("Campaign", ["field", "value"], summary),
        ("Skills", ["skill", "mastered", "training", "max", "level-ups"], standing),
        (f"Loop time (trainer busy {loop.get('busy_share', 0.0):.0%} of {wall / 60.0:.1f} min)",
         ["phase", "seconds", "share"], loop_rows),
        ("Levels reached", ["skill", "from", "level", "minutes", "time", "mean accuracy", "checkpoint"], levels),
        ("Trials", ["minutes", "step", "skill", "level", "regime", "accuracy", "correct", "full"], trials),
        ("Accuracy by level and regime (held_out: eval problems never trained on)",
         ["skill", "level", "regime", "trials", "first", "last", "best"], by_regime),
    ]


def campaign_report_cmd(args):
    from realm.sdk.trainer import campaign_report

    report = campaign_report(client(args), _name("campaigns", args.campaign))
    if args.json:
        emit(args, report)
        return
    for title, columns, rows in report_tables(report):
        if rows:
            emit(args, rows, columns=columns, title=title)
        else:
            console.print(f"[bold]{title}[/bold]: (none yet)")


# ---- quest -----------------------------------------------------------------------------------------------
def quest_add(args):
    path = Path(args.file)
    if not path.is_file():
        fail(f"{path} is not a file")
    labels = dict(_overrides(args.label)) if args.label else {}
    quest = _trainer(args).submit_quest(
        path, campaign=_name("campaigns", args.campaign) if args.campaign else "", priority=args.priority,
        display_name=args.name or "", labels={k: str(v) for k, v in labels.items()},
    )
    data = to_dict(quest)
    emit(args, data, columns=["name", "state", "priority", "rows", "bytes", "state_reason"])
    if quest.state == pb.QUEST_STATE_REJECTED:
        if not args.json:
            for finding in data.get("validation", {}).get("findings", [])[:20]:
                print(f"  line {finding.get('line', 0)}: {finding.get('kind')}: {finding.get('message')}")
        return 3
    return 0


def quest_import(args):
    header = pb.QuestHeader(campaign=_name("campaigns", args.campaign) if args.campaign else "",
                            display_name=args.name or "", priority=_priority(args.priority), source="vault")
    quest = _trainer(args).ImportQuest(pb.ImportQuestRequest(header=header, dataset_asset=args.asset)).quest
    emit(args, quest, columns=["name", "state", "priority", "rows", "dataset_asset", "state_reason"])


def _priority(text: str) -> int:
    return pb.Priority.Value(f"PRIORITY_{text.upper()}")


def quest_ls(args):
    states = [pb.QuestState.Value(f"QUEST_STATE_{s.upper()}") for s in (args.state or [])]
    request = pb.ListQuestsRequest(page_size=500, campaign=_name("campaigns", args.campaign) if args.campaign else "",
                                   states=states)
    emit(args, list(_trainer(args).ListQuests(request).quests), columns=QUEST_COLUMNS)


def quest_show(args):
    emit(args, _trainer(args).GetQuest(pb.GetQuestRequest(name=_name("quests", args.quest))).quest)


def quest_rm(args):
    _trainer(args).DeleteQuest(pb.DeleteQuestRequest(name=_name("quests", args.quest)))
    emit(args, {"deleted": _name("quests", args.quest)})


def quest_retry(args):
    emit(args, _trainer(args).RetryQuest(pb.RetryQuestRequest(name=_name("quests", args.quest))).quest,
         columns=QUEST_COLUMNS)


def quest_move(args):
    if bool(args.before) == bool(args.after):
        fail("give exactly one of --before / --after")
    request = pb.MoveQuestRequest(name=_name("quests", args.quest))
    if args.before:
        request.before_quest = _name("quests", args.before)
    else:
        request.after_quest = _name("quests", args.after)
    emit(args, _trainer(args).MoveQuest(request).quest, columns=QUEST_COLUMNS)


def quest_priority(args):
    quest = pb.Quest(name=_name("quests", args.quest), priority=_priority(args.level))
    request = pb.UpdateQuestRequest(quest=quest, update_mask=field_mask_pb2.FieldMask(paths=["priority"]))
    emit(args, _trainer(args).UpdateQuest(request).quest, columns=QUEST_COLUMNS)


# ---- train -----------------------------------------------------------------------------------------------
STATUS_COLUMNS = ["state", "campaign", "quest", "last_step", "last_checkpoint", "queued_quests", "worker_pid",
                  "worker_restarts", "message"]


def train_pause(args):
    emit(args, _trainer(args).PauseTraining(pb.PauseTrainingRequest(reason=args.reason or "")).status,
         columns=STATUS_COLUMNS)


def train_resume(args):
    emit(args, _trainer(args).ResumeTraining(pb.ResumeTrainingRequest()).status, columns=STATUS_COLUMNS)


def train_stop(args):
    emit(args, _trainer(args).StopTraining(pb.StopTrainingRequest(reason=args.reason or "")).status,
         columns=STATUS_COLUMNS)


def train_skip(args):
    trainer = _trainer(args)
    name = _name("quests", args.quest) if args.quest else trainer.status().quest
    if not name:
        fail("no quest is running; name one")
    emit(args, trainer.SkipQuest(pb.SkipQuestRequest(name=name, reason=args.reason or "")).status,
         columns=STATUS_COLUMNS)


def train_status(args):
    emit(args, _trainer(args).status(), columns=STATUS_COLUMNS)


def _describe(event: pb.Event) -> str:
    kind = pb.EventKind.Name(event.kind).removeprefix("EVENT_KIND_").lower()
    if event.kind == pb.EVENT_KIND_STEP:
        s = event.step
        return (f"step {s.global_step} ({s.quest_step}/{s.quest_steps_total}) loss {s.loss:.4f} "
                f"lr {s.learning_rate:.2e} {s.tokens_per_second:,.0f} tok/s eta {s.eta_seconds:,.0f}s")
    where = event.checkpoint or event.quest
    return f"{kind} {where} {event.message}".strip()


def train_watch(args):
    """Live progress from StreamEvents; reconnects are the caller's (pass --after with the last sequence)."""
    trainer = _trainer(args)
    if args.from_now and (args.after or args.history_only):
        fail("--from-now starts at the newest event: it cannot go with --after or --history-only", 2)
    events = trainer.events(after_sequence=args.after, history_only=args.history_only, from_now=args.from_now)
    if args.json:
        for event in events:
            print(json.dumps(to_dict(event)), flush=True)
        return 0
    with progress(None, "waiting for a quest") as bar:
        for event in events:
            if event.kind == pb.EVENT_KIND_STEP:
                s = event.step
                bar.update(completed=s.quest_step, total=s.quest_steps_total or None,
                           description=event.quest.removeprefix("quests/"),
                           info=f"step {s.global_step} loss {s.loss:.4f} {s.tokens_per_second:,.0f} tok/s "
                                f"eta {s.eta_seconds:,.0f}s")
            else:
                err_console.print(f"[{event.sequence}] {_describe(event)}", markup=False)
                if event.kind == pb.EVENT_KIND_QUEST_STARTED:
                    bar.update(completed=0, total=None, description=event.quest.removeprefix("quests/"))
    return 0


# ---- memory ----------------------------------------------------------------------------------------------
def memory_estimate(args):
    request = pb.EstimateMemoryRequest(
        hero=_name("heroes", args.hero) if args.hero else "", parameter_count=args.params or 0,
        hidden_size=args.hidden_size or 0, num_layers=args.layers or 0, vocab_size=args.vocab_size or 0,
        num_attention_heads=args.heads or 0, intermediate_size=args.intermediate_size or 0,
        precision=pb.Precision.Value(f"PRECISION_{args.precision.upper()}"),
        optimizer=pb.OptimizerKind.Value(f"OPTIMIZER_KIND_{args.optimizer.upper()}"),
        lora=pb.LoraSettings(enabled=bool(args.lora_rank), rank=args.lora_rank or 0,
                             alpha=args.lora_alpha or 2 * (args.lora_rank or 0), quantize_base_4bit=args.qlora),
        micro_batch_size=args.batch, sequence_length=args.seq, gradient_checkpointing=args.gradient_checkpointing,
    )
    response = _trainer(args).EstimateMemory(request)
    if args.json:
        emit(args, response)
        return 0
    rows = [{"component": c.name, "GiB": round(c.bytes / 2**30, 3), "formula": c.formula}
            for c in response.components]
    rows.append({"component": "total", "GiB": round(response.total_gib, 3), "formula": ""})
    emit(args, rows, columns=["component", "GiB", "formula"])
    return 0


def train_check(args):
    from realm.trainer.v1 import config_check_pb2 as ccpb

    overrides = struct_pb2.Struct()
    overrides.update(_overrides(args.set))
    reply = _trainer(args).ValidateTrainingConfig(ccpb.ValidateTrainingConfigRequest(
        hero=_name("heroes", args.hero) if args.hero else "",
        campaign=_name("campaigns", args.campaign) if args.campaign else "", overrides=overrides))
    if args.json:
        emit(args, reply)
    elif reply.valid:
        console.print(f"valid (config sha256 {reply.config_hash})")
    else:
        emit(args, [{"field": p.field, "origin": p.origin, "problem": p.message} for p in reply.problems],
             columns=["field", "origin", "problem"], title=f"{len(reply.problems)} problem(s)")
    return 0 if reply.valid else 1


# ---- registration ----------------------------------------------------------------------------------------
def register(subparsers) -> None:
    hero = subparsers.add_parser("hero", help="heroes (models)").add_subparsers(dest="hero_cmd", required=True)
    _sub(hero, "ls", "list heroes", hero_ls)
    _sub(hero, "show", "show one hero", hero_show).add_argument("hero")
    # `hero build-tiny` (torch + transformers) comes from the ops package: realm_ops.cli adds it to this group.

    campaign = subparsers.add_parser("campaign", help="campaigns").add_subparsers(dest="campaign_cmd", required=True)
    new = _sub(campaign, "new", "create a campaign", campaign_new)
    new.add_argument("--hero", required=True)
    new.add_argument("--name", required=True, help="display name")
    new.add_argument("--id", help="campaign id (minted from the name when omitted)")
    new.add_argument("--starting-checkpoint")
    new.add_argument("--skill", action="append")
    new.add_argument("--set", action="append", metavar="KEY=VALUE", help="training config override")
    new.add_argument("--weight", action="append", metavar="SKILL=WEIGHT", help="scheduling weight of a skill")
    new.add_argument("--preset", help="the campaign's scheduling preset (equal, focus:SKILL, weighted, ...)")
    new.add_argument("--activate", action="store_true")
    ls = _sub(campaign, "ls", "list campaigns", campaign_ls)
    ls.add_argument("--hero")
    ls.add_argument("--state", choices=["draft", "active", "archived"])
    for verb, handler in (("show", campaign_show), ("activate", campaign_activate), ("archive", campaign_archive)):
        _sub(campaign, verb, f"{verb} a campaign", handler).add_argument("campaign")
    _sub(campaign, "report", "the campaign's timeline: levels reached per skill, accuracy per trial (held-out vs "
         "exhaustive), steps and wall time", campaign_report_cmd).add_argument("campaign")

    quest = subparsers.add_parser("quest", help="the quest queue").add_subparsers(dest="quest_cmd", required=True)
    add = _sub(quest, "add", "upload a JSONL quest (validated, then queued or rejected)", quest_add)
    add.add_argument("file")
    add.add_argument("--priority", default="normal", choices=["high", "normal", "low"])
    add.add_argument("--campaign")
    add.add_argument("--name")
    add.add_argument("--label", action="append", metavar="KEY=VALUE")
    imp = _sub(quest, "import", "queue a vault dataset asset", quest_import)
    imp.add_argument("asset")
    imp.add_argument("--priority", default="normal", choices=["high", "normal", "low"])
    imp.add_argument("--campaign")
    imp.add_argument("--name")
    qls = _sub(quest, "ls", "list quests (queue order, then history)", quest_ls)
    qls.add_argument("--campaign")
    qls.add_argument("--state", action="append",
                     choices=[s.removeprefix("QUEST_STATE_").lower() for s in pb.QuestState.keys()[1:]])
    for verb, handler, text in (("show", quest_show, "show a quest and its validation report"),
                                ("rm", quest_rm, "delete a quest"), ("retry", quest_retry, "retry a quest")):
        _sub(quest, verb, text, handler).add_argument("quest")
    move = _sub(quest, "move", "move a queued quest before/after another", quest_move)
    move.add_argument("quest")
    move.add_argument("--before")
    move.add_argument("--after")
    prio = _sub(quest, "priority", "change a quest's priority", quest_priority)
    prio.add_argument("quest")
    prio.add_argument("level", choices=["high", "normal", "low"])

    train = subparsers.add_parser("train", help="run control and progress").add_subparsers(dest="train_cmd",
                                                                                          required=True)
    _sub(train, "pause", "checkpoint and release the device", train_pause).add_argument("--reason")
    _sub(train, "resume", "resume training", train_resume)
    _sub(train, "stop", "graceful stop: checkpoint, idle until resumed", train_stop).add_argument("--reason")
    skip = _sub(train, "skip", "skip the running quest", train_skip)
    skip.add_argument("quest", nargs="?")
    skip.add_argument("--reason")
    _sub(train, "status", "run status", train_status)
    check = _sub(train, "check", "dry-run a training config: every error at once (exit 1 if any)", train_check)
    check.add_argument("--hero")
    check.add_argument("--campaign")
    check.add_argument("--set", action="append", metavar="KEY=VALUE", help="override to try")
    watch = _sub(train, "watch", "live progress (step, loss, tokens/s, ETA)", train_watch)
    watch.add_argument("--after", type=int, default=0, help="start after this event sequence")
    watch.add_argument("--history-only", action="store_true")
    watch.add_argument("--from-now", action="store_true", help="only events from now on (no replay of the history)")

    memory = subparsers.add_parser("memory", help="VRAM calculator").add_subparsers(dest="memory_cmd", required=True)
    est = _sub(memory, "estimate", "estimate training memory", memory_estimate)
    est.add_argument("--hero")
    est.add_argument("--params", type=int)
    est.add_argument("--hidden-size", type=int)
    est.add_argument("--layers", type=int)
    est.add_argument("--vocab-size", type=int)
    est.add_argument("--heads", type=int)
    est.add_argument("--intermediate-size", type=int)
    est.add_argument("--precision", default="bf16", choices=["fp32", "bf16", "fp16", "int8", "nf4"])
    est.add_argument("--optimizer", default="adamw",
                     choices=["adamw", "adamw_8bit", "paged_adamw_8bit", "muon", "sgd"])
    est.add_argument("--lora-rank", type=int, default=0)
    est.add_argument("--lora-alpha", type=int)
    est.add_argument("--qlora", action="store_true")
    est.add_argument("--batch", type=int, default=1)
    est.add_argument("--seq", type=int, default=2048)
    est.add_argument("--gradient-checkpointing", action="store_true")
