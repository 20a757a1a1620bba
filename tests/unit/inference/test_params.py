from __future__ import annotations

import pytest

from services.inference.params import GenerationLimits, SamplingParams
from services.kit.errors import InvalidArgument

LIMITS = GenerationLimits(default_max_new_tokens=16, max_new_tokens=64, max_prompt_tokens=128)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"max_new_tokens": -1}, "parameters.max_new_tokens"),
    ({"max_new_tokens": 65}, "parameters.max_new_tokens"),
    ({"temperature": -0.1}, "parameters.temperature"),
    ({"temperature": float("nan")}, "parameters.temperature"),
    ({"top_p": 1.5}, "parameters.top_p"),
    ({"top_k": -3}, "parameters.top_k"),
    ({"repetition_penalty": -1.0}, "parameters.repetition_penalty"),
    ({"stop_sequences": ["ok", ""]}, "parameters.stop_sequences[1]"),
    ({"stop_sequences": ["x" * 201]}, "parameters.stop_sequences[0]"),
    ({"stop_sequences": [str(i) for i in range(9)]}, "parameters.stop_sequences"),
    ({"seed": -5}, "parameters.seed"),
])
def test_bad_parameters_name_the_field(kwargs, field):
    with pytest.raises(InvalidArgument) as caught:
        SamplingParams.build(LIMITS, **kwargs)
    assert caught.value.field == field
    assert str(caught.value).startswith(field + ": ")


def test_defaults_and_disabled_values():
    params = SamplingParams.build(LIMITS)
    assert params.max_new_tokens == 16 and params.greedy
    assert params.top_p == 1.0 and params.repetition_penalty == 1.0 and params.seed is None
    tuned = SamplingParams.build(LIMITS, max_new_tokens=64, temperature=0.7, top_p=0.9, top_k=5,
                                 repetition_penalty=1.1, stop_sequences=["\n"], seed=0)
    assert (tuned.max_new_tokens, tuned.top_p, tuned.top_k, tuned.seed) == (64, 0.9, 5, 0)
    assert not tuned.greedy and tuned.stop_sequences == ("\n",)


def test_limits_from_config_are_validated():
    assert GenerationLimits.from_section({"max_new_tokens": 10, "default_max_new_tokens": 5}).max_new_tokens == 10
    with pytest.raises(InvalidArgument, match="default_max_new_tokens"):
        GenerationLimits.from_section({"max_new_tokens": 10, "default_max_new_tokens": 50})
    with pytest.raises(InvalidArgument, match="max_prompt_tokens"):
        GenerationLimits.from_section({"max_prompt_tokens": 0})
