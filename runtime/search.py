"""One entry point for every schedule-search engine: `search(system_factory, engine_name, ...)`.

Engines: "dfs" (exhaustive, preemption-bounded, sleep sets; see runtime.dfs), "pct" (runtime.pct),
"random" and "round-robin" (runtime.execution). Every engine returns a `SearchReport`: the engine and
its seed, the bounds text ("complete" only from an exhaustive search that nothing cut), the number of
executions, the failing executions with replayable schedules, and the lines to print (for PCT, its
probability bound for the run). The CLI prints `report.lines()`; a failure makes `report.ok` false.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from model.errors import PtocheckError
from runtime.core import Observer, System
from runtime.dfs import (
    DEADLOCK_PROPERTY,
    STEP_LIMIT_PROPERTY,
    DfsEngine,
    DfsResult,
    FailedExecution,
    ObserverSource,
    SystemFactory,
)
from runtime.execution import (
    DEADLOCK,
    DONE,
    FAILURE,
    STEP_LIMIT,
    RandomScheduler,
    RoundRobinScheduler,
    RunResult,
    Scheduler,
    run_once,
)
from runtime.pct import PCTScheduler

ENGINES = ("dfs", "pct", "random", "round-robin")


@dataclass(frozen=True)
class SearchBounds:
    """The budget of a search. `runs` is for the randomised engines; `preemptions` for DFS (None: no
    bound); `pct_depth` / `pct_steps` for PCT (None: k from a round-robin calibration run)."""

    preemptions: int | None = 2
    runs: int = 100
    max_steps: int = 100_000
    max_seconds: float | None = None
    max_states: int | None = None
    pct_depth: int = 3
    pct_steps: int | None = None
    stop_at_first_failure: bool = True
    por: bool = True
    stateful: bool = True
    iterative: bool = True  # DFS: bounds 0..preemptions in turn, so a cut run certifies the ones it finished


@dataclass(frozen=True)
class SearchReport:
    """The outcome of one search, whatever the engine."""

    engine: str
    seed: int
    bounds_text: str
    executions: int
    failures: tuple[FailedExecution, ...]
    seconds: float
    notes: tuple[str, ...] = ()
    dfs: DfsResult | None = None
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    def verdict(self) -> str:
        if self.failures:
            first = self.failures[0]
            return f"violation: {first.property_id} ({first.outcome}) at step {first.step}"
        if self.bounds_text == "complete":
            return f"complete: no violation ({self.executions} executions)"
        return f"no violation within {self.bounds_text}"

    def lines(self) -> list[str]:
        out = [f"engine {self.engine}, seed {self.seed}: {self.verdict()}"]
        out += list(self.notes)
        out += [f"  {failure.line()}" for failure in self.failures]
        return out


def _observers_for(source: ObserverSource, system: System) -> Sequence[Observer]:
    return source(system) if callable(source) else source


def _failure_of(result: RunResult, seed: int | None) -> FailedExecution | None:
    if result.outcome == DONE:
        return None
    if result.outcome == FAILURE and result.failure is not None:
        prop, message, step = result.failure.property_id, result.failure.message, result.failure.step
    elif result.outcome == DEADLOCK:
        unfinished = sum(1 for line in result.thread_states if not line.endswith(": finished"))
        why = result.work_left or f"no thread can run and {unfinished} thread(s) have not finished"
        prop, message, step = DEADLOCK_PROPERTY, why, result.steps
    elif result.outcome == STEP_LIMIT:
        prop, message, step = (
            STEP_LIMIT_PROPERTY,
            f"the run did not end within {result.steps} steps",
            result.steps,
        )
    else:
        prop, message, step = result.outcome, result.outcome, result.steps
    return FailedExecution(
        result.outcome, prop, message, step, tuple(result.schedule), tuple(result.thread_states), seed
    )


def _run_scheduler(
    factory: SystemFactory,
    scheduler: Scheduler,
    observers: ObserverSource,
    bounds: SearchBounds,
) -> tuple[int, list[FailedExecution]]:
    executions = 0
    failures: list[FailedExecution] = []
    started = time.perf_counter()
    while scheduler.new_execution():
        system = factory()
        obs = _observers_for(observers, system)
        result = run_once(system, scheduler, obs, max_steps=bounds.max_steps, record_trace=False)
        executions += 1
        failure = _failure_of(result, getattr(scheduler, "run_seed", None))
        if failure is not None:
            failures.append(failure)
            if bounds.stop_at_first_failure:
                break
        if bounds.max_seconds is not None and time.perf_counter() - started > bounds.max_seconds:
            break
    return executions, failures


def search(
    system_factory: SystemFactory,
    engine_name: str,
    seed: int = 0,
    bounds: SearchBounds | None = None,
    observers: ObserverSource = (),
) -> SearchReport:
    """Search the interleavings of the Systems `system_factory` builds with one engine.

    Bad input (an unknown engine, impossible bounds) raises a PtocheckError naming it.
    """
    bounds = bounds or SearchBounds()
    started = time.perf_counter()
    if engine_name == "dfs":
        result = DfsEngine(
            system_factory,
            preemption_bound=bounds.preemptions,
            iterative=bounds.iterative,
            por=bounds.por,
            stateful=bounds.stateful,
            observers=observers,
            max_steps=bounds.max_steps,
            max_seconds=bounds.max_seconds,
            max_states=bounds.max_states,
            stop_at_first_failure=bounds.stop_at_first_failure,
        ).run()
        return SearchReport(
            "dfs",
            seed,
            result.bounds_text(),
            result.executions,
            result.failures,
            result.seconds,
            notes=(f"  {result.summary_line()}",),
            dfs=result,
        )
    if engine_name not in ENGINES:
        raise PtocheckError(
            f"unknown search engine {engine_name!r}", "search", f"choose one of: {', '.join(ENGINES)}"
        )
    if bounds.runs < 1:
        raise PtocheckError(
            f"runs must be >= 1, got {bounds.runs}", "search", "pass a positive number of runs"
        )
    scheduler: Scheduler
    notes: list[str] = []
    if engine_name == "pct":
        steps, threads = bounds.pct_steps, 0
        if steps is None:
            calibration = RoundRobinScheduler()
            calibration.new_execution()
            probe = run_once(system_factory(), calibration, max_steps=bounds.max_steps, record_trace=False)
            steps, threads = max(probe.steps, 1), len(probe.thread_names)
        pct = PCTScheduler(seed, bounds.pct_depth, bounds.runs, steps, threads)
        scheduler = pct
    elif engine_name == "random":
        scheduler = RandomScheduler(seed, bounds.runs)
    else:
        scheduler = RoundRobinScheduler()
    executions, failures = _run_scheduler(system_factory, scheduler, observers, bounds)
    if engine_name == "pct":
        notes.append(f"  {pct.bound_text()}")
    runs_text = f"runs={executions}" if engine_name != "round-robin" else "runs=1"
    seconds = time.perf_counter() - started
    return SearchReport(
        engine_name,
        seed,
        f"bounded({runs_text}, max_steps={bounds.max_steps}, seconds={seconds:.1f})",
        executions,
        tuple(failures),
        seconds,
        notes=tuple(notes),
    )
