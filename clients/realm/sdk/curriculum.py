"""High-level curriculum client: skills, batches, eval sets, grading, dataset validation, progression."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from realm.common.v1 import common_pb2
from realm.curriculum.v1 import curriculum_pb2 as pb
from realm.curriculum.v1 import votes_pb2 as vpb
from realm.sdk.core import ServiceClient

VALIDATION_LEVELS = {"quick": common_pb2.VALIDATION_LEVEL_QUICK,
                     "standard": common_pb2.VALIDATION_LEVEL_STANDARD,
                     "deep": common_pb2.VALIDATION_LEVEL_DEEP}
CHUNK_BYTES = 1 << 20


def _skill(name: str) -> str:
    return name if name.startswith("skills/") else f"skills/{name}"


def _campaign(name: str) -> str:
    return name if name.startswith("campaigns/") else f"campaigns/{name}"


def sidecar_for(path: Path) -> Path | None:
    """The `.meta.json` sidecar of a dataset file, if there is one (`x.jsonl.meta.json` or `x.meta.json`)."""
    for candidate in (path.with_name(path.name + ".meta.json"), path.with_suffix(".meta.json")):
        if candidate.exists():
            return candidate
    return None


class CurriculumClient(ServiceClient):
    def skills(self) -> list[pb.Skill]:
        found, token = [], ""
        while True:
            page = self.ListSkills(pb.ListSkillsRequest(page_token=token))
            found.extend(page.skills)
            token = page.next_page_token
            if not token:
                return found

    def skill(self, name: str) -> pb.Skill:
        return self.GetSkill(pb.GetSkillRequest(name=_skill(name))).skill

    def generate(self, skill: str, level: int, count: int, seed: int, mode: str = "",
                 review_share: float = 0.0) -> pb.GenerateBatchResponse:
        """`review_share`: share of rows (0..0.5) drawn from the up to 3 levels below `level`, interleaved."""
        return self.GenerateBatch(pb.GenerateBatchRequest(skill=_skill(skill), level=level, count=count, seed=seed,
                                                          mode=mode, review_share=review_share))

    def stream_batch(self, skill: str, level: int, count: int, seed: int, mode: str = "",
                     chunk_rows: int = 0, review_share: float = 0.0) -> Iterator[pb.StreamBatchResponse]:
        return self.StreamBatch(pb.StreamBatchRequest(skill=_skill(skill), level=level, count=count, seed=seed,
                                                      mode=mode, chunk_rows=chunk_rows, review_share=review_share))

    def generate_to_file(self, path: str | os.PathLike, skill: str, level: int, count: int, seed: int,
                         mode: str = "", write_sidecar: bool = True, review_share: float = 0.0) -> int:
        """Stream a batch into `path` (atomically) plus its `.meta.json` sidecar; returns the row count."""
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        rows, sidecar = 0, ""
        with open(tmp, "wb") as handle:
            for part in self.stream_batch(skill, level, count, seed, mode, review_share=review_share):
                handle.write(part.jsonl)
                rows += len(part.rows)
                sidecar = sidecar or part.sidecar_json
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        if write_sidecar and sidecar:
            meta = target.with_name(target.name + ".meta.json")
            meta.write_text(sidecar + "\n")
        return rows

    def eval_set(self, skill: str, level: int) -> pb.EvalSet:
        name = f"{_skill(skill)}/levels/{level}/evalSet"
        return self.GetEvalSet(pb.GetEvalSetRequest(name=name)).eval_set

    def grade(self, skill: str, items: Iterable[tuple[pb.Problem, str]]) -> pb.GradeResponse:
        return self.Grade(pb.GradeRequest(skill=_skill(skill), items=[pb.GradeItem(problem=p, response=r)
                                                                       for p, r in items]))

    def sparring_rows(self, skill: str, items: Iterable[tuple[pb.Problem, str]]) -> pb.BuildSparringRowsResponse:
        return self.BuildSparringRows(pb.BuildSparringRowsRequest(
            skill=_skill(skill), items=[pb.GradeItem(problem=p, response=r) for p, r in items]))

    def validate_chunks(self, chunks: Iterable[bytes], *, schema_id: str = "", sidecar_json: str = "",
                        level: str = "standard", max_length: int = 0, file_name: str = "",
                        error_thresholds: dict[str, float] | None = None, max_line_bytes: int = 0,
                        max_file_bytes: int = 0) -> common_pb2.ValidationReport:
        if level not in VALIDATION_LEVELS:
            raise ValueError(f"level must be one of {', '.join(VALIDATION_LEVELS)}")
        header = pb.DatasetHeader(schema_id=schema_id, sidecar_json=sidecar_json, level=VALIDATION_LEVELS[level],
                                  max_length=max_length, file_name=file_name,
                                  error_thresholds=error_thresholds or {}, max_line_bytes=max_line_bytes,
                                  max_file_bytes=max_file_bytes)

        def requests() -> Iterator[pb.ValidateDatasetRequest]:
            yield pb.ValidateDatasetRequest(header=header)
            for chunk in chunks:
                yield pb.ValidateDatasetRequest(chunk=chunk)

        return self.ValidateDataset(requests()).report

    def validate_file(self, path: str | os.PathLike, *, schema_id: str = "", level: str = "standard",
                      max_length: int = 0, **options) -> common_pb2.ValidationReport:
        """Stream a JSONL file to ValidateDataset; without a schema id its `.meta.json` sidecar is sent."""
        source = Path(path)
        sidecar = sidecar_for(source)
        sidecar_json = sidecar.read_text() if sidecar and not schema_id else ""

        def chunks() -> Iterator[bytes]:
            with open(source, "rb") as handle:
                while chunk := handle.read(CHUNK_BYTES):
                    yield chunk

        return self.validate_chunks(chunks(), schema_id=schema_id, sidecar_json=sidecar_json, level=level,
                                    max_length=max_length, file_name=source.name, **options)

    def progress(self, campaign: str) -> pb.CampaignProgress:
        return self.GetCampaignProgress(pb.GetCampaignProgressRequest(campaign=_campaign(campaign))).progress

    def configure(self, campaign: str, skills: Sequence[pb.SkillSettings], *, preset: str | None = None
                  ) -> pb.CampaignProgress:
        """`preset`: the campaign's own scheduling preset (None = keep it, "" = clear it)."""
        request = pb.ConfigureCampaignRequest(campaign=_campaign(campaign), skills=skills)
        if preset is not None:
            request.preset = preset
        return self.ConfigureCampaign(request).progress

    def vote(self, a: tuple[str, str], b: tuple[str, str], choice: str, *, campaign: str = "", prompt: str = "",
             seed: int = 0, vote_id: str = "") -> vpb.RecordVoteResponse:
        """One blind vote between two answers: a/b are (model, served asset); choice "a", "b" or "tie"."""
        choices = {"a": vpb.VOTE_CHOICE_A, "b": vpb.VOTE_CHOICE_B, "tie": vpb.VOTE_CHOICE_TIE}
        vote = vpb.Vote(campaign=_campaign(campaign) if campaign else "", a=vpb.VoteSide(model=a[0], asset=a[1]),
                        b=vpb.VoteSide(model=b[0], asset=b[1]), choice=choices.get(choice, 0), prompt=prompt,
                        seed=seed)
        return self.RecordVote(vpb.RecordVoteRequest(vote=vote, vote_id=vote_id))

    def vote_tally(self, campaign: str = "") -> vpb.GetVoteTallyResponse:
        return self.GetVoteTally(vpb.GetVoteTallyRequest(campaign=_campaign(campaign) if campaign else ""))

    def record_eval(self, campaign: str, skill: str, level: int, accuracy: float, *, checkpoint: str = "",
                    global_step: int = 0, training_loss: float | None = None) -> pb.RecordEvalResponse:
        request = pb.RecordEvalRequest(campaign=_campaign(campaign), skill=_skill(skill), level=level,
                                       accuracy=accuracy, checkpoint=checkpoint, global_step=global_step)
        if training_loss is not None:
            request.training_loss = training_loss
        return self.RecordEval(request)

    def plan(self, campaign: str, preset: str = "", count: int = 0) -> list[pb.PlannedBatch]:
        return list(self.PlanNextBatch(pb.PlanNextBatchRequest(campaign=_campaign(campaign), preset=preset,
                                                               count=count)).batches)


CLIENT_CLASS = CurriculumClient
