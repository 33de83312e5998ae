"""Startup failure injection (catalogue K01b, spec §2.1 / INV-E4): every abort path of AicpuExecutor::run's
orchestrator block publishes runtime_init_ready_ and every thread then stops; M_INIT_ABORT_NO_FLAG (an abort
path that forgets the flag) is found and named by the INV-E4 check, and by the termination check without it;
the scenario option round-trips and bad values are one-line errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings

from fuzz.campaigns.known import search_clean_port
from fuzz.cli import main
from model.errors import ScenarioError
from model.scenario import INIT_FAILURES, Expected, FatalCode, dump_scenario, scenario_from_dict, validate
from properties.port_checks import (
    PROPERTY_NAMES,
    PortInvariants,
    PortWitnesses,
    port_observers,
    retain_pairs,
    with_startup_abort,
)
from properties.strategies import ProgramLimits, startup_failure_scenarios
from runtime.core import Executor, Failure, StepRecord
from runtime.execution import DEADLOCK, DONE, RandomScheduler, run_once
from runtime.search import SearchBounds, search
from runtime.trb import TrbSystem
from runtime.trb import cites as C
from runtime.trb.audit import audit
from runtime.trb.startup import PATHS

MUTANT = "M_INIT_ABORT_NO_FLAG"
NO_INV_E4 = frozenset(PROPERTY_NAMES) - {"init_flag_published"}


class _Both:
    """The port's checks and its witnesses in one observer (witnesses count only on passing runs)."""

    def __init__(self, system: TrbSystem) -> None:
        self.inv = PortInvariants(system)
        self.witnesses = PortWitnesses(system)

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        self.witnesses.on_step(ex, rec)
        return self.inv.on_step(ex, rec)

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        failure = self.inv.at_end(ex, outcome)
        if failure is None:
            self.witnesses.at_end(ex, outcome)
        return failure


@pytest.mark.parametrize("failure", INIT_FAILURES)
def test_every_abort_path_publishes_the_flag_and_every_thread_stops(failure: str) -> None:
    scenario = with_startup_abort(retain_pairs(2), failure)
    for seed in range(4):
        system = TrbSystem(scenario)
        both = _Both(system)
        scheduler = RandomScheduler(seed, 1)
        scheduler.new_execution()
        result = run_once(system, scheduler, [both], max_steps=5000, record_trace=True)
        assert result.outcome == DONE and result.failure is None, (result.outcome, result.failure, result.work_left)
        assert "init_abort_terminated" in both.witnesses.seen  # the sometimes witness
        c = system.c
        assert c[system.E_INIT_READY] == 1 and c[system.E_RT] == 0 and c[system.E_KERNEL_RC] == -1
        # as in the C++: run() returned before finished_count_'s fetch_add, so no thread was the last one and
        # AicpuExecutor::deinit never ran (the flag and the count stay as the abort left them)
        assert c[system.E_FINISHED_COUNT] == system.n_sched and c[system.E_FINISHED] == 0
        assert not any(system.ghost_submitted[0]) and not any(system.ghost_kernels[0])
        # the orchestrator's startup names its C++ path; the schedulers saw the flag and skipped dispatch
        whats = [(rec.op.what, rec.op.cite) for rec in result.trace]
        assert any(PATHS[failure].check in what and "runtime_init_ready_ = true" in what for what, _ in whats)
        assert not any("resolve_and_dispatch" in cite.function for _what, cite in whats)
        assert sum("wait runtime_init_ready_" in what for what, _ in whats) == system.n_sched


def test_abort_steps_cite_the_cpp_functions_they_mirror() -> None:
    listed = {(c.file, c.function) for c in C.cited_functions()}
    for failure in INIT_FAILURES:
        system = TrbSystem(with_startup_abort(retain_pairs(1), failure))
        scheduler = RandomScheduler(0, 1)
        scheduler.new_execution()
        result = run_once(system, scheduler, [], max_steps=5000, record_trace=True)
        cites = {(rec.op.cite.file, rec.op.cite.function) for rec in result.trace}
        assert cites <= listed
        assert (C.AICPU_EXECUTE.file, C.AICPU_EXECUTE.function) in cites
        assert (PATHS[failure].cite.file, PATHS[failure].cite.function) in cites
    assert PATHS["sm_init_per_ring_failed"].cite == C.SM_INIT_PER_RING
    assert PATHS["runtime_reset_for_reuse_failed"].cite == C.RUNTIME_RESET


def test_unmutated_abort_passes_a_bounded_dfs_and_the_mutant_is_named_by_inv_e4() -> None:
    scenario = with_startup_abort(retain_pairs(1, scheduler_threads=2), "runtime_reset_for_reuse_failed")
    bounds = SearchBounds(preemptions=1, max_states=4000, max_steps=5000)
    clean = search(lambda: TrbSystem(scenario), "dfs", 0, bounds, port_observers())
    assert clean.ok, clean.lines()
    assert "max_states" not in clean.verdict()  # the preemption-bounded space was covered
    mutated = search(lambda: TrbSystem(scenario, (MUTANT,)), "dfs", 0, bounds, port_observers())
    assert [f.property_id for f in mutated.failures] == ["init_flag_published"], mutated.lines()
    assert "runtime_init_ready_" in mutated.failures[0].message


@pytest.mark.parametrize("failure", ["invalid_callable_id", "sm_init_per_ring_failed"])
def test_without_the_inv_e4_check_the_hang_is_caught_by_termination(failure: str) -> None:
    """Liveness: the schedulers spin on the flag forever; the run ends in a deadlock that run_terminates names."""
    scenario = with_startup_abort(retain_pairs(2), failure)
    report = search(lambda: TrbSystem(scenario, (MUTANT,)), "random", 1, SearchBounds(runs=5, max_steps=5000),
                    port_observers(NO_INV_E4))
    assert report.failures and report.failures[0].property_id == "run_terminates", report.lines()
    system = TrbSystem(scenario, (MUTANT,))
    scheduler = RandomScheduler(1, 1)
    scheduler.new_execution()
    result = run_once(system, scheduler, [], max_steps=5000)
    assert result.outcome == DEADLOCK
    # every scheduler thread is the one left spinning on the flag the abort never published
    spinning = [line for line in result.thread_states if "blocked on run[" in line and "runtime_init_ready_" in line]
    assert len(spinning) == system.n_sched, result.thread_states
    assert system.c[system.E_INIT_READY] == 0 and system.c[system.E_KERNEL_RC] == -1


def test_an_abort_after_a_complete_run_finds_the_flag_re_armed_by_deinit() -> None:
    """Run 0 completes and deinit stores runtime_init_ready_ = false; run 1's abort must publish it again."""
    scenario = with_startup_abort(replace(retain_pairs(2, 1, "pairs_1sched"), runs=2), "callable_not_registered")
    assert scenario.config.init_failure_run == 1
    clean = search(lambda: TrbSystem(scenario), "random", 2, SearchBounds(runs=8, max_steps=8000), port_observers())
    assert clean.ok, clean.lines()
    system = TrbSystem(scenario)
    scheduler = RandomScheduler(2, 1)
    scheduler.new_execution()
    assert run_once(system, scheduler, port_observers()(system), max_steps=8000).outcome == DONE
    assert all(n == 1 for n in system.ghost_consumed[0]) and not any(system.ghost_submitted[1])
    mutated = search(lambda: TrbSystem(scenario, (MUTANT,)), "random", 2, SearchBounds(runs=8, max_steps=8000),
                     port_observers())
    assert mutated.failures and mutated.failures[0].property_id == "init_flag_published"


def test_footprints_cover_the_abort_paths() -> None:
    scenarios = [with_startup_abort(retain_pairs(1), f) for f in ("prebuilt_arena_null", "runtime_reset_for_reuse_failed")]
    scenarios.append(with_startup_abort(replace(retain_pairs(1), runs=2), "sm_init_per_ring_failed"))
    problems = audit(scenarios, range(2))
    assert problems == [], "\n".join(p.text() for p in problems[:20])
    problems = audit(scenarios[:1], range(2), [MUTANT])
    assert problems == [], "\n".join(p.text() for p in problems[:20])


@settings(max_examples=8, deadline=None)
@given(startup_failure_scenarios(ProgramLimits(max_tasks=8)))
def test_generated_programs_with_an_abort_pass_and_the_mutant_is_named(scenario: object) -> None:
    from model.scenario import Scenario

    assert isinstance(scenario, Scenario) and scenario.config.init_failure in INIT_FAILURES
    clean = search_clean_port(scenario, "random", 1, 2, 20_000)
    assert not clean.unregistered, clean.report.lines()
    if clean.report.failures:  # a registered finding in a run before the abort: it is what a search reports
        assert scenario.config.init_failure_run > 0, clean.report.lines()
        return
    bounds = SearchBounds(runs=2, max_steps=20_000)
    mutated = search(lambda: TrbSystem(scenario, (MUTANT,)), "random", 1, bounds, port_observers())
    assert mutated.failures and mutated.failures[0].property_id == "init_flag_published", mutated.lines()


# ---------------------------------------------------------------------- scenario option


def test_the_option_round_trips_and_is_absent_when_unset() -> None:
    plain = retain_pairs(1)
    assert "init_failure" not in dump_scenario(plain)
    injected = with_startup_abort(replace(plain, runs=2), "arg_count_below_expected", 1)
    doc = json.loads(dump_scenario(injected))
    assert doc["config"]["init_failure"] == "arg_count_below_expected" and doc["config"]["init_failure_run"] == 1
    assert scenario_from_dict(doc) == injected


@pytest.mark.parametrize(
    ("changes", "runtime", "expected", "where"),
    [
        ({"init_failure": "disk_full"}, None, None, "config.init_failure"),
        ({"init_failure": "invalid_callable_id", "init_failure_run": 1}, None, None, "config.init_failure_run"),
        ({"init_failure_run": 1}, None, None, "config.init_failure_run"),
        ({"init_failure": "invalid_callable_id"}, "host_build_graph", None, "config.init_failure"),
        ({"init_failure": "invalid_callable_id"}, None, Expected(FatalCode.SCOPE_DEADLOCK), "expected"),
    ],
)
def test_bad_options_are_rejected_where_they_are(
    changes: dict[str, object], runtime: str | None, expected: Expected | None, where: str
) -> None:
    scenario = retain_pairs(1).with_config(**changes)
    if runtime is not None:
        scenario = replace(scenario, runtime=runtime)
    if expected is not None:
        scenario = replace(scenario, expected=expected)
    with pytest.raises(ScenarioError) as info:
        validate(scenario)
    assert info.value.where == where


def test_the_cli_runs_an_abort_on_the_port_and_refuses_it_on_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "abort.json"
    path.write_text(dump_scenario(with_startup_abort(retain_pairs(1), "prebuilt_arena_null")), encoding="utf-8")
    assert main(["run", str(path), "--scheduler", "random", "--seed", "1"]) == 0
    assert main(["run", str(path), "--scheduler", "random", "--seed", "1", "--mutant", MUTANT]) == 1
    out = capsys.readouterr().out
    assert "init_flag_published" in out
    assert main(["explore", str(path)]) == 2
    err = capsys.readouterr().err
    assert "config.init_failure" in err and err.count("\n") == 1


def test_the_mutant_hunt_injects_an_abort_into_generated_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mutants", MUTANT, "--hunt", "4", "--init-failure", "invalid_callable_id"]) == 0
    out = capsys.readouterr().out
    assert f"{MUTANT}: seed 0: init_flag_published" in out and "init_failure=invalid_callable_id" in out
    assert main(["mutants", MUTANT, "--hunt", "4", "--init-failure", "disk_full"]) == 2
    assert "--init-failure" in capsys.readouterr().err


def test_a_saved_mutant_run_replays_strictly_and_a_clean_abort_run_is_judged_complete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from properties.artifacts import Artifact, Signature, save_artifact
    from properties.replay import PORT_CHECKS

    scenario = with_startup_abort(retain_pairs(1), "sm_init_per_ring_failed")
    system = TrbSystem(scenario, (MUTANT,))
    scheduler = RandomScheduler(1, 1)
    scheduler.new_execution()
    result = run_once(system, scheduler, port_observers()(system), max_steps=5000, record_trace=True)
    assert result.failure is not None and result.failure.property_id == "init_flag_published"
    artifact = Artifact(
        "port-run", scenario, Signature(scenario.runtime, "init_flag_published", "aicpu_execute"),
        result.failure.message, "random", 1, "runs<=1", "ptocheck run", schedule=result.schedule_text(),
        mutants=(MUTANT,), failing_step=result.failure.step, extra={"observers": [PORT_CHECKS]},
    )
    path = tmp_path / "abort_no_flag.json"
    save_artifact(path, artifact)
    assert main(["replay", str(path)]) == 1
    out = capsys.readouterr().out
    assert "violation: init_flag_published" in out and "runtime_init_ready_ not published" in out
    # the port-run judgement (ptocheck run) of a clean abort after a complete run: every check passes
    two_runs = tmp_path / "abort_run1.json"
    two_runs.write_text(dump_scenario(with_startup_abort(replace(retain_pairs(1), runs=2), "invalid_callable_id")),
                        encoding="utf-8")
    assert main(["run", str(two_runs), "--scheduler", "random", "--seed", "3"]) == 0


def test_the_startup_campaign_finds_the_mutant_and_passes_the_clean_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["fuzz", "--campaign", "startup", "--iterations", "6", "--seed", "1", "--quiet", "--workers", "1"]
    assert main([*common, "--corpus", str(tmp_path / "clean")]) == 0
    assert "no failure within bounded(executions=12" in capsys.readouterr().out
    assert main([*common, "--corpus", str(tmp_path / "mutant"), "--mutant", MUTANT]) == 1
    assert f"[mutant {MUTANT}] init_flag_published" in capsys.readouterr().out
