"""Loads in several threads at once (the Oracle's side-by-side asks for two unloaded checkpoints together) each
give a whole model: the same weights as a load on its own."""

from __future__ import annotations

import threading

import torch

from services.inference.transformers_backend import LoadOptions, load_checkpoint


def test_concurrent_loads_all_succeed_with_the_checkpoints_weights(hero_dir):
    alone, _, _ = load_checkpoint(hero_dir, LoadOptions())
    reference = {name: tensor.clone() for name, tensor in alone.state_dict().items()}
    results, errors = [], []

    def load():
        try:
            results.append(load_checkpoint(hero_dir, LoadOptions())[0])
        except Exception as exc:  # collected: the assertion below names it
            errors.append(repr(exc))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(results) == 4
    for model in results:
        state = model.state_dict()
        assert state.keys() == reference.keys()
        assert all(torch.equal(state[name], reference[name]) for name in reference)
