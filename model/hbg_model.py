"""The reference model of today's `host_build_graph` runtime (simpler @ 6ebaf7715, spec runtime-spec.md §8).

The host runs the orchestration to completion before the device starts, so the initial state already holds
the whole graph: each task's fanin list is what `compute_task_fanin` derives when nothing retires
(`model.dependencies.derive_all_edges`, deduplicated in discovery order as `append_fanin_or_fail` fills the
payload), and hidden alloc tasks are already complete. Device side (src/a2a3/runtime/host_build_graph/
runtime/scheduler/pto_scheduler.h, scheduler_dispatch.cpp, scheduler_cold_path.cpp):

* classification (one action per task, in any order, all before the boot barrier): a task whose fanins all
  completed goes to its shape's FIFO ready queue (DUMMY tasks to the dummy queue), any other onto the
  wake list (LIFO) of its last unmet fanin in payload order;
* dispatch pops a ready queue onto a free core; a kernel's end frees the core and hands the task to the
  resolution thread P;
* P resolves one handed (or dummy) task at a time: completion flag, take the whole wake list, then one
  action per waiter: a single-fanin waiter is pushed, any other is classified again (pushed, or moved
  onto the wake list of its last unmet fanin). P is sequential: it finishes a drain before resolving again.

Abstracted: which S thread owns which core (any free core of the type may take a task), the SPSC queues'
per-thread order (P may resolve any handed task), SPMD / MIX tasks (rejected), early dispatch, graph
execution and async waits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from model.dependencies import derive_all_edges, merge_rows
from model.errors import ScenarioError
from model.program import ProgramInfo
from model.protocol import Property, PropertyKind
from model.scenario import Alloc, Scenario, Shape, Submit, Tag, TensorData

A_CLASSIFY = 0  # (task) boot classification
A_DISPATCH = 1  # (queue) pop a ready queue onto a free core
A_FINISH = 2  # (task) the kernel ends; its core is freed and the task handed to P
A_RESOLVE = 3  # (task) P: completion flag + take the wake list (a dummy task runs here)
A_DRAIN = 4  # P: route the next waiter of the list it holds
ACTION_NAMES = ("classify", "dispatch", "finish", "resolve", "drain")
Q_AIC, Q_AIV, Q_DUMMY = 0, 1, 2
QUEUE_NAMES = ("AIC", "AIV", "DUMMY")

# task place
P_UNCLASSIFIED, P_QUEUED, P_WAITING, P_RUNNING, P_HANDED, P_DRAINING, P_DONE = range(7)
PLACE_CHAR = "uqwrhdC"

# state: (places, kernel, runs, queues, wake_lists, p_drain, ghost_reregistered)
S_PLACE, S_KERNEL, S_RUNS, S_QUEUES, S_WAKE, S_DRAIN, S_GHOST = range(7)

Action = tuple[int, int, int]
State = tuple[Any, ...]


class HbgModel:
    """The `Model` of one scenario on host_build_graph."""

    def __init__(self, scenario: Scenario) -> None:
        if scenario.runtime != "host_build_graph":
            raise ScenarioError(
                f"runtime {scenario.runtime!r} is not host_build_graph",
                "runtime",
                "use the model of that runtime",
            )
        self.scenario = scenario
        _check_host_tensor_data(scenario)
        info = ProgramInfo(scenario)
        self.names = tuple(t.name for t in info.tasks)
        self.ntasks = len(info.tasks)
        self.is_alloc = tuple(t.is_alloc for t in info.tasks)
        queue: list[int] = []
        for t in info.tasks:
            if t.is_alloc:
                queue.append(Q_DUMMY)
                continue
            if t.shape is Shape.MIX or t.block_num != 1:
                raise ScenarioError(
                    f"task {t.name!r} is {t.shape.value} x{t.block_num}",
                    "program",
                    "the host_build_graph model covers single-block AIC, AIV and dummy tasks",
                )
            queue.append({Shape.AIC: Q_AIC, Shape.AIV: Q_AIV, Shape.DUMMY: Q_DUMMY}[t.shape])
        self.queue_of = tuple(queue)
        rows_by_task: list[list[Any]] = [[] for _ in info.tasks]
        for row in derive_all_edges(info):
            rows_by_task[row.succ].append(row)
        self.fanin = tuple(tuple(p for p, _ in merge_rows(rows)) for rows in rows_by_task)
        cfg = scenario.config
        self.cores = (cfg.clusters, 2 * cfg.clusters)
        self.device = tuple(t for t in range(self.ntasks) if not self.is_alloc[t])

    # ------------------------------------------------------------------------------ transition system

    def initial_states(self) -> Sequence[State]:
        places = tuple(P_DONE if a else P_UNCLASSIFIED for a in self.is_alloc)
        kernel = tuple(2 if a else 0 for a in self.is_alloc)
        return [(places, kernel, (0,) * self.ntasks, ((), (), ()), ((),) * self.ntasks, None, 0)]

    def is_final(self, state: State) -> bool:
        return all(p == P_DONE for p in state[S_PLACE]) and state[S_DRAIN] is None

    def actions(self, state: State) -> Sequence[Action]:
        places = state[S_PLACE]
        unclassified = [t for t in self.device if places[t] == P_UNCLASSIFIED]
        if unclassified:
            return [(A_CLASSIFY, t, 0) for t in unclassified]
        out: list[Action] = []
        busy = [0, 0]
        for t in self.device:
            if places[t] == P_RUNNING:
                busy[self.queue_of[t]] += 1
                out.append((A_FINISH, t, 0))
        queues = state[S_QUEUES]
        for q in (Q_AIC, Q_AIV):
            if queues[q] and busy[q] < self.cores[q]:
                out.append((A_DISPATCH, q, 0))
        if state[S_DRAIN] is not None:
            out.append((A_DRAIN, 0, 0))
        else:
            out.extend((A_RESOLVE, t, 0) for t in self.device if places[t] == P_HANDED)
            if queues[Q_DUMMY]:
                out.append((A_RESOLVE, queues[Q_DUMMY][0], 0))
        return out

    def _last_unmet(self, places: Sequence[int], t: int) -> int:
        for p in reversed(self.fanin[t]):
            if places[p] != P_DONE:
                return p
        return -1

    def _route(
        self, places: list[int], queues: list[tuple[int, ...]], wake: list[tuple[int, ...]], t: int
    ) -> None:
        """classify_fanin_state, then push_ready_routed or register_wake (prepend)."""
        p = self._last_unmet(places, t)
        if p < 0:
            places[t] = P_QUEUED
            queues[self.queue_of[t]] += (t,)
        else:
            places[t] = P_WAITING
            wake[p] = (t,) + wake[p]

    def next_state(self, state: State, action: Action) -> State:
        kind, a, _ = action
        places = list(state[S_PLACE])
        kernel = list(state[S_KERNEL])
        runs = list(state[S_RUNS])
        queues = list(state[S_QUEUES])
        wake = list(state[S_WAKE])
        drain = state[S_DRAIN]
        ghost = state[S_GHOST]
        if kind == A_CLASSIFY:
            self._route(places, queues, wake, a)
        elif kind == A_DISPATCH:
            t, queues[a] = queues[a][0], queues[a][1:]
            places[t] = P_RUNNING
            kernel[t] = 1
            runs[t] += 1
        elif kind == A_FINISH:
            places[a] = P_HANDED
            kernel[a] = 2
        elif kind == A_RESOLVE:
            if self.queue_of[a] == Q_DUMMY:
                queues[Q_DUMMY] = queues[Q_DUMMY][1:]
                runs[a] += 1
                kernel[a] = 2
            places[a] = P_DONE
            drain = (a, wake[a]) if wake[a] else None
            wake[a] = ()
        else:  # A_DRAIN
            producer, waiters = drain
            w, rest = waiters[0], waiters[1:]
            drain = (producer, rest) if rest else None
            if len(self.fanin[w]) == 1:
                places[w] = P_QUEUED
                queues[self.queue_of[w]] += (w,)
            else:
                self._route(places, queues, wake, w)
                if places[w] == P_WAITING:
                    ghost = 1
        return (tuple(places), tuple(kernel), tuple(runs), tuple(queues), tuple(wake), drain, ghost)

    # ------------------------------------------------------------------------------------- properties

    def properties(self) -> Sequence[Property[State]]:
        preds = tuple(tuple(p for p in self.fanin[t] if not self.is_alloc[p]) for t in range(self.ntasks))
        device = self.device

        def after_preds(s: State) -> bool:
            kernel = s[S_KERNEL]
            return all(kernel[t] == 0 or all(kernel[p] == 2 for p in preds[t]) for t in device)

        def at_most_once(s: State) -> bool:
            return all(r <= 1 for r in s[S_RUNS])

        def one_place(s: State) -> bool:
            """Every unfinished task is in exactly one place: the queue/list its place names, once."""
            places, queues, wake, drain = s[S_PLACE], s[S_QUEUES], s[S_WAKE], s[S_DRAIN]
            seen: dict[int, int] = {}
            for q in queues:
                for t in q:
                    seen[t] = seen.get(t, 0) + 1
            for lst in wake:
                for t in lst:
                    seen[t] = seen.get(t, 0) + 1
            if drain is not None:
                for t in drain[1]:
                    seen[t] = seen.get(t, 0) + 1
            for t in device:
                listed = seen.get(t, 0)
                if places[t] in (P_QUEUED, P_WAITING):
                    if listed != 1:
                        return False
                elif listed != 0:
                    return False
            return True

        def lists_of_unfinished(s: State) -> bool:
            places, wake = s[S_PLACE], s[S_WAKE]
            return all(not wake[p] or places[p] != P_DONE for p in range(self.ntasks))

        def all_done(s: State) -> bool:
            return all(p == P_DONE for p in s[S_PLACE])

        def reregistered(s: State) -> bool:
            return bool(s[S_GHOST])

        def parallel(s: State) -> bool:
            return sum(1 for k in s[S_KERNEL] if k == 1) >= 2

        return [
            Property(
                "hbg.runs_after_predecessors",
                PropertyKind.ALWAYS,
                after_preds,
                "",
                "a kernel starts only after every producer the program's tensors and explicit deps name has ended",
            ),
            Property("hbg.runs_at_most_once", PropertyKind.ALWAYS, at_most_once, "", "no task runs twice"),
            Property(
                "hbg.one_place_per_task",
                PropertyKind.ALWAYS,
                one_place,
                "",
                "an unfinished task sits in exactly one ready queue, wake list or drain list, or on a core, or with P "
                "(no lost and no duplicated wake-up)",
            ),
            Property(
                "hbg.wake_lists_of_unfinished_producers",
                PropertyKind.ALWAYS,
                lists_of_unfinished,
                "",
                "a completed producer's wake list is closed (its waiters were taken at completion)",
            ),
            Property("hbg.all_completed", PropertyKind.EVENTUALLY, all_done, "", "every task completes"),
            Property("hbg.sometimes_all_completed", PropertyKind.SOMETIMES, all_done),
            Property(
                "hbg.sometimes_waiter_moves_to_another_producer",
                PropertyKind.SOMETIMES,
                reregistered,
                "",
                "a drained waiter still had an unmet fanin and moved onto that producer's wake list",
            ),
            Property("hbg.sometimes_parallel_kernels", PropertyKind.SOMETIMES, parallel),
        ]

    # ------------------------------------------------------------------------------------- rendering

    def format_action(self, action: Action) -> str:
        kind, a, _ = action
        if kind == A_DISPATCH:
            return f"dispatch {QUEUE_NAMES[a]}"
        if kind == A_DRAIN:
            return "P: route next waiter"
        return f"{ACTION_NAMES[kind]} {self.names[a]}"

    def format_state(self, state: State) -> str:
        places = "".join(PLACE_CHAR[p] for p in state[S_PLACE])
        queues = "/".join(",".join(self.names[t] for t in q) for q in state[S_QUEUES])
        drain = "" if state[S_DRAIN] is None else f" | P draining {self.names[state[S_DRAIN][0]]}"
        return f"{places} | ready {queues}{drain}"


def _check_host_tensor_data(scenario: Scenario) -> None:
    """get/set_tensor_data run on the host before the device starts (docs/SCALAR_DATA_ACCESS.md): a buffer a
    submitted task creates or writes has no value yet, and waiting for it cannot make progress."""
    produced: set[str] = set()
    for i, op in enumerate(scenario.program):
        if isinstance(op, Alloc):
            produced.update(o.name for o in op.outputs)
        elif isinstance(op, Submit):
            for arg in op.args:
                if arg.creates is not None:
                    produced.add(arg.creates.name)
                if arg.region is not None and arg.tag in (Tag.INOUT, Tag.OUTPUT_EXISTING):
                    produced.add(arg.region.buffer)
        elif isinstance(op, TensorData) and op.region.buffer in produced:
            raise ScenarioError(
                f"{'set' if op.write else 'get'}_tensor_data on {op.region.buffer!r}, which a submitted task "
                "creates or writes",
                f"program[{i}]",
                "host_build_graph runs the orchestration before the device starts (SCALAR_DATA_ACCESS.md)",
            )
