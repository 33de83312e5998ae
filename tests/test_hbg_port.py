"""The host_build_graph port: its host-side fanin computation agrees with the model's (two independent
implementations), every tensormap_and_ringbuffer program it can run passes on it, and each mutant is found
by a search that the unmutated port passes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from model.builders import BUILTIN_SCENARIOS
from model.dependencies import derive_all_edges, merge_rows
from model.errors import ScenarioError
from model.program import ProgramInfo
from model.scenario import Arg, Config, OutputSpec, Region, Scenario, Shape, Submit, Tag, TensorData, validate
from properties.other_runtimes import RUNS_AFTER_PREDECESSORS, kernel_observers
from properties.runtimes import system_for
from runtime.dfs import STEP_LIMIT_PROPERTY
from runtime.hbg import system as hbg
from runtime.hbg.host_build import build_host_graph
from runtime.search import SearchBounds, SearchReport, search

BIG_RING = (1 << 14,) * 4


def _convertible() -> list[str]:
    """Built-in tensormap_and_ringbuffer programs with single-block AIC / AIV / dummy tasks."""
    out = []
    for name, build in sorted(BUILTIN_SCENARIOS.items()):
        s = build()
        if s.runtime == "tensormap_and_ringbuffer" and all(
            not isinstance(t, Submit) or (t.block_num == 1 and t.shape is not Shape.MIX) for t in s.tasks()
        ):
            out.append(name)
    return out


def _as_hbg(name: str, config: Config | None = None) -> Scenario:
    s = BUILTIN_SCENARIOS[name]()
    cfg = config or replace(s.config, task_window=BIG_RING)
    return replace(s, runtime="host_build_graph", config=cfg, expected=replace(s.expected, fatal=None))


def _search(
    scenario: Scenario, mutants: tuple[str, ...], engine: str, runs: int, seed: int = 1
) -> SearchReport:
    return search(
        lambda: system_for(scenario, mutants),
        engine,
        seed=seed,
        bounds=SearchBounds(runs=runs, preemptions=2, max_steps=6_000),
        observers=kernel_observers(scenario),
    )


@pytest.mark.parametrize("name", _convertible())
def test_host_fanins_match_the_models_derivation(name: str) -> None:
    scenario = _as_hbg(name)
    info = ProgramInfo(scenario)
    rows: list[list[object]] = [[] for _ in info.tasks]
    for row in derive_all_edges(info):
        rows[row.succ].append(row)
    expected = tuple(tuple(p for p, _ in merge_rows(r)) for r in rows)  # type: ignore[arg-type]
    assert build_host_graph(scenario).fanin == expected


@pytest.mark.parametrize("name", _convertible())
def test_every_program_passes_on_host_build_graph(name: str) -> None:
    """The differential baseline: with no build running concurrently, every program completes in order."""
    report = _search(_as_hbg(name), (), "random", runs=3, seed=2)
    assert report.ok, report.lines()


@pytest.mark.parametrize(
    ("mutant", "prop"),
    [(hbg.M_DRAIN_BEFORE_FLAG, STEP_LIMIT_PROPERTY), (hbg.M_PUSH_EVERY_WAITER, RUNS_AFTER_PREDECESSORS)],
)
def test_each_mutant_is_found_and_the_unmutated_port_passes_the_same_search(mutant: str, prop: str) -> None:
    scenario = BUILTIN_SCENARIOS["hbg_pa_two_blocks"]()
    clean = _search(scenario, (), "pct", runs=60)
    assert clean.ok, clean.lines()
    found = _search(scenario, (mutant,), "pct", runs=60)
    assert not found.ok and found.failures[0].property_id == prop, found.lines()


def test_concurrent_classification_passes_a_bounded_dfs() -> None:
    """Two consumers of one producer, classified by different threads at boot: both CAS onto the same
    wake list (the retry path), then are drained by P."""
    out = Arg(Tag.OUTPUT, creates=OutputSpec("o", (16,), "FLOAT32"))
    read = Arg(Tag.INPUT, Region("o", (16,), (1,)))
    scenario = validate(
        Scenario(
            "hbg_two_waiters",
            Config(task_window=(16, 16, 16, 16), scheduler_threads=2, clusters=1),
            (),
            (
                Submit("P", (0, -1, -1), (out,)),
                Submit("C1", (-1, 1, -1), (read,)),
                Submit("C2", (-1, 1, -1), (read,)),
            ),
            runtime="host_build_graph",
        )
    )
    assert build_host_graph(scenario).fanin == ((), (0,), (0,))
    report = search(
        lambda: system_for(scenario),
        "dfs",
        bounds=SearchBounds(preemptions=1, max_steps=2_000),
        observers=kernel_observers(scenario),
    )
    assert report.ok, report.lines()


def test_host_tensor_data_on_a_produced_buffer_is_rejected() -> None:
    scenario = validate(
        Scenario(
            "tdata",
            Config(task_window=(16, 16, 16, 16)),
            (),
            (
                Submit("P", (-1, 1, -1), (Arg(Tag.OUTPUT, creates=OutputSpec("o", (4,), "FLOAT32")),)),
                TensorData(False, Region("o", (1,), (1,))),
            ),
            runtime="host_build_graph",
        )
    )
    with pytest.raises(ScenarioError, match="SCALAR_DATA_ACCESS"):
        system_for(scenario)


def test_a_graph_larger_than_the_ring_is_rejected() -> None:
    scenario = _as_hbg("pa_two_blocks", Config(task_window=(4, 4, 4, 4)))
    with pytest.raises(ScenarioError, match="whole graph resident"):
        system_for(scenario)
