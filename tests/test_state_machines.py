"""The Hypothesis state machines of properties/state_machines.py, on the gate's budget (ci profile)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from properties.state_machines import CheckedPortRun, ModelMachine, PortRefinementMachine
from tests.conftest import hypothesis_examples

# Hypothesis picks the interleaving of the port's threads; a port run of a small scenario takes a few
# hundred steps, so 150 rules cover admission, dispatch, completion and release of the first tasks.
TestPortRefinesModel = PortRefinementMachine.TestCase
TestPortRefinesModel.settings = settings(
    max_examples=hypothesis_examples(12),
    stateful_step_count=150,
)

TestModelMachine = ModelMachine.TestCase
TestModelMachine.settings = settings(
    max_examples=hypothesis_examples(25),
    stateful_step_count=60,
)


def test_a_machine_failure_is_saved_as_an_artifact_that_replays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the port machine saves when it fails: the scenario and the exact schedule it took, which
    `ptocheck replay` re-executes to the same violation (here: the overflow finding's program and run)."""
    from properties.artifacts import load_artifact
    from properties.port_checks import port_observers
    from properties.replay import replay_port_artifact
    from runtime.execution import RoundRobinScheduler, run_once
    from runtime.trb import TrbSystem

    monkeypatch.setenv("PTOCHECK_FAILURE_DIR", str(tmp_path))
    scenario = load_artifact(Path(__file__).resolve().parent / "regressions" / "deferred_release_overflow.json").scenario
    system = TrbSystem(scenario)
    scheduler = RoundRobinScheduler()
    scheduler.new_execution()
    result = run_once(system, scheduler, port_observers()(system), max_steps=5000)
    assert result.failure is not None
    machine = PortRefinementMachine()
    # what the artifact needs from the machine's run: its scenario, schedule and failure
    machine.run = CheckedPortRun(TrbSystem(scenario), "test", "pytest")
    machine.run.taken_tids = list(result.schedule)
    machine.run.failure_function = result.trace[-1].op.cite.function
    with pytest.raises(AssertionError, match="replay: ptocheck replay"):
        machine.run.failure = result.failure
        machine.port_invariants_and_refinement_hold()
    (saved,) = tmp_path.glob("state-machine-*.json")
    assert replay_port_artifact(load_artifact(saved), "r").reproduced
