"""Step-level port of today's host_build_graph device side (simpler @ 6ebaf7715, spec runtime-spec.md §8).

The host has built the whole graph (`runtime.hbg.host_build`) before any device thread starts, so no
build step interleaves with scheduling. Device threads (`AicpuExecutor::run`, aicpu/aicpu_executor.cpp),
3S+1P: S scheduler threads own the clusters (cluster ci belongs to thread ci % S), the last thread P owns
no core and resolves every completion.

1. Boot: every thread classifies its slice [n*t/T, n*(t+1)/T) of the task range
   (`SchedulerContext::classify_partition`): a task whose fanins all have their completion flag is pushed to
   its shape's ready queue, else registered on the wake list of its last unmet fanin (`register_wake`: a
   lock-free CAS push; a list already closed with WAKE_LIST_SENTINEL means that producer completed, so the
   task is classified again). Then a barrier (`classify_arrived_`, `runtime_init_ready_`).
2. S threads (`resolve_and_dispatch`): collect a finished core (free it, hand the task to P through its
   SPSC queue `sp_queues_[s]`), and dispatch a ready task to an idle core.
3. P (`run_resolution_thread`): pop each S queue and the dummy queue, run `complete_task` ->
   `on_mixed_task_complete`: set the completion flag, exchange the wake-list head with the sentinel, and for
   each waiter: a single-fanin waiter is pushed, any other is classified again (push, or re-register on its
   next unmet producer). P counts `completed_tasks_` and flips `completed_` at the total; its stall
   detector (SCHEDULER_TIMEOUT) is the backstop.

Abstracted: the register-based dual-slot dispatch (the v1 handshake stands in), SPMD blocks and MIX
clusters, early dispatch (disabled in HBG), graph execution, async waits, the completed watermark.
Each queue push / pop is one step (their CAS loops retry without effect).

Mutants: the wake list closed before the completion flag is set; every drained waiter pushed as if it had a
single fanin.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from model.scenario import Scenario
from runtime.core import PINNED_COMMIT, Cite, Op, OpKind, Order, ThreadBody
from runtime.handshake_cores import CORE_TYPE_NAMES, HandshakeCores, new_memory
from runtime.hbg.host_build import SHAPE_DUMMY, HostGraph, build_host_graph
from runtime.port_inputs import check_port_inputs

assert PINNED_COMMIT.startswith("6ebaf7715")
_HBG = "src/a2a3/runtime/host_build_graph/"
_SCHED_H = _HBG + "runtime/scheduler/pto_scheduler.h"
RUN = Cite(_HBG + "aicpu/aicpu_executor.cpp", "AicpuExecutor::run")
CLASSIFY = Cite(_HBG + "runtime/scheduler/scheduler_cold_path.cpp", "SchedulerContext::classify_partition")
CLASSIFY_STATE = Cite(_SCHED_H, "classify_fanin_state")
REGISTER_WAKE = Cite(_SCHED_H, "register_wake")
PUSH_READY = Cite(_SCHED_H, "push_ready_routed")
COMPLETE = Cite(_SCHED_H, "on_mixed_task_complete")
RESOLVE = Cite(_HBG + "runtime/scheduler/scheduler_dispatch.cpp", "SchedulerContext::resolve_and_dispatch")
RESOLUTION = Cite(
    _HBG + "runtime/scheduler/scheduler_dispatch.cpp", "SchedulerContext::run_resolution_thread"
)
HAND_TO_P = Cite(
    _HBG + "runtime/scheduler/scheduler_completion.cpp", "SchedulerContext::check_running_core_completion"
)
EXIT = Cite(_HBG + "runtime/scheduler/scheduler_cold_path.cpp", "SchedulerContext::handle_orchestrator_exit")
AICORE = Cite(_HBG + "aicore/aicore_executor.cpp", "aicore_execute")

NULL, SENTINEL = 0, -1  # wake_list_head: nullptr, WAKE_LIST_SENTINEL; else waiter index + 1
Q_AIC, Q_AIV, Q_DUMMY = 0, 1, 2
QUEUE_NAMES = ("AIC", "AIV", "DUMMY")

M_DRAIN_BEFORE_FLAG = "hbg.drain_before_flag"
M_PUSH_EVERY_WAITER = "hbg.push_every_waiter"
MUTANTS: dict[str, str] = {
    M_DRAIN_BEFORE_FLAG: "on_mixed_task_complete closes and drains the wake list before setting the completion flag",
    M_PUSH_EVERY_WAITER: "the wake-list drain pushes every waiter as if it had a single fanin",
}


class HbgSystem:
    """One run of a scenario on the host_build_graph port."""

    def __init__(self, scenario: Scenario, mutants: Sequence[str] = ()) -> None:
        check_port_inputs(scenario, mutants, "host_build_graph", MUTANTS)
        self.scenario = scenario
        self.mutants = frozenset(mutants)
        self.graph: HostGraph = build_host_graph(scenario)
        g = self.graph
        n = len(g.names)
        self.ntasks = n
        cfg = scenario.config
        self.s_num = cfg.scheduler_threads
        self.nthreads = self.s_num + 1
        self.total = sum(1 for a in g.is_alloc if not a)
        mem = new_memory()
        self.mem = mem
        self.flag = mem.alloc("completion_flags", n)
        self.wake_head = mem.alloc("slot.wake_list_head", n)
        self.next_in_wake = mem.alloc("slot.next_in_wake_list", n)
        self.queue_cap = n + 1
        self.queue = [mem.alloc(f"ready_queue[{q}]", self.queue_cap) for q in QUEUE_NAMES]
        self.queue_head = [mem.alloc(f"ready_queue[{q}].head") for q in QUEUE_NAMES]
        self.queue_tail = [mem.alloc(f"ready_queue[{q}].tail") for q in QUEUE_NAMES]
        self.sp = [mem.alloc(f"sp_queues_[{s}]", n) for s in range(self.s_num)]
        self.sp_head = [mem.alloc(f"sp_queues_[{s}].head") for s in range(self.s_num)]
        self.sp_tail = [mem.alloc(f"sp_queues_[{s}].tail") for s in range(self.s_num)]
        self.classify_arrived = mem.alloc("classify_arrived_")
        self.init_ready = mem.alloc("runtime_init_ready_")
        self.completed_tasks = mem.alloc("completed_tasks_")
        self.completed = mem.alloc("completed_")
        self.sched_error = mem.alloc("sched_error_code")
        self.cores = HandshakeCores(mem, g.names, cfg.clusters, 2 * cfg.clusters, AICORE)
        self.task_names = g.names
        self.kernel_cells = self.cores.kernel
        self.runs_cells = self.cores.runs
        self.owned = [
            tuple(
                c
                for ci in range(cfg.clusters)
                if ci % self.s_num == s
                for c in self._cluster_cores(ci, cfg.clusters)
            )
            for s in range(self.s_num)
        ]
        for t in range(n):
            if g.is_alloc[t]:
                mem.cells[self.flag + t] = 1  # completed on the host; the classifier skips it
                mem.cells[self.kernel_cells + t] = 2
        self._qcells = tuple(
            (*range(self.queue[q], self.queue[q] + self.queue_cap), self.queue_head[q], self.queue_tail[q])
            for q in range(3)
        )
        self._spcells = tuple(
            (*range(self.sp[s], self.sp[s] + n), self.sp_head[s], self.sp_tail[s]) for s in range(self.s_num)
        )

    @staticmethod
    def _cluster_cores(ci: int, clusters: int) -> tuple[int, int, int]:
        return (ci, clusters + 2 * ci, clusters + 2 * ci + 1)

    # ----------------------------------------------------------------------------------- System API

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        out: list[tuple[str, str, ThreadBody]] = [
            (f"T{s}.sched", "scheduler", self._scheduler(s)) for s in range(self.s_num)
        ]
        out.append((f"T{self.s_num}.P", "resolution", self._resolution()))
        for c in range(self.cores.ncores):
            out.append((f"{CORE_TYPE_NAMES[self.cores.core_type[c]]}{c}", "aicore", self.cores.body(c)))
        return out

    def fingerprint(self) -> Hashable:
        return self.mem.snapshot()

    def work_left(self) -> str | None:
        cells = self.mem.cells
        missing = [self.task_names[t] for t in range(self.ntasks) if cells[self.flag + t] != 1]
        if not missing and cells[self.sched_error] == 0:
            return None
        parts = ["scheduler error SCHEDULER_TIMEOUT (P resolution stall)"] if cells[self.sched_error] else []
        if missing:
            parts.append(f"{len(missing)} task(s) never completed: {', '.join(missing[:6])}")
        return "; ".join(parts)

    # ------------------------------------------------------------------------------- shared pieces

    def _queue_of(self, t: int) -> int:
        shape = self.graph.shape[t]
        return Q_DUMMY if shape == SHAPE_DUMMY else shape

    def _push_ready(self, t: int) -> ThreadBody:
        q = self._queue_of(t)
        yield Op(
            OpKind.PUSH,
            f"push_ready_routed({self.task_names[t]}) -> {QUEUE_NAMES[q]} queue",
            PUSH_READY,
            reads=self._qcells[q],
            writes=self._qcells[q],
        )
        cells = self.mem.cells
        tail = cells[self.queue_tail[q]]
        assert tail < self.queue_cap, "a task is routed at most once"
        cells[self.queue[q] + tail] = t
        cells[self.queue_tail[q]] = tail + 1

    def _pop(self, q: int, label: str) -> ThreadBody:
        """One MPMC pop; the popped task is left in `self._popped` (read right after the step)."""
        yield Op(
            OpKind.POP,
            f"{label}: pop {QUEUE_NAMES[q]} queue",
            RESOLVE,
            reads=self._qcells[q],
            writes=(self.queue_head[q],),
        )

    def _try_pop(self, q: int) -> int:
        cells = self.mem.cells
        head = cells[self.queue_head[q]]
        if head >= cells[self.queue_tail[q]]:
            return -1
        cells[self.queue_head[q]] = head + 1
        return cells[self.queue[q] + head]

    def _classify(self, t: int) -> int:
        """classify_fanin_state: index of the last unmet fanin, or -1."""
        cells = self.mem.cells
        fanin = self.graph.fanin[t]
        for i in range(len(fanin) - 1, -1, -1):
            if not cells[self.flag + fanin[i]]:
                return i
        return -1

    def _classify_op(self, t: int, cite: Cite) -> Op:
        return Op(
            OpKind.LOAD,
            f"classify {self.task_names[t]}: scan fanin completion flags",
            cite,
            reads=tuple(self.flag + p for p in self.graph.fanin[t]),
            order=Order.ACQUIRE,
        )

    def _route_or_wait(self, t: int, at_boot: bool) -> ThreadBody:
        """Classify `t`, then push it or register it on the wake list of its last unmet producer."""
        yield self._classify_op(t, CLASSIFY if at_boot else COMPLETE)
        state = self._classify(t)
        if state < 0:
            yield from self._push_ready(t)
        else:
            yield from self._register_wake(self.graph.fanin[t][state], t)

    def _register_wake(self, producer: int, consumer: int) -> ThreadBody:
        cells = self.mem.cells
        names = self.task_names
        while True:
            yield Op(
                OpKind.LOAD,
                f"register_wake({names[producer]}, {names[consumer]}): load wake_list_head",
                REGISTER_WAKE,
                reads=(self.wake_head + producer,),
            )
            expected = cells[self.wake_head + producer]
            while expected != SENTINEL:
                yield Op(
                    OpKind.STORE,
                    f"{names[consumer]}.next_in_wake_list = head",
                    REGISTER_WAKE,
                    writes=(self.next_in_wake + consumer,),
                )
                cells[self.next_in_wake + consumer] = expected
                yield Op(
                    OpKind.CAS,
                    f"CAS {names[producer]}.wake_list_head: push {names[consumer]}",
                    REGISTER_WAKE,
                    reads=(self.wake_head + producer,),
                    writes=(self.wake_head + producer,),
                    order=Order.ACQ_REL,
                )
                current = cells[self.wake_head + producer]
                if current == expected:
                    cells[self.wake_head + producer] = consumer + 1
                    return
                expected = current
            # The producer completed meanwhile: classify against every fanin again.
            yield self._classify_op(consumer, REGISTER_WAKE)
            state = self._classify(consumer)
            if state < 0:
                yield from self._push_ready(consumer)
                return
            producer = self.graph.fanin[consumer][state]

    def _boot(self, tid: int) -> ThreadBody:
        """classify_partition over this thread's slice, then the classify barrier."""
        cells = self.mem.cells
        n, threads = self.ntasks, self.nthreads
        for t in range(n * tid // threads, n * (tid + 1) // threads):
            yield Op(
                OpKind.LOAD,
                f"classify: {self.task_names[t]} completed on host?",
                CLASSIFY,
                reads=(self.flag + t,),
            )
            if cells[self.flag + t]:
                continue
            yield from self._route_or_wait(t, True)
        yield Op(
            OpKind.FETCH_ADD,
            "classify_arrived_.fetch_add(1)",
            RUN,
            reads=(self.classify_arrived,),
            writes=(self.classify_arrived,),
            order=Order.ACQ_REL,
        )
        cells[self.classify_arrived] += 1
        if tid == threads - 1:
            yield Op(
                OpKind.LOAD,
                "wait classify_arrived_ == threads",
                RUN,
                reads=(self.classify_arrived,),
                guard=lambda: cells[self.classify_arrived] == threads,
            )
            yield Op(
                OpKind.STORE,
                "runtime_init_ready_ = true",
                RUN,
                writes=(self.init_ready,),
                order=Order.RELEASE,
            )
            cells[self.init_ready] = 1
        else:
            yield Op(
                OpKind.LOAD,
                "wait runtime_init_ready_",
                RUN,
                reads=(self.init_ready,),
                guard=lambda: cells[self.init_ready] == 1,
            )

    # ------------------------------------------------------------------------------------ S threads

    def _s_has_work(self, s: int) -> bool:
        cells = self.mem.cells
        if cells[self.completed]:
            return True
        for c in self.owned[s]:
            if self.cores.finished(c):
                return True
            q = self.cores.core_type[c]
            if self.cores.idle(c) and cells[self.queue_head[q]] < cells[self.queue_tail[q]]:
                return True
        return False

    def _scheduler(self, s: int) -> ThreadBody:
        cells = self.mem.cells
        hank = self.cores
        names = self.task_names
        yield from self._boot(s)
        mine = self.owned[s]
        watch = (
            self.completed,
            *(x for c in mine for x in (hank.h_task + c, hank.h_status + c)),
            *self.queue_head,
            *self.queue_tail,
        )
        while True:
            yield Op(
                OpKind.LOAD,
                "load completed_",
                RESOLVE,
                reads=watch,
                order=Order.ACQUIRE,
                guard=lambda: self._s_has_work(s),
            )
            if cells[self.completed]:
                break
            for c in mine:
                yield Op(OpKind.LOAD, f"poll core {c}", RESOLVE, reads=(hank.h_task + c, hank.h_status + c))
                if hank.finished(c):
                    t = cells[hank.h_task + c] - 1
                    yield Op(
                        OpKind.STORE,
                        f"core {c}: {names[t]} done, free the core",
                        RESOLVE,
                        writes=(hank.h_task + c,),
                    )
                    cells[hank.h_task + c] = 0
                    yield Op(
                        OpKind.PUSH,
                        f"sp_queues_[{s}].push({names[t]}) (hand to P)",
                        HAND_TO_P,
                        reads=self._spcells[s],
                        writes=self._spcells[s],
                    )
                    tail = cells[self.sp_tail[s]]
                    cells[self.sp[s] + tail] = t
                    cells[self.sp_tail[s]] = tail + 1
                if hank.idle(c):
                    q = hank.core_type[c]
                    yield from self._pop(q, f"core {c}")
                    t = self._try_pop(q)
                    if t < 0:
                        continue
                    yield Op(
                        OpKind.STORE, f"core {c}: dispatch {names[t]}", RESOLVE, writes=(hank.h_task + c,)
                    )
                    cells[hank.h_task + c] = t + 1
                    yield Op(OpKind.STORE, f"core {c}: task_status = 1", RESOLVE, writes=(hank.h_status + c,))
                    cells[hank.h_status + c] = 1
        for c in mine:
            yield Op(OpKind.STORE, f"shutdown: core {c} control = 1", RESOLVE, writes=(hank.h_control + c,))
            cells[hank.h_control + c] = 1

    # ------------------------------------------------------------------------------------- P thread

    def _p_has_work(self) -> bool:
        cells = self.mem.cells
        if cells[self.completed_tasks] >= self.total:
            return True
        if any(cells[self.sp_head[s]] < cells[self.sp_tail[s]] for s in range(self.s_num)):
            return True
        return cells[self.queue_head[Q_DUMMY]] < cells[self.queue_tail[Q_DUMMY]]

    def _resolution(self) -> ThreadBody:
        cells = self.mem.cells
        yield from self._boot(self.s_num)
        watch = (
            self.completed_tasks,
            *self.sp_head,
            *self.sp_tail,
            self.queue_head[Q_DUMMY],
            self.queue_tail[Q_DUMMY],
        )
        while True:
            ok = yield Op(
                OpKind.LOAD,
                "handle_orchestrator_exit: load completed_tasks_",
                EXIT,
                reads=watch,
                guard=self._p_has_work,
                backstop="P resolution stall (SCHEDULER_TIMEOUT)",
            )
            if not ok:
                yield Op(
                    OpKind.CAS,
                    "latch sched_error_code = SCHEDULER_TIMEOUT",
                    RESOLUTION,
                    writes=(self.sched_error,),
                )
                cells[self.sched_error] = 100
            if not ok or cells[self.completed_tasks] >= self.total:
                yield Op(
                    OpKind.STORE, "completed_ = true", EXIT, writes=(self.completed,), order=Order.RELEASE
                )
                cells[self.completed] = 1
                return
            resolved = 0
            for s in range(self.s_num):
                while True:
                    yield Op(
                        OpKind.POP,
                        f"sp_queues_[{s}].pop()",
                        RESOLUTION,
                        reads=self._spcells[s],
                        writes=(self.sp_head[s],),
                    )
                    head = cells[self.sp_head[s]]
                    if head >= cells[self.sp_tail[s]]:
                        break
                    cells[self.sp_head[s]] = head + 1
                    yield from self._complete(cells[self.sp[s] + head])
                    resolved += 1
            while True:
                yield from self._pop(Q_DUMMY, "P")
                t = self._try_pop(Q_DUMMY)
                if t < 0:
                    break
                yield Op(
                    OpKind.LOCAL,
                    f"dummy {self.task_names[t]}: runs inline on P (no core)",
                    RESOLUTION,
                    writes=(self.kernel_cells + t, self.runs_cells + t),
                )
                cells[self.kernel_cells + t] = 1
                cells[self.runs_cells + t] += 1
                yield from self._complete(t)
                resolved += 1
            if resolved:
                yield Op(
                    OpKind.FETCH_ADD,
                    f"completed_tasks_ += {resolved}",
                    RESOLUTION,
                    reads=(self.completed_tasks,),
                    writes=(self.completed_tasks,),
                )
                cells[self.completed_tasks] += resolved

    def _complete(self, t: int) -> ThreadBody:
        """on_mixed_task_complete: completion flag, close the wake list, route every waiter."""
        cells = self.mem.cells
        names = self.task_names
        flag_op = Op(
            OpKind.STORE,
            f"{names[t]}: set completion flag",
            COMPLETE,
            writes=(self.flag + t, self.kernel_cells + t)
            if self.graph.shape[t] == SHAPE_DUMMY
            else (self.flag + t,),
            order=Order.RELEASE,
        )
        drain_first = M_DRAIN_BEFORE_FLAG in self.mutants
        if not drain_first:
            yield flag_op
            self._set_flag(t)
        yield Op(
            OpKind.EXCHANGE,
            f"{names[t]}: wake_list_head.exchange(SENTINEL)",
            COMPLETE,
            reads=(self.wake_head + t,),
            writes=(self.wake_head + t,),
            order=Order.ACQ_REL,
        )
        waiter = cells[self.wake_head + t]
        cells[self.wake_head + t] = SENTINEL
        while waiter not in (NULL, SENTINEL):
            w = waiter - 1
            yield Op(
                OpKind.LOAD, f"drain: {names[w]}.next_in_wake_list", COMPLETE, reads=(self.next_in_wake + w,)
            )
            nxt = cells[self.next_in_wake + w]
            if len(self.graph.fanin[w]) == 1 or M_PUSH_EVERY_WAITER in self.mutants:
                yield from self._push_ready(w)
            else:
                yield from self._route_or_wait(w, False)
            waiter = nxt
        if drain_first:
            yield flag_op
            self._set_flag(t)

    def _set_flag(self, t: int) -> None:
        cells = self.mem.cells
        cells[self.flag + t] = 1
        if self.graph.shape[t] == SHAPE_DUMMY:
            cells[self.kernel_cells + t] = 2  # a dummy task's "kernel" ends when it completes
