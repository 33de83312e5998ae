"""`--runtime` on explore, run and replay: the same workload on each runtime, and clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fuzz.cli import main
from fuzz.scenario_args import resolve_scenario
from model.builders import BUILTIN_SCENARIOS, RUNTIME_FAMILIES
from model.errors import ScenarioError
from model.scenario import RUNTIMES

ROOT = Path(__file__).resolve().parent.parent


def test_every_family_member_is_a_builtin_of_its_runtime() -> None:
    for family in RUNTIME_FAMILIES:
        for runtime, name in family.items():
            assert BUILTIN_SCENARIOS[name]().runtime == runtime


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_pa_two_blocks_resolves_to_each_runtimes_own_graph(runtime: str) -> None:
    scenario, handle = resolve_scenario("pa_two_blocks", runtime)
    assert scenario.runtime == runtime
    assert handle in BUILTIN_SCENARIOS


def test_a_trb_program_runs_unchanged_on_host_build_graph() -> None:
    original, _ = resolve_scenario("pa_scope_deadlock")
    on_hbg, handle = resolve_scenario("pa_scope_deadlock", "host_build_graph")
    assert on_hbg.runtime == "host_build_graph" and on_hbg.program == original.program
    # host_build_graph has no ring/scope limits: the TRB fatal it expects does not carry over
    assert original.expected.fatal is not None and on_hbg.expected.fatal is None
    assert "--runtime host_build_graph" in handle


def test_no_variant_is_one_clear_error() -> None:
    with pytest.raises(ScenarioError, match="no aicpu_build_graph variant"):
        resolve_scenario("pa_scope_deadlock", "aicpu_build_graph")


@pytest.mark.parametrize("runtime", ["aicpu_build_graph", "aicpu_build_graph_v2", "host_build_graph"])
def test_explore_checks_the_runtimes_own_model(runtime: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "pa_two_blocks", "--runtime", runtime, "--json"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["runtime"] == runtime
    assert line["result"] == "complete" and not line["violations"]


def test_explore_names_a_default_it_skips(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "--runtime", "aicpu_build_graph"]) == 0
    out = capsys.readouterr().out
    assert "pa_scope_deadlock: skipped (no aicpu_build_graph variant" in out
    assert "abg_pa_two_blocks [aicpu_build_graph]" in out


def test_explore_of_a_mutated_workload_reports_the_violation_on_that_runtime(capsys: pytest.CaptureFixture[str]) -> None:
    # the host_build_graph model of a TRB program explores clean; the scope deadlock TRB expects is gone
    assert main(["explore", "pa_scope_deadlock", "--runtime", "host_build_graph"]) == 0
    assert "every run ends with all" in capsys.readouterr().out


@pytest.mark.parametrize("runtime", ["aicpu_build_graph", "aicpu_build_graph_v2", "host_build_graph"])
def test_run_uses_the_runtimes_port_and_checks(runtime: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "pa_two_blocks", "--runtime", runtime, "--scheduler", "pct", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert f"[{runtime}]" in out and "expected outcome reached" in out


def test_run_checks_the_ports_properties(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`run`'s verdict includes the port's property checks, not only its outcome: a schedule a search found
    for a mutant of aicpu_build_graph, run with `--schedule`, fails with the property named."""
    from model.scenario import dump_scenario
    from properties.other_runtimes import kernel_observers
    from properties.runtimes import system_for
    from runtime.execution import encode_schedule
    from runtime.search import SearchBounds, search
    from tests.test_abg_port import TWO_PREDECESSORS

    mutant = "abg.decrement_outside_lock"
    found = search(
        lambda: system_for(TWO_PREDECESSORS, (mutant,)),
        "pct",
        seed=1,
        bounds=SearchBounds(runs=200, preemptions=2, max_steps=20_000),
        observers=kernel_observers(TWO_PREDECESSORS),
    )
    failure = found.failures[0]
    path = tmp_path / "two_predecessors.json"
    path.write_text(dump_scenario(TWO_PREDECESSORS), encoding="utf-8")
    schedule = encode_schedule(failure.schedule)
    assert main(["run", str(path), "--mutant", mutant, "--schedule", schedule]) == 1
    out = capsys.readouterr().out
    assert f"failure: {failure.property_id}" in out


def test_run_refuses_a_mutant_of_another_runtime() -> None:
    code = main(["run", "pa_two_blocks", "--runtime", "host_build_graph", "--mutant", "M_HEAP_TAIL_ABSOLUTE"])
    assert code == 2


def test_replay_refuses_a_runtime_the_artifact_did_not_record(capsys: pytest.CaptureFixture[str]) -> None:
    artifact = str(ROOT / "tests" / "regressions" / "abg_v1_early_exit.json")
    assert main(["replay", artifact, "--runtime", "host_build_graph"]) == 2
    assert "records a run of aicpu_build_graph" in capsys.readouterr().err
    assert main(["replay", artifact, "--runtime", "aicpu_build_graph"]) == 1
