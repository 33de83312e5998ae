"""ProgramBuildingMachine (properties/program_machine.py): rules build the program, then step the port.

Budgets are counts (max_examples, stateful_step_count), as every gate test's."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from properties.program_machine import ProgramBuildingMachine
from tests.conftest import hypothesis_examples

# 60 rules: a few build the program, the first step starts the run, the rest interleave its threads;
# teardown runs what is left round-robin and judges the end of the run
TestProgramBuildingMachine = ProgramBuildingMachine.TestCase
TestProgramBuildingMachine.settings = settings(max_examples=hypothesis_examples(40), stateful_step_count=60)

# catalogue E02: the dispatch register carries the local task id, so a core skips a second block of one task
MUTANT = "M_TOKEN_FROM_LOCAL_ID"
# short examples: the first step comes within a few rules, and shrinking (thousands of runs) stays cheap
def _mutant_settings(*phases: Phase) -> settings:
    return settings(max_examples=100, stateful_step_count=15, phases=phases)


class TokenFromLocalIdMachine(ProgramBuildingMachine):
    mutants = (MUTANT,)


def _saved_artifact(tmp_path: Path) -> Path:
    saved = sorted(tmp_path.glob("state-machine-*.json"))
    assert len(saved) == 1, saved
    return saved[0]


def test_the_machine_finds_the_dispatch_token_mutant_and_saves_a_replayable_artifact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Generation alone (shrinking is the next test) finds E02 (the port's step no longer refines the
    model); the artifact it saves replays to the same failure under `ptocheck replay`."""
    from properties.artifacts import load_artifact
    from properties.replay import replay_port_artifact

    monkeypatch.setenv("PTOCHECK_FAILURE_DIR", str(tmp_path))
    with pytest.raises(AssertionError, match="replay: ptocheck replay"):
        run_state_machine_as_test(
            TokenFromLocalIdMachine, settings=_mutant_settings(Phase.generate)
        )
    artifact = load_artifact(_saved_artifact(tmp_path))
    assert artifact.mutants == (MUTANT,) and artifact.signature.property_id == "refines_model"
    assert replay_port_artifact(artifact, "r").reproduced


def test_shrinking_gives_a_small_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With shrinking, the E02 counterexample comes out as a program of at most two tasks (one SPMD submit
    suffices: its second block on the same core is skipped)."""
    from properties.artifacts import load_artifact

    monkeypatch.setenv("PTOCHECK_FAILURE_DIR", str(tmp_path))
    with pytest.raises(AssertionError, match="replay: ptocheck replay"):
        run_state_machine_as_test(
            TokenFromLocalIdMachine, settings=_mutant_settings(Phase.generate, Phase.shrink)
        )
    artifact = load_artifact(_saved_artifact(tmp_path))
    assert artifact.signature.property_id == "refines_model"
    assert 1 <= len(artifact.scenario.tasks()) <= 2, artifact.scenario.program


def test_the_rules_build_programs_with_the_generators_hard_cases() -> None:
    """Witnesses: the programs the rules build and run have overlapping views, explicit WAIT and
    WAIT+RETAIN dependencies, dummy, alloc and SPMD tasks, MANUAL scopes and tensor-data waits. A fixed
    (derandomized) run, so a witness that disappears is a change in what the rules build."""
    from model.scenario import Scenario
    from properties.features import static_features

    started: list[Scenario] = []

    class RecordingMachine(ProgramBuildingMachine):
        def teardown(self) -> None:  # what was built and started is all this test looks at
            if self.run is not None:
                started.append(self.run.system.scenario)

    run_state_machine_as_test(
        RecordingMachine, settings=settings(max_examples=60, stateful_step_count=20, derandomize=True, database=None)
    )
    seen = frozenset(f for s in started for f in static_features(s))
    wanted = {"overlap_covering", "overlap_partial", "dep_wait", "dep_wait_retain", "dummy_task", "alloc_task",
              "spmd", "manual_scope", "get_tensor_data", "set_tensor_data"}
    assert wanted <= seen, sorted(wanted - seen)
