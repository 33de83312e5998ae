"""Shared memory layout of the TRB port and its pre-built operations (see the package docstring).

Every shared variable of the C++ runtime the port mirrors is one integer cell of `self.mem` (named for
traces), laid out as struct-of-arrays: `self.S_STATE + g` is the task_state of global slot g, and so on.
Pointers are encoded as small integers: a slot pointer is `g + 1` (0 = nullptr), a dep-list node pointer
is `node_id + 1`, a packed fanin edge is `((g + 1) << 2) | DepFlags`.

`TrbState` owns the layout, the constant `Op` objects the threads announce (built once, so a step costs
no allocation), and the helpers that perform a step's effect. The thread bodies live in the mixins
(`orchestrator.py`, `scheduler.py`, `aicore.py`); `system.py` assembles them into `TrbSystem`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from model.scenario import Scenario
from runtime.core import Cite, Memory, Op, OpKind, Order, Static
from runtime.data.hooks import DataHooks
from runtime.trb import cites as C
from runtime.trb import consts as K
from runtime.trb.mutants import check_mutants
from runtime.trb.plan import Plan
from runtime.trb.readyqueue import ReadyQueue
from runtime.trb.startup import StartupOps
from runtime.trb.tensormap import TensorMap

SLOT_FIELDS = (
    "task_state",
    "fanout_lock",
    "fanout_count",
    "fanout_head",
    "fanin_refcount",
    "fanin_count",
    "fanout_refcount",
    "lifecycle_flags",
    "dep_pool_mark",
    "completed_subtasks",
    "total_required_subtasks",
    "logical_block_num",
    "next_block_idx",
    "active_mask",
    "ring_id",
    "task_attrs",
    "bound",  # payload/task pointers bound (nullptr on a zero-filled first boot)
    "desc.task_ring",
    "desc.task_local",
    "desc.packed_base",
    "desc.packed_end",
    "payload.fanin_actual_count",
    "payload.fanin_spill_start",
    "payload.fanin_spill_pool",
    "orch.fanin_seen_epoch",
)
# Slot fields only the orchestrator touches (in the private memory `TrbState.pmem`, indexed like the others).
ORCH_PRIVATE_SLOT_FIELDS = frozenset({"dep_pool_mark", "task_attrs", "orch.fanin_seen_epoch"})

Q_NAMES = ("ready_queues[AIC]", "ready_queues[AIV]", "ready_queues[MIX]", "dummy_ready_queue")
ATTR_SYNC_START = 2
ATTR_EARLY = 1


@dataclass(frozen=True)
class SlotView:
    """One slot's state (read accessor for the refinement layer)."""

    ring: int
    slot: int
    task_state: int
    fanout_lock: int
    fanout_count: int
    fanout_refcount: int
    fanin_count: int
    fanin_refcount: int
    lifecycle_flags: int
    dep_pool_mark: int
    completed_subtasks: int
    total_required_subtasks: int
    next_block_idx: int
    logical_block_num: int
    bound: bool
    desc_task: tuple[int, int]  # (ring, local) of PTO2TaskDescriptor.task_id
    task_index: int  # the program task the descriptor names (-1 if none)
    fanout: tuple[tuple[int, int], ...]  # consumers on fanout_head's list, (ring, slot), head first
    edges: tuple[tuple[int, int, int], ...]  # payload fanin edges: (producer ring, producer slot, DepFlags)


@dataclass(frozen=True)
class RingView:
    ring: int
    current_task_index: int  # SM fc.current_task_index
    last_task_alive: int  # SM fc.last_task_alive
    sched_last_task_alive: int  # RingSchedState.last_task_alive (the advancer's master copy)
    advance_lock: int
    pending_bit: bool
    local_task_id: int  # PTO2TaskAllocator private
    heap_top: int
    heap_tail: int
    last_alive_seen: int
    rebase_anchor: int
    dep_pool: tuple[int, int, int]  # top, tail, last_reclaimed
    fanin_pool: tuple[int, int, int]  # top, tail, reclaim_task_cursor


@dataclass(frozen=True)
class CoreView:
    core: int
    owner_thread: int
    data_main_base: int
    cond: int
    running_slot: tuple[int, int] | None
    pending_slot: tuple[int, int] | None
    running_reg: int
    pending_reg: int
    dispatch_seq: int
    handshaken: bool


# Op footprints are identical in every system built from one scenario, and those extended by an executor's
# cells are long (a scheduler's ~100 private cells): one tuple object per content, so the executor's and the
# per-step checks' caches keyed by a footprint's identity hit across runs (instead of hashing it per new op).
_CANONICAL: dict[tuple[int, ...], tuple[int, ...]] = {}
# (own cells, id(canonical extra)) -> (that extra, kept so the id is not reused; own + extra)
_EXTENDED: dict[tuple[tuple[int, ...], int], tuple[tuple[int, ...], tuple[int, ...]]] = {}


def _canonical(cells: tuple[int, ...]) -> tuple[int, ...]:
    """The one tuple object of this content (op footprints, so caches keyed by identity hit across runs)."""
    if len(_CANONICAL) > 200_000:
        _CANONICAL.clear()
    return _CANONICAL.setdefault(cells, cells)


def _extended(own: tuple[int, ...], extra: tuple[int, ...]) -> tuple[int, ...]:
    """`own + extra`, one object per content while `extra` is canonical (its id then names its content)."""
    key = (own, id(extra))
    entry = _EXTENDED.get(key)
    if entry is None or entry[0] is not extra:
        if len(_EXTENDED) > 200_000:
            _EXTENDED.clear()
        entry = _EXTENDED[key] = (extra, own + extra)
    return entry[1]


_AUGMENTED: dict[tuple[object, ...], tuple[object, object, object, object, object, Op]] = {}


class ExecOps(Static):
    """The op tables as one executor announces them: `ops.OP_X` is `state.OP_X` (same shape: an Op, or
    nested lists of Ops) with `reads` and `writes` extended by the executor's cells. Built lazily, once per
    table and executor; an executor without extra cells shares the base tables."""

    def __init__(self, state: TrbState, reads: tuple[int, ...], writes: tuple[int, ...]) -> None:
        self._state = state
        self._reads = _canonical(reads)
        self._writes = _canonical(writes)

    def augment(self, op: Op) -> Op:
        if not self._reads and not self._writes:
            return op
        if op.guard is None and op.guard_reads is None:
            # an unguarded op is plain data: the augmented op of an equal op (same text, kind, order, backstop
            # and the same footprint and cite objects: canonical footprints, module-level cites) is shared
            # across systems, instead of built again by every run's lazily extended tables
            key = (op.what, id(op.reads), id(op.writes), id(op.cite), id(self._reads), id(self._writes))
            hit = _AUGMENTED.get(key)
            if (hit is not None and hit[0] is op.reads and hit[1] is op.writes and hit[2] is op.cite
                    and hit[3] is self._reads and hit[4] is self._writes):
                shared = hit[5]  # (enum members and None compared by identity: an IntEnum hashes in Python)
                if shared.kind is op.kind and shared.order is op.order and shared.backstop == op.backstop:
                    return shared
            new = self._augmented(op)
            if len(_AUGMENTED) > 200_000:
                _AUGMENTED.clear()
            # the objects named by id are kept in the entry, so their ids cannot be reused while it lives
            _AUGMENTED[key] = (op.reads, op.writes, op.cite, self._reads, self._writes, new)
            return new
        return self._augmented(op)

    def _augmented(self, op: Op) -> Op:
        # a cell named twice is harmless (footprints are membership tests), so no dedupe
        return Op(op.kind, op.what, op.cite, _extended(op.reads, self._reads), _extended(op.writes, self._writes),
                  op.order, op.guard, op.backstop, op.guard_reads)

    def _map(self, value: Any) -> Any:
        if not self._reads and not self._writes:
            return value
        if isinstance(value, Op):
            return self.augment(value)
        augment = self.augment
        return [augment(v) if type(v) is Op else self._map(v) for v in value]

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("OP_"):
            raise AttributeError(name)
        value = self._map(getattr(self._state, name))
        setattr(self, name, value)
        return value


class TrbState:
    """Layout, constant ops and step helpers shared by every thread body."""

    data: DataHooks | None = None  # the data oracle's byte path (runtime/data); None: data-free run
    # every guard reads only cells its op declares and every step declares what it writes (the footprint
    # audit checks both): runtime.execution.run_once keeps the runnable set from each step's writes
    guards_follow_footprints = True

    def __init__(self, scenario: Scenario, mutants: Iterable[str] = ()) -> None:
        self.scenario = scenario
        self.mutants = check_mutants(frozenset(mutants))
        mu = self.mutants
        self.m_advance_no_lock = "M_ADVANCE_NO_LOCK" in mu
        self.m_claim_outside_lock = "M_CLAIM_OUTSIDE_LOCK" in mu
        self.m_defer_drop = "M_DEFERRED_RELEASE_DROP_ON_FULL" in mu
        self.m_slot_by_id = "M_SLOT_INDEX_BY_ID" in mu
        self.m_heap_tail_abs = "M_HEAP_TAIL_ABSOLUTE" in mu
        self.m_gap_nonstrict = "M_HEAP_GAP_NONSTRICT" in mu
        self.m_deppool_wrap = "M_DEPPOOL_SILENT_WRAP" in mu
        self.m_tmap_assert = "M_TMAP_POOL_ASSERT" in mu
        self.m_eq_not_ge = "M_COMPLETED_EQ_NOT_GE" in mu
        self.m_fanin_sb_weak = "M_FANIN_SB_WEAK" in mu
        self.m_no_generation = "M_COMPLETION_FLAG_NO_GENERATION" in mu
        self.m_token_local = "M_TOKEN_FROM_LOCAL_ID" in mu
        self.m_scope_cap = "M_SCOPE_CAP_COMPILE_DEFAULT" in mu
        self.m_lookup_cap = "M_LOOKUP_CAP" in mu
        self.m_sched_no_init_wait = "M_SCHED_NO_INIT_WAIT" in mu
        self.m_no_fatal_poll = "M_WAIT_NO_FATAL_POLL" in mu
        self.m_no_pending_mask = "M_NO_ADVANCE_PENDING_MASK" in mu

        self.plan = plan = Plan(scenario)
        cfg = scenario.config
        self.cfg = cfg
        self.consts = consts = cfg.constants
        self.runs = scenario.runs
        self.windows = cfg.task_window
        self.masks = tuple(w - 1 for w in cfg.task_window)
        self.heap_size = cfg.heap_bytes
        self.heap_base = tuple(cfg.heap_base(r) for r in range(K.NUM_RINGS))
        self.dep_cap = cfg.dep_pool
        self.n_sched = cfg.scheduler_threads
        self.n_aicpu = self.n_sched + 1
        self.orch_tidx = self.n_sched
        self.clusters = cfg.clusters
        self.n_cores = 3 * cfg.clusters
        self.queue_cap = consts.ready_queue_capacity
        self.defer_cap = consts.deferred_release_capacity
        self.inline_cap = consts.fanin_inline_cap
        sum_windows = sum(cfg.task_window)
        self.scope_tasks_capacity = 16 if self.m_scope_cap else sum_windows
        self.max_scope_depth = consts.max_scope_depth

        self.mem = self._new_memory()
        self.c: list[int] = self.mem.cells
        # The orchestrator's private bookkeeping (scope stack, fatal flag, program counter, dedupe epochs,
        # dep_pool_mark, task_attrs, buffer addresses): only the orchestrator thread reads or writes these,
        # so they live outside `mem` (no op declares them; they never make two ops dependent) and
        # `fingerprint()` covers them.
        self.pmem = Memory()
        self.p: list[int] = self.pmem.cells

        def arr(
            name: str, count: int, init: int = 0, names: list[str] | None = None, private: bool = False
        ) -> int:
            m = self.pmem if private else self.mem
            base = m.alloc(name, max(count, 1), init)
            if names is not None:
                for i, n in enumerate(names):
                    m.names[base + i] = n
            return base

        # ---- slots (per ring, only the slots a run can touch) ----
        self.slot_base: list[int] = []
        slot_ring: list[int] = []
        slot_idx: list[int] = []
        for r in range(K.NUM_RINGS):
            self.slot_base.append(len(slot_ring))
            for s in range(plan.nslots[r]):
                slot_ring.append(r)
                slot_idx.append(s)
        self.n_slots = len(slot_ring)
        self.phantom = -1
        if self.m_slot_by_id:  # an out-of-window slot image for ids >= W (mutant M_SLOT_INDEX_BY_ID)
            self.phantom = len(slot_ring)
            slot_ring.append(0)
            slot_idx.append(-1)
        self.slot_ring = tuple(slot_ring)
        self.slot_idx = tuple(slot_idx)
        G = len(slot_ring)
        slot_label = [f"r{r}s{s}" if s >= 0 else "phantom" for r, s in zip(slot_ring, slot_idx, strict=True)]
        bases = {}
        for f in SLOT_FIELDS:
            bases[f] = arr(f, G, 0, [f"{lab}.{f}" for lab in slot_label], private=f in ORCH_PRIVATE_SLOT_FIELDS)
        self.S_STATE = bases["task_state"]
        self.S_LOCK = bases["fanout_lock"]
        self.S_FC = bases["fanout_count"]
        self.S_HEAD = bases["fanout_head"]
        self.S_FRC = bases["fanin_refcount"]
        self.S_FCOUNT = bases["fanin_count"]
        self.S_RC = bases["fanout_refcount"]
        self.S_FLAGS = bases["lifecycle_flags"]
        self.S_MARK = bases["dep_pool_mark"]
        self.S_DONE = bases["completed_subtasks"]
        self.S_TOTAL = bases["total_required_subtasks"]
        self.S_BLOCKS = bases["logical_block_num"]
        self.S_NEXT = bases["next_block_idx"]
        self.S_MASK = bases["active_mask"]
        self.S_RING = bases["ring_id"]
        self.S_ATTRS = bases["task_attrs"]
        self.S_BOUND = bases["bound"]
        self.D_RING = bases["desc.task_ring"]
        self.D_LOCAL = bases["desc.task_local"]
        self.D_BASE = bases["desc.packed_base"]
        self.D_END = bases["desc.packed_end"]
        self.P_FANIN = bases["payload.fanin_actual_count"]
        self.P_SPILL_START = bases["payload.fanin_spill_start"]
        self.P_SPILL_POOL = bases["payload.fanin_spill_pool"]
        self.S_SEEN = bases["orch.fanin_seen_epoch"]
        self.IC = max(1, plan.inline_cells)
        self.E_BASE = arr(
            "payload.fanin_inline_edges",
            G * self.IC,
            0,
            [f"{slot_label[g]}.edge[{i}]" for g in range(G) for i in range(self.IC)],
        )

        # ---- per-ring pools ----
        self.dp_cells = tuple(max(1, min(self.dep_cap[r], plan.ring_max_wait_nodes[r] + 1)) for r in range(4))
        self.node_base: list[int] = []
        n = 0
        for r in range(K.NUM_RINGS):
            self.node_base.append(n)
            n += self.dp_cells[r]
        self.n_nodes = n
        node_names = [f"r{r}.dep_pool[{i}]" for r in range(4) for i in range(self.dp_cells[r])]
        self.N_CONS = arr("dep_node.slot_state", n, 0, [x + ".slot_state" for x in node_names])
        self.N_NEXT = arr("dep_node.next", n, 0, [x + ".next" for x in node_names])
        self.node_ring = tuple(r for r in range(4) for _ in range(self.dp_cells[r]))
        self.sp_cells = tuple(
            max(1, min(self.dep_cap[r], plan.ring_max_spill[r] + 1)) for r in range(K.NUM_RINGS)
        )
        self.SPILL = tuple(
            arr(f"r{r}.fanin_pool", self.sp_cells[r], 0, [f"r{r}.fanin_pool[{i}]" for i in range(self.sp_cells[r])])
            for r in range(K.NUM_RINGS)
        )

        def per_ring(name: str, init: int = 0) -> int:
            return arr(name, 4, init, [f"r{r}.{name}" for r in range(4)])

        self.R_CUR = per_ring("fc.current_task_index")
        self.R_LA = per_ring("fc.last_task_alive")
        self.R_SLA = per_ring("sched.last_task_alive")
        self.R_ALOCK = per_ring("sched.advance_lock")
        self.DP_TOP = per_ring("dep_pool.top", 1)
        self.DP_TAIL = per_ring("dep_pool.tail", 1)
        self.DP_HIGH = per_ring("dep_pool.high_water")
        self.DP_LAST = per_ring("dep_pool.last_reclaimed")
        self.FP_TOP = per_ring("fanin_pool.top", 1)
        self.FP_TAIL = per_ring("fanin_pool.tail", 1)
        self.FP_HIGH = per_ring("fanin_pool.high_water")
        self.FP_CURSOR = per_ring("fanin_pool.reclaim_task_cursor")
        self.AL_LOCAL = per_ring("alloc.local_task_id")
        self.AL_TOP = per_ring("alloc.heap_top")
        self.AL_TAIL = per_ring("alloc.heap_tail")
        self.AL_SEEN = per_ring("alloc.last_alive_seen")
        self.AL_ANCHOR = per_ring("alloc.heap_rebase_anchor", -1)

        # ---- SM header, scheduler, executor ----
        self.H_ORCH_DONE = arr("sm.orchestrator_done", 1)
        self.H_ORCH_ERR = arr("sm.orch_error_code", 1)
        self.H_SCHED_ERR = arr("sm.sched_error_code", 1)
        self.H_SCHED_ERR_THREAD = arr("sm.sched_error_thread", 1, -1)
        self.H_SCHED_ERR_BITMAP = arr("sm.sched_error_bitmap", 1)
        self.H_STALL_DETAIL = arr("sm.sched_stall_detail", 1)
        self.H_ADV_PENDING = arr("sched.advance_pending_mask", 1)
        self.Q_ENQ = arr("queue.enqueue_pos", 4, 0, [f"{q}.enqueue_pos" for q in Q_NAMES])
        self.Q_DEQ = arr("queue.dequeue_pos", 4, 0, [f"{q}.dequeue_pos" for q in Q_NAMES])
        self.X_COMPLETED_TASKS = arr("ctx.completed_tasks_", 1)
        self.X_TOTAL_TASKS = arr("ctx.total_tasks_", 1)
        self.X_ORCH_DONE = arr("ctx.orchestrator_done_", 1)
        self.X_COMPLETED = arr("ctx.completed_", 1)
        self.X_FATAL_STARTED = arr("ctx.fatal_shutdown_started_", 1)
        self.E_INIT_READY = arr("exec.runtime_init_ready_", 1)
        self.E_RT = arr("exec.rt", 1)
        self.E_HS_SETUP = arr("exec.hs_setup_done_", 1)
        self.E_FINISHED_COUNT = arr("exec.finished_count_", 1)
        self.E_FINISHED = arr("exec.finished_", 1)
        # the platform's record of the first non-zero rc an AICPU thread returned (sim: run_completion_; onboard:
        # the AICPU stream's error): a startup abort's `return -1` (runtime/trb/startup.py)
        self.E_KERNEL_RC = arr("platform.aicpu_kernel_rc", 1)

        # ---- orchestrator-private ----
        self.O_FATAL = arr("orch.fatal", 1, private=True)
        self.O_INLINE = arr("orch.inline_completed_tasks", 1, private=True)
        self.O_SCOPE_SIZE = arr("orch.scope_tasks_size", 1, private=True)
        self.O_SCOPE_TOP = arr("orch.scope_stack_top", 1, -1, private=True)
        self.O_MANUAL = arr("orch.manual_begin_depth", 1, self.max_scope_depth, private=True)
        self.O_SEEN_EPOCH = arr("orch.fanin_seen_current_epoch", 1, 1, private=True)
        self.O_PC = arr("orch.pc", 1, private=True)
        self.O_SPILL_START = arr("orch.fanin_builder.spill_start", 1, private=True)
        self.n_begins = max(plan.max_depth + 1, K.NUM_RINGS)
        self.O_BEGINS = arr("orch.scope_begins", self.n_begins, private=True)
        self.n_scope_cells = max(1, min(self.scope_tasks_capacity, len(plan.tasks)))
        self.O_SCOPE_TASKS = arr("orch.scope_tasks", self.n_scope_cells, private=True)
        self.O_BUF = arr("orch.buffer_addr", len(plan.buffers), 0, [f"buf.{b.name}.addr" for b in plan.buffers], True)
        for i, b in enumerate(plan.buffers):
            if b.external:
                self.p[self.O_BUF + i] = b.ext_addr

        # ---- cores and scheduler threads ----
        nc = self.n_cores
        core_names = [self.core_name(i) for i in range(nc)]

        def per_core(name: str, init: int = 0) -> int:
            return arr(name, nc, init, [f"{cn}.{name}" for cn in core_names])

        self.C_DMB = per_core("DATA_MAIN_BASE")
        self.C_COND = per_core("COND")
        self.C_DONE = per_core("hank.aicore_done")
        self.C_LAST = per_core("aicore.last_reg_val", K.AICPU_IDLE_TASK_ID)
        self.C_RUN_SLOT = per_core("exec.running_slot_state")
        self.C_PEND_SLOT = per_core("exec.pending_slot_state")
        self.C_RUN_REG = per_core("exec.running_reg_task_id", K.AICPU_TASK_INVALID)
        self.C_PEND_REG = per_core("exec.pending_reg_task_id", K.AICPU_TASK_INVALID)
        self.C_SEQ = per_core("exec.dispatch_seq")
        self.C_RUN_SUB = per_core("exec.running_subslot")
        self.C_PEND_SUB = per_core("exec.pending_subslot")
        self.C_REG = per_core("exec.reg_addr")  # non-zero once the owner thread handshook the core

        T = self.n_sched
        self.owner_of_core = [0] * nc
        self.tr_cores: list[tuple[int, ...]] = []  # per thread: bit offset -> core id
        self.tr_aic_mask: list[int] = []
        self.tr_aiv_mask: list[int] = []
        for t in range(T):
            owned = [ci for ci in range(self.clusters) if ci % T == t]
            cores: list[int] = []
            am = vm = 0
            for k, ci in enumerate(owned):
                trio = (ci, self.clusters + 2 * ci, self.clusters + 2 * ci + 1)
                cores.extend(trio)
                am |= 1 << (3 * k)
                vm |= (1 << (3 * k + 1)) | (1 << (3 * k + 2))
                for core in trio:
                    self.owner_of_core[core] = t
            self.tr_cores.append(tuple(cores))
            self.tr_aic_mask.append(am)
            self.tr_aiv_mask.append(vm)
        self.T_STATES = arr("tracker.core_states_", T, 0, [f"sched{t}.tracker.core_states_" for t in range(T)])
        self.T_PEND_OCC = arr(
            "tracker.pending_occupied_", T, 0, [f"sched{t}.tracker.pending_occupied_" for t in range(T)]
        )
        self.T_DEF_COUNT = arr(
            "deferred_release_count", T, 0, [f"sched{t}.deferred_release_count" for t in range(T)]
        )
        # The buffer holds completed, not yet released tasks: at most one entry per completion of a run
        # (not one per slot: a slot consumed and rebound while its entry is still deferred, the F-MODEL-R7
        # pattern, gets a second entry), so cells beyond the task count are never written (a push past
        # them would abort the run as a port limit).
        # One cell past the capacity: the dummy-task path of resolve_and_dispatch appends before it checks,
        # so a buffer the completion path filled to capacity gets an entry at index capacity (an out-of-
        # bounds store in the C++: port_checks' deferred_release_in_bounds reports it at that step).
        self.def_cells = min(self.defer_cap + 1, len(plan.tasks) + 1)
        self.T_DEF = tuple(
            arr(
                f"sched{t}.deferred_release",
                self.def_cells,
                0,
                [f"sched{t}.deferred_release[{i}]" for i in range(self.def_cells)],
            )
            for t in range(T)
        )
        # Footprint-only cells (never change): a step whose effect reads slot data or dep-list nodes at an
        # index it learns only while running declares the region cell; every writer of that data does too.
        self.RG_SLOT = arr("region.slot_binding_and_payload", 1)
        self.RG_NODES = arr("region.dep_list_nodes", 1)

        # ---- host (launch / reap / device reset) ----
        self.HOST_ROUND = arr("host.launched_rounds", 1)
        self.HOST_RESET = arr("host.device_reset", 1)
        self.HOST_AICPU_EXITED = arr("host.aicpu_threads_returned", 1)
        self.HOST_AICORE_EXITED = arr("host.aicore_kernels_returned", 1)
        self.HOST_DONE = arr("host.done", 1)

        self.queues = tuple(
            ReadyQueue(Q_NAMES[q], self.queue_cap, self.c, self.Q_ENQ + q, self.Q_DEQ + q) for q in range(4)
        )
        self._drain_layout(arr)  # the sync_start drain's cells and ready_sync_queues (runtime/trb/sync_drain.py)
        self.tmap = TensorMap(
            consts.tensormap_pool_size, self.windows, cleanup_whole_chain="M_CLEANUP_WHOLE_SLOT_CHAIN" in mu
        )
        self.crash: str | None = None  # an always_assert that fired (the C++ process would abort)

        # ---- ghost state (history for checking; not in the fingerprint) ----
        self.round = 0  # index of the run the host launched last (0-based)
        self.events: list[tuple[str, int, int, int]] = []  # (kind, run, task index, extra)
        n_t = len(plan.tasks)
        self.ghost_completed = [[0] * n_t for _ in range(self.runs)]
        self.ghost_consumed = [[0] * n_t for _ in range(self.runs)]
        self.ghost_kernels = [[0] * n_t for _ in range(self.runs)]
        self.ghost_submitted = [[0] * n_t for _ in range(self.runs)]
        self.ghost_token: dict[tuple[int, int], tuple[int, int, int]] = {}  # (core, token) -> run, task, block
        self.ghost_deferred: dict[tuple[int, int], int] = {}  # (thread, deferred index) -> task at deferral
        self.ghost_submitting = -1  # the task the orchestrator is submitting (for "retain-wired" events)

        self._build_footprint_sets()
        self._build_ops()
        self._drain_build_ops()
        self._build_exec_ops()
        self.OP_STARTUP = StartupOps(self)  # startup abort paths (Config.init_failure)

    def _drain_layout(self, arr: Callable[..., int]) -> None:
        """Hook: runtime/trb/sync_drain.py allocates the drain's cells (after every other cell)."""

    def _drain_build_ops(self) -> None:
        """Hook: runtime/trb/sync_drain.py builds the drain's ops."""

    def _new_memory(self) -> Memory:
        """The shared memory (a hook: the footprint audit substitutes a memory that records accesses)."""
        return Memory()

    # ------------------------------------------------------------------ names and encodings

    def core_name(self, core: int) -> str:
        n = self.clusters
        if core < n:
            return f"c{core}.AIC"
        k = core - n
        return f"c{k // 2}.AIV{k % 2}"

    def slot_of(self, ring: int, local: int) -> int:
        """Global slot id of task (ring, local): get_slot_state_by_task_id."""
        return self.slot_base[ring] + (local & self.masks[ring])

    def slot_label(self, g: int) -> str:
        s = self.slot_idx[g]
        return "phantom" if s < 0 else f"r{self.slot_ring[g]}s{s}"

    def task_of_slot(self, g: int) -> int:
        """The program task the slot's descriptor names (-1 for none / a zero-filled descriptor)."""
        if g < 0 or g >= self.n_slots:
            return -1
        c = self.c
        if not c[self.S_BOUND + g]:
            return -1
        return self.plan.task_at.get((c[self.D_RING + g], c[self.D_LOCAL + g]), -1)

    @staticmethod
    def pack_edge(g: int, flags: int) -> int:
        return ((g + 1) << 2) | flags

    def read_edge(self, g: int, i: int) -> tuple[int, int]:
        """(producer slot, flags) of fanin edge i of slot g, inline or spilled (for_each_fanin_storage)."""
        c = self.c
        if i < self.inline_cap:
            v = c[self.E_BASE + g * self.IC + i]
        else:
            pool = c[self.P_SPILL_POOL + g] - 1
            cap = self.dep_cap[pool]
            start = c[self.P_SPILL_START + g] % cap
            k = i - self.inline_cap
            first = cap - start
            phys = start + k if k < first else k - first
            v = c[self.SPILL[pool] + (phys % self.sp_cells[pool])]
        return (v >> 2) - 1, v & 3

    # ------------------------------------------------------------------ op construction

    def _op(
        self,
        kind: OpKind,
        what: str,
        cite: Cite,
        reads: Iterable[int] = (),
        writes: Iterable[int] = (),
        order: Order = Order.RELAXED,
        guard: Callable[[], bool] | None = None,
        backstop: str | None = None,
    ) -> Op:
        return Op(kind, what, cite, _canonical(tuple(reads)), _canonical(tuple(writes)), order, guard, backstop)

    def _build_exec_ops(self) -> None:
        """Per-executor op views (`self.ops[e]`: scheduler threads 0..n_sched-1, the orchestrator n_sched).

        A step's effect runs from its `yield` to the next one, so it includes the thread's own bookkeeping
        (a scheduler's core records, tracker words and deferred-release buffer) and reads of slot data or
        dep-list nodes whose index it learns while running. A scheduler thread announces every op with those
        cells added to the footprint (its own private cells as writes, the region cells as reads), so the
        footprints cover everything a step touches without making two scheduler threads' steps dependent
        through each other's private cells.
        """
        self.sched_priv: list[tuple[int, ...]] = []
        for t in range(self.n_sched):
            cells: list[int] = [self.T_STATES + t, self.T_PEND_OCC + t, self.T_DEF_COUNT + t]
            cells.extend(range(self.T_DEF[t], self.T_DEF[t] + self.def_cells))
            for k in self.tr_cores[t]:
                for base in (self.C_RUN_SLOT, self.C_PEND_SLOT, self.C_RUN_REG, self.C_PEND_REG, self.C_SEQ,
                             self.C_RUN_SUB, self.C_PEND_SUB):
                    cells.append(base + k)
            self.sched_priv.append(tuple(cells))
        regions = (self.RG_SLOT, self.RG_NODES)
        self.ops: list[ExecOps] = [ExecOps(self, regions, self.sched_priv[t]) for t in range(self.n_sched)]
        self.ops.append(ExecOps(self, (), ()))

    def _build_footprint_sets(self) -> None:
        """Cell sets several ops' footprints share."""
        R = range(K.NUM_RINGS)
        # alloc: update_heap_tail + try_bump_heap
        self.alloc_cells = tuple((self.AL_SEEN + r, self.AL_ANCHOR + r, self.AL_TAIL + r, self.AL_TOP + r) for r in R)
        # dep_pool.ensure_space: reclaim, then wire_fanin_task's fanin_count store (the consumer is in ring r)
        self.dep_wait_cells = tuple(
            (self.DP_TAIL + r, self.DP_LAST + r)
            + tuple(self.S_FCOUNT + self.slot_base[r] + s for s in range(self.plan.nslots[r]))
            for r in R
        )
        # fanin_pool.ensure_space: reclaim, then the spill allocation (the spilled edge's cell is added per call)
        self.fanin_wait_cells = tuple(
            (self.FP_TAIL + r, self.FP_CURSOR + r, self.FP_TOP + r, self.FP_HIGH + r, self.H_ORCH_ERR, self.RG_SLOT)
            for r in R
        )
        n = self.n_cores
        self.exec_cells_all = tuple(
            base + k
            for base in (self.C_RUN_SLOT, self.C_PEND_SLOT, self.C_RUN_REG, self.C_PEND_REG, self.C_SEQ,
                         self.C_RUN_SUB, self.C_PEND_SUB, self.C_REG)
            for k in range(n)
        )
        self.watchdog_reads = tuple(self.C_RUN_SLOT + k for k in range(n)) + (
            self.X_TOTAL_TASKS, self.X_COMPLETED_TASKS)

    def spill_cell(self, r: int, idx: int) -> int:
        """The memory cell of fanin_pool[r] entry `idx` (a monotonic index)."""
        return self.SPILL[r] + (idx % self.dep_cap[r]) % self.sp_cells[r]

    def register_op(self, g: int, n_edges: int) -> Op:
        """STEP 4-5 for a task with `n_edges` fanin edges: TensorMap registration (private), descriptor and
        payload stores. Built once per (slot, edge count)."""
        key = (g, n_edges)
        op = self._register_ops.get(key)
        if op is None:
            writes = (
                self.D_RING + g, self.D_LOCAL + g, self.D_BASE + g, self.D_END + g, self.P_FANIN + g,
                self.P_SPILL_START + g, self.P_SPILL_POOL + g, self.RG_SLOT,
            ) + tuple(self.E_BASE + g * self.IC + i for i in range(min(n_edges, self.inline_cap)))
            op = Op(OpKind.STORE, f"STEP 4-5 ({self.slot_label(g)}): register outputs, write descriptor and payload",
                    C.SUBMIT_COMMON, (), _canonical(writes), Order.PLAIN)
            self._register_ops[key] = op
        return op

    def scan_op(self, r: int, la: int, cur: int, locked: bool) -> Op:
        """advance_ring_pointers' scan over [la, cur): reads task_state, resets the CONSUMED prefix (and with
        the lock held publishes last_task_alive). Built once per (ring, first slot, length)."""
        w = self.windows[r]
        n = max(0, min(cur - la, w))
        key = (r, la & self.masks[r], n, locked)
        op = self._scan_ops.get(key)
        if op is None:
            slots = [self.slot_base[r] + ((la + i) & self.masks[r]) for i in range(n)]
            reads = tuple(self.S_STATE + g for g in slots)
            writes = tuple(x for g in slots for x in self._slot_reset(g))
            if locked:
                op = Op(OpKind.STORE, f"advance_ring_pointers r{r}: scan CONSUMED prefix, reset slots, sync_to_sm",
                        C.ADVANCE_RING, _canonical(reads + (self.R_SLA + r,)),
                        _canonical(writes + (self.R_SLA + r, self.R_LA + r)), Order.RELEASE)
            else:
                op = Op(OpKind.LOAD, f"advance_ring_pointers r{r} (no lock): scan CONSUMED prefix, reset slots",
                        C.ADVANCE_RING, _canonical(reads), _canonical(writes), Order.ACQUIRE)
            self._scan_ops[key] = op
        return op

    def _slot_reset(self, g: int) -> tuple[int, ...]:
        """The cells reset_for_reuse writes."""
        return (self.S_LOCK + g, self.S_FC + g, self.S_HEAD + g, self.S_FRC + g, self.S_RC + g, self.S_DONE + g,
                self.S_NEXT + g, self.S_FLAGS + g)

    def wire_op(self, p: int, r: int) -> Op:
        """wire_fanin_task's step under L(p) for a consumer in ring r: the dep node it would prepend is the
        one at dep_pool[r].top (only the orchestrator moves top, so it is known when the op is announced)."""
        top = self.c[self.DP_TOP + r]
        node = self.node_base[r] + ((top % self.dep_cap[r]) % self.dp_cells[r])
        return Op(OpKind.LOCKED, f"wire_fanin_task L({self.slot_label(p)}): state>=COMPLETED? else prepend dep node",
                  C.WIRE_FANIN, _canonical((self.S_STATE + p, self.S_HEAD + p, self.S_LOCK + p)),
                  _canonical((self.S_HEAD + p, self.N_CONS + node, self.N_NEXT + node, self.DP_TOP + r,
                              self.DP_HIGH + r, self.H_ORCH_ERR, self.RG_NODES)), Order.ACQUIRE)

    def claim_op(self, base: Op, ring: int, spill_cells: tuple[int, ...]) -> Op:
        """An append_fanin_or_fail step whose effect may also spill the edge into fanin_pool[ring]."""
        extra = self.fanin_wait_cells[ring] + spill_cells
        return replace(base, writes=_canonical(base.writes + tuple(x for x in extra if x not in base.writes)))

    def aug(self, op: Op, e: int) -> Op:
        """`op` as executor `e` announces it (for ops built while running)."""
        return self.ops[e].augment(op)

    def _desc(self, g: int) -> tuple[int, ...]:
        """The cells task_of_slot(g) reads (ghost attribution of an event to a task)."""
        return (self.S_BOUND + g, self.D_RING + g, self.D_LOCAL + g)

    def _slot_all(self, g: int) -> tuple[int, ...]:
        return tuple(getattr(self, a) + g for a in ("S_STATE", "S_FC", "S_HEAD", "S_FRC", "S_RC", "S_FLAGS", "S_NEXT", "S_DONE", "S_LOCK"))

    def _ring_slots(self, r: int) -> tuple[int, ...]:
        out: list[int] = []
        for s in range(self.plan.nslots[r]):
            out.extend(self._slot_all(self.slot_base[r] + s))
        return tuple(out)

    def _build_ops(self) -> None:
        o = self._op
        c = self.c
        G = len(self.slot_ring)
        L = [self.slot_label(g) for g in range(G)]
        err = self.H_ORCH_ERR
        no_poll = self.m_no_fatal_poll
        S_STATE, S_FC, S_RC, S_FRC, S_FLAGS = self.S_STATE, self.S_FC, self.S_RC, self.S_FRC, self.S_FLAGS
        all_queue_cells = tuple(range(self.Q_ENQ, self.Q_ENQ + 4)) + tuple(range(self.Q_DEQ, self.Q_DEQ + 4))

        # ---- per slot ----
        self.OP_CHC = [
            o(
                OpKind.LOCKED,
                f"check_and_handle_consumed L({L[g]}): rc==fc -> CAS COMPLETED->CONSUMED",
                C.CHECK_CONSUMED,
                (S_RC + g, S_FC + g, S_STATE + g, self.S_LOCK + g, self.S_RING + g, *self._desc(g)),
                (S_STATE + g,),
                Order.ACQ_REL,
            )
            for g in range(G)
        ]
        self.OP_REL = [
            o(OpKind.FETCH_ADD, f"release_producer({L[g]}): fanout_refcount += 1", C.RELEASE_PRODUCER,
              (S_RC + g,), (S_RC + g,), Order.ACQ_REL)
            for g in range(G)
        ]
        self.OP_REL_SCOPE = [
            o(OpKind.FETCH_ADD, f"release_producer_scope({L[g]}): fanout_refcount += SCOPE_BIT", C.RELEASE_SCOPE,
              (S_RC + g,), (S_RC + g,), Order.ACQ_REL)
            for g in range(G)
        ]
        self.OP_OTC = [
            o(OpKind.LOCKED, f"on_task_complete L({L[g]}): task_state=COMPLETED, snapshot fanout_head",
              C.ON_TASK_COMPLETE, (self.S_HEAD + g, self.S_LOCK + g, self.RG_NODES, *self._desc(g)),
              (S_STATE + g, S_FLAGS + g), Order.RELEASE)
            for g in range(G)
        ]
        self.OP_FRC = [
            o(OpKind.FETCH_ADD, f"release_fanin_and_check_ready({L[g]}): fanin_refcount += 1", C.RELEASE_FANIN,
              (S_FRC + g, self.S_FCOUNT + g, self.RG_NODES), (S_FRC + g,), Order.ACQ_REL)
            for g in range(G)
        ]
        self.OP_ROUTE = [
            o(OpKind.CAS, f"route_ready_once({L[g]}): CAS READY_CLAIMED, push ready queue", C.ROUTE_READY_ONCE,
              (S_FLAGS + g, self.S_MASK + g, *all_queue_cells, *self._desc(g)), (S_FLAGS + g, *all_queue_cells),
              Order.ACQ_REL)
            for g in range(G)
        ]
        self.OP_CLAIM = [
            o(OpKind.LOCKED, f"append_fanin_or_fail L({L[g]}): generation+CONSUMED check, fanout_count++",
              C.APPEND_FANIN, (S_STATE + g, self.D_LOCAL + g, self.S_BOUND + g, S_FC + g, self.S_LOCK + g),
              (S_FC + g,), Order.ACQUIRE)
            for g in range(G)
        ]
        self.OP_CLAIM_CHECK = [
            o(OpKind.LOCKED, f"append_fanin_or_fail L({L[g]}): generation+CONSUMED check (claim deferred)",
              C.APPEND_FANIN, (S_STATE + g, self.D_LOCAL + g, self.S_BOUND + g, self.S_LOCK + g), (),
              Order.ACQUIRE)
            for g in range(G)
        ]
        self.OP_CLAIM_FC = [
            o(OpKind.STORE, f"append_fanin_or_fail({L[g]}): fanout_count++ outside L(P)", C.APPEND_FANIN,
              (S_FC + g,), (S_FC + g,), Order.PLAIN)
            for g in range(G)
        ]
        self.OP_SUB = [
            o(OpKind.FETCH_ADD, f"on_subtask_complete({L[g]}): completed_subtasks += 1", C.ON_SUBTASK_COMPLETE,
              (self.S_DONE + g, self.S_TOTAL + g), (self.S_DONE + g,), Order.ACQ_REL)
            for g in range(G)
        ]
        self.OP_CLAIM_BLOCKS = [
            o(OpKind.CAS, f"claim_block_range({L[g]}): CAS next_block_idx", C.CLAIM_BLOCK_RANGE,
              (self.S_NEXT + g, self.S_BLOCKS + g, self.S_MASK + g, *self._desc(g)), (self.S_NEXT + g,),
              Order.SEQ_CST)
            for g in range(G)
        ]
        self.OP_PREPARE = [
            o(OpKind.STORE, f"prepare_task({L[g]}): reset_for_reuse, task_state=PENDING", C.PREPARE_TASK,
              (), self._slot_all(g) + (self.S_FCOUNT + g, self.S_BOUND + g, self.S_MASK + g, self.S_TOTAL + g,
                                       self.S_BLOCKS + g, self.S_RING + g, self.RG_SLOT), Order.RELAXED)
            for g in range(G)
        ]
        self._register_ops: dict[tuple[int, int], Op] = {}
        self._scan_ops: dict[tuple[int, int, int, bool], Op] = {}
        self.OP_ALL_DONE = [
            o(OpKind.LOAD, f"all_claimed_fanin_completed({L[g]}): producers' task_state", C.ALL_COMPLETED,
              tuple(S_STATE + p for p in range(self.n_slots)), (self.S_FCOUNT + g, S_FRC + g), Order.ACQUIRE)
            for g in range(G)
        ]
        self.OP_PUBLISH_A = [
            o(OpKind.PUSH, f"STEP 6 ({L[g]}): no fanin: fanin_count=1, fanin_refcount=1, push_ready_routed",
              C.PUSH_READY_ROUTED, (self.S_MASK + g, *all_queue_cells),
              (self.S_FCOUNT + g, S_FRC + g, *all_queue_cells), Order.RELEASE)
            for g in range(G)
        ]
        self.OP_PUBLISH_B = [
            o(OpKind.PUSH, f"STEP 6 ({L[g]}): fanin complete: push_ready_routed", C.PUSH_READY_ROUTED,
              (self.S_MASK + g, *all_queue_cells), all_queue_cells, Order.RELEASE)
            for g in range(G)
        ]
        self.OP_WIRE_RC = [
            o(OpKind.FETCH_ADD, f"wire_fanin_task({L[g]}): fanin_refcount += completed+1", C.WIRE_FANIN,
              (S_FRC + g, self.S_FCOUNT + g), (S_FRC + g,), Order.ACQ_REL)
            for g in range(G)
        ]
        # M_FANIN_SB_WEAK (catalogue H01): the publication before eede5613f, a store then a load of another cell
        self.OP_SB_FANIN_STORE = [
            o(OpKind.STORE, f"wire_fanin_task({L[g]}): fanin_count = live links, after linking (pre-eede5613f)",
              C.WIRE_FANIN, (), (self.S_FCOUNT + g,), Order.RELEASE)
            for g in range(G)
        ]
        self.OP_SB_REFCOUNT_LOAD = [
            o(OpKind.LOAD, f"wire_fanin_task({L[g]}): load fanin_refcount: every live producer done? (pre-eede5613f)",
              C.WIRE_FANIN, (S_FRC + g, self.S_FCOUNT + g), (), Order.ACQUIRE)
            for g in range(G)
        ]
        self.OP_MARK_COMPLETED = [
            o(OpKind.STORE, f"alloc_tensors({L[g]}): mark_completed", C.MARK_COMPLETED, (),
              (S_STATE + g, S_FLAGS + g, self.D_RING + g, self.D_LOCAL + g, self.D_BASE + g, self.D_END + g,
               self.P_FANIN + g, self.P_SPILL_START + g, self.P_SPILL_POOL + g, self.RG_SLOT), Order.RELEASE)
            for g in range(G)
        ]

        def tw_prod_guard(g: int) -> Callable[[], bool]:
            if no_poll:
                return lambda: c[S_STATE + g] >= K.COMPLETED
            return lambda: c[S_STATE + g] >= K.COMPLETED or c[err] != 0

        def tw_cons_guard(g: int) -> Callable[[], bool]:
            if no_poll:
                return lambda: (c[S_RC + g] & K.LOW_MASK) >= (c[S_FC + g] & K.LOW_MASK)
            return lambda: (c[S_RC + g] & K.LOW_MASK) >= (c[S_FC + g] & K.LOW_MASK) or c[err] != 0

        self.OP_TW_PROD = [
            o(OpKind.LOAD, f"wait_for_tensor_ready: {L[g]}.task_state >= COMPLETED", C.WAIT_TENSOR_READY,
              (S_STATE + g, err), (), Order.ACQUIRE, tw_prod_guard(g), "tensor-data wait limit (15 s)")
            for g in range(G)
        ]
        self.OP_TW_CONS = [
            o(OpKind.LOAD, f"wait_for_tensor_ready: {L[g]} consumers released", C.WAIT_TENSOR_READY,
              (S_RC + g, S_FC + g, err), (), Order.ACQUIRE, tw_cons_guard(g), "tensor-data wait limit (15 s)")
            for g in range(G)
        ]

        # ---- per ring ----
        R = range(K.NUM_RINGS)
        self.OP_ADV_TRY = [
            o(OpKind.TRY_LOCK, f"check_and_handle_consumed: try advance_lock[r{r}]", C.CHECK_CONSUMED,
              (self.R_ALOCK + r,), (self.R_ALOCK + r,), Order.ACQUIRE)
            for r in R
        ]
        self.OP_ADV_CUR = [
            o(OpKind.LOAD, f"advance_ring_pointers r{r}: load current_task_index", C.ADVANCE_RING,
              (self.R_CUR + r, self.R_SLA + r), (), Order.ACQUIRE)
            for r in R
        ]
        self.OP_ADV_UNLOCK = [
            o(OpKind.UNLOCK, f"advance_lock[r{r}] = 0", C.CHECK_CONSUMED, (self.R_SLA + r,), (self.R_ALOCK + r,),
              Order.RELEASE)
            for r in R
        ]
        self.OP_MARK_PENDING = [
            o(OpKind.FETCH_ADD, f"mark_ring_advance_pending(r{r}): advance_pending_mask |= bit", C.MARK_PENDING,
              (self.H_ADV_PENDING,), (self.H_ADV_PENDING,), Order.RELEASE)
            for r in R
        ]
        self.OP_DRAIN_TRY = [
            o(OpKind.TRY_LOCK, f"drain_pending_ring_advances: try advance_lock[r{r}]", C.DRAIN_PENDING,
              (self.R_ALOCK + r,), (self.R_ALOCK + r,), Order.ACQUIRE)
            for r in R
        ]
        self.OP_DRAIN_CLEAR = [
            o(OpKind.FETCH_ADD, f"drain_pending_ring_advances: advance_pending_mask &= ~bit(r{r})",
              C.DRAIN_PENDING, (self.H_ADV_PENDING, self.R_SLA + r), (self.H_ADV_PENDING,), Order.ACQ_REL)
            for r in R
        ]
        self.OP_ADVNL_READ = [
            o(OpKind.LOAD, f"advance_ring_pointers r{r} (no lock): read last_task_alive, current_task_index",
              C.ADVANCE_RING, (self.R_SLA + r, self.R_CUR + r), (), Order.ACQUIRE)
            for r in R
        ]
        self.OP_ADVNL_WRITE = [
            o(OpKind.STORE, f"advance_ring_pointers r{r} (no lock): write last_task_alive, sync_to_sm",
              C.SYNC_TO_SM, (), (self.R_SLA + r, self.R_LA + r), Order.RELEASE)
            for r in R
        ]
        self.OP_ALLOC_LA = [
            o(OpKind.LOAD, f"alloc r{r}: load last_task_alive, update_heap_tail, check window+heap", C.ALLOC,
              (self.R_LA + r,), self.alloc_cells[r], Order.ACQUIRE)
            for r in R
        ]
        self.OP_ALLOC_COMMIT = [
            o(OpKind.STORE, f"commit_task r{r}: current_task_index = local_task_id", C.COMMIT_TASK, (),
              (self.R_CUR + r, self.AL_LOCAL + r), Order.RELEASE)
            for r in R
        ]
        self.OP_REPORT_DEADLOCK = [
            o(OpKind.STORE, f"report_deadlock r{r}: orch_error_code = 2|3 (plain store)", C.REPORT_DEADLOCK, (),
              (err,), Order.RELEASE)
            for r in R
        ]
        self.OP_SYNC_LA = [
            o(OpKind.LOAD, f"STEP 2 r{r}: load last_task_alive, sync_tensormap", C.SYNC_TENSORMAP,
              (self.R_LA + r,), (), Order.ACQUIRE)
            for r in R
        ]
        self.OP_DEP_LA = [
            o(OpKind.LOAD, f"STEP 1: load last_task_alive of explicit dep ring r{r}", C.SUBMIT_COMMON,
              (self.R_LA + r,), (), Order.ACQUIRE)
            for r in R
        ]
        self.OP_DP_LA = [
            o(OpKind.LOAD, f"dep_pool[r{r}].ensure_space: load last_task_alive", C.DEP_POOL_ENSURE,
              (self.R_LA + r,), self.dep_wait_cells[r], Order.ACQUIRE)
            for r in R
        ]
        self.OP_FP_LA = [
            o(OpKind.LOAD, f"fanin_pool[r{r}].ensure_space: load last_task_alive", C.FANIN_POOL_ENSURE,
              (self.R_LA + r,), self.fanin_wait_cells[r], Order.ACQUIRE)
            for r in R
        ]

        # ---- orchestrator singletons ----
        self.OP_BEGIN_SCOPE = o(OpKind.LOCAL, "begin_scope", C.BEGIN_SCOPE, (), (), Order.PLAIN)
        self.OP_END_SCOPE = o(OpKind.LOCAL, "end_scope: pop frame", C.END_SCOPE, (), (), Order.PLAIN)
        self.OP_REPORT_FATAL = o(OpKind.CAS, "orch_mark_fatal: CAS orch_error_code from NONE", C.ORCH_MARK_FATAL,
                                 (err,), (err,), Order.ACQ_REL)
        self.OP_POOL_LATCH = o(OpKind.CAS, "latch_pool_error: CAS orch_error_code = DEP_POOL_OVERFLOW",
                               C.DEP_POOL_ENSURE, (err,), (err,), Order.ACQ_REL)
        self.OP_FANIN_LATCH = o(OpKind.CAS, "latch_pool_error: CAS orch_error_code = DEP_POOL_OVERFLOW",
                                C.FANIN_POOL_ENSURE, (err,), (err,), Order.ACQ_REL)
        self.OP_TMAP_LA = o(OpKind.LOAD, "ensure_tensormap_capacity: read every ring's last_task_alive, reclaim",
                            C.ENSURE_TMAP, tuple(self.R_LA + r for r in R), (), Order.RELAXED)
        self.OP_TOTAL = o(OpKind.LOAD, "AicpuExecutor::run: total = sum current_task_index", C.EXEC_RUN,
                          tuple(self.R_CUR + r for r in R), (), Order.ACQUIRE)
        self.OP_MARK_DONE = o(OpKind.STORE, "mark_done: orchestrator_done = 1", C.MARK_DONE, (),
                              (self.H_ORCH_DONE,), Order.RELEASE)
        self.OP_SET_TOTAL = o(OpKind.STORE, "on_orchestration_done: total_tasks_ = total", C.ON_ORCH_DONE, (),
                              (self.X_TOTAL_TASKS,), Order.PLAIN)
        self.OP_FOLD_INLINE = o(OpKind.FETCH_ADD, "on_orchestration_done: completed_tasks_ += inline_completed",
                                C.ON_ORCH_DONE, (self.X_COMPLETED_TASKS,), (self.X_COMPLETED_TASKS,), Order.RELAXED)
        self.OP_ORCH_DONE_CTX = o(OpKind.STORE, "on_orchestration_done: orchestrator_done_ = true", C.ON_ORCH_DONE,
                                  (), (self.X_ORCH_DONE,), Order.RELEASE)
        self.OP_LOAD_ERR = o(OpKind.LOAD, "on_orchestration_done: load orch_error_code", C.ON_ORCH_DONE, (err,), (),
                             Order.RELAXED)
        sm_reset_cells = (
            tuple(self.R_CUR + r for r in R) + tuple(self.R_LA + r for r in R) + tuple(self.R_SLA + r for r in R)
            + tuple(self.R_ALOCK + r for r in R) + (self.H_ORCH_DONE, err, self.H_SCHED_ERR, self.H_ADV_PENDING)
            + (self.H_SCHED_ERR_THREAD, self.H_SCHED_ERR_BITMAP, self.H_STALL_DETAIL)
            + tuple(base + r for base in (self.DP_TOP, self.DP_TAIL, self.DP_HIGH, self.DP_LAST, self.FP_TOP,
                                          self.FP_TAIL, self.FP_HIGH, self.FP_CURSOR, self.AL_LOCAL, self.AL_TOP,
                                          self.AL_TAIL, self.AL_SEEN, self.AL_ANCHOR) for r in R)
        )
        self.OP_SM_RESET = o(OpKind.STORE, "run: init_per_ring (fc, errors) + runtime_reset_for_reuse",
                             C.INIT_PER_RING, (), sm_reset_cells, Order.RELAXED)
        self.OP_INIT_READY = o(OpKind.STORE, "run: bind_runtime; runtime_init_ready_ = true", C.EXEC_RUN, (),
                               (self.E_INIT_READY, self.E_RT), Order.RELEASE)
        hs = self.E_HS_SETUP
        self.OP_WAIT_HS = o(OpKind.LOAD, "init: wait hs_setup_done_", C.EXEC_INIT, (hs,), (), Order.ACQUIRE,
                            lambda: c[hs] != 0)
        self.OP_PRE_HS = o(OpKind.STORE, "init (leader): pre_handshake_init; hs_setup_done_ = true",
                           C.PRE_HANDSHAKE, tuple(self.R_CUR + r for r in R),
                           (hs, self.X_COMPLETED_TASKS, self.X_ORCH_DONE, self.X_TOTAL_TASKS, *self.exec_cells_all),
                           Order.RELEASE)

        # ---- scheduler threads ----
        T = range(self.n_sched)
        self.OP_TOP = [
            o(OpKind.LOAD, f"resolve_and_dispatch[{t}]: load completed_", C.RESOLVE_AND_DISPATCH,
              (self.X_COMPLETED,), (), Order.ACQUIRE)
            for t in T
        ]
        self.OP_ORCH_EXIT = [
            o(OpKind.LOAD, f"handle_orchestrator_exit[{t}]: completed_, errors, orchestrator_done_, counts",
              C.HANDLE_ORCH_EXIT, (self.X_COMPLETED, err, self.H_SCHED_ERR, self.X_ORCH_DONE, self.X_TOTAL_TASKS,
                                   self.X_COMPLETED_TASKS), (), Order.ACQUIRE)
            for t in T
        ]
        self.OP_SET_COMPLETED = [
            o(OpKind.STORE, f"handle_orchestrator_exit[{t}]: completed_ = true", C.HANDLE_ORCH_EXIT, (),
              (self.X_COMPLETED,), Order.RELEASE)
            for t in T
        ]
        self.OP_ADD_COMPLETED = [
            o(OpKind.FETCH_ADD, f"resolve_and_dispatch[{t}]: completed_tasks_ += completed_this_turn",
              C.RESOLVE_AND_DISPATCH, (self.X_COMPLETED_TASKS,), (self.X_COMPLETED_TASKS,), Order.RELAXED)
            for t in T
        ]
        self.OP_ADD_ONE = [
            o(OpKind.FETCH_ADD, f"resolve_and_dispatch[{t}]: completed_tasks_ += 1 (dummy)", C.RESOLVE_AND_DISPATCH,
              (self.X_COMPLETED_TASKS,), (self.X_COMPLETED_TASKS,), Order.RELAXED)
            for t in T
        ]
        dq = 3
        self.OP_DUMMY_POP = [
            o(OpKind.POP, f"resolve_and_dispatch[{t}]: dummy_ready_queue.pop_batch", C.QUEUE_POP_BATCH,
              (self.Q_ENQ + dq, self.Q_DEQ + dq), (self.Q_DEQ + dq,), Order.ACQUIRE)
            for t in T
        ]
        phase_names = ("IDLE", "PENDING")
        self.OP_POP = [
            [
                [
                    o(OpKind.POP,
                      f"dispatch_shape[{t}] {K.SHAPE_NAMES[s]}/{phase_names[p]}: pop_batch", C.DISPATCH_SHAPE,
                      (self.Q_ENQ + s, self.Q_DEQ + s), (self.Q_DEQ + s,), Order.ACQUIRE)
                    for p in range(2)
                ]
                for s in range(3)
            ]
            for t in T
        ]
        self.OP_GATE = [
            [
                o(OpKind.LOAD, f"run_staging_order[{t}]: has_idle_in_other_threads({K.SHAPE_NAMES[s]})",
                  C.HAS_IDLE_OTHERS, tuple(self.T_STATES + p for p in T) + tuple(self.T_PEND_OCC + p for p in T), (),
                  Order.RELAXED)
                for s in range(3)
            ]
            for t in T
        ]
        self.OP_RESIDUAL = [
            o(OpKind.LOAD, f"run_staging_order[{t}]: has_residual_mix (MIX queue size)", C.RUN_STAGING_ORDER,
              (self.Q_ENQ + 2, self.Q_DEQ + 2), (), Order.RELAXED)
            for t in T
        ]
        self.OP_REPUSH = [
            o(OpKind.PUSH, f"dispatch_shape: re-push to {Q_NAMES[s]}", C.DISPATCH_SHAPE,
              (self.Q_ENQ + s, self.Q_DEQ + s), (self.Q_ENQ + s,), Order.RELEASE)
            for s in range(3)
        ]
        self.OP_DRAIN_LOAD = [
            o(OpKind.LOAD, f"drain_pending_ring_advances[{t}]: load advance_pending_mask", C.DRAIN_PENDING,
              (self.H_ADV_PENDING,), (), Order.ACQUIRE)
            for t in T
        ]
        self.OP_IDLE_FATAL = [
            o(OpKind.LOAD, f"check_idle_fatal_error[{t}]: completed_, orch_error_code, sched_error_code",
              C.CHECK_IDLE_FATAL, (self.X_COMPLETED, err, self.H_SCHED_ERR), (), Order.ACQUIRE)
            for t in T
        ]
        stall_reads = (  # classify_stall_reason
            (self.H_SCHED_ERR, self.X_ORCH_DONE)
            + tuple(self.R_LA + r for r in R) + tuple(self.R_CUR + r for r in R)
            + tuple(base + g for base in (S_STATE, S_FRC, self.S_FCOUNT) for g in range(self.n_slots))
            + tuple(self.C_RUN_SLOT + k for k in range(self.n_cores))
        )
        self.OP_LATCH_TIMEOUT = [
            o(OpKind.CAS, f"handle_timeout_exit[{t}]: CAS sched_error_code = SCHEDULER_TIMEOUT", C.HANDLE_TIMEOUT,
              stall_reads, (self.H_SCHED_ERR, self.H_SCHED_ERR_THREAD, self.H_SCHED_ERR_BITMAP,
                            self.H_STALL_DETAIL), Order.ACQ_REL)
            for t in T
        ]
        self.OP_RUN_COMPLETED = [
            o(OpKind.LOAD, f"run[{t}]: is_completed()", C.EXEC_RUN, (self.X_COMPLETED,), (), Order.ACQUIRE)
            for t in T
        ]
        ir = self.E_INIT_READY
        self.OP_WAIT_INIT = [
            o(OpKind.LOAD, f"run[{t}]: wait runtime_init_ready_, read rt", C.EXEC_RUN, (ir, self.E_RT), (),
              Order.ACQUIRE, lambda: c[ir] != 0)
            for t in T
        ]
        self.OP_READ_RT = [
            o(OpKind.LOAD, f"run[{t}]: read rt (no runtime_init_ready_ wait)", C.EXEC_RUN, (self.E_RT,), (),
              Order.PLAIN)
            for t in T
        ]
        od, xc = self.X_ORCH_DONE, self.X_COMPLETED
        self.OP_SERIAL_WAIT = [
            o(OpKind.LOAD, f"wait_for_orchestration_done_before_dispatch[{t}]", C.WAIT_ORCH_DONE,
              (od, xc, err, self.H_SCHED_ERR), (), Order.ACQUIRE,
              lambda: c[od] != 0 or c[xc] != 0 or c[err] != 0 or c[self.H_SCHED_ERR] != 0)
            for t in T
        ]
        self.OP_SHUT_LOAD = [
            o(OpKind.LOAD, f"shutdown[{t}]: load fatal_shutdown_started_", C.SHUTDOWN, (self.X_FATAL_STARTED,), (),
              Order.ACQUIRE)
            for t in range(self.n_aicpu)
        ]
        self.OP_EMERG_XCHG = [
            o(OpKind.EXCHANGE, "begin_emergency_shutdown: fatal_shutdown_started_.exchange(true)",
              C.EMERGENCY_SHUTDOWN, (self.X_FATAL_STARTED,), (self.X_FATAL_STARTED,), Order.ACQ_REL)
            for t in range(self.n_aicpu)
        ]
        self.OP_EMERG_COMPLETED = [
            o(OpKind.STORE, "begin_emergency_shutdown: completed_ = true", C.EMERGENCY_SHUTDOWN,
              (self.X_FATAL_STARTED, *(self.C_REG + k for k in range(self.n_cores))), (self.X_COMPLETED,),
              Order.RELEASE)
            for t in range(self.n_aicpu)
        ]
        self.OP_FINISHED = [
            o(OpKind.FETCH_ADD, f"run[{t}]: finished_count_ += 1 (last: finished_, destroy rt)", C.EXEC_RUN,
              (self.E_FINISHED_COUNT,), (self.E_FINISHED_COUNT, self.E_FINISHED, self.E_RT), Order.ACQ_REL)
            for t in range(self.n_aicpu)
        ]
        deinit_cells = (self.X_COMPLETED, self.X_COMPLETED_TASKS, self.X_TOTAL_TASKS, self.X_ORCH_DONE,
                        self.X_FATAL_STARTED, self.E_INIT_READY, self.E_HS_SETUP, self.E_FINISHED_COUNT,
                        self.E_FINISHED, self.HOST_AICPU_EXITED, self.E_RT, *self.exec_cells_all,
                        *(self.T_STATES + t for t in range(self.n_sched)),
                        *(self.T_PEND_OCC + t for t in range(self.n_sched)))
        self.OP_DEINIT_CHECK = [
            o(OpKind.LOAD, f"aicpu_execute[{t}]: finished_? -> AicpuExecutor::deinit; return", C.EXEC_DEINIT,
              (self.E_FINISHED,), deinit_cells, Order.ACQUIRE)
            for t in range(self.n_aicpu)
        ]

        # ---- cores ----
        CR = range(self.n_cores)
        self.OP_HS_CORE = [
            o(OpKind.LOAD, f"handshake_owned_clusters: wait {self.core_name(k)} aicore_done", C.HANDSHAKE_OWNED,
              (self.C_DONE + k, self.HOST_RESET), (), Order.ACQUIRE, self._guard_cell_nonzero(self.C_DONE + k))
            for k in CR
        ]
        self.OP_OPEN_WINDOW = [
            o(OpKind.STORE, f"platform_init_aicore_regs {self.core_name(k)}: DATA_MAIN_BASE = AICPU_IDLE",
              C.INIT_REGS, (), (self.C_DMB + k, self.C_REG + k), Order.RELEASE)
            for k in CR
        ]
        self.OP_POLL = [
            o(OpKind.LOAD, f"check_running_cores_for_completion: load {self.core_name(k)}.COND",
              C.CHECK_RUNNING, (self.C_COND + k,), (), Order.ACQUIRE)
            for k in CR
        ]
        self.OP_PUBLISH = [
            o(OpKind.STORE, f"publish_subtask_to_core: {self.core_name(k)}.DATA_MAIN_BASE = token",
              C.DISPATCH_SHAPE, (), (self.C_DMB + k,), Order.RELEASE)
            for k in CR
        ]
        self.OP_SIGNAL_EXIT = [
            o(OpKind.STORE, f"platform_signal_aicore_exit: {self.core_name(k)}.DATA_MAIN_BASE = EXIT",
              C.SIGNAL_EXIT, (), (self.C_DMB + k,), Order.RELEASE)
            for k in CR
        ]
        self.OP_FINISH_EXIT = [
            o(OpKind.LOAD, f"platform_finish_aicore_exit: wait {self.core_name(k)}.COND == EXITED, DMB = IDLE",
              C.FINISH_EXIT, (self.C_COND + k,), (self.C_DMB + k,), Order.ACQUIRE,
              self._guard_cell_eq(self.C_COND + k, K.AICORE_EXITED_VALUE), "AICore exit deadline")
            for k in CR
        ]
        self.OP_CORE_WINDOW = [
            o(OpKind.CORE, f"aicore_execute {self.core_name(k)}: wait window open, COND = IDLE", C.AICORE_EXECUTE,
              (self.C_DMB + k, self.HOST_RESET), (self.C_COND + k, self.C_LAST + k), Order.ACQUIRE,
              self._guard_window(k))
            for k in CR
        ]
        self.OP_CORE_POLL = [
            o(OpKind.CORE, f"aicore_execute {self.core_name(k)}: poll DATA_MAIN_BASE", C.AICORE_EXECUTE,
              (self.C_DMB + k, self.HOST_RESET, self.C_LAST + k), (), Order.ACQUIRE, self._guard_core_new(k))
            for k in CR
        ]
        self.OP_CORE_ACK = [
            o(OpKind.CORE, f"aicore_execute {self.core_name(k)}: COND = ACK(token)", C.AICORE_EXECUTE, (),
              (self.C_COND + k,), Order.RELEASE)
            for k in CR
        ]
        self.OP_CORE_FIN = [
            o(OpKind.CORE, f"aicore_execute {self.core_name(k)}: run kernel, COND = FIN(token)", C.AICORE_EXECUTE,
              (), (self.C_COND + k, self.C_LAST + k), Order.RELEASE)
            for k in CR
        ]
        self.OP_CORE_EXITED = [
            o(OpKind.CORE, f"aicore_execute {self.core_name(k)}: COND = EXITED, return", C.AICORE_EXECUTE, (),
              (self.C_COND + k, self.HOST_AICORE_EXITED), Order.RELEASE)
            for k in CR
        ]

        # ---- host launches and the per-run starts they gate ----
        hr, hreset = self.HOST_ROUND, self.HOST_RESET
        runs = range(self.runs)

        def launched(run: int) -> Callable[[], bool]:
            return lambda: c[hr] > run or c[hreset] != 0

        self.OP_AICPU_LAUNCH = [
            [
                o(OpKind.LOAD, f"aicpu_execute[{t}]: kernel launched (run {run})", C.EXEC_INIT, (hr, hreset), (),
                  Order.ACQUIRE, launched(run))
                for run in runs
            ]
            for t in range(self.n_aicpu)
        ]
        self.OP_CORE_START = [
            [
                o(OpKind.CORE, f"aicore_execute {self.core_name(k)}: launched (run {run}), aicore_done = id+1",
                  C.AICORE_EXECUTE, (hr, hreset), (self.C_DONE + k,), Order.RELEASE, launched(run))
                for run in runs
            ]
            for k in CR
        ]
        ax, cx = self.HOST_AICPU_EXITED, self.HOST_AICORE_EXITED
        n_aicpu, n_cores = self.n_aicpu, self.n_cores
        launch_writes = (
            (hr,) + tuple(self.C_DMB + k for k in CR) + tuple(self.C_DONE + k for k in CR) + tuple(self.C_COND + k for k in CR)
        )

        def reaped(cell: int, n: int) -> Callable[[], bool]:
            return lambda: c[cell] >= n

        self.OP_HOST_LAUNCH = [
            o(OpKind.STORE, f"host: launch run {run} (aicore_done = 0; DATA_MAIN_BASE, COND zeroed with the register blocks)",
              C.LAUNCH_RUN, (), launch_writes, Order.RELEASE)
            for run in runs
        ]
        self.OP_HOST_REAP_AICPU = [
            o(OpKind.LOAD, f"host: wait for the AICPU kernel of run {run}", C.REAP_RUN,
              (ax, err, self.H_SCHED_ERR, self.E_KERNEL_RC),
              (), Order.ACQUIRE, reaped(ax, n_aicpu * (run + 1)))
            for run in runs
        ]
        self.OP_HOST_REAP_AICORE = [
            o(OpKind.LOAD, f"host: wait for the AICore kernel of run {run}", C.REAP_RUN, (cx,), (self.HOST_DONE,),
              Order.ACQUIRE, reaped(cx, n_cores * (run + 1)))
            for run in runs
        ]
        self.OP_HOST_RESET = o(OpKind.STORE, "host: fatal run -> device reset (stops every AICore)", C.FORCE_RESET,
                               (), (hreset, self.HOST_DONE), Order.RELEASE)

    # ------------------------------------------------------------------ guard factories

    def _guard_cell_nonzero(self, cell: int) -> Callable[[], bool]:
        c = self.c
        reset = self.HOST_RESET
        return lambda: c[cell] != 0 or c[reset] != 0

    def _guard_cell_eq(self, cell: int, value: int) -> Callable[[], bool]:
        c = self.c
        return lambda: c[cell] == value

    def _guard_window(self, k: int) -> Callable[[], bool]:
        c = self.c
        dmb, reset = self.C_DMB + k, self.HOST_RESET
        return lambda: c[dmb] != 0 or c[reset] != 0

    def _guard_core_new(self, k: int) -> Callable[[], bool]:
        c = self.c
        dmb, last, reset = self.C_DMB + k, self.C_LAST + k, self.HOST_RESET
        idle = K.AICPU_IDLE_TASK_ID

        def guard() -> bool:
            v = c[dmb] & 0xFFFFFFFF
            return (v != idle and v != c[last]) or c[reset] != 0

        return guard

    # ------------------------------------------------------------------ ghost bookkeeping

    def ghost(self, kind: str, task: int, extra: int = 0) -> None:
        self.events.append((kind, self.round, task, extra))

    # ------------------------------------------------------------------ read accessors

    def ring_view(self, r: int) -> RingView:
        c = self.c
        return RingView(
            ring=r,
            current_task_index=c[self.R_CUR + r],
            last_task_alive=c[self.R_LA + r],
            sched_last_task_alive=c[self.R_SLA + r],
            advance_lock=c[self.R_ALOCK + r],
            pending_bit=bool(c[self.H_ADV_PENDING] & (1 << r)),
            local_task_id=c[self.AL_LOCAL + r],
            heap_top=c[self.AL_TOP + r],
            heap_tail=c[self.AL_TAIL + r],
            last_alive_seen=c[self.AL_SEEN + r],
            rebase_anchor=c[self.AL_ANCHOR + r],
            dep_pool=(c[self.DP_TOP + r], c[self.DP_TAIL + r], c[self.DP_LAST + r]),
            fanin_pool=(c[self.FP_TOP + r], c[self.FP_TAIL + r], c[self.FP_CURSOR + r]),
        )

    def fanout_list(self, g: int) -> tuple[int, ...]:
        """Consumers (global slot ids) on g's fanout list, head first (bounded against corrupt cycles)."""
        c = self.c
        out: list[int] = []
        node = c[self.S_HEAD + g]
        while node and len(out) <= self.n_nodes:
            out.append(c[self.N_CONS + node - 1] - 1)
            node = c[self.N_NEXT + node - 1]
        return tuple(out)

    def slot_view(self, r: int, s: int) -> SlotView:
        pm = self.p
        g = self.slot_base[r] + s
        c = self.c
        n_edges = c[self.P_FANIN + g]
        edges = []
        for i in range(n_edges):
            p, f = self.read_edge(g, i)
            edges.append((self.slot_ring[p] if 0 <= p < len(self.slot_ring) else -1,
                          self.slot_idx[p] if 0 <= p < len(self.slot_idx) else -1, f))
        return SlotView(
            ring=r,
            slot=s,
            task_state=c[self.S_STATE + g],
            fanout_lock=c[self.S_LOCK + g],
            fanout_count=c[self.S_FC + g],
            fanout_refcount=c[self.S_RC + g],
            fanin_count=c[self.S_FCOUNT + g],
            fanin_refcount=c[self.S_FRC + g],
            lifecycle_flags=c[self.S_FLAGS + g],
            dep_pool_mark=pm[self.S_MARK + g],
            completed_subtasks=c[self.S_DONE + g],
            total_required_subtasks=c[self.S_TOTAL + g],
            next_block_idx=c[self.S_NEXT + g],
            logical_block_num=c[self.S_BLOCKS + g],
            bound=bool(c[self.S_BOUND + g]),
            desc_task=(c[self.D_RING + g], c[self.D_LOCAL + g]),
            task_index=self.task_of_slot(g),
            fanout=tuple((self.slot_ring[x], self.slot_idx[x]) for x in self.fanout_list(g) if 0 <= x < self.n_slots),
            edges=tuple(edges),
        )

    def ready_queue_contents(self) -> dict[str, tuple[tuple[int, int], ...]]:
        return {
            q.name: tuple((self.slot_ring[g], self.slot_idx[g]) for g in q.contents()) for q in self.queues
        }

    def core_view(self, k: int) -> CoreView:
        c = self.c
        rs, ps = c[self.C_RUN_SLOT + k] - 1, c[self.C_PEND_SLOT + k] - 1
        return CoreView(
            core=k,
            owner_thread=self.owner_of_core[k],
            data_main_base=c[self.C_DMB + k],
            cond=c[self.C_COND + k],
            running_slot=(self.slot_ring[rs], self.slot_idx[rs]) if rs >= 0 else None,
            pending_slot=(self.slot_ring[ps], self.slot_idx[ps]) if ps >= 0 else None,
            running_reg=c[self.C_RUN_REG + k],
            pending_reg=c[self.C_PEND_REG + k],
            dispatch_seq=c[self.C_SEQ + k],
            handshaken=bool(c[self.C_REG + k]),
        )

    def scope_stack(self) -> tuple[tuple[tuple[int, int], ...], ...]:
        """The open scope frames, outermost first; each frame's tasks as (ring, slot)."""
        pm = self.p
        top = pm[self.O_SCOPE_TOP]
        size = pm[self.O_SCOPE_SIZE]
        frames = []
        for d in range(top + 1):
            begin = pm[self.O_BEGINS + d]
            end = pm[self.O_BEGINS + d + 1] if d < top else size
            frames.append(
                tuple(
                    (self.slot_ring[pm[self.O_SCOPE_TASKS + i] - 1], self.slot_idx[pm[self.O_SCOPE_TASKS + i] - 1])
                    for i in range(begin, min(end, self.n_scope_cells))
                )
            )
        return tuple(frames)

    def manual_begin_depth(self) -> int:
        return self.p[self.O_MANUAL]

    def program_counter(self) -> tuple[int, int]:
        """(run index, index of the orchestrator's current instruction in the plan)."""
        return self.round, self.p[self.O_PC]

    def deferred_releases(self, t: int) -> tuple[tuple[int, int], ...]:
        c = self.c
        n = c[self.T_DEF_COUNT + t]
        return tuple((self.slot_ring[c[self.T_DEF[t] + i] - 1], self.slot_idx[c[self.T_DEF[t] + i] - 1]) for i in range(n))

    def fatal_code(self) -> int:
        """The latched error: orch_error_code if set, else sched_error_code (0 = none)."""
        c = self.c
        return c[self.H_ORCH_ERR] or c[self.H_SCHED_ERR]
