"""The TRB port's guarded idle wait never blocks a scheduler whose next poll would make progress.

resolve_and_dispatch's wait stands for C++ polls that observe nothing new. An iteration whose MIX/IDLE
pass found the MIX queue empty and whose MIX/PENDING pass then popped and re-pushed a task pushed in
between is not such an iteration: the C++ loop's next MIX/IDLE pass dispatches the task. The port used
to remember only the re-pushed contents and block for good (campaign failures run.deadlock,
no_lost_wakeup, FLOW_CONTROL_DEADLOCK, TENSOR_WAIT_TIMEOUT on the unmutated port).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import runtime.trb.scheduler as scheduler_module
from model.scenario import Scenario, load_scenario
from properties.port_checks import port_observers
from runtime.search import SearchBounds, search
from runtime.trb.system import TrbSystem

REGRESSIONS = Path(__file__).resolve().parent / "regressions"
SCENARIOS = ("mix_requeue_idle_wait.json", "mix_requeue_idle_wait_dummy_reader.json")
RUNS = 60


def _scenario(name: str) -> Scenario:
    return load_scenario(REGRESSIONS / name)


def test_a_queue_seen_with_other_contents_earlier_in_the_iteration_is_a_change() -> None:
    qexp, changed = scheduler_module._qnote((), 3, ())
    assert qexp == ((3, ()),) and not changed
    qexp, changed = scheduler_module._qnote(qexp, 3, ())
    assert qexp == ((3, ()),) and not changed
    qexp, changed = scheduler_module._qnote(((1, (4,)), (3, ())), 3, (7,))
    assert qexp == ((1, (4,)), (3, (7,))) and changed


@pytest.mark.parametrize("engine", ["random", "pct"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_every_run_of_the_mix_requeue_scenario_passes_and_ends_done(name: str, engine: str) -> None:
    scenario = _scenario(name)
    bounds = SearchBounds(runs=RUNS, max_steps=20_000, stop_at_first_failure=False)
    report = search(lambda: TrbSystem(scenario), engine, 0, bounds, port_observers())
    assert report.executions == RUNS
    assert report.ok, "\n".join(report.lines())


def test_the_random_search_reaches_the_requeue_race(monkeypatch: pytest.MonkeyPatch) -> None:
    """Witness: the scenario does drive an iteration whose passes saw the MIX queue hold different
    contents (the case the fix makes impure), so the search above is not vacuous."""
    real: Callable[..., tuple[scheduler_module.QExp, bool]] = scheduler_module._qnote
    changes = [0]

    def counting(qexp: scheduler_module.QExp, q: int, contents: tuple[int, ...]) -> tuple[scheduler_module.QExp, bool]:
        out = real(qexp, q, contents)
        changes[0] += out[1]
        return out

    monkeypatch.setattr(scheduler_module, "_qnote", counting)
    scenario = _scenario(SCENARIOS[0])
    bounds = SearchBounds(runs=RUNS, max_steps=20_000, stop_at_first_failure=False)
    report = search(lambda: TrbSystem(scenario), "random", 0, bounds, port_observers())
    assert report.ok, report.verdict()
    assert changes[0] > 0
