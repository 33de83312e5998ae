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
from properties.artifacts import Artifact, Signature
from properties.findings import matching_finding
from properties.replay import PORT_RUNTIME, RUN_UNEXPECTED_FATAL, port_system, run_port_system
from runtime.core import System
from runtime.dfs import FailedExecution
from runtime.execution import ReplayScheduler, encode_schedule, run_once
from runtime.search import SearchReport

NEW, KNOWN, MUTANT = "new", "known", "mutant"


def classify(
    signature: Signature,
    mutants: tuple[str, ...] | list[str],
    scenario: Scenario | None = None,
    artifact: Artifact | None = None,
) -> tuple[str, str | None]:
    """("known", finding id), ("mutant", None) or ("new", None). A failure with a registered finding's
    signature is that finding even with mutants on: the unmutated port fails that way too, so it is no
    evidence that the mutant was found (a mutant is credited only with a failure of its own). With the
    failing run's `artifact`, findings that share a signature are told apart by their mechanism."""
    f = matching_finding(signature, scenario=scenario, artifact=artifact)
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


def fatal_signature(scenario: Scenario, failure: FailedExecution) -> Signature | None:
    """For a tensormap_and_ringbuffer run that ended with a fatal the scenario does not expect: the signature
    the strict end-of-run judgement gives it (`run.unexpected_fatal.<CODE>`, blamed on the step that latched
    the code), which is how campaigns and the findings registry name such runs. A search's observers report
    the same run by a consequence instead (a task never completed, the outcome not reached), blamed on the
    host's last step. None for other runtimes, step failures, and runs without such a fatal."""
    if scenario.runtime != PORT_RUNTIME or failure.step < len(failure.schedule):
        return None
    system = port_system(scenario, (), ())
    scheduler = ReplayScheduler(failure.schedule, system.thread_names())
    scheduler.new_execution()
    verdict = run_port_system(system, scheduler, max_steps=len(failure.schedule)).verdict
    if verdict.property_id is None or not verdict.property_id.startswith(RUN_UNEXPECTED_FATAL + "."):
        return None
    return Signature(scenario.runtime, verdict.property_id, verdict.cxx_function)


@dataclass(frozen=True)
class SearchFailureClass:
    """How an unmutated search's failure is classified, and by which signature."""

    kind: str  # KNOWN or NEW
    finding: str | None
    function: str  # the C++ function of the step the search blamed
    by_fatal: Signature | None = None  # set when the unexpected fatal's signature matched, not the failure's own


def _search_artifact(scenario: Scenario, failure: FailedExecution) -> Artifact | None:
    """The failing run as a port-run artifact (for mechanism checks), on the runtimes that have them."""
    if scenario.runtime != PORT_RUNTIME:
        return None
    return Artifact(
        kind="port-run", scenario=scenario, signature=Signature(scenario.runtime, failure.property_id, ""),
        message=failure.message, engine="search", seed=failure.seed, bounds="", command="",
        schedule=encode_schedule(failure.schedule), failing_step=failure.step,
    )


def classify_search_failure(
    scenario: Scenario, factory: Callable[[], System], failure: FailedExecution
) -> SearchFailureClass:
    """Classify by the failure's own signature, else, when the run ended in an unexpected fatal, by the
    fatal's (`fatal_signature`)."""
    function = blamed_function(factory, failure)
    run = _search_artifact(scenario, failure)
    kind, finding = classify(Signature(scenario.runtime, failure.property_id, function), (), scenario, run)
    if kind != KNOWN:
        fatal = fatal_signature(scenario, failure)
        if fatal is not None:
            fatal_kind, fatal_finding = classify(fatal, (), scenario, run)
            if fatal_kind == KNOWN:
                return SearchFailureClass(KNOWN, fatal_finding, function, fatal)
    return SearchFailureClass(KNOWN if kind == KNOWN else NEW, finding, function)


def unregistered_failures(
    scenario: Scenario, factory: Callable[[], System], failures: Sequence[FailedExecution]
) -> list[str]:
    """The failures of a search over the unmutated port that match no registered finding, as report lines:
    what a random test over the clean port asserts to be empty (registered findings stay reported, never
    hidden by an xfail over the whole test)."""
    out = []
    for failure in failures:
        found = classify_search_failure(scenario, factory, failure)
        if found.kind != KNOWN:
            out.append(f"{failure.line()} [in {found.function}]")
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
