"""TrbSystem: the port of one scenario as a `runtime.core.System` (threads, fingerprint, goal)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from model.scenario import FatalCode, Scenario
from runtime.core import ROLE_STORE_BUFFER, ThreadBody
from runtime.store_buffer import StoreBuffers
from runtime.trb.aicore import CoreAndHostThreads
from runtime.trb.startup import work_left_after_init_failure

ROLE_ORCH, ROLE_SCHED, ROLE_CORE, ROLE_HOST = "orchestrator", "scheduler", "aicore", "host"
REGISTER_CELLS = (".DATA_MAIN_BASE", ".COND")  # AICore registers (uncached MMIO): never store-buffered


class TrbSystem(CoreAndHostThreads):
    """The step-level port of the tensormap_and_ringbuffer runtime for one scenario.

    Threads, in this order (the thread ids schedules use): the orchestrator ("orch"), the scheduler threads
    ("sched0".."schedN-1"), one AICore per core ("c<cluster>.AIC", ".AIV0", ".AIV1"), and the host.
    """

    # attributes that never change once the system is built: runtime.dfs resets a TrbSystem in place
    # (memory, queues, TensorMap, ghosts back to their built values) instead of building it per backtrack
    RESET_IN_PLACE_STATIC = ("plan", "scenario", "cfg", "consts", "ops", "mutants")

    def __init__(
        self, scenario: Scenario, mutants: Iterable[str] = (), *, data: bool = False, data_seed: int = 0,
        data_family: str | None = None, accept_any_fatal: bool = False,
    ) -> None:
        super().__init__(scenario, mutants)
        # a program whose outcome its sizing does not decide may end in any latched fatal: with this set,
        # work_left counts such an end (host finished) as the goal, as the campaigns' strict judgement does
        self.accept_any_fatal = accept_any_fatal
        self._threads_made = False
        self.step_hooks: StoreBuffers | None = None  # built with the threads under memory_model "tso"
        if data:  # the data oracle's byte path (off by default: data-free runs pay nothing)
            from runtime.data.trb_path import TrbDataPath

            self.data = TrbDataPath(self, data_seed, data_family)

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        if self._threads_made:
            raise RuntimeError("TrbSystem.threads() builds the thread bodies once; make a new system per run")
        self._threads_made = True
        out: list[tuple[str, str, ThreadBody]] = [("orch", ROLE_ORCH, self.orchestrator_body())]
        for t in range(self.n_sched):
            out.append((f"sched{t}", ROLE_SCHED, self.scheduler_body(t)))
        for k in range(self.n_cores):
            out.append((self.core_name(k), ROLE_CORE, self.aicore_body(k)))
        out.append(("host", ROLE_HOST, self.host_body()))
        if self.cfg.memory_model == "tso":
            # the AICPU threads (orchestrator, schedulers) buffer their stores; one daemon per buffer, after
            # every other thread so the other thread ids stay those of a sequentially consistent run
            owners = {tid: out[tid][0] for tid in range(1 + self.n_sched)}
            registers = frozenset(i for i, name in enumerate(self.mem.names) if name.endswith(REGISTER_CELLS))
            self.step_hooks = buffers = StoreBuffers(self.c, owners, registers)
            for tid, name in owners.items():
                out.append((f"sb.{name}", ROLE_STORE_BUFFER, buffers.commit_body(tid, len(out))))
        return out

    def thread_names(self) -> list[str]:
        aicpu = ["orch"] + [f"sched{t}" for t in range(self.n_sched)]
        buffers = [f"sb.{name}" for name in aicpu] if self.cfg.memory_model == "tso" else []
        return aicpu + [self.core_name(k) for k in range(self.n_cores)] + ["host"] + buffers

    def fingerprint(self) -> Hashable:
        return (
            tuple(self.c),
            tuple(self.p),
            self.tmap.fingerprint(),
            tuple(q.fingerprint() for q in self.queues),
            self.crash,
            None if self.step_hooks is None else self.step_hooks.fingerprint(),
        )

    def work_left(self) -> str | None:
        if self.crash is not None:
            return f"the runtime aborted: {self.crash}"
        code = self.fatal_code()
        expected = self.scenario.expected.fatal
        if code:
            name = _code_name(code)
            if self.accept_any_fatal:
                return None if self.c[self.HOST_DONE] else f"fatal {name} latched but the host has not finished the run"
            if expected is None:
                return f"fatal {name} latched (the scenario expects every task consumed)"
            if code != int(expected):
                return f"fatal {name} latched, expected {expected.name}({int(expected)})"
            if not self.c[self.HOST_DONE]:
                return f"expected fatal {name} latched but the host has not finished the run"
            return None
        if expected is not None:
            return f"expected fatal {expected.name}({int(expected)}) was never latched"
        if self.cfg.init_failure:
            return work_left_after_init_failure(self)
        for run in range(self.runs):
            for ti, task in enumerate(self.plan.tasks):
                n = self.ghost_consumed[run][ti]
                if n != 1:
                    state = "never consumed" if n == 0 else f"consumed {n} times"
                    return f"run {run}: task {task.name} (r{task.ring}:{task.local}) {state}"
        if not self.c[self.HOST_DONE]:
            return "the host has not finished every run"
        return None

    # ------------------------------------------------------------------ ghost summaries

    def task_status(self, run: int, task: int) -> tuple[int, int, int, int]:
        """(submitted, completed, consumed, kernels run) counts of a task in a run (ghost records)."""
        return (
            self.ghost_submitted[run][task],
            self.ghost_completed[run][task],
            self.ghost_consumed[run][task],
            self.ghost_kernels[run][task],
        )


def _code_name(code: int) -> str:
    try:
        return f"{FatalCode(code).name}({code})"
    except ValueError:
        return f"code {code}"


__all__ = ["ROLE_CORE", "ROLE_HOST", "ROLE_ORCH", "ROLE_SCHED", "TrbSystem"]
