"""The same paged-attention program on the three runtimes: the order it asks for between its kernel tasks is
the same (hidden alloc / hub tasks contracted away), and every port's runs respect tensormap_and_ringbuffer's
order."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from model.builders import BUILTIN_SCENARIOS
from model.builders.pa_other_runtimes import SMALL_CHECK_CONFIG, abg_paged_attention, hbg_paged_attention
from model.builders.paged_attention import paged_attention
from model.errors import ScenarioError
from model.scenario import Scenario
from properties.other_runtimes import KernelOrderObserver, KernelRunObserver, kernel_order
from properties.runtimes import model_for, mutants_for, observers_for, system_for
from runtime.core import System
from runtime.search import SearchBounds, search

STAGES = ("QK", "SF", "PV", "UP")


def _programs(batch: int, ctx: tuple[int, ...]) -> dict[str, Scenario]:
    cfg = replace(SMALL_CHECK_CONFIG, task_window=(256,) * 4)
    return {
        "tensormap_and_ringbuffer": paged_attention(batch, 16, 16, 16, ctx, config=cfg),
        "host_build_graph": hbg_paged_attention(batch, 16, 16, 16, ctx, config=cfg),
        "aicpu_build_graph": abg_paged_attention(batch, 16, 16, 16, ctx, config=cfg),
        "aicpu_build_graph_v2": abg_paged_attention(batch, 16, 16, 16, ctx, version=2, config=cfg),
    }


def _kernel_names(s: Scenario) -> set[str]:
    return {t.name for t in s.tasks() if t.name.split("_")[0] in STAGES}


@pytest.mark.parametrize(("batch", "ctx"), [(1, (32,)), (4, (33, 64, 128, 15))])
def test_the_requested_kernel_order_is_the_same_on_every_runtime(batch: int, ctx: tuple[int, ...]) -> None:
    programs = _programs(batch, ctx)
    kernels = _kernel_names(programs["tensormap_and_ringbuffer"])
    assert len(kernels) == 4 * sum((c + 15) // 16 for c in ctx)
    hidden = {rt: {t.name for t in s.tasks()} - kernels for rt, s in programs.items()}
    assert all(_kernel_names(s) == kernels for s in programs.values())
    assert {n.split("_")[0] for n in hidden["tensormap_and_ringbuffer"] | hidden["host_build_graph"]} == {"A"}
    assert {n.split("_")[0] for n in hidden["aicpu_build_graph_v2"]} == {"HUB"}
    assert hidden["aicpu_build_graph"] == set()
    orders = {rt: kernel_order(s, kernels) for rt, s in programs.items()}
    reference = orders["tensormap_and_ringbuffer"]
    for rt, order in orders.items():
        assert order == reference, rt
    # one chain per block, and the UP chain of each (batch, q tile) serialising the online updates
    blocks = sorted({n.split("_", 1)[1] for n in kernels})
    expected = {(f"{a}_{b}", f"{c}_{b}") for b in blocks for a, c in itertools.pairwise(STAGES)}
    for b in blocks:
        head, bn = b.rsplit("_bn", 1)
        if int(bn) > 0:
            expected.add((f"UP_{head}_bn{int(bn) - 1}", f"UP_{b}"))
    assert reference == expected


@pytest.mark.parametrize("runtime", ["host_build_graph", "aicpu_build_graph", "aicpu_build_graph_v2"])
def test_every_port_run_respects_the_tensormap_and_ringbuffer_order(runtime: str) -> None:
    programs = _programs(1, (32,))
    programs = {rt: replace(s, config=replace(s.config, scheduler_threads=1)) for rt, s in programs.items()}
    reference = kernel_order(
        programs["tensormap_and_ringbuffer"], _kernel_names(programs["tensormap_and_ringbuffer"])
    )
    scenario = programs[runtime]

    def observers(system: System) -> list[object]:
        return [KernelOrderObserver(system, reference), KernelRunObserver(system, scenario)]  # type: ignore[arg-type]

    report = search(
        lambda: system_for(scenario),
        "pct",
        seed=3,
        bounds=SearchBounds(runs=25, max_steps=20_000),
        observers=observers,  # type: ignore[arg-type]
    )
    assert report.ok, report.lines()


@pytest.mark.parametrize(
    "name",
    [
        "abg_pa_two_blocks",
        "abg_pa_two_blocks_sequential",
        "abg2_pa_two_blocks",
        "hbg_pa_two_blocks",
        "pa_two_blocks",
    ],
)
def test_model_for_dispatches_on_the_runtime_tag(name: str) -> None:
    scenario = BUILTIN_SCENARIOS[name]()
    model = model_for(scenario)
    assert (
        type(model).__name__
        == {
            "aicpu_build_graph": "AbgModel",
            "aicpu_build_graph_v2": "AbgModel",
            "host_build_graph": "HbgModel",
            "tensormap_and_ringbuffer": "TrbModel",
        }[scenario.runtime]
    )


def test_system_for_and_mutants_for_dispatch_on_the_runtime_tag() -> None:
    for name, kind in [
        ("abg_pa_two_blocks", "AbgV1System"),
        ("abg2_pa_two_blocks", "AbgV2System"),
        ("hbg_pa_two_blocks", "HbgSystem"),
        ("pa_two_blocks", "TrbSystem"),
    ]:
        scenario = BUILTIN_SCENARIOS[name]()
        assert type(system_for(scenario)).__name__ == kind
        assert mutants_for(scenario.runtime)
        assert callable(observers_for(scenario))
    with pytest.raises(ScenarioError, match="unknown mutant"):
        system_for(BUILTIN_SCENARIOS["hbg_pa_two_blocks"](), ("abg.publish_before_edges",))
