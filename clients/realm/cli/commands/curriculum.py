"""`realm skill …`, `realm dataset validate`, `realm curriculum …`: skills, quests' intake check, progression."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from realm.cli.common import add_output_flags, client, console, emit, fail, to_dict

REGIMES = {0: "unspecified", 1: "exhaustive", 2: "held_out"}


def register(subparsers: argparse._SubParsersAction) -> None:
    skill = subparsers.add_parser("skill", help="skills, their levels, generated batches and eval sets")
    sk = skill.add_subparsers(dest="skill_command", metavar="SUBCOMMAND", required=True)
    add_output_flags(sk.add_parser("ls", help="list skills")).set_defaults(handler=cmd_skill_ls)
    show = add_output_flags(sk.add_parser("show", help="a skill's level table"))
    show.add_argument("skill")
    show.set_defaults(handler=cmd_skill_show)
    gen = add_output_flags(sk.add_parser("generate", help="deterministic training rows (chat_sft_v1 JSONL)"))
    gen.add_argument("skill")
    gen.add_argument("--level", type=int, required=True)
    gen.add_argument("--count", type=int, required=True)
    gen.add_argument("--seed", type=int, required=True)
    gen.add_argument("--mode", default="", help="bin: plain, verify, show-work, trace (default: the level's mix)")
    gen.add_argument("--review-share", type=float, default=0.0, metavar="SHARE",
                     help="share of rows (0..0.5) from the up to 3 levels below, interleaved (default 0)")
    gen.add_argument("-o", "--output", help="write JSONL here (plus FILE.meta.json); default: stdout")
    gen.set_defaults(handler=cmd_skill_generate)
    es = add_output_flags(sk.add_parser("evalset", help="the frozen eval set of a level"))
    es.add_argument("skill")
    es.add_argument("level", type=int)
    es.add_argument("--problems", action="store_true", help="list the problems too")
    es.set_defaults(handler=cmd_skill_evalset)
    grade = add_output_flags(sk.add_parser("grade", help="grade responses to a level's eval problems"))
    grade.add_argument("skill")
    grade.add_argument("level", type=int)
    grade.add_argument("responses", help='JSONL of {"id": "<eval problem id>", "response": "..."}')
    grade.set_defaults(handler=cmd_skill_grade)

    dataset = subparsers.add_parser("dataset", help="dataset (quest) checks")
    ds = dataset.add_subparsers(dest="dataset_command", metavar="SUBCOMMAND", required=True)
    validate = add_output_flags(ds.add_parser("validate", help="validate a JSONL file; exit 1 when rejected"))
    validate.add_argument("file")
    validate.add_argument("--level", choices=("quick", "standard", "deep"), default="standard")
    validate.add_argument("--schema", default="", help="chat_sft_v1 or completion_v1 (default: FILE.meta.json)")
    validate.add_argument("--max-length", type=int, default=0, help="longest row, in characters")
    validate.add_argument("--threshold", action="append", default=[], metavar="KIND=SHARE",
                          help="turn a DEEP warning kind into errors above this share of rows, e.g. duplicate=0.1")
    validate.set_defaults(handler=cmd_dataset_validate)

    cur = subparsers.add_parser("curriculum", help="a campaign's progression and scheduling")
    cs = cur.add_subparsers(dest="curriculum_command", metavar="SUBCOMMAND", required=True)
    progress = add_output_flags(cs.add_parser("progress", help="mastered and training level per skill"))
    progress.add_argument("campaign")
    progress.add_argument("--history", action="store_true", help="show accuracy history and level changes")
    progress.set_defaults(handler=cmd_progress)
    plan = add_output_flags(cs.add_parser("plan", help="what to train next"))
    plan.add_argument("campaign")
    plan.add_argument("--preset", default="",
                      help="equal, focus:SKILL, weighted, lowest_first, catch_up, round_robin")
    plan.add_argument("--count", type=int, default=0)
    plan.set_defaults(handler=cmd_plan)
    conf = add_output_flags(cs.add_parser("configure", help="enable skills, override levels, set weights"))
    conf.add_argument("campaign")
    conf.add_argument("--skill", action="append", required=True, metavar="SKILL[:OVERRIDE[:WEIGHT]]",
                      help="enable a skill (repeatable); OVERRIDE 0 = none; prefix with - to disable")
    conf.add_argument("--preset", default=None,
                      help="the campaign's own scheduling preset (wins over the hero's idle default); '' clears it")
    conf.set_defaults(handler=cmd_configure)
    vote = add_output_flags(cs.add_parser("vote", help="record a blind A/B/tie vote between two checkpoints"))
    vote.add_argument("--a", required=True, metavar="MODEL[@ASSET]", help="side A: models/… and the served asset")
    vote.add_argument("--b", required=True, metavar="MODEL[@ASSET]")
    vote.add_argument("--choice", required=True, choices=("a", "b", "tie"))
    vote.add_argument("--campaign", default="")
    vote.add_argument("--prompt", default="")
    vote.add_argument("--seed", type=int, default=0)
    vote.set_defaults(handler=cmd_vote)
    votes = add_output_flags(cs.add_parser("votes", help="blind-vote tallies per checkpoint and pair"))
    votes.add_argument("campaign", nargs="?", default="")
    votes.set_defaults(handler=cmd_votes)
    record = add_output_flags(cs.add_parser("record-eval", help="apply the level-up rule to an eval result"))
    record.add_argument("campaign")
    record.add_argument("skill")
    record.add_argument("level", type=int)
    record.add_argument("accuracy", type=float)
    record.add_argument("--checkpoint", default="")
    record.add_argument("--step", type=int, default=0)
    record.add_argument("--loss", type=float, default=None, help="latest training loss (flags broken evals)")
    record.set_defaults(handler=cmd_record_eval)
    evaluate = add_output_flags(cs.add_parser("evaluate", help="run eval sets on a checkpoint (a trial)"))
    evaluate.add_argument("campaign")
    evaluate.add_argument("checkpoint", help="assets/… or an alias such as campaigns/x/aliases/latest")
    evaluate.add_argument("--skill", action="append", default=[], help="skills to evaluate (default: enabled)")
    evaluate.add_argument("--full", action="store_true", help="every level up to training level + 1")
    evaluate.add_argument("--watch", action="store_true", help="follow until it finishes (exit 1 if it fails)")
    evaluate.set_defaults(handler=cmd_evaluate)
    evaluations = add_output_flags(cs.add_parser("evaluations", help="list trials"))
    evaluations.add_argument("campaign", nargs="?", default="")
    evaluations.set_defaults(handler=cmd_evaluations)
    evaluation = add_output_flags(cs.add_parser("evaluation", help="one trial and its results"))
    evaluation.add_argument("name", help="evaluations/…")
    evaluation.set_defaults(handler=cmd_evaluation)


def _curriculum(args):
    return client(args).curriculum


def cmd_skill_ls(args) -> int:
    skills = _curriculum(args).skills()
    rows = [{"name": s.name, "display_name": s.display_name, "levels": len(s.levels),
             "version": s.generator_version, "description": s.description} for s in skills]
    emit(args, rows if not args.json else to_dict(skills), ["name", "display_name", "levels", "version"])
    return 0


def cmd_skill_show(args) -> int:
    skill = _curriculum(args).skill(args.skill)
    if args.json:
        emit(args, skill)
        return 0
    console.print(f"[bold]{skill.name}[/bold] {skill.display_name} (generator {skill.generator_version})")
    console.print(skill.description)
    rows = [{"level": lv.number, "title": lv.title, "threshold": lv.pass_threshold, "regime": REGIMES[lv.regime],
             "space": lv.problem_space_size or "unbounded", "description": lv.description} for lv in skill.levels]
    emit(args, rows, ["level", "title", "threshold", "regime", "space", "description"])
    return 0


def cmd_skill_generate(args) -> int:
    c = _curriculum(args)
    if args.output:
        count = c.generate_to_file(args.output, args.skill, args.level, args.count, args.seed, args.mode,
                                   review_share=args.review_share)
        emit(args, {"file": args.output, "rows": count, "sidecar": args.output + ".meta.json"})
        return 0
    for part in c.stream_batch(args.skill, args.level, args.count, args.seed, args.mode,
                               review_share=args.review_share):
        sys.stdout.buffer.write(part.jsonl)
    sys.stdout.flush()
    return 0


def cmd_skill_evalset(args) -> int:
    es = _curriculum(args).eval_set(args.skill, args.level)
    if args.json:
        emit(args, es)
        return 0
    emit(args, {"name": es.name, "regime": REGIMES[es.regime], "problems": len(es.problems),
                "content_hash": es.content_hash, "version": es.version})
    if args.problems:
        emit(args, [{"id": p.id, "prompt": p.messages[-1].content, "expected": p.expected} for p in es.problems],
             ["id", "prompt", "expected"])
    return 0


def cmd_skill_grade(args) -> int:
    c = _curriculum(args)
    problems = {p.id: p for p in c.eval_set(args.skill, args.level).problems}
    items = []
    for number, line in enumerate(Path(args.responses).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            problem = problems[row["id"]]
            items.append((problem, str(row["response"])))
        except (ValueError, KeyError, TypeError) as exc:
            fail(f"{args.responses}:{number}: needs {{\"id\": <eval problem id>, \"response\": ...}} ({exc!r})",
                 code=2)
    result = c.grade(args.skill, items)
    if args.json:
        emit(args, result)
        return 0
    emit(args, [{"id": r.problem_id, "correct": r.correct, "partial": r.partial_score, "reason": r.reason}
                for r in result.results], ["id", "correct", "partial", "reason"])
    console.print(f"accuracy {result.accuracy:.3f} ({sum(r.correct for r in result.results)}/{len(result.results)}),"
                  f" mean partial score {result.mean_partial_score:.3f}")
    return 0


def cmd_dataset_validate(args) -> int:
    thresholds = {}
    for item in args.threshold:
        kind, _, share = item.partition("=")
        try:
            thresholds[kind] = float(share)
        except ValueError:
            fail(f"--threshold {item!r}: expected KIND=SHARE, e.g. duplicate=0.1", code=2)
    if not Path(args.file).is_file():
        fail(f"no such file: {args.file}", code=2)
    report = _curriculum(args).validate_file(args.file, schema_id=args.schema, level=args.level,
                                             max_length=args.max_length, error_thresholds=thresholds)
    if args.json:
        emit(args, report)
    else:
        verdict = "[green]accepted[/green]" if report.accepted else "[red]rejected[/red]"
        console.print(f"{args.file}: {verdict} — schema {report.schema_id or '?'}, {report.rows} rows, "
                      f"{report.error_count} errors, {report.warning_count} warnings")
        findings = [{"line": f.line, "severity": ("", "info", "warning", "error")[f.severity], "kind": f.kind,
                     "field": f.field, "message": f.message} for f in report.findings]
        if findings:
            emit(args, findings, ["line", "severity", "kind", "field", "message"])
        totals = [{"kind": c.kind, "severity": ("", "info", "warning", "error")[c.severity], "count": c.count}
                  for c in report.counts]
        if totals:
            emit(args, totals, ["kind", "severity", "count"], title="totals")
    return 0 if report.accepted else 1


def _progress_rows(progress) -> list[dict]:
    return [{"skill": s.skill.removeprefix("skills/"), "enabled": s.enabled, "mastered_level": s.mastered_level,
             "training_level": s.training_level, "override": s.training_level_overridden, "max_level": s.max_level,
             "weight": s.weight, "evals": len(s.accuracy_history),
             "last_accuracy": s.accuracy_history[-1].accuracy if s.accuracy_history else None}
            for s in progress.skills]


def cmd_progress(args) -> int:
    progress = _curriculum(args).progress(args.campaign)
    if args.json:
        emit(args, progress)
        return 0
    emit(args, _progress_rows(progress), ["skill", "enabled", "mastered_level", "training_level", "override",
                                          "weight", "evals", "last_accuracy"], title=progress.campaign)
    if args.history:
        for s in progress.skills:
            history = [{"level": a.level, "accuracy": a.accuracy, "checkpoint": a.checkpoint, "step": a.global_step,
                        "flagged": a.flag_reason or ""} for a in s.accuracy_history]
            emit(args, history, ["level", "accuracy", "checkpoint", "step", "flagged"], title=f"{s.skill} evals")
            changes = [{"from": c.from_level, "to": c.to_level, "checkpoint": c.checkpoint,
                        "mean_accuracy": c.mean_accuracy} for c in s.progression]
            emit(args, changes, ["from", "to", "checkpoint", "mean_accuracy"], title=f"{s.skill} level changes")
    return 0


def cmd_plan(args) -> int:
    batches = _curriculum(args).plan(args.campaign, args.preset, args.count)
    emit(args, batches, ["skill", "level", "count", "review_share", "seed", "reason"])
    return 0


def cmd_configure(args) -> int:
    from realm.curriculum.v1 import curriculum_pb2 as pb

    settings = []
    for spec in args.skill:
        enabled = not spec.startswith("-")
        parts = spec.lstrip("-").split(":")
        try:
            override = int(parts[1]) if len(parts) > 1 and parts[1] else 0
            weight = float(parts[2]) if len(parts) > 2 else 1.0
        except ValueError:
            fail(f"--skill {spec!r}: expected SKILL[:OVERRIDE[:WEIGHT]]", code=2)
        settings.append(pb.SkillSettings(skill=parts[0], enabled=enabled, training_level_override=override,
                                         weight=weight))
    progress = _curriculum(args).configure(args.campaign, settings, preset=args.preset)
    emit(args, progress if args.json else _progress_rows(progress),
         ["skill", "enabled", "mastered_level", "training_level", "override", "weight"])
    return 0


def cmd_record_eval(args) -> int:
    result = _curriculum(args).record_eval(args.campaign, args.skill, args.level, args.accuracy,
                                           checkpoint=args.checkpoint, global_step=args.step, training_loss=args.loss)
    if args.json:
        emit(args, result)
        return 0
    p = result.progress
    status = "leveled up" if result.leveled_up else ("flagged: " + result.flag_reason if result.flagged else "recorded")
    console.print(f"{p.skill}: {status}; mastered {p.mastered_level}, training {p.training_level} "
                  f"(window mean {result.window_mean_accuracy:.3f})")
    return 0


STATES = {0: "unspecified", 1: "pending", 2: "running", 3: "succeeded", 4: "failed", 5: "superseded"}


def _evaluation_row(ev) -> dict:
    state = STATES.get(ev.state, str(ev.state))
    if ev.state == 1 and ev.attempts:  # pending again after a failed attempt: say so
        state = f"retrying ({ev.attempts} attempts)"
    if ev.superseded_by:
        state = f"superseded by {ev.superseded_by}"
    return {"name": ev.name, "campaign": ev.campaign, "checkpoint": ev.checkpoint, "state": state,
            "trigger": ev.trigger, "full": ev.full, "sparring_quest": ev.sparring_quest,
            "done": f"{ev.problems_done}/{ev.problems_total}", "error": ev.error,
            "results": ", ".join(f"{r.skill.removeprefix('skills/')} L{r.level}: {r.accuracy:.3f}"
                                 for r in ev.results)}


def _show_evaluation(args, ev) -> None:
    if args.json:
        emit(args, ev)
        return
    emit(args, _evaluation_row(ev))
    results = [{"skill": r.skill, "level": r.level, "accuracy": r.accuracy, "correct": r.correct, "total": r.total,
                "regime": REGIMES[r.regime], "report": r.report_asset} for r in ev.results]
    if results:
        emit(args, results, ["skill", "level", "accuracy", "correct", "total", "regime", "report"])


def cmd_evaluate(args) -> int:
    from realm.cli.common import progress as progress_bar
    from realm.curriculum.v1 import curriculum_pb2 as pb

    c = _curriculum(args)
    campaign = args.campaign if args.campaign.startswith("campaigns/") else f"campaigns/{args.campaign}"
    ev = c.EvaluateCheckpoint(pb.EvaluateCheckpointRequest(campaign=campaign, checkpoint=args.checkpoint,
                                                           skills=args.skill, full=args.full)).evaluation
    if args.watch:
        with progress_bar(None, f"trial {ev.name}") as bar:
            stream = c.WatchEvaluation(pb.WatchEvaluationRequest(name=ev.name))
            for update in stream:
                ev = update.evaluation
                bar.update(completed=ev.problems_done, total=ev.problems_total or None,
                           info=STATES.get(ev.state, str(ev.state)))
                if ev.state == pb.EVALUATION_STATE_PENDING and ev.attempts and ev.error:
                    # A peer is down: the service retries it; `realm curriculum evaluation NAME` follows up.
                    stream.cancel()
                    break
    _show_evaluation(args, ev)
    return 1 if args.watch and ev.state != pb.EVALUATION_STATE_SUCCEEDED else 0


def cmd_evaluations(args) -> int:
    from realm.curriculum.v1 import curriculum_pb2 as pb

    campaign = args.campaign
    if campaign and not campaign.startswith("campaigns/"):
        campaign = f"campaigns/{campaign}"
    found = _curriculum(args).ListEvaluations(pb.ListEvaluationsRequest(campaign=campaign)).evaluations
    emit(args, list(found) if args.json else [_evaluation_row(e) for e in found],
         ["name", "campaign", "checkpoint", "trigger", "state", "done", "results"])
    return 0


def cmd_evaluation(args) -> int:
    from realm.curriculum.v1 import curriculum_pb2 as pb

    ev = _curriculum(args).GetEvaluation(pb.GetEvaluationRequest(name=args.name)).evaluation
    _show_evaluation(args, ev)
    return 0


def _side(spec: str) -> tuple[str, str]:
    model, _, asset = spec.partition("@")
    return (model if model.startswith("models/") else f"models/{model}", asset)


def cmd_vote(args) -> int:
    reply = _curriculum(args).vote(_side(args.a), _side(args.b), args.choice, campaign=args.campaign,
                                   prompt=args.prompt, seed=args.seed)
    emit(args, reply if args.json else [{"first": reply.pair.first, "second": reply.pair.second,
                                         "first_wins": reply.pair.first_wins, "second_wins": reply.pair.second_wins,
                                         "ties": reply.pair.ties}],
         ["first", "second", "first_wins", "second_wins", "ties"], title=reply.vote.name)
    return 0


def cmd_votes(args) -> int:
    tally = _curriculum(args).vote_tally(args.campaign)
    emit(args, tally if args.json else [{"checkpoint": c.checkpoint, "wins": c.wins, "losses": c.losses,
                                         "ties": c.ties, "votes": c.votes} for c in tally.checkpoints],
         ["checkpoint", "wins", "losses", "ties", "votes"], title=f"{tally.total_votes} votes")
    return 0
