"""The store-buffer (x86-TSO) execution mode (runtime/store_buffer.py) and the weak-memory mutant it makes
reachable (M_FANIN_SB_WEAK, catalogue H01).

The litmus tests pin the semantics down exhaustively (unbounded DFS); the port tests show that the mode
finds, within preemption bound 1, the catalogue's lost wake-up that no sequentially consistent schedule
within that bound has (the mutant's search case, in tests/test_port_mutants.py, adds that the unmutated
port passes the same search)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from fuzz.cli import main
from model.errors import ScenarioError
from model.scenario import load_scenario, scenario_from_dict, scenario_to_dict
from properties.port_checks import port_observers, retain_pairs
from runtime.core import Executor, Failure, StepRecord
from runtime.dfs import DfsEngine
from runtime.execution import RandomScheduler, format_trace, run_once
from runtime.search import SearchBounds, SearchReport, search
from runtime.toys import StoreBufferingLitmus
from runtime.trb import TrbSystem

SB_WEAK = "M_FANIN_SB_WEAK"
BOTH_ZERO = (0, 0)


class _Outcomes:
    """Collects each execution's loaded values (r0, r1) and what each thread re-read of its own store."""

    def __init__(self) -> None:
        self.loaded: set[tuple[int, int]] = set()
        self.own: set[tuple[int, int]] = set()

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        return None

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        toy = ex.system
        assert isinstance(toy, StoreBufferingLitmus)
        self.loaded.add(toy.outcome())
        cells = toy.mem.cells
        self.own.add((cells[toy.own_seen], cells[toy.own_seen + 1]))
        return None


def _litmus(memory_model: str, between: str = "", seq_cst_store: bool = False) -> _Outcomes:
    seen = _Outcomes()
    result = DfsEngine(lambda: StoreBufferingLitmus(memory_model, between, seq_cst_store), preemption_bound=None,
                       observers=[seen], stop_at_first_failure=False).run()
    assert result.complete and result.end_outcomes == {"done": result.executions}, result.summary_line()
    return seen


@pytest.mark.parametrize("between", ["", "fetch_add", "reload"])
@pytest.mark.parametrize("seq_cst_store", [False, True])
def test_sequential_consistency_never_lets_both_loads_miss(between: str, seq_cst_store: bool) -> None:
    assert _litmus("sc", between, seq_cst_store).loaded == {(0, 1), (1, 0), (1, 1)}


def test_tso_lets_both_loads_miss_the_other_threads_release_store() -> None:
    """The store-buffering outcome: each thread's store still sits in its buffer when the other loads."""
    assert _litmus("tso").loaded == {BOTH_ZERO, (0, 1), (1, 0), (1, 1)}


def test_a_thread_reads_its_own_buffered_store() -> None:
    seen = _litmus("tso", between="reload")
    assert seen.own == {(1, 1)}  # store forwarding: never its own stale value
    assert BOTH_ZERO in seen.loaded  # ... while the other thread still cannot see it


@pytest.mark.parametrize("between, seq_cst_store", [("fetch_add", False), ("", True)])
def test_an_rmw_or_a_seq_cst_store_drains_the_buffer(between: str, seq_cst_store: bool) -> None:
    assert BOTH_ZERO not in _litmus("tso", between, seq_cst_store).loaded


def test_a_tso_run_is_reproducible_from_its_seed() -> None:
    scenario = retain_pairs(2).with_config(memory_model="tso")

    def once() -> tuple[list[int], str]:
        system = TrbSystem(scenario)
        scheduler = RandomScheduler(seed=5)
        scheduler.new_execution()
        result = run_once(system, scheduler, port_observers()(system), record_trace=True)
        assert result.outcome == "done", result.work_left
        return result.schedule, format_trace(result, system)

    first, again = once(), once()
    assert first == again
    assert "store buffer of orch: commit " in first[1]  # commits are steps of the trace, like any other


@cache  # one search per (machine, mutants) for the whole module: the replay test reuses the found one
def _bounded_dfs(memory_model: str, mutants: tuple[str, ...]) -> SearchReport:
    scenario = retain_pairs(1, 1).with_config(memory_model=memory_model)
    bounds = SearchBounds(preemptions=1, max_steps=20_000)
    return search(lambda: TrbSystem(scenario, mutants), "dfs", 0, bounds, port_observers())


def test_the_h01_mutant_is_a_lost_wakeup_under_tso_within_one_preemption() -> None:
    """Catalogue H01's minimal shape (one producer, one consumer, one scheduler thread): the orchestrator's
    fanin_count store waits in its buffer while it loads fanin_refcount, the scheduler's increment then
    loads the stale fanin_count, and neither side makes the consumer ready."""
    found = _bounded_dfs("tso", (SB_WEAK,))
    assert found.failures and found.failures[0].property_id == "no_lost_wakeup", found.verdict()
    assert "Y0 has every producer completed but never completed" in found.failures[0].message


def test_the_h01_mutant_is_no_bug_under_sequential_consistency() -> None:
    """The same bounded search without store buffers: one side always sees the other's write."""
    clean = _bounded_dfs("sc", (SB_WEAK,))
    assert clean.ok and clean.dfs is not None and clean.dfs.completed_bound == 1, clean.verdict()


# The unmutated port passing the same TSO search, and the generated programs, are the mutant's search case
# (properties.port_checks.MUTANT_CASES, run by tests/test_port_mutants.py).


def test_the_counterexample_replays_strictly_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = _bounded_dfs("tso", (SB_WEAK,))
    assert found.failures
    schedule = found.failures[0].schedule_text()
    path = tmp_path / "h01.json"
    path.write_text(json.dumps(scenario_to_dict(retain_pairs(1, 1).with_config(memory_model="tso"))))
    assert main(["run", str(path), "--mutant", SB_WEAK, "--schedule", schedule]) == 1
    out = capsys.readouterr().out
    assert "failure: no_lost_wakeup" in out and f"schedule: {schedule}" in out
    # the same schedule under the other memory model is a different machine: refused at the first step
    # whose thread cannot run there (or the run ends without the failure), never a silent pass
    code = main(["run", str(path), "--memory-model", "sc", "--mutant", SB_WEAK, "--schedule", schedule])
    captured = capsys.readouterr()
    assert code != 0 and "failure: no_lost_wakeup" not in captured.out


def test_memory_model_is_written_only_when_not_sc_and_read_back() -> None:
    plain = retain_pairs(1)
    assert "memory_model" not in scenario_to_dict(plain)["config"]
    tso = plain.with_config(memory_model="tso")
    doc = scenario_to_dict(tso)
    assert doc["config"]["memory_model"] == "tso"
    assert scenario_from_dict(doc) == tso


def test_a_bad_memory_model_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = scenario_to_dict(retain_pairs(1))
    doc["config"]["memory_model"] = "arm"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ScenarioError, match="unknown memory_model 'arm'"):
        load_scenario(path)
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "config.memory_model" in err and "use one of sc, tso" in err and err.count("\n") == 1


def test_tso_is_refused_where_it_is_not_implemented(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "abg_pa_two_blocks", "--memory-model", "tso"]) == 2
    assert "implemented only for tensormap_and_ringbuffer" in capsys.readouterr().err
    assert main(["explore", "pa_case_small1", "--memory-model", "tso"]) == 2
    assert "needs --target port" in capsys.readouterr().err


class _StaleReads:
    """Counts steps at which a thread reads a cell whose newest value still sits in another thread's buffer."""

    def __init__(self, system: TrbSystem) -> None:
        self.system = system
        self.stale = 0

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        buffers = self.system.step_hooks
        assert buffers is not None
        pending = {cell for tid, entries in buffers.pending.items() if tid != rec.tid
                   for entry, _op in entries for cell, _value in entry}
        self.stale += bool(pending.intersection(rec.op.reads))
        return None

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        return None


def test_sometimes_a_port_thread_reads_past_another_threads_buffered_store() -> None:
    """The witness that the mode is not vacuous on the port: the orchestrator's and schedulers' stores do
    stay buffered while other threads read those cells (the old value, from memory)."""
    scenario = retain_pairs(2).with_config(memory_model="tso")
    system = TrbSystem(scenario)
    seen = _StaleReads(system)
    scheduler = RandomScheduler(seed=5)
    scheduler.new_execution()
    assert run_once(system, scheduler, [seen]).outcome == "done"
    assert seen.stale > 0


def test_a_deferred_state_check_is_matched_to_findings_by_property_alone_on_store_buffers() -> None:
    """Under TSO a state invariant fails at the commit that emptied the last buffer (here one of
    alloc_tensors' stores), which names no mechanism: the registered finding of that property matches.
    Sequentially consistent, the blamed function must still be one of the finding's."""
    from fuzz.campaigns.known import KNOWN, classify
    from properties.artifacts import Signature

    scenario = retain_pairs(2)
    signature = Signature(scenario.runtime, "consumed_prefix", "mark_completed")
    assert classify(signature, (), scenario.with_config(memory_model="tso")) == (KNOWN, "F-PORT-LA-UNPREPARED")
    assert classify(signature, (), scenario)[0] != KNOWN
