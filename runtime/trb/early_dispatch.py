"""Early dispatch (spec §2.18; W2/W3 of §2.4; Phase 4b of §2.9; INV-D4) as steps of the TRB port.

Producers flagged `allow_early_resolve` let their consumers be *pre-staged* on cores behind a gate before
the consumers are ready. The C++ pieces, each as one atomic op (or one locked block) citing its function:
  * wiring (`wire_fanin_task`, W2/W3): under L(P) the wiring step also reads P's DISPATCH_PROPAGATED flag
    (an edge linked after P's one-shot propagation snapshot); then one `dispatch_fanin` fetch_add with the
    seed (completed + propagated producers, only when every WAIT producer is flagged), and when that
    completes the count while some producer is live, `try_enqueue_early_dispatch_candidate`.
  * `propagate_dispatch_fanin(P)` (after every publication of a flagged producer's blocks): one load step
    of its guards (published_block_count >= logical_block_num, P not itself gated, no launch in progress,
    not yet propagated: consecutive loads of one thread, merged), the once-only claim and fanout snapshot
    under L(P), then one `dispatch_fanin` fetch_add per fanout consumer; the one reaching
    fanin_actual_count enqueues the consumer.
  * `try_enqueue_early_dispatch_candidate(C)`: CAS early_dispatch_state NONE->STAGING, then one push of
    (C, task id) onto early_dispatch_queues[shape] (a full queue rolls the CAS back: one more CAS).
  * `record_published_blocks`: one published_block_count fetch_add after each published range.
  * Phase 4b `try_early_dispatch`: (free slot? is local) one load of the ready queues' sizes, then the same
    run_staging_order skeleton as Phase 4 over `early_dispatch_shape`: a tagged pop_batch, per candidate
    (stale tag dropped) a load of its state, the next_block_idx CAS, a re-push for peers, then
    `stage_consumer_blocks`: per staged core one DATA_MAIN_BASE store of the (gated) token (the doorbell
    table entry of that core is stored in the same step: only a releaser that saw the core's bit in
    staged_core_mask reads it, and the bit is published by the later fetch_or), one staged_core_mask
    fetch_or, one state load; when the release already happened, a fetch_and claiming the late bits and
    one doorbell store per claimed core; then record_published_blocks and propagate_dispatch_fanin.
  * release (`route_ready_once` -> `try_early_dispatch_release`): the READY_CLAIMED CAS, the CAS
    NONE->DISPATCHED (won: not staged, route normally), else the launch-latch CAS, the CAS
    STAGING->DISPATCHED, the staged_core_mask exchange, one doorbell store per owned core, the launch
    COMPLETE store, propagation (after the fanout walk, via the on_task_complete sink), and the
    next_block_idx load deciding whether unstaged blocks still go to the ready queue (one push).
  * gated cores: the dispatch payload's gate (`src_payload != 0`, per core and payload buffer `token & 1`)
    is written when the block is prepared (`build_payload`: forced for staged blocks, else "the task is
    STAGING"); the AICore that picks up a gated token waits for the doorbell (DATA_MAIN_BASE high 32 ==
    token, or EXIT) before its ACK. Completion polling first loads the running task's state (STAGING:
    skip the core) and, when a pending task is set, the pending task's state (STAGING: Case 3.3 promotes
    it on the running task's FIN).

Only scenarios with at least one flagged submit run these steps (`early_on`). Without one the only flagged
producers are hidden alloc tasks, which are COMPLETED when any consumer wires them, so no consumer can
ever become a candidate; their W3 seed and release CAS would change nothing observable, and the port keeps
the exact step sequence of the un-extended port there.

Not ported (the plan rejects scenarios that need them): sync_start cohorts (early_sync_start_queue, the
rendezvous `maybe_rendezvous_ring`, the global drain), dispatch predicates, PMU mode. The dispatch_fanin
store of STEP 6 (b) is omitted: a consumer whose producers all completed at submit is never linked on a
fanout list, so nothing reads that count again.

Mutant M_EARLY_ON_FIRST_BLOCK (catalogue I01, fixed by 92a6bbcfb) drops the published_block_count guard of
propagate_dispatch_fanin, i.e. candidacy on the producer's first published range.

Finding F-PORT-EARLY-RELEASE-REROUTE (properties/findings.py): try_early_dispatch_release's final
next_block_idx load comes after the doorbells, so a consumer that has meanwhile run, completed and been
consumed (reset_for_reuse zeroes next_block_idx) is routed to the ready queue and runs again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterable

from model.scenario import Scenario
from runtime.core import Op, OpKind, Order
from runtime.trb import cites as C
from runtime.trb import consts as K
from runtime.trb.readyqueue import ReadyQueue
from runtime.trb.shared import SharedSteps, Steps
from runtime.trb.state import ExecOps

# PTO2EarlyDispatchState / PTO2EarlyDispatchLaunchState (pto_runtime2_types.h)
ED_NONE, ED_STAGING, ED_STAGED, ED_DISPATCHED = 0, 1, 2, 3
LAUNCH_NONE, LAUNCH_RINGING, LAUNCH_COMPLETE = 0, 1, 2
DISPATCH_PROPAGATED = 1 << 3  # PTO2_DISPATCH_PROPAGATED in lifecycle_flags
EARLY_SINK_CAP = 32  # EarlyDispatchReleaseSink::CAP
EARLY_QUEUE_NAMES = ("early_dispatch_queues[AIC]", "early_dispatch_queues[AIV]", "early_dispatch_queues[MIX]")

Seen = tuple[tuple[int, int], ...]
QExp = tuple[tuple[int, tuple[int, ...]], ...]


class TaggedQueue(ReadyQueue):
    """PTO2ReadyQueue with push_tagged / pop_batch_tagged: every entry carries the task id it was pushed for."""

    __slots__ = ("tags",)

    def __init__(self, name: str, capacity: int, cells: list[int], enq_cell: int, deq_cell: int) -> None:
        super().__init__(name, capacity, cells, enq_cell, deq_cell)
        self.tags: deque[int] = deque()

    def push_tagged(self, item: int, tag: int) -> bool:
        if not self.push(item):
            return False
        self.tags.append(tag)
        return True

    def push_batch_tagged(self, items: tuple[tuple[int, int], ...]) -> bool:
        if not self.push_batch(tuple(g for g, _t in items)):
            return False
        self.tags.extend(t for _g, t in items)
        return True

    def pop_batch_tagged(self, max_count: int) -> tuple[tuple[int, int], ...]:
        got = self.pop_batch(max_count)
        return tuple((g, self.tags.popleft()) for g in got)

    def fingerprint(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return tuple(self.items), tuple(self.tags)


def _bits(v: int) -> tuple[int, ...]:
    out = []
    while v:
        low = (v & -v).bit_length() - 1
        out.append(low)
        v &= v - 1
    return tuple(out)


class EarlyDispatchSteps(SharedSteps):
    """The early-dispatch state, ops and steps; the orchestrator and scheduler bodies call in here."""

    def __init__(self, scenario: Scenario, mutants: Iterable[str] = ()) -> None:
        super().__init__(scenario, mutants)
        self.m_early_first_block = "M_EARLY_ON_FIRST_BLOCK" in self.mutants
        self.early_on = any(t.early and not t.is_alloc for t in self.plan.tasks)
        self.ED_FANIN = self.ED_PUB = self.ED_STATE = self.ED_LAUNCH = self.ED_MASK = -1
        self.C_GATE = self.DB_TOKEN = self.EQ_ENQ = self.EQ_DEQ = -1
        self._gate_ops: dict[tuple[int, int], Op] = {}
        if self.early_on:
            self._build_early()

    # ------------------------------------------------------------------ layout and ops

    def _build_early(self) -> None:
        m = self.mem
        G = len(self.slot_ring)
        labels = [self.slot_label(g) for g in range(G)]

        def per_slot(name: str) -> int:
            base = m.alloc(name, G, 0)
            for g in range(G):
                m.names[base + g] = f"{labels[g]}.payload.{name}"
            return base

        self.ED_FANIN = per_slot("dispatch_fanin")
        self.ED_PUB = per_slot("published_block_count")
        self.ED_STATE = per_slot("early_dispatch_state")
        self.ED_LAUNCH = per_slot("early_dispatch_launch_state")
        self.ED_MASK = per_slot("staged_core_mask")
        n = self.n_cores
        self.C_GATE = m.alloc("dispatch_payload.src_payload", 2 * n, 0)
        for k in range(n):
            for b in range(2):
                m.names[self.C_GATE + 2 * k + b] = f"{self.core_name(k)}.payload[{b}].src_payload"
        self.DB_TOKEN = m.alloc("early_dispatch_doorbell_table.token", n, 0)
        for k in range(n):
            m.names[self.DB_TOKEN + k] = f"doorbell_table[{self.core_name(k)}].token"
        self.EQ_ENQ = m.alloc("early_queue.enqueue_pos", 3, 0)
        self.EQ_DEQ = m.alloc("early_queue.dequeue_pos", 3, 0)
        for s in range(3):
            m.names[self.EQ_ENQ + s] = f"{EARLY_QUEUE_NAMES[s]}.enqueue_pos"
            m.names[self.EQ_DEQ + s] = f"{EARLY_QUEUE_NAMES[s]}.dequeue_pos"
        cap = self.consts.early_dispatch_queue_capacity
        # the early queues follow the four ready queues (and live only there, so DFS's in-place reset, which
        # copies each attribute on its own, keeps one object per queue): fingerprinted, watchable by the idle
        # wait as queues 4 + shape
        self.queues = (*self.queues, *(
            TaggedQueue(EARLY_QUEUE_NAMES[s], cap, self.c, self.EQ_ENQ + s, self.EQ_DEQ + s) for s in range(3)
        ))
        self._build_early_ops()
        self._widen_base_ops()
        # a scheduler's build_payload writes its own cores' payload gates inside its steps
        regions = (self.RG_SLOT, self.RG_NODES)
        self.sched_priv = [
            self.sched_priv[t] + tuple(self.C_GATE + 2 * k + b for k in self.tr_cores[t] for b in range(2))
            for t in range(self.n_sched)
        ]
        self.ops = [ExecOps(self, regions, self.sched_priv[t]) for t in range(self.n_sched)]
        self.ops.append(ExecOps(self, (), ()))

    def _widen_base_ops(self) -> None:
        """Reads the extension adds to existing steps (their effects now look at early-dispatch cells)."""
        G = len(self.slot_ring)
        # normal dispatch builds the payload: gated while the task is STAGING (build_payload)
        self.OP_CLAIM_BLOCKS = [
            Op(op.kind, op.what, op.cite, op.reads + (self.ED_STATE + g,), op.writes, op.order, op.guard, op.backstop)
            for g, op in enumerate(self.OP_CLAIM_BLOCKS)
        ]
        # ... also after the re-push step that follows the claim (the claimed blocks are prepared then)
        states = tuple(self.ED_STATE + g for g in range(G))
        self.OP_REPUSH = [
            Op(op.kind, op.what, op.cite, op.reads + states, op.writes, op.order, op.guard, op.backstop)
            for op in self.OP_REPUSH
        ]
        # the AICore reads the payload buffer's gate of the token it picks up
        self.OP_CORE_POLL = [
            Op(op.kind, op.what, op.cite, op.reads + (self.C_GATE + 2 * k, self.C_GATE + 2 * k + 1), op.writes,
               op.order, op.guard, op.backstop)
            for k, op in enumerate(self.OP_CORE_POLL)
        ]
        assert len(self.OP_CLAIM_BLOCKS) == G

    def _build_early_ops(self) -> None:
        G = len(self.slot_ring)
        L = [self.slot_label(g) for g in range(G)]
        S_FLAGS = self.S_FLAGS
        all_queue_cells = tuple(range(self.Q_ENQ, self.Q_ENQ + 4)) + tuple(range(self.Q_DEQ, self.Q_DEQ + 4))
        early_queue_cells = tuple(range(self.EQ_ENQ, self.EQ_ENQ + 3)) + tuple(range(self.EQ_DEQ, self.EQ_DEQ + 3))
        self.OP_ED_SEED = [
            Op(OpKind.FETCH_ADD, f"wire_fanin_task({L[g]}): dispatch_fanin += early seed", C.WIRE_FANIN,
               (self.ED_FANIN + g, self.P_FANIN + g), (self.ED_FANIN + g,), Order.ACQ_REL)
            for g in range(G)
        ]
        self.OP_ED_PROP_GUARD = [
            Op(OpKind.LOAD, f"propagate_dispatch_fanin({L[g]}): published_block_count, early state, launch state, "
               "DISPATCH_PROPAGATED", C.PROPAGATE_DISPATCH_FANIN,
               (self.ED_PUB + g, self.S_BLOCKS + g, self.ED_STATE + g, self.ED_LAUNCH + g, S_FLAGS + g), (),
               Order.SEQ_CST)
            for g in range(G)
        ]
        self.OP_ED_PROP_CLAIM = [
            Op(OpKind.LOCKED, f"propagate_dispatch_fanin L({L[g]}): try_mark_dispatch_propagated, snapshot fanout_head",
               C.PROPAGATE_DISPATCH_FANIN, (S_FLAGS + g, self.S_HEAD + g, self.S_LOCK + g, self.RG_NODES),
               (S_FLAGS + g,), Order.ACQ_REL)
            for g in range(G)
        ]
        self.OP_ED_PROP_BUMP = [
            Op(OpKind.FETCH_ADD, f"propagate_dispatch_fanin: {L[g]}.dispatch_fanin += 1", C.PROPAGATE_DISPATCH_FANIN,
               (self.ED_FANIN + g, self.P_FANIN + g, self.RG_NODES), (self.ED_FANIN + g,), Order.ACQ_REL)
            for g in range(G)
        ]
        self.OP_ED_CANDIDATE = [
            Op(OpKind.CAS, f"try_enqueue_early_dispatch_candidate({L[g]}): CAS early_dispatch_state NONE->STAGING",
               C.TRY_ENQUEUE_EARLY, (self.ED_STATE + g, self.S_MASK + g), (self.ED_STATE + g,), Order.SEQ_CST)
            for g in range(G)
        ]
        self.OP_ED_CANDIDATE_PUSH = [
            Op(OpKind.PUSH, f"try_enqueue_early_dispatch_candidate({L[g]}): push_tagged early_dispatch_queues",
               C.TRY_ENQUEUE_EARLY, (*early_queue_cells, *self._desc(g)), early_queue_cells, Order.RELEASE)
            for g in range(G)
        ]
        self.OP_ED_CANDIDATE_ROLLBACK = [
            Op(OpKind.CAS, f"try_enqueue_early_dispatch_candidate({L[g]}): queue full, CAS STAGING->NONE",
               C.TRY_ENQUEUE_EARLY, (self.ED_STATE + g,), (self.ED_STATE + g,), Order.SEQ_CST)
            for g in range(G)
        ]
        self.OP_ED_RECORD = [
            Op(OpKind.FETCH_ADD, f"record_published_blocks({L[g]}): published_block_count += n", C.RECORD_PUBLISHED,
               (self.ED_PUB + g,), (self.ED_PUB + g,), Order.SEQ_CST)
            for g in range(G)
        ]
        self.OP_ED_CLAIM_READY = [
            Op(OpKind.CAS, f"route_ready_once({L[g]}): CAS READY_CLAIMED", C.TRY_CLAIM_READY, (S_FLAGS + g,),
               (S_FLAGS + g,), Order.ACQ_REL)
            for g in range(G)
        ]
        self.OP_ED_RELEASE_NONE = [
            Op(OpKind.CAS, f"try_early_dispatch_release({L[g]}): CAS early_dispatch_state NONE->DISPATCHED",
               C.TRY_EARLY_RELEASE, (self.ED_STATE + g,), (self.ED_STATE + g,), Order.SEQ_CST)
            for g in range(G)
        ]
        self.OP_ED_LAUNCH_CLAIM = [
            Op(OpKind.CAS, f"try_claim_early_dispatch_launch({L[g]}): CAS launch NONE->RINGING", C.TRY_CLAIM_LAUNCH,
               (self.ED_LAUNCH + g,), (self.ED_LAUNCH + g,), Order.SEQ_CST)
            for g in range(G)
        ]
        self.OP_ED_RELEASE_STAGING = [
            Op(OpKind.CAS, f"try_early_dispatch_release({L[g]}): CAS early_dispatch_state STAGING->DISPATCHED",
               C.TRY_EARLY_RELEASE, (self.ED_STATE + g,), (self.ED_STATE + g,), Order.SEQ_CST)
            for g in range(G)
        ]
        self.OP_ED_CLAIM_ALL = [
            Op(OpKind.EXCHANGE, f"claim_all_staged_doorbell_bits({L[g]}): staged_core_mask.exchange(0)",
               C.CLAIM_ALL_DOORBELLS, (self.ED_MASK + g,), (self.ED_MASK + g,), Order.SEQ_CST)
            for g in range(G)
        ]
        self.OP_ED_LAUNCH_DONE = [
            Op(OpKind.STORE, f"try_early_dispatch_release({L[g]}): launch state = COMPLETE", C.TRY_EARLY_RELEASE,
               (), (self.ED_LAUNCH + g,), Order.SEQ_CST)
            for g in range(G)
        ]
        self.OP_ED_RELEASE_BLOCKS = [
            Op(OpKind.LOAD, f"try_early_dispatch_release({L[g]}): next_block_idx >= logical_block_num?",
               C.TRY_EARLY_RELEASE, (self.S_NEXT + g, self.S_BLOCKS + g), (), Order.SEQ_CST)
            for g in range(G)
        ]
        self.OP_ED_ROUTE_PUSH = [
            Op(OpKind.PUSH, f"route_ready_once({L[g]}): push ready queue", C.ROUTE_READY_ONCE,
               (self.S_MASK + g, *all_queue_cells, *self._desc(g)), all_queue_cells, Order.RELEASE)
            for g in range(G)
        ]
        self.OP_ED_STATE_LOAD = [
            Op(OpKind.LOAD, f"early_dispatch_shape: {L[g]}.early_dispatch_state == STAGING?", C.EARLY_DISPATCH_SHAPE,
               (self.ED_STATE + g,), (), Order.ACQUIRE)
            for g in range(G)
        ]
        self.OP_ED_MASK_OR = [
            Op(OpKind.FETCH_ADD, f"stage_consumer_blocks({L[g]}): staged_core_mask |= my cores",
               C.STAGE_CONSUMER_BLOCKS, (self.ED_MASK + g,), (self.ED_MASK + g,), Order.SEQ_CST)
            for g in range(G)
        ]
        self.OP_ED_RELEASED = [
            Op(OpKind.LOAD, f"stage_consumer_blocks({L[g]}): early_dispatch_state == DISPATCHED?",
               C.STAGE_CONSUMER_BLOCKS, (self.ED_STATE + g,), (), Order.SEQ_CST)
            for g in range(G)
        ]
        self.OP_ED_CLAIM_LATE = [
            Op(OpKind.FETCH_ADD, f"claim_late_staged_doorbell_bits({L[g]}): staged_core_mask &= ~my cores",
               C.CLAIM_LATE_DOORBELLS, (self.ED_MASK + g,), (self.ED_MASK + g,), Order.SEQ_CST)
            for g in range(G)
        ]
        self.OP_ED_RUN_GATED = [
            Op(OpKind.LOAD, f"check_running_cores_for_completion: running {L[g]} STAGING? (skip gated core)",
               C.CHECK_RUNNING, (self.ED_STATE + g,), (), Order.RELAXED)
            for g in range(G)
        ]
        self.OP_ED_PEND_GATED = [
            Op(OpKind.LOAD, f"check_running_cores_for_completion: pending {L[g]} STAGING? (pending_gated)",
               C.CHECK_RUNNING, (self.ED_STATE + g,), (), Order.RELAXED)
            for g in range(G)
        ]
        n = self.n_cores
        self.OP_ED_STAGE_PUBLISH = [
            Op(OpKind.STORE, f"stage_consumer_blocks: {self.core_name(k)}.DATA_MAIN_BASE = gated token, "
               "doorbell_table[core] = token", C.STAGE_CONSUMER_BLOCKS, (), (self.C_DMB + k, self.DB_TOKEN + k),
               Order.RELEASE)
            for k in range(n)
        ]
        self.OP_ED_RING = [
            Op(OpKind.STORE, f"ring_one_doorbell: {self.core_name(k)}.DATA_MAIN_BASE = token << 32 | token",
               C.RING_ONE_DOORBELL, (self.DB_TOKEN + k,), (self.C_DMB + k,), Order.RELEASE)
            for k in range(n)
        ]
        T = range(self.n_sched)
        ready_cells = tuple(self.Q_ENQ + s for s in range(3)) + tuple(self.Q_DEQ + s for s in range(3))
        self.OP_ED_READY_EMPTY = [
            Op(OpKind.LOAD, f"try_early_dispatch[{t}]: every ready queue empty?", C.TRY_EARLY_DISPATCH, ready_cells,
               (), Order.RELAXED)
            for t in T
        ]
        self.OP_ED_RESIDUAL = [
            Op(OpKind.LOAD, f"run_staging_order[{t}]: has_residual_early_mix (early MIX queue size)",
               C.HAS_RESIDUAL_EARLY_MIX, (self.EQ_ENQ + 2, self.EQ_DEQ + 2), (), Order.RELAXED)
            for t in T
        ]
        self.OP_ED_POP = [
            [
                Op(OpKind.POP, f"early_dispatch_shape[{t}] {K.SHAPE_NAMES[s]}: pop_batch_tagged",
                   C.EARLY_DISPATCH_SHAPE, (self.EQ_ENQ + s, self.EQ_DEQ + s, self.RG_SLOT),
                   (self.EQ_DEQ + s,), Order.ACQUIRE)
                for s in range(3)
            ]
            for t in T
        ]
        self.OP_ED_REPUSH = [
            Op(OpKind.PUSH, f"early_dispatch_shape: push_tagged back to {EARLY_QUEUE_NAMES[s]}",
               C.EARLY_DISPATCH_SHAPE, (self.EQ_ENQ + s, self.EQ_DEQ + s), (self.EQ_ENQ + s,), Order.RELEASE)
            for s in range(3)
        ]

    def _gate_wait_op(self, k: int, token: int) -> Op:
        """aicore_execute's doorbell wait for a gated token: runnable once DATA_MAIN_BASE's high 32 bits equal
        the token, or its low half is the exit signal (or the host reset the device)."""
        key = (k, token)
        op = self._gate_ops.get(key)
        if op is None:
            c = self.c
            dmb, reset = self.C_DMB + k, self.HOST_RESET

            def guard() -> bool:
                v = c[dmb]
                return (v >> 32) & K.LOW32 == token or v & K.LOW32 == K.AICORE_EXIT_SIGNAL or c[reset] != 0

            op = Op(OpKind.CORE, f"aicore_execute {self.core_name(k)}: gated token {token}: wait for the doorbell "
                    "(DATA_MAIN_BASE high 32 == token) or EXIT", C.AICORE_EXECUTE, (dmb, reset), (), Order.ACQUIRE,
                    guard)
            if len(self._gate_ops) > 4096:
                self._gate_ops.clear()
            self._gate_ops[key] = op
        return op

    def early_queue(self, shape: int) -> TaggedQueue:
        """early_dispatch_queues[shape]."""
        q = self.queues[4 + shape]
        assert isinstance(q, TaggedQueue)
        return q

    def is_core_gate_op(self, k: int, op: Op) -> bool:
        """True when `op` is core k's doorbell wait (the launch of a gated block: refinement's start point)."""
        v = self.c[self.C_DMB + k] if self.early_on else 0
        return self._gate_ops.get((k, v & K.LOW32)) is op

    # ------------------------------------------------------------------ static attributes

    def allow_early(self, g: int) -> bool:
        """task_attrs.allow_early_resolve of the task bound to slot g (a per-submit constant of the program)."""
        task = self.task_of_slot(g)
        if task < 0:
            return False
        t = self.plan.tasks[task]
        return t.early or t.is_alloc

    def _task_id(self, g: int) -> int:
        """slot_state.task->task_id.raw: (ring << 32) | local, from the slot's descriptor."""
        return (self.c[self.D_RING + g] << 32) | self.c[self.D_LOCAL + g]

    # ------------------------------------------------------------------ orchestrator side (W2/W3, payload init)

    def wire_op(self, p: int, r: int) -> Op:
        op = super().wire_op(p, r)
        if not self.early_on:
            return op
        # W2 also reads P's DISPATCH_PROPAGATED flag under L(P)
        return Op(op.kind, op.what, op.cite, op.reads + (self.S_FLAGS + p,), op.writes, op.order, op.guard,
                  op.backstop)

    def register_op(self, g: int, n_edges: int) -> Op:
        op = super().register_op(g, n_edges)
        if not self.early_on or self.ED_FANIN + g in op.writes:
            return op
        # PTO2TaskPayload::init resets the early-dispatch fields in the same (private until published) step
        cells = tuple(base + g for base in (self.ED_FANIN, self.ED_PUB, self.ED_STATE, self.ED_LAUNCH, self.ED_MASK))
        op = Op(op.kind, op.what, op.cite, op.reads, op.writes + cells, op.order, op.guard, op.backstop)
        self._register_ops[(g, n_edges)] = op
        return op

    def ed_payload_init(self, g: int) -> None:
        for base in (self.ED_FANIN, self.ED_PUB, self.ED_STATE, self.ED_LAUNCH, self.ED_MASK):
            self.c[base + g] = 0

    def ed_wire_propagated(self, p: int, done: int) -> int:
        """W2 under L(P): 1 when the edge was linked on a producer already past its propagation snapshot."""
        if done or not self.allow_early(p):
            return 0
        return 1 if self.c[self.S_FLAGS + p] & DISPATCH_PROPAGATED else 0

    def ed_seed(self, g: int, edges: tuple[tuple[int, int], ...], completed: int, propagated: int) -> Steps:
        """W3: seed dispatch_fanin when every WAIT producer is flagged; enqueue when that completes the count."""
        if any(f & K.DEP_WAIT and not self.allow_early(p) for p, f in edges):
            return
        seed = completed + propagated
        if seed == 0:
            return
        e = self.orch_tidx
        yield self.ops[e].OP_ED_SEED[g]
        value = (self.c[self.ED_FANIN + g] + seed) & 0xFFFFFFFF
        self.c[self.ED_FANIN + g] = value
        actual = self.c[self.P_FANIN + g]
        if completed != actual and value == actual:
            yield from self.try_enqueue_candidate(g, e)

    # ------------------------------------------------------------------ candidacy

    def propagate_dispatch_fanin(self, p: int, e: int) -> Steps:
        if not self.allow_early(p):
            return
        ops = self.ops[e]
        yield ops.OP_ED_PROP_GUARD[p]
        if not self.m_early_first_block and self.c[self.ED_PUB + p] < self.c[self.S_BLOCKS + p]:
            return
        if self.c[self.ED_STATE + p] == ED_STAGING or self.c[self.ED_LAUNCH + p] == LAUNCH_RINGING:
            return
        if self.c[self.S_FLAGS + p] & DISPATCH_PROPAGATED:
            return
        yield ops.OP_ED_PROP_CLAIM[p]
        if self.c[self.S_FLAGS + p] & DISPATCH_PROPAGATED:
            return
        self.c[self.S_FLAGS + p] |= DISPATCH_PROPAGATED
        node = self.c[self.S_HEAD + p]
        while node:
            cons = self.c[self.N_CONS + node - 1] - 1
            nxt = self.c[self.N_NEXT + node - 1]
            if cons < 0:
                self.crash = "null consumer in a fanout node (propagate_dispatch_fanin on nullptr)"
                return
            yield ops.OP_ED_PROP_BUMP[cons]
            nf = (self.c[self.ED_FANIN + cons] + 1) & 0xFFFFFFFF
            self.c[self.ED_FANIN + cons] = nf
            if nf == self.c[self.P_FANIN + cons]:
                yield from self.try_enqueue_candidate(cons, e)
            node = nxt

    def try_enqueue_candidate(self, g: int, e: int) -> Steps:
        shape = self._shape_of(self.c[self.S_MASK + g])
        if shape not in (K.SHAPE_AIC, K.SHAPE_AIV, K.SHAPE_MIX):
            return
        ops = self.ops[e]
        yield ops.OP_ED_CANDIDATE[g]
        if self.c[self.ED_STATE + g] != ED_NONE:
            return
        self.c[self.ED_STATE + g] = ED_STAGING
        task = self.task_of_slot(g)
        if task >= 0:
            self.ghost("candidate", task)
        yield ops.OP_ED_CANDIDATE_PUSH[g]
        if self.early_queue(shape).push_tagged(g, self._task_id(g)):
            return
        yield ops.OP_ED_CANDIDATE_ROLLBACK[g]
        if self.c[self.ED_STATE + g] == ED_STAGING:
            self.c[self.ED_STATE + g] = ED_NONE

    def record_published(self, g: int, count: int, e: int) -> Steps:
        if count <= 0 or not self.allow_early(g):
            return
        yield self.ops[e].OP_ED_RECORD[g]
        self.c[self.ED_PUB + g] = (self.c[self.ED_PUB + g] + count) & 0xFFFF

    # ------------------------------------------------------------------ release

    def route_ready_once(self, g: int, e: int) -> Steps:
        if not self.early_on:
            yield from super().route_ready_once(g, e)
            return
        yield from self.ed_route_ready_once(g, e, False)

    def ed_route_ready_once(self, g: int, e: int, sink: bool) -> Generator[Op, bool, bool]:
        """route_ready_once with try_early_dispatch_release; with `sink` (on_task_complete's release sink has
        room) a launched consumer's propagation is left to the caller: returns True then."""
        ops = self.ops[e]
        yield ops.OP_ED_CLAIM_READY[g]
        if self.c[self.S_FLAGS + g] & K.READY_CLAIMED:
            return False
        self.c[self.S_FLAGS + g] |= K.READY_CLAIMED
        handled, deferred = yield from self.try_early_dispatch_release(g, e, sink)
        if handled:
            return deferred
        yield ops.OP_ED_ROUTE_PUSH[g]
        self._fx_push_ready(g)
        return deferred

    def try_early_dispatch_release(self, g: int, e: int, sink: bool) -> Generator[Op, bool, tuple[bool, bool]]:
        """(handled: the caller must not push the task, propagation deferred to the caller's sink)."""
        ops = self.ops[e]
        yield ops.OP_ED_RELEASE_NONE[g]
        state = self.c[self.ED_STATE + g]
        if state == ED_NONE:
            self.c[self.ED_STATE + g] = ED_DISPATCHED
            return False, False
        if state != ED_STAGING:
            return True, False
        yield ops.OP_ED_LAUNCH_CLAIM[g]
        if self.c[self.ED_LAUNCH + g] != LAUNCH_NONE:
            return True, False
        self.c[self.ED_LAUNCH + g] = LAUNCH_RINGING
        yield ops.OP_ED_RELEASE_STAGING[g]
        if self.c[self.ED_STATE + g] == ED_STAGING:
            self.c[self.ED_STATE + g] = ED_DISPATCHED
        yield ops.OP_ED_CLAIM_ALL[g]
        owned = self.c[self.ED_MASK + g]
        self.c[self.ED_MASK + g] = 0
        for k in _bits(owned):
            yield ops.OP_ED_RING[k]
            self._fx_ring(k, self.c[self.DB_TOKEN + k])
        yield ops.OP_ED_LAUNCH_DONE[g]
        self.c[self.ED_LAUNCH + g] = LAUNCH_COMPLETE
        if not sink:
            yield from self.propagate_dispatch_fanin(g, e)
        yield ops.OP_ED_RELEASE_BLOCKS[g]
        return self.c[self.S_NEXT + g] >= self.c[self.S_BLOCKS + g], sink

    def _fx_ring(self, k: int, token: int) -> None:
        """ring_one_doorbell: high = low = token releases the gated AICore (the block's launch)."""
        self.c[self.C_DMB + k] = ((token & K.LOW32) << 32) | (token & K.LOW32)
        _run, task, block = self.ghost_token.get((k, token), (self.round, -1, 0))
        if task >= 0:
            self.ghost("dispatch", task, block)

    def ed_set_gate(self, k: int, token: int, g: int, force_gate: bool) -> None:
        """build_payload's gate for the payload buffer `token & 1` of core k."""
        gated = force_gate or self.c[self.ED_STATE + g] == ED_STAGING
        self.c[self.C_GATE + 2 * k + (token & 1)] = 1 if gated else 0

    # ------------------------------------------------------------------ completion polling

    def ed_running_gated(self, t: int, k: int) -> Generator[Op, bool, tuple[bool, Seen]]:
        """check_running_cores_for_completion's skip of a core whose running task is STAGING."""
        g = self.c[self.C_RUN_SLOT + k] - 1
        if g < 0:
            return False, ()
        yield self.ops[t].OP_ED_RUN_GATED[g]
        v = self.c[self.ED_STATE + g]
        return v == ED_STAGING, ((self.ED_STATE + g, v),)

    def ed_pending_gated(self, t: int, k: int) -> Generator[Op, bool, tuple[bool, Seen]]:
        """pending_gated: the pending task is an early-dispatch stage still parked on its doorbell."""
        g = self.c[self.C_PEND_SLOT + k] - 1
        if g < 0:
            return False, ()
        yield self.ops[t].OP_ED_PEND_GATED[g]
        v = self.c[self.ED_STATE + g]
        return v == ED_STAGING, ((self.ED_STATE + g, v),)

    # ------------------------------------------------------------------ AICore gate

    def ed_core_gate(self, k: int, token: int) -> Generator[Op, bool, bool]:
        """The doorbell wait of a gated pickup; True when the core must exit (EXIT or device reset)."""
        if not self.early_on or not self.c[self.C_GATE + 2 * k + (token & 1)]:
            return False
        yield self._gate_wait_op(k, token)
        v = self.c[self.C_DMB + k]
        return bool(self.c[self.HOST_RESET]) or v & K.LOW32 == K.AICORE_EXIT_SIGNAL

    # ------------------------------------------------------------------ scheduler hooks (scheduler.py)

    def _fx_prepare_block(
        self, t: int, off: int, g: int, shape: int, pending: int, block: int, force_gate: bool = False
    ) -> tuple[tuple[int, int], ...]:
        raise NotImplementedError  # SchedulerThread

    def _fx_dispatchable(self, t: int, shape: int, pending: int) -> int:
        raise NotImplementedError  # SchedulerThread

    def _fx_mix_select(self, t: int, cores: int, g: int, pending: int) -> int:
        raise NotImplementedError  # SchedulerThread

    def _fx_claim_blocks(self, g: int, available: int) -> tuple[int, int]:
        raise NotImplementedError  # SchedulerThread

    def _fx_idle_in_others(self, t: int, shape: int) -> tuple[bool, Seen]:
        raise NotImplementedError  # SchedulerThread

    def ed_after_publish(self, t: int, published: tuple[tuple[int, int], ...]) -> Steps:
        """dispatch_shape after its flush: record_published_blocks and propagate_dispatch_fanin per range."""
        for g, count in published:
            yield from self.record_published(g, count, t)
            yield from self.propagate_dispatch_fanin(g, t)

    def ed_flush_sink(self, sink: tuple[int, ...], t: int) -> Steps:
        """on_task_complete: the released consumers' propagation, after the whole fanout walk."""
        for g in sink:
            yield from self.propagate_dispatch_fanin(g, t)

    def try_early_dispatch(self, t: int, qexp: QExp) -> Generator[Op, bool, tuple[bool, bool, QExp, Seen]]:
        """Phase 4b: stage early candidates on this thread's free slots once every ready queue is empty."""
        free = ~self.c[self.T_PEND_OCC + t] & (self.tr_aic_mask[t] | self.tr_aiv_mask[t])
        if not free:
            return False, False, qexp, ()
        ops = self.ops[t]
        # what this pass reads of a queue is its contents (noted as the dispatch passes do), not its positions:
        # this thread's own pop-and-push-back moves the positions without changing what the queue holds
        impure = False
        yield ops.OP_ED_READY_EMPTY[t]
        for s in range(3):
            qexp, changed = _qnote(qexp, s, self.queues[s].contents())
            impure = impure or changed
        reads: Seen = ()
        if any(self.queues[s].size() > 0 for s in range(3)):
            return False, impure, qexp, reads
        staged = 0
        order = (K.SHAPE_AIC, K.SHAPE_AIV) if t % 2 == 0 else (K.SHAPE_AIV, K.SHAPE_AIC)
        n, i, qexp = yield from self.early_dispatch_shape(t, K.SHAPE_MIX, 0, qexp)
        staged, impure = staged + n, impure or i
        yield ops.OP_ED_RESIDUAL[t]
        qexp, changed = _qnote(qexp, 4 + K.SHAPE_MIX, self.early_queue(K.SHAPE_MIX).contents())
        impure = impure or changed
        skip = self.early_queue(K.SHAPE_MIX).size() > 0
        if not skip:
            for s in order:
                n, i, qexp = yield from self.early_dispatch_shape(t, s, 0, qexp)
                staged, impure = staged + n, impure or i
        yield ops.OP_GATE[t][K.SHAPE_MIX]
        idle_peer, r = self._fx_idle_in_others(t, K.SHAPE_MIX)
        reads = reads + r
        if not idle_peer:
            n, i, qexp = yield from self.early_dispatch_shape(t, K.SHAPE_MIX, 1, qexp)
            staged, impure = staged + n, impure or i
        if not skip:
            yield ops.OP_ED_RESIDUAL[t]
            qexp, changed = _qnote(qexp, 4 + K.SHAPE_MIX, self.early_queue(K.SHAPE_MIX).contents())
            impure = impure or changed
            skip = self.early_queue(K.SHAPE_MIX).size() > 0
        if not skip:
            for s in order:
                yield ops.OP_GATE[t][s]
                idle_peer, r = self._fx_idle_in_others(t, s)
                reads = reads + r
                if idle_peer:
                    continue
                n, i, qexp = yield from self.early_dispatch_shape(t, s, 1, qexp)
                staged, impure = staged + n, impure or i
        return staged > 0, impure or staged > 0, qexp, reads

    def early_dispatch_shape(self, t: int, shape: int, pending: int, qexp: QExp) -> Generator[Op, bool, tuple[int, bool, QExp]]:
        ops = self.ops[t]
        is_mix = shape == K.SHAPE_MIX
        cores = self.tr_aic_mask[t] if is_mix else self._fx_dispatchable(t, shape, pending)
        if not cores:
            return 0, False, qexp
        qi = 4 + shape  # index of this early queue in self.queues (the idle wait watches it there)
        yield ops.OP_ED_POP[t][shape]
        batch = self.early_queue(shape).pop_batch_tagged(cores.bit_count())
        if not batch:
            qexp, changed = _qnote(qexp, qi, ())
            return 0, changed, qexp
        staged = 0
        impure = False
        for bi in range(len(batch)):
            g, tag = batch[bi]
            if self._task_id(g) != tag:
                impure = True
                continue  # a stale generation: dropped
            yield ops.OP_ED_STATE_LOAD[g]
            if self.c[self.ED_STATE + g] != ED_STAGING:
                impure = True
                continue  # released meanwhile: dropped
            if is_mix:
                bucket = self._fx_mix_select(t, self.tr_aic_mask[t], g, pending)
            else:
                bucket = self._fx_dispatchable(t, shape, pending)
            if not bucket:
                rest = batch[bi:]
                yield ops.OP_ED_REPUSH[shape]
                self.early_queue(shape).push_batch_tagged(rest)
                if bi > 0 or staged:
                    impure = True
                else:  # put back untouched: what the queue holds now is what this pass saw
                    qexp, changed = _qnote(qexp, qi, self.early_queue(shape).contents())
                    impure = impure or changed or self.early_queue(shape).size() > len(batch)
                break
            yield ops.OP_CLAIM_BLOCKS[g]
            start, claim = self._fx_claim_blocks(g, bucket.bit_count())
            if claim == 0:
                impure = True
                continue
            impure = True
            if start + claim < self.c[self.S_BLOCKS + g]:
                yield ops.OP_ED_REPUSH[shape]
                self.early_queue(shape).push_tagged(g, tag)
            staged += yield from self.stage_consumer_blocks(t, g, shape, start, claim, bucket, pending)
        return staged, impure, qexp

    def stage_consumer_blocks(
        self, t: int, g: int, shape: int, start: int, count: int, bucket: int, pending: int
    ) -> Generator[Op, bool, int]:
        ops = self.ops[t]
        handles: tuple[tuple[int, int], ...] = ()
        block = start
        staged = 0
        avail = bucket
        while count > 0 and avail:
            off = (avail & -avail).bit_length() - 1
            avail &= avail - 1
            handles = handles + self._fx_prepare_block(t, off, g, shape, pending, block, force_gate=True)
            block += 1
            count -= 1
            staged += 1
        my_cores = 0
        for hi in range(len(handles)):
            k, tok = handles[hi]
            yield ops.OP_ED_STAGE_PUBLISH[k]
            self.c[self.C_DMB + k] = tok
            self.c[self.DB_TOKEN + k] = tok
            my_cores |= 1 << k
            _run, task, blk = self.ghost_token.get((k, tok), (self.round, -1, 0))
            if task >= 0:
                self.ghost("staged", task, blk)
        if my_cores:
            yield ops.OP_ED_MASK_OR[g]
            self.c[self.ED_MASK + g] |= my_cores
        released = False
        if staged > 0:
            yield ops.OP_ED_RELEASED[g]
            released = self.c[self.ED_STATE + g] == ED_DISPATCHED
        if released:
            yield ops.OP_ED_CLAIM_LATE[g]
            owned = self.c[self.ED_MASK + g] & my_cores
            self.c[self.ED_MASK + g] &= ~my_cores
            for hi in range(len(handles)):
                k, tok = handles[hi]
                if owned & (1 << k):
                    yield ops.OP_ED_RING[k]
                    self._fx_ring(k, tok)
        yield from self.record_published(g, staged, t)
        yield from self.propagate_dispatch_fanin(g, t)
        return staged


def _qnote(qexp: QExp, q: int, contents: tuple[int, ...]) -> tuple[QExp, bool]:
    """Record that queue q holds `contents`; True when an earlier pass of the iteration saw other contents
    (as scheduler._qnote: the idle wait can compare a queue with one expected value only)."""
    for i in range(len(qexp)):
        if qexp[i][0] == q:
            return qexp[:i] + qexp[i + 1 :] + ((q, contents),), qexp[i][1] != contents
    return (*qexp, (q, contents)), False
