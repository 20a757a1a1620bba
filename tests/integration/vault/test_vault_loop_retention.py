"""Retention in the campaign loop through a real vault server: each checkpoint registration runs the
campaign's retention in the background (the built-in loop default here), deleting only what it may."""

from __future__ import annotations

import os
import time

import pytest

from realm.vault.v1 import vault_pb2 as pb

pytestmark = pytest.mark.integration


def test_registration_runs_the_loop_default_policy(realm, tree, tmp_path):
    def push(step: int):
        path = tree(tmp_path / f"step-{step}", {"model.safetensors": os.urandom(4096)})
        return realm.vault.push(path, "checkpoint", lineage={"campaign": "campaigns/loop", "global_step": step})

    def attach(asset, accuracy: float):
        realm.vault.AttachEval(pb.AttachEvalRequest(asset=asset.name, eval=pb.Eval(
            asset=asset.name, skill="bin", level=1, accuracy=accuracy, correct=1, total=2)))

    evaluated = [push(step) for step in (1, 2, 3)]
    for asset, accuracy in zip(evaluated, (0.9, 0.2, 0.3), strict=True):
        attach(asset, accuracy)
    superseded = push(4)
    realm.vault.UpdateAssetLabels(pb.UpdateAssetLabelsRequest(name=superseded.name,
                                                              set_labels={"trial": "superseded"}))
    unevaluated = push(5)
    newest = [push(step) for step in (6, 7)]

    def state(asset) -> int:
        return realm.vault.GetAsset(pb.GetAssetRequest(name=asset.name)).asset.state

    deadline = time.monotonic() + 20
    expected_gone = [evaluated[1], evaluated[2], superseded]
    while any(state(a) != pb.ASSET_STATE_DELETED for a in expected_gone):
        assert time.monotonic() < deadline, [state(a) for a in expected_gone]
        time.sleep(0.05)
    # Kept: 7, 6, 5 (the three newest; 5 is also unevaluated), 1 (the best bin accuracy).
    assert all(state(a) == pb.ASSET_STATE_ACTIVE for a in [evaluated[0], unevaluated, *newest])
    kinds = [e.kind for e in realm.vault.ListLedgerEvents(pb.ListLedgerEventsRequest(
        campaign="campaigns/loop", page_size=1000)).events]
    assert kinds.count(pb.LEDGER_EVENT_KIND_DELETED) == 3
