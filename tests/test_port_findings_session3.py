"""Two findings about the real runtime that the step-level port reports (registered in properties/findings.py),
as strict expected failures of the properties they break, plus the scoping that keeps a broad signature from
hiding other failures."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from fuzz.campaigns.known import KNOWN, NEW, classify
from model.scenario import Constants, load_scenario
from properties.artifacts import Signature, load_artifact
from properties.port_checks import port_observers
from runtime.search import SearchBounds, search
from runtime.trb import TrbSystem

CORPUS = Path(__file__).resolve().parent / "regressions"
TRB = "tensormap_and_ringbuffer"


def _clean(path: Path, engine: str = "random", runs: int = 20) -> bool:
    scenario = load_artifact(path).scenario
    report = search(
        lambda: TrbSystem(scenario), engine, seed=3, bounds=SearchBounds(runs=runs, max_steps=20_000),
        observers=port_observers(),
    )
    return report.ok


@pytest.mark.xfail(
    strict=True,
    reason="finding F-PORT-EMPTY-PROGRAM-HANG (properties/findings.py): handle_orchestrator_exit leaves the "
    "scheduler loop only when task_count > 0, and the watchdog needs total_tasks_ > 0",
)
def test_a_program_with_no_task_terminates() -> None:
    assert _clean(CORPUS / "empty_program_hang.json")


@pytest.mark.xfail(
    strict=True,
    reason="finding F-PORT-DEFER-OVERFLOW (properties/findings.py): the Phase 3 dummy drain of "
    "resolve_and_dispatch appends to a full deferred-release buffer before it checks the capacity",
)
def test_the_deferred_release_buffer_never_overflows() -> None:
    assert _clean(CORPUS / "deferred_release_overflow.json")


def test_the_overflow_needs_a_full_buffer() -> None:
    """Not vacuous in the other direction: with room for both entries (capacity 2) the same program is clean."""
    artifact = load_artifact(CORPUS / "deferred_release_overflow.json")
    roomy = artifact.scenario.with_config(constants=replace(artifact.scenario.config.constants, deferred_release_capacity=2))
    report = search(
        lambda: TrbSystem(roomy), "random", seed=3, bounds=SearchBounds(runs=20, max_steps=20_000),
        observers=port_observers(),
    )
    assert report.ok, "\n".join(report.lines())
    assert Constants().deferred_release_capacity == 256  # the C++ PTO2_DEFERRED_RELEASE_CAP the artifact scales


def test_the_empty_program_finding_does_not_cover_other_deadlocks() -> None:
    """Its signature (run.deadlock in resolve_and_dispatch) is broad: it is known only for a program with no
    task, so a deadlock of the same shape on a real program stays a new failure."""
    signature = Signature(TRB, "run.deadlock", "SchedulerContext::resolve_and_dispatch")
    empty = load_artifact(CORPUS / "empty_program_hang.json").scenario
    busy = load_scenario(CORPUS / "multirun_stale_cond.json")
    assert classify(signature, (), empty) == (KNOWN, "F-PORT-EMPTY-PROGRAM-HANG")
    assert classify(signature, (), busy) == (NEW, None)
    assert classify(signature, ()) == (NEW, None)


def test_the_overflow_finding_matches_whichever_step_follows_the_store() -> None:
    for function in ("on_task_complete", "route_ready_once", "pop_batch_tagged"):
        signature = Signature(TRB, "deferred_release_in_bounds", function)
        assert classify(signature, ()) == (KNOWN, "F-PORT-DEFER-OVERFLOW")
    # with a mutant on, the registered signature is still the finding, never credited to the mutant
    assert classify(Signature(TRB, "deferred_release_in_bounds", "x"), ("M_LOOKUP_CAP",)) == (KNOWN, "F-PORT-DEFER-OVERFLOW")


def test_a_finding_named_by_another_layers_property_is_still_that_finding() -> None:
    """F-PORT-LA-UNPREPARED: the per-step port check names it consumed_prefix at the advance, the end-of-run
    judgement run.task_not_consumed; consumed_prefix blamed elsewhere stays new."""
    assert classify(Signature(TRB, "consumed_prefix", "advance_ring_pointers"), ()) == (KNOWN, "F-PORT-LA-UNPREPARED")
    assert classify(Signature(TRB, "consumed_prefix", "SchedulerContext::dispatch_shape"), ()) == (NEW, None)


def test_an_empty_program_hangs_whichever_wait_is_blamed() -> None:
    empty = load_artifact(CORPUS / "empty_program_hang.json").scenario
    signature = Signature(TRB, "run.deadlock", "AicpuExecutor::init")
    assert classify(signature, (), empty) == (KNOWN, "F-PORT-EMPTY-PROGRAM-HANG")
    assert classify(signature, (), load_scenario(CORPUS / "multirun_stale_cond.json")) == (NEW, None)
