"""The port refines the reference model (properties/refinement.py): clean runs pass under several
schedulers, the check is not vacuous, and it alone (no invariant observer) catches mutants."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from model.builders import BUILTIN_SCENARIOS
from model.scenario import Scenario, Tag
from properties.port_checks import cross_ring_same_local, exact_fit_heap, retain_pairs, tiled_writers
from properties.refinement import (
    PROPERTY,
    RefinementMutantRow,
    RefinementReport,
    check_refinement,
    format_mutant_table,
)
from runtime.execution import DONE, RandomScheduler, RoundRobinScheduler, Scheduler
from runtime.pct import PCTScheduler
from runtime.trb import TrbSystem


def _scheduler(kind: str, seed: int) -> Scheduler:
    sched: Scheduler
    if kind == "round-robin":
        sched = RoundRobinScheduler()
    elif kind == "random":
        sched = RandomScheduler(seed)
    else:
        sched = PCTScheduler(seed, depth=3, steps_estimate=600)
    sched.new_execution()
    return sched


def _check(scenario: Scenario, kind: str, seed: int, mutants: frozenset[str] = frozenset()) -> tuple[RefinementReport, str]:
    report, result = check_refinement(TrbSystem(scenario, mutants), _scheduler(kind, seed), max_steps=20_000)
    return report, result.outcome


def test_pa_two_blocks_refinement_is_not_vacuous() -> None:
    report, outcome = _check(BUILTIN_SCENARIOS["pa_two_blocks"](), "round-robin", 0)
    assert report.failure is None, report.failure
    assert outcome == DONE
    # every kind of model action this run uses is matched by some port step
    for kind in ("orch:start", "orch:claim", "orch:scope_end", "orch:alloc_tensors", "dispatch", "complete",
                 "release", "advance"):
        assert report.by_kind.get(kind, 0) >= 1, (kind, report.summary())
    assert report.non_stutter >= 40, report.summary()
    assert report.stutters > report.non_stutter  # most port steps are bookkeeping the model does not see


CLEAN_RUNS = [
    (name, kind, seed)
    for name in ("pa_two_blocks", "vector_example", "dummy_explicit_barrier", "pa_scope_deadlock", "pa_case_small1")
    for kind, seed in (("round-robin", 0), ("random", 1), ("random", 2), ("pct", 1))
]


@pytest.mark.parametrize(("name", "kind", "seed"), CLEAN_RUNS)
def test_clean_runs_refine_the_model(name: str, kind: str, seed: int) -> None:
    report, _outcome = _check(BUILTIN_SCENARIOS[name](), kind, seed)
    assert report.failure is None, report.failure
    assert report.non_stutter > 0


# (mutant, scenario, random seed): refinement alone fails with the mutant, and the clean port refines the
# model under the same seed (so the failure is the mutant's, not a registered finding's)
REFINEMENT_MUTANTS: list[tuple[str, Callable[[], Scenario], int]] = [
    ("M_COMPLETION_FLAG_NO_GENERATION", lambda: retain_pairs(3), 1),
    ("M_TOKEN_FROM_LOCAL_ID", lambda: cross_ring_same_local(1, (-1, 1, -1), "cross_ring_tokens_aiv"), 1),
    ("M_LOOKUP_CAP", lambda: tiled_writers(2, 1, Tag.INOUT, "tiled_inout_writers"), 1),
    ("M_HEAP_GAP_NONSTRICT", lambda: exact_fit_heap((2, 2, 1, 1, 2), 1, "exact_fit_heap"), 1),
]


@pytest.mark.parametrize(("mutant", "make", "seed"), REFINEMENT_MUTANTS, ids=[m[0] for m in REFINEMENT_MUTANTS])
def test_refinement_alone_catches_mutant(mutant: str, make: Callable[[], Scenario], seed: int) -> None:
    scenario = make()
    clean, _ = _check(scenario, "random", seed)
    assert clean.failure is None, clean.failure
    report, _ = _check(scenario, "random", seed, frozenset({mutant}))
    assert report.failure is not None and report.failure.property_id == PROPERTY, report.summary()
    assert "maps to no model action" in report.failure.message


@pytest.mark.xfail(strict=True, reason="F-MODEL-R7: a deferred on_task_release runs on a rebound slot")
def test_refinement_sees_finding_f_model_r7() -> None:
    # random seed 13 flushes X0's deferred release after X0 was consumed, reclaimed and its slot rebound to
    # X2: the self check lands on X2 (the port records a release-rebound event), which no model action does
    report, _ = _check(retain_pairs(4, 1, "retain_pairs_1sched"), "random", 13)
    assert report.failure is None, report.failure


def test_mutant_table_lists_caught_and_missed() -> None:
    rows = [
        RefinementMutantRow("M_X", "scen", 3, 41, "step 42 (orch: ...) maps to no model action"),
        RefinementMutantRow("M_Y", "", -1, 0, "liveness"),
    ]
    text = format_mutant_table(rows)
    assert "yes: scen seed 3" in text and "step 42" in text
    assert "M_Y" in text and "liveness" in text


def _aiv_only_mix() -> Scenario:
    from model.scenario import Arg as A
    from model.scenario import Config, OutputSpec, Submit, validate

    cfg = Config(task_window=(8, 8, 8, 8), heap_bytes=(4096,) * 4, dep_pool=(16,) * 4, scheduler_threads=1, clusters=1)
    prog = (Submit("A", (1, -1, -1), (A(Tag.OUTPUT, creates=OutputSpec("a", (16,), "FLOAT32")),)),
            Submit("M", (-1, 1, 1), (A(Tag.OUTPUT, creates=OutputSpec("m", (16,), "FLOAT32")),)))
    return validate(Scenario("aiv_only_mix", cfg, (), prog))


@pytest.mark.xfail(strict=True, reason=(
    "model limitation L-MODEL-MIX-AIV-ONLY (properties/findings.py): the model dispatches a MIX block only with a "
    "free AIC core even when the block has no AIC subtask; the port (classify_mix_cluster) starts an "
    "AIV0+AIV1 block while the cluster's AIC runs another task"))
def test_refinement_sees_aiv_only_mix_dispatch_next_to_busy_aic() -> None:
    report, _ = _check(_aiv_only_mix(), "random", 22)
    assert report.failure is None, report.failure


def test_refine_command(capsys: pytest.CaptureFixture[str]) -> None:
    from fuzz.cli import main

    assert main(["refine", "vector_example", "--scheduler", "round-robin"]) == 0
    out = capsys.readouterr().out
    assert "refines the model" in out and "non-stutter" in out and "schedule: ptosched1:" in out
    assert main(["refine", "dummy_long_chain", "--mutant", "M_COMPLETION_FLAG_NO_GENERATION", "--seed", "1"]) in (0, 1)
    assert main(["refine", "no_such_scenario"]) == 2
    assert "no built-in scenario" in capsys.readouterr().err


@pytest.mark.xfail(strict=True, reason=(
    "model limitation L-MODEL-PENDING-SLOT (properties/findings.py): a core starts its pending-slot task as soon as "
    "it finished the running one, and the scheduler may process the newer completion first; the model holds a "
    "core from the block's start until its completion is processed, so it cannot complete the newer task"))
def test_refinement_sees_pending_slot_completion_before_running_one() -> None:
    from properties.port_checks import late_readers

    report, _ = _check(late_readers(3, 1, 1, "late_readers_defer1"), "random", 6)
    assert report.failure is None, report.failure
