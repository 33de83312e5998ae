"""Properties of the TRB port (runtime/trb), checked after every step and at the end of a run.

Step invariants (spec §3) are incremental: each is registered on the memory cells it reads, and after a
step only the checks registered on the cells the step's `Op.writes` names run again. Event properties
(single completion/consumption, dispatch only after every producer completed, RETAIN readers done before
their producer's heap bytes are reused) are judged at the moment the port records the event in its ghost
history, against the dependency graph the reference derivation (`model.dependencies`) gives: the port's
own wiring is what is being checked, so it cannot be the yardstick.

DFS resumes runs after a fast replay that observers do not see, so every check here is a function of the
port's current state, its ghost counters and the event being recorded (never of what this observer saw
before): a replayed prefix re-creates all of it.

`PortWitnesses` records the first step at which each "sometimes" condition held (non-vacuity witnesses,
including the fine-grained splits of spec §10).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace

from model.builders.paged_attention import paged_attention
from model.dependencies import derive_all_edges
from model.errors import PtocheckError
from model.program import RETAIN, WAIT, ProgramInfo
from model.scenario import (
    Arg,
    Buffer,
    Config,
    Constants,
    Expected,
    FatalCode,
    OutputSpec,
    Region,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    Submit,
    Tag,
    validate,
)
from runtime.core import Executor, Failure, Observer, Op, StepRecord, System
from runtime.execution import DEADLOCK, DONE
from runtime.search import SearchBounds, search
from runtime.trb import consts as K
from runtime.trb.mutants import MUTANTS
from runtime.trb.system import TrbSystem


@dataclass(frozen=True)
class PortProperty:
    name: str
    spec: str
    kind: str  # "always" (every step), "event" (at a ghost event), "end" (end of run), "sometimes"
    description: str


PROPERTIES: tuple[PortProperty, ...] = (
    PortProperty("window_bound", "INV-R1", "always", "0 <= cur - la <= W - 1 on every ring"),
    PortProperty("consumed_prefix", "INV-R3", "always", "every id below la still in its slot is CONSUMED"),
    PortProperty("watermark_monotone", "INV-R2", "always",
                 "la never moves back over a slot that an advance already passed and reset for reuse"),
    PortProperty("slot_rebind_after_reclaim", "INV-R4", "always", "a slot is bound to id t only while t - la <= W - 1"),
    PortProperty("heap_disjoint", "INV-H1", "always", "live tasks' heap buffers are disjoint and inside the ring's heap"),
    PortProperty("fanin_bounded", "INV-F2", "always", "fanin_refcount never exceeds fanin_count"),
    PortProperty("balanced_releases", "INV-L2", "always", "rc_low <= fc_low and rc_scope <= fc_scope"),
    PortProperty("claim_before_consume", "INV-L1/L3", "always",
                 "a CONSUMED slot's counters are settled (rc == fc) or reset: no claim or release after consumption"),
    PortProperty("pool_bounds", "INV-P1/P2", "always", "0 <= top - tail <= capacity (dep/fanin pools); heap offsets in [0, H]"),
    PortProperty("deferred_release_in_bounds", "C++ array bound", "always",
                 "a scheduler's deferred-release count never exceeds the buffer's capacity (an append past it writes "
                 "beyond deferred_release_slot_states[PTO2_DEFERRED_RELEASE_CAP])"),
    PortProperty("single_completion", "INV-D3", "event", "a task completes at most once per run"),
    PortProperty("single_consumption", "INV-L3", "event", "a task is consumed at most once per run, and only after completing"),
    PortProperty("dispatch_after_producers", "INV-F4", "event", "a task is dispatched only after every WAIT producer completed"),
    PortProperty("own_release_before_reuse", "INV-R7", "event",
                 "a task's own deferred on_task_release runs before its slot is consumed and rebound"),
    PortProperty("completed_after_kernels", "INV-D2", "event", "a scheduler completes a task only after AICore ran every one of its subtasks"),
    PortProperty("retain_reader_before_reuse", "INV-L4", "event", "every submitted RETAIN reader of P completed before P's heap bytes are reallocated"),
    PortProperty("early_candidate_after_publication", "INV-D4", "event",
                 "a consumer becomes an early-dispatch candidate only after every WAIT producer published all of its "
                 "blocks or completed"),
    PortProperty("expected_outcome", "EVENTUALLY", "end", "no always_assert fires, and no fatal code latches in a scenario that expects every task consumed"),
    PortProperty("all_consumed_once", "EVENTUALLY", "end", "every task completed and consumed exactly once per run"),
    PortProperty("no_lost_wakeup", "INV-F3/R6", "end", "no run ends with a ready task or a consumed ring head left behind"),
    PortProperty("run_terminates", "EVENTUALLY", "end", "the run ends with no work left (deadlock / step limit are failures)"),
    # the sync_start drain (properties/drain_checks.py; checked only for a plan with a sync_start cohort)
    PortProperty("drain_attempt_consistent", "INV-D5", "event",
                 "stage_go is published only when every scheduler's ack belongs to the current drain attempt"),
    PortProperty("drain_all_or_nothing", "INV-D5", "event",
                 "a sync_start cohort is claimed whole outside a drain; a drain reopens only after every block "
                 "was claimed and dispatched"),
    PortProperty("drain_block_once", "INV-D5", "event", "a sync_start block is dispatched at most once per run"),
    PortProperty("drain_no_split_barrier", "INV-D5", "end", "no run ends with schedulers parked in drain spins"),
    PortProperty("init_flag_published", "INV-E4", "always",
                 "the orchestrator leaves AicpuExecutor::run (a startup abort path included) only after publishing "
                 "runtime_init_ready_, so no scheduler thread spins on it forever"),
)
PROPERTY_NAMES = tuple(p.name for p in PROPERTIES)

SOMETIMES: tuple[PortProperty, ...] = (
    PortProperty("window_full", "INV-R1", "sometimes", "cur - la == W - 1 on some ring"),
    PortProperty("slot_rebound", "INV-R4", "sometimes", "a slot is bound to a second generation"),
    PortProperty("la_advanced", "INV-R3", "sometimes", "la moved past a consumed task"),
    PortProperty("heap_wrapped", "INV-H1", "sometimes", "a live buffer starts below an older live buffer (heap wrap)"),
    PortProperty("fanin_satisfied", "INV-F2", "sometimes", "fanin_refcount reached a non-zero fanin_count"),
    PortProperty("all_released", "INV-L2", "sometimes", "a task's rc reached fc with claims"),
    PortProperty("dep_pool_used", "INV-P1", "sometimes", "a dep-list node is live"),
    PortProperty("consumed", "INV-L3", "sometimes", "a task was consumed"),
    PortProperty("cur_before_prepare", "§10 alloc split", "sometimes", "cur committed while the new slot is not yet prepared"),
    PortProperty("completed_release_deferred", "§10 release split", "sometimes", "a completed task's own release is still deferred"),
    PortProperty("deferred_buffer_full", "C++ array bound", "sometimes",
                 "a scheduler's deferred-release buffer holds exactly its capacity"),
    PortProperty("advance_lock_vs_consume", "§10 advance split", "sometimes", "advance_lock held while another thread consumes the ring head"),
    PortProperty("init_abort_terminated", "INV-E4", "sometimes",
                 "a startup abort path was taken (runtime_init_ready_ published, AicpuExecutor::run returned -1) and "
                 "the run still ended with every thread stopped"),
    PortProperty("early_prestaged", "INV-D4", "sometimes",
                 "an early-dispatch consumer block is staged (gated) on a core before one of its producers completed"),
)

Check = Callable[[int], str | None]
# a check as the class defines it (called with the observer): shareable across the runs of one scenario
UnboundCheck = Callable[["PortInvariants", int], str | None]
CheckSteps = tuple[tuple[str, UnboundCheck, int], ...]  # (property, check, arg), in evaluation order

# fatal codes the runtime latches when it detects that nothing moves (its deadlock and timeout backstops)
NO_PROGRESS_CODES = frozenset(int(code) for code in (
    FatalCode.SCOPE_DEADLOCK, FatalCode.HEAP_RING_DEADLOCK, FatalCode.FLOW_CONTROL_DEADLOCK,
    FatalCode.TENSOR_WAIT_TIMEOUT, FatalCode.TENSORMAP_OVERFLOW, FatalCode.SCHEDULER_TIMEOUT,
))


class ModelEdges:
    """WAIT producers and RETAIN readers of every task, from the reference derivation."""

    def __init__(self, system: TrbSystem) -> None:
        info = ProgramInfo(system.scenario)
        n = len(system.plan.tasks)
        names = [t.name for t in system.plan.tasks]
        model_names = [t.name for t in info.tasks]
        if names != model_names:
            raise AssertionError(f"port plan tasks {names} differ from the model's {model_names}")
        self.wait_producers: list[list[int]] = [[] for _ in range(n)]
        self.retain_readers: list[list[int]] = [[] for _ in range(n)]
        for row in derive_all_edges(info):
            if row.source == "explicit" and row.pred > row.succ:
                # a dependency on a task submitted later: at the consumer's submit that id's slot does not
                # hold it (append_fanin_or_fail finds it gone), so the runtime wires no edge; the model agrees
                continue
            if row.flags & WAIT and row.pred not in self.wait_producers[row.succ]:
                self.wait_producers[row.succ].append(row.pred)
            if row.flags & RETAIN and row.succ not in self.retain_readers[row.pred]:
                self.retain_readers[row.pred].append(row.succ)


CheckKeys = tuple[tuple[str, int], ...]  # the (property, arg) checks a footprint triggers, in order


class _SharedChecks:
    """Which checks a footprint triggers depends only on the registration, which is the same for every
    system of one scenario: kept across runs, so short runs do not pay the scan again."""

    def __init__(self) -> None:
        # id(op writes) -> (those writes, kept so the id stays theirs; their checks)
        self.by_id: dict[int, tuple[tuple[int, ...], CheckSteps]] = {}
        # op text -> [(op writes, their checks)] (footprints a port does not share)
        self.by_what: dict[str, list[tuple[tuple[int, ...], CheckKeys]]] = {}
        self.steps: dict[CheckKeys, CheckSteps] = {}  # one tuple per distinct set of checks


_SHARED_CHECKS: dict[Hashable, _SharedChecks] = {}  # layout of a PortInvariants registration -> its caches


class PortInvariants:
    """Observer: the spec §3 invariants the port's state expresses, plus event and end-of-run properties.

    `enabled` restricts the checked properties (default: all of PROPERTY_NAMES)."""

    def __init__(self, system: TrbSystem, enabled: frozenset[str] | None = None) -> None:
        self.s = system
        self.enabled = frozenset(PROPERTY_NAMES) if enabled is None else enabled
        unknown = self.enabled - set(PROPERTY_NAMES)
        if unknown:
            raise ValueError(f"unknown port properties: {sorted(unknown)}")
        self.edges = ModelEdges(system)
        self.pending: Failure | None = None
        self.step_index = 0
        self._unchecked: set[int] = set()  # store-buffer runs: cells written since memory last held every store
        # heap interval per (run, task), recorded when the task is submitted (its alloc has run)
        self.intervals: dict[tuple[int, int], tuple[int, int, int]] = {}
        # (run, producer) -> the consumers whose RETAIN claim on it was accepted, in submit order
        self.retain_wired: dict[tuple[int, int], list[int]] = {}
        self.by_cell: dict[int, list[tuple[str, Check, int]]] = {}
        # per announced op (by identity; the op is kept so its id stays unique): the checks its writes trigger
        self._checks_of_op: dict[int, tuple[object, CheckSteps]] = {}
        self._register()
        # which (property, arg) pairs a writes tuple triggers depends only on the registration, which is the
        # same for every system of one scenario: shared across runs, so short runs do not pay the scan again
        self._check_fn: dict[str, UnboundCheck] = {  # registered as bound methods: their functions
            prop: check.__func__  # type: ignore[attr-defined]
            for checks in self.by_cell.values() for prop, check, _arg in checks
        }
        self._check_cells = frozenset(self.by_cell)
        # the class too: its check functions are shared (a subclass may override one)
        layout = (type(self),) + tuple(
            (cell, tuple((prop, arg) for prop, _c, arg in checks)) for cell, checks in self.by_cell.items()
        )
        if len(_SHARED_CHECKS) > 64:
            _SHARED_CHECKS.clear()
        self._shared = _SHARED_CHECKS.setdefault(layout, _SharedChecks())
        self._orig_ghost = system.ghost
        system.ghost = self._on_ghost  # type: ignore[method-assign]

    # ------------------------------------------------------------------ registration

    def _on(self, prop: str, cells: tuple[int, ...], check: Check, arg: int) -> None:
        if prop not in self.enabled:
            return
        for cell in cells:
            self.by_cell.setdefault(cell, []).append((prop, check, arg))

    def _register(self) -> None:
        s = self.s
        for r in range(K.NUM_RINGS):
            if not s.plan.nslots[r]:
                continue
            self._on("window_bound", (s.R_CUR + r, s.R_LA + r), self._window, r)
            self._on("consumed_prefix", (s.R_LA + r,), self._prefix, r)
            self._on("watermark_monotone", (s.R_LA + r,), self._monotone, r)
            self._on("pool_bounds", (s.DP_TOP + r, s.DP_TAIL + r, s.FP_TOP + r, s.FP_TAIL + r,
                                     s.AL_TOP + r, s.AL_TAIL + r), self._pools, r)
        if s.def_cells > s.defer_cap:
            # the port keeps one cell past the capacity for the C++'s overflow store, unless the program has
            # fewer tasks than the capacity (then no append can reach it: one entry per completion, and the
            # check, which reads only that cell, can never fire: it is not registered)
            for t in range(len(s.T_DEF)):
                self._on("deferred_release_in_bounds", (s.T_DEF_COUNT + t, s.T_DEF[t] + s.defer_cap),
                         self._deferred_bound, t)
        # every AICPU thread's exit from aicpu_execute (the abort's return among them) bumps this counter
        self._on("init_flag_published", (s.HOST_AICPU_EXITED,), self._init_flag, 0)
        for g in range(s.n_slots):
            self._on("slot_rebind_after_reclaim", (s.D_LOCAL + g, s.S_BOUND + g), self._rebind, g)
            self._on("heap_disjoint", (s.D_BASE + g, s.D_END + g), self._heap, g)
            self._on("fanin_bounded", (s.S_FRC + g, s.S_FCOUNT + g), self._fanin, g)
            self._on("balanced_releases", (s.S_RC + g, s.S_FC + g), self._releases, g)
            self._on("claim_before_consume", (s.S_RC + g, s.S_FC + g, s.S_STATE + g), self._settled, g)

    # ------------------------------------------------------------------ step checks

    def _live(self, g: int) -> bool:
        s, c = self.s, self.s.c
        r = s.slot_ring[g]
        return bool(c[s.S_BOUND + g]) and c[s.D_RING + g] == r and c[s.R_LA + r] <= c[s.D_LOCAL + g] < c[s.R_CUR + r]

    def _deferred_bound(self, t: int) -> str | None:
        # the count is back within bounds by the next step boundary (the flush that follows the append pops
        # first), so the store itself is the evidence: the cell one past the array, never written otherwise
        s = self.s
        if s.def_cells <= s.defer_cap:
            return None
        g = s.c[s.T_DEF[t] + s.defer_cap] - 1
        if g < 0:
            return None
        return (f"sched{t}: an append wrote deferred_release_slot_states[{s.defer_cap}] (slot {s.slot_label(g)}), "
                f"one past the end of the array of capacity {s.defer_cap}")

    def _window(self, r: int) -> str | None:
        s, c = self.s, self.s.c
        cur, la = c[s.R_CUR + r], c[s.R_LA + r]
        if 0 <= cur - la <= s.windows[r] - 1:
            return None
        return f"ring {r}: cur {cur} - la {la} outside [0, W-1 = {s.windows[r] - 1}]"

    def _prefix(self, r: int) -> str | None:
        # judged on the ghost history: a reclaimed slot keeps its old descriptor until STEP 4-5 of the
        # next submit rewrites it, while prepare_task already reset task_state to PENDING
        s, c = self.s, self.s.c
        la, w, run = c[s.R_LA + r], s.windows[r], s.round
        for local in range(max(0, la - w), la):
            ti = s.plan.task_at.get((r, local), -1)
            if ti >= 0 and not s.ghost_consumed[run][ti]:
                return f"ring {r}: la = {la} passed task {s.plan.tasks[ti].name} (r{r}:{local}), never consumed"
        return None

    def _monotone(self, r: int) -> str | None:
        # INV-R2 as a function of the state: an advance resets every slot it passes before it publishes la,
        # so a task of this run at or above la whose slot shows CONSUMED with fanout_refcount 0 (a consumed
        # task's refcount holds its scope release) was passed by a larger la that this write undid. (Moving
        # back over a slot that was already rebound breaks INV-R1 instead.)
        s, c = self.s, self.s.c
        la, run = c[s.R_LA + r], s.round
        for local in range(la, c[s.R_CUR + r]):
            g = s.slot_of(r, local)
            ti = s.plan.task_at.get((r, local), -1)
            if (ti >= 0 and s.ghost_consumed[run][ti] and c[s.D_LOCAL + g] == local
                    and c[s.S_STATE + g] == K.CONSUMED and c[s.S_RC + g] == 0):
                return (f"ring {r}: la moved back to {la} over {s.plan.tasks[ti].name} (r{r}:{local}), whose slot "
                        f"an earlier advance already reset for reuse")
        return None

    def _rebind(self, g: int) -> str | None:
        s, c = self.s, self.s.c
        if not c[s.S_BOUND + g]:
            return None
        r = s.slot_ring[g]
        local, la = c[s.D_LOCAL + g], c[s.R_LA + r]
        if local >= c[s.R_CUR + r]:
            # prepare_task has bound the slot but its submit has not yet rewritten the descriptor, which
            # still names a task of an earlier run (every run restarts local ids at 0): nothing to judge yet
            return None
        if local - la <= s.windows[r] - 1:
            return None
        return (f"slot {s.slot_label(g)} bound to r{r}:{local} while la = {la}: its previous occupant "
                f"r{r}:{local - s.windows[r]} is not reclaimed")

    def _heap(self, g: int) -> str | None:
        s, c = self.s, self.s.c
        if not self._live(g):
            return None
        r = s.slot_ring[g]
        base, end = c[s.D_BASE + g], c[s.D_END + g]
        lo, hi = s.heap_base[r], s.heap_base[r] + s.heap_size[r]
        if end > base and not (lo <= base and end <= hi):
            return f"{s.slot_label(g)}: buffer [{base:#x}, {end:#x}) outside ring {r}'s heap [{lo:#x}, {hi:#x})"
        if end <= base:
            return None
        la, cur = c[s.R_LA + r], c[s.R_CUR + r]
        for h in range(s.slot_base[r], s.slot_base[r] + s.plan.nslots[r]):
            # `self._live(h)` inlined (h is in ring r)
            if h == g or not (c[s.S_BOUND + h] and c[s.D_RING + h] == r and la <= c[s.D_LOCAL + h] < cur):
                continue
            b2, e2 = c[s.D_BASE + h], c[s.D_END + h]
            if e2 > b2 and base < e2 and b2 < end:
                return (f"live buffers overlap: {s.slot_label(g)} [{base:#x}, {end:#x}) and "
                        f"{s.slot_label(h)} [{b2:#x}, {e2:#x})")
        return None

    def _fanin(self, g: int) -> str | None:
        s, c = self.s, self.s.c
        frc, cnt = c[s.S_FRC + g], c[s.S_FCOUNT + g]
        if cnt == 0 or frc <= cnt:  # fanin_count is published before the first increment (INV-F1)
            return None
        return f"{s.slot_label(g)}: fanin_refcount {frc} > fanin_count {cnt}"

    def _releases(self, g: int) -> str | None:
        s, c = self.s, self.s.c
        rc, fc = c[s.S_RC + g], c[s.S_FC + g]
        if (rc & K.LOW_MASK) <= (fc & K.LOW_MASK) and (rc & K.SCOPE_BIT) <= (fc & K.SCOPE_BIT):
            return None
        return f"{s.slot_label(g)}: fanout_refcount {rc:#x} exceeds fanout_count {fc:#x}"

    def _settled(self, g: int) -> str | None:
        # A generation is consumed only when rc == fc (INV-L3), and a claim needs L(P) and a producer that is
        # not CONSUMED (INV-L1), so nothing moves the counters of a CONSUMED slot until reset_for_reuse
        # (rc = 0, fc = SCOPE_BIT) or prepare_task (PENDING) starts the next generation.
        s, c = self.s, self.s.c
        if c[s.S_STATE + g] != K.CONSUMED:
            return None
        rc, fc = c[s.S_RC + g], c[s.S_FC + g]
        if rc == fc or (rc == 0 and fc == K.SCOPE_BIT):
            return None
        return f"{s.slot_label(g)} is CONSUMED but fanout_count {fc:#x} != fanout_refcount {rc:#x}"

    def _pools(self, r: int) -> str | None:
        s, c = self.s, self.s.c
        cap = s.dep_cap[r]
        for label, top, tail in (("dep_pool", s.DP_TOP, s.DP_TAIL), ("fanin_pool", s.FP_TOP, s.FP_TAIL)):
            used = c[top + r] - c[tail + r]
            if not 0 <= used <= cap:
                return f"ring {r} {label}: top - tail = {used} outside [0, {cap}]"
        h = s.heap_size[r]
        for label, cell in (("heap_top", s.AL_TOP), ("heap_tail", s.AL_TAIL)):
            if not 0 <= c[cell + r] <= h:
                return f"ring {r} {label} = {c[cell + r]:#x} outside [0, {h:#x}]"
        return None

    # ------------------------------------------------------------------ event checks

    def _on_ghost(self, kind: str, task: int, extra: int = 0) -> None:
        self._orig_ghost(kind, task, extra)
        if self.pending is None:
            self.pending = self._judge_event(kind, self.s.round, task)

    def _fail(self, prop: str, message: str) -> Failure | None:
        if prop not in self.enabled:
            return None
        return Failure(prop, message, self.step_index)

    def _judge_event(self, kind: str, run: int, task: int) -> Failure | None:
        s = self.s
        if kind == "retain-wired":
            consumer = s.events[-1][3]
            readers = self.retain_wired.setdefault((run, task), [])
            if consumer not in readers:
                readers.append(consumer)
            return None
        name = s.plan.tasks[task].name
        if kind == "completed" and s.ghost_completed[run][task] > 1:
            return self._fail("single_completion", f"run {run}: task {name} completed {s.ghost_completed[run][task]} times")
        if kind == "completed":
            # orchestrator-completed tasks (alloc_tensors, inline dummies) have no subtasks to wait for
            need, ran = s.plan.tasks[task].total_subtasks, s.ghost_kernels[run][task]
            if ran < need:
                return self._fail(
                    "completed_after_kernels",
                    f"run {run}: task {name} completed after {ran} of its {need} subtask kernel(s) ran",
                )
        if kind == "consumed":
            if s.ghost_consumed[run][task] > 1:
                return self._fail("single_consumption", f"run {run}: task {name} consumed twice")
            if s.ghost_completed[run][task] < 1:
                return self._fail("single_consumption", f"run {run}: task {name} consumed before it completed")
        if kind == "dispatch":
            for p in self.edges.wait_producers[task]:
                if s.ghost_completed[run][p] < 1:
                    return self._fail(
                        "dispatch_after_producers",
                        f"run {run}: task {name} dispatched before its producer {s.plan.tasks[p].name} completed",
                    )
        if kind == "candidate":
            return self._judge_candidate(run, task)
        if kind == "submit":
            return self._judge_reuse(run, task)
        if kind == "release-rebound":
            now = s.events[-1][3]
            then = s.plan.tasks[task].name if task >= 0 else "?"
            other = s.plan.tasks[now].name if now >= 0 else "an unbound slot"
            return self._fail(
                "own_release_before_reuse",
                f"run {run}: the deferred on_task_release of {then} starts on its slot, now bound to {other}: "
                "the task was consumed and its slot rebound while its own release was still deferred",
            )
        return None

    def _judge_candidate(self, run: int, task: int) -> Failure | None:
        # INV-D4 (92a6bbcfb): judged at the NONE->STAGING claim, against the reference derivation's producers;
        # "published" = every block index of the producer had a token stored (normal dispatch or staging)
        s = self.s
        for p in self.edges.wait_producers[task]:
            if s.ghost_completed[run][p] >= 1:
                continue
            need = s.plan.tasks[p].block_num
            published = published_blocks(s.events, run, p)
            if len(published) < need:
                return self._fail(
                    "early_candidate_after_publication",
                    f"run {run}: {s.plan.tasks[task].name} became an early-dispatch candidate while its producer "
                    f"{s.plan.tasks[p].name} had published {len(published)} of its {need} blocks and not completed",
                )
        return None

    def _judge_reuse(self, run: int, task: int) -> Failure | None:
        # Judged at the "submit" event, inside prepare_task: the allocator has just taken this task's block
        # (the heap top moved past it) but STEP 4-5 has not yet written the descriptor, whose base/end still
        # name the slot's previous occupant. So the block is read from the allocator: [top - size, top).
        s, c = self.s, self.s.c
        tp = s.plan.tasks[task]
        align = s.consts.heap_align
        request = tp.output_size if tp.output_size < 1 << 31 else 0  # alloc reads it as an int32
        size = (request + align - 1) // align * align if request > 0 else 0
        if size == 0:
            return None
        end = s.heap_base[tp.ring] + c[s.AL_TOP + tp.ring]
        base = end - size
        for (run2, p), (ring, b2, e2) in self.intervals.items():
            if run2 != run or ring != tp.ring or not (base < e2 and b2 < end):
                continue
            # INV-L4 is about the RETAIN edges the orchestrator set up: a declared one that STEP 1 skipped (its
            # producer already behind la) or that append_fanin_or_fail refused as gone holds nothing
            for reader in self.retain_wired.get((run, p), ()):
                if s.ghost_submitted[run][reader] and not s.ghost_completed[run][reader]:
                    return self._fail(
                        "retain_reader_before_reuse",
                        f"run {run}: {tp.name} reallocates [{base:#x}, {end:#x}) of {s.plan.tasks[p].name} "
                        f"before its RETAIN reader {s.plan.tasks[reader].name} completed",
                    )
        # the bytes now belong to `task`: forget older owners of overlapping ranges
        for key in [k for k, (ring, b2, e2) in self.intervals.items()
                    if k[0] == run and ring == tp.ring and base < e2 and b2 < end]:
            del self.intervals[key]
        self.intervals[(run, task)] = (tp.ring, base, end)
        return None

    # ------------------------------------------------------------------ Observer protocol

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        self.step_index = rec.index
        if self.pending is not None:
            failure, self.pending = self.pending, None
            return Failure(failure.property_id, failure.message, rec.index)
        op = rec.op
        if self.s.step_hooks is not None:
            steps = self._checks_under_store_buffers(op)
        else:
            cached = self._checks_of_op.get(id(op))
            if cached is None or cached[0] is not op:
                if len(self._checks_of_op) > 4096:  # ops built per step (spin waits, scans) are not kept forever
                    self._checks_of_op.clear()
                cached = self._checks_of_op[id(op)] = (op, self._checks_of(op))
            steps = cached[1]
        for prop, check, arg in steps:
            message = check(self, arg)
            if message is not None:
                return Failure(prop, f"{message} (after {op.what})", rec.index)
        return None

    def _checks_under_store_buffers(self, op: Op) -> CheckSteps:
        """The state checks to run after a step of a store-buffer run: none while a store still sits in a
        buffer (memory is not yet what the steps taken so far wrote, while the ghost history is); at the
        step that leaves every buffer empty, those of every cell written since the last such step (a
        commit's op declares the cells of the entry it commits)."""
        buffers = self.s.step_hooks
        assert buffers is not None
        self._unchecked.update(op.writes)
        if not buffers.quiescent() or not self._unchecked:
            return ()
        written = tuple(sorted(self._unchecked))
        self._unchecked.clear()
        return self._steps_of(self._check_keys(written))

    def _checks_of(self, op: Op) -> CheckSteps:
        """The checks `op`'s writes trigger. An op of a new system is a new object with the same footprint
        as one of an earlier run: found by the footprint's identity when the port shares the tuple (its op
        footprints are canonical), else by the op's text (whose hash the string keeps) and an equality test
        of the writes, instead of hashing a footprint of up to ~100 cells."""
        writes = op.writes
        shared = self._shared
        known_writes = shared.by_id.get(id(writes))
        if known_writes is not None and known_writes[0] is writes:
            return known_writes[1]
        if len(shared.by_id) > 65536:
            shared.by_id.clear()
        checks = self._steps_of(self._keys_of(op))
        shared.by_id[id(writes)] = (writes, checks)
        return checks

    def _keys_of(self, op: Op) -> CheckKeys:
        writes = op.writes
        shared = self._shared
        bucket = shared.by_what.get(op.what)
        if bucket is None:
            if len(shared.by_what) > 65536:
                shared.by_what.clear()
            bucket = shared.by_what[op.what] = []
        for known, known_keys in bucket:
            if known == writes:
                return known_keys
        keys = self._check_keys(writes)
        if len(bucket) >= 16:  # one text, many footprints (a scan's range): keep the latest ones
            del bucket[0]
        bucket.append((writes, keys))
        return keys

    def _steps_of(self, keys: CheckKeys) -> CheckSteps:
        steps = self._shared.steps.get(keys)
        if steps is None:
            fn = self._check_fn
            steps = self._shared.steps[keys] = tuple((prop, fn[prop], arg) for prop, arg in keys)
        return steps

    def _check_keys(self, writes: tuple[int, ...]) -> CheckKeys:
        """The (property, arg) checks registered on any of `writes`, each once, in the order the cells name
        them (a property has one check function)."""
        hit = self._check_cells.intersection(writes)  # most writes (a scheduler's private cells) have no check
        if not hit:
            return ()
        out: dict[tuple[str, int], None] = {}
        for cell in sorted(hit, key=writes.index):  # the order of their first mention in writes
            for prop, _check, arg in self.by_cell[cell]:
                out.setdefault((prop, arg))
        return tuple(out)

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        s = self.s
        # An abort or a fatal code the scenario does not expect stops the threads, so what is left undone is
        # its consequence and the unexpected outcome is reported. A no-progress detector's code (a deadlock
        # or timeout backstop) is itself a consequence: a lost wake-up behind it is reported first.
        unexpected = self._unexpected_outcome()
        lost = self._lost_wakeup() if outcome == DEADLOCK else None
        if lost is not None and "no_lost_wakeup" in self.enabled and (
            unexpected is None or (s.crash is None and s.fatal_code() in NO_PROGRESS_CODES)
        ):
            return Failure("no_lost_wakeup", lost, ex.steps)
        if unexpected is not None and "expected_outcome" in self.enabled:
            return Failure("expected_outcome", unexpected, ex.steps)
        if outcome == DEADLOCK:
            if "run_terminates" in self.enabled:
                return Failure("run_terminates", s.work_left() or "threads left unfinished", ex.steps)
            return None
        if s.scenario.expected.fatal is None and "all_consumed_once" in self.enabled:
            # a startup abort (config.init_failure) ends the runs at the failing one, which runs no task
            for run in range(s.cfg.init_failure_run if s.cfg.init_failure else s.runs):
                for ti, task in enumerate(s.plan.tasks):
                    done, used = s.ghost_completed[run][ti], s.ghost_consumed[run][ti]
                    if done != 1 or used != 1:
                        return Failure(
                            "all_consumed_once", f"run {run}: task {task.name} completed {done}x, consumed {used}x",
                            ex.steps,
                        )
        return None

    def _init_flag(self, _arg: int) -> str | None:
        s, c = self.s, self.s.c
        if c[s.E_KERNEL_RC] != 0 and c[s.E_INIT_READY] == 0:
            return (f"run {s.round}: the orchestrator returned -1 from AicpuExecutor::run on a startup abort path "
                    f"({s.cfg.init_failure or 'unknown'}) without publishing runtime_init_ready_: the scheduler "
                    "threads spin on it forever")
        return None

    def _unexpected_outcome(self) -> str | None:
        s = self.s
        if s.crash is not None:
            return f"the runtime aborted: {s.crash}"
        # a scenario that expects a fatal may not decide which one (generated scenarios): judged elsewhere
        if s.fatal_code() and s.scenario.expected.fatal is None:
            return s.work_left()
        return None

    def _lost_wakeup(self) -> str | None:
        s, c = self.s, self.s.c
        run = s.round
        for ti, task in enumerate(s.plan.tasks):
            if not s.ghost_submitted[run][ti] or s.ghost_completed[run][ti]:
                continue
            if all(s.ghost_completed[run][p] for p in self.edges.wait_producers[ti]):
                return f"run {run}: task {task.name} has every producer completed but never completed"
        for r in range(K.NUM_RINGS):
            la, cur = c[s.R_LA + r], c[s.R_CUR + r]
            if la < cur:
                g = s.slot_of(r, la)
                if c[s.S_STATE + g] == K.CONSUMED and c[s.D_LOCAL + g] == la:
                    return f"ring {r}: head r{r}:{la} is CONSUMED but la never advanced past it"
        return None


def published_blocks(events: Sequence[tuple[str, int, int, int]], run: int, task: int) -> frozenset[int]:
    """The block indices of `task` in `run` whose token a scheduler stored (a dispatch or a gated stage)."""
    return frozenset(e[3] for e in events if e[2] == task and e[1] == run and e[0] in ("dispatch", "staged"))


class PortWitnesses:
    """Observer that never fails: records the first step at which each SOMETIMES condition held."""

    def __init__(self, system: TrbSystem) -> None:
        self.s = system
        self.seen: dict[str, int] = {}
        self.thread_of_lock: dict[int, int] = {}
        # early dispatch: the reference derivation's producers, and how far the event history was read
        self.early_edges = ModelEdges(system) if system.early_on else None
        self.events_read = 0

    def _saw(self, name: str, step: int) -> None:
        if name not in self.seen:
            self.seen[name] = step

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        s, c, i = self.s, self.s.c, rec.index
        writes = rec.op.writes
        for r in range(K.NUM_RINGS):
            if not s.plan.nslots[r]:
                continue
            cur, la = c[s.R_CUR + r], c[s.R_LA + r]
            if cur - la == s.windows[r] - 1 and cur > 0:
                self._saw("window_full", i)
            if s.R_LA + r in writes and la > 0:
                self._saw("la_advanced", i)
            if s.R_CUR + r in writes and cur > 0:
                g = s.slot_of(r, cur - 1)
                if not c[s.S_BOUND + g] or c[s.D_LOCAL + g] != cur - 1:
                    self._saw("cur_before_prepare", i)
            if s.R_ALOCK + r in writes and c[s.R_ALOCK + r]:
                self.thread_of_lock[r] = rec.tid
            if c[s.R_ALOCK + r] and self.thread_of_lock.get(r, rec.tid) != rec.tid and la < cur:
                head = s.slot_of(r, la)
                if s.S_STATE + head in writes and c[s.S_STATE + head] == K.CONSUMED:
                    self._saw("advance_lock_vs_consume", i)
        for cell in writes:
            g = cell - s.D_LOCAL
            if 0 <= g < s.n_slots and c[cell] >= s.windows[s.slot_ring[g]]:
                self._saw("slot_rebound", i)
            g = cell - s.S_FRC
            if 0 <= g < s.n_slots and c[s.S_FCOUNT + g] and c[cell] == c[s.S_FCOUNT + g]:
                self._saw("fanin_satisfied", i)
            g = cell - s.S_RC
            if 0 <= g < s.n_slots and c[s.S_FC + g] & K.LOW_MASK and c[cell] == c[s.S_FC + g]:
                self._saw("all_released", i)
            g = cell - s.S_STATE
            if 0 <= g < s.n_slots and c[cell] == K.CONSUMED:
                self._saw("consumed", i)
            g = cell - s.D_BASE
            if 0 <= g < s.n_slots and self._wrapped(g):
                self._saw("heap_wrapped", i)
        for r in range(K.NUM_RINGS):
            if c[s.DP_TOP + r] - c[s.DP_TAIL + r] > 0 and s.plan.nslots[r]:
                self._saw("dep_pool_used", i)
        if self.early_edges is not None:
            events = s.events
            for n in range(self.events_read, len(events)):
                kind, run, task, _block = events[n]
                if kind == "staged" and any(not s.ghost_completed[run][p]
                                            for p in self.early_edges.wait_producers[task]):
                    self._saw("early_prestaged", i)
            self.events_read = len(events)
        for t in range(s.n_sched):
            # the entry at index capacity - 1 was stored: the buffer held its capacity (a flush that follows at
            # once pops before the step ends, so the count alone may never show it)
            if s.defer_cap - 1 < s.def_cells and c[s.T_DEF[t] + s.defer_cap - 1]:
                self._saw("deferred_buffer_full", i)
            for k in range(c[s.T_DEF_COUNT + t]):
                g = c[s.T_DEF[t] + k] - 1
                if 0 <= g < s.n_slots and c[s.S_STATE + g] >= K.COMPLETED:
                    self._saw("completed_release_deferred", i)
        return None

    def _wrapped(self, g: int) -> bool:
        s, c = self.s, self.s.c
        r = s.slot_ring[g]
        local = c[s.D_LOCAL + g]
        older = local - 1
        if older < c[s.R_LA + r] or older < 0:
            return False
        h = s.slot_of(r, older)
        return c[s.D_LOCAL + h] == older and c[s.D_END + h] > c[s.D_BASE + h] and c[s.D_BASE + g] < c[s.D_BASE + h]

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        s = self.s
        if outcome == DONE and s.c[s.E_KERNEL_RC] and s.c[s.E_INIT_READY] and s.c[s.HOST_DONE]:
            self._saw("init_abort_terminated", ex.steps)
        return None


def port_observers(enabled: frozenset[str] | None = None) -> Callable[[System], Sequence[Observer]]:
    """The observer factory a search takes: `search(..., observers=port_observers())`."""

    def make(system: System) -> Sequence[Observer]:
        if not isinstance(system, TrbSystem):
            raise TypeError(f"port properties check a TrbSystem, got {type(system).__name__}")
        if system.has_sync_drain:  # the drain's INV-D5 checks first: a split barrier is named before the hang
            from properties.drain_checks import DrainChecks

            return [DrainChecks(system, enabled), PortInvariants(system, enabled)]
        return [PortInvariants(system, enabled)]

    return make


# ---------------------------------------------------------------------------------- mutant cases


def retain_pairs(pairs: int, scheduler_threads: int = 2, name: str = "retain_pairs") -> Scenario:
    """`pairs` scopes on ring 1 (W = 4), each a producer X_k and a RETAIN reader Y_k of its output:
    slots and heap bytes are reused across scopes."""
    cfg = Config(task_window=(4, 4, 4, 4), heap_bytes=(4096,) * 4, dep_pool=(16,) * 4,
                 scheduler_threads=scheduler_threads, clusters=1)
    prog: list[object] = []
    for k in range(pairs):
        prog += [
            ScopeBegin(),
            Submit(f"X{k}", (0, -1, -1), (Arg(Tag.OUTPUT, creates=OutputSpec(f"x{k}", (16,), "FLOAT32")),)),
            Submit(f"Y{k}", (-1, 1, -1), (Arg(Tag.INPUT, Region(f"x{k}", (16,), (1,))),
                                         Arg(Tag.OUTPUT, creates=OutputSpec(f"y{k}", (16,), "FLOAT32")))),
            ScopeEnd(),
        ]
    return validate(Scenario(name, cfg, (), tuple(prog)))  # type: ignore[arg-type]


def one_block_attention() -> Scenario:
    """Paged attention with one KV block (a differently shaped scenario: fan-in, several rings)."""
    cfg = Config(task_window=(4, 4, 8, 4), heap_bytes=(4096, 4096, 8192, 4096), dep_pool=(16,) * 4,
                 scheduler_threads=2, clusters=1)
    return paged_attention(1, 16, 16, 16, [16], config=cfg, name="pa_one_block", expected=Expected())


def _config(window: int = 8, heap: int = 4096, dep_pool: int = 16, threads: int = 1, **scaled: int) -> Config:
    """Equal rings; one cluster per scheduler thread; `scaled` scales C++ constants down (recorded as scaled)."""
    return Config(task_window=(window,) * 4, heap_bytes=(heap,) * 4, dep_pool=(dep_pool,) * 4,
                  scheduler_threads=threads, clusters=threads, constants=replace(Constants(), **scaled))


def _output(name: str, numel: int) -> Arg:
    return Arg(Tag.OUTPUT, creates=OutputSpec(name, (numel,), "FLOAT32"))


def _input(name: str, numel: int, offset: int = 0) -> Arg:
    return Arg(Tag.INPUT, Region(name, (numel,), (1,), offset))


def _scoped(name: str, *args: Arg) -> list[object]:
    """One AIV task in its own scope, so it is consumed as soon as it completes."""
    return [ScopeBegin(), Submit(name, (-1, 1, -1), args), ScopeEnd()]


def deferred_release_cap_one(pairs: int, window: int, name: str) -> Scenario:
    """Producer/RETAIN-reader pairs in scopes with the deferred-release buffer scaled to 1 entry (catalogue
    A03): a scheduler that completes two tasks in a row must flush and still release the second."""
    cfg = _config(window=window, threads=1, deferred_release_capacity=1)
    prog: list[object] = []
    for k in range(pairs):
        prog += [ScopeBegin(), Submit(f"P{k}", (-1, 1, -1), (_output(f"p{k}", 16),)),
                 Submit(f"C{k}", (-1, 1, -1), (_input(f"p{k}", 16), _output(f"c{k}", 16))), ScopeEnd()]
    return validate(Scenario(name, cfg, (), tuple(prog)))  # type: ignore[arg-type]


def exact_fit_heap(units: tuple[int, ...], threads: int, name: str) -> Scenario:
    """Independent single-output tasks whose outputs are `units` x 1024 bytes (the packed-output alignment)
    on a heap of units[0] + units[1] (catalogue B02): after the first is reclaimed, two wrapped allocations
    fill the gap exactly while the second task may still be live."""
    cfg = _config(window=8, heap=1024 * (units[0] + units[1]), threads=threads)
    prog: list[object] = []
    for i, u in enumerate(units):
        prog += _scoped(f"T{i}", _output(f"t{i}", 256 * u))
    return validate(Scenario(name, cfg, (), tuple(prog)))  # type: ignore[arg-type]


def tensormap_pool_writers(writers: int, pool: int, threads: int, name: str) -> Scenario:
    """INOUT writers of distinct external buffers, each in its own scope, with the TensorMap entry pool
    scaled to `pool` entries (catalogue C02): the pool is full while older writers retire."""
    cfg = _config(window=8, threads=threads, tensormap_pool_size=pool)
    bufs = tuple(Buffer(f"B{i}", "FLOAT32", 16, external=True) for i in range(writers))
    prog: list[object] = []
    for i in range(writers):
        prog += _scoped(f"W{i}", Arg(Tag.INOUT, Region(f"B{i}", (16,), (1,))))
    return validate(Scenario(name, cfg, bufs, tuple(prog)))  # type: ignore[arg-type]


def cross_ring_same_local(outer_depth: int, kernels: tuple[int, int, int], name: str) -> Scenario:
    """One core of each type; A (ring `outer_depth`, local 0), then its consumer B (the next ring, local 0)
    in a nested scope (catalogue E02): the two dispatches to one core carry the same local id."""
    prog = [ScopeBegin()] * outer_depth + [
        Submit("A", kernels, (_output("a", 16),)),
        ScopeBegin(), Submit("B", kernels, (_input("a", 16), _output("b", 16))), ScopeEnd(),
    ] + [ScopeEnd()] * outer_depth
    return validate(Scenario(name, _config(window=4), (), tuple(prog)))  # type: ignore[arg-type]


def nested_scopes(depth: int, per_scope: int, window: int, name: str) -> Scenario:
    """`depth` nested open scopes of `per_scope` tasks each (one ring per depth), more tasks in open scopes
    than the compile-time default of 16 but fewer than the sum of the windows (catalogue F02)."""
    cfg = _config(window=window, heap=1 << 16, dep_pool=64)
    prog: list[object] = []
    for d in range(depth):
        prog.append(ScopeBegin())
        prog += [Submit(f"S{d}_{i}", (-1, 1, -1), (_output(f"s{d}_{i}", 16),)) for i in range(per_scope)]
    prog += [ScopeEnd()] * depth
    return validate(Scenario(name, cfg, (), tuple(prog)))  # type: ignore[arg-type]


def tiled_writers(writers: int, threads: int, tag: Tag, name: str) -> Scenario:
    """`writers` tasks each write a disjoint 16-element tile of X (INOUT or OUTPUT_EXISTING), then one
    reader of the whole of X (catalogue G01 with 2-3 writers instead of 17)."""
    cfg = _config(window=8, threads=threads)
    bufs = (Buffer("X", "FLOAT32", 16 * writers, external=True),)
    prog: list[object] = [ScopeBegin()]
    prog += [Submit(f"W{i}", (-1, 1, -1), (Arg(tag, Region("X", (16,), (1,), 16 * i)),)) for i in range(writers)]
    prog += [Submit("R", (-1, 1, -1), (Arg(Tag.INPUT, Region("X", (16 * writers,), (1,))), _output("r", 16))),
             ScopeEnd()]
    return validate(Scenario(name, cfg, bufs, tuple(prog)))  # type: ignore[arg-type]


def independent_tasks(tasks: int, threads: int, window: int, name: str) -> Scenario:
    """Independent single-output tasks, each in its own scope, on `threads` schedulers that each own one
    cluster: ring heads are consumed by different threads at nearly the same time (catalogue A01)."""
    prog: list[object] = []
    for i in range(tasks):
        prog += _scoped(f"T{i}", _output(f"t{i}", 16))
    return validate(Scenario(name, _config(window=window, threads=threads), (), tuple(prog)))  # type: ignore[arg-type]


def late_readers(readers: int, threads: int, deferred: int, name: str) -> Scenario:
    """P writes external X (INOUT) in its own scope, then `readers` tasks read X, each in its own scope
    (catalogue A01, second half): when a reader claims P, P's scope has ended, so P is consumed as soon as
    it has completed and its last release runs. Windows of 8 keep slots from being reused."""
    cfg = _config(window=8, threads=threads, deferred_release_capacity=deferred)
    x = Region("X", (16,), (1,))
    prog: list[object] = [ScopeBegin(), Submit("P", (-1, 1, -1), (Arg(Tag.INOUT, x),)), ScopeEnd()]
    for i in range(readers):
        prog += [ScopeBegin(), Submit(f"C{i}", (-1, 1, -1), (Arg(Tag.INPUT, x),)), ScopeEnd()]
    return validate(Scenario(name, cfg, (Buffer("X", "FLOAT32", 16, external=True),), tuple(prog)))  # type: ignore[arg-type]


def late_reader_of_two(name: str = "late_reader_of_two") -> Scenario:
    """P writes X and Q writes Y, each in its own scope; then C reads X and Y (catalogue D01): when C is
    wired, P may have completed (even been consumed) while Q still runs, so C is linked to P's fanout
    list only if the wiring check takes P for unfinished."""
    cfg = _config(window=8, threads=1, deferred_release_capacity=1)
    x, y = Region("X", (16,), (1,)), Region("Y", (16,), (1,))
    prog = (
        ScopeBegin(), Submit("P", (-1, 1, -1), (Arg(Tag.INOUT, x),)), ScopeEnd(),
        ScopeBegin(), Submit("Q", (-1, 1, -1), (Arg(Tag.INOUT, y),)), ScopeEnd(),
        ScopeBegin(), Submit("C", (-1, 1, -1), (Arg(Tag.INPUT, x), Arg(Tag.INPUT, y))), ScopeEnd(),
    )
    bufs = (Buffer("X", "FLOAT32", 16, external=True), Buffer("Y", "FLOAT32", 16, external=True))
    return validate(Scenario(name, cfg, bufs, prog))


def dep_pool_fanout(producers: int, readers: int, threads: int, name: str) -> Scenario:
    """Scopes of one producer and `readers` consumers of its output on a dep-list pool of 4 nodes that is
    reclaimed after every retired task (catalogue C01): the pool fills while older nodes are live, and
    the runtime waits for reclaim where a pool that wraps silently overwrites them. Windows of 16 keep
    slots from being reused."""
    cfg = _config(window=16, threads=threads, dep_pool=4, dep_pool_cleanup_interval=1)
    prog: list[object] = []
    for i in range(producers):
        prog += [ScopeBegin(), Submit(f"P{i}", (-1, 1, -1), (_output(f"p{i}", 16),))]
        prog += [Submit(f"C{i}_{j}", (-1, 1, -1), (_input(f"p{i}", 16),)) for j in range(readers)]
        prog.append(ScopeEnd())
    return validate(Scenario(name, cfg, (), tuple(prog)))  # type: ignore[arg-type]


def _drain_scenario(clusters: int, holders: int, name: str) -> Scenario:
    from properties.drain_checks import drain_holder_cohort

    return drain_holder_cohort(clusters=clusters, threads=3, holders=holders, name=name)


def early_dispatch_waves(kernels: tuple[int, int, int], producer_blocks: int, consumer_blocks: int, threads: int,
                         clusters: int, name: str) -> Scenario:
    """Catalogue I01's shape: a flagged (allow_early_resolve) SPMD producer P with more blocks than the cores
    of its shape, so it dispatches in waves, and a flagged SPMD consumer C of its output that can pre-stage on
    running or pending slots. E.g. AIC kernels on 2 clusters: 2 cores of one shape, P 3 blocks, C 2 blocks."""
    cfg = Config(task_window=(8,) * 4, heap_bytes=(4096,) * 4, dep_pool=(16,) * 4, scheduler_threads=threads,
                 clusters=clusters)
    prog = (
        ScopeBegin(),
        Submit("P", kernels, (_output("p", 16),), block_num=producer_blocks, early_resolve=True),
        Submit("C", kernels, (_input("p", 16), _output("c", 16)), block_num=consumer_blocks, early_resolve=True),
        ScopeEnd(),
    )
    return validate(Scenario(name, cfg, (), prog))


GENERATOR_BYTES = 4096


def generated_scenario(
    seed: int, max_tasks: int | None = None, window: int | None = None, sizing: str = "within",
    dep_pool: int | None = None, family: str = "general", early: bool = False,
) -> Scenario:
    """The scenario the general generator `properties.strategies.scenarios` draws from the bytes of
    random.Random(seed) (Hypothesis's `fuzz_one_input`), named `generated#<seed>`: a program not shaped for
    any mutant. `max_tasks` and `window` (every ring's window) narrow the generator's limits, `sizing` is
    its resource sizing ("within": INV-S6 holds; "outside": some resource is below the program's need);
    `dep_pool` then sets every ring's dep-list pool (the drawn `expected` outcome is kept, so a pool too
    small for the program makes the unmutated port fail: such seeds are not used); `early` turns on the
    generator's allow_early_resolve submits (early dispatch). A seed names the same scenario on every run with the same Hypothesis version."""
    # hypothesis is imported here, not at module level: the port checks run without it
    from hypothesis import HealthCheck, given, settings

    from properties.strategies import DEFAULT_LIMITS, Sizing, scenarios, sync_cohort_scenarios

    if sizing not in ("within", "outside", "any"):
        raise PtocheckError(f"unknown sizing {sizing!r}", "generated_scenario", "use within, outside or any")
    limits = DEFAULT_LIMITS
    if max_tasks is not None:
        limits = replace(limits, max_tasks=max_tasks)
    if window is not None:
        limits = replace(limits, window_choices=(window,))
    if early:
        limits = replace(limits, early_resolve=True)
    how: Sizing = "within" if sizing == "within" else "outside" if sizing == "outside" else "any"
    drawn: list[Scenario] = []

    if family not in ("general", "sync_cohort"):
        raise PtocheckError(f"unknown generator family {family!r}", "generated_scenario", "use general or sync_cohort")
    strategy = scenarios(limits, how) if family == "general" else sync_cohort_scenarios(how)

    @settings(database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def harness(scenario: Scenario) -> None:
        drawn.append(scenario)

    harness.hypothesis.fuzz_one_input(random.Random(seed).randbytes(GENERATOR_BYTES))  # type: ignore[attr-defined]
    if not drawn:
        raise PtocheckError(f"generator seed {seed} drew no scenario", "generated_scenario", "use another seed")
    scenario = drawn[-1]
    if dep_pool is not None:
        scenario = validate(scenario.with_config(dep_pool=(dep_pool,) * 4))
    suffix = "".join(
        f"/{k}{v}" for k, v in (("t", max_tasks), ("w", window), ("d", dep_pool)) if v is not None
    ) + ("" if sizing == "within" else f"/{sizing}") + ("" if family == "general" else f"/{family}") + (
        "/e" if early else ""
    )
    return replace(scenario, name=f"generated#{seed}{suffix}")


@dataclass(frozen=True)
class GeneratedProbe:
    """A mutant search (random, seed 1, `runs` runs) on `generated_scenario(seed, max_tasks, window, sizing,
    dep_pool)` and the property it names. The seeds come from `ptocheck mutants --hunt N` with the same
    shape options (it lists, per mutant, the first seeds on which the mutant is found and the unmutated
    port passes); where several were listed, the one naming the targeted probe's property was kept."""

    seed: int
    property_id: str
    runs: int = 10
    max_tasks: int | None = None
    window: int | None = None
    sizing: str = "within"
    dep_pool: int | None = None
    family: str = "general"  # "sync_cohort": properties.strategies.sync_cohort_scenarios
    init_failure: str = ""  # inject this startup abort path into the scenario's last run (config.init_failure)
    early: bool = False
    memory_model: str = "sc"  # "tso": the scenario runs on store buffers (config.memory_model)
    engine: str = "random"  # "dfs": bounded exhaustive search, preemption bound `preemptions`
    preemptions: int = 2


@dataclass(frozen=True)
class MutantCase:
    """Fixed-budget searches that find a mutant: the targeted scenarios (the catalogue's shape first) with
    the engine, seed, runs and the property the finding must name, and the scenarios the general generator
    drew (`GeneratedProbe`). The unmutated port must pass every one of these searches."""

    mutant: str
    property_id: str
    scenarios: tuple[Callable[[], Scenario], ...]
    engine: str = "random"
    seed: int = 1
    runs: int = 60
    max_steps: int = 20_000
    generated: tuple[GeneratedProbe, ...] = ()
    no_generated: str = ""  # why there is no generated probe (the table prints it)
    preemptions: int = 2  # engine "dfs": the preemption bound (iterative, stopping at the first failure)


@dataclass(frozen=True)
class MutantProbe:
    """One search of one scenario for one mutant (a targeted scenario of a case, or a generated one)."""

    mutant: str
    origin: str  # "targeted" or "generated"
    scenario: Callable[[], Scenario]
    property_id: str
    engine: str
    seed: int
    runs: int
    max_steps: int
    preemptions: int = 2

    def search_text(self) -> str:
        if self.engine == "dfs":
            return f"dfs P<={self.preemptions}"
        return f"{self.engine} s{self.seed}"


def probes_of(case: MutantCase) -> tuple[MutantProbe, ...]:
    targeted = tuple(
        MutantProbe(case.mutant, "targeted", make, case.property_id, case.engine, case.seed, case.runs,
                    case.max_steps, case.preemptions)
        for make in case.scenarios
    )
    generated = tuple(
        MutantProbe(case.mutant, "generated", _generator(g), g.property_id, g.engine, 1, g.runs, case.max_steps,
                    g.preemptions)
        for g in case.generated
    )
    return targeted + generated


def _generator(g: GeneratedProbe) -> Callable[[], Scenario]:
    if g.memory_model != "sc":
        plain = replace(g, memory_model="sc")
        return lambda: on_memory_model(_generator(plain)(), g.memory_model)
    if g.init_failure:
        return lambda: with_startup_abort(
            generated_scenario(g.seed, g.max_tasks, g.window, g.sizing, g.dep_pool, g.family, g.early), g.init_failure
        )
    return lambda: generated_scenario(g.seed, g.max_tasks, g.window, g.sizing, g.dep_pool, g.family, g.early)


def on_memory_model(scenario: Scenario, memory_model: str) -> Scenario:
    """`scenario` on the machine `memory_model` (config.memory_model), named `<name>@<memory_model>`."""
    return validate(replace(scenario.with_config(memory_model=memory_model), name=f"{scenario.name}@{memory_model}"))


def with_startup_abort(scenario: Scenario, failure: str, run: int | None = None) -> Scenario:
    """`scenario` with the startup abort path `failure` injected into run `run` (default: its last run, so
    the runs before it execute the program), named `<name>+<failure>@<run>`."""
    at = scenario.runs - 1 if run is None else run
    injected = scenario.with_config(init_failure=failure, init_failure_run=at)
    return validate(replace(injected, name=f"{scenario.name}+{failure}@{at}"))


MUTANT_CASES: tuple[MutantCase, ...] = (
    MutantCase("M_ADVANCE_NO_LOCK", "watermark_monotone",
               (lambda: independent_tasks(6, 2, 4, "independent_2sched_w4"),
                lambda: independent_tasks(5, 2, 8, "independent_2sched_w8")),
               generated=(GeneratedProbe(35, "watermark_monotone"),)),
    MutantCase("M_CLAIM_OUTSIDE_LOCK", "claim_before_consume",
               (lambda: late_readers(1, 1, 256, "late_reader"),
                lambda: late_readers(3, 1, 1, "late_readers_defer1")), engine="pct", runs=40,
               generated=(GeneratedProbe(46, "claim_before_consume"),)),
    MutantCase("M_DEFERRED_RELEASE_DROP_ON_FULL", "expected_outcome",
               (lambda: deferred_release_cap_one(3, 8, "defer_cap1_pairs"),
                lambda: deferred_release_cap_one(4, 4, "defer_cap1_pairs_w4")), runs=30,
               generated=(GeneratedProbe(4, "expected_outcome"),)),
    MutantCase("M_SLOT_INDEX_BY_ID", "no_lost_wakeup",
               (lambda: retain_pairs(3), lambda: retain_pairs(4, 1, "retain_pairs_1sched")),
               generated=(GeneratedProbe(16, "no_lost_wakeup"),)),
    # The absolute tail leaves [0, H) before two live buffers collide: pool_bounds (heap top/tail) fires first.
    MutantCase("M_HEAP_TAIL_ABSOLUTE", "pool_bounds",
               (lambda: retain_pairs(3), lambda: retain_pairs(4, 1, "retain_pairs_1sched")),
               generated=(GeneratedProbe(4, "pool_bounds"),)),
    MutantCase("M_HEAP_GAP_NONSTRICT", "heap_disjoint",
               (lambda: exact_fit_heap((2, 2, 1, 1, 2), 1, "exact_fit_heap"),
                lambda: exact_fit_heap((3, 5, 2, 1, 5), 2, "exact_fit_heap_2sched")),
               generated=(GeneratedProbe(107, "heap_disjoint"),)),
    MutantCase("M_DEPPOOL_SILENT_WRAP", "pool_bounds",
               (lambda: dep_pool_fanout(3, 3, 1, "dep_pool4_fanout3"),
                lambda: dep_pool_fanout(4, 2, 2, "dep_pool4_fanout2_2sched")), runs=30,
               generated=(GeneratedProbe(38, "pool_bounds", max_tasks=24, dep_pool=4),)),
    MutantCase("M_TMAP_POOL_ASSERT", "expected_outcome",
               (lambda: tensormap_pool_writers(3, 2, 1, "tmap_pool_2"),
                lambda: tensormap_pool_writers(4, 3, 2, "tmap_pool_3_2sched")), runs=30,
               generated=(GeneratedProbe(16, "expected_outcome", sizing="outside"),)),
    MutantCase("M_COMPLETION_FLAG_NO_GENERATION", "consumed_prefix",
               (lambda: retain_pairs(3), lambda: retain_pairs(6, 2, "retain_pairs_6")),
               generated=(GeneratedProbe(0, "consumed_prefix"),)),
    MutantCase("M_TOKEN_FROM_LOCAL_ID", "completed_after_kernels",
               (lambda: cross_ring_same_local(1, (-1, 1, -1), "cross_ring_tokens_aiv"),
                lambda: cross_ring_same_local(2, (1, -1, -1), "cross_ring_tokens_aic_r2")), runs=20,
               generated=(GeneratedProbe(4, "completed_after_kernels"),)),
    MutantCase("M_SCOPE_CAP_COMPILE_DEFAULT", "expected_outcome",
               (lambda: nested_scopes(3, 6, 8, "open_scopes_18_w8"),
                lambda: nested_scopes(2, 9, 16, "open_scopes_18_w16")), runs=3,
               generated=(GeneratedProbe(122, "no_lost_wakeup", max_tasks=24, window=16),)),
    MutantCase("M_LOOKUP_CAP", "dispatch_after_producers",
               (lambda: tiled_writers(2, 1, Tag.INOUT, "tiled_inout_writers"),
                lambda: tiled_writers(3, 2, Tag.OUTPUT_EXISTING, "tiled_output_existing_2sched")),
               no_generated=(
                   "no generator seed below 1500 (within sizing; random, 8 runs each) names "
                   "dispatch_after_producers; the only hits (seeds 96, 119/t24, 224) abort on the port's "
                   "deferred-release limit, which the unmutated port reaches on seed 96 too"
               )),
    MutantCase("M_SCHED_NO_INIT_WAIT", "no_lost_wakeup",
               (lambda: retain_pairs(3), one_block_attention),
               generated=(GeneratedProbe(16, "no_lost_wakeup"),)),
    # catalogue J04 scaled down (3 schedulers): a cohort needing every cluster becomes ready while holders run
    MutantCase("M_DRAIN_NO_ATTEMPT_TAG", "drain_attempt_consistent",
               (lambda: _drain_scenario(3, 4, "drain_cohort_3clusters_4holders"),
                lambda: _drain_scenario(4, 3, "drain_cohort_4clusters_3holders")), runs=250,
               generated=(GeneratedProbe(17, "drain_attempt_consistent", runs=150, family="sync_cohort"),)),
    # K01b: the abort path of the catalogue's shape (the schedulers wait while the orchestrator's startup fails),
    # then an abort after a complete run (deinit re-armed the flag), then a generated program
    MutantCase("M_INIT_ABORT_NO_FLAG", "init_flag_published",
               (lambda: with_startup_abort(retain_pairs(1), "sm_init_per_ring_failed"),
                lambda: with_startup_abort(replace(retain_pairs(2, 1, "retain_pairs_1sched"), runs=2),
                                           "arg_count_below_expected")),
               runs=10,
               generated=(GeneratedProbe(19, "init_flag_published", init_failure="runtime_reset_for_reuse_failed"),
                          GeneratedProbe(24, "init_flag_published", init_failure="invalid_callable_id"))),
    # I01: candidacy on the producer's first published range. The hang the catalogue reports is not reached
    # at the pinned commit without sync_start cohorts (see runtime/trb/mutants.py); INV-D4 names the mutant.
    MutantCase("M_EARLY_ON_FIRST_BLOCK", "early_candidate_after_publication",
               (lambda: early_dispatch_waves((0, -1, -1), 3, 2, 2, 2, "early_waves_aic_2sched"),
                lambda: early_dispatch_waves((-1, 0, -1), 3, 2, 1, 1, "early_waves_aiv_1sched")), runs=20,
               generated=(GeneratedProbe(28, "early_candidate_after_publication", early=True),)),
    # H01 needs store buffers: the catalogue's shape (one producer, one consumer), then a late reader, on TSO,
    # where bounded DFS finds the lost wake-up without a preemption (the orchestrator's next locked op waits for
    # its buffer to drain, a free switch); sequentially consistent, no schedule within bound 1 has it
    MutantCase("M_FANIN_SB_WEAK", "no_lost_wakeup",
               (lambda: on_memory_model(retain_pairs(1, 1, "h01_pair"), "tso"),
                lambda: on_memory_model(late_readers(1, 1, 256, "h01_late_reader"), "tso")),
               engine="dfs", preemptions=0,
               generated=(GeneratedProbe(8, "no_lost_wakeup", max_tasks=4, memory_model="tso", engine="dfs",
                                         preemptions=0),)),
    MutantCase("M_NO_ADVANCE_PENDING_MASK", "no_lost_wakeup",
               (lambda: independent_tasks(6, 2, 4, "independent_2sched_w4"),
                lambda: independent_tasks(5, 2, 8, "independent_2sched_w8")), runs=200,
               generated=(GeneratedProbe(180, "no_lost_wakeup"),)),
)


@dataclass(frozen=True)
class MutantResult:
    mutant: str
    catalogue_id: str
    scenario: str
    property_id: str  # what the search reported ("" when nothing was found)
    engine: str
    executions: int
    steps: int
    seconds: float  # process (CPU) time of the search
    verdict: str


def run_probe(probe: MutantProbe, scenario: Scenario, mutants: frozenset[str]) -> MutantResult:
    """One fixed-budget search of `scenario` with `mutants` on (empty: the unmutated port)."""
    bounds = SearchBounds(runs=probe.runs, max_steps=probe.max_steps, preemptions=probe.preemptions)
    started = time.process_time()
    report = search(lambda: TrbSystem(scenario, mutants), probe.engine, probe.seed, bounds, port_observers())
    seconds = time.process_time() - started
    first = report.failures[0] if report.failures else None
    return MutantResult(
        probe.mutant,
        MUTANTS[probe.mutant].catalogue_id,
        scenario.name,
        first.property_id if first is not None else "",
        f"dfs(preemptions<={probe.preemptions})" if probe.engine == "dfs"
        else f"{probe.engine}(seed={probe.seed}, runs<={probe.runs})",
        report.executions,
        first.step if first is not None else 0,
        seconds,
        report.verdict(),
    )


def run_mutant_case(case: MutantCase, scenario: Scenario, mutants: frozenset[str]) -> MutantResult:
    """The case's targeted search of `scenario` with `mutants` on (empty: the unmutated port)."""
    probe = MutantProbe(case.mutant, "targeted", lambda: scenario, case.property_id, case.engine, case.seed,
                        case.runs, case.max_steps, case.preemptions)
    return run_probe(probe, scenario, mutants)
