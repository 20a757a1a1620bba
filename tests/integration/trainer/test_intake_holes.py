"""The trainer's intake path over real servers (vault + curriculum + trainer): unknown top-level keys are
refused naming the key, a BOM + CRLF file is read (its schema sniffed), and a binary file is reported as not
UTF-8 text rather than as missing a schema. The campaign stays a draft, so nothing trains."""

from __future__ import annotations

import asyncio
import json

import pytest

from realm.trainer.v1 import trainer_pb2 as pb

pytestmark = pytest.mark.integration

ROWS = [{"messages": [{"role": "user", "content": f"add({a:b}, {b:b})"},
                      {"role": "assistant", "content": f"add({a:b}, {b:b}) = {a + b:b}"}]}
        for a in range(2) for b in range(2)]


async def call(fn, *args, **kwargs):
    return await asyncio.to_thread(fn, *args, **kwargs)


def jsonl(rows, newline: bytes = b"\n") -> bytes:
    return b"".join(json.dumps(r).encode() + newline for r in rows)


async def test_intake_rejects_unknown_keys_reads_bom_crlf_and_names_binary_files(stack_factory, tmp_path):
    async with stack_factory() as stack:
        trainer = stack.realm.trainer
        draft = (await call(trainer.CreateCampaign, pb.CreateCampaignRequest(
            campaign=pb.Campaign(display_name="intake probe", hero="heroes/tiny")))).campaign.name

        extra = tmp_path / "extra.jsonl"
        extra.write_bytes(jsonl([ROWS[0], {**ROWS[1], "answer": "10"}, {**ROWS[2], "metadata": {"answer": "1"}}]))
        quest = await call(trainer.submit_quest, extra, campaign=draft)
        assert quest.state == pb.QUEST_STATE_REJECTED and not quest.validation.accepted
        (finding,) = [f for f in quest.validation.findings if f.kind == "unknown_field"]
        assert (finding.line, finding.field) == (2, "answer") and "'answer'" in finding.message

        windows = tmp_path / "windows.jsonl"
        windows.write_bytes(b"\xef\xbb\xbf" + jsonl(ROWS, newline=b"\r\n"))
        quest = await call(trainer.submit_quest, windows, campaign=draft)
        assert quest.state == pb.QUEST_STATE_QUEUED, [(f.kind, f.line, f.message) for f in quest.validation.findings]
        assert quest.validation.accepted and quest.rows == 4 and quest.validation.schema_id == "chat_sft_v1"
        assert quest.validation.stats["tokens_total"] > 0  # the token guard read the BOM line too

        binary = tmp_path / "weights.jsonl"
        binary.write_bytes(bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) + bytes(range(128, 256)) * 4)
        quest = await call(trainer.submit_quest, binary, campaign=draft)
        assert quest.state == pb.QUEST_STATE_REJECTED
        kinds = [f.kind for f in quest.validation.findings]
        assert "missing_schema" not in kinds
        first = quest.validation.findings[0]
        assert first.line == 1 and first.message.startswith("not UTF-8 text"), (first.kind, first.message)

        readme = tmp_path / "readme.jsonl"
        readme.write_bytes(b"This is not a dataset.\r\nIt is prose.\r\n")
        quest = await call(trainer.submit_quest, readme, campaign=draft)
        assert quest.state == pb.QUEST_STATE_REJECTED
        first = quest.validation.findings[0]
        assert (first.kind, first.line) == ("json_parse", 1) and first.message.startswith("not JSON at line 1")
