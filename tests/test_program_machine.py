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
