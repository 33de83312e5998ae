"""The step-level TRB port: built-in scenarios, determinism, multi-run memory, accessors, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from model.errors import PtocheckError
from model.scenario import (
    Arg,
    DepKind,
    ExplicitDep,
    OutputSpec,
    Region,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    Submit,
    Tag,
    validate,
)
from runtime.core import Executor, Failure, StepRecord
from runtime.execution import DONE, RandomScheduler, ReplayScheduler, format_trace, run_once
from runtime.trb import TrbSystem, cited_functions
from runtime.trb import consts as K
from runtime.trb.cites import TRB
from runtime.trb.plan import NotPortedError
from tests.test_trb_port_support import (
    TRB_BUILTINS,
    HeapBounds,
    PassedUnconsumed,
    builtin,
    ghost_problems,
    order_violations,
    run,
    scoped_groups,
    small_config,
)

REPO = Path(__file__).resolve().parent.parent

# Seeds of the random scheduler checked on every built-in scenario. These are fixed (determinism is
# tested below); they are not searched for: the INV-R8 finding (see test_finding_inv_r8) shows up on
# pa_var_seq4_window8 for a few percent of seeds and is reported, not hidden.
SEEDS = (1, 2, 3)


@pytest.mark.parametrize("name", TRB_BUILTINS)
def test_builtin_reaches_expected_outcome_round_robin(name: str) -> None:
    result, system, _ = run(builtin(name))
    assert result.outcome == DONE, (result.work_left, result.thread_states)
    if system.scenario.expected.fatal is None:
        assert ghost_problems(system) == []
        assert order_violations(system) == []
    else:
        assert system.fatal_code() == int(system.scenario.expected.fatal)


@pytest.mark.parametrize("name", TRB_BUILTINS)
def test_builtin_reaches_expected_outcome_random(name: str) -> None:
    for seed in SEEDS:
        result, system, _ = run(builtin(name), seed)
        assert result.outcome == DONE, (seed, result.work_left)
        if system.scenario.expected.fatal is None:
            assert ghost_problems(system) == [], seed
            assert order_violations(system) == [], seed


def test_heap_stays_in_bounds_and_disjoint_with_wraps() -> None:
    """Small heaps force wraps, strict gaps and blocking; INV-H1 holds at every step, and the ring-2 heap
    does wrap (heap_top moves back to the start) in every run checked."""

    class Wraps(HeapBounds):
        def __init__(self, system: TrbSystem) -> None:
            super().__init__(system)
            self.top = 0
            self.wraps = 0

        def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
            top = self.s.c[self.s.AL_TOP + 2]
            if top < self.top:
                self.wraps += 1
            self.top = top
            return super().on_step(ex, rec)

    scenario = builtin("pa_var_seq4_window8", heap_bytes=(4096, 4096, 8192, 4096))
    for seed in (-1, 0, 4):
        result, _system, obs = run(scenario, seed, observers=(Wraps,))
        assert result.outcome == DONE, (seed, result.failure, result.work_left)
        assert obs[0].wraps > 0


def test_runs_share_memory_and_all_complete() -> None:
    scenario = builtin("pa_two_blocks", runs=3)
    result, system, _ = run(scenario, 5)
    assert result.outcome == DONE, result.work_left
    assert ghost_problems(system) == []
    # What the C++ leaves behind: every used slot CONSUMED, descriptors of the last run, queue positions.
    for r in range(4):
        for s in range(system.plan.nslots[r]):
            view = system.slot_view(r, s)
            assert view.task_state == K.CONSUMED and view.bound
    pushed = sum(system.c[system.Q_ENQ + q] for q in range(4))
    assert pushed >= 3 * sum(1 for t in system.plan.tasks if not t.is_alloc)
    assert all(not items for items in system.ready_queue_contents().values())


def test_first_boot_is_zero_filled_and_a_forged_id_on_it_is_gone() -> None:
    """X names Y, which comes later: on a zero-filled first boot Y's slot has no task pointer, so the
    claim sees it gone and X runs without waiting (append_fanin_or_fail's `task == nullptr`)."""
    prog = (
        ScopeBegin(),
        Submit("X", (-1, 0, -1), deps=(ExplicitDep("Y", DepKind.WAIT),)),
        ScopeEnd(),
        ScopeBegin(),
        ScopeBegin(),
        Submit("Y", (-1, 0, -1)),
        ScopeEnd(),
        ScopeEnd(),
    )
    scenario = validate(Scenario("forward_dep", small_config(), (), prog, runs=2))
    system = TrbSystem(scenario)
    g_y = system.slot_of(2, 0)
    assert system.c[system.S_BOUND + g_y] == 0 and system.c[system.S_STATE + g_y] == K.PENDING
    result, system, _ = run(scenario, 7, trace=True)
    assert result.outcome == DONE, result.work_left
    text = format_trace(result, system)
    assert text.count("append_fanin_or_fail L(r2s0)") == 2  # once per run: Y's slot, found gone each time
    assert system.slot_view(1, 0).edges == () and ghost_problems(system) == []


def test_fanin_spill_and_pool_backpressure() -> None:
    """Fanin edges beyond the (scaled) inline cap spill to the ring's pool; pools are tiny."""
    scenario = builtin("dummy_dense_fanout_fanin", constants={"fanin_inline_cap": 4})
    result, system, _ = run(scenario, 3)
    assert result.outcome == DONE, result.work_left
    assert system.ring_view(0).fanin_pool[0] > 1  # spill entries were allocated
    assert ghost_problems(system) == [] and order_violations(system) == []
    tight = builtin("pa_two_blocks", constants={"tensormap_pool_size": 4})
    result, system, _ = run(tight)
    assert result.outcome == DONE, result.work_left


def test_expected_fatal_scope_deadlock_and_device_reset() -> None:
    result, system, _ = run(builtin("pa_scope_deadlock"), 2)
    assert result.outcome == DONE
    assert system.fatal_code() == K.SCOPE_DEADLOCK
    assert system.c[system.HOST_RESET] == 1


def test_finding_inv_r8_commit_before_prepare() -> None:
    """Finding (reported to the lead): commit_task stores current_task_index before prepare_task stores
    PENDING, so advance_ring_pointers can pass a live task whose reused slot still reads CONSUMED.

    Strict replay of a recorded schedule on a 12-task scenario; the port reaches it faithfully."""
    scenario = scoped_groups(6, 2)
    result, system, obs = run(scenario, 237, observers=(PassedUnconsumed,), trace=True)
    hits = obs[0].hits
    assert hits and hits[0][1:] == (1, 6), hits
    step = hits[0][0]
    window = format_trace(result, system).splitlines()[step - 6 : step + 1]
    assert any("commit_task r1" in line for line in window)
    assert "advance_ring_pointers r1: scan" in window[-1]
    assert result.outcome != DONE and "never consumed" in (result.work_left or "")
    replay = ReplayScheduler(result.schedule, system.thread_names())
    replay.new_execution()
    again = run_once(TrbSystem(scenario), replay)
    assert again.outcome == result.outcome and again.work_left == result.work_left


# ---------------------------------------------------------------------- determinism


def test_same_seed_same_trace_in_process() -> None:
    scenario = builtin("pa_two_blocks")
    texts = []
    for _ in range(2):
        result, system, _ = run(scenario, 11, trace=True)
        texts.append(format_trace(result, system))
    assert texts[0] == texts[1] and texts[0]


def test_same_seed_same_trace_across_processes_and_hash_seeds() -> None:
    outputs = []
    for hash_seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        proc = subprocess.run(
            [sys.executable, "-m", "fuzz.cli", "run", "pa_two_blocks", "--scheduler", "random", "--seed", "11",
             "--trace"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]
    assert "trace:" in outputs[0] and "schedule: ptosched1:" in outputs[0]


# ---------------------------------------------------------------------- state keys, accessors, cites


def test_state_key_is_plain_and_tracks_progress() -> None:
    system = TrbSystem(builtin("pa_two_blocks"))
    ex = Executor(system)
    keys = [ex.state_key()]
    sched = RandomScheduler(2)
    sched.new_execution()
    for step in range(120):
        choices, fire = ex.choices()
        ex.step(sched.choose(choices, None, step), fire)
        keys.append(ex.state_key())
    assert len(set(keys)) > 100
    assert all(isinstance(hash(k), int) for k in keys)


def test_accessors_describe_the_running_system() -> None:
    system = TrbSystem(builtin("pa_two_blocks"))
    ex = Executor(system)
    sched = RandomScheduler(9)
    sched.new_execution()
    seen_prepared_unpublished = False
    for step in range(400):
        choices, fire = ex.choices()
        if not choices:
            break
        ex.step(sched.choose(choices, None, step), fire)
        ring = system.ring_view(2)
        assert 0 <= ring.current_task_index - ring.last_task_alive <= system.windows[2] - 1
        assert ring.local_task_id == ring.current_task_index
        if system.scope_stack():
            assert len(system.scope_stack()) == system.p[system.O_SCOPE_TOP] + 1
        for k in range(system.n_cores):
            view = system.core_view(k)
            assert view.owner_thread == system.owner_of_core[k]
        for s in range(system.plan.nslots[2]):
            v = system.slot_view(2, s)
            if v.bound and v.task_state == K.PENDING and v.fanin_count == 0:
                seen_prepared_unpublished = True
    assert seen_prepared_unpublished
    run_index, pc = system.program_counter()
    assert run_index == 0 and 0 <= pc <= len(system.plan.instrs)


def test_every_op_cites_a_listed_function() -> None:
    listed = {(c.file, c.function) for c in cited_functions()}
    assert len(listed) > 60
    assert all(f.startswith((TRB, "src/a2a3/platform/")) for f, _ in listed)
    result, _system, _ = run(builtin("pa_two_blocks"), 4, trace=True)
    used = {(rec.op.cite.file, rec.op.cite.function) for rec in result.trace}
    assert used <= listed
    assert len(used) > 40


# ---------------------------------------------------------------------- bad input


def test_bad_input_is_one_clear_error() -> None:
    with pytest.raises(PtocheckError, match="unknown mutant"):
        TrbSystem(builtin("pa_two_blocks"), ["M_NOPE"])
    with pytest.raises(PtocheckError, match="not available: needs wall-clock timers"):
        TrbSystem(builtin("pa_two_blocks"), ["M_TMAP_PROGRESS_BY_WATERMARK"])
    cohort_after_flagged = validate(Scenario("early_cohort", small_config(clusters=2), (), (
        Submit("p", (0, -1, -1), (Arg(Tag.OUTPUT, creates=OutputSpec("x", (16,), "FLOAT32")),), early_resolve=True),
        Submit("c", (0, -1, -1), (Arg(Tag.INPUT, region=Region("x", (16,), (1,))),), block_num=2, sync_start=True),
    )))
    with pytest.raises(NotPortedError, match="early sync_start path"):
        TrbSystem(cohort_after_flagged)
    sync = validate(Scenario("sync", small_config(clusters=2), (), (Submit("a", (0, -1, -1), block_num=2, sync_start=True),)))
    assert TrbSystem(sync).has_sync_drain  # a schedulable cohort runs the drain (tests/test_port_sync_drain.py)
    other = [n for n in ("abg_pa_two_blocks", "hbg_pa_two_blocks") if n in builtin.__globals__["BUILTIN_SCENARIOS"]]
    for name in other:
        with pytest.raises(PtocheckError, match="tensormap_and_ringbuffer"):
            TrbSystem(builtin(name))


def test_sync_start_above_the_core_limit_is_fatal_7() -> None:
    prog = (Submit("a", (0, -1, -1), block_num=3, sync_start=True),)
    scenario = validate(Scenario("sync7", small_config(clusters=2), (), prog))
    result, system, _ = run(scenario)
    assert system.fatal_code() == K.REQUIRE_SYNC_START_INVALID
    assert "expects every task consumed" in (result.work_left or "")


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "no_such_scenario"], "no built-in scenario"),
        (["run", "pa_two_blocks", "--mutant", "M_NOPE"], "unknown mutant"),
        (["run", "pa_two_blocks", "--schedule", "0*3"], "ptosched1"),
        (["run", "pa_two_blocks", "--max-steps", "0"], "--max-steps"),
    ],
)
def test_cli_run_bad_input_exits_2(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    from fuzz.cli import main

    assert main(argv) == 2
    assert needle in capsys.readouterr().err


def test_cli_run_prints_a_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    from fuzz.cli import main

    assert main(["run", "pa_scope_deadlock", "--scheduler", "pct", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "outcome: done" in out and "PCT depth 3" in out and "latched error code: 1" in out


def test_cli_run_reports_a_deadlock_with_thread_states(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fuzz.cli import main
    from model.scenario import dump_scenario

    path = tmp_path / "groups.json"
    path.write_text(dump_scenario(scoped_groups(6, 2)), encoding="utf-8")
    code = main(["run", str(path), "--scheduler", "round-robin", "--mutant", "M_SLOT_INDEX_BY_ID"])
    out = capsys.readouterr().out
    assert code == 1
    assert "expected outcome NOT reached" in out and "FLOW_CONTROL_DEADLOCK" in out
    assert "mutants: M_SLOT_INDEX_BY_ID (A04)" in out


def test_region_tags_follow_the_scenario() -> None:
    """A modifier edge (INOUT after INOUT on the same external buffer) is WAIT-only and released at wiring."""
    prog = (
        ScopeBegin(),
        Submit("a", (-1, 0, -1), args=(Arg(Tag.INOUT, region=Region("X", (8,), (1,))),)),
        Submit("b", (-1, 0, -1), args=(Arg(Tag.INOUT, region=Region("X", (8,), (1,))),)),
        ScopeEnd(),
    )
    from model.scenario import Buffer

    scenario = validate(Scenario("waw", small_config(8), (Buffer("X", "FLOAT32", 8, True),), prog))
    result, system, _ = run(scenario, 0, trace=True)
    assert result.outcome == DONE
    b = system.slot_view(1, 1)
    assert b.edges in ((), ((1, 0, K.DEP_WAIT),))  # no edge when a already retired, else WAIT only
    assert order_violations(system) == []


def test_a_full_ready_queue_drops_the_push_and_the_watchdog_classifies_it() -> None:
    """push_ready_routed / route_ready_once ignore push's result (spec §1.9): with a 2-entry queue the 18
    fan-out consumers overflow it, the dropped ones never run, and the global-stuck watchdog latches 100
    with sub-class S3 (ready but all cores idle)."""
    result, system, _ = run(builtin("dummy_dense_fanout_fanin", constants={"ready_queue_capacity": 2}))
    assert any(kind == "ready-dropped" for kind, *_rest in system.events)
    assert system.fatal_code() == K.SCHEDULER_TIMEOUT
    assert system.c[system.H_STALL_DETAIL] == K.STALL_READY_IDLE
    assert result.outcome != DONE


def test_port_reaches_registered_finding_f_model_r7() -> None:
    """The reference model's finding F-MODEL-R7 (INV-R7: a task CONSUMED by its scope end while its own
    deferred on_task_release is pending; the slot is rebound and the release reads the new occupant's
    payload) is reached by the port too, on a run that does not involve the INV-R8 finding."""
    _result, system, obs = run(builtin("pa_var_seq4_window8"), 57, observers=(PassedUnconsumed,))
    rebound = [e for e in system.events if e[0] == "release-rebound"]
    assert rebound and obs[0].hits == []
    _kind, _run, then, now = rebound[0]
    assert then != now and system.plan.tasks[then].ring == system.plan.tasks[now].ring
