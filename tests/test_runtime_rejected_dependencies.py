"""Explicit dependencies the scenario format accepts although no well-formed program has them (issue 2): an
explicit self-dependency and a dependency on a task submitted later. At the pinned commit the C++ checks
only `TaskId::is_valid` (submit_task, STEP 1); append_fanin_or_fail then decides the edge:
* a self-dependency finds the consumer's own slot bound to it and claims it, so the task waits for
  itself until the scheduler's timeout latches SCHEDULER_TIMEOUT;
* a later task's id is not bound to its slot yet ("gone"), so no edge is wired and the program runs as
  if the dependency were absent.
The reference model, the port and the port's property checks must agree on both."""

from __future__ import annotations

from dataclasses import replace

import pytest

from model.explorer import explore
from model.scenario import (
    Config,
    DepKind,
    Expected,
    ExplicitDep,
    FatalCode,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    Submit,
    validate,
)
from model.trb_model import TrbModel
from properties.data_oracle import any_data_observers, data_system
from properties.port_checks import port_observers
from properties.refinement import check_refinement
from runtime.execution import DONE, RandomScheduler
from runtime.search import SearchBounds, search
from runtime.trb import TrbSystem

AIV, AIC = (-1, 1, -1), (0, -1, -1)
CONFIG = Config(scheduler_threads=2, clusters=1)


COMPLETE = Expected()


def _scenario(name: str, program: tuple[object, ...], expected: Expected = COMPLETE, runs: int = 1) -> Scenario:
    return validate(Scenario(name, CONFIG, (), program, expected=expected, runs=runs))  # type: ignore[arg-type]


SELF = _scenario("self_dependency", (Submit("A", AIV, deps=(ExplicitDep("A"),)),),
                 Expected(fatal=FatalCode.SCHEDULER_TIMEOUT))
FUTURE = _scenario("future_dependency", (Submit("A", AIV, deps=(ExplicitDep("B"),)), Submit("B", AIC)))
# the later producer on another ring, WAIT-only, and a second run on the same shared memory (the slot then
# still holds run 0's consumed descriptor of B)
FUTURE_CROSS_RING = _scenario(
    "future_dependency_cross_ring",
    (ScopeBegin(), Submit("A", AIV, deps=(ExplicitDep("B", DepKind.WAIT),)), ScopeEnd(), Submit("B", AIC)),
    runs=2,
)


@pytest.mark.parametrize("scenario", [SELF, FUTURE, FUTURE_CROSS_RING], ids=lambda s: s.name)
def test_the_model_reaches_the_expected_outcome_on_every_run(scenario: Scenario) -> None:
    result = explore(TrbModel(scenario))
    assert result.complete and not result.violations, result.verdict()


@pytest.mark.parametrize("scenario", [SELF, FUTURE, FUTURE_CROSS_RING], ids=lambda s: s.name)
def test_the_port_and_its_checks_agree(scenario: Scenario) -> None:
    """Random and PCT runs of the port reach the expected outcome with every per-step and end-of-run
    property on (before the port checks ignored a later producer, `dispatch_after_producers` flagged a
    dependency the runtime never wires)."""
    for engine in ("random", "pct"):
        report = search(lambda: TrbSystem(scenario), engine, seed=1, bounds=SearchBounds(runs=15, max_steps=20_000),
                        observers=port_observers())
        assert report.ok, report.lines()


def test_a_later_producer_is_not_waited_for_and_the_data_still_matches() -> None:
    scenario = replace(FUTURE, name="future_dependency_data")
    report = search(lambda: data_system(scenario), "random", seed=2, bounds=SearchBounds(runs=10, max_steps=20_000),
                    observers=any_data_observers())
    assert report.ok, report.lines()


@pytest.mark.parametrize("scenario", [SELF, FUTURE, FUTURE_CROSS_RING], ids=lambda s: s.name)
def test_the_port_refines_the_model(scenario: Scenario) -> None:
    """The model decides the claim as the port does: before the model treated a never-prepared slot of the
    first boot as holding descriptor id 0, so a later producer with local id 0 on another ring was claimed
    (the consumer then waited for ever) while the port, like the C++, found its null task pointer gone."""
    for seed in range(6):
        scheduler = RandomScheduler(seed)
        scheduler.new_execution()
        report, result = check_refinement(TrbSystem(scenario), scheduler, max_steps=20_000)
        assert report.failure is None, (seed, report.summary(), report.failure)
        assert result.outcome == DONE
