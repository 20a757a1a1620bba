"""GetMetricSeries: proto <-> the series domain (kept apart from servicer.py so that file stays an index)."""

from __future__ import annotations

from realm.trainer.v1 import trainer_pb2 as pb
from services.kit.errors import InvalidArgument
from services.trainer.series import MetricSeries, Smoothing

_KINDS = {pb.SMOOTHING_KIND_NONE: "none", pb.SMOOTHING_KIND_EMA: "ema"}
_TO_PB = {"none": pb.SMOOTHING_KIND_NONE, "ema": pb.SMOOTHING_KIND_EMA}


def smoothing_from_pb(request: pb.GetMetricSeriesRequest) -> Smoothing:
    if request.smoothing == pb.SMOOTHING_KIND_UNSPECIFIED:
        kind = "ema" if request.smoothing_weight > 0 else "none"
    elif request.smoothing in _KINDS:
        kind = _KINDS[request.smoothing]
    else:
        raise InvalidArgument(f"unknown value {request.smoothing}", field="smoothing")
    return Smoothing(kind, request.smoothing_weight if kind == "ema" else 0.0)


def get_metric_series(series: MetricSeries, request: pb.GetMetricSeriesRequest) -> pb.GetMetricSeriesResponse:
    found = series.read(request.campaign, request.metric, start_step=request.start_step,
                        end_step=request.end_step, max_points=request.max_points,
                        smoothing=smoothing_from_pb(request))
    return pb.GetMetricSeriesResponse(
        campaign=found.campaign, metric=found.metric, bucket_steps=found.bucket_steps, points=found.points,
        first_step=found.first_step, last_step=found.last_step, last_sequence=found.last_sequence,
        smoothing=_TO_PB[found.smoothing.kind], smoothing_weight=found.smoothing.weight,
        buckets=[pb.MetricBucket(first_step=b.first_step, last_step=b.last_step, count=b.count, min=b.min,
                                 max=b.max, mean=b.mean, last=b.last, smoothed=b.smoothed)
                 for b in found.buckets],
    )
