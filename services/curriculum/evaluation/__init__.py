"""Checkpoint evaluation ("trials"): the store that owns the evaluations database, the runner that grades
checkpoints through inference, the pure scheduling rules, and the follower of the vault's checkpoint ledger.

    model      the Evaluation resource and the values trials pass around
    ports      what trials need from inference, the vault and the trainer (implemented in ../remote.py)
    store      EvaluationStore: SQLite, versioned migrations, change events, outbox and cursors
    scheduler  next_due / plan_sets / is_full_eval: pure decisions
    runner     EvaluationRunner: start, coalesce, run, grade, record
    follower   CheckpointFollower: a trial for every registered checkpoint
"""

from services.curriculum.config import SparringConfig, TrialPolicy
from services.curriculum.evaluation.follower import CheckpointFollower
from services.curriculum.evaluation.model import (
    TRIGGER_CHECKPOINT,
    TRIGGER_REQUEST,
    Effect,
    EvalState,
    Evaluation,
    LevelUp,
    LoadedModel,
    RegisteredCheckpoint,
    SkillResult,
)
from services.curriculum.evaluation.ports import (
    CheckpointStream,
    InferencePort,
    PeerUnavailable,
    TrainerPort,
    VaultPort,
    describe_error,
    is_retryable,
)
from services.curriculum.evaluation.runner import EvaluationRunner
from services.curriculum.evaluation.scheduler import next_due, plan_sets
from services.curriculum.evaluation.store import EvaluationStore

__all__ = [
    "TRIGGER_CHECKPOINT", "TRIGGER_REQUEST", "CheckpointFollower", "CheckpointStream", "Effect", "EvalState",
    "Evaluation", "EvaluationRunner", "EvaluationStore", "InferencePort", "LevelUp", "LoadedModel",
    "PeerUnavailable", "RegisteredCheckpoint", "SkillResult", "SparringConfig", "TrainerPort", "TrialPolicy",
    "VaultPort", "describe_error", "is_retryable", "next_due", "plan_sets",
]
