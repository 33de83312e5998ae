"""The aicpu_build_graph reference model: exhaustive exploration of paged attention, its witnesses, and proof
that its properties can fail (broken variants of the model are caught)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from model.abg_model import (
    A_BUILD,
    C_EDGE,
    C_PUBLISH,
    S_TASKS,
    T1_DONE,
    T1_KERNEL,
    AbgModel,
    AbgProgram,
    Action,
    State,
    lower_abg,
)
from model.builders import BUILTIN_SCENARIOS
from model.builders.pa_other_runtimes import abg_expected_task_count, abg_paged_attention
from model.errors import ScenarioError
from model.explorer import explore
from model.protocol import Property, PropertyKind
from model.scenario import (
    Alloc,
    Config,
    ExplicitDep,
    OutputSpec,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    Submit,
    validate,
)

AIC, AIV = (0, -1, -1), (-1, 1, -1)
SMALL = Config(scheduler_threads=1, clusters=1)


def _abg(name: str, program: Sequence[object], runtime: str = "aicpu_build_graph") -> Scenario:
    return validate(Scenario(name, SMALL, (), tuple(program), runtime=runtime))  # type: ignore[arg-type]


def test_paged_attention_v1_explores_completely_with_every_witness() -> None:
    model = AbgModel(BUILTIN_SCENARIOS["abg_pa_two_blocks"]())
    result = explore(model)
    assert result.complete and not result.violations, result.verdict()
    assert not result.unwitnessed
    assert model.ntasks == abg_expected_task_count(1, 16, 16, (32,)) == 8
    final = result.witness_paths["abg.sometimes_all_completed"][-1].state
    assert sum(t[T1_DONE] for t in final[S_TASKS]) == 8


def test_sequential_build_mode_never_adds_an_edge_after_its_predecessor_finished() -> None:
    result = explore(AbgModel(BUILTIN_SCENARIOS["abg_pa_two_blocks_sequential"]()))
    assert result.complete and not result.violations
    assert result.unwitnessed == ("abg.sometimes_edge_after_predecessor_completed",)


def test_v2_paged_attention_and_a_cross_scope_dependency() -> None:
    pa = explore(AbgModel(BUILTIN_SCENARIOS["abg2_pa_two_blocks"]()))
    assert pa.complete and not pa.violations
    # paged attention v2 keeps every dependency inside one scope: no early finish is possible
    assert pa.unwitnessed == ("abg.sometimes_edge_after_predecessor_completed",)
    cross = _abg(
        "cross",
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
    result = explore(AbgModel(cross))
    assert result.complete and not result.violations
    assert "abg.sometimes_edge_after_predecessor_completed" in result.witnessed  # the early-finish path


def test_the_up_chain_serialises_the_online_updates() -> None:
    scenario = abg_paged_attention(1, 16, 16, 16, (48,), config=replace(SMALL, clusters=2))
    model = AbgModel(scenario)
    ups = [i for i, n in enumerate(model.program.names) if n.startswith("UP_")]

    def serial(state: State) -> bool:
        tasks = state[S_TASKS]
        running = [u for u in ups if tasks[u][T1_KERNEL] == 1]
        ended = [tasks[u][T1_KERNEL] == 2 for u in ups]
        return len(running) <= 1 and all(ended[i] or not ended[i + 1] for i in range(len(ups) - 1))

    class WithChain(AbgModel):
        def properties(self) -> Sequence[Property[State]]:
            return [*super().properties(), Property("pa.up_chain_serial", PropertyKind.ALWAYS, serial)]

    result = explore(WithChain(scenario))
    assert result.complete and not result.violations, result.verdict()


# ------------------------------------------------------------------ the properties can fail


class _NoCompletionCheck(AbgModel):
    """The edge call increments the fanin even when the predecessor completed."""

    def next_state(self, state: State, action: Action) -> State:
        nxt = super().next_state(state, action)
        if action[0] == A_BUILD:
            call, p, t = self.program.calls[state[0]]
            if call == C_EDGE and state[S_TASKS][p][T1_DONE]:
                tasks = list(nxt[S_TASKS])
                tasks[t] = tasks[t][:3] + (tasks[t][3] + 1,) + tasks[t][4:]
                return (nxt[0], tuple(tasks), *nxt[2:])
        return nxt


def test_a_model_without_the_completion_check_is_caught() -> None:
    scenario = _abg("late", [Submit("X", AIV), Submit("Y", AIV, deps=(ExplicitDep("X"),))])
    result = explore(_NoCompletionCheck(scenario), stop_at_first_violation=False)
    names = {v.property_name for v in result.violations}
    assert "abg.fanin_counts_open_edges" in names


def test_publishing_before_the_edges_is_caught() -> None:
    scenario = _abg("early", [Submit("X", AIV), Submit("Y", AIV, deps=(ExplicitDep("X"),))])
    model = AbgModel(scenario)
    calls = list(model.program.calls)
    edge = next(i for i, c in enumerate(calls) if c[0] == C_EDGE)
    publish_y = next(i for i, c in enumerate(calls) if c[0] == C_PUBLISH and c[1] == 1)
    calls.insert(edge, calls.pop(publish_y))
    model.program = AbgProgram(model.program.names, model.program.core, model.program.preds, tuple(calls))
    result = explore(model)
    assert [v.property_name for v in result.violations] == ["abg.runs_after_predecessors"]


# ------------------------------------------------------------------------------ lowering


def test_lowering_of_the_v1_publish_groups() -> None:
    program = lower_abg(BUILTIN_SCENARIOS["abg_pa_two_blocks"]())
    text = [(c, program.names[a], program.names[b] if c == C_EDGE else "") for c, a, b in program.calls[:11]]
    assert text == [
        (0, "QK_b0_q0_bn0", ""),
        (0, "SF_b0_q0_bn0", ""),
        (1, "QK_b0_q0_bn0", "SF_b0_q0_bn0"),
        (0, "PV_b0_q0_bn0", ""),
        (1, "SF_b0_q0_bn0", "PV_b0_q0_bn0"),
        (2, "QK_b0_q0_bn0", ""),
        (2, "SF_b0_q0_bn0", ""),
        (2, "PV_b0_q0_bn0", ""),
        (0, "UP_b0_q0_bn0", ""),
        (1, "PV_b0_q0_bn0", "UP_b0_q0_bn0"),
        (2, "UP_b0_q0_bn0", ""),
    ]


@pytest.mark.parametrize(
    ("program", "runtime", "message"),
    [
        ([Alloc("A", (OutputSpec("o", (4,), "FLOAT32"),))], "aicpu_build_graph", "no hidden alloc"),
        ([Submit("M", (0, 1, -1))], "aicpu_build_graph", "MIX"),
        ([Submit("X", AIV)], "aicpu_build_graph_v2", "outside a scope"),
        (
            [Submit("X", AIV, deps=(ExplicitDep("Y"),)), Submit("Y", AIV)],
            "aicpu_build_graph",
            "not added yet",
        ),
    ],
)
def test_lowering_rejects_what_the_runtime_cannot_build(
    program: list[object], runtime: str, message: str
) -> None:
    with pytest.raises(ScenarioError, match=message):
        AbgModel(_abg("bad", program, runtime))
