"""The reference model of the `tensormap_and_ringbuffer` runtime: what the runtime MAY do.

Level: task-lifecycle actions (spec runtime-spec.md §2, §10), not individual atomics. The orchestrator is
one sequential thread whose submit is split at the points where scheduler threads can interleave and
observe something different: admission (alloc), dependency collection, one claim per producer, output
registration, publication, each la read of a dep-pool wait, one link per WAIT producer, and the final
refcount contribution. The scheduler side is a set of independent actions (dispatch a block, complete a
subtask, notify one consumer, one step of a deferred release, one consumed-check, one watermark advance).

States are plain nested tuples (hashable, cheap to copy); the field layouts are the `O_*`, `R_*` and
`T_*` index constants below. Everything static (task ids, rings, frames, overlap classes) lives in
`ProgramInfo`.

Stutters: port steps that leave the abstract state unchanged map to no model action. They are the
lock/unlock steps, the reads of `la`/`cur` that change nothing, ready-queue pops that dispatch nothing
(stale entries, re-pushes), dispatch into a core's pending slot (the model dispatches when the core
starts the block), the completion poll of a core whose COND did not change, `advance_ring_pointers`
scans that move nothing, the advance-lock try/pending-mask bookkeeping, and every scheduler step after
a fatal latch (the model stops at the latch).

Reductions (hooks for `model.explorer`; their obligations are checked exhaustively on small scenarios by
`check_reduction_conditions` in tests/test_reduction.py):

* `canonicalize` clears bookkeeping that can no longer influence anything. (K1) A task that is COMPLETED
  or CONSUMED and has notified its whole completion snapshot keeps `fanout`/`ncur` only as history: the
  notify action is enabled iff ncur < len(fanout), wiring appends to a producer's list only while it is
  below COMPLETED (a completed producer is counted instead), the status never drops within a round, and
  no property reads either field; so both are reset to () / 0. (K2) On a ring whose dep-list pool can
  never run short, the pool's fill level is unobservable. The pool top grows by one per WAIT edge wired
  by a task of the ring, and a task has at most as many edges as it has candidate producers (explicit
  deps, buffer creators, earlier tasks registering a buffer it looks up or, for a heap buffer, any buffer
  of the same heap, whose address it may reuse; `_max_links`); when the sum over
  the ring's tasks is <= the pool capacity, the O11 check `cap - (top - tail) < nwait` is always false,
  so `_reclaim_dep_pool` never runs (tail and last-reclaim stay at their initial values), the per-task
  dep mark is written but never read, and the pool part of `pool_bounds` holds (0 <= top - tail <=
  links <= capacity) for every top value. Such rings keep top at its initial value and marks at 0.
* `safe_actions` (singleton ample sets) lists the pending final self-step of a task's deferred release
  (no RETAIN edge left at or after its cursor) when the task is already CONSUMED and no later task of the
  round reuses its slot. The step sets the cursor past the remaining ordering-only edges and the
  SELF_RELEASED flag; its consumed-check is a no-op on a CONSUMED task. Nothing else reads or writes
  those two fields (the cursor only for release steps of the same task, over RETAIN edges, of which none
  are left), so it commutes with every action; it stays enabled and safe until taken (status, edges and
  slot successors do not change, and NEXT_ROUND needs every action disabled); only a fatal latch, a sink
  whose detector reads none of those fields, disables it. It is invisible: `retention` reads only RETAIN
  edges past the cursor, `own_release_before_reuse` reads the flag only for a task whose slot is reused,
  `completed_awaiting_own_release` only for a COMPLETED task, and no other property reads either field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

from model.dependencies import collect_edges, merge_rows, registrations
from model.overlap import Overlap
from model.program import (
    I_ALLOC,
    I_BEGIN,
    I_DONE,
    I_END,
    I_TDATA,
    RETAIN,
    WAIT,
    ProgramInfo,
)
from model.protocol import Property
from model.scenario import NUM_RINGS, FatalCode, Scenario, ScopeMode, Shape, Submit, Tag

# ---- task status (PTO2TaskState plus "not yet submitted") ----
NONE, PENDING, COMPLETED, CONSUMED = 0, 1, 2, 3
STATUS_CHAR = "-PCX"

# ---- task flags ----
F_READY = 1  # READY_CLAIMED (or routed by an orchestrator fast path): pushed to a queue exactly once
F_SELF_RELEASED = 2  # its own on_task_release ran to the end (self check included)
F_DESC = 4  # descriptor written (O8): the generation check sees this task's id from now on
F_DROPPED = 8  # its ready push hit a full queue and was ignored (spec §1.9: push result ignored)
F_WRAPPED = 16  # ghost: its heap allocation wrapped to offset 0 (witness for heap wrap)

# ---- task tuple fields ----
T_ST, T_FCOUNT, T_FRC, T_FC, T_RC, T_RSCOPE, T_FLAGS = 0, 1, 2, 3, 4, 5, 6
T_BDISP, T_SDONE, T_NCUR, T_RELCUR = 7, 8, 9, 10
T_HBASE, T_HEND, T_DMARK, T_EDGES, T_FANOUT, T_SPILL = 11, 12, 13, 14, 15, 16
EMPTY_TASK = (NONE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, -1, 0, (), (), ())

# ---- ring tuple fields ----
R_CUR, R_LA, R_TOP, R_TAIL, R_SEEN, R_ANCHOR = 0, 1, 2, 3, 4, 5
R_DTOP, R_DTAIL, R_DLAST, R_THR, R_LCLEAN, R_STOP, R_STAIL, R_SCUR = 6, 7, 8, 9, 10, 11, 12, 13
EMPTY_RING = (0, 0, 0, 0, 0, -1, 1, 1, 0, 0, 0, 1, 1, 0)

# ---- orchestrator phases ----
P_START = 0  # SUBMIT: admission (alloc). END: release cursor. Others: the single step.
P_COLLECT = 1
P_CLAIM = 2
P_REGISTER = 3
P_PUBLISH = 4
P_WIRE = 5
P_WIRE_DONE = 6
P_DEP_WAIT = 7  # publish took branch (c) with the dep pool short: PTO2DepListPool::ensure_space's spin
PHASE_NAMES = ("start", "collect", "claim", "register", "publish", "wire", "wire-done", "dep-wait")

# ---- state tuple fields ----
S_PC, S_PHASE, S_CUR, S_FATAL, S_AUX, S_RINGS, S_TASKS, S_READY, S_CORES, S_TMAP, S_ROUND = range(11)

# ---- queues (ready_queues[AIC, AIV, MIX] + dummy_ready_queue) ----
Q_AIC, Q_AIV, Q_MIX, Q_DUMMY = 0, 1, 2, 3
QUEUE_OF_SHAPE = {Shape.AIC: Q_AIC, Shape.AIV: Q_AIV, Shape.MIX: Q_MIX, Shape.DUMMY: Q_DUMMY}
C_AIC, C_AIV = 0, 1

# ---- actions: (kind, a, b) ----
A_ORCH = 0  # the orchestrator's next step (deterministic given the state)
A_DISPATCH = 1  # (task, core type) start one block (MIX: a whole cluster) on a free core
A_COMPLETE = 2  # (task, core type) one subtask finishes; the last one runs on_task_complete's mark+snapshot
A_DUMMY = 3  # (task) a dummy-queue task completed inline by a scheduler thread
A_NOTIFY = 4  # (task) release_fanin_and_check_ready for the next consumer in the completion snapshot
A_RELEASE = 5  # (task) next step of the deferred on_task_release: one RETAIN producer, then the self check
A_ADVANCE = 6  # (ring) advance_ring_pointers over the consumed prefix, publish la
A_FATAL = 7  # (code) a detector or time-based backstop latches a fatal error
A_NEXT_ROUND = 8  # the run finished; the host launches the same program again on the same shared memory
ACTION_NAMES = ("orch", "dispatch", "complete", "dummy", "notify", "release", "advance", "fatal", "next-round")

Action = tuple[int, int, int]
State = tuple[Any, ...]


class Blocked:
    """Why the orchestrator cannot take its next step, and which fatal its detectors may latch."""

    __slots__ = ("backstop", "reason", "structural")

    def __init__(self, reason: str, structural: int = 0, backstop: int = 0) -> None:
        self.reason = reason
        self.structural = structural  # code latched by an immediate structural detector, or 0
        self.backstop = backstop  # code latched by the time-based backstop when nothing else moves, or 0


class TrbModel:
    """The `Model` of one scenario on the tensormap_and_ringbuffer runtime."""

    def __init__(self, scenario: Scenario, *, in_place: bool = False) -> None:
        self.scenario = scenario
        # The per-task part of a state is a tuple (hashable, shareable between states: the explorer) or,
        # with `in_place`, one list every step updates where it stands (O(1) per step instead of a copy of
        # all tasks). The transition logic is the same code either way; only these two conversions differ.
        # An in-place model supports one linear use: advance only the latest state, take every orchestrator
        # step `orchestrator_step` returns, and never call `actions` (it computes the orchestrator's
        # successor eagerly); states are then unhashable and earlier ones see later changes.
        self.in_place = in_place
        self._thaw: Callable[[Any], Any] = _same if in_place else list
        self._freeze: Callable[[Any], Any] = _same if in_place else tuple
        self.info = ProgramInfo(scenario)
        cfg = scenario.config
        self.consts = cfg.constants
        self.ntasks = len(self.info.tasks)
        self.core_capacity = (cfg.clusters, 2 * cfg.clusters)
        self.queue_capacity = self.consts.ready_queue_capacity
        # AIC subtasks per block of each task (a MIX block takes one AIC core when its aic kernel is set)
        self.mix_aic_per_block = tuple(
            1 if isinstance(op, Submit) and op.kernel_ids[0] >= 0 else 0 for op in scenario.tasks()
        )
        # A notification only adds to a consumer's refcount and may push it; it commutes with every
        # other action unless pushes can hit a full queue (then the order decides which push drops).
        # So when no queue can fill, completion notifies its whole snapshot in one action (Lipton
        # reduction); otherwise each notification is its own action.
        self.fuse_notify = self.queue_capacity >= self.ntasks
        self._orch_cache: tuple[State, Action | Blocked | None, State | None] | None = None
        self._props: list[Property[State]] | None = None

    # Static facts for the reductions (module docstring), computed on first use: a replay never reduces.

    @cached_property
    def _no_slot_successor(self) -> tuple[bool, ...]:
        info = self.info
        return tuple(info.task_at(t.ring, t.local + info.windows[t.ring]) < 0 for t in info.tasks)

    @cached_property
    def _dep_pool_slack(self) -> tuple[bool, ...]:
        pool = self.scenario.config.dep_pool
        return tuple(self._max_links(r, pool[r]) <= pool[r] for r in range(NUM_RINGS))

    @cached_property
    def _dep_pool_slack_rings(self) -> tuple[int, ...]:
        return tuple(r for r in range(NUM_RINGS) if self._dep_pool_slack[r])

    @cached_property
    def _dep_mark_unread(self) -> tuple[bool, ...]:
        return tuple(self._dep_pool_slack[t.ring] for t in self.info.tasks)

    @cached_property
    def _carried_mark_source(self) -> tuple[tuple[int, int], ...]:
        """(alloc task, the last task of the round in its slot) for every hidden alloc task that is its slot's
        first occupant in a round on a ring whose marks are read (K2 zeroes the others)."""
        info = self.info
        out = []
        for t in info.tasks:
            w = info.windows[t.ring]
            if not t.is_alloc or t.local >= w or self._dep_mark_unread[t.index]:
                continue
            last = t.local + (info.tasks_per_ring[t.ring] - 1 - t.local) // w * w
            out.append((t.index, info.task_at(t.ring, last)))
        return tuple(out)

    def _alloc_mark(self, tasks: Any, t: int) -> int:
        """alloc_tensors never calls mark_dep_pool_position and reset_for_reuse keeps dep_pool_mark
        (RT/pto_orchestrator.cpp, RT/pto_runtime2_types.h): a hidden alloc task's mark is whatever its slot
        held, i.e. the mark of the slot's previous occupant (0 for a slot never used since boot)."""
        info = self.info.tasks[t]
        previous = self.info.task_at(info.ring, info.local - self.info.windows[info.ring])
        return int(tasks[previous][T_DMARK] if previous >= 0 else tasks[t][T_DMARK])

    # ------------------------------------------------------------------ Model protocol

    def initial_states(self) -> Sequence[State]:
        return (self._fresh_round(0),)

    def _fresh_round(self, round_no: int, previous: State | None = None) -> State:
        tasks: Any = [EMPTY_TASK] * self.ntasks
        if previous is not None:
            # Slot states survive the relaunch (runtime_reset_for_reuse resets the pools, not the slots), so
            # a hidden alloc task that is its slot's first occupant this round inherits the dep_pool_mark its
            # slot ended the previous round with (kept in the not-yet-admitted task's T_DMARK).
            for t, last in self._carried_mark_source:
                tasks[t] = _set(EMPTY_TASK, T_DMARK, previous[S_TASKS][last][T_DMARK])
        return (
            0,
            P_START,
            0,
            0,
            (),
            (EMPTY_RING,) * NUM_RINGS,
            tasks if self.in_place else tuple(tasks),
            ((), (), (), ()),
            ((), ()),
            (),
            round_no,
        )

    def is_final(self, state: State) -> bool:
        if state[S_FATAL]:
            return True
        return self.info.instrs[state[S_PC]].kind == I_DONE and self.all_consumed(state)

    def all_consumed(self, state: State) -> bool:
        return all(t[T_ST] == CONSUMED for t in state[S_TASKS])

    def actions(self, state: State) -> list[Action]:
        if state[S_FATAL]:
            return []  # the model stops at the latch (scheduler shutdown steps are stutters)
        out: list[Action] = []
        orch = self._orch(state)
        blocked = orch if isinstance(orch, Blocked) else None
        if isinstance(orch, tuple):
            out.append(orch)
        elif blocked is not None and blocked.structural:
            out.append((A_FATAL, blocked.structural, 0))
        tasks = state[S_TASKS]
        info_tasks = self.info.tasks
        # Dispatch: one block of a ready task onto a free core of its shape.
        ready = state[S_READY]
        aic_busy, aiv_busy = len(state[S_CORES][C_AIC]), len(state[S_CORES][C_AIV])
        aic_cap, aiv_cap = self.core_capacity
        for t in ready[Q_AIC]:
            if aic_busy < aic_cap:
                out.append((A_DISPATCH, t, C_AIC))
        for t in ready[Q_AIV]:
            if aiv_busy < aiv_cap:
                out.append((A_DISPATCH, t, C_AIV))
        for t in ready[Q_MIX]:
            if aic_busy < aic_cap and aiv_busy + 2 <= aiv_cap:
                out.append((A_DISPATCH, t, C_AIC))
        for t in ready[Q_DUMMY]:
            out.append((A_DUMMY, t, 0))
        # Completions, one per distinct running task per core type.
        for ctype in (C_AIC, C_AIV):
            prev = -1
            for t in state[S_CORES][ctype]:
                if t != prev:
                    out.append((A_COMPLETE, t, ctype))
                    prev = t
        for i, t in enumerate(tasks):
            st = t[T_ST]
            if st < COMPLETED:
                continue
            if t[T_NCUR] < len(t[T_FANOUT]) and st >= COMPLETED and not info_tasks[i].is_alloc:
                out.append((A_NOTIFY, i, 0))
            elif not t[T_FLAGS] & F_SELF_RELEASED and not info_tasks[i].is_alloc:
                out.append((A_RELEASE, i, 0))
        for r, ring in enumerate(state[S_RINGS]):
            la = ring[R_LA]
            if la < ring[R_CUR] and tasks[self.info.task_at(r, la)][T_ST] == CONSUMED:
                out.append((A_ADVANCE, r, 0))
        if out:
            return out
        # Nothing else can move: the time-based backstops fire (spec §2.13 500 ms, §2.15 watchdog).
        if blocked is not None and blocked.backstop:
            return [(A_FATAL, blocked.backstop, 0)]
        pc = state[S_PC]
        if self.info.instrs[pc].kind == I_DONE:
            if self.all_consumed(state):
                if state[S_ROUND] + 1 < self.scenario.runs:
                    return [(A_NEXT_ROUND, 0, 0)]
                return []
            # completed < total with nothing running: the global-stuck watchdog branch (INV-E3)
            return [(A_FATAL, int(FatalCode.SCHEDULER_TIMEOUT), 0)]
        return []

    def next_state(self, state: State, action: Action) -> State:
        kind = action[0]
        if kind == A_ORCH:
            orch = self._orch(state)
            assert isinstance(orch, tuple)
            cached = self._orch_cache
            assert cached is not None and cached[2] is not None
            return cached[2]
        if kind == A_FATAL:
            return state[:S_FATAL] + (action[1],) + state[S_FATAL + 1 :]
        if kind == A_NEXT_ROUND:
            return self._fresh_round(state[S_ROUND] + 1, state)
        if kind == A_ADVANCE:
            return self._advance(state, action[1])
        tasks = self._thaw(state[S_TASKS])
        if kind == A_DISPATCH:
            return self._dispatch(state, tasks, action[1], action[2])
        if kind == A_COMPLETE:
            return self._complete(state, tasks, action[1], action[2])
        if kind == A_DUMMY:
            t = action[1]
            ready = list(state[S_READY])
            ready[Q_DUMMY] = _without(ready[Q_DUMMY], t)
            tasks[t] = self._mark_completed(tasks[t])
            if self.fuse_notify:
                self._notify_all(tasks, t, ready)
            return self._with(state, tasks=self._freeze(tasks), ready=tuple(ready))
        if kind == A_NOTIFY:
            ready = list(state[S_READY])
            self._notify_next(tasks, action[1], ready)
            return self._with(state, tasks=self._freeze(tasks), ready=tuple(ready))
        if kind == A_RELEASE:
            c = action[1]
            ct = tasks[c]
            edges = ct[T_EDGES]
            cur = ct[T_RELCUR]
            while cur < len(edges) and not edges[cur][1] & RETAIN:
                cur += 1  # ordering-only edges released their pin at wiring
            if cur < len(edges):
                p = edges[cur][0]
                if p == c:
                    ct = _release(ct)
                else:
                    tasks[p] = _release(tasks[p])
                tasks[c] = _set(ct, T_RELCUR, cur + 1)
            else:
                ct = _set(ct, T_RELCUR, cur)
                ct = _set(ct, T_FLAGS, ct[T_FLAGS] | F_SELF_RELEASED)
                tasks[c] = _consumed_check(ct)  # the self consumed-check
            return self._with(state, tasks=self._freeze(tasks))
        raise AssertionError(f"unknown action {action}")

    # ------------------------------------------------------------------ reductions (module docstring)

    def _max_links(self, r: int, limit: int | None = None) -> int:
        """An upper bound on the WAIT edges the tasks of ring `r` wire in one round: per task, the number of
        producers `collect_edges` could ever name (a claim adds at most one edge per candidate). Counting
        stops once the total exceeds `limit` (callers only compare with it), so the cost is linear in the
        program plus the candidates counted: long replayed traces stay cheap."""
        info = self.info
        total = 0
        registrants: dict[str | None, list[int]] = {}  # buffer -> earlier tasks registering it, in order
        # heap ring -> earlier tasks registering any buffer created there (a lookup may meet them by address)
        heap_registrants: dict[int, list[int]] = {}
        for t in info.tasks:
            if t.ring == r and not t.is_alloc:
                candidates = {dep for dep, _flags in t.explicit_deps}
                if not t.manual:
                    candidates.update(a.owner for a in t.args if a.tag is not Tag.OUTPUT and a.owner >= 0)
                    for b in {t.args[ai].buffer for ai in t.lookups}:
                        candidates.update(registrants.get(b, ()))
                        if info.heap_ring(b) >= 0:
                            candidates.update(heap_registrants.get(info.heap_ring(b), ()))
                total += len(candidates)
                if limit is not None and total > limit:
                    return total
            for ai in t.registrations:
                buffer = t.args[ai].buffer
                rows = [registrants.setdefault(buffer, [])]
                if info.heap_ring(buffer) >= 0:
                    rows.append(heap_registrants.setdefault(info.heap_ring(buffer), []))
                for row in rows:
                    if not row or row[-1] != t.index:
                        row.append(t.index)
        return total

    def canonicalize(self, state: State) -> State:
        """Reset dead notification history (K1) and unobservable dep-pool accounting (K2)."""
        tasks = state[S_TASKS]
        mark_unread = self._dep_mark_unread
        new_tasks: list[Any] | None = None
        for i, tt in enumerate(tasks):
            fanout = tt[T_FANOUT]
            spent = bool(fanout) and tt[T_ST] >= COMPLETED and tt[T_NCUR] == len(fanout)
            if spent or (tt[T_DMARK] and mark_unread[i]):
                if new_tasks is None:
                    new_tasks = list(tasks)
                if spent:
                    tt = tt[:T_NCUR] + (0,) + tt[T_NCUR + 1 : T_FANOUT] + ((),) + tt[T_FANOUT + 1 :]
                if mark_unread[i]:
                    tt = _set(tt, T_DMARK, 0)
                new_tasks[i] = tt
        rings = state[S_RINGS]
        new_rings: list[Any] | None = None
        for r in self._dep_pool_slack_rings:
            if rings[r][R_DTOP] != EMPTY_RING[R_DTOP]:
                if new_rings is None:
                    new_rings = list(rings)
                new_rings[r] = _set(rings[r], R_DTOP, EMPTY_RING[R_DTOP])
        if new_tasks is None and new_rings is None:
            return state
        s = list(state)
        if new_tasks is not None:
            s[S_TASKS] = tuple(new_tasks)
        if new_rings is not None:
            s[S_RINGS] = tuple(new_rings)
        return tuple(s)

    def safe_actions(self, state: State, enabled: Sequence[Action]) -> list[Action]:
        """Enabled final self-steps of the deferred release of CONSUMED tasks whose slot no later task of
        the round reuses: each commutes with everything and no property sees it (module docstring)."""
        out: list[Action] = []
        tasks = state[S_TASKS]
        no_successor = self._no_slot_successor
        for action in enabled:
            if action[0] != A_RELEASE or not no_successor[action[1]]:
                continue
            ct = tasks[action[1]]
            if ct[T_ST] != CONSUMED:
                continue
            edges = ct[T_EDGES]
            cur = ct[T_RELCUR]
            while cur < len(edges) and not edges[cur][1] & RETAIN:
                cur += 1
            if cur >= len(edges):
                out.append(action)
        return out

    # ------------------------------------------------------------------ scheduler-side transitions

    def _with(self, state: State, *, tasks: Any = None, ready: Any = None, cores: Any = None) -> State:
        s = list(state)
        if tasks is not None:
            s[S_TASKS] = tasks
        if ready is not None:
            s[S_READY] = ready
        if cores is not None:
            s[S_CORES] = cores
        return tuple(s)

    def _dispatch(self, state: State, tasks: list[Any], t: int, ctype: int) -> State:
        info = self.info.tasks[t]
        q = QUEUE_OF_SHAPE[info.shape]
        tt = tasks[t]
        bdisp = tt[T_BDISP] + 1
        tasks[t] = _set(tt, T_BDISP, bdisp)
        ready = list(state[S_READY])
        if bdisp == info.block_num:
            ready[q] = _without(ready[q], t)  # every block claimed: the queue entry is spent
        cores = list(state[S_CORES])
        if info.shape is Shape.MIX:
            n_aic = self.mix_aic_per_block[t]
            n_aiv = info.subtasks // info.block_num - n_aic
            cores[C_AIC] = _insert_sorted(cores[C_AIC], t, n_aic)
            cores[C_AIV] = _insert_sorted(cores[C_AIV], t, n_aiv)
        else:
            cores[ctype] = _insert_sorted(cores[ctype], t, 1)
        return self._with(state, tasks=self._freeze(tasks), ready=tuple(ready), cores=tuple(cores))

    def _complete(self, state: State, tasks: list[Any], t: int, ctype: int) -> State:
        cores = list(state[S_CORES])
        cores[ctype] = _without(cores[ctype], t)
        tt = tasks[t]
        sdone = tt[T_SDONE] + 1
        tt = _set(tt, T_SDONE, sdone)
        if sdone != self.info.tasks[t].subtasks:
            tasks[t] = tt
            return self._with(state, tasks=self._freeze(tasks), cores=tuple(cores))
        tasks[t] = self._mark_completed(tt)
        ready = list(state[S_READY])
        if self.fuse_notify:
            self._notify_all(tasks, t, ready)
        return self._with(state, tasks=self._freeze(tasks), cores=tuple(cores), ready=tuple(ready))

    def _notify_next(self, tasks: list[Any], p: int, ready: list[Any]) -> None:
        """release_fanin_and_check_ready for the next consumer of `p`'s completion snapshot."""
        pt = tasks[p]
        consumer = pt[T_FANOUT][pt[T_NCUR]]
        tasks[p] = _set(pt, T_NCUR, pt[T_NCUR] + 1)
        ct = tasks[consumer]
        ct = _set(ct, T_FRC, ct[T_FRC] + 1)
        if ct[T_FRC] == ct[T_FCOUNT]:
            ct = self._route_ready(ct, consumer, ready)
        tasks[consumer] = ct

    def _notify_all(self, tasks: list[Any], p: int, ready: list[Any]) -> None:
        while tasks[p][T_NCUR] < len(tasks[p][T_FANOUT]):
            self._notify_next(tasks, p, ready)

    @staticmethod
    def _mark_completed(tt: Any) -> Any:
        # on_task_complete step 1 under L(P): COMPLETED + snapshot of fanout_head. Links made later are
        # impossible (wiring counts a COMPLETED producer instead, INV-F3), so the list is the snapshot.
        return _set(tt, T_ST, COMPLETED)

    def _route_ready(self, ct: Any, c: int, ready: list[Any]) -> Any:
        """route_ready_once / push_ready_routed: push by shape; a full queue silently drops (spec §1.9)."""
        if ct[T_FLAGS] & F_READY:
            return ct  # READY_CLAIMED already set: another router won the CAS
        flags = ct[T_FLAGS] | F_READY
        q = QUEUE_OF_SHAPE[self.info.tasks[c].shape]
        if len(ready[q]) >= self.queue_capacity:
            flags |= F_DROPPED
        else:
            ready[q] = _insert_sorted(ready[q], c, 1)
        return _set(ct, T_FLAGS, flags)

    def _advance(self, state: State, r: int) -> State:
        rings = list(state[S_RINGS])
        ring = rings[r]
        la, cur = ring[R_LA], ring[R_CUR]
        tasks = state[S_TASKS]
        row = self.info.by_ring_local[r]
        while la < cur and tasks[row[la]][T_ST] == CONSUMED:
            la += 1
        rings[r] = _set(ring, R_LA, la)
        s = list(state)
        s[S_RINGS] = tuple(rings)
        return tuple(s)

    # ------------------------------------------------------------------ the orchestrator

    def orchestrator_step(self, state: State) -> Action | Blocked | None:
        """The orchestrator's next step in `state`, exactly as `actions` offers it: an action, why it is
        blocked, or None once it is done. Lets a replay of an observed run advance the orchestrator
        without computing every scheduler action."""
        return self._orch(state)

    def _orch(self, state: State) -> Action | Blocked | None:
        """The orchestrator's next step: an action (its successor is cached), a Blocked, or None (done)."""
        cached = self._orch_cache
        if cached is not None and cached[0] is state:
            return cached[1]
        result, nxt = self._orch_step(state)
        self._orch_cache = (state, result, nxt)
        return result

    def _orch_step(self, state: State) -> tuple[Action | Blocked | None, State | None]:
        pc, phase, cur = state[S_PC], state[S_PHASE], state[S_CUR]
        instr = self.info.instrs[pc]
        action: Action = (A_ORCH, pc, phase * 1000 + cur)
        s = list(state)
        kind = instr.kind
        if kind == I_DONE:
            return None, None
        if kind == I_BEGIN:
            if instr.auto_in_manual:
                s[S_FATAL] = int(FatalCode.INVALID_ARGS)  # begin_scope rejects AUTO inside MANUAL
                return action, tuple(s)
            return self._fuse_private(action, self._goto(s, pc + 1))
        if kind == I_END:
            frame = instr.frame
            if cur < len(frame):
                tasks = self._thaw(s[S_TASKS])
                t = frame[cur]
                tt = tasks[t]
                tasks[t] = _consumed_check(_set(tt, T_RSCOPE, 1))  # release_producer_scope
                s[S_TASKS] = self._freeze(tasks)
                s[S_CUR] = cur + 1
                if cur + 1 == len(frame):
                    return self._fuse_private(action, self._goto(s, pc + 1))  # the pop is private
                return action, tuple(s)
            return self._fuse_private(action, self._goto(s, pc + 1))
        if kind == I_TDATA:
            assert instr.region_arg is not None
            if self._tensor_data_ready(state, instr.region_arg, instr.write):
                return action, self._goto(s, pc + 1)
            return Blocked("tensor data wait", backstop=int(FatalCode.TENSOR_WAIT_TIMEOUT)), None
        t = instr.task
        if phase == P_START:
            return self._admit(s, t, action)
        if phase == P_COLLECT:
            return action, self._collect(s, t)
        if phase == P_CLAIM:
            return self._claim(s, t, action)
        if phase == P_REGISTER:
            return self._register(s, t, action)
        if phase == P_PUBLISH:
            return self._publish(s, t, action)
        if phase == P_WIRE:
            return self._wire(s, t, action)
        if phase == P_WIRE_DONE:
            return action, self._wire_done(s, t)
        if phase == P_DEP_WAIT:
            return self._dep_wait(s, t, action)
        raise AssertionError(f"bad phase {phase}")

    def _fuse_private(self, action: Action, nxt: State) -> tuple[Action | Blocked | None, State | None]:
        """Run the orchestrator's next step too when this one only touched orchestrator-private state
        (scope stack, frame pop): such a step commutes with every other thread's action, so merging it
        with its successor loses no behaviour (Lipton reduction) and removes one interleaving point."""
        if nxt[S_FATAL]:
            return action, nxt
        follow, after = self._orch_step(nxt)
        if isinstance(follow, tuple) and after is not None:
            return action, after
        return action, nxt

    def _goto(self, s: list[Any], pc: int, phase: int = P_START, cur: int = 0, aux: Any = ()) -> State:
        s[S_PC], s[S_PHASE], s[S_CUR], s[S_AUX] = pc, phase, cur, aux
        return tuple(s)

    def _tensor_data_ready(self, state: State, arg: Any, write: bool) -> bool:
        """wait_for_tensor_ready: owner and valid overlapping writers COMPLETED (>=), and for a write
        also every claimed consumer of theirs released (spec §2.13)."""
        tasks = state[S_TASKS]
        waited = []
        if arg.owner >= 0:
            waited.append(arg.owner)
        rings = state[S_RINGS]
        same_address = self._same_address(tasks)
        for p, a in state[S_TMAP]:
            pinfo = self.info.tasks[p]
            if pinfo.local < rings[pinfo.ring][R_THR]:
                continue
            registered = pinfo.args[a].buffer
            aliased = registered != arg.buffer and same_address(arg.buffer, registered)
            if self.info.region_overlap(arg, p, a, aliased) is not Overlap.NO_OVERLAP:
                waited.append(p)
        for p in waited:
            pt = tasks[p]
            if pt[T_ST] < COMPLETED:
                return False
            if write and pt[T_ST] == COMPLETED and pt[T_RC] != pt[T_FC]:
                return False
        return True

    # -- O2: admission (prepare_task: scope check, alloc with window + heap, commit, prepare)

    def _admit(self, s: list[Any], t: int, action: Action) -> tuple[Action | Blocked, State | None]:
        info = self.info.tasks[t]
        r = info.ring
        w = self.info.windows[r]
        if info.frame_count_before >= w - 1:
            s[S_FATAL] = int(FatalCode.SCOPE_DEADLOCK)  # check_scope_can_accept_task, before any allocation
            return action, tuple(s)
        rings = list(s[S_RINGS])
        ring = _update_heap_tail(self, rings[r], r, s[S_TASKS])
        local = ring[R_CUR]
        assert local == info.local, "allocation order is program order"
        window_ok = local - ring[R_LA] + 1 < w
        placed = _try_bump_heap(ring, info.heap_request, self.info.heap_sizes[r], local) if window_ok else None
        if placed is None:
            structural = 0
            code = int(FatalCode.FLOW_CONTROL_DEADLOCK if not window_ok else FatalCode.HEAP_RING_DEADLOCK)
            oldest = info.oldest_open
            if oldest >= 0 and self.info.tasks[oldest].ring == r and self.info.tasks[oldest].local == ring[R_LA]:
                structural = code  # the ring head is the oldest open-scope task: it cannot be consumed
            return Blocked("task window full" if not window_ok else "heap full", structural, code), None
        ring, base, end, wrapped = placed
        ring = _set(ring, R_CUR, local + 1)  # commit_task: cur.store(local+1, rel)
        rings[r] = ring
        tasks = self._thaw(s[S_TASKS])
        flags = (F_DESC | F_WRAPPED) if wrapped else F_DESC
        if info.is_alloc:
            # alloc_tensors: prepare, write descriptor and payload, mark_completed; no TensorMap insert.
            mark = self._alloc_mark(tasks, t)
            tasks[t] = (COMPLETED, 0, 0, 0, 0, 0, flags, 0, 0, 0, 0, base, end, mark, (), (), ())
            s[S_RINGS], s[S_TASKS] = tuple(rings), self._freeze(tasks)
            if info.scope_tasks_before + 1 > self.info.scope_tasks_capacity:
                s[S_FATAL] = int(FatalCode.SCOPE_TASKS_OVERFLOW)
            return action, self._goto(s, s[S_PC] + 1)
        # reset_for_reuse + PENDING; fanout_count = SCOPE_BIT (the scope reference is T_RSCOPE's pair)
        tasks[t] = (PENDING, 0, 0, 0, 0, 0, flags & ~F_DESC, 0, 0, 0, 0, base, end, 0, (), (), ())
        s[S_RINGS], s[S_TASKS] = tuple(rings), self._freeze(tasks)
        if info.scope_tasks_before + 1 > self.info.scope_tasks_capacity:
            s[S_FATAL] = int(FatalCode.SCOPE_TASKS_OVERFLOW)
            return action, tuple(s)
        return action, self._goto(s, s[S_PC], P_COLLECT)

    # -- O4-O6: sync the TensorMap, explicit deps, creator and modifier lookups

    def _collect(self, s: list[Any], t: int) -> State:
        info = self.info.tasks[t]
        r = info.ring
        rings = list(s[S_RINGS])
        ring = rings[r]
        la = ring[R_LA]
        tmap = s[S_TMAP]
        # sync_tensormap: refresh this ring's validity threshold; periodic / slot-collision cleanup.
        ring = _set(ring, R_THR, la)
        lclean = ring[R_LCLEAN]
        mask = self.info.masks[r]
        if la - lclean >= self.consts.tensormap_cleanup_interval or (info.local & mask) == (lclean & mask):
            tmap = self._cleanup(tmap, r, lclean, la)
            ring = _set(ring, R_LCLEAN, la)
        rings[r] = ring
        info_tasks = self.info.tasks
        rows, tmap = collect_edges(
            self.info,
            t,
            tmap,
            lambda p: info_tasks[p].local >= rings[info_tasks[p].ring][R_THR],
            lambda p: info_tasks[p].local >= rings[info_tasks[p].ring][R_LA],  # O5: retired deps skipped
            self._same_address(s[S_TASKS]),
        )
        merged = merge_rows(rows)
        s[S_RINGS], s[S_TMAP] = tuple(rings), tmap
        return self._goto(s, s[S_PC], P_CLAIM, 0, tuple(merged))

    def _same_address(self, tasks: Any) -> Callable[[str | None, str | None], bool]:
        """Whether two different buffers have the same address now: both created on one ring's heap at
        the same offset (the creator's heap base, as allocated this round, plus the buffer's place in the
        creator's packed block). External buffers have distinct host addresses."""
        info = self.info

        def same(b1: str | None, b2: str | None) -> bool:
            p1 = info.placement.get(b1) if b1 is not None else None
            p2 = info.placement.get(b2) if b2 is not None else None
            if p1 is None or p2 is None or info.tasks[p1[0]].ring != info.tasks[p2[0]].ring:
                return False
            return bool(tasks[p1[0]][T_HBASE] + p1[1] == tasks[p2[0]][T_HBASE] + p2[1])

        return same

    def _cleanup(self, tmap: tuple[Any, ...], r: int, old: int, new: int) -> tuple[Any, ...]:
        """cleanup_retired(r, old, new): free exactly the entries whose producer is (r, t), old <= t < new."""
        tasks = self.info.tasks
        return tuple(e for e in tmap if not (tasks[e[0]].ring == r and old <= tasks[e[0]].local < new))

    # -- A1-A5: one claim per candidate producer, under L(P)

    def _claim(self, s: list[Any], t: int, action: Action) -> tuple[Action | Blocked, State | None]:
        cands = s[S_AUX]
        cur = s[S_CUR]
        if cur >= len(cands):
            return action, self._goto(s, s[S_PC], P_REGISTER)
        p, flags = cands[cur]
        tasks = self._thaw(s[S_TASKS])
        gone, phantom = self._gone(s, p, t)
        info = self.info
        if not gone and p != t and info.tasks[p].ring == info.tasks[t].ring and info.slot(p) == info.slot(t):
            # A stale id (p = t - W) in the consumer's own slot passes the check only because the
            # descriptor names p until O8; the claim (and later the link) lands on the consumer's own
            # freshly reset slot state, so the edge is physically a self-edge.
            p = t
        ct = tasks[t]
        if not gone:
            edges = ct[T_EDGES]
            spill = ct[T_SPILL]
            if len(edges) >= self.consts.fanin_inline_cap:
                rings = list(s[S_RINGS])
                r = self.info.tasks[t].ring
                ring = self._reclaim_spill(rings[r], r, s[S_TASKS])
                if ring[R_STOP] - ring[R_STAIL] >= self.info.scenario.config.dep_pool[r]:
                    return Blocked("fanin spill pool full", backstop=int(FatalCode.DEP_POOL_OVERFLOW)), None
                start = spill[0] if spill else ring[R_STOP]
                spill = (start, (spill[1] if spill else 0) + 1)
                rings[r] = _set(ring, R_STOP, ring[R_STOP] + 1)
                s[S_RINGS] = tuple(rings)
            if not phantom:
                pt = tasks[p] if p != t else ct
                pt = _set(pt, T_FC, pt[T_FC] + 1)  # the claim: fanout_count++ under L(P)
                if p == t:
                    ct = pt
                else:
                    tasks[p] = pt
            ct = _set(_set(ct, T_EDGES, (*edges, (p, flags, phantom))), T_SPILL, spill)
            tasks[t] = ct
        s[S_TASKS] = self._freeze(tasks)
        s[S_CUR] = cur + 1
        return action, tuple(s)

    def _gone(self, s: list[Any], p: int, consumer: int) -> tuple[bool, bool]:
        """The generation + consumed check of append_fanin_or_fail, against the producer's *slot*.

        Returns (gone, phantom): phantom means the check passed on a slot that `p` does not occupy yet
        (the consumer's own freshly prepared slot, whose descriptor still names an earlier id that is
        `p`'s), so the claim lands on memory `p`'s prepare will reset.
        """
        info = self.info
        pinfo = info.tasks[p]
        r = pinfo.ring
        ring = s[S_RINGS][r]
        tasks = s[S_TASKS]
        w = info.windows[r]
        slot = pinfo.local & info.masks[r]
        # The slot's occupant: the newest allocated task of ring r in this slot.
        cur = ring[R_CUR]
        occ_local = -1
        if cur > slot:
            occ_local = slot + ((cur - 1 - slot) // w) * w
        if occ_local < 0:
            # No task of this round was prepared in the slot. On the first boot its task pointer is still
            # null (prepare_task binds it: bind_buffers), and after an earlier round it holds that round's
            # last occupant, CONSUMED: append_fanin_or_fail finds the producer gone either way.
            return True, False
        occ = info.task_at(r, occ_local)
        ot = tasks[occ]
        slot_state = ot[T_ST]
        if ot[T_FLAGS] & F_DESC or occ != consumer:
            desc_local = occ_local
        elif occ_local - w >= 0:
            desc_local = occ_local - w  # the descriptor still names the previous occupant until O8
        else:
            desc_local = self._boot_slot(s[S_ROUND], r, slot)[0]
        if desc_local != pinfo.local or slot_state == CONSUMED:
            return True, False
        return False, tasks[p][T_ST] == NONE

    def _boot_slot(self, round_no: int, r: int, slot: int) -> tuple[int, int]:
        """(descriptor local id, task_state) of a slot not yet used this round. The per-run init does
        not touch slots (spec §1.2): round 0 sees the zero-filled image (id 0, state 0 = PENDING),
        later rounds what the previous round left (its last occupant, CONSUMED)."""
        if round_no == 0:
            return 0, PENDING
        n = self.info.tasks_per_ring[r]
        w = self.info.windows[r]
        if n > slot:
            return slot + ((n - 1 - slot) // w) * w, CONSUMED
        return 0, PENDING

    def _reclaim_spill(self, ring: Any, r: int, tasks: Any) -> Any:
        la = ring[R_LA]
        tail = ring[R_STAIL]
        for local in range(ring[R_SCUR], la):
            spill = tasks[self.info.task_at(r, local)][T_SPILL]
            if spill:
                tail = max(tail, spill[0] + spill[1])
        return _set(_set(ring, R_STAIL, tail), R_SCUR, max(la, ring[R_SCUR]))

    # -- O7-O10: reserve TensorMap capacity, register outputs, write the descriptor

    def _register(self, s: list[Any], t: int, action: Action) -> tuple[Action | Blocked, State | None]:
        info = self.info.tasks[t]
        tmap = s[S_TMAP]
        needed = len(info.registrations)
        pool = self.consts.tensormap_pool_size
        rings = list(s[S_RINGS])
        if needed and pool - len(tmap) < needed:
            # reclaim_retired_all with every ring's la (relaxed reads)
            for r in range(NUM_RINGS):
                ring = rings[r]
                la = ring[R_LA]
                ring = _set(ring, R_THR, la)
                if la > ring[R_LCLEAN]:
                    tmap = self._cleanup(tmap, r, ring[R_LCLEAN], la)
                    ring = _set(ring, R_LCLEAN, la)
                rings[r] = ring
            if pool - len(tmap) < needed:
                return Blocked("TensorMap pool full", backstop=int(FatalCode.TENSORMAP_OVERFLOW)), None
        tmap = tmap + registrations(self.info, t)
        tasks = self._thaw(s[S_TASKS])
        tasks[t] = _set(tasks[t], T_FLAGS, tasks[t][T_FLAGS] | F_DESC)
        s[S_TMAP], s[S_RINGS], s[S_TASKS] = tmap, tuple(rings), self._freeze(tasks)
        # O8-O10 touch only orchestrator-private state; publication (O11) is the next visible step.
        return self._publish(s, t, action)

    # -- O11: publish (fast paths a / b, or dep-pool reserve then wiring)

    def _publish(self, s: list[Any], t: int, action: Action) -> tuple[Action | Blocked, State | None]:
        tasks = self._thaw(s[S_TASKS])
        ct = tasks[t]
        edges = ct[T_EDGES]
        ready = list(s[S_READY])
        r = self.info.tasks[t].ring
        rings = list(s[S_RINGS])
        if not edges:  # (a) no edges
            ct = _set(_set(ct, T_FCOUNT, 1), T_FRC, 1)
            ct = _set(ct, T_DMARK, rings[r][R_DTOP])
            tasks[t] = self._route_ready(ct, t, ready)
            s[S_TASKS], s[S_READY] = self._freeze(tasks), tuple(ready)
            return action, self._goto(s, s[S_PC] + 1)
        nwait = sum(1 for e in edges if e[1] & WAIT)
        if all(tasks[p][T_ST] >= COMPLETED and not ph for p, f, ph in edges if f & WAIT):  # (b)
            ct = _set(_set(ct, T_FCOUNT, nwait + 1), T_FRC, nwait + 1)
            for p, f, _ph in edges:
                if f & WAIT and not f & RETAIN:
                    if p == t:
                        ct = _release(ct)
                    else:
                        tasks[p] = _release(tasks[p])
            ct = _set(ct, T_DMARK, rings[r][R_DTOP])
            tasks[t] = self._route_ready(ct, t, ready)
            s[S_TASKS], s[S_READY] = self._freeze(tasks), tuple(ready)
            return action, self._goto(s, s[S_PC] + 1)
        # (c) dep_pool.ensure_space(ring, wfanin, oldest_open) then wire_fanin_task
        ring = rings[r]
        cap = self.info.scenario.config.dep_pool[r]
        if cap - (ring[R_DTOP] - ring[R_DTAIL]) < nwait:
            # submit_task_common commits to branch (c) at its all_claimed_fanin_completed read: ensure_space
            # (RT/pto_ring_buffer.cpp) then spins on last_task_alive alone and never re-checks the producers,
            # so a producer completing meanwhile does not turn this into branch (b). The pool is short: the
            # first la read and reclaim are the next step (P_DEP_WAIT), not part of this decision.
            return action, self._goto(s, s[S_PC], P_DEP_WAIT)
        tasks[t] = _set(ct, T_FCOUNT, nwait + 1)  # W1: fanin_count published before any link (INV-F1)
        s[S_TASKS], s[S_RINGS] = self._freeze(tasks), tuple(rings)
        return action, self._goto(s, s[S_PC], P_WIRE, 0, 0)

    def _dep_wait(self, s: list[Any], t: int, action: Action) -> tuple[Action | Blocked, State | None]:
        """One la read of PTO2DepListPool::ensure_space's loop (RT/pto_ring_buffer.cpp) and its reclaim.
        The C++ reclaims with the la values it happens to read (the entry read, then each larger re-read);
        here the read is an action of its own, so any interleaving may skip la values as the C++ can. A
        reclaim that runs commits last_reclaimed = la even when it frees too little (the C++ stores it
        unconditionally inside the interval check). A read that would change nothing (la still below
        last_reclaimed + interval) is the spin: the orchestrator is blocked until la moves."""
        r = self.info.tasks[t].ring
        rings = list(s[S_RINGS])
        ring = rings[r]
        reclaimed = self._reclaim_dep_pool(ring, r, s[S_TASKS])
        nwait = sum(1 for e in s[S_TASKS][t][T_EDGES] if e[1] & WAIT)
        cap = self.info.scenario.config.dep_pool[r]
        if cap - (reclaimed[R_DTOP] - reclaimed[R_DTAIL]) >= nwait:
            tasks = self._thaw(s[S_TASKS])
            tasks[t] = _set(tasks[t], T_FCOUNT, nwait + 1)  # W1: fanin_count published before any link (INV-F1)
            rings[r] = reclaimed
            s[S_TASKS], s[S_RINGS] = self._freeze(tasks), tuple(rings)
            return action, self._goto(s, s[S_PC], P_WIRE, 0, 0)
        if reclaimed is not ring:  # reclaim ran (last_reclaimed = la) and freed too little: keep spinning
            rings[r] = reclaimed
            s[S_RINGS] = tuple(rings)
            return action, tuple(s)
        oldest = self.info.tasks[t].oldest_open
        structural = 0
        if oldest >= 0 and self.info.tasks[oldest].ring == r and self.info.tasks[oldest].local == ring[R_LA]:
            structural = int(FatalCode.DEP_POOL_OVERFLOW)
        return Blocked("dep-list pool full", structural, int(FatalCode.DEP_POOL_OVERFLOW)), None

    def _reclaim_dep_pool(self, ring: Any, r: int, tasks: Any) -> Any:
        """PTO2DepListPool::reclaim (RT/pto_ring_buffer.cpp): the same ring object when it does not run."""
        la = ring[R_LA]
        if la < ring[R_DLAST] + self.consts.dep_pool_cleanup_interval or la == 0:
            return ring
        mark = tasks[self.info.task_at(r, la - 1)][T_DMARK]
        return _set(_set(ring, R_DTAIL, max(ring[R_DTAIL], mark)), R_DLAST, la)

    # -- W2: one atomic action under L(P) per edge, then the WAIT-only pin release

    def _wire(self, s: list[Any], t: int, action: Action) -> tuple[Action, State]:
        tasks = self._thaw(s[S_TASKS])
        ct = tasks[t]
        edges = ct[T_EDGES]
        cur = s[S_CUR]
        completed = s[S_AUX]
        if cur >= len(edges):
            return action, self._goto(s, s[S_PC], P_WIRE_DONE, 0, completed)
        p, flags, phantom = edges[cur]
        if flags & WAIT:
            r = self.info.tasks[t].ring
            rings = list(s[S_RINGS])
            ring = rings[r]
            pt = ct if p == t else tasks[p]
            if phantom:
                # linked into a slot whose real occupant's prepare_task will reset fanout_head: lost
                rings[r] = _set(ring, R_DTOP, ring[R_DTOP] + 1)
            elif pt[T_ST] >= COMPLETED:
                completed += 1
            else:
                pt = _set(pt, T_FANOUT, (t, *pt[T_FANOUT]))  # dep_pool.prepend: newest first
                rings[r] = _set(ring, R_DTOP, ring[R_DTOP] + 1)
            if not flags & RETAIN and not phantom:
                pt = _release(pt)
            if p == t:
                ct = pt
            else:
                tasks[p] = pt
            tasks[t] = ct
            s[S_RINGS] = tuple(rings)
        s[S_TASKS] = self._freeze(tasks)
        s[S_CUR] = cur + 1
        s[S_AUX] = completed
        return action, tuple(s)

    # -- W4-W6: the orchestrator's +(completed+1), dep position, route if ready

    def _wire_done(self, s: list[Any], t: int) -> State:
        tasks = self._thaw(s[S_TASKS])
        ct = tasks[t]
        ct = _set(ct, T_FRC, ct[T_FRC] + s[S_AUX] + 1)
        r = self.info.tasks[t].ring
        ct = _set(ct, T_DMARK, s[S_RINGS][r][R_DTOP])
        ready = list(s[S_READY])
        if ct[T_FRC] >= ct[T_FCOUNT]:
            ct = self._route_ready(ct, t, ready)
        tasks[t] = ct
        s[S_TASKS], s[S_READY] = self._freeze(tasks), tuple(ready)
        return self._goto(s, s[S_PC] + 1)

    # ------------------------------------------------------------------ presentation

    def properties(self) -> Sequence[Property[State]]:
        if self._props is None:
            from model.invariants import model_properties

            self._props = list(model_properties(self))
        return self._props

    def format_action(self, action: Action) -> str:
        kind, a, b = action
        info = self.info
        if not 0 <= kind < len(ACTION_NAMES) or (kind not in (A_ORCH, A_FATAL, A_ADVANCE, A_NEXT_ROUND) and not 0 <= a < self.ntasks):
            return f"unknown action {action}"
        if kind == A_ORCH:
            instr = info.instrs[a]
            phase, cur = divmod(b, 1000)
            if instr.kind == I_BEGIN:
                mode = "manual" if instr.mode is ScopeMode.MANUAL else "auto"
                return f"O scope_begin({mode}) depth {instr.depth}"
            if instr.kind == I_END:
                if cur < len(instr.frame):
                    return f"O scope_end depth {instr.depth}: release scope ref of {info.describe_task(instr.frame[cur])}"
                return f"O scope_end depth {instr.depth}: pop"
            if instr.kind == I_TDATA:
                return "O set_tensor_data" if instr.write else "O get_tensor_data"
            if instr.kind == I_DONE:
                return "O mark_done"
            name = info.describe_task(instr.task)
            if instr.kind == I_ALLOC:
                return f"O alloc_tensors {name}"
            return f"O submit {name}: {PHASE_NAMES[phase]}" + (f" #{cur}" if phase in (P_CLAIM, P_WIRE) else "")
        if kind == A_FATAL:
            return f"fatal {FatalCode(a).name}({a})"
        if kind == A_ADVANCE:
            return f"S advance ring {a}"
        if kind == A_NEXT_ROUND:
            return "host: next round on the same shared memory"
        name = info.describe_task(a)
        if kind == A_DISPATCH:
            return f"S dispatch {name} block on {'AIC' if b == C_AIC else 'AIV'}"
        if kind == A_COMPLETE:
            return f"S complete {name} subtask on {'AIC' if b == C_AIC else 'AIV'}"
        return f"S {ACTION_NAMES[kind]} {name}"

    def format_state(self, state: State) -> str:
        info = self.info
        parts = []
        if state[S_FATAL]:
            parts.append(f"FATAL={FatalCode(state[S_FATAL]).name}")
        for r in range(NUM_RINGS):
            if not info.tasks_per_ring[r]:
                continue
            ring = state[S_RINGS][r]
            parts.append(
                f"r{r}[cur={ring[R_CUR]} la={ring[R_LA]} heap={ring[R_TOP]}/{ring[R_TAIL]}]"
            )
        tasks = " ".join(
            f"{t.name}:{STATUS_CHAR[tt[T_ST]]}{'' if tt[T_ST] == NONE else f'{tt[T_RC]}/{tt[T_FC]}' + ('s' if tt[T_RSCOPE] else '')}"
            for t, tt in zip(info.tasks, state[S_TASKS], strict=True)
        )
        parts.append(tasks)
        if state[S_ROUND]:
            parts.append(f"round={state[S_ROUND]}")
        return " | ".join(parts)


# ---------------------------------------------------------------------- tuple helpers


def _same(x: Any) -> Any:
    return x


def _set(tup: Any, idx: int, value: Any) -> Any:
    return tup[:idx] + (value,) + tup[idx + 1 :]


def _release(tt: Any) -> Any:
    """release_producer: fanout_refcount += 1, then check_and_handle_consumed (one action: see module doc)."""
    return _consumed_check(tt[:T_RC] + (tt[T_RC] + 1,) + tt[T_RC + 1 :])


def _consumed_check(tt: Any) -> Any:
    """check_and_handle_consumed under L(P): COMPLETED and every claim plus the scope ref released."""
    if tt[T_ST] == COMPLETED and tt[T_RC] == tt[T_FC] and tt[T_RSCOPE]:
        return (CONSUMED,) + tt[1:]
    return tt


def _without(tup: tuple[int, ...], item: int) -> tuple[int, ...]:
    i = tup.index(item)
    return tup[:i] + tup[i + 1 :]


def _insert_sorted(tup: tuple[int, ...], item: int, count: int) -> tuple[int, ...]:
    if count <= 0:
        return tup
    return tuple(sorted((*tup, *([item] * count))))


def _update_heap_tail(model: TrbModel, ring: Any, r: int, tasks: Any) -> Any:
    """PTO2TaskAllocator::update_heap_tail(la): the tail is the end offset of the youngest reclaimed
    task's buffer, ignoring descriptors that predate a rebase anchor (spec §2.13, INV-H3)."""
    la = ring[R_LA]
    if la <= ring[R_SEEN]:
        return ring
    ring = _set(ring, R_SEEN, la)
    anchor = ring[R_ANCHOR]
    if anchor >= 0 and la <= anchor:
        return ring
    ring = _set(ring, R_ANCHOR, -1)
    end = tasks[model.info.task_at(r, la - 1)][T_HEND]
    return _set(ring, R_TAIL, end)


def _try_bump_heap(ring: Any, a: int, heap: int, local: int) -> tuple[Any, int, int, bool] | None:
    """try_bump_heap: exact offsets (spec §2.13). Returns (ring, base, end, wrapped) or None (refused)."""
    top, tail = ring[R_TOP], ring[R_TAIL]
    if a == 0:
        return ring, top, top, False  # zero-size: base = end = current top, nothing advances
    if top >= tail:
        if heap - top >= a:
            return _set(ring, R_TOP, top + a), top, top + a, False
        if tail > a:  # strict: wrapping to [0, a) must not make top == tail
            return _set(ring, R_TOP, a), 0, a, True
        if top == tail and a <= heap:  # empty-ring rebase (2ed4348eb)
            ring = _set(_set(_set(ring, R_TOP, a), R_TAIL, 0), R_ANCHOR, local)
            return ring, 0, a, True
        return None
    if tail - top > a:  # strict gap (c83754f98)
        return _set(ring, R_TOP, top + a), top, top + a, False
    return None
