"""Startup abort paths of AicpuExecutor::run (catalogue K01, spec §2.1 and INV-E4), injected by name.

The orchestrator thread's block of `AicpuExecutor::run` (TRB/aicpu/aicpu_executor.cpp) validates and
initialises the runtime while the scheduler threads spin on `runtime_init_ready_`. Each check that fails
logs, stores `runtime_init_ready_ = true` (release) and returns -1, so the schedulers leave their spin, see
`rt == nullptr` and skip dispatch. At the pinned commit the paths are, in the order the C++ reaches them
(`model.scenario.INIT_FAILURES`): the thread index out of bounds (before the orchestrator split), an
invalid callable id, a callable with no registered orchestration SO, fewer arguments than the SO's config
expects, a null prebuilt arena, `init_per_ring` failing, `runtime_reset_for_reuse` failing. Which one is
taken depends on the host environment (registration, arena upload, SM sizing), never on the program, so a
scenario injects one (`Config.init_failure`, in run `Config.init_failure_run`).

What an abort leaves, as the C++ does it:
  * `rt`: the first five paths never assign it (nullptr since the last deinit); the two after the arena
    wire assign it there and store `rt = nullptr` before the flag.
  * the orchestrator returns before `sched_ctx_.shutdown` and before `finished_count_`'s fetch_add, so no
    thread is ever the last one: `finished_` stays false and `AicpuExecutor::deinit` does not run.
  * `aicpu_execute` returns the -1 to the platform. The host's reap sees a failed AICPU kernel: the sim's
    `drain_execution` joins every thread and returns the first error; onboard, the stream error marks the
    runner unusable (`recover_device_or_mark_unusable`, finalize force-resets). Either way no further run
    is launched: the port's host waits for both kernels, then stops.
  * the scheduler threads shut their own cores down (`fatal_shutdown_started_` is false), so every AICore
    exits: after a startup abort every thread stops.

`M_INIT_ABORT_NO_FLAG` makes every abort path return without the flag store (the bug K01 guards against).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from model.scenario import INIT_FAILURES
from runtime.core import Cite, Op, OpKind, Order, Static
from runtime.trb import cites as C

if TYPE_CHECKING:
    from runtime.trb.orchestrator import OrchestratorThread
    from runtime.trb.shared import Steps
    from runtime.trb.state import TrbState

MUTANT = "M_INIT_ABORT_NO_FLAG"


@dataclass(frozen=True)
class AbortPath:
    name: str
    cite: Cite
    check: str  # what fails, as the C++ logs it
    after_arena: bool = False  # rt was assigned at the arena wire: the path stores rt = nullptr first
    after_sm_reset: bool = False  # init_per_ring succeeded before the failure


PATHS: dict[str, AbortPath] = {
    p.name: p
    for p in (
        AbortPath("thread_index_out_of_bounds", C.EXEC_RUN, "thread index outside [0, aicpu_thread_num_)"),
        AbortPath("invalid_callable_id", C.EXEC_RUN, "callable_id outside [0, MAX_REGISTERED_CALLABLE_IDS)"),
        AbortPath("callable_not_registered", C.EXEC_RUN, "orch_so_table_[callable_id] has no SO handle or entry"),
        AbortPath("arg_count_below_expected", C.EXEC_RUN,
                  "ConfigValidate: tensor + scalar args below the config's expected_arg_count"),
        AbortPath("prebuilt_arena_null", C.EXEC_RUN, "ArenaWire: prebuilt_arena_base is null"),
        AbortPath("sm_init_per_ring_failed", C.SM_INIT_PER_RING,
                  "SmReset: init_per_ring fails (SM base null or smaller than calculate_size_per_ring)",
                  after_arena=True),
        AbortPath("runtime_reset_for_reuse_failed", C.RUNTIME_RESET, "SmReset: runtime_reset_for_reuse fails",
                  after_arena=True, after_sm_reset=True),
    )
}
assert tuple(PATHS) == INIT_FAILURES  # one vocabulary: the scenario format names exactly these paths


class StartupOps(Static):
    """The ops of the startup abort paths (built for every system; announced only when a path is injected)."""

    __slots__ = ("OP_ARENA_WIRE", "OP_FORGET", "OP_HOST_STOP", "OP_PUBLISH", "OP_RETURN", "OP_RT_NULL")

    def __init__(self, s: TrbState) -> None:
        names = tuple(PATHS)
        self.OP_ARENA_WIRE = Op(OpKind.STORE, "run: ArenaWire: attach the prebuilt arena, rt = arena + offset",
                                C.EXEC_RUN, (), (s.E_RT,), Order.PLAIN)
        self.OP_RT_NULL = {
            n: Op(OpKind.STORE, f"run: {PATHS[n].check} -> rt = nullptr", PATHS[n].cite, (), (s.E_RT,), Order.PLAIN)
            for n in names if PATHS[n].after_arena
        }
        self.OP_PUBLISH = {
            n: Op(OpKind.STORE, f"run: {PATHS[n].check} -> runtime_init_ready_ = true; return -1", C.EXEC_RUN, (),
                  (s.E_INIT_READY,), Order.RELEASE)
            for n in names
        }
        self.OP_FORGET = {
            n: Op(OpKind.LOCAL, f"run: {PATHS[n].check} -> return -1 (runtime_init_ready_ not published)",
                  C.EXEC_RUN, (), (), Order.PLAIN)
            for n in names
        }
        # aicpu_execute after run() returned -1: read_runtime_status, finished_? -> deinit, return the rc
        tid = s.orch_tidx
        deinit = s.OP_DEINIT_CHECK[tid]
        self.OP_RETURN = Op(OpKind.LOAD, "aicpu_execute: run() returned -1; finished_? -> deinit; return -1",
                            C.AICPU_EXECUTE, (*deinit.reads, s.H_ORCH_ERR, s.H_SCHED_ERR),
                            (*deinit.writes, s.E_KERNEL_RC), Order.ACQUIRE)
        self.OP_HOST_STOP = Op(OpKind.STORE, "host: the AICPU kernel failed -> the run fails, no further run",
                               C.REAP_RUN, (), (s.HOST_RESET, s.HOST_DONE), Order.RELEASE)


def abort_startup(self: OrchestratorThread) -> Steps:
    """The orchestrator's block of AicpuExecutor::run taking the injected abort path, then aicpu_execute's
    tail (no finished_count_ increment: run() returned before it). A thread body: its locals stay plain
    values (`self` is the system, skipped by `runtime.core.thread_position`)."""
    name = self.cfg.init_failure
    if PATHS[name].after_arena:
        yield self.OP_STARTUP.OP_ARENA_WIRE
        self.c[self.E_RT] = 1
        if PATHS[name].after_sm_reset:
            yield self.OP_SM_RESET
            self._fx_sm_reset()
        yield self.OP_STARTUP.OP_RT_NULL[name]
        self.c[self.E_RT] = 0
    if MUTANT in self.mutants:
        yield self.OP_STARTUP.OP_FORGET[name]
    else:
        yield self.OP_STARTUP.OP_PUBLISH[name]
        self.c[self.E_INIT_READY] = 1
    yield self.OP_STARTUP.OP_RETURN
    self.c[self.E_KERNEL_RC] = -1
    if self.c[self.E_FINISHED]:
        self._fx_deinit()
    self.c[self.HOST_AICPU_EXITED] += 1


def host_after_kernel_failure(self: TrbState, run: int) -> Steps:
    """The host after a failed AICPU kernel: wait for the AICore kernel too (sim joins every thread, onboard
    syncs both streams), then fail the run; threads waiting for a next launch are released."""
    yield self.OP_HOST_REAP_AICORE[run]
    yield self.OP_STARTUP.OP_HOST_STOP
    self.c[self.HOST_RESET] = 1
    self.c[self.HOST_DONE] = 1


def work_left_after_init_failure(s: TrbState) -> str | None:
    """The goal of a scenario with a startup abort: the runs before it consume every task once; the failing
    run returns -1 from the orchestrator's startup, runs no task, and the host finishes."""
    fail_run = s.cfg.init_failure_run
    for run in range(fail_run):
        for ti, task in enumerate(s.plan.tasks):
            n = s.ghost_consumed[run][ti]
            if n != 1:
                return f"run {run}: task {task.name} (r{task.ring}:{task.local}) " + (
                    "never consumed" if n == 0 else f"consumed {n} times")
    if not s.c[s.E_KERNEL_RC]:
        return f"run {fail_run}: the injected startup abort ({s.cfg.init_failure}) never returned from AicpuExecutor::run"
    for ti, task in enumerate(s.plan.tasks):
        if s.ghost_submitted[fail_run][ti] or s.ghost_kernels[fail_run][ti]:
            return f"run {fail_run}: task {task.name} ran although the orchestrator's startup aborted"
    if not s.c[s.HOST_DONE]:
        return f"run {fail_run}: the host has not finished the failed run"
    return None


__all__ = ["INIT_FAILURES", "MUTANT", "PATHS", "AbortPath", "StartupOps", "abort_startup",
           "host_after_kernel_failure", "work_left_after_init_failure"]
