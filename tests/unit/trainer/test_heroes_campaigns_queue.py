from __future__ import annotations

import pytest
import yaml

from services.kit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from services.kit.paging import decode_offset as decode_page_token
from services.kit.paging import encode_token as encode_page_token
from services.trainer.campaigns import CampaignBook
from services.trainer.heroes import HeroRegistry
from services.trainer.models import CampaignState, Priority, QuestState
from services.trainer.quests import QuestQueue
from services.trainer.store import TrainerStore
from services.trainer.worker.config import build_training_config


@pytest.fixture
def heroes(tmp_path, tiny_hero_dir, th) -> HeroRegistry:
    th.write_hero(tmp_path / "heroes", tiny_hero_dir, lora={"enabled": True, "rank": 4, "alpha": 8,
                                                             "target_modules": ["q_proj"]},
                  idle={"enabled": True, "skills": ["bin"], "queue_threshold": 2})
    return HeroRegistry(tmp_path / "heroes", root=tmp_path)


@pytest.fixture
def store(tmp_path) -> TrainerStore:
    return TrainerStore(tmp_path / "db" / "trainer.sqlite3")


def test_hero_yaml_loads_with_parameter_count_and_template(heroes, tiny_hero_dir):
    hero = heroes.get("heroes/tiny")
    assert hero.name == "heroes/tiny"
    assert hero.model_dir == tiny_hero_dir
    assert 500_000 < hero.parameter_count < 2_000_000  # read from the safetensors header
    assert "generation" in hero.effective_chat_template()
    assert hero.idle.skills == ("bin",) and hero.idle.queue_threshold == 2
    assert [h.name for h in heroes.list()] == ["heroes/tiny"]


def test_hero_defaults_build_a_valid_training_config(heroes):
    config = build_training_config(heroes.get("tiny").config_defaults(), {"learning_rate": 0.01})
    assert config.lora_enabled and config.lora_rank == 4 and config.lora_target_modules == ("q_proj",)
    assert config.optimizer == "adamw" and config.max_seq_len == 64 and config.learning_rate == 0.01


def test_bad_hero_files_name_the_field(tmp_path):
    registry = HeroRegistry(tmp_path, root=tmp_path)
    (tmp_path / "a.yaml").write_text(yaml.safe_dump({"architecture": "qwen3"}))
    with pytest.raises(InvalidArgument, match="model_dir"):
        registry.get("heroes/a")
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({"model_dir": "x", "colour": "red"}))
    with pytest.raises(InvalidArgument, match="colour"):
        registry.get("b")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"model_dir": "x", "lora": {"rank": 0}}))
    with pytest.raises(InvalidArgument, match=r"lora\.rank"):
        registry.get("c")
    with pytest.raises(NotFound):
        registry.get("heroes/nope")


def test_campaign_lifecycle(store, heroes):
    book = CampaignBook(store, heroes)
    first = book.create(hero="heroes/tiny", display_name="Binary Road", config_overrides={"learning_rate": 0.002})
    assert first.name.startswith("campaigns/binary-road-") and first.state is CampaignState.DRAFT
    assert first.skills == ("bin",)  # from the hero's idle skills
    with pytest.raises(AlreadyExists):
        book.create(hero="tiny", campaign_id=first.campaign_id)
    with pytest.raises(NotFound):
        book.create(hero="heroes/ghost")
    second = book.create(hero="tiny", campaign_id="second")
    assert book.activate(first.name).state is CampaignState.ACTIVE
    assert book.activate("campaigns/second").state is CampaignState.ACTIVE
    assert book.get(first.name).state is CampaignState.DRAFT  # only one active at a time
    assert book.active().name == second.name
    updated = book.update("second", {"peak_metrics": {"bin/accuracy": 0.5}, "display_name": "Two"})
    assert updated.peak_metrics == {"bin/accuracy": 0.5} and updated.display_name == "Two"
    with pytest.raises(InvalidArgument, match="hero"):
        book.update("second", {"hero": "heroes/other"})
    with pytest.raises(FailedPrecondition):
        book.archive("second", running_campaign="campaigns/second")
    assert book.archive("second").state is CampaignState.ARCHIVED
    with pytest.raises(FailedPrecondition):
        book.activate("second")
    page, token = book.list(page_size=1)
    assert len(page) == 1 and token
    rest, token2 = book.list(page_size=1, page_token=token)
    assert len(rest) == 1 and rest[0].name != page[0].name and token2 == ""
    assert [c.name for c in book.list(state=CampaignState.ARCHIVED)[0]] == ["campaigns/second"]
    book.record_progress(first.name, global_step=10, trained_tokens=500)
    book.record_progress(first.name, global_step=8, trained_tokens=400)  # never moves backwards
    assert (book.get(first.name).global_step, book.get(first.name).trained_tokens) == (10, 500)


def _add(queue: QuestQueue, quest_id: str, priority: Priority, campaign: str = "campaigns/c") -> None:
    queue.add(quest_id=quest_id, campaign=campaign, display_name=quest_id, priority=priority, source="upload",
              labels={}, schema_id="", sidecar_json="", file_path="", rows=1, size_bytes=1, sha256="")
    queue.set_validation(quest_id, {"accepted": True}, accepted=True)


def test_queue_orders_by_priority_then_position_and_reorders(store):
    queue = QuestQueue(store)
    for quest_id, priority in [("n1", Priority.NORMAL), ("l1", Priority.LOW), ("n2", Priority.NORMAL),
                               ("h1", Priority.HIGH), ("n3", Priority.NORMAL)]:
        _add(queue, quest_id, priority)

    def order() -> list[str]:
        return [q.quest_id for q in queue.list(campaign="campaigns/c", states=[QuestState.QUEUED])[0]]

    assert order() == ["h1", "n1", "n2", "n3", "l1"]
    assert queue.next_to_run("campaigns/c").quest_id == "h1"
    queue.move("n3", before="n1")
    assert order() == ["h1", "n3", "n1", "n2", "l1"]
    queue.move("quests/n3", after="n2")
    assert order() == ["h1", "n1", "n2", "n3", "l1"]
    with pytest.raises(FailedPrecondition, match="priority"):
        queue.move("n1", before="h1")
    with pytest.raises(InvalidArgument):
        queue.move("n1")
    queue.update("l1", {"priority": "high"})
    assert order() == ["h1", "l1", "n1", "n2", "n3"]
    with pytest.raises(InvalidArgument, match="priority"):
        queue.update("l1", {"priority": "urgent"})
    with pytest.raises(InvalidArgument, match="update_mask"):
        queue.update("l1", {"state": "COMPLETED"})


def test_paused_quest_runs_before_the_queue_and_states_move(store):
    queue = QuestQueue(store)
    _add(queue, "a", Priority.NORMAL)
    _add(queue, "b", Priority.HIGH)
    queue.mark_started("a", run_dir="", global_step_offset=0, trained_tokens_offset=0)
    queue.finish("a", QuestState.PAUSED, "paused")
    assert queue.next_to_run("campaigns/c").quest_id == "a"
    with pytest.raises(FailedPrecondition):
        queue.delete("a")
    queue.mark_resumed("a")
    queue.finish("a", QuestState.FAILED, "boom")
    assert queue.get("a").attempts == 1 and queue.get("a").end_time > 0
    with pytest.raises(FailedPrecondition):
        queue.retry("b")
    retried = queue.retry("a")
    assert retried.state is QuestState.QUEUED and retried.state_reason == ""
    queue.finish("b", QuestState.REJECTED)
    assert queue.retry("b").state is QuestState.VALIDATING  # re-validated, not trusted
    queue.delete("a")
    with pytest.raises(NotFound):
        queue.get("a")


def test_page_tokens_are_opaque_and_checked():
    assert decode_page_token(encode_page_token(25)) == 25
    with pytest.raises(InvalidArgument, match="page_token"):
        decode_page_token("garbage!")
