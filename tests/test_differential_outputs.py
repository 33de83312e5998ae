"""The differential data check of issue 9: the same program run on the runtimes, with the data oracle,
produces the same bytes in every host buffer.

* paged attention (two KV blocks) on all four runtime variants, under several schedules;
* every built-in tensormap_and_ringbuffer program that host_build_graph can run, and generated programs,
  on tensormap_and_ringbuffer and (unchanged, as `ptocheck --runtime host_build_graph` runs them) on
  host_build_graph: host_build_graph is the baseline without concurrent building, so any difference is a
  bug of the concurrent runtime or of a port. Programs that race on their own data or do not complete on
  tensormap_and_ringbuffer (a fatal of an undersized configuration) have no single expected output and are
  left out, each counted as a Hypothesis event.
Each run also passes its own golden check (the data observers), so equal outputs are also correct ones."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import event, given, settings

from model.builders import BUILTIN_SCENARIOS
from model.errors import ScenarioError
from model.scenario import Expected, Scenario, Shape, Submit, validate
from properties.data_oracle import any_data_observers, data_system, program_races, same_outputs
from properties.strategies import ProgramLimits, scenarios
from runtime.core import System
from runtime.data.binding import bind
from runtime.execution import DONE, RandomScheduler, run_once
from runtime.trb import TrbSystem
from tests.conftest import hypothesis_examples

Array = np.ndarray  # type: ignore[type-arg]
PA_FAMILY = ("pa_two_blocks", "hbg_pa_two_blocks", "abg_pa_two_blocks", "abg2_pa_two_blocks")


@pytest.mark.parametrize("schedule_seed", [0, 1, 2])
def test_paged_attention_gives_the_same_bytes_on_all_four_runtime_variants(schedule_seed: int) -> None:
    outs = same_outputs([BUILTIN_SCENARIOS[name]() for name in PA_FAMILY], schedule_seed=schedule_seed)
    assert [key.split(":")[1] for key in outs] == list(PA_FAMILY)
    first = next(iter(outs.values()))
    assert first.size > 0 and not np.isnan(first).any()
    assert all(out.tobytes() == first.tobytes() for out in outs.values())


def _on_host_build_graph(scenario: Scenario) -> Scenario:
    return validate(replace(scenario, runtime="host_build_graph", expected=Expected(), name=f"{scenario.name}@hbg"))


def _host_buffers(scenario: Scenario, schedule_seed: int) -> dict[str, Array] | None:
    """The host buffers after one data-carrying run, or None when the run did not complete cleanly."""
    system: System = data_system(scenario)
    scheduler = RandomScheduler(schedule_seed)
    scheduler.new_execution()
    result = run_once(system, scheduler, any_data_observers()(system), max_steps=200_000, record_trace=False)
    if result.outcome != DONE or result.failure is not None:
        return None
    path = system.data if isinstance(system, TrbSystem) else system.cores.data  # type: ignore[attr-defined]
    contents: dict[str, Array] = path.external_contents()
    return contents


def _differs(trb: dict[str, Array], hbg: dict[str, Array]) -> list[str]:
    assert set(trb) == set(hbg)
    return [name for name in sorted(trb) if trb[name].tobytes() != hbg[name].tobytes()]


def _convertible_builtins() -> list[str]:
    out = []
    for name, build in sorted(BUILTIN_SCENARIOS.items()):
        s = build()
        if (
            s.runtime == "tensormap_and_ringbuffer"
            and s.runs == 1
            and s.expected.fatal is None
            and all(not isinstance(t, Submit) or (t.block_num == 1 and t.shape is not Shape.MIX) for t in s.tasks())
            and not program_races(s, bind(s))
        ):
            out.append(name)
    return out


def test_the_builtin_programs_compared_are_not_a_handful() -> None:
    names = _convertible_builtins()
    assert len(names) >= 5 and "pa_two_blocks" in names and "vector_example" in names, names


@pytest.mark.parametrize("name", _convertible_builtins())
def test_a_builtin_program_gives_the_same_bytes_on_host_build_graph(name: str) -> None:
    scenario = BUILTIN_SCENARIOS[name]()
    trb = _host_buffers(scenario, schedule_seed=3)
    assert trb is not None, f"{name} did not complete cleanly on tensormap_and_ringbuffer"
    hbg = _host_buffers(_on_host_build_graph(replace(scenario, config=replace(scenario.config, task_window=(1 << 14,) * 4))), 4)
    assert hbg is not None, f"{name} did not complete cleanly on host_build_graph"
    assert not _differs(trb, hbg)


@settings(max_examples=hypothesis_examples(40))
@given(scenarios(ProgramLimits(max_tasks=6, max_external_buffers=2, max_args=3, max_block_num=1, max_clusters=1)))
def test_a_generated_program_gives_the_same_bytes_on_host_build_graph(scenario: Scenario) -> None:
    if scenario.runs != 1 or program_races(scenario, bind(scenario)):
        event("left out: more than one run, or the program races on its own data")
        return
    trb = _host_buffers(scenario, schedule_seed=1)
    if trb is None:
        event("left out: no clean completion on tensormap_and_ringbuffer (its configuration's fatal)")
        return
    try:
        hbg_scenario = _on_host_build_graph(scenario)
        hbg = _host_buffers(hbg_scenario, schedule_seed=2)
    except ScenarioError:
        event("left out: host_build_graph refuses the program (SPMD or MIX tasks)")
        return
    assert hbg is not None, "the program completes on tensormap_and_ringbuffer but not on host_build_graph"
    assert not _differs(trb, hbg)
    event("compared")
