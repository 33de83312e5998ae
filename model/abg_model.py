"""The reference model of the `aicpu_build_graph` runtime (both designs): what the runtime MAY do.

One AICPU builder thread runs the orchestration while scheduler threads already dispatch what it published
(spec runtime-spec.md §8). Level: one model action per builder API call and per scheduler critical section.

* Version 1 (`aicpu_build_graph`, simpler @ dddb9a39f, src/a2a3/runtime/aicpu_build_graph/): every builder
  call and every completion runs under `graph_mutex_` (aicpu/aicpu_executor.cpp `aicpu_runtime_add_task`,
  `aicpu_runtime_add_successor_conditional`, `aicpu_runtime_publish_task`, `resolve_and_dispatch` phase 1),
  so each is one atomic action. `add_successor_conditional(p, t)` appends t to p's fanout and increments
  t's fanin only if p has not completed (runtime/runtime.cpp). `publish_task` marks t published and pushes it
  when its fanin is 0; completion marks p completed and decrements each successor's fanin, pushing one that
  reaches 0 and is published. `pop_ready_task` pops the top of a per-core-type stack, dropping entries that
  are unpublished, completed or not at fanin 0. Build mode 0 (`serial_orch_sched`): schedulers start after
  the builder finished.
* Version 2 (`aicpu_build_graph_v2`, simpler @ d7ed5302b, runtime/pto_orchestrator.cpp and
  runtime/pto_scheduler.h): a submitted task starts with fanin_count 1 (the scope's "+1 redundance");
  `add_dependency(p, t)` does fanin_count += 1, then under p's fanout lock either counts an early finish
  (p COMPLETED: fanin_refcount += 1) or prepends t to p's fanout list; `scope_end` adds the +1 to each of
  its tasks' fanin_refcount and pushes those that reached fanin_count. Completion sets COMPLETED and
  snapshots the fanout list under the lock (one action); each consumer is then notified by its own action
  (`release_fanin_and_check_ready`: fanin_refcount += 1, push at == fanin_count). Ready queues are FIFO.

Abstracted: scheduler threads (any free core of the right type may take a ready task; the model's
behaviours include every thread assignment), AICore handshakes (dispatch, kernel end and completion are
actions), and for version 2 the task ring, heap and dep pool (windows are assumed large enough, slots are
never reused). Scenario lowering: a Submit is `add_task` + one edge per `deps` entry; the tasks inside a
scope bracket are published at its end, in submission order; in version 1 a task outside any bracket is
published right after its edges. Allocs are rejected (this runtime has none); tensor-data ops are no-ops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from model.errors import ScenarioError
from model.protocol import Property, PropertyKind
from model.scenario import Alloc, Scenario, ScopeBegin, ScopeEnd, Shape, Submit, TensorData

# ---- builder calls: (kind, a, b) ----
C_ADD, C_EDGE, C_PUBLISH = 0, 1, 2
CALL_NAMES = ("add_task", "add_edge", "publish")

# ---- actions: (kind, a, b) ----
A_BUILD = 0  # the builder's next API call
A_DISPATCH = 1  # (core type) pop the ready queue of that type onto a free core
A_FINISH = 2  # (core type, task) the kernel ends on its core (AICore writes task_status = 0)
A_COMPLETE = 3  # (core type, task) a scheduler thread processes the completion and frees the core
A_NOTIFY = 4  # (task) v2: release_fanin_and_check_ready for the next consumer of the completion snapshot
ACTION_NAMES = ("build", "dispatch", "finish", "complete", "notify")
CORE_NAMES = ("AIC", "AIV")

# ---- v1 task tuple ----
T1_ADDED, T1_PUB, T1_DONE, T1_FANIN, T1_FANOUT, T1_RUNS, T1_KERNEL = range(7)
EMPTY_V1 = (0, 0, 0, 0, (), 0, 0)
# ---- v2 task tuple ----
T2_ADDED, T2_PUB, T2_DONE, T2_FCOUNT, T2_FRC, T2_FANOUT, T2_RUNS, T2_KERNEL, T2_PUSHES = range(9)
EMPTY_V2 = (0, 0, 0, 0, 0, (), 0, 0, 0)
# kernel: 0 not started, 1 running on a core, 2 ended

# ---- state tuple ----
S_PC, S_TASKS, S_QUEUES, S_CORES, S_NOTIFY, S_LATE = range(6)

Action = tuple[int, int, int]
State = tuple[Any, ...]


@dataclass(frozen=True)
class AbgProgram:
    """The builder's call sequence and the edges the program asked for, lowered from a scenario."""

    names: tuple[str, ...]
    core: tuple[int, ...]  # 0 AIC, 1 AIV
    preds: tuple[tuple[int, ...], ...]  # requested edges into each task, in call order
    calls: tuple[tuple[int, int, int], ...]


def lower_abg(scenario: Scenario) -> AbgProgram:
    """The builder API calls of a scenario (see the module docstring for the rules)."""
    version = abg_version(scenario)
    names: list[str] = []
    core: list[int] = []
    preds: list[tuple[int, ...]] = []
    calls: list[tuple[int, int, int]] = []
    index: dict[str, int] = {}
    groups: list[list[int]] = []
    for i, op in enumerate(scenario.program):
        where = f"program[{i}]"
        if isinstance(op, ScopeBegin):
            groups.append([])
        elif isinstance(op, ScopeEnd):
            calls.extend((C_PUBLISH, t, 0) for t in groups.pop())
        elif isinstance(op, Alloc):
            raise ScenarioError(
                "aicpu_build_graph has no hidden alloc tasks", where, "allocate buffers outside the graph"
            )
        elif isinstance(op, TensorData):
            continue  # the builder reads device memory directly: no task, no wait
        elif isinstance(op, Submit):
            if op.shape not in (Shape.AIC, Shape.AIV) or op.block_num != 1:
                raise ScenarioError(
                    f"task {op.name!r} is {op.shape.value} x{op.block_num}",
                    where,
                    "aicpu_build_graph tasks run on one AIC or one AIV core (kernel_ids with one entry, block_num 1)",
                )
            if version == 2 and not groups:
                raise ScenarioError(
                    f"task {op.name!r} is submitted outside a scope",
                    where,
                    "aicpu_build_graph_v2 asserts 'Cannot submit task outside a scope'",
                )
            t = len(names)
            names.append(op.name)
            core.append(0 if op.shape is Shape.AIC else 1)
            calls.append((C_ADD, t, 0))
            mine: list[int] = []
            for j, dep in enumerate(op.deps):
                p = index.get(dep.task)
                if p is None:
                    raise ScenarioError(
                        f"edge from {dep.task!r}, which is not added yet",
                        f"{where}.deps[{j}]",
                        "an edge's predecessor must be submitted earlier",
                    )
                mine.append(p)
                calls.append((C_EDGE, p, t))
            preds.append(tuple(mine))
            index[op.name] = t
            if groups:
                groups[-1].append(t)
            else:
                calls.append((C_PUBLISH, t, 0))
    return AbgProgram(tuple(names), tuple(core), tuple(preds), tuple(calls))


def abg_version(scenario: Scenario) -> int:
    if scenario.runtime == "aicpu_build_graph":
        return 1
    if scenario.runtime == "aicpu_build_graph_v2":
        return 2
    raise ScenarioError(
        f"runtime {scenario.runtime!r} is not aicpu_build_graph", "runtime", "use the model of that runtime"
    )


class AbgModel:
    """The `Model` of one scenario on aicpu_build_graph (version from the scenario's runtime tag)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.version = abg_version(scenario)
        self.program = lower_abg(scenario)
        self.ntasks = len(self.program.names)
        self.ncalls = len(self.program.calls)
        cfg = scenario.config
        self.cores = (cfg.clusters, 2 * cfg.clusters)
        self.sequential = cfg.serial_orch_sched
        if self.sequential and self.version == 2:
            raise ScenarioError(
                "serial_orch_sched is not modelled for aicpu_build_graph_v2", "config.serial_orch_sched"
            )

    # ------------------------------------------------------------------------------ transition system

    def initial_states(self) -> Sequence[State]:
        empty = EMPTY_V1 if self.version == 1 else EMPTY_V2
        return [(0, (empty,) * self.ntasks, ((), ()), ((), ()), (), 0)]

    def is_final(self, state: State) -> bool:
        done = T1_DONE if self.version == 1 else T2_DONE
        return state[S_PC] == self.ncalls and all(t[done] for t in state[S_TASKS])

    def actions(self, state: State) -> Sequence[Action]:
        out: list[Action] = []
        if state[S_PC] < self.ncalls:
            out.append((A_BUILD, 0, 0))
        if self.sequential and state[S_PC] < self.ncalls:
            return out
        queues, cores = state[S_QUEUES], state[S_CORES]
        for ct in (0, 1):
            if queues[ct] and len(cores[ct]) < self.cores[ct]:
                out.append((A_DISPATCH, ct, 0))
            for t, ended in cores[ct]:
                out.append((A_COMPLETE if ended else A_FINISH, ct, t))
        for t, _ in state[S_NOTIFY]:
            out.append((A_NOTIFY, t, 0))
        return out

    def next_state(self, state: State, action: Action) -> State:
        kind, a, b = action
        tasks = list(state[S_TASKS])
        queues = list(state[S_QUEUES])
        cores = list(state[S_CORES])
        notify = state[S_NOTIFY]
        late = state[S_LATE]
        pc = state[S_PC]
        v1 = self.version == 1
        if kind == A_BUILD:
            call, x, y = self.program.calls[pc]
            pc += 1
            if call == C_ADD:
                tasks[x] = (1,) + tasks[x][1:]
                if not v1:
                    tasks[x] = _set(tasks[x], T2_FCOUNT, 1)  # the "+1 redundance" released at scope end
            elif call == C_EDGE:
                if v1:
                    p = tasks[x]
                    tasks[x] = _set(p, T1_FANOUT, p[T1_FANOUT] + (y,))
                    if p[T1_DONE]:
                        late = 1
                    else:
                        tasks[y] = _set(tasks[y], T1_FANIN, tasks[y][T1_FANIN] + 1)
                else:
                    c = tasks[y]
                    c = _set(c, T2_FCOUNT, c[T2_FCOUNT] + 1)
                    p = tasks[x]
                    if p[T2_DONE]:
                        c = _set(c, T2_FRC, c[T2_FRC] + 1)  # early finish
                        late = 1
                    else:
                        tasks[x] = _set(p, T2_FANOUT, (y,) + p[T2_FANOUT])  # dep_pool.prepend
                    tasks[y] = c
            else:  # C_PUBLISH
                t = tasks[x]
                if v1:
                    tasks[x] = _set(t, T1_PUB, 1)
                    if t[T1_FANIN] == 0:
                        queues[self.program.core[x]] += (x,)
                else:
                    t = _set(_set(t, T2_PUB, 1), T2_FRC, t[T2_FRC] + 1)
                    if t[T2_FRC] >= t[T2_FCOUNT]:
                        t = _set(t, T2_PUSHES, t[T2_PUSHES] + 1)
                        queues[self.program.core[x]] += (x,)
                    tasks[x] = t
        elif kind == A_DISPATCH:
            queue = queues[a]
            if v1:
                # pop_ready_task: from the top, dropping entries that cannot run now
                while queue:
                    t, queue = queue[-1], queue[:-1]
                    task = tasks[t]
                    if task[T1_PUB] and not task[T1_DONE] and task[T1_FANIN] == 0:
                        tasks[t] = _set(_set(task, T1_RUNS, task[T1_RUNS] + 1), T1_KERNEL, 1)
                        cores[a] = tuple(sorted(cores[a] + ((t, 0),)))
                        break
            else:
                t, queue = queue[0], queue[1:]
                task = tasks[t]
                tasks[t] = _set(_set(task, T2_RUNS, task[T2_RUNS] + 1), T2_KERNEL, 1)
                cores[a] = tuple(sorted(cores[a] + ((t, 0),)))
            queues[a] = queue
        elif kind == A_FINISH:
            cores[a] = _replace_one(cores[a], (b, 0), (b, 1))
            kernel = T1_KERNEL if v1 else T2_KERNEL
            tasks[b] = _set(tasks[b], kernel, 2)
        elif kind == A_COMPLETE:
            cores[a] = _replace_one(cores[a], (b, 1), None)
            if v1:
                task = tasks[b]
                tasks[b] = _set(task, T1_DONE, 1)
                for s in task[T1_FANOUT]:
                    succ = tasks[s]
                    prev = succ[T1_FANIN]
                    tasks[s] = _set(succ, T1_FANIN, prev - 1)
                    if prev == 1 and succ[T1_PUB]:
                        queues[self.program.core[s]] += (s,)
            else:
                task = tasks[b]
                tasks[b] = _set(task, T2_DONE, 1)
                if task[T2_FANOUT]:
                    notify = tuple(sorted(notify + ((b, task[T2_FANOUT]),)))
        elif kind == A_NOTIFY:
            entry = next(e for e in notify if e[0] == a)
            consumer, rest = entry[1][0], entry[1][1:]
            notify = tuple(e for e in notify if e[0] != a)
            if rest:
                notify = tuple(sorted(notify + ((a, rest),)))
            c = tasks[consumer]
            c = _set(c, T2_FRC, c[T2_FRC] + 1)
            if c[T2_FRC] == c[T2_FCOUNT]:
                c = _set(c, T2_PUSHES, c[T2_PUSHES] + 1)
                queues[self.program.core[consumer]] += (consumer,)
            tasks[consumer] = c
        return (pc, tuple(tasks), tuple(queues), tuple(cores), notify, late)

    # ------------------------------------------------------------------------------------- properties

    def properties(self) -> Sequence[Property[State]]:
        v1 = self.version == 1
        preds = self.program.preds
        kernel = T1_KERNEL if v1 else T2_KERNEL
        runs = T1_RUNS if v1 else T2_RUNS
        done = T1_DONE if v1 else T2_DONE
        pub = T1_PUB if v1 else T2_PUB
        n = self.ntasks

        def after_preds(s: State) -> bool:
            tasks = s[S_TASKS]
            return all(
                tasks[t][kernel] == 0 or all(tasks[p][kernel] == 2 for p in preds[t]) for t in range(n)
            )

        def at_most_once(s: State) -> bool:
            return all(t[runs] <= 1 for t in s[S_TASKS])

        def counts(s: State) -> bool:
            tasks = s[S_TASKS]
            added = sum(t[0] for t in tasks)
            published = sum(t[pub] for t in tasks)
            completed = sum(t[done] for t in tasks)
            return completed <= published <= added and all(t[kernel] == 2 for t in tasks if t[done])

        def all_published(s: State) -> bool:
            return all(t[pub] for t in s[S_TASKS])

        def all_completed(s: State) -> bool:
            return all(t[done] for t in s[S_TASKS])

        def late_edge(s: State) -> bool:
            return bool(s[S_LATE])

        def overlap(s: State) -> bool:
            return s[S_PC] < self.ncalls and any(t[kernel] for t in s[S_TASKS])

        def parallel(s: State) -> bool:
            return sum(1 for t in s[S_TASKS] if t[kernel] == 1) >= 2

        props: list[Property[State]] = [
            Property(
                "abg.runs_after_predecessors",
                PropertyKind.ALWAYS,
                after_preds,
                "",
                "a task's kernel starts only after every predecessor the program named has ended, whether the "
                "edge was added before or after that predecessor finished",
            ),
            Property(
                "abg.runs_at_most_once", PropertyKind.ALWAYS, at_most_once, "", "no task is dispatched twice"
            ),
            Property(
                "abg.completion_counts",
                PropertyKind.ALWAYS,
                counts,
                "",
                "completed <= published <= added, and only an ended kernel is completed",
            ),
        ]
        if v1:
            props += [
                Property(
                    "abg.fanin_counts_open_edges",
                    PropertyKind.ALWAYS,
                    self._v1_fanin_exact,
                    "",
                    "fanin(t) = number of fanout entries p->t whose p has not completed",
                ),
                Property(
                    "abg.ready_not_lost",
                    PropertyKind.ALWAYS,
                    self._v1_ready_not_lost,
                    "",
                    "a published, unrun, uncompleted task at fanin 0 is in its ready stack",
                ),
            ]
        else:
            props += [
                Property(
                    "abg2.fanin_count_is_edges_plus_one",
                    PropertyKind.ALWAYS,
                    self._v2_fanin_count,
                    "",
                    "fanin_count = 1 + dependencies added; fanin_refcount <= fanin_count; pushed at most once",
                ),
                Property(
                    "abg2.ready_not_lost",
                    PropertyKind.ALWAYS,
                    self._v2_ready_not_lost,
                    "",
                    "a published task whose predecessors all completed and were all notified has been pushed, "
                    "and a pushed, unrun task is in its ready queue",
                ),
            ]
        props += [
            Property(
                "abg.all_published", PropertyKind.EVENTUALLY, all_published, "", "no task stays unpublished"
            ),
            Property(
                "abg.all_completed",
                PropertyKind.EVENTUALLY,
                all_completed,
                "",
                "no task stays unready or unrun",
            ),
            Property("abg.sometimes_all_completed", PropertyKind.SOMETIMES, all_completed),
            Property(
                "abg.sometimes_edge_after_predecessor_completed",
                PropertyKind.SOMETIMES,
                late_edge,
                "",
                "an edge was added after its predecessor completed (the completion check mattered)",
            ),
            Property("abg.sometimes_parallel_kernels", PropertyKind.SOMETIMES, parallel),
        ]
        if not self.sequential:
            props.append(
                Property(
                    "abg.sometimes_build_overlaps_execution",
                    PropertyKind.SOMETIMES,
                    overlap,
                    "",
                    "a kernel ran while the builder was still building (concurrent build || schedule)",
                )
            )
        return props

    def _v1_fanin_exact(self, s: State) -> bool:
        tasks = s[S_TASKS]
        open_edges = [0] * self.ntasks
        for p in tasks:
            if not p[T1_DONE]:
                for c in p[T1_FANOUT]:
                    open_edges[c] += 1
        return all(t[T1_FANIN] == open_edges[i] for i, t in enumerate(tasks))

    def _v1_ready_not_lost(self, s: State) -> bool:
        tasks, queues = s[S_TASKS], s[S_QUEUES]
        for i, t in enumerate(tasks):
            ready = t[T1_PUB] and not t[T1_DONE] and t[T1_RUNS] == 0 and t[T1_FANIN] == 0
            if ready and i not in queues[self.program.core[i]]:
                return False
        return True

    def _v2_fanin_count(self, s: State) -> bool:
        tasks = s[S_TASKS]
        pc = s[S_PC]
        added_edges = [0] * self.ntasks
        for call, _x, y in self.program.calls[:pc]:
            if call == C_EDGE:
                added_edges[y] += 1
        for i, t in enumerate(tasks):
            if not t[T2_ADDED]:
                continue
            if t[T2_FCOUNT] != 1 + added_edges[i] or t[T2_FRC] > t[T2_FCOUNT] or t[T2_PUSHES] > 1:
                return False
        return True

    def _v2_ready_not_lost(self, s: State) -> bool:
        tasks, queues = s[S_TASKS], s[S_QUEUES]
        pending = {c for _, rest in s[S_NOTIFY] for c in rest}
        for i, t in enumerate(tasks):
            if t[T2_PUSHES] and t[T2_RUNS] == 0 and i not in queues[self.program.core[i]]:
                return False
            if t[T2_PUB] and i not in pending and not t[T2_PUSHES]:
                added_preds = self._added_preds(s[S_PC], i)
                if all(tasks[p][T2_DONE] for p in added_preds):
                    return False
        return True

    def _added_preds(self, pc: int, task: int) -> list[int]:
        return [x for call, x, y in self.program.calls[:pc] if call == C_EDGE and y == task]

    # ------------------------------------------------------------------------------------- rendering

    def format_action(self, action: Action) -> str:
        kind, a, b = action
        names = self.program.names
        if kind == A_BUILD:
            return "builder: next call"
        if kind == A_DISPATCH:
            return f"dispatch {CORE_NAMES[a]}"
        if kind in (A_FINISH, A_COMPLETE):
            return f"{ACTION_NAMES[kind]} {names[b]} on {CORE_NAMES[a]}"
        return f"notify next consumer of {names[a]}"

    def describe_call(self, pc: int) -> str:
        if pc >= self.ncalls:
            return "done"
        call, x, y = self.program.calls[pc]
        names = self.program.names
        if call == C_EDGE:
            return f"add_edge {names[x]}->{names[y]}"
        return f"{CALL_NAMES[call]} {names[x]}"

    def format_state(self, state: State) -> str:
        v1 = self.version == 1
        parts = []
        for name, t in zip(self.program.names, state[S_TASKS], strict=True):
            if not t[0]:
                continue
            st = (
                "R"
                if t[T1_KERNEL if v1 else T2_KERNEL] == 1
                else "E"
                if t[T1_KERNEL if v1 else T2_KERNEL] == 2
                else ""
            )
            flags = ("P" if t[T1_PUB if v1 else T2_PUB] else "") + (
                "C" if t[T1_DONE if v1 else T2_DONE] else ""
            )
            fan = f"f{t[T1_FANIN]}" if v1 else f"f{t[T2_FRC]}/{t[T2_FCOUNT]}"
            parts.append(f"{name}:{flags}{st}{fan}")
        queues = "/".join(",".join(self.program.names[t] for t in q) for q in state[S_QUEUES])
        return f"next={self.describe_call(state[S_PC])} | {' '.join(parts)} | ready {queues}"


def _set(t: tuple[Any, ...], i: int, v: Any) -> tuple[Any, ...]:
    return t[:i] + (v,) + t[i + 1 :]


def _replace_one(entries: tuple[Any, ...], old: Any, new: Any) -> tuple[Any, ...]:
    out = list(entries)
    out.remove(old)
    if new is not None:
        out.append(new)
    return tuple(sorted(out))
