"""The aicpu_build_graph step-level ports (v1 and v2): each mutant is found by a schedule search that the
unmutated port passes, failures replay, runs are deterministic, and the v1 early-exit finding reproduces."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from model.builders import BUILTIN_SCENARIOS
from model.errors import ConfigurationError, ScenarioError
from model.scenario import Config, ExplicitDep, Scenario, ScopeBegin, ScopeEnd, Submit, validate
from properties.artifacts import load_artifact
from properties.other_runtimes import EXACT_COMPLETION, RUNS_AFTER_PREDECESSORS, kernel_observers
from properties.runtimes import system_for
from runtime.abg import v1, v2
from runtime.core import Executor
from runtime.dfs import DEADLOCK_PROPERTY
from runtime.execution import (
    DEADLOCK,
    RandomScheduler,
    ReplayScheduler,
    decode_schedule,
    format_trace,
    run_once,
)
from runtime.search import SearchBounds, SearchReport, search

AIC, AIV = (0, -1, -1), (-1, 1, -1)
REGRESSIONS = Path(__file__).resolve().parent / "regressions"
ONE_SCHEDULER = Config(scheduler_threads=1, clusters=1)


def _scenario(
    name: str, program: Sequence[object], runtime: str = "aicpu_build_graph", config: Config = ONE_SCHEDULER
) -> Scenario:
    return validate(Scenario(name, config, (), tuple(program), runtime=runtime))  # type: ignore[arg-type]


# X, then Y after X: the edge X -> Y is added after X was published, so X may already have finished.
EDGE_AFTER_FINISH = _scenario(
    "edge_after_finish", [Submit("X", AIV), Submit("Y", AIV, deps=(ExplicitDep("X"),))]
)
# Y waits for X and Z: a lost or extra fanin decrement lets Y start too early.
TWO_PREDECESSORS = _scenario(
    "two_predecessors",
    [Submit("X", AIC), Submit("Z", AIV), Submit("Y", AIV, deps=(ExplicitDep("X"), ExplicitDep("Z")))],
)
# v2: B depends on A of an earlier, already published scope.
CROSS_SCOPE = _scenario(
    "cross_scope",
    [
        ScopeBegin(),
        Submit("A", AIC),
        ScopeEnd(),
        ScopeBegin(),
        Submit("B", AIV, deps=(ExplicitDep("A"),)),
        ScopeEnd(),
    ],
    "aicpu_build_graph_v2",
)


def _search(
    scenario: Scenario, mutants: tuple[str, ...], engine: str, runs: int = 200, seed: int = 1
) -> SearchReport:
    return search(
        lambda: system_for(scenario, mutants),
        engine,
        seed=seed,
        bounds=SearchBounds(runs=runs, preemptions=2, max_steps=20_000),
        observers=kernel_observers(scenario),
    )


MUTANT_CASES = [
    (v1.M_EDGE_UNCHECKED, EDGE_AFTER_FINISH, "dfs", DEADLOCK_PROPERTY),
    (v1.M_PUBLISH_BEFORE_EDGES, EDGE_AFTER_FINISH, "dfs", RUNS_AFTER_PREDECESSORS),
    (v1.M_DECREMENT_OUTSIDE_LOCK, EDGE_AFTER_FINISH, "dfs", DEADLOCK_PROPERTY),
    (v1.M_DECREMENT_OUTSIDE_LOCK, TWO_PREDECESSORS, "pct", RUNS_AFTER_PREDECESSORS),
    (v2.M_DEP_UNCHECKED, CROSS_SCOPE, "dfs", DEADLOCK_PROPERTY),
    (v2.M_NO_REDUNDANCE, CROSS_SCOPE, "dfs", RUNS_AFTER_PREDECESSORS),
    (v2.M_SNAPSHOT_FIRST, CROSS_SCOPE, "dfs", DEADLOCK_PROPERTY),
]


@pytest.mark.parametrize(
    ("mutant", "scenario", "engine", "prop"), MUTANT_CASES, ids=lambda x: getattr(x, "name", x)
)
def test_each_mutant_is_found_and_the_unmutated_port_passes_the_same_search(
    mutant: str, scenario: Scenario, engine: str, prop: str
) -> None:
    clean = _search(scenario, (), engine)
    assert clean.ok, clean.lines()
    found = _search(scenario, (mutant,), engine)
    assert not found.ok, f"{mutant} not found: {found.lines()}"
    failure = found.failures[0]
    assert failure.property_id == prop, failure.line()
    # the failure replays exactly under strict replay
    system = system_for(scenario, (mutant,))
    replay = ReplayScheduler(failure.schedule)
    replay.new_execution()
    result = run_once(system, replay, kernel_observers(scenario)(system), max_steps=20_000)
    got = (
        result.failure.property_id
        if result.failure
        else DEADLOCK_PROPERTY
        if result.outcome == DEADLOCK
        else None
    )
    assert got == prop


def test_every_v1_and_v2_mutant_has_a_case() -> None:
    assert {m for m, *_ in MUTANT_CASES} == set(v1.MUTANTS) | set(v2.MUTANTS)


@pytest.mark.parametrize("name", ["abg_pa_two_blocks", "abg2_pa_two_blocks"])
def test_paged_attention_passes_pct_with_exact_completion_counts(name: str) -> None:
    scenario = BUILTIN_SCENARIOS[name]()
    scenario = replace(scenario, config=replace(scenario.config, scheduler_threads=1))
    report = _search(scenario, (), "pct", runs=40, seed=11)
    assert report.ok, report.lines()
    assert report.executions == 40


def test_same_seed_gives_the_same_trace() -> None:
    scenario = BUILTIN_SCENARIOS["abg_pa_two_blocks"]()

    def trace(seed: int) -> str:
        system = system_for(scenario)
        sched = RandomScheduler(seed)
        sched.new_execution()
        result = run_once(system, sched)
        assert result.ok
        return format_trace(result, system)

    assert trace(5) == trace(5)
    assert trace(5) != trace(6)


def test_bad_configurations_and_mutants_are_rejected() -> None:
    with pytest.raises(ConfigurationError, match="gets no core"):
        system_for(replace(EDGE_AFTER_FINISH, config=Config(scheduler_threads=3, clusters=1)))
    with pytest.raises(ScenarioError, match="unknown mutant"):
        system_for(EDGE_AFTER_FINISH, ("abg.no_such_mutant",))


# -------------------------------------------------------------------- finding (real runtime, v1)

# AIV task X, then AIC task Y after X; 2 schedulers and 1 cluster: T1 owns AIC0 + AIV1, T2 owns AIV2.
EARLY_EXIT = _scenario(
    "abg_early_exit",
    [Submit("X", AIV), Submit("Y", AIC, deps=(ExplicitDep("X"),))],
    config=Config(scheduler_threads=2, clusters=1),
)
EARLY_EXIT_SCHEDULE = "ptosched1:0.1*2.0*5.2*12.1*7.3.4.5*3.2*18.5"


def test_finding_v1_scheduler_exits_on_a_stale_published_count() -> None:
    """resolve_and_dispatch loads published_tasks_, then completed_tasks_, then build_done_: a thread that
    read published before the builder's last publishes sees completed >= published once build_done is set,
    exits and shuts its cores down while a task still needs them (here the only AIC core): Y never runs and
    T2 times out. Found by a DFS with preemption bound 1 (below); the artifact replays it."""
    artifact = load_artifact(REGRESSIONS / "abg_v1_early_exit.json")
    assert artifact.kind == "port-run" and artifact.scenario.program == EARLY_EXIT.program
    assert artifact.schedule == EARLY_EXIT_SCHEDULE
    system = system_for(artifact.scenario, artifact.mutants)
    replay = ReplayScheduler(decode_schedule(artifact.schedule))
    replay.new_execution()
    result = run_once(system, replay)
    assert result.outcome == DEADLOCK and result.work_left == artifact.message
    assert result.steps == artifact.failing_step
    assert "T1.sched   shutdown: core 0 control = 1" in format_trace(result, system)


def test_sequential_build_mode_has_no_stale_exit() -> None:
    sequential = replace(EARLY_EXIT, config=replace(EARLY_EXIT.config, serial_orch_sched=True))
    for scenario, ok in ((sequential, True), (EARLY_EXIT, False)):
        report = search(
            lambda s=scenario: system_for(s),  # type: ignore[misc]
            "dfs",
            bounds=SearchBounds(preemptions=1, max_steps=20_000),
            observers=kernel_observers(scenario),
        )
        assert report.ok is ok, report.lines()


def test_exact_completion_count_is_checked_at_the_end() -> None:
    scenario = EDGE_AFTER_FINISH
    system = system_for(scenario)
    sched = RandomScheduler(1)
    sched.new_execution()
    observer = kernel_observers(scenario)(system)[0]
    result = run_once(system, sched, [observer])
    assert result.ok
    system.mem.cells[system.runs_cells] = 2  # type: ignore[attr-defined]
    failure = observer.at_end(Executor(system), "done")
    assert failure is not None and failure.property_id == EXACT_COMPLETION
