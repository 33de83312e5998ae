"""Deadlock freedom: exact minimal window and heap of a scope shape, and the explorer agrees on both
sides of the heap bound."""

from __future__ import annotations

import pytest

from model import trb_model as m
from model.builders import BUILTIN_SCENARIOS
from model.explorer import explore
from model.scenario import FatalCode
from model.trb_model import TrbModel
from properties.smt import core, deadlock
from properties.smt.replay import simulate_ring_heap

pytestmark = pytest.mark.smt

SMALL_SHAPE = [[1024, 3072], [1024, 3072], [2048]]


def _fatal_codes(result: object) -> set[int]:
    return {v.path[-1].state[m.S_FATAL] for v in result.violations}  # type: ignore[attr-defined]


def test_scope_check_implies_window_check_for_every_window() -> None:
    assert core.run_query(deadlock.window_vc()).status == "unsat"


def test_minimal_window_of_paged_attention_and_half_of_it_deadlocks() -> None:
    scenario = BUILTIN_SCENARIOS["pa_two_blocks"]()
    w, most = deadlock.minimal_window(scenario, 2)
    assert (w, most) == (8, 3)
    half = BUILTIN_SCENARIOS["pa_scope_deadlock"]()
    assert half.config.task_window[2] == w // 2
    result = explore(TrbModel(half))
    assert _fatal_codes(result) == set() or _fatal_codes(result) == {int(FatalCode.SCOPE_DEADLOCK)}
    # the expected outcome of pa_scope_deadlock is SCOPE_DEADLOCK, so a clean run reached it
    assert not result.violations and half.expected.fatal is FatalCode.SCOPE_DEADLOCK


def test_minimal_heap_of_paged_attention_ring2() -> None:
    scenario = BUILTIN_SCENARIOS["pa_two_blocks"]()
    tasks = deadlock.ring_tasks(scenario, 2)
    bound = deadlock.minimal_heap(tasks, scenario.config.task_window[2])
    assert bound.minimal == 6144
    assert bound.spec_bound == 5120 + 3 * 3072 and bound.spec_bound >= bound.minimal
    assert bound.schedule is not None and bound.schedule.heap == 6143
    assert simulate_ring_heap(tasks, bound.schedule.observed_la, 6143, 8).stuck == bound.schedule.stuck
    # the schedule needs la to reach the pin and no further: at H_min the model's allocator places it
    assert simulate_ring_heap(tasks, bound.schedule.observed_la, 6144, 8).stuck is None


@pytest.mark.slow  # the explorer on paged attention; test_explorer_agrees_on_both_sides... is its cheap version
def test_explorer_finds_the_heap_deadlock_one_below_the_bound_on_paged_attention() -> None:
    scenario = BUILTIN_SCENARIOS["pa_two_blocks"]().with_config(heap_bytes=(4096, 4096, 6143, 4096))
    result = explore(TrbModel(scenario))
    assert result.violations
    assert _fatal_codes(result) == {int(FatalCode.HEAP_RING_DEADLOCK)}


def test_explorer_agrees_on_both_sides_of_the_heap_bound() -> None:
    tasks = deadlock.ring_tasks(deadlock.shape_scenario(SMALL_SHAPE, 8, 8192), 1)
    bound = deadlock.minimal_heap(tasks, 8)
    below = explore(TrbModel(deadlock.shape_scenario(SMALL_SHAPE, 8, bound.minimal - 1)))
    assert below.complete and _fatal_codes(below) == {int(FatalCode.HEAP_RING_DEADLOCK)}
    at = explore(TrbModel(deadlock.shape_scenario(SMALL_SHAPE, 8, bound.minimal)))
    assert at.complete and not at.violations


def test_spec_h4_overclaims_a_wasted_end_fragment_is_not_usable() -> None:
    """INV-H4 says a request blocks only when no contiguous gap larger than it exists. With H = 10, live
    [6,8) then a wrap to [0,3) and [3,5), the end fragment [8,10) is free yet a 1-byte request is refused
    (tail - top = 1 is not > 1): the allocator only ever uses the arc [top, tail)."""
    ring = m._set(m._set(m.EMPTY_RING, m.R_TOP, 5), m.R_TAIL, 6)
    assert m._try_bump_heap(ring, 1, 10, 9) is None
