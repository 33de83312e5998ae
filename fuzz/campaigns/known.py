"""Is a failure already known? Registered findings about the real runtime, and planted mutants.

A failure found with mutants switched on is about the mutants ("mutant"). Otherwise it matches a
registered finding of properties.findings when the runtime and property are the same and the blamed
C++ function is one of the finding's functions ("known"); anything else is "new", and a campaign that
reports a new failure fails. Function names are compared without their class qualifier and the file
note in parentheses, so `PTO2SchedulerState::check_and_handle_consumed (SCHED/pto_scheduler.h)` and
the port's `check_and_handle_consumed` name the same function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from model.scenario import Scenario
from properties.artifacts import Signature
from properties.findings import matching_finding
from runtime.core import System
from runtime.dfs import FailedExecution
from runtime.execution import ReplayScheduler, run_once
from runtime.search import SearchReport

NEW, KNOWN, MUTANT = "new", "known", "mutant"


def classify(
    signature: Signature, mutants: tuple[str, ...] | list[str], scenario: Scenario | None = None
) -> tuple[str, str | None]:
    """("known", finding id), ("mutant", None) or ("new", None). A failure with a registered finding's
    signature is that finding even with mutants on: the unmutated port fails that way too, so it is no
    evidence that the mutant was found (a mutant is credited only with a failure of its own)."""
    f = matching_finding(signature, scenario=scenario)
    if f is not None:
        return KNOWN, f.ident
    return (MUTANT, None) if mutants else (NEW, None)


def blamed_function(factory: Callable[[], System], failure: FailedExecution) -> str:
    """The C++ function of the step at which a search's failure was detected (replaying its schedule)."""
    scheduler = ReplayScheduler(failure.schedule)
    scheduler.new_execution()
    # exactly the recorded steps (an end-of-run failure's schedule is the whole run; a step failure's ends
    # at the failing step): replaying one more would leave the recorded schedule
    result = run_once(factory(), scheduler, max_steps=len(failure.schedule))
    if not result.trace:
        return ""
    return result.trace[min(failure.step, len(result.trace) - 1)].op.cite.function


def unregistered_failures(
    scenario: Scenario, factory: Callable[[], System], failures: Sequence[FailedExecution]
) -> list[str]:
    """The failures of a search over the unmutated port that match no registered finding, as report lines:
    what a random test over the clean port asserts to be empty (registered findings stay reported, never
    hidden by an xfail over the whole test)."""
    out = []
    for failure in failures:
        signature = Signature(scenario.runtime, failure.property_id, blamed_function(factory, failure))
        if classify(signature, (), scenario)[0] != KNOWN:
            out.append(f"{failure.line()} [in {signature.cxx_function}]")
    return out


@dataclass(frozen=True)
class CleanPortSearch:
    """A whole-budget search of the unmutated TRB port: every failure (registered findings included, so they
    are reported) and the ones no registered finding explains."""

    report: SearchReport
    unregistered: list[str]

    def properties(self) -> set[str]:
        return {f.property_id for f in self.report.failures}


def search_clean_port(
    scenario: Scenario, engine: str, seed: int, runs: int, max_steps: int, preemptions: int = 2
) -> CleanPortSearch:
    """The unmutated port under `engine` with its per-step checks, never stopping at a failure (DFS: up to
    preemption bound `preemptions`)."""
    from properties.port_checks import port_observers
    from runtime.search import SearchBounds, search
    from runtime.trb import TrbSystem

    def factory() -> System:
        return TrbSystem(scenario)

    bounds = SearchBounds(runs=runs, max_steps=max_steps, stop_at_first_failure=False, preemptions=preemptions)
    report = search(factory, engine, seed, bounds, port_observers())
    return CleanPortSearch(report, unregistered_failures(scenario, factory, report.failures))
