"""Concrete model steps fed through the heap encoding: the successors must agree."""

from __future__ import annotations

import pytest

from model.builders import BUILTIN_SCENARIOS
from properties.smt.heap import heap_system
from properties.smt.replay import differential_heap, heap_scenario

pytestmark = pytest.mark.smt


def _stress() -> object:
    """Ring-1 tasks of mixed sizes in a small heap: wraps, exact-fit gaps and rebases all occur."""
    return heap_scenario([1024, 3072, 2048, 0, 1024, 3072, 1024, 2048, 0, 3072, 1024], 4, 5120)


@pytest.mark.parametrize("seed", [1, 2])
def test_paged_attention_ring2_steps_agree(seed: int) -> None:
    res = differential_heap(BUILTIN_SCENARIOS["pa_two_blocks"](), 2, 250, seed)
    assert not res.mismatches, "\n".join(res.mismatches)
    assert res.allocs >= 4 and res.advances >= 1


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_heap_stress_steps_agree(seed: int) -> None:
    res = differential_heap(_stress(), 1, 300, seed)  # type: ignore[arg-type]
    assert not res.mismatches, "\n".join(res.mismatches)
    assert res.allocs >= 8 and res.advances >= 2


def test_the_differential_catches_a_wrong_encoding() -> None:
    """The same walk through the non-strict-gap mutant of the encoding disagrees with the model."""
    mismatches = []
    for seed in range(3, 12):
        res = differential_heap(_stress(), 1, 300, seed, heap_system("M_HEAP_GAP_NONSTRICT"))  # type: ignore[arg-type]
        mismatches += res.mismatches
        res = differential_heap(_stress(), 1, 300, seed, heap_system("M_HEAP_TAIL_ABSOLUTE"))  # type: ignore[arg-type]
        mismatches += res.mismatches
        if mismatches:
            break
    assert mismatches
