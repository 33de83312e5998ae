"""The model's in-place mode (used by the conformance replay) runs the same transitions as its copying mode
(used by the explorer): seeded random walks take the same actions in both and compare every state."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest

from model.builders import BUILTIN_SCENARIOS
from model.scenario import Expected, FatalCode, Scenario
from model.trb_model import S_TASKS, Blocked, State, TrbModel
from tests.scenarios_small import TINY, producer_consumer_pairs

WALKS = 3
MAX_STEPS = 3000


def _frozen(state: State) -> tuple[Any, ...]:
    return state[:S_TASKS] + (tuple(state[S_TASKS]),) + state[S_TASKS + 1 :]


def _scenarios() -> list[Any]:
    names = [n for n in BUILTIN_SCENARIOS if not n.startswith(("abg", "hbg"))]
    out = [pytest.param(BUILTIN_SCENARIOS[n], id=n) for n in names]
    heap_cfg = dataclasses.replace(TINY, heap_bytes=(1024, 1024, 1024, 1024))
    heap = dataclasses.replace(producer_consumer_pairs(2, heap_cfg), expected=Expected(FatalCode.HEAP_RING_DEADLOCK))
    out.append(pytest.param(lambda: heap, id="heap_deadlock"))
    return out


def _walk(scenario: Scenario) -> tuple[set[int], int]:
    """Walk 0 runs the orchestrator whenever it can (it fills windows and heaps), the others pick at random;
    every state of the in-place model is compared with the copying model's. Returns (action kinds taken,
    states in which the orchestrator was blocked)."""
    copying, in_place = TrbModel(scenario), TrbModel(scenario, in_place=True)
    kinds: set[int] = set()
    blocked = 0
    for seed in range(WALKS):
        rng = random.Random(seed)
        state, live = copying.initial_states()[0], in_place.initial_states()[0]
        assert isinstance(live[S_TASKS], list) and isinstance(state[S_TASKS], tuple)
        for _ in range(MAX_STEPS):
            assert _frozen(live) == state
            if not isinstance(copying.orchestrator_step(state), tuple):
                # asking a blocked (or finished) orchestrator changes nothing in place either
                blocked += isinstance(copying.orchestrator_step(state), Blocked)
                assert not isinstance(in_place.orchestrator_step(live), tuple)
                assert _frozen(live) == state
            enabled = copying.actions(state)
            if not enabled:
                break
            action = enabled[0] if seed == 0 else enabled[rng.randrange(len(enabled))]
            kinds.add(action[0])
            state, live = copying.next_state(state, action), in_place.next_state(live, action)
        assert _frozen(live) == state
    return kinds, blocked


@pytest.mark.parametrize("build", _scenarios())
def test_in_place_steps_equal_copying_steps(build: Any) -> None:
    kinds, _blocked = _walk(build())
    assert len(kinds) >= 3  # the walks took orchestrator and scheduler steps, not one kind only


@pytest.mark.parametrize("name", ["pa_var_seq4_window8", "pa_two_blocks"])
def test_the_walks_meet_a_blocked_orchestrator(name: str) -> None:
    """The blocked-orchestrator comparison in the walks is not vacuous."""
    _kinds, blocked = _walk(BUILTIN_SCENARIOS[name]())
    assert blocked > 0
