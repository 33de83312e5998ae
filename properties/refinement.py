"""Refinement of the reference model (model/trb_model.py) by the step-level TRB port (runtime/trb).

`RefinementObserver` runs alongside any scheduler (`runtime.execution.run_once`). After every port step
it computes the abstract state of the port (`PortAbstraction.view`) and checks that the step is either a
stutter (abstract state unchanged) or one model action enabled in a model state the run so far can be in,
whose successor has the same abstract state. The first step that maps to no enabled model action is
reported (step, thread, op, C++ function, abstract state before and after, the enabled model actions).

What the abstraction shows (`View`), computed the same way from a model state (`ModelViews.view`) and
from the port's shared memory plus thread positions and history counters (`PortAbstraction.view`):
  * the run index, the latched fatal code;
  * per ring with tasks: current_task_index and last_task_alive;
  * per task of the current run: NONE (not admitted), RECLAIMED (below last_task_alive), or (state,
    claims = fanout_count without the scope bit, releases = fanout_refcount without the scope bit, scope
    released, own deferred release done, completed subtasks while PENDING);
  * per core type, the multiset of tasks with a block running on a core (dispatched = the core started it).

Left out: fanin counts, fanout lists, ready queues, the TensorMap, heap offsets, the dep/fanin pools and
the orchestrator's phase. A model action that changes only those is *invisible* (a tau step): the checker
keeps the set of model states the run can be in (the "frontier": the states matching every view so far,
closed under invisible actions, deduplicated after `TrbModel.canonicalize`). Visible consequences still
catch their bugs: a task dispatched before it is ready has no enabled model dispatch, a missing or extra
notification changes when a task can start, and so on.

Bridges where the port is finer than the model (the in-between port states show the model's pre-state or
post-state as stated, so exactly one model action happens at the port step named):
  * alloc split: commit_task stores current_task_index before prepare_task resets the slot and stores
    PENDING. While the orchestrator's next op is that prepare (or, for a hidden alloc task, the
    mark-completed step after it), the abstract current_task_index excludes the new task: the model's
    admission happens at the prepare step (at mark-completed for an alloc task, which the model admits as
    COMPLETED). An advance that reads the raw index in that window can move last_task_alive past the
    abstract index: that is F-PORT-LA-UNPREPARED, reported as a refinement failure.
  * release split: release_producer is a fetch_add and then a check_and_handle_consumed lock step; the
    model's release is one action (increment + consumed check). Between the two, another thread may claim
    the producer (the C++ and the port let the claim succeed) or release it too. The LP is the lock step:
    until a thread's check runs, its increment is subtracted from the abstract count (pre-state). When a
    check consumes the task while another thread's increment is still unchecked (it saw that increment),
    the task is shown CONSUMED with every increment counted, so that one port step is the model's releases
    of both threads (up to MAX_ACTIONS_PER_STEP model actions; the other thread's later check stutters).
  * publish (b): the model releases every WAIT-only producer and publishes in one action (decided when
    all WAIT producers are COMPLETED). The port decides at its all-producers-completed step and then runs
    one release_producer per WAIT-only edge. The decision step is the LP: from it until the orchestrator's
    own check of a producer, that producer shows the release (and CONSUMED when the release makes rc == fc
    on a COMPLETED producer, as the model's consumed check at the LP does).
  * completion split: the last on_subtask_complete fetch_add and the on_task_complete lock step are two
    port steps; the model's final completion is one. Until the lock step the abstract state keeps the
    block on its core and the subtask count one below the total (the lock step is the LP).
  * own release: the model's last step of a task's deferred on_task_release sets a flag and runs the
    self consumed check; the port's LP is the self check_and_handle_consumed lock step of on_task_release
    (a check that no release of that thread preceded), recorded in the history.
  * MIX dispatch: the model starts a MIX block on all its cores at once; the port's cores pick the block's
    subtasks up one by one. The first pickup of a block is the LP and credits every subtask of the block.
  * early dispatch (the model has none: it dispatches a block only once its task is ready): a gated
    (pre-staged) block picked up by a core is not started until the core's doorbell wait passes; that
    step is the LP of the model's dispatch. Candidacy, staging and the release are stutters (the early-
    dispatch cells and queues are not in the view).
  * next run: the host's launch changes nothing the model sees; the orchestrator's per-run reset of the
    ring indices (OP_SM_RESET) is the LP of the model's next-round action.
  * after a fatal latch the model stops; later port steps (shutdown) are not checked.
Which task a core runs comes from the port's ghost dispatch record of the token the core picked up (the
port does not model the dispatch payload buffers the AICore reads).

Where the port and the model disagree (refinement reports these; none is hidden):
  * F-MODEL-R7 (registered): a deferred on_task_release runs on a rebound slot (`known_finding`).
  * F-PORT-LA-UNPREPARED (registered): last_task_alive passes a committed, unprepared task.
  * core occupancy (unregistered, model granularity): a core starts its pending-slot task once it finished
    the running one, and a scheduler may process the newer completion first; the model holds a core from
    the block's start until its completion is processed. Shown by an xfail test in tests/test_refinement.py.
  * AIV-only MIX blocks (unregistered): the model starts a MIX block only with a free AIC core even when
    the block has no AIC subtask; the port starts it on AIV0+AIV1 next to a busy AIC (xfail test).
  * serial_orch_sched: the model has no serial mode; the check does not apply (`not_applicable`).
The frontier is bounded (`max_frontier`); exceeding it is reported as BOUND_PROPERTY, never a pass.
Liveness (a task never consumed, a lost advance) is not judged here: no single step is wrong.

History: the abstraction reads counters this observer keeps (blocks started and subtasks completed per
task and core type, the run index). They are a function of the steps of this run, so the observer must
see the run from its first step (run_once does; DFS's silent replays do not: use it with run_once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from model.program import I_ALLOC, I_BEGIN, I_DONE, I_END, I_TDATA
from model.protocol import PropertyKind
from model.scenario import NUM_RINGS, Shape
from model.trb_model import (
    A_ORCH,
    ACTION_NAMES,
    C_AIC,
    C_AIV,
    CONSUMED,
    F_SELF_RELEASED,
    PENDING,
    PHASE_NAMES,
    R_CUR,
    R_LA,
    S_CORES,
    S_FATAL,
    S_RINGS,
    S_ROUND,
    S_TASKS,
    T_FC,
    T_FLAGS,
    T_RC,
    T_RSCOPE,
    T_SDONE,
    T_ST,
    Action,
    State,
    TrbModel,
)
from runtime.core import Executor, Failure, Observer, Op, StepRecord, System
from runtime.trb import consts as K
from runtime.trb.system import TrbSystem

PROPERTY = "refines_model"
BOUND_PROPERTY = "refinement_frontier_bound"
DEFAULT_MAX_FRONTIER = 4096
MAX_ACTIONS_PER_STEP = 3  # the release-split bridge: one check may linearise other threads' releases

RECLAIMED = "R"  # a task below last_task_alive: its slot may already hold a later task
# View = (run, fatal, rings, tasks, cores); rings = ((cur, la), ...) over the rings with tasks;
# tasks = per task None (not admitted), RECLAIMED, or
#   (state, claims, releases, scope released, own release done, subtasks done while PENDING else -1);
# cores = per core type the sorted ((task, count), ...) with count != 0 (a negative count is a completion
# of a block no core started).
View = tuple[Any, ...]
_STATE_NAMES = {1: "PENDING", 2: "COMPLETED", 3: "CONSUMED"}
_COMPLETED_PORT = K.COMPLETED
_CONSUMED_PORT = K.CONSUMED


def _counts(entries: Sequence[int]) -> tuple[tuple[int, int], ...]:
    out: dict[int, int] = {}
    for t in entries:
        out[t] = out.get(t, 0) + 1
    return tuple(sorted(out.items()))


class ModelViews:
    """Static facts of the scenario the views need, and the model side of the abstraction."""

    def __init__(self, model: TrbModel) -> None:
        self.model = model
        info = model.info
        self.rings = tuple(r for r in range(NUM_RINGS) if info.tasks_per_ring[r])
        self.task_ring = tuple(t.ring for t in info.tasks)
        self.task_local = tuple(t.local for t in info.tasks)
        self.subtasks = tuple(t.subtasks for t in info.tasks)
        self.is_mix = tuple(t.shape is Shape.MIX for t in info.tasks)
        # subtasks of one MIX block per core type (the model's own split of a block onto a cluster)
        self.mix_per_block = tuple(
            (model.mix_aic_per_block[i], t.subtasks // max(t.block_num, 1) - model.mix_aic_per_block[i])
            for i, t in enumerate(info.tasks)
        )

    def view(self, state: State) -> View:
        rings = state[S_RINGS]
        tasks: list[Any] = []
        for i, tt in enumerate(state[S_TASKS]):
            ring = rings[self.task_ring[i]]
            local = self.task_local[i]
            if local >= ring[R_CUR]:
                tasks.append(None)
            elif local < ring[R_LA]:
                tasks.append(RECLAIMED)
            else:
                st = tt[T_ST]
                done = min(tt[T_SDONE], max(self.subtasks[i] - 1, 0)) if st == PENDING else -1
                tasks.append((st, tt[T_FC], tt[T_RC], bool(tt[T_RSCOPE]), bool(tt[T_FLAGS] & F_SELF_RELEASED), done))
        cores = state[S_CORES]
        return (
            state[S_ROUND],
            state[S_FATAL],
            tuple((rings[r][R_CUR], rings[r][R_LA]) for r in self.rings),
            tuple(tasks),
            (_counts(cores[C_AIC]), _counts(cores[C_AIV])),
        )


class PortAbstraction:
    """The port side: shared memory + thread positions + this run's history -> View."""

    def __init__(self, system: TrbSystem, views: ModelViews) -> None:
        s = self.s = system
        self.views = views
        plan_names = [t.name for t in s.plan.tasks]
        model_names = [t.name for t in views.model.info.tasks]
        if plan_names != model_names:
            raise AssertionError(f"port plan tasks {plan_names} differ from the model's {model_names}")
        self.orch_tid = 0
        # executor view index of each AICPU thread id (thread order: orch, sched0..N-1, cores, host)
        self.exec_of_tid = {0: s.orch_tidx, **{1 + t: t for t in range(s.n_sched)}}
        self.core_of_tid = {1 + s.n_sched + k: k for k in range(s.n_cores)}
        self._poll_ops = {t: {id(op): k for k, op in enumerate(s.ops[t].OP_POLL)} for t in range(s.n_sched)}
        self._sub_ops = {t: {id(op): g for g, op in enumerate(s.ops[t].OP_SUB)} for t in range(s.n_sched)}
        self._otc_ops = {t: {id(op): g for g, op in enumerate(s.ops[t].OP_OTC)} for t in range(s.n_sched)}
        self._rel_ops: dict[int, dict[int, tuple[int, int]]] = {}
        self._chc_ops: dict[int, dict[int, int]] = {}
        for e in sorted(set(self.exec_of_tid.values())):
            ops = s.ops[e]
            rel = {id(op): (g, 1) for g, op in enumerate(ops.OP_REL)}
            rel.update({id(op): (g, K.SCOPE_BIT) for g, op in enumerate(ops.OP_REL_SCOPE)})
            self._rel_ops[e] = rel
            self._chc_ops[e] = {id(op): g for g, op in enumerate(ops.OP_CHC)}
        self._prepare_ops = {id(op): g for g, op in enumerate(s.OP_PREPARE)}
        self._mark_completed_ops = {id(op): g for g, op in enumerate(s.OP_MARK_COMPLETED)}
        self._all_done_ops = {id(op): g for g, op in enumerate(s.OP_ALL_DONE)}
        self.runs_started = 0  # OP_SM_RESET steps seen: the abstraction's run is this minus one
        self._new_run()

    def _new_run(self) -> None:
        n = len(self.s.plan.tasks)
        g_count = self.s.n_slots + 1
        # per core: the tasks it picked up whose completion no scheduler has processed yet, oldest first;
        # only the oldest occupies the core in the abstraction (core occupancy bridge)
        # (task, block) entries; a MIX block occupies its cores only once it is the oldest on every one of them
        self.on_core: list[list[tuple[int, int]]] = [[] for _ in range(self.s.n_cores)]
        self.mix_cores: dict[tuple[int, int], tuple[int, ...]] = {}  # blocks picked up, not yet started
        self.mix_started: set[tuple[int, int]] = set()
        self.awaiting_otc: list[list[int]] = [[] for _ in range(self.s.n_slots + 1)]  # slot -> cores
        self.unstarted_completions = [[0, 0] for _ in range(n)]  # completions of blocks no core started
        self.blocks_seen: set[tuple[int, int, int]] = set()  # (run, task, block) of started MIX blocks
        self.self_released = [False] * n
        self.last_polled: dict[int, int] = {}
        self.unchecked = [0] * g_count  # per slot: increments whose check has not run (release split)
        self.open_release: dict[int, tuple[int, int, bool]] = {}  # tid -> (slot, amount, publish-b)
        self.b_unreleased = [0] * g_count  # publish (b): releases decided, fetch_add not yet run
        self.b_unchecked = [0] * g_count  # publish (b): fetch_add run, check not yet run

    # ------------------------------------------------------------------ history

    def record(self, ex: Executor, rec: StepRecord) -> None:
        """Update the history with the step just executed (before `view` is taken)."""
        self._record(ex, rec)
        if self.mix_cores:
            on_core = self.on_core
            for block, cores in list(self.mix_cores.items()):
                if all(on_core[k] and on_core[k][0] == block for k in cores):
                    self.mix_started.add(block)  # MIX bridge: every core of the block is free of older work
                    del self.mix_cores[block]

    def _record(self, ex: Executor, rec: StepRecord) -> None:
        s, c = self.s, self.s.c
        op = rec.op
        tid = rec.tid
        e = self.exec_of_tid.get(tid)
        if e is not None:
            rel = self._rel_ops[e].get(id(op))
            if rel is not None:
                g, amount = rel
                b_path = tid == self.orch_tid and self.b_unreleased[g] > 0 and amount == 1
                if b_path:
                    self.b_unreleased[g] -= 1
                    self.b_unchecked[g] += 1
                else:
                    self.unchecked[g] += amount
                self.open_release[tid] = (g, amount, b_path)
                return
            g2 = self._chc_ops[e].get(id(op))
            if g2 is not None:
                opened = self.open_release.pop(tid, None)
                if opened is not None and opened[0] == g2:
                    if opened[2]:
                        self.b_unchecked[g2] -= 1
                    else:
                        self.unchecked[g2] -= opened[1]
                elif tid != self.orch_tid:
                    task = s.task_of_slot(g2)  # on_task_release's self check: the task's own release is done
                    if task >= 0:
                        self.self_released[task] = True
                return
        if tid == self.orch_tid:
            if op is s.OP_SM_RESET:
                self.runs_started += 1
                self._new_run()
                return
            g3 = self._all_done_ops.get(id(op))
            if g3 is not None and c[s.S_FCOUNT + g3] > 0 and c[s.S_FRC + g3] == c[s.S_FCOUNT + g3]:
                for i in range(c[s.P_FANIN + g3]):  # publish (b) taken: its WAIT-only releases are decided
                    p, f = s.read_edge(g3, i)
                    if f & K.DEP_WAIT and not f & K.DEP_RETAIN and 0 <= p < s.n_slots:
                        self.b_unreleased[p] += 1
            return
        k = self.core_of_tid.get(tid)
        if k is not None:
            self._record_core(ex, tid, k, op)
            return
        self._record_sched(tid, op)

    def _record_sched(self, tid: int, op: Op) -> None:
        s = self.s
        t = tid - 1
        if not 0 <= t < s.n_sched:
            return
        k = self._poll_ops[t].get(id(op))
        if k is not None:
            self.last_polled[tid] = k
            return
        g = self._sub_ops[t].get(id(op))
        if g is not None:
            task = s.task_of_slot(g)
            polled = self.last_polled.get(tid, -1)
            if task < 0 or polled < 0:
                return
            queue = self.on_core[polled]
            entry = next((e for e in queue if e[0] == task), None)
            if entry is None:
                self.unstarted_completions[task][C_AIC if polled < s.clusters else C_AIV] += 1
            elif s.c[s.S_DONE + g] == s.c[s.S_TOTAL + g]:
                self.awaiting_otc[g].append(polled)  # completion split: the core is freed at on_task_complete
            else:
                queue.remove(entry)
            return
        g = self._otc_ops[t].get(id(op))
        if g is not None:
            task = s.task_of_slot(g)
            for core in self.awaiting_otc[g]:
                entry = next((e for e in self.on_core[core] if e[0] == task), None)
                if entry is not None:
                    self.on_core[core].remove(entry)
            self.awaiting_otc[g] = []

    def _record_core(self, ex: Executor, tid: int, k: int, op: Op) -> None:
        s, c = self.s, self.s.c
        # a gated (early-dispatch) block starts when its doorbell wait passes, not at the token pickup: the
        # staging is invisible to the model until the consumer launches
        if op is not s.OP_CORE_POLL[k] and not (s.early_on and s.is_core_gate_op(k, op)):
            return
        nxt = ex.slots[tid].op
        if nxt is None or nxt is not s.OP_CORE_ACK[k]:
            return  # exit signal or reset, not a task
        token = c[s.C_DMB + k] & K.LOW32
        run, task, block = s.ghost_token.get((k, token), (s.round, -1, 0))
        if task < 0:
            return
        if not self.views.is_mix[task]:
            self.on_core[k].append((task, block))
            return
        key = (run, task, block)
        if key in self.blocks_seen:
            return
        self.blocks_seen.add(key)
        # MIX bridge: the first pickup starts the block on every core of its cluster the block uses
        n = s.clusters
        cluster = k if k < n else (k - n) // 2
        mask = s.plan.tasks[task].mask
        cores = tuple(core for bit, core in ((K.MASK_AIC, cluster), (K.MASK_AIV0, n + 2 * cluster),
                                             (K.MASK_AIV1, n + 2 * cluster + 1)) if mask & bit)
        self.mix_cores[(task, block)] = cores
        for core in cores:
            self.on_core[core].append((task, block))

    # ------------------------------------------------------------------ the abstraction

    def _unprepared_slot(self, ex: Executor) -> int:
        """The slot whose task is committed in current_task_index but not yet prepared (alloc split), or -1."""
        op = ex.slots[self.orch_tid].op
        if op is None:
            return -1
        g = self._prepare_ops.get(id(op))
        if g is not None and op is self.s.OP_PREPARE[g]:
            return g
        g = self._mark_completed_ops.get(id(op))
        if g is not None and op is self.s.OP_MARK_COMPLETED[g]:
            return g
        return -1

    def view(self, ex: Executor) -> View:
        s, c = self.s, self.s.c
        views = self.views
        unprepared = self._unprepared_slot(ex)
        rings: list[tuple[int, int]] = []
        cur_of = [0] * NUM_RINGS
        la_of = [0] * NUM_RINGS
        for r in views.rings:
            cur, la = c[s.R_CUR + r], c[s.R_LA + r]
            if unprepared >= 0 and cur > 0 and s.slot_of(r, cur - 1) == unprepared:
                cur -= 1  # alloc split: the task is admitted at its prepare step
            cur_of[r], la_of[r] = cur, la
            rings.append((cur, la))
        running_aic: dict[int, int] = {}
        running_aiv: dict[int, int] = {}
        on_core = self.on_core
        for core, queue in enumerate(on_core):
            if not queue:
                continue
            head = queue[0]
            if head in self.mix_cores:
                continue  # a MIX block starts when all its cores are free of older work (MIX bridge)
            occupied = running_aic if core < s.clusters else running_aiv
            occupied[head[0]] = occupied.get(head[0], 0) + 1
        tasks: list[Any] = []
        aic: list[tuple[int, int]] = []
        aiv: list[tuple[int, int]] = []
        for ti in range(len(s.plan.tasks)):
            r, local = views.task_ring[ti], views.task_local[ti]
            running = [running_aic.get(ti, 0) - self.unstarted_completions[ti][C_AIC],
                       running_aiv.get(ti, 0) - self.unstarted_completions[ti][C_AIV]]
            if local >= cur_of[r]:
                tasks.append(None)
            elif local < la_of[r]:
                tasks.append(RECLAIMED)
            else:
                g = s.slot_of(r, local)
                port_state = c[s.S_STATE + g]
                fc = c[s.S_FC + g]
                rc = c[s.S_RC + g]
                if port_state != _CONSUMED_PORT:
                    rc = (rc + self.b_unreleased[g] - self.unchecked[g]) & 0xFFFFFFFF
                st = port_state + 1  # port PENDING/COMPLETED/CONSUMED = 0/1/2, model 1/2/3
                if port_state == _COMPLETED_PORT and rc == fc and (self.b_unreleased[g] or self.b_unchecked[g]):
                    st = CONSUMED  # publish (b): the decided release consumes it (the model's check at the LP)
                done = -1
                if st == PENDING:  # completion split: the count stays below the total until on_task_complete
                    done = min(c[s.S_DONE + g], max(views.subtasks[ti] - 1, 0))
                tasks.append((st, fc & K.LOW_MASK, rc & K.LOW_MASK, bool(rc & K.SCOPE_BIT),
                              self.self_released[ti], done))
            if running[C_AIC]:
                aic.append((ti, running[C_AIC]))
            if running[C_AIV]:
                aiv.append((ti, running[C_AIV]))
        return (max(self.runs_started - 1, 0), s.fatal_code(), tuple(rings), tuple(tasks), (tuple(aic), tuple(aiv)))


# ---------------------------------------------------------------------- the check


def _unfused(action: Action, nxt: State) -> tuple[Action, State]:
    return action, nxt


@dataclass
class RefinementReport:
    """What one checked run did: steps, non-stutter steps per model action kind, the first failure."""

    scenario: str
    steps: int = 0
    stutters: int = 0
    after_fatal: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    max_frontier: int = 1
    multi_action_steps: int = 0  # steps matched by more than one model action (release-split bridge)
    failure: Failure | None = None
    failed_view: View | None = None  # the port's abstract state after the failing step

    @property
    def non_stutter(self) -> int:
        return sum(self.by_kind.values())

    def summary(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.by_kind.items()))
        verdict = "refines the model" if self.failure is None else f"FAILS: {self.failure.property_id}"
        return (
            f"{self.scenario}: {verdict}; {self.steps} steps, {self.non_stutter} non-stutter "
            f"({kinds}), {self.stutters} stutters, {self.after_fatal} after a fatal latch; "
            f"{self.multi_action_steps} steps matched by several model actions; "
            f"largest frontier {self.max_frontier} model states"
        )


class RefinementObserver:
    """Observer: the port's run is a run of the model, modulo stutters and invisible model actions."""

    def __init__(self, system: TrbSystem, max_frontier: int = DEFAULT_MAX_FRONTIER) -> None:
        self.s = system
        self.model = TrbModel(system.scenario)
        # The model merges an orchestrator step that touched only private state (a scope pop, a scope
        # begin) with the step after it (a Lipton reduction for exploration). The port runs them as separate
        # steps, so refinement is checked against the unreduced model: each step on its own.
        self.model._fuse_private = _unfused  # type: ignore[method-assign]
        self.views = ModelViews(self.model)
        self.port = PortAbstraction(system, self.views)
        self.max_frontier = max_frontier
        self.report = RefinementReport(system.scenario.name)
        self.frontier: list[State] = []
        self.current: View | None = None
        self.stopped = False
        init = [self.model.canonicalize(st) for st in self.model.initial_states()]
        self.frontier = self._close(init, self.views.view(init[0]))

    # ------------------------------------------------------------------ model side

    def _close(self, states: Sequence[State], target: View) -> list[State]:
        """Every model state reachable from `states` by invisible actions (the view stays `target`)."""
        model, views = self.model, self.views
        seen: dict[State, None] = {}
        todo = list(states)
        for st in todo:
            seen.setdefault(st, None)
        i = 0
        while i < len(todo):
            st = todo[i]
            i += 1
            for a in model.actions(st):
                nxt = model.canonicalize(model.next_state(st, a))
                if nxt in seen or views.view(nxt) != target:
                    continue
                seen[nxt] = None
                todo.append(nxt)
            if len(seen) > self.max_frontier:
                break
        return list(seen)

    def kind_of(self, action: Action) -> str:
        kind, a, b = action
        if kind != A_ORCH:
            return ACTION_NAMES[kind]
        instr = self.model.info.instrs[a]
        if instr.kind == I_BEGIN:
            return "orch:scope_begin"
        if instr.kind == I_END:
            return "orch:scope_end"
        if instr.kind == I_TDATA:
            return "orch:tensor_data"
        if instr.kind == I_DONE:
            return "orch:mark_done"
        if instr.kind == I_ALLOC:
            return "orch:alloc_tensors"
        return f"orch:{PHASE_NAMES[b // 1000]}"

    def enabled_visible(self, limit: int = 12) -> list[str]:
        """The model actions enabled in the frontier that change the view (formatted, deduplicated)."""
        out: dict[str, None] = {}
        for st in self.frontier:
            here = self.views.view(st)
            for a in self.model.actions(st):
                if self.views.view(self.model.next_state(st, a)) != here:
                    out.setdefault(self.model.format_action(a), None)
            if len(out) >= limit:
                break
        return list(out)[:limit]

    def _match(self, after: View) -> tuple[dict[State, None], list[str]]:
        """Model states with view `after` reachable from the frontier by one visible action, else (the
        release-split bridge) by the fewest actions up to MAX_ACTIONS_PER_STEP; and the kinds of the first
        actions taken."""
        model, views = self.model, self.views
        layer: list[tuple[State, str]] = [(st, "") for st in self.frontier]
        for depth in range(MAX_ACTIONS_PER_STEP):
            matched: dict[State, None] = {}
            kinds: list[str] = []
            nxt_layer: dict[State, str] = {}
            for st, first in layer:
                for a in model.actions(st):
                    nxt = model.canonicalize(model.next_state(st, a))
                    kind = first or self.kind_of(a)
                    if views.view(nxt) == after:
                        matched.setdefault(nxt, None)
                        if kind not in kinds:
                            kinds.append(kind)
                    elif depth + 1 < MAX_ACTIONS_PER_STEP and len(nxt_layer) <= self.max_frontier:
                        nxt_layer.setdefault(nxt, kind)
            if matched:
                if depth:
                    self.report.multi_action_steps += 1
                return matched, kinds
            layer = list(nxt_layer.items())
        return {}, []

    # ------------------------------------------------------------------ Observer protocol

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        self.port.record(ex, rec)
        rep = self.report
        rep.steps += 1
        if self.stopped:
            rep.after_fatal += 1
            return None
        after = self.port.view(ex)
        before = self.current if self.current is not None else self.views.view(self.frontier[0])
        if after == before:
            rep.stutters += 1
            self.current = after
            return None
        matched, kinds = self._match(after)
        if not matched:
            failure = Failure(PROPERTY, self._explain(ex, rec, before, after), rec.index)
            rep.failure = failure
            rep.failed_view = after
            return failure
        rep.by_kind[kinds[0]] = rep.by_kind.get(kinds[0], 0) + 1
        self.frontier = self._close(list(matched), after)
        rep.max_frontier = max(rep.max_frontier, len(self.frontier))
        self.current = after
        if len(self.frontier) > self.max_frontier:
            failure = Failure(
                BOUND_PROPERTY,
                f"more than {self.max_frontier} model states match the port after step {rec.index + 1}: the check "
                "cannot continue within its bound (raise max_frontier)",
                rec.index,
            )
            rep.failure = failure
            return failure
        if after[1]:
            self.stopped = True  # the model stops at the latch
        return None

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        return None

    # ------------------------------------------------------------------ reporting

    def _explain(self, ex: Executor, rec: StepRecord, before: View, after: View) -> str:
        name = ex.slots[rec.tid].name
        op: Op = rec.op
        diff = "; ".join(self.describe_diff(before, after)) or "(no difference?)"
        enabled = self.enabled_visible()
        return (
            f"step {rec.index + 1} ({name}: {op.what} [{op.cite.text()}]) maps to no model action enabled in "
            f"any of {len(self.frontier)} matching model state(s). Abstract change: {diff}. "
            f"Model actions enabled there that change the abstract state: {', '.join(enabled) or 'none'}"
        )

    def describe_diff(self, before: View, after: View) -> list[str]:
        info = self.model.info
        out: list[str] = []
        if before[0] != after[0]:
            out.append(f"run {before[0]} -> {after[0]}")
        if before[1] != after[1]:
            out.append(f"fatal {before[1]} -> {after[1]}")
        for r, (b, a) in zip(self.views.rings, zip(before[2], after[2], strict=True), strict=True):
            if b != a:
                out.append(f"ring {r} (cur, la) {b} -> {a}")
        for i, (b, a) in enumerate(zip(before[3], after[3], strict=True)):
            if b != a:
                out.append(f"task {info.tasks[i].name}: {_task_text(b)} -> {_task_text(a)}")
        for ctype, label in ((C_AIC, "AIC"), (C_AIV, "AIV")):
            if before[4][ctype] != after[4][ctype]:
                names_b = [(info.tasks[t].name, n) for t, n in before[4][ctype]]
                names_a = [(info.tasks[t].name, n) for t, n in after[4][ctype]]
                out.append(f"running on {label} {names_b} -> {names_a}")
        return out


def _task_text(entry: Any) -> str:
    if entry is None:
        return "not admitted"
    if entry == RECLAIMED:
        return "reclaimed"
    st, claims, releases, scope, own, done = entry
    text = (f"{_STATE_NAMES.get(st, st)} claims={claims} releases={releases} scope_released={int(scope)} "
            f"own_release_done={int(own)}")
    return text + (f" subtasks_done={done}" if done >= 0 else "")


# ---------------------------------------------------------------------- running a check


def check_refinement(
    system: TrbSystem,
    scheduler: Any,
    max_steps: int = 200_000,
    extra_observers: Sequence[Any] = (),
    max_frontier: int = DEFAULT_MAX_FRONTIER,
) -> tuple[RefinementReport, Any]:
    """One run of `system` under `scheduler` (already `new_execution`-ed) with only the refinement check
    (plus `extra_observers`). Returns the report and the `RunResult`."""
    from runtime.execution import run_once

    obs = RefinementObserver(system, max_frontier)
    result = run_once(system, scheduler, [obs, *extra_observers], max_steps=max_steps, record_trace=False)
    return obs.report, result


__all__ = [
    "BOUND_PROPERTY",
    "PROPERTY",
    "ModelViews",
    "PortAbstraction",
    "RefinementObserver",
    "RefinementReport",
    "check_refinement",
]


def not_applicable(system: TrbSystem) -> str | None:
    """Why the refinement check does not apply to this port instance (None: it applies)."""
    if system.scenario.config.serial_orch_sched:
        # the model has no serial orchestrator/scheduler mode: its schedulers may dispatch while the port's
        # wait for the orchestrator, so the port's backstops latch fatals the model never reaches
        return "serial_orch_sched: the model has no serial orchestrator/scheduler mode"
    if system.scenario.config.init_failure:
        return "init_failure: the model has no startup, so no startup abort path"
    return None


def known_finding(system: TrbSystem, report: RefinementReport) -> str | None:
    """The registered finding a refinement failure is evidence of, judged on the port's own records:
    F-MODEL-R7 when a deferred on_task_release started on a rebound slot (the port's release-rebound ghost
    event), F-PORT-LA-UNPREPARED when last_task_alive passed the abstract current_task_index (a task
    committed but not prepared). None: not a known finding."""
    if report.failure is None or report.failure.property_id != PROPERTY:
        return None
    if any(kind == "release-rebound" for kind, _run, _task, _extra in system.events):
        return "F-MODEL-R7"
    view = report.failed_view
    if view is not None and any(la > cur for cur, la in view[2]):
        return "F-PORT-LA-UNPREPARED"
    return None


# ---------------------------------------------------------------------- mutants caught by refinement alone

# Why refinement alone cannot see a mutant (its effect is invisible to the abstraction or a liveness
# failure, which a step-by-step simulation check does not judge).
NOT_SEEN_BY_REFINEMENT: dict[str, str] = {
    "M_NO_ADVANCE_PENDING_MASK": "a lost advance request leaves last_task_alive behind: liveness, no wrong step",
    "M_TMAP_POOL_ASSERT": "the always_assert aborts the run; the TensorMap is not in the abstraction",
    "M_EARLY_ON_FIRST_BLOCK": "candidacy and gated staging are invisible to the model (it has no early dispatch); "
                              "a staged consumer still launches only once ready",
}


@dataclass(frozen=True)
class RefinementMutantRow:
    mutant: str
    scenario: str
    seed: int  # random-scheduler seed of the first catching run (-1: none within the budget)
    step: int
    message: str


def refinement_mutant_row(mutant: str, scenarios: Sequence[Any], seeds: Sequence[int],
                          max_steps: int = 5000) -> RefinementMutantRow:
    """The first (scenario, seed) where refinement alone (no other observer) fails with `mutant` on while
    the unmutated port refines the model under the same seed (so a registered finding the clean port also
    reaches is not credited to the mutant)."""
    from runtime.execution import RandomScheduler

    for make in scenarios:
        scenario = make()
        for seed in seeds:
            sched = RandomScheduler(seed)
            sched.new_execution()
            report, _ = check_refinement(TrbSystem(scenario, {mutant}), sched, max_steps)
            if report.failure is None or report.failure.property_id != PROPERTY:
                continue
            clean = RandomScheduler(seed)
            clean.new_execution()
            base, _ = check_refinement(TrbSystem(scenario), clean, max_steps)
            if base.failure is None:
                return RefinementMutantRow(mutant, scenario.name, seed, report.failure.step, report.failure.message)
    return RefinementMutantRow(mutant, "", -1, 0, NOT_SEEN_BY_REFINEMENT.get(mutant, "not caught within the budget"))


def refinement_mutant_table(seeds: Sequence[int] = tuple(range(1, 9))) -> list[RefinementMutantRow]:
    """One row per mutant of properties.port_checks.MUTANT_CASES: caught by refinement alone or not (why)."""
    from properties.port_checks import MUTANT_CASES

    return [refinement_mutant_row(case.mutant, case.scenarios, seeds) for case in MUTANT_CASES]


def format_mutant_table(rows: Sequence[RefinementMutantRow]) -> str:
    lines = [f"{'mutant':<34} {'caught by refinement alone':<28} first violating step / why not"]
    for row in rows:
        caught = f"yes: {row.scenario} seed {row.seed}" if row.seed >= 0 else "no"
        detail = f"step {row.step + 1}: {row.message[:110]}" if row.seed >= 0 else row.message
        lines.append(f"{row.mutant:<34} {caught:<28} {detail}")
    return "\n".join(lines)


# ---------------------------------------------------------------------- the model's invariants along the run

MODEL_PROPERTY_PREFIX = "model."
"""Failures of `RefinedModelProperties` are named `model.<model property>` (the port's checks may use the
same invariant names)."""


class RefinedModelProperties:
    """Observer, after a `RefinementObserver`: the model's ALWAYS properties (model.invariants) hold in every
    model state the port's run maps to (the refinement frontier), checked each time the frontier changes."""

    def __init__(self, refinement: RefinementObserver) -> None:
        self.refinement = refinement
        self.always = [p for p in refinement.model.properties() if p.kind is PropertyKind.ALWAYS]
        self._checked: list[State] | None = None  # the frontier last checked (replaced, never mutated)

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        frontier = self.refinement.frontier
        if frontier is self._checked:
            return None
        self._checked = frontier
        model = self.refinement.model
        for state in frontier:
            for prop in self.always:
                if not prop.holds(state):
                    return Failure(
                        MODEL_PROPERTY_PREFIX + prop.name,
                        f"the model's {prop.name} ({prop.spec}) fails in a model state the port's run maps to after "
                        f"step {rec.index + 1}: {model.format_state(state)}",
                        rec.index,
                    )
        return None

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        return None


def refinement_observers(system: System) -> list[Observer]:
    """The refinement check and the model's ALWAYS properties on the states it matches (replay's
    `refinement` observer set)."""
    if not isinstance(system, TrbSystem):
        raise TypeError(f"refinement checks a TrbSystem, got {type(system).__name__}")
    refinement = RefinementObserver(system)
    return [refinement, RefinedModelProperties(refinement)]
