"""The Z3 proof table (properties/smt), system by system: every row is what the suite expects."""

from __future__ import annotations

import inspect

import pytest
import z3  # type: ignore[import-untyped]

from properties.findings import SMT_FINDINGS
from properties.smt import core, suite
from properties.smt.vcs import COUNTEREXAMPLE, PROVED, UNKNOWN, WITNESSED, enumerate_vcs, run_vc

pytestmark = pytest.mark.smt

SYSTEMS = [s.name for s, _ in suite.proof_systems()]
FINDING_IDS = {f.ident for f in SMT_FINDINGS}


@pytest.mark.parametrize("name", SYSTEMS)
def test_every_check_is_as_expected(name: str) -> None:
    rows = list(suite.proof_rows(suite.Options(sections=("proof",), systems=(name,))))
    bad = [f"{r.invariant} / {r.method}: {r.result} {r.detail}" for r in rows if not r.ok]
    assert not bad, "\n".join(bad)
    proved = [r for r in rows if r.result == PROVED]
    assert len(proved) >= 10
    for r in rows:
        if r.result == COUNTEREXAMPLE:  # only registered findings may be counterexamples here
            assert r.expect.finding in FINDING_IDS
            assert r.counterexample is not None and r.counterexample.pre


@pytest.mark.parametrize("name", [s.name for s in suite.sanity_systems()])
def test_no_vacuous_step_and_no_restated_lemma(name: str) -> None:
    opts = suite.Options(sections=("sanity",), systems=(name, "ready-queue") if name == "ready-queue-cap4" else (name,))
    rows = [r for r in suite.sanity_rows(opts) if r.system == name]
    assert rows
    bad = [f"{r.invariant}: {r.result} {r.detail}" for r in rows if not r.ok]
    assert not bad, "\n".join(bad)
    assert sum(r.result == WITNESSED for r in rows) >= len(rows) - 1


def test_limits_are_counterexamples_registered_as_findings() -> None:
    rows = list(suite.limit_rows(suite.Options()))
    assert len(rows) == len(suite.LIMITS)
    for r in rows:
        assert r.result == COUNTEREXAMPLE and r.ok, r.invariant
        assert r.expect.finding in FINDING_IDS


def test_an_exhausted_resource_limit_is_unknown_and_fails() -> None:
    from properties.smt.heap import heap_system

    vc = next(v for v in enumerate_vcs(heap_system()) if v.goal == "buffers_on_live_arc" and v.action == "alloc")
    row = run_vc(vc, rlimit=2000)
    assert row.result == UNKNOWN
    assert not row.ok


def test_the_budget_is_rlimit_units_per_check_not_wall_clock() -> None:
    """Each check gets its own `rlimit` budget (z3's resource counter is global to the process; the
    limit counts from where the check starts) and no wall-clock timeout: a third of one check's usage
    is Unknown, three times it is enough even after the counter has moved far past that."""
    from properties.smt.ready_queue import queue_system

    vc = next(v for v in enumerate_vcs(queue_system()) if v.goal == "sequence" and v.action == "pop_release")
    used = [run_vc(vc) for _ in range(4)]
    assert all(r.result == PROVED for r in used)
    units = max(r.rlimit for r in used)
    assert 0 < units < core.DEFAULT_RLIMIT
    assert run_vc(vc, rlimit=units // 3).result == UNKNOWN
    assert run_vc(vc, rlimit=3 * units).result == PROVED
    solver_params = inspect.getsource(core.run_query) + inspect.getsource(core.bmc_witness)
    assert "rlimit" in solver_params and "timeout" not in solver_params


def test_an_arithmetic_lemma_is_checked_not_assumed() -> None:
    """A lemma is a check of its own: a false one (the pop leaving every slot's q unchanged, the popped
    slot included) is refuted."""
    import dataclasses

    from properties.smt.ready_queue import queue_system

    system = queue_system(capacity=4)
    lemma = system.lemmas[0]
    wrong = dataclasses.replace(lemma, name="pop_moves_no_slot", body=lambda c, e, d, k: z3.Implies(
        z3.ULE(k, 3), d + 1 + ((k - d - 1) & 3) == d + ((k - d) & 3)))
    system = dataclasses.replace(system, lemmas=(wrong,))
    row = run_vc(next(v for v in enumerate_vcs(system) if v.goal == "pop_moves_no_slot"))
    assert row.result == COUNTEREXAMPLE


def test_a_wrong_invariant_is_refuted() -> None:
    """The engine can fail: an invariant that is false (window bound one too tight) gets a counterexample."""
    import dataclasses

    from properties.smt.core import Invariant
    from properties.smt.window import window_system

    system = window_system("model")
    tight = Invariant("too_tight", "-", "cur - la <= W - 2", lambda s, c: s["cur"] - s["la"] <= c["W"] - 2)
    system = dataclasses.replace(system, invariants=(*system.invariants, tight))
    vc = next(v for v in enumerate_vcs(system) if v.goal == "too_tight" and v.action == "commit")
    row = run_vc(vc)
    assert row.result == COUNTEREXAMPLE
    ce = row.counterexample
    assert ce is not None and ce.post is not None
    assert ce.post["cur"] - ce.post["la"] == ce.consts["W"] - 1
