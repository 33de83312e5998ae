"""The explorer's reductions on the TRB model are exact.

For each small scenario: the reduction hooks' obligations hold on every reachable state (checked
exhaustively by `check_reduction_conditions`), and every reduction gives the unreduced search's verdict,
violated properties, witnesses and terminal states. Hooks with a side condition removed are caught by
the checker and do lose a violation, so the side conditions are needed and the comparison can fail.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from model.builders import BUILTIN_SCENARIOS
from model.builders.paged_attention import paged_attention
from model.explorer import REDUCTIONS, ExploreResult, check_reduction_conditions, explore
from model.scenario import (
    Arg,
    Constants,
    DepKind,
    Expected,
    ExplicitDep,
    FatalCode,
    OutputSpec,
    Region,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    Submit,
    Tag,
    validate,
)
from model.trb_model import F_SELF_RELEASED, S_FATAL, S_TASKS, T_FLAGS, T_RELCUR, State, TrbModel
from properties.findings import load_model_artifact, replay_model_path
from tests.scenarios_small import F32, TINY, pa_one_block, producer_consumer_pairs

ROOT = Path(__file__).resolve().parent.parent
REDUCED = tuple(r for r in REDUCTIONS if r != "none")


def _future_dep() -> Scenario:
    """X0 waits on Y0, submitted after it: the claim lands on a not-yet-allocated slot (phantom edge)."""
    x0 = Submit(
        "X0",
        (0, -1, -1),
        (Arg(Tag.OUTPUT, creates=OutputSpec("x0", (16,), F32)),),
        deps=(ExplicitDep("Y0", DepKind.WAIT_RETAIN),),
    )
    y0 = Submit(
        "Y0",
        (-1, 1, -1),
        (Arg(Tag.INPUT, Region("x0", (16,), (1,))), Arg(Tag.OUTPUT, creates=OutputSpec("y0", (16,), F32))),
    )
    return validate(Scenario("future_dep", TINY, (), (ScopeBegin(), x0, y0, ScopeEnd())))


def _pa_manual() -> Scenario:
    cfg = dataclasses.replace(pa_one_block().config, task_window=(4, 8, 4, 4), heap_bytes=(4096, 8192, 4096, 4096))
    return paged_attention(1, 16, 16, 16, [16], manual_scope=True, config=cfg, name="pa_manual")


def _pa_small_dep_pool() -> Scenario:
    """Ring 2's dep pool (4) is below its static link bound: the pool is tracked and runs full."""
    cfg = dataclasses.replace(pa_one_block().config, dep_pool=(4, 4, 4, 4))
    return paged_attention(1, 16, 16, 16, [16], config=cfg, name="pa_small_dep_pool")


def _pa_tiny_queues() -> Scenario:
    """Ready queues of capacity 1: notifications are separate actions and pushes can drop."""
    cfg = dataclasses.replace(pa_one_block().config, constants=Constants(ready_queue_capacity=1))
    return paged_attention(1, 16, 16, 16, [16], config=cfg, name="pa_tiny_queues")


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "pa_scope_deadlock": BUILTIN_SCENARIOS["pa_scope_deadlock"],
    "pa_one_block": pa_one_block,
    "pa_manual": _pa_manual,
    "pa_small_dep_pool": _pa_small_dep_pool,
    "pa_tiny_queues": _pa_tiny_queues,
    "pairs_two_runs": lambda: dataclasses.replace(producer_consumer_pairs(2), runs=2),
    "pairs_heap_wrap": lambda: producer_consumer_pairs(
        3, dataclasses.replace(TINY, task_window=(8, 8, 8, 8), heap_bytes=(3072,) * 4)
    ),
    "heap_deadlock": lambda: dataclasses.replace(
        producer_consumer_pairs(2, dataclasses.replace(TINY, heap_bytes=(1024,) * 4)),
        expected=Expected(FatalCode.HEAP_RING_DEADLOCK),
    ),
    "dummy_single_auto_dep": BUILTIN_SCENARIOS["dummy_single_auto_dep"],
    "dummy_explicit_barrier": BUILTIN_SCENARIOS["dummy_explicit_barrier"],
    "future_dep": _future_dep,
}


class RecordingTrb(TrbModel):
    """TrbModel that records every explored state without an enabled action."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        self.terminals: set[State] = set()

    def actions(self, state: State) -> list[Any]:
        enabled = super().actions(state)
        if not enabled:
            self.terminals.add(state)
        return enabled


def _run(scenario: Scenario, reduction: str) -> tuple[ExploreResult[Any, Any], set[State]]:
    model = RecordingTrb(scenario)
    result = explore(model, reduction=reduction, stop_at_first_violation=False)
    return result, {model.canonicalize(s) for s in model.terminals}


def _without_safe_step_fields(state: State) -> State:
    """A state with the fields a postponed safe self-release writes (cursor, SELF_RELEASED) cleared."""
    tasks = tuple(t[:T_FLAGS] + (t[T_FLAGS] & ~F_SELF_RELEASED,) + t[T_FLAGS + 1 : T_RELCUR] + (0,) + t[T_RELCUR + 1 :] for t in state[S_TASKS])
    return state[:S_TASKS] + (tasks,) + state[S_TASKS + 1 :]


NOTHING_TO_MERGE = {"heap_deadlock"}  # 12 states: a heap deadlock before any task runs
NO_SAFE_STEP = {"heap_deadlock", "pa_scope_deadlock"}  # fatal before any task is consumed


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_reductions_are_exact(name: str) -> None:
    scenario = SCENARIOS[name]()
    check = check_reduction_conditions(TrbModel(scenario))
    assert check.complete and not check.problems, check.problems
    assert (check.canonical_differs > 0) and ((check.safe_checked > 0) == (name not in NO_SAFE_STEP))
    runs = {reduction: _run(scenario, reduction) for reduction in REDUCTIONS}
    full, full_terminals = runs["none"]
    assert full.complete
    assert (runs["canonical+ample"][0].states < full.states) == (name not in NOTHING_TO_MERGE)
    fatal = {s for s in full_terminals if s[S_FATAL]}
    for reduction in REDUCED:
        reduced, terminals = runs[reduction]
        assert reduced.reduction == reduction
        assert reduced.complete and reduced.states <= full.states
        assert [v.property_name for v in reduced.violations] == [v.property_name for v in full.violations]
        assert reduced.witnessed.keys() == full.witnessed.keys()
        assert reduced.unwitnessed == full.unwitnessed
        # Runs that end without a fatal end in exactly the same states; a fatal latch may come before a
        # postponed safe self-release, which only that step's own fields tell apart.
        assert {s for s in terminals if not s[S_FATAL]} == full_terminals - fatal
        reduced_fatal = {s for s in terminals if s[S_FATAL]}
        assert reduced_fatal <= fatal
        assert {_without_safe_step_fields(s) for s in reduced_fatal} == {_without_safe_step_fields(s) for s in fatal}


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_inv_r7_finding_is_found_under_every_reduction(reduction: str) -> None:
    scenario, _actions, _ = load_model_artifact(ROOT / "tests/regressions/f_model_r7.json")
    result = explore(TrbModel(scenario), reduction=reduction)
    assert [v.property_name for v in result.violations] == ["own_release_before_reuse"]
    path = [step.action for step in result.violations[0].path[1:]]
    states = replay_model_path(TrbModel(scenario), path)  # a real path of the unreduced model
    prop = next(p for p in TrbModel(scenario).properties() if p.name == "own_release_before_reuse")
    assert not prop.holds(states[-1])


@pytest.mark.parametrize("reduction", REDUCED)
def test_a_wrong_expectation_is_reported_under_every_reduction(reduction: str) -> None:
    scenario = dataclasses.replace(pa_one_block(), expected=Expected(FatalCode.HEAP_RING_DEADLOCK))
    result = explore(TrbModel(scenario), reduction=reduction)
    assert [v.property_name for v in result.violations] == ["expected_outcome"]
    replay_model_path(TrbModel(scenario), [step.action for step in result.violations[0].path[1:]])


class SelfReleaseAnySlot(TrbModel):
    """Unsound: treats a consumed task's self-release as safe even when a later task reuses its slot."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        self._no_slot_successor = (True,) * self.ntasks


class UntrackedDepPools(TrbModel):
    """Unsound: forgets the dep-pool fill level on every ring, whether or not the pool can run short."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        self._dep_pool_slack_rings = (0, 1, 2, 3)
        self._dep_mark_unread = (True,) * self.ntasks


def test_unsound_hooks_are_caught_and_would_hide_a_violation() -> None:
    r7 = producer_consumer_pairs(3)
    problems = check_reduction_conditions(SelfReleaseAnySlot(r7), max_states=2000).problems
    assert any("changes property own_release_before_reuse" in p for p in problems)
    assert not explore(SelfReleaseAnySlot(r7), reduction="ample").violations  # the finding is lost
    assert explore(TrbModel(r7), reduction="ample").violations

    small_pool = _pa_small_dep_pool()
    assert TrbModel(small_pool)._dep_pool_slack_rings == (0, 1, 3)  # ring 2's pool stays tracked
    problems = check_reduction_conditions(UntrackedDepPools(small_pool), max_states=1000).problems
    assert any("enables different actions" in p for p in problems)
    assert not explore(UntrackedDepPools(small_pool), reduction="canonical").violations  # overflow lost
    assert explore(TrbModel(small_pool), reduction="canonical").violations


def test_cli_explore_names_the_reduction_and_keeps_the_unreduced_search() -> None:
    def run(*extra: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "fuzz.cli", "explore", "pa_scope_deadlock", *extra],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    default, plain = run(), run("--reduction", "none")
    assert "complete" in default and "reduction canonical+ample" in default
    assert "complete" in plain and "reduction none" in plain
    assert "expected fatal SCOPE_DEADLOCK" in default and "expected fatal SCOPE_DEADLOCK" in plain
