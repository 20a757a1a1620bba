"""A campaign's setup: mantra versions, fields locked at the first quest (FAILED_PRECONDITION + the fork hint),
and forks from a checkpoint that start from its weights."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound
from services.kit.mantra import DEFAULT_MANTRA_TEXT
from services.trainer.campaign_setup import LOCKED_FIELDS
from services.trainer.campaigns import CampaignBook
from services.trainer.forks import fork_campaign
from services.trainer.heroes import HeroRegistry
from services.trainer.jobs import JobBuilder
from services.trainer.models import Priority, Quest, QuestState
from services.trainer.store import TrainerStore
from services.trainer.worker.config import build_training_config
from services.trainer.worker.protocol import load_job


def write_hero(heroes_dir, model_dir, **training):
    heroes_dir.mkdir(parents=True, exist_ok=True)
    doc = {"model_dir": str(model_dir), "architecture": "qwen3",
           "training_defaults": {"max_steps": 2, "max_seq_len": 64, "micro_batch_size": 2, **training}}
    (heroes_dir / "tiny.yaml").write_text(yaml.safe_dump(doc))


@pytest.fixture
def world(tmp_path, tiny_hero_dir):
    write_hero(tmp_path / "heroes", tiny_hero_dir)
    store = TrainerStore(tmp_path / "trainer.sqlite3")
    heroes = HeroRegistry(tmp_path / "heroes", root=tmp_path)
    book = CampaignBook(store, heroes, config_builder=build_training_config)
    jobs = JobBuilder(root=tmp_path / "data", heroes=heroes, assets=None,
                      training_config_builder=build_training_config, locks=book.setup)
    quest_file = tmp_path / "q.jsonl"
    quest_file.write_text(json.dumps({"messages": [{"role": "user", "content": "1"},
                                                    {"role": "assistant", "content": "1"}]}) + "\n")
    yield book, jobs, quest_file, tmp_path
    store.close()


def quest(campaign, quest_file, quest_id="q1"):
    return Quest(quest_id=quest_id, display_name=quest_id, campaign=campaign.name, priority=Priority.NORMAL,
                 state=QuestState.QUEUED, position=1, file_path=str(quest_file))


def test_every_campaign_has_the_default_mantra_and_each_change_bumps_its_version(world):
    book, jobs, quest_file, _ = world
    campaign = book.create(hero="heroes/tiny", display_name="road")
    assert (campaign.mantra.text, campaign.mantra.rule, campaign.mantra.version) == (DEFAULT_MANTRA_TEXT, "keep", 1)
    changed = book.update(campaign.name, {"mantra": {"text": "Be kind on {date}.", "rule": None}})
    assert (changed.mantra.text, changed.mantra.rule, changed.mantra.version) == ("Be kind on {date}.", "keep", 2)
    assert book.update(campaign.name, {"mantra": {"text": None, "rule": "replace"}}).mantra.version == 3
    assert book.update(campaign.name, {"mantra": {"text": "Be kind on {date}.", "rule": None}}).mantra.version == 3
    with pytest.raises(InvalidArgument) as caught:
        book.update(campaign.name, {"mantra": {"text": None, "rule": "sometimes"}})
    assert caught.value.field == "mantra.rule"
    # The job of the next quest carries the mantra and the date that fills it, fixed for resumes.
    job = load_job(jobs.fresh(book.get(campaign.name), quest(campaign, quest_file)).path)
    assert job.mantra == book.get(campaign.name).mantra and len(job.mantra_date) == 10


def test_a_campaign_created_with_a_mantra_starts_at_version_one(world):
    book, *_ = world
    campaign = book.create(hero="heroes/tiny", mantra={"text": "Short answers.", "rule": "replace"})
    assert (campaign.mantra.text, campaign.mantra.rule, campaign.mantra.version) == ("Short answers.", "replace", 1)


def test_the_first_quest_locks_the_fields_and_changing_one_is_refused_with_the_way_out(world):
    book, jobs, quest_file, _ = world
    campaign = book.create(hero="heroes/tiny", display_name="road")
    assert book.get(campaign.name).locked_fields == ()
    book.update(campaign.name, {"config_overrides": {"max_seq_len": 96}})  # before the first quest: fine
    jobs.fresh(book.get(campaign.name), quest(campaign, quest_file))
    locked = dict(book.get(campaign.name).locked_fields)
    assert tuple(locked) == LOCKED_FIELDS and locked["max_seq_len"] == "96"
    assert locked["architecture"] == "Qwen3ForCausalLM" and len(locked["tokenizer"]) == 64

    with pytest.raises(FailedPrecondition) as caught:
        book.update(campaign.name, {"config_overrides": {"max_seq_len": 128}})
    assert caught.value.field == "max_seq_len"
    assert "realm campaign fork" in caught.value.message and "96" in caught.value.message
    with pytest.raises(FailedPrecondition) as caught:
        book.update(campaign.name, {"starting_checkpoint": "assets/other"})
    assert caught.value.field == "base_model"
    with pytest.raises(FailedPrecondition) as caught:
        book.update(campaign.name, {"hero": "heroes/other"})
    assert caught.value.field == "base_model"
    # Fields that are not locked still change; the same max_seq_len is no change.
    book.update(campaign.name, {"config_overrides": {"max_seq_len": 96, "learning_rate": 0.01}})
    assert book.get(campaign.name).config_overrides["learning_rate"] == 0.01


@pytest.mark.parametrize(("edit", "field"), [
    ({"training_defaults": {"max_steps": 2, "max_seq_len": 32, "micro_batch_size": 2}}, "max_seq_len"),
    ({"chat_template": "{% for m in messages %}{{ m.content }}{% endfor %}"}, "chat_template"),
    ({"architecture": "llama"}, "architecture"),
])
def test_a_hero_file_edited_under_a_locked_campaign_fails_the_next_quest_start(world, edit, field):
    book, jobs, quest_file, tmp_path = world
    campaign = book.create(hero="heroes/tiny")
    jobs.fresh(book.get(campaign.name), quest(campaign, quest_file))
    path = tmp_path / "heroes" / "tiny.yaml"
    doc = yaml.safe_load(path.read_text())
    if field == "architecture":  # the hero file names another architecture and another model directory
        other = tmp_path / "other-model"
        shutil.copytree(doc["model_dir"], other)
        config = json.loads((other / "config.json").read_text())
        config["architectures"] = ["LlamaForCausalLM"]
        (other / "config.json").write_text(json.dumps(config))
        doc["model_dir"] = str(other)
        field = "base_model"  # the first locked field that differs
    doc.update(edit)
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(FailedPrecondition) as caught:
        jobs.fresh(book.get(campaign.name), quest(campaign, quest_file, "q2"))
    assert caught.value.field == field and "fork" in caught.value.message


def fake_checkpoint(root, campaign_name, hero_dir):
    checkpoint = root / "runs" / "q1" / "checkpoints" / "step-00000002"
    shutil.copytree(hero_dir, checkpoint)
    (checkpoint / "trainer_state").mkdir()
    (checkpoint / "trainer_state" / "state.json").write_text(json.dumps({"campaign": campaign_name}))
    return checkpoint


def test_fork_from_a_local_checkpoint_starts_from_its_weights_and_copies_the_setup(world, tiny_hero_dir):
    book, jobs, quest_file, tmp_path = world
    source = book.create(hero="heroes/tiny", display_name="road", config_overrides={"learning_rate": 0.02},
                         skills=["bin"])
    book.update(source.name, {"mantra": {"text": "Mine {date}", "rule": "replace"}})
    jobs.fresh(book.get(source.name), quest(source, quest_file))
    checkpoint = fake_checkpoint(tmp_path, source.name, tiny_hero_dir)

    fork = fork_campaign(book, checkpoint=str(checkpoint), display_name="road 128",
                         config_overrides={"max_seq_len": 128})
    assert fork.forked_from == str(checkpoint) and fork.locked_fields == ()
    assert fork.hero == source.hero and fork.skills == ("bin",)
    assert fork.config_overrides == {"learning_rate": 0.02, "max_seq_len": 128}
    assert (fork.mantra.text, fork.mantra.rule) == ("Mine {date}", "replace")
    job = jobs.fresh(fork, quest(fork, quest_file, "q2"))
    assert job.model_dir == checkpoint.resolve() and job.config.max_seq_len == 128
    assert dict(book.get(fork.name).locked_fields)["max_seq_len"] == "128"


def test_fork_from_an_asset_or_alias_names_it_as_the_starting_checkpoint(world):
    book, _, _, tmp_path = world
    source = book.create(hero="heroes/tiny", display_name="road")
    book.store.execute(
        "INSERT INTO outbox (checkpoint_dir, campaign, quest, global_step, lineage_json, state, asset, create_time) "
        "VALUES (?, ?, 'quests/q1', 2, '{}', 'CONFIRMED', 'assets/abc', 0)", (str(tmp_path / "gone"), source.name))
    from_asset = fork_campaign(book, checkpoint="assets/abc", display_name="a")
    assert from_asset.starting_checkpoint == "assets/abc" and from_asset.hero == source.hero
    assert from_asset.latest_checkpoint_dir == ""  # the local copy was trimmed: the vault copy is fetched
    from_alias = fork_campaign(book, checkpoint=f"{source.name}/aliases/latest", campaign_id="b")
    assert from_alias.name == "campaigns/b" and from_alias.starting_checkpoint == f"{source.name}/aliases/latest"


def test_fork_errors_name_the_field(world):
    book, *_ = world
    with pytest.raises(InvalidArgument) as caught:
        fork_campaign(book, checkpoint="assets/unknown")
    assert caught.value.field == "hero"
    assert fork_campaign(book, checkpoint="assets/unknown", hero="heroes/tiny").starting_checkpoint == "assets/unknown"
    with pytest.raises(NotFound) as caught:
        fork_campaign(book, checkpoint="/no/such/dir")
    assert caught.value.field == "checkpoint"
    with pytest.raises(InvalidArgument) as caught:
        fork_campaign(book, checkpoint="campaigns/x/latest")
    assert caught.value.field == "checkpoint"
    with pytest.raises(InvalidArgument) as caught:
        fork_campaign(book, checkpoint=" ")
    assert caught.value.field == "checkpoint"
    for unusable in ("dir\x00name", "~no-such-user-zz/ckpt"):
        with pytest.raises(InvalidArgument) as caught:
            fork_campaign(book, checkpoint=unusable)
        assert caught.value.field == "checkpoint"


def test_the_job_carries_the_heros_chat_template_override_and_none_without_one(world):
    book, jobs, quest_file, tmp_path = world
    plain = book.create(hero="heroes/tiny", display_name="plain")
    assert load_job(jobs.fresh(book.get(plain.name), quest(plain, quest_file)).path).chat_template is None
    template = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"
    path = tmp_path / "heroes" / "tiny.yaml"
    path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), "chat_template": template}))
    other = book.create(hero="heroes/tiny", display_name="templated")
    job = load_job(jobs.fresh(book.get(other.name), quest(other, quest_file, "q2")).path)
    assert job.chat_template == template
