"""Step-level port of aicpu_build_graph v2 (simpler @ d7ed5302b): explicit dependencies, scope-end publish.

Ported: the orchestrator's `pto2_submit_mixed_task` slot initialisation (fanin_count = 1, the scope's "+1
redundance"), `pto2_add_dependency` (fanin_count += 1, then under the producer's fanout lock: an early-finish
count if the producer is COMPLETED, else a dep-pool prepend onto its fanout list), `pto2_scope_end`'s batch
publish (fanin_refcount += 1, push at >= fanin_count), and the scheduler's `on_mixed_task_complete` (under
the fanout lock: COMPLETED, snapshot the list) followed by one `release_fanin_and_check_ready` per entry.

Not ported (simplified): the task ring / heap / dep-pool reclamation (every slot is fresh, the pool never
wraps; scope ends' fanout-reference releases and CONSUMED are omitted), the register-based dispatch
(the v1 handshake stands in, `runtime.handshake_cores`), local ready buffers and the scheduler's profiling
and idle logic. The ready queues are FIFO (one atomic step per push / pop, as the MPMC queue's CAS is).
Each fanout-lock critical section is one step (nothing else takes that lock across steps).

Mutants: the dependency without its completion check, no "+1 redundance" (a task is visible before its
scope ends), and the completion snapshot taken before COMPLETED is stored, without the lock.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from model.errors import ConfigurationError, ScenarioError
from model.scenario import Scenario
from runtime.abg import cites as C
from runtime.abg.program import ADD, EDGE, BuildProgram, build_program
from runtime.abg.v1 import assign_cores
from runtime.core import Op, OpKind, Order, ThreadBody
from runtime.handshake_cores import AIC, AIV, CORE_TYPE_NAMES, HandshakeCores, new_memory
from runtime.port_inputs import check_port_inputs

PENDING, COMPLETED = 0, 2  # PTO2TaskState values the protocol compares (PTO2_TASK_COMPLETED = 2)

M_DEP_UNCHECKED = "abg2.dependency_unchecked"
M_NO_REDUNDANCE = "abg2.no_scope_redundance"
M_SNAPSHOT_FIRST = "abg2.snapshot_before_complete_unlocked"
MUTANTS: dict[str, str] = {
    M_DEP_UNCHECKED: "add_dependency prepends onto the producer's fanout list even when it already completed",
    M_NO_REDUNDANCE: "a submitted task starts with fanin_count 0 (no '+1 redundance' held until scope end)",
    M_SNAPSHOT_FIRST: "completion reads the fanout list before storing COMPLETED, without the fanout lock",
}


class AbgV2System:
    """One run of a scenario on the aicpu_build_graph v2 port."""

    def __init__(self, scenario: Scenario, mutants: Sequence[str] = ()) -> None:
        check_port_inputs(scenario, mutants, "aicpu_build_graph_v2", MUTANTS)
        if scenario.config.serial_orch_sched:
            raise ScenarioError(
                "serial_orch_sched is not ported for aicpu_build_graph_v2", "config.serial_orch_sched"
            )
        self.scenario = scenario
        self.mutants = frozenset(mutants)
        self.program: BuildProgram = build_program(scenario, 2)
        prog = self.program
        n = len(prog.names)
        self.ntasks = n
        cfg = scenario.config
        self.sched_num = cfg.scheduler_threads
        self.assignment = assign_cores(cfg.clusters, 2 * cfg.clusters, self.sched_num)
        if any(not cores for cores in self.assignment):
            raise ConfigurationError(
                f"a scheduler thread gets no core ({cfg.clusters} clusters, {self.sched_num} schedulers)",
                "config",
                "add clusters or use fewer scheduler threads",
            )
        mem = new_memory()
        self.mem = mem
        self.fanin_count = mem.alloc("slot.fanin_count", n)
        self.fanin_refcount = mem.alloc("slot.fanin_refcount", n)
        self.fanout_head = mem.alloc("slot.fanout_head", n)  # 0 = nullptr, else dep-pool entry + 1
        self.task_state = mem.alloc("slot.task_state", n)
        edges = max(1, sum(len(s) for s in prog.successors))
        self.entry_consumer = mem.alloc("dep_pool.slot_state", edges)
        self.entry_next = mem.alloc("dep_pool.next", edges)
        self.pool_top = mem.alloc("dep_pool.top")
        self.queue_cap = 2 * n + 1  # a task is pushed at most twice (by a notification and by its scope end)
        self.queue = [mem.alloc(f"ready_queue[{CORE_TYPE_NAMES[ct]}]", self.queue_cap) for ct in (AIC, AIV)]
        self.queue_head = [mem.alloc(f"ready_queue[{CORE_TYPE_NAMES[ct]}].head") for ct in (AIC, AIV)]
        self.queue_tail = [mem.alloc(f"ready_queue[{CORE_TYPE_NAMES[ct]}].tail") for ct in (AIC, AIV)]
        self.completed_tasks = mem.alloc("completed_tasks_")
        self.orch_done = mem.alloc("orchestrator_done_")
        self.cores = HandshakeCores(mem, prog.names, cfg.clusters, 2 * cfg.clusters, C.AICORE)
        self.task_names = prog.names
        self.kernel_cells = self.cores.kernel
        self.runs_cells = self.cores.runs
        self._queue_cells = tuple(
            (
                *range(self.queue[ct], self.queue[ct] + self.queue_cap),
                self.queue_head[ct],
                self.queue_tail[ct],
            )
            for ct in (AIC, AIV)
        )
        self._pool_cells = (
            *range(self.entry_consumer, self.entry_consumer + edges),
            *range(self.entry_next, self.entry_next + edges),
        )

    # ----------------------------------------------------------------------------------- System API

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        out: list[tuple[str, str, ThreadBody]] = [("T0.orch", "orchestrator", self._orchestrator())]
        for s in range(self.sched_num):
            out.append((f"T{s + 1}.sched", "scheduler", self._scheduler(s)))
        for c in range(self.cores.ncores):
            out.append((f"{CORE_TYPE_NAMES[self.cores.core_type[c]]}{c}", "aicore", self.cores.body(c)))
        return out

    def fingerprint(self) -> Hashable:
        return self.mem.snapshot()

    def work_left(self) -> str | None:
        cells = self.mem.cells
        missing = [self.task_names[t] for t in range(self.ntasks) if cells[self.task_state + t] != COMPLETED]
        if not missing:
            return None
        return f"{len(missing)} task(s) never completed: {', '.join(missing[:6])}"

    # --------------------------------------------------------------------------------------- helpers

    def _push_op(self, t: int) -> Op:
        ct = self.program.core_type[t]
        return Op(
            OpKind.PUSH,
            f"ready_queues[{CORE_TYPE_NAMES[ct]}].push({self.program.names[t]})",
            C.RELEASE2,
            reads=self._queue_cells[ct],
            writes=self._queue_cells[ct],
        )

    def _push(self, t: int) -> None:
        cells = self.mem.cells
        ct = self.program.core_type[t]
        tail = cells[self.queue_tail[ct]]
        assert tail < self.queue_cap, "sized for two pushes per task"
        cells[self.queue[ct] + tail] = t
        cells[self.queue_tail[ct]] = tail + 1

    # ----------------------------------------------------------------------------------- orchestrator

    def _orchestrator(self) -> ThreadBody:
        cells = self.mem.cells
        names = self.program.names
        start = 0 if M_NO_REDUNDANCE in self.mutants else 1
        unchecked = M_DEP_UNCHECKED in self.mutants
        for call in self.program.calls:
            t = call.task
            if call.kind == ADD:
                yield Op(
                    OpKind.STORE,
                    f"submit {names[t]}: slot state init (fanin_count = {start}, PENDING)",
                    C.SUBMIT2,
                    writes=(
                        self.fanin_count + t,
                        self.fanin_refcount + t,
                        self.fanout_head + t,
                        self.task_state + t,
                    ),
                )
                cells[self.fanin_count + t] = start
                cells[self.fanin_refcount + t] = 0
                cells[self.fanout_head + t] = 0
                cells[self.task_state + t] = PENDING
            elif call.kind == EDGE:
                p = call.pred
                yield Op(
                    OpKind.STORE,
                    f"add_dependency {names[p]} -> {names[t]}: fanin_count += 1",
                    C.ADD_DEP2,
                    reads=(self.fanin_count + t,),
                    writes=(self.fanin_count + t,),
                )
                cells[self.fanin_count + t] += 1
                yield Op(
                    OpKind.LOCKED,
                    f"fanout_lock({names[p]}): early finish or prepend {names[t]}",
                    C.ADD_DEP2,
                    reads=(self.task_state + p, self.fanout_head + p, self.pool_top, self.fanin_refcount + t),
                    writes=(self.fanin_refcount + t, self.fanout_head + p, self.pool_top, *self._pool_cells),
                )
                if cells[self.task_state + p] >= COMPLETED and not unchecked:
                    cells[self.fanin_refcount + t] += 1
                else:
                    e = cells[self.pool_top]
                    cells[self.pool_top] = e + 1
                    cells[self.entry_consumer + e] = t
                    cells[self.entry_next + e] = cells[self.fanout_head + p]
                    cells[self.fanout_head + p] = e + 1
            else:  # scope_end: batch publish
                yield Op(
                    OpKind.FETCH_ADD,
                    f"scope_end: {names[t]}.fanin_refcount += 1 (release the +1)",
                    C.SCOPE_END2,
                    reads=(self.fanin_refcount + t, self.fanin_count + t),
                    writes=(self.fanin_refcount + t,),
                    order=Order.ACQ_REL,
                )
                cells[self.fanin_refcount + t] += 1
                if cells[self.fanin_refcount + t] >= cells[self.fanin_count + t]:
                    yield self._push_op(t)
                    self._push(t)
        yield Op(
            OpKind.STORE, "orchestrator_done = 1", C.ORCH_DONE2, writes=(self.orch_done,), order=Order.RELEASE
        )
        cells[self.orch_done] = 1

    # ------------------------------------------------------------------------------------- schedulers

    def _has_work(self, my_cores: tuple[int, ...]) -> bool:
        cells = self.mem.cells
        if cells[self.orch_done] and cells[self.completed_tasks] >= self.ntasks:
            return True
        for c in my_cores:
            if self.cores.finished(c):
                return True
            ct = self.cores.core_type[c]
            if self.cores.idle(c) and cells[self.queue_head[ct]] < cells[self.queue_tail[ct]]:
                return True
        return False

    def _scheduler(self, s: int) -> ThreadBody:
        cells = self.mem.cells
        hank = self.cores
        names = self.program.names
        my_cores = self.assignment[s]
        hank_cells = tuple(x for c in my_cores for x in (hank.h_task + c, hank.h_status + c))
        watch = (self.orch_done, self.completed_tasks, *hank_cells, *self.queue_head, *self.queue_tail)
        while True:
            ok = yield Op(
                OpKind.LOAD,
                "load orchestrator_done / completed_tasks_",
                C.RESOLVE2,
                reads=watch,
                order=Order.ACQUIRE,
                guard=lambda: self._has_work(my_cores),
                backstop="scheduler idle timeout",
            )
            if not ok or (cells[self.orch_done] and cells[self.completed_tasks] >= self.ntasks):
                break
            for c in my_cores:
                yield Op(
                    OpKind.LOAD, f"poll core {c}", C.RESOLVE2, reads=(hank.h_task + c, hank.h_status + c)
                )
                if hank.finished(c):
                    t = cells[hank.h_task + c] - 1
                    yield Op(
                        OpKind.STORE, f"core {c}: task done, free", C.RESOLVE2, writes=(hank.h_task + c,)
                    )
                    cells[hank.h_task + c] = 0
                    yield from self._complete(t)
                    yield Op(
                        OpKind.FETCH_ADD,
                        "completed_tasks_.fetch_add(1)",
                        C.RESOLVE2,
                        reads=(self.completed_tasks,),
                        writes=(self.completed_tasks,),
                    )
                    cells[self.completed_tasks] += 1
                if hank.idle(c):
                    ct = hank.core_type[c]
                    yield Op(
                        OpKind.POP,
                        f"get_ready_task({CORE_TYPE_NAMES[ct]})",
                        C.POP2,
                        reads=self._queue_cells[ct],
                        writes=(self.queue_head[ct],),
                    )
                    head = cells[self.queue_head[ct]]
                    if head >= cells[self.queue_tail[ct]]:
                        continue
                    t = cells[self.queue[ct] + head]
                    cells[self.queue_head[ct]] = head + 1
                    yield Op(
                        OpKind.STORE, f"core {c}: dispatch {names[t]}", C.RESOLVE2, writes=(hank.h_task + c,)
                    )
                    cells[hank.h_task + c] = t + 1
                    yield Op(
                        OpKind.STORE, f"core {c}: task_status = 1", C.RESOLVE2, writes=(hank.h_status + c,)
                    )
                    cells[hank.h_status + c] = 1
        for c in my_cores:
            yield Op(
                OpKind.STORE, f"shutdown: core {c} control = 1", C.RESOLVE2, writes=(hank.h_control + c,)
            )
            cells[hank.h_control + c] = 1

    def _complete(self, t: int) -> ThreadBody:
        cells = self.mem.cells
        names = self.program.names
        if M_SNAPSHOT_FIRST in self.mutants:
            yield Op(
                OpKind.LOAD,
                f"complete {names[t]}: read fanout_head",
                C.COMPLETE2,
                reads=(self.fanout_head + t,),
            )
            cur = cells[self.fanout_head + t]
            yield Op(
                OpKind.STORE,
                f"complete {names[t]}: task_state = COMPLETED",
                C.COMPLETE2,
                writes=(self.task_state + t,),
                order=Order.RELEASE,
            )
            cells[self.task_state + t] = COMPLETED
        else:
            yield Op(
                OpKind.LOCKED,
                f"fanout_lock({names[t]}): task_state = COMPLETED, snapshot fanout_head",
                C.COMPLETE2,
                reads=(self.fanout_head + t,),
                writes=(self.task_state + t,),
            )
            cells[self.task_state + t] = COMPLETED
            cur = cells[self.fanout_head + t]
        while cur != 0:
            e = cur - 1
            c = cells[self.entry_consumer + e]
            yield Op(
                OpKind.FETCH_ADD,
                f"release_fanin_and_check_ready({names[c]}): fanin_refcount += 1",
                C.RELEASE2,
                reads=(
                    self.entry_consumer + e,
                    self.entry_next + e,
                    self.fanin_refcount + c,
                    self.fanin_count + c,
                ),
                writes=(self.fanin_refcount + c,),
                order=Order.ACQ_REL,
            )
            cells[self.fanin_refcount + c] += 1
            if cells[self.fanin_refcount + c] == cells[self.fanin_count + c]:
                yield self._push_op(c)
                self._push(c)
            cur = cells[self.entry_next + e]
