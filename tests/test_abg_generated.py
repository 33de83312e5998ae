"""Generated explicit-edge programs (properties.explicit_programs) on aicpu_build_graph v1 and v2, and the
differential check of issue 9 on them:

* the generator makes the shapes the runtime's bugs need (edges added after the predecessor was published,
  fan-in, fan-out, publish groups, immediate publishes), and every program round-trips through JSON;
* the unmutated ports pass every port property (kernel order, at most once, exact completion, the data
  oracle) under random and PCT schedules, and the reference model explores them with no violation;
* the `explicit-deps` campaign finds each aicpu_build_graph mutant from generated programs (never the
  built-in paged attention) and passes the same campaign unmutated; the artifact replays;
* the same generated program on aicpu_build_graph v1 and v2, host_build_graph and tensormap_and_ringbuffer
  asks for the same kernel order, every run respects it (also the order derived on another runtime), and
  every run ends with the same bytes in every host buffer, each equal to the data oracle's golden."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from fuzz.campaigns import FuzzOptions, run_campaign
from fuzz.campaigns.known import MUTANT
from fuzz.campaigns.runner import FuzzSummary
from fuzz.cli import main
from model.abg_model import AbgModel
from model.explorer import explore
from model.scenario import RUNTIMES, Scenario, scenario_from_dict, scenario_to_dict
from properties.artifacts import load_artifact
from properties.data_oracle import any_data_observers, data_system, program_races
from properties.explicit_programs import (
    ABG_RUNTIMES,
    ABG_V1,
    ABG_V2,
    HBG,
    TRB,
    explicit_dep_scenarios,
    explicit_features,
    explicit_program_on,
)
from properties.other_runtimes import KernelOrderObserver, kernel_observers, kernel_order
from properties.port_checks import port_observers
from properties.replay import replay_port_artifact
from properties.runtimes import mutants_for
from properties.sizing import static_outcome
from runtime.abg import v1, v2
from runtime.core import Observer, System
from runtime.data.binding import bind
from runtime.data.buffers import BufferDataPath
from runtime.data.trb_path import TrbDataPath
from runtime.execution import DONE, RandomScheduler, RunResult, run_once
from runtime.search import SearchBounds, search
from runtime.trb import TrbSystem
from tests.conftest import hypothesis_examples


def _sample(strategy: st.SearchStrategy[Scenario], n: int) -> list[Scenario]:
    """The first n examples of a derandomized run (no shrinking): a fixed sample."""
    out: list[Scenario] = []

    @settings(max_examples=n, derandomize=True, database=None, phases=[Phase.generate], deadline=None)
    @given(strategy)
    def collect(scenario: Scenario) -> None:
        out.append(scenario)

    collect()
    return out


# Floors at about half the rates measured on these samples (60 each; v1: edge-after-publish 0.83,
# fan-in 0.67, fan-out 0.73, publish-group 0.82, immediate-publish 0.44, accumulator 0.22).
FLOORS = {
    ABG_V1: {"edge-after-publish": 0.4, "fan-in": 0.3, "fan-out": 0.3, "publish-group": 0.4,
             "immediate-publish": 0.2, "accumulator": 0.1, "two-schedulers": 0.15},
    ABG_V2: {"edge-after-publish": 0.4, "fan-in": 0.3, "fan-out": 0.3, "publish-group": 1.0,
             "accumulator": 0.1, "two-schedulers": 0.15},
}


@pytest.mark.parametrize("runtime", ABG_RUNTIMES)
def test_generated_programs_have_the_shapes_the_mutants_need(runtime: str) -> None:
    sample = _sample(explicit_dep_scenarios(runtime), 60)
    assert len(sample) == 60
    rates = {f: sum(f in explicit_features(s) for s in sample) / len(sample) for f in FLOORS[runtime]}
    low = [f"{f}: {rates[f]:.2f} < {floor}" for f, floor in FLOORS[runtime].items() if rates[f] < floor]
    assert not low, low
    for s in sample:
        assert s.runtime == runtime and scenario_from_dict(scenario_to_dict(s)) == s
        assert not program_races(s, bind(s)), s.description  # one golden output
    if runtime == ABG_V2:
        assert not any("immediate-publish" in explicit_features(s) for s in sample)  # v2 submits in scopes


def _observers(scenario: Scenario) -> Callable[[System], Sequence[Observer]]:
    """The port's properties with the data oracle: kernel order, at most once, exact completion, bytes
    (tensormap_and_ringbuffer: its own port checks)."""
    data = any_data_observers()
    own = port_observers() if scenario.runtime == TRB else kernel_observers(scenario)

    def make(system: System) -> Sequence[Observer]:
        return [*own(system), *data(system)]

    return make


@pytest.mark.parametrize("runtime", ABG_RUNTIMES)
def test_generated_programs_pass_every_property_on_the_port_and_the_model(runtime: str) -> None:
    @settings(max_examples=hypothesis_examples(25), deadline=None)
    @given(explicit_dep_scenarios(runtime))
    def check(scenario: Scenario) -> None:
        for engine in ("random", "pct"):
            report = search(
                lambda: data_system(scenario),
                engine,
                seed=7,
                bounds=SearchBounds(runs=4, max_steps=50_000),
                observers=_observers(scenario),
            )
            assert report.ok and report.executions == 4, report.lines()
        result = explore(AbgModel(scenario), max_states=50_000)
        assert result.complete and not result.violations, result.verdict()

    check()


# ------------------------------------------------------------------------------ mutants via the campaign

ITERATIONS = 200  # campaign inputs; seed 1 finds abg.decrement_outside_lock after 108, the others within 30
MUTANT_CASES = [(ABG_V1, m) for m in v1.MUTANTS] + [(ABG_V2, m) for m in v2.MUTANTS]


def _campaign(runtime: str, mutants: tuple[str, ...], corpus: Path) -> FuzzSummary:
    return run_campaign(
        FuzzOptions(campaign="explicit-deps", runtime=runtime, seed=1, workers=1, iterations=ITERATIONS,
                    corpus=corpus, mutants=mutants, stop_on_failure=bool(mutants))
    )


def test_every_aicpu_build_graph_mutant_has_a_generated_case() -> None:
    assert {m for _, m in MUTANT_CASES} == set(mutants_for(ABG_V1)) | set(mutants_for(ABG_V2))
    assert {v1.M_EDGE_UNCHECKED, v1.M_PUBLISH_BEFORE_EDGES, v1.M_DECREMENT_OUTSIDE_LOCK} <= set(v1.MUTANTS)


@pytest.mark.parametrize(("runtime", "mutant"), MUTANT_CASES)
def test_the_explicit_deps_campaign_finds_each_mutant_from_generated_programs(
    runtime: str, mutant: str, tmp_path: Path
) -> None:
    summary = _campaign(runtime, (mutant,), tmp_path)
    found = [f for f in summary.findings if f.classification == MUTANT]
    assert found, f"explicit-deps@{runtime} finds no {mutant} within {ITERATIONS} inputs (seed 1)"
    artifact = load_artifact(Path(found[0].path))
    assert artifact.scenario.name == "fuzz_explicit" and artifact.scenario.runtime == runtime
    assert artifact.mutants == (mutant,)
    assert replay_port_artifact(artifact, "r").reproduced


@pytest.mark.parametrize("runtime", ABG_RUNTIMES)
def test_the_unmutated_port_passes_the_same_campaign(runtime: str, tmp_path: Path) -> None:
    summary = _campaign(runtime, (), tmp_path)
    assert summary.exit_code == 0 and not summary.findings, summary.findings
    assert summary.iterations == ITERATIONS and summary.executions >= ITERATIONS


# ------------------------------------------------------------------------------ the differential check


def _outcome(
    scenario: Scenario, seed: int, order: frozenset[tuple[str, str]], mutants: tuple[str, ...] = ()
) -> tuple[RunResult, dict[str, bytes]]:
    """One data-carrying run under the port's properties and an externally given kernel order; the bytes
    of every host buffer at its end."""
    system = data_system(scenario, mutants)
    observers = list(_observers(scenario)(system))
    if scenario.runtime != TRB:
        observers.append(KernelOrderObserver(system, order))  # type: ignore[arg-type]
    scheduler = RandomScheduler(seed)
    scheduler.new_execution()
    result = run_once(system, scheduler, observers, max_steps=100_000, record_trace=False)
    path = system.data if isinstance(system, TrbSystem) else system.cores.data  # type: ignore[attr-defined]
    assert isinstance(path, TrbDataPath | BufferDataPath)
    return result, {name: array.tobytes() for name, array in path.external_contents().items()}


def _run(scenario: Scenario, seed: int, order: frozenset[tuple[str, str]]) -> dict[str, bytes]:
    result, contents = _outcome(scenario, seed, order)
    assert result.outcome == DONE and result.failure is None, (scenario.runtime, result.failure, result.work_left)
    return contents


@settings(max_examples=hypothesis_examples(30), deadline=None)
@given(explicit_dep_scenarios(ABG_V1), st.integers(0, 2**16))
def test_one_generated_program_gives_the_same_order_and_bytes_on_every_runtime(base: Scenario, seed: int) -> None:
    variants = {runtime: explicit_program_on(base, runtime) for runtime in (ABG_V1, ABG_V2, HBG, TRB)}
    assert set(variants) == set(RUNTIMES)
    trb_outcome = static_outcome(variants[TRB])
    assert trb_outcome is not None and trb_outcome.fatal is None  # it fits its configuration: completes
    orders = {runtime: kernel_order(sc) for runtime, sc in variants.items()}
    assert len(set(orders.values())) == 1, orders  # the TensorMap adds no order the edges do not imply
    # every run respects the order asked for on another runtime (host_build_graph's, derived with its TensorMap)
    outs = {runtime: _run(sc, seed + i, orders[HBG]) for i, (runtime, sc) in enumerate(variants.items())}
    first = outs[ABG_V1]
    assert set(first) >= {"x", "out"}
    differing = {rt: [b for b in first if out[b] != first[b]] for rt, out in outs.items() if out != first}
    assert not differing, differing


def test_the_v1_to_v2_translation_keeps_the_call_order() -> None:
    """A v1 task published right after its edges becomes a v2 scope of its own: the same edges, the same
    publish points (so the two ports see the same builder call sequence)."""
    from runtime.abg.program import build_program

    for base in _sample(explicit_dep_scenarios(ABG_V1), 20):
        moved = explicit_program_on(base, ABG_V2)
        assert build_program(base, 1).calls == build_program(moved, 2).calls


def test_the_differential_check_catches_a_runtime_that_loses_an_order() -> None:
    """The same harness, with aicpu_build_graph v1 publishing each task before its edges: some run breaks
    the order host_build_graph derives, fails the data oracle, or ends with other bytes."""
    caught = 0
    for base in _sample(explicit_dep_scenarios(ABG_V1), 20):
        hbg = explicit_program_on(base, HBG)
        order = kernel_order(hbg)
        want = _run(hbg, 0, order)
        for seed in range(3):
            result, got = _outcome(base, seed, order, (v1.M_PUBLISH_BEFORE_EDGES,))
            caught += result.outcome != DONE or result.failure is not None or got != want
    assert caught >= 3, caught


def test_the_campaign_runs_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["fuzz", "--campaign", "explicit-deps", "--runtime", ABG_V2, "--seed", "3", "--iterations", "6"]
    assert main([*argv, "--workers", "1", "--corpus", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"campaign explicit-deps@{ABG_V2}: seed 3" in out and "no failure within bounded(" in out
