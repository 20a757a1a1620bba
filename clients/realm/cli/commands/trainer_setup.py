"""`realm campaign mantra|fork` and `realm hero validate`: a campaign's setup and a hero's fit.

Registered after trainer.py (module order), into its `campaign` and `hero` groups.
"""

from __future__ import annotations

from realm.cli.commands.trainer import _overrides
from realm.cli.common import add_output_flags, client, console, emit, subcommands, to_dict
from realm.sdk.campaign_setup import DEFAULT_MANTRA_TEXT, fork_campaign, set_mantra, validate_hero

GIB = 1024**3


def _mantra_view(campaign) -> dict:
    data = to_dict(campaign)
    mantra = data.get("mantra") or {}
    return {"campaign": data.get("name", ""), "text": mantra.get("text", ""),
            "rule": str(mantra.get("rule", "")).removeprefix("MANTRA_RULE_").lower(),
            "version": int(mantra.get("version", 0) or 0), "update_time": mantra.get("update_time", "")}


def campaign_mantra(args) -> int:
    text = DEFAULT_MANTRA_TEXT if args.default else args.text
    campaign = set_mantra(client(args).trainer, args.campaign, text, rule=args.rule)
    emit(args, _mantra_view(campaign), columns=["campaign", "text", "rule", "version", "update_time"])
    return 0


def campaign_fork(args) -> int:
    trainer = client(args).trainer
    campaign = fork_campaign(trainer, args.checkpoint, display_name=args.name, campaign_id=args.id or "",
                             hero=args.hero or "", config_overrides=_overrides(args.set))
    if args.activate:
        from realm.trainer.v1 import trainer_pb2 as pb

        campaign = trainer.ActivateCampaign(pb.ActivateCampaignRequest(name=campaign.name)).campaign
    emit(args, campaign, columns=["name", "display_name", "hero", "state", "starting_checkpoint", "forked_from"])
    return 0


def hero_validate(args) -> int:
    report = validate_hero(client(args).trainer, args.hero, model_dir=args.model_dir or "",
                           micro_batch_size=args.batch or 0, sequence_length=args.seq or 0)
    if getattr(args, "json", False):
        emit(args, report)
        return 0 if report.valid else 1
    shape = report.shape
    console.print(f"[bold]{report.hero}[/bold]  {report.model_dir}  "
                  f"{'[green]valid[/green]' if report.valid else '[red]NOT valid[/red]'}")
    if report.HasField("shape"):
        console.print(f"  {shape.model_type} {'/'.join(shape.architectures)}: hidden {shape.hidden_size}, "
                      f"{shape.num_layers} layers, {shape.num_attention_heads} heads / {shape.num_key_value_heads} "
                      f"kv x {shape.head_dim}, intermediate {shape.intermediate_size}, vocab {shape.vocab_size}, "
                      f"tied {shape.tie_word_embeddings}")
        console.print(f"  {report.parameter_count:,} parameters ({report.parameter_source})")
    for finding in report.findings:
        mark = "[red]error[/red]" if finding.error else "[yellow]warning[/yellow]"
        console.print(f"  {mark} {finding.field}: {finding.message}")
    if report.memory:
        console.print(f"  training memory ({report.precision}, {report.optimizer}, micro-batch "
                      f"{report.micro_batch_size} x {report.sequence_length} tokens, gradient checkpointing "
                      f"{report.gradient_checkpointing}): {report.estimate_gib:.1f} GiB")
        for line in report.memory:
            console.print(f"    {line.name:<12} {line.bytes / GIB:8.2f} GiB  {line.formula}")
        emit(args, [{"gpu": g.name, "fits": "yes" if g.fits else "no", "headroom_gib": f"{g.headroom_bytes / GIB:.1f}",
                     "examples": g.examples} for g in report.gpus],
             columns=["gpu", "fits", "headroom_gib", "examples"])
        console.print(f"  fits on: {report.smallest_fit or 'none of the classes'} "
                      f"(trainable on this trainer host now: {report.trainable_here})")
    return 0 if report.valid else 1


def register(subparsers) -> None:
    campaign = subcommands(subparsers.choices["campaign"])
    mantra = campaign.add_parser(
        "mantra", help="show or set the campaign's mantra (base system prompt; {date} = the day it is used)",
        description="show or set the campaign's mantra (base system prompt; {date} = the day it is used). "
                    "Rule keep: rows with their own system turn keep it; replace: the mantra replaces it.")
    add_output_flags(mantra)
    mantra.add_argument("campaign")
    mantra.add_argument("text", nargs="?", help='new text ("" disables the mantra)')
    mantra.add_argument("--rule", choices=["keep", "replace"])
    mantra.add_argument("--default", action="store_true", help="set the default text")
    mantra.set_defaults(handler=campaign_mantra)

    fork = campaign.add_parser(
        "fork", help="a new campaign that starts from a checkpoint's weights (to change a locked field)",
        description="a new campaign that starts from a checkpoint's weights: assets/ID, campaigns/C/aliases/NAME "
                    "or a checkpoint directory on the trainer host")
    add_output_flags(fork)
    fork.add_argument("checkpoint")
    fork.add_argument("--name", required=True, help="display name of the new campaign")
    fork.add_argument("--id", help="campaign id (minted from the name when omitted)")
    fork.add_argument("--hero", help="needed only when the trainer does not know the checkpoint's campaign")
    fork.add_argument("--set", action="append", metavar="KEY=VALUE", help="training config override (e.g. max_seq_len)")
    fork.add_argument("--activate", action="store_true")
    fork.set_defaults(handler=campaign_fork)

    hero = subcommands(subparsers.choices["hero"])
    validate = hero.add_parser(
        "validate", help="check a hero against its model directory (no weights loaded) and the GPU it fits on",
        description="check a hero file against its directory's config.json and tokenizer files (no weight is "
                    "loaded), estimate its training memory and tell which GPU class fits it (exit 1 if invalid)")
    add_output_flags(validate)
    validate.add_argument("hero")
    validate.add_argument("--model-dir", help="check this directory instead of the hero file's model_dir")
    validate.add_argument("--batch", type=int, help="micro-batch size for the estimate (default: the hero's)")
    validate.add_argument("--seq", type=int, help="sequence length for the estimate (default: max_seq_len)")
    validate.set_defaults(handler=hero_validate)
