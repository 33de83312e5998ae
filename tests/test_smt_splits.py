"""Case splits and premises of the Z3 checks (properties/smt/core.py): both can fail when misused, so a
split or a narrowed hypothesis set never turns a check into one that passes by construction."""

from __future__ import annotations

import dataclasses

import pytest

from properties.smt import core
from properties.smt.vcs import COUNTEREXAMPLE, PROVED, enumerate_vcs, run_vc
from properties.smt.window import window_system

pytestmark = pytest.mark.smt


def _with_invariant(system: core.System, inv: core.Invariant) -> core.System:
    return dataclasses.replace(system, invariants=tuple(inv if i.name == inv.name else i for i in system.invariants))


def test_a_split_check_has_every_case_and_a_coverage_check() -> None:
    system = window_system("model")
    vcs = [v for v in enumerate_vcs(system) if v.goal == "descriptor_generation" and v.action == "commit"]
    methods = [v.method for v in vcs]
    assert methods == [
        "induction: commit [case id below]",
        "induction: commit [case id at]",
        "induction: commit [case id above]",
        "induction: commit [the 3 cases cover every state]",
    ]
    assert all(v.expect.result == PROVED for v in vcs)


def test_cases_that_miss_a_state_fail_the_coverage_check() -> None:
    """Dropping the middle case of the trichotomy leaves x == cur uncovered: the coverage check refutes it."""
    system = window_system("model")
    inv = system.invariant("descriptor_generation")
    below, _, above = core.order_cases("id", lambda s, p, c: s["cur"])
    system = _with_invariant(system, dataclasses.replace(inv, cases=(("commit", (below, above)),)))
    cover = next(v for v in enumerate_vcs(system) if v.goal == inv.name and v.kind == "cover")
    row = run_vc(cover)
    assert row.result == COUNTEREXAMPLE
    ce = row.counterexample
    assert ce is not None and (int(ce.bound["x_0"]) - int(ce.pre["cur"])) % 2**32 == 0  # bound ids decode unsigned


def test_a_case_is_checked_under_its_condition_only() -> None:
    """A case whose condition is unsatisfiable proves nothing new but cannot hide a bad state either: the
    split of a false invariant still refutes it in the case that contains the bad state."""
    system = window_system("model")
    inv = system.invariant("window_bound")
    tight = dataclasses.replace(
        inv,
        name="too_tight",
        body=lambda s, c: s["cur"] - s["la"] <= c["W"] - 2,
        cases=(("commit", (("la zero", lambda s, p, c: s["la"] == 0), ("la positive", lambda s, p, c: s["la"] != 0))),),
    )
    system = dataclasses.replace(system, invariants=(*system.invariants, tight))
    rows = [run_vc(v) for v in enumerate_vcs(system) if v.goal == "too_tight" and v.action == "commit"]
    assert any(r.result == COUNTEREXAMPLE for r in rows)


def test_premises_too_few_to_prove_the_goal_give_a_counterexample() -> None:
    """live_slots_distinct follows from window_bound; assuming nothing it does not (premises are real
    hypotheses, never a shortcut)."""
    system = window_system("model")
    goal = system.invariant("live_slots_distinct")
    assert goal.premises == ("window_bound",)
    assert run_vc(next(v for v in enumerate_vcs(system) if v.goal == goal.name)).result == PROVED
    bare = _with_invariant(system, dataclasses.replace(goal, premises=()))
    assert run_vc(next(v for v in enumerate_vcs(bare) if v.goal == goal.name)).result == COUNTEREXAMPLE
