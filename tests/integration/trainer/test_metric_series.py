"""GetMetricSeries over gRPC, REST-free: the real trainer serves its own step events downsampled and smoothed,
and `realm train series --json` prints the same buckets."""

from __future__ import annotations

import asyncio
import json
import re

import grpc
import pytest

from fixtures.kit import write_test_config
from realm.cli.main import main
from realm.trainer.v1 import trainer_pb2 as pb
from services.trainer.models import EventKind

pytestmark = [pytest.mark.integration]
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")


async def test_series_over_grpc_and_the_cli(stack_factory, tmp_path, capsys):
    async with stack_factory() as stack:
        for step in range(1, 301):  # standing in for a worker: the event log is the trainer's own
            stack.trainer_domain.events.publish(EventKind.STEP, campaign="campaigns/s", step={
                "global_step": step, "loss": 9.0 if step == 150 else 1.0, "tokens_per_second": float(step)})
        trainer = stack.realm.trainer
        found = await asyncio.to_thread(trainer.GetMetricSeries, pb.GetMetricSeriesRequest(
            campaign="campaigns/s", max_points=30, smoothing=pb.SMOOTHING_KIND_EMA, smoothing_weight=0.5))
        assert found.bucket_steps == 10 and found.points == 300 and found.last_step == 300
        assert found.last_sequence == stack.trainer_domain.events.last_sequence
        spiked = [b for b in found.buckets if b.first_step <= 150 <= b.last_step]
        assert len(spiked) == 1 and spiked[0].max == 9.0 and spiked[0].min == 1.0
        detail = await asyncio.to_thread(trainer.GetMetricSeries, pb.GetMetricSeriesRequest(
            campaign="campaigns/s", metric="tokens_per_second", start_step=10, end_step=12))
        assert [(b.first_step, b.last) for b in detail.buckets] == [(10, 10.0), (11, 11.0), (12, 12.0)]
        with pytest.raises(grpc.RpcError) as bad:
            await asyncio.to_thread(trainer.GetMetricSeries, pb.GetMetricSeriesRequest(
                campaign="campaigns/s", metric="nope"))
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "metric" in bad.value.details()

        ports = {name: endpoint.port for name, endpoint in stack.settings.services.items()}
        (tmp_path / "cli").mkdir()
        config = write_test_config(tmp_path / "cli", ports=ports)
        assert await asyncio.to_thread(main, ["--config", str(config), "train", "series", "s", "--points", "30",
                                              "--ema", "0.5", "--json"]) == 0
        out = "".join(line for line in capsys.readouterr().out.splitlines(keepends=True) if not LOG_LINE.match(line))
        printed = json.loads(out)
        assert [b["smoothed"] for b in printed["buckets"]] == [b.smoothed for b in found.buckets]
