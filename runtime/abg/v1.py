"""Step-level port of aicpu_build_graph v1 (simpler @ dddb9a39f): one builder thread, scheduler threads, cores.

Threads (`AicpuExecutor::run`): thread 0 is the builder (the orchestration plugin's calls), threads 1..S
are schedulers, each owning the cores `assign_cores_to_threads` gives it; one worker per AICore.

Granularity. Every builder call and every scheduler section that holds `graph_mutex_` is one step: all
task fields (fanin, published, completed, fanout) are read and written only under that mutex, so nothing
can observe the inside of a section and one step loses no interleaving. `push_ready_task` holds only the
queue mutex, which `pop_ready_task` also takes, so it is one step as well. Everything outside the mutex is
split at each shared access: the scheduler loop's loads of `published_tasks_`, `completed_tasks_` and
`build_done_`, each core poll, the handshake stores and `completed_tasks_.fetch_add`.

Idle spinning. A scheduler's loop top is a guarded step: it runs when the iteration can do something (a
finished core to collect, an idle core and a non-empty queue of its type, or the exit condition holds) or
when any cell the iteration reads changed since the previous iteration started (so an iteration may begin
with a value that goes stale before its next load, as the spinning C++ loop does); otherwise it would
repeat an iteration that changes nothing, and the thread waits. Its backstop is the C++
`MAX_IDLE_ITERATIONS` timeout, offered only when no thread can run: firing it makes
`resolve_and_dispatch` return -1 as the C++ does.

Mutants (names in `MUTANTS`): conditional edge without its completion check, publish before the edges,
completion's fanin decrements outside `graph_mutex_`.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from model.errors import ConfigurationError
from model.scenario import Scenario
from runtime.abg import cites as C
from runtime.abg.program import ADD, EDGE, BuildProgram, build_program
from runtime.core import Op, OpKind, Order, ThreadBody
from runtime.handshake_cores import AIC, AIV, CORE_TYPE_NAMES, HandshakeCores, new_memory
from runtime.port_inputs import check_port_inputs

M_EDGE_UNCHECKED = "abg.conditional_edge_unchecked"
M_PUBLISH_BEFORE_EDGES = "abg.publish_before_edges"
M_DECREMENT_OUTSIDE_LOCK = "abg.decrement_outside_lock"
MUTANTS: dict[str, str] = {
    M_EDGE_UNCHECKED: "add_successor_conditional increments the successor's fanin even when the predecessor "
    "already completed",
    M_PUBLISH_BEFORE_EDGES: "the builder publishes each task right after add_task, before its edges",
    M_DECREMENT_OUTSIDE_LOCK: "the completion path marks completed and decrements each successor's fanin outside "
    "graph_mutex_, one access per step",
}

MAX_VERIFICATION_WARNINGS = 10  # resolve_and_dispatch: "counter reached but cores still working" limit


def assign_cores(n_aic: int, n_aiv: int, sched: int) -> list[tuple[int, ...]]:
    """`AicpuExecutor::assign_cores_to_threads`: AIC then AIV cores, split as evenly as possible."""
    out: list[tuple[int, ...]] = []
    aic_idx, aiv_idx = 0, n_aic
    for s in range(sched):
        aic_take = n_aic // sched + (1 if s < n_aic % sched else 0)
        aiv_take = n_aiv // sched + (1 if s < n_aiv % sched else 0)
        mine = tuple(range(aic_idx, aic_idx + aic_take)) + tuple(range(aiv_idx, aiv_idx + aiv_take))
        aic_idx += aic_take
        aiv_idx += aiv_take
        out.append(mine)
    return out


class AbgV1System:
    """One run of a scenario on the aicpu_build_graph v1 port."""

    def __init__(self, scenario: Scenario, mutants: Sequence[str] = ()) -> None:
        check_port_inputs(scenario, mutants, "aicpu_build_graph", MUTANTS)
        self.scenario = scenario
        self.mutants = frozenset(mutants)
        self.program: BuildProgram = build_program(scenario, 1, M_PUBLISH_BEFORE_EDGES in self.mutants)
        prog = self.program
        n = len(prog.names)
        self.ntasks = n
        cfg = scenario.config
        self.sequential = cfg.serial_orch_sched
        self.sched_num = cfg.scheduler_threads
        self.assignment = assign_cores(cfg.clusters, 2 * cfg.clusters, self.sched_num)
        for s, cores in enumerate(self.assignment):
            if not cores:
                raise ConfigurationError(
                    f"scheduler thread {s + 1} gets no core ({cfg.clusters} clusters, {self.sched_num} schedulers)",
                    "config",
                    "AicpuExecutor::init rejects a scheduler thread without cores; add clusters or use fewer threads",
                )
        mem = new_memory()
        self.mem = mem
        self.fanin = mem.alloc("task.fanin", n)
        self.published = mem.alloc("task.published", n)
        self.completed = mem.alloc("task.completed", n)
        self.fanout_count = mem.alloc("task.fanout_count", n)
        self.fanout = [mem.alloc(f"task[{t}].fanout", max(1, len(prog.successors[t]))) for t in range(n)]
        edges = sum(len(s) for s in prog.successors)
        self.queue_cap = (
            n + edges + 1
        )  # every push is a publish or a fanin reaching 0 (C++: RUNTIME_MAX_TASKS)
        self.queue = [
            mem.alloc(f"ready_queue_{CORE_TYPE_NAMES[ct].lower()}_", self.queue_cap) for ct in (AIC, AIV)
        ]
        self.queue_count = [mem.alloc(f"ready_count_{CORE_TYPE_NAMES[ct].lower()}_") for ct in (AIC, AIV)]
        self.published_tasks = mem.alloc("published_tasks_")
        self.completed_tasks = mem.alloc("completed_tasks_")
        self.build_done = mem.alloc("build_done_")
        self.sched_rc = mem.alloc(
            "ghost.scheduler_rc", self.sched_num
        )  # 0 ok, -1 resolve_and_dispatch failed
        self.cores = HandshakeCores(mem, prog.names, cfg.clusters, 2 * cfg.clusters, C.AICORE)
        self.task_names = prog.names
        self.kernel_cells = self.cores.kernel
        self.runs_cells = self.cores.runs
        self.tasks_of_type = tuple(tuple(t for t in range(n) if prog.core_type[t] == ct) for ct in (AIC, AIV))
        self._queue_cells = tuple(
            tuple(range(self.queue[ct], self.queue[ct] + self.queue_cap)) + (self.queue_count[ct],)
            for ct in (AIC, AIV)
        )
        self._all_queue_cells = self._queue_cells[AIC] + self._queue_cells[AIV]

    # ----------------------------------------------------------------------------------- System API

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        out: list[tuple[str, str, ThreadBody]] = [("T0.builder", "builder", self._builder())]
        for s in range(self.sched_num):
            out.append((f"T{s + 1}.sched", "scheduler", self._scheduler(s)))
        for c in range(self.cores.ncores):
            out.append((f"{CORE_TYPE_NAMES[self.cores.core_type[c]]}{c}", "aicore", self.cores.body(c)))
        return out

    def fingerprint(self) -> Hashable:
        return self.mem.snapshot()

    def work_left(self) -> str | None:
        cells = self.mem.cells
        failed = [s + 1 for s in range(self.sched_num) if cells[self.sched_rc + s] != 0]
        missing = [self.task_names[t] for t in range(self.ntasks) if cells[self.completed + t] != 1]
        if not failed and not missing:
            return None
        parts = []
        if failed:
            parts.append(f"scheduler thread(s) {failed} returned -1 from resolve_and_dispatch")
        if missing:
            parts.append(f"{len(missing)} task(s) never completed: {', '.join(missing[:6])}")
        return "; ".join(parts)

    # --------------------------------------------------------------------------------------- helpers

    def _push(self, t: int) -> None:
        """push_ready_task: append to the stack of the task's core type (caller holds the queue mutex)."""
        cells = self.mem.cells
        ct = self.program.core_type[t]
        cur = cells[self.queue_count[ct]]
        assert cur < self.queue_cap, "ready queue sized for every possible push"
        cells[self.queue[ct] + cur] = t
        cells[self.queue_count[ct]] = cur + 1

    def _task_cells(self, t: int) -> tuple[int, ...]:
        return (self.fanin + t, self.published + t, self.completed + t)

    # --------------------------------------------------------------------------------------- builder

    def _builder(self) -> ThreadBody:
        cells = self.mem.cells
        names = self.program.names
        unchecked = M_EDGE_UNCHECKED in self.mutants
        for call in self.program.calls:
            t = call.task
            if call.kind == ADD:
                yield Op(
                    OpKind.LOCKED,
                    f"graph_mutex_: add_task {names[t]}",
                    C.ADD_TASK,
                    writes=(self.fanin + t, self.published + t, self.completed + t, self.fanout_count + t),
                )
                cells[self.fanin + t] = 0
                cells[self.published + t] = 0
                cells[self.completed + t] = 0
                cells[self.fanout_count + t] = 0
            elif call.kind == EDGE:
                p = call.pred
                k = len(self.program.successors[p])
                yield Op(
                    OpKind.LOCKED,
                    f"graph_mutex_: add_successor_conditional {names[p]} -> {names[t]}",
                    C.ADD_EDGE,
                    reads=(self.completed + p, self.fanout_count + p),
                    writes=(
                        self.fanout_count + p,
                        self.fanin + t,
                        *range(self.fanout[p], self.fanout[p] + k),
                    ),
                )
                fc = cells[self.fanout_count + p]
                cells[self.fanout[p] + fc] = t
                cells[self.fanout_count + p] = fc + 1
                if unchecked or cells[self.completed + p] == 0:
                    cells[self.fanin + t] += 1
            else:
                ct = self.program.core_type[t]
                yield Op(
                    OpKind.LOCKED,
                    f"graph_mutex_: publish_task {names[t]}",
                    C.PUBLISH,
                    reads=(self.fanin + t, self.published + t, *self._queue_cells[ct]),
                    writes=(self.published + t, self.published_tasks, *self._queue_cells[ct]),
                )
                if cells[self.published + t] == 0:  # published.compare_exchange_strong(0, 1)
                    cells[self.published + t] = 1
                    cells[self.published_tasks] += 1
                    if cells[self.fanin + t] == 0:
                        self._push(t)
        yield Op(OpKind.STORE, "build_done_ = true", C.RUN, writes=(self.build_done,), order=Order.RELEASE)
        cells[self.build_done] = 1

    # ------------------------------------------------------------------------------------- schedulers

    def _has_work(self, my_cores: tuple[int, ...]) -> bool:
        cells = self.mem.cells
        if cells[self.build_done] and cells[self.completed_tasks] >= cells[self.published_tasks]:
            return True
        for c in my_cores:
            if self.cores.finished(c):
                return True
            if self.cores.idle(c) and cells[self.queue_count[self.cores.core_type[c]]] > 0:
                return True
        return False

    def _snapshot(self, cells_to_read: tuple[int, ...]) -> tuple[int, ...]:
        cells = self.mem.cells
        return tuple(cells[x] for x in cells_to_read)

    def _scheduler(self, s: int) -> ThreadBody:
        cells = self.mem.cells
        hank = self.cores
        my_cores = self.assignment[s]
        core_num = len(my_cores)
        hank_cells = tuple(x for c in my_cores for x in (hank.h_task + c, hank.h_status + c))
        watch = (self.build_done, self.completed_tasks, self.published_tasks, *hank_cells, *self.queue_count)
        if self.sequential:
            yield Op(
                OpKind.LOAD,
                "sequential mode: wait for build_done_",
                C.RUN,
                reads=(self.build_done,),
                order=Order.ACQUIRE,
                guard=lambda: cells[self.build_done] == 1,
            )
        warnings = 0
        in_flight = 0
        seen: tuple[int, ...] = ()
        while True:

            def wake(last: tuple[int, ...] = seen) -> bool:
                return self._has_work(my_cores) or self._snapshot(watch) != last

            ok = yield Op(
                OpKind.LOAD,
                "load published_tasks_",
                C.RESOLVE,
                reads=watch,
                order=Order.ACQUIRE,
                guard=wake,
                backstop="MAX_IDLE_ITERATIONS: idle-iteration timeout",
            )
            seen = self._snapshot(watch)
            if not ok:
                yield from self._fail(s, "timeout after MAX_IDLE_ITERATIONS idle iterations")
                break
            published = cells[self.published_tasks]
            yield Op(
                OpKind.LOAD,
                "load completed_tasks_",
                C.RESOLVE,
                reads=(self.completed_tasks,),
                order=Order.ACQUIRE,
            )
            completed = cells[self.completed_tasks]
            yield Op(
                OpKind.LOAD, "load build_done_", C.RESOLVE, reads=(self.build_done,), order=Order.ACQUIRE
            )
            if cells[self.build_done] and completed >= published:
                all_idle = True
                for c in my_cores:
                    yield Op(
                        OpKind.LOAD,
                        f"exit check: core {c} idle?",
                        C.RESOLVE,
                        reads=(hank.h_task + c, hank.h_status + c),
                    )
                    if not hank.idle(c):
                        all_idle = False
                        break
                if all_idle:
                    yield Op(OpKind.LOAD, "load ready_count_aic_", C.RESOLVE, reads=(self.queue_count[AIC],))
                    aic_left = cells[self.queue_count[AIC]]
                    yield Op(OpKind.LOAD, "load ready_count_aiv_", C.RESOLVE, reads=(self.queue_count[AIV],))
                    if aic_left == 0 and cells[self.queue_count[AIV]] == 0:
                        break
                warnings += 1
                if warnings > MAX_VERIFICATION_WARNINGS:
                    yield from self._fail(s, "counter reached but cores still working")
                    break
            # Phase 1: process completed tasks.
            for c in my_cores:
                yield Op(
                    OpKind.LOAD,
                    f"phase 1: poll core {c}",
                    C.RESOLVE,
                    reads=(hank.h_task + c, hank.h_status + c),
                )
                if not hank.finished(c):
                    continue
                t = cells[hank.h_task + c] - 1
                yield Op(OpKind.STORE, f"core {c}: h->task = 0", C.RESOLVE, writes=(hank.h_task + c,))
                cells[hank.h_task + c] = 0
                yield from self._complete(t)
                in_flight -= 1
                yield Op(
                    OpKind.FETCH_ADD,
                    "completed_tasks_.fetch_add(1)",
                    C.RESOLVE,
                    reads=(self.completed_tasks,),
                    writes=(self.completed_tasks,),
                    order=Order.RELEASE,
                )
                cells[self.completed_tasks] += 1
            # Phase 2: dispatch ready tasks to idle cores.
            if in_flight < core_num:
                for c in my_cores:
                    yield Op(
                        OpKind.LOAD,
                        f"phase 2: poll core {c}",
                        C.RESOLVE,
                        reads=(hank.h_task + c, hank.h_status + c),
                    )
                    if not hank.idle(c):
                        continue
                    ct = hank.core_type[c]
                    candidates = self.tasks_of_type[ct]
                    yield Op(
                        OpKind.LOCKED,
                        f"graph_mutex_ + queue mutex: pop_ready_task {CORE_TYPE_NAMES[ct]}",
                        C.POP,
                        reads=self._queue_cells[ct]
                        + tuple(x for t in candidates for x in self._task_cells(t)),
                        writes=(self.queue_count[ct],),
                    )
                    t = self._pop(ct)
                    if t < 0:
                        continue
                    yield Op(
                        OpKind.STORE,
                        f"core {c}: h->task = {self.program.names[t]}",
                        C.RESOLVE,
                        writes=(hank.h_task + c,),
                    )
                    cells[hank.h_task + c] = t + 1
                    yield Op(
                        OpKind.STORE, f"core {c}: h->task_status = 1", C.RESOLVE, writes=(hank.h_status + c,)
                    )
                    cells[hank.h_status + c] = 1
                    in_flight += 1
        for c in my_cores:
            yield Op(
                OpKind.STORE, f"shutdown: core {c} control = 1", C.SHUTDOWN, writes=(hank.h_control + c,)
            )
            cells[hank.h_control + c] = 1

    def _fail(self, s: int, why: str) -> ThreadBody:
        yield Op(
            OpKind.LOCAL, f"resolve_and_dispatch returns -1 ({why})", C.RESOLVE, writes=(self.sched_rc + s,)
        )
        self.mem.cells[self.sched_rc + s] = -1

    def _pop(self, ct: int) -> int:
        """pop_ready_task: from the top, dropping entries not published, completed or at fanin != 0."""
        cells = self.mem.cells
        cur = cells[self.queue_count[ct]]
        while cur > 0:
            t = cells[self.queue[ct] + cur - 1]
            cur -= 1
            if cells[self.published + t] == 0 or cells[self.completed + t] != 0 or cells[self.fanin + t] != 0:
                continue
            cells[self.queue_count[ct]] = cur
            return t
        cells[self.queue_count[ct]] = cur
        return -1

    def _complete(self, t: int) -> ThreadBody:
        """Phase 1's completion: completed = 1, then each successor's fanin-- (push at 1 -> 0 if published)."""
        cells = self.mem.cells
        names = self.program.names
        succ = self.program.successors[t]
        fanout_cells = tuple(range(self.fanout[t], self.fanout[t] + max(1, len(succ))))
        if M_DECREMENT_OUTSIDE_LOCK not in self.mutants:
            yield Op(
                OpKind.LOCKED,
                f"graph_mutex_: complete {names[t]}: completed = 1, fanin-- of each successor",
                C.RESOLVE,
                reads=(
                    self.fanout_count + t,
                    *fanout_cells,
                    *(x for u in succ for x in self._task_cells(u)),
                    *self._all_queue_cells,
                ),
                writes=(self.completed + t, *(self.fanin + u for u in succ), *self._all_queue_cells),
            )
            cells[self.completed + t] = 1
            for j in range(cells[self.fanout_count + t]):
                u = cells[self.fanout[t] + j]
                prev = cells[self.fanin + u]
                cells[self.fanin + u] = prev - 1
                if prev == 1 and cells[self.published + u]:
                    self._push(u)
            return
        # Mutant: the same accesses, each its own step, without graph_mutex_.
        yield Op(
            OpKind.STORE,
            f"complete {names[t]}: completed = 1",
            C.RESOLVE,
            writes=(self.completed + t,),
            order=Order.RELEASE,
        )
        cells[self.completed + t] = 1
        j = 0
        while True:
            yield Op(
                OpKind.LOAD,
                f"complete {names[t]}: load fanout_count",
                C.RESOLVE,
                reads=(self.fanout_count + t,),
            )
            if j >= cells[self.fanout_count + t]:
                return
            u = cells[self.fanout[t] + j]
            yield Op(
                OpKind.FETCH_ADD,
                f"complete {names[t]}: {names[u]}.fanin.fetch_sub(1)",
                C.RESOLVE,
                reads=(self.fanout[t] + j, self.fanin + u),
                writes=(self.fanin + u,),
                order=Order.ACQ_REL,
            )
            prev = cells[self.fanin + u]
            cells[self.fanin + u] = prev - 1
            if prev == 1:
                yield Op(
                    OpKind.LOAD,
                    f"complete {names[t]}: load {names[u]}.published",
                    C.RESOLVE,
                    reads=(self.published + u,),
                )
                if cells[self.published + u]:
                    ct = self.program.core_type[u]
                    yield Op(
                        OpKind.PUSH,
                        f"queue mutex: push_ready_task {names[u]}",
                        C.PUSH,
                        reads=self._queue_cells[ct],
                        writes=self._queue_cells[ct],
                    )
                    self._push(u)
            j += 1
