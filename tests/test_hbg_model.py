"""The host_build_graph reference model: exhaustive exploration, witnesses, and a broken variant that is caught."""

from __future__ import annotations

from dataclasses import replace

import pytest

from model.builders import BUILTIN_SCENARIOS
from model.errors import ScenarioError
from model.explorer import explore
from model.hbg_model import A_DRAIN, P_QUEUED, S_DRAIN, S_PLACE, S_QUEUES, Action, HbgModel, State
from model.scenario import Arg, Config, OutputSpec, Region, Scenario, Submit, Tag, TensorData, validate

SMALL = Config(task_window=(64, 64, 64, 64), scheduler_threads=1, clusters=1)


def _as_hbg(name: str) -> Scenario:
    s = BUILTIN_SCENARIOS[name]()
    return replace(s, runtime="host_build_graph", config=SMALL)


def test_paged_attention_explores_completely_with_every_witness() -> None:
    model = HbgModel(BUILTIN_SCENARIOS["hbg_pa_two_blocks"]())
    result = explore(model)
    assert result.complete and not result.violations, result.verdict()
    assert not result.unwitnessed
    assert sum(not a for a in model.is_alloc) == 8 and sum(model.is_alloc) == 1


@pytest.mark.parametrize(
    "name", ["vector_example", "dummy_explicit_barrier", "dummy_long_chain", "dummy_single_auto_dep"]
)
def test_tensormap_and_ringbuffer_programs_run_on_host_build_graph(name: str) -> None:
    result = explore(HbgModel(_as_hbg(name)), max_states=200_000)
    assert result.complete and not result.violations, result.verdict()


class _PushEveryWaiter(HbgModel):
    """The drain pushes each waiter without classifying it again."""

    def next_state(self, state: State, action: Action) -> State:
        if action[0] != A_DRAIN:
            return super().next_state(state, action)
        producer, waiters = state[S_DRAIN]
        w = waiters[0]
        places = list(state[S_PLACE])
        places[w] = P_QUEUED
        queues = list(state[S_QUEUES])
        queues[self.queue_of[w]] += (w,)
        drain = (producer, waiters[1:]) if waiters[1:] else None
        return (tuple(places), state[1], state[2], tuple(queues), state[4], drain, state[6])


def test_a_drain_that_skips_classification_is_caught() -> None:
    result = explore(_PushEveryWaiter(BUILTIN_SCENARIOS["hbg_pa_two_blocks"]()))
    assert [v.property_name for v in result.violations] == ["hbg.runs_after_predecessors"]


def test_host_tensor_data_on_a_produced_buffer_is_rejected() -> None:
    scenario = validate(
        Scenario(
            "tdata",
            SMALL,
            (),
            (
                Submit("P", (-1, 1, -1), (Arg(Tag.OUTPUT, creates=OutputSpec("o", (4,), "FLOAT32")),)),
                TensorData(False, Region("o", (1,), (1,))),
            ),
            runtime="host_build_graph",
        )
    )
    with pytest.raises(ScenarioError, match="SCALAR_DATA_ACCESS"):
        HbgModel(scenario)
