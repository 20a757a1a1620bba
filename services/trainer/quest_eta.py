"""When each quest of a campaign's queue should start and how long it should take.

A queued quest's steps follow from its size the way the worker counts them (recipe.py): packed sequences of
max_seq_len tokens (or one per row without packing), micro batches of micro_batch_size, gradient_accumulation_steps
micro batches a step (or exactly examples_per_step rows a step), epochs times over (max_steps wins when set),
calibrated by the steps the campaign's last finished quests really took against the same formula (the intake does
not count the mantra's system turn). Its tokens come from the intake's token count
(the validation report's tokens_total, measured with the hero's tokenizer and chat template). Its duration is
those tokens, times the epochs, over the campaign's recent throughput: trained tokens per wall second across the
last logged steps of each recent quest, so checkpoint saves inside a quest are paid for. The running quest keeps
the worker's own ETA. Start times add up the quests ahead in run order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from services.trainer.models import CampaignState, EventKind, Quest, QuestState
from services.trainer.store import TrainerStore
from services.trainer.worker.config import TrainingConfig, build_training_config

RECENT_STEPS = 400  # STEP events looked at for the throughput
CALIBRATION_QUESTS = 10  # newest finished quests that calibrate the step estimate


@dataclass(frozen=True)
class StepSample:
    quest: str
    time: float
    trained_tokens: int
    tokens_per_second: float
    eta_seconds: float = 0.0


@dataclass(frozen=True)
class Throughput:
    tokens_per_second: float  # 0 = unknown
    basis: str


@dataclass(frozen=True)
class QuestEstimate:
    quest: str
    position: int
    steps: int
    tokens: int
    duration_seconds: float
    starts_in_seconds: float
    known: bool
    basis: str


def recent_throughput(samples: Sequence[StepSample]) -> Throughput:
    """Trained tokens per wall second, summed over each quest's run of recent samples (oldest first)."""
    by_quest: dict[str, list[StepSample]] = {}
    for sample in samples:
        by_quest.setdefault(sample.quest, []).append(sample)
    tokens = seconds = 0.0
    for run in by_quest.values():
        first, last = run[0], run[-1]
        if last.time > first.time and last.trained_tokens > first.trained_tokens:
            tokens += last.trained_tokens - first.trained_tokens
            seconds += last.time - first.time
    if seconds > 0:
        return Throughput(tokens / seconds, f"{tokens:.0f} tokens trained in {seconds:.1f} s over the campaign's "
                                            f"last {len(samples)} logged steps")
    rates = [s.tokens_per_second for s in samples if s.tokens_per_second > 0]
    if rates:
        return Throughput(sum(rates) / len(rates), f"the worker's per-step tokens/s over {len(rates)} logged steps")
    return Throughput(0.0, "no steps logged yet for this campaign")


def quest_tokens(quest: Quest) -> int:
    """The quest's tokens as the intake measured them (0 when it has no count)."""
    stats = (quest.validation or {}).get("stats") or {}
    try:
        return int(float(stats.get("tokens_total", 0) or 0))
    except (TypeError, ValueError):
        return 0


def estimate_steps(rows: int, tokens: int, config: TrainingConfig) -> tuple[int, int]:
    """(optimizer steps, tokens trained) for a quest of `rows` rows and `tokens` tokens under `config`. Packing
    puts whole rows into sequences (best fit): rows of mean length L fill a sequence floor(max_seq_len / L) at a
    time, and never fewer sequences than the tokens need."""
    if config.examples_per_step:  # exact: every step holds that many rows
        per_epoch = max(1, math.ceil(rows / config.examples_per_step))
    else:
        if config.packing and tokens and rows:
            per_sequence = max(1, config.max_seq_len // max(1, math.ceil(tokens / rows)))
            sequences = max(1, math.ceil(tokens / config.max_seq_len), math.ceil(rows / per_sequence))
        else:
            sequences = max(1, rows)
        micro_batches = math.ceil(sequences / config.micro_batch_size)
        per_epoch = max(1, math.ceil(micro_batches / config.gradient_accumulation_steps))
    if config.max_steps:
        return config.max_steps, round(tokens * config.max_steps / per_epoch)
    return config.epochs * per_epoch, tokens * config.epochs


def calibration(finished: Sequence[Quest], config: TrainingConfig) -> float:
    """Steps the campaign's finished quests really took over what estimate_steps says for them: what the intake's
    token count misses (the mantra's system turn added to rows without one, packing waste). 1.0 without history
    or under max_steps (whose step count is exact)."""
    if config.max_steps:
        return 1.0
    real = estimated = 0
    for quest in finished:
        if quest.state is QuestState.COMPLETED and quest.steps_total and quest_tokens(quest):
            real += quest.steps_total
            estimated += estimate_steps(quest.rows, quest_tokens(quest), config)[0]
    return min(4.0, max(0.25, real / estimated)) if real and estimated else 1.0


def estimate_queue(order: Sequence[Quest], config_of, throughput: Throughput, *, running_eta: float | None = None,
                   scale: float = 1.0) -> list[QuestEstimate]:
    """Estimates for quests in run order (a RUNNING or PAUSED quest first). `config_of(quest)` gives its training
    config; `running_eta` is the worker's own ETA for the running quest, when it logged one; `scale` is the
    campaign's calibration (steps and tokens of a quest not started yet are multiplied by it)."""
    rate = throughput.tokens_per_second
    estimates: list[QuestEstimate] = []
    ahead = 0.0
    chain_known = True  # false once a quest ahead has an unknown duration: later start times are unknown too
    position = 1
    for quest in order:
        tokens = quest_tokens(quest)
        steps, trained = estimate_steps(quest.rows, tokens, config_of(quest))
        started = quest.state in (QuestState.RUNNING, QuestState.PAUSED) and quest.steps_total > 0
        if started:  # the worker counted them exactly; its tokens grow by the same measure
            trained = round(trained * quest.steps_total / max(1, steps))
            steps = quest.steps_total
        elif scale != 1.0:
            steps, trained = max(1, round(steps * scale)), round(trained * scale)
        left = (quest.steps_total - quest.steps_done) / quest.steps_total if started else 1.0
        if quest.state is QuestState.RUNNING and running_eta is not None:
            duration, basis = running_eta, "the worker's own ETA"
        elif rate > 0 and tokens:
            duration = trained * left / rate
            basis = f"{trained * left:.0f} tokens at {rate:.0f} tokens/s" + (" (what is left)" if started else "")
        else:
            duration = 0.0
            basis = ("no token count for this quest" if not tokens
                     else f"throughput unknown: {throughput.basis}")
        known = chain_known and (duration > 0 or (started and left == 0))
        estimates.append(QuestEstimate(quest.name, 0 if quest.state is QuestState.RUNNING else position, steps,
                                       trained, duration, ahead if known else 0.0, known, basis))
        if quest.state is not QuestState.RUNNING:
            position += 1
        if duration <= 0 and not (started and left == 0):
            chain_known = False
        ahead += duration
    return estimates


def recent_samples(store: TrainerStore, campaign: str, limit: int = RECENT_STEPS) -> list[StepSample]:
    """The campaign's newest STEP events, oldest first."""
    rows = store.query(
        "SELECT quest, time, json_extract(payload_json, '$.step.trained_tokens') AS tokens, "
        "json_extract(payload_json, '$.step.tokens_per_second') AS rate, "
        "json_extract(payload_json, '$.step.eta_seconds') AS eta FROM events "
        "WHERE kind = ? AND campaign = ? ORDER BY sequence DESC LIMIT ?", (EventKind.STEP.value, campaign, limit))
    return [StepSample(r["quest"], float(r["time"]), int(r["tokens"] or 0), float(r["rate"] or 0.0),
                       float(r["eta"] or 0.0)) for r in reversed(rows)]


@dataclass(frozen=True)
class QueueEstimate:
    campaign: str
    quests: list[QuestEstimate]
    throughput: Throughput
    active: bool


def estimate_campaign_queue(domain, campaign_name: str, *, now: float) -> QueueEstimate:
    """The estimate for one campaign of a TrainerDomain (blocking: SQLite reads; run it off the event loop)."""
    campaign = domain.campaigns.get(campaign_name)
    config = build_training_config(domain.heroes.get(campaign.hero).config_defaults(), campaign.config_overrides)
    order: list[Quest] = []
    token = ""
    while True:
        page, token = domain.queue.list(campaign=campaign.name, page_size=500, page_token=token, states=(
            QuestState.RUNNING, QuestState.PAUSED, QuestState.QUEUED))
        order.extend(page)
        if not token:
            break
    samples = recent_samples(domain.store, campaign.name)
    running = next((q for q in order if q.state is QuestState.RUNNING), None)
    last = next((s for s in reversed(samples) if running is not None and s.quest == running.name), None)
    running_eta = max(0.0, last.eta_seconds - (now - last.time)) if last is not None and last.eta_seconds else None
    throughput = recent_throughput(samples)
    finished, _ = domain.queue.list(campaign=campaign.name, states=(QuestState.COMPLETED,), page_size=500)
    scale = calibration(finished[-CALIBRATION_QUESTS:], config)
    estimates = estimate_queue(order, lambda _quest: config, throughput, running_eta=running_eta, scale=scale)
    return QueueEstimate(campaign.name, estimates, throughput, campaign.state is CampaignState.ACTIVE)
