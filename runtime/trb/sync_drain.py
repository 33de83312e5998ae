"""The sync_start drain: Tier-0 ready_sync_queues, enter_drain_mode and handle_drain_mode (STEP+X).

A task with `requires_sync_start` (block_num > 1 and sync_start, block_num within the core limit) must
start all its blocks together. push_ready_routed parks it in `ready_sync_queues[shape]`;
dispatch_ready_tasks drains those queues first (Tier 0) with the dispatch_shape machinery: in the
PENDING phase a cohort is re-pushed; in the IDLE phase a cohort that fits this thread's idle cores is
claimed whole and published, one that does not arms the stop-the-world drain: enter_drain_mode's CAS
sync_start_pending 0 -> -1, the attempt advance, pending_task and the staging resets, then
sync_start_pending = block_num (a thread that loses the CAS re-pushes the cohort). Every scheduler's
loop then takes Phase 2 (resolve_and_dispatch: after completions, `sync_start_pending != 0` ->
handle_drain_mode; continue): wait for the sentinel to clear, read the attempt, the attempt-tagged ack
tree (wait for both children's subtree token, publish its own, a follower waits for the root's),
thread 0 (the fixed coordinator) counts global capacity: short -> advance the attempt (everyone bails
and retries after polling completions); enough -> stage_go. Every thread stages its own idle cores
(stage_sync_start_cores: CAS-claimed block ranges, prepare, publish), adds its running-slot cores and
its stage_done bit; followers wait for the gate to reopen, thread 0 waits for every stage_done bit and
reopens (pending_task, stage_go, stage_done cleared, sync_start_pending = 0).

Every spin is a guarded wait that bails on completed_ or an attempt change, as in the C++; none carries
a time backstop (the spins live outside the dispatch loop's watchdog: a hang there is the 507018 STARS
timeout). The capacity-short retry is a livelock the AICores' completions break: random / PCT
searches run through it; an exhaustive search needs its step bound.

Mutant M_DRAIN_NO_ATTEMPT_TAG (catalogue J04, the design before a74485d75) replaces the attempt tag
with the generation-less drain_ack_mask / drain_worker_elected pair: an ack is a fetch_or of the
thread's bit, the barrier spins until all bits are set (bailing when its own bit is cleared), an
election CAS picks the owner, a capacity-short owner clears the mask and the election; stage_go and
stage_done are reused across attempts.

Out of reach (rejected by the plan): gated (early) drains and the early-dispatch interplay
(propagate_dispatch_fanin, record_published_blocks, staged_core_mask, the rendezvous seed), PMU
single-issue mode. The non-gated drain's running_slot_count seed is not written (only a gated drain
writes it).

Ghost (not in the fingerprint): `drain_episode` (bumped whenever the barrier restarts: a won enter or a
capacity reset), per thread the episode of its current view and of its last ack, its drain phase, and
per (run, task, block) how often a sync_start block was dispatched. properties/drain_checks.py judges
INV-D5 on them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import replace

from runtime.core import Op, OpKind, Order
from runtime.trb import cites as C
from runtime.trb import consts as K
from runtime.trb.orchestrator import OrchestratorThread
from runtime.trb.readyqueue import ReadyQueue
from runtime.trb.shared import Steps

Seen = tuple[tuple[int, int], ...]
QExp = tuple[tuple[int, tuple[int, ...]], ...]
ArrFn = Callable[..., int]

ACK_SUBTREE_READY = 1 << 63  # SYNC_START_DRAIN_ACK_SUBTREE_READY
ATTEMPT_MASK = ACK_SUBTREE_READY - 1

# ghost drain phases of a scheduler thread
PH_NONE, PH_ACKED, PH_STAGING, PH_WAIT_REOPEN = 0, 1, 2, 3
PHASE_NAMES = ("outside", "acked (before the stage decision)", "staging", "waiting for the gate")

SYNC_SHAPES = (K.SHAPE_AIC, K.SHAPE_AIV, K.SHAPE_MIX)


def next_attempt(attempt: int) -> int:
    """sync_start_drain_next_attempt: +1 in the 63-bit attempt space, never 0."""
    n = (attempt + 1) & ATTEMPT_MASK
    return 1 if n == 0 else n


def subtree_token(attempt: int) -> int:
    """sync_start_drain_ack_subtree_token."""
    return attempt | ACK_SUBTREE_READY


def _popcount(v: int) -> int:
    return v.bit_count()


def _low_bit(v: int) -> int:
    return (v & -v).bit_length() - 1


def _qset(qexp: QExp, q: int, contents: tuple[int, ...]) -> QExp:
    for i in range(len(qexp)):
        if qexp[i][0] == q:
            return qexp[:i] + qexp[i + 1 :] + ((q, contents),)
    return (*qexp, (q, contents))


def _qnote(qexp: QExp, q: int, contents: tuple[int, ...]) -> tuple[QExp, bool]:
    """As scheduler._qnote: record what queue q holds after this pass; True when an earlier pass of the
    same iteration saw it hold something else."""
    for _q, exp in qexp:
        if _q == q:
            return _qset(qexp, q, contents), exp != contents
    return (*qexp, (q, contents)), False


class SyncDrainThread(OrchestratorThread):
    """The drain's steps; SchedulerThread derives from it and supplies the dispatch helpers below."""

    # ------------------------------------------------------------------ helpers SchedulerThread supplies

    def _fx_idle_in_others(self, t: int, shape: int) -> tuple[bool, Seen]:
        raise NotImplementedError

    def _idle_cores(self, t: int, shape: int, states: int, occ: int) -> int:
        raise NotImplementedError

    def _fx_dispatchable(self, t: int, shape: int, pending: int) -> int:
        raise NotImplementedError

    def _fx_mix_select(self, t: int, cores: int, g: int, pending: int) -> int:
        raise NotImplementedError

    def _fx_claim_blocks(self, g: int, available: int) -> tuple[int, int]:
        raise NotImplementedError

    def _fx_prepare_block(
        self, t: int, off: int, g: int, shape: int, pending: int, block: int, force_gate: bool = False
    ) -> tuple[tuple[int, int], ...]:
        raise NotImplementedError

    def _fx_publish_token(self, k: int, token: int) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ layout and ops (TrbState hooks)

    def _drain_layout(self, arr: ArrFn) -> None:
        """Cells of SyncStartDrainState, drain_ack_tokens_ and ready_sync_queues (allocated last, so the
        other cells keep their indices), only for a plan with a sync_start cohort."""
        self.m_drain_no_attempt = "M_DRAIN_NO_ATTEMPT_TAG" in self.mutants
        self.has_sync_drain = any(task.sync_start and not task.sync_start_invalid for task in self.plan.tasks)
        T = self.n_sched
        # ghost (see the module docstring)
        self.drain_episode = 0
        self.drain_resets = 0  # capacity resets since the last won enter
        self.drain_view = [-1] * T
        self.drain_acked = [-1] * T
        self.drain_phase = [PH_NONE] * T
        self.drain_wait: list[str] = [""] * T
        self.ghost_block_dispatch: dict[tuple[int, int, int], int] = {}
        # queue index of ready_sync_queues[shape] in self.queues: appended after whatever queues exist (no
        # fixed index, so another extension's queues can sit before them)
        first = len(self.queues)
        self.sync_q = (first, first + 1, first + 2)
        if not self.has_sync_drain:
            # no cohort: no drain cells (memory and fingerprint stay as without the extension); never read
            self.DR_PENDING = self.DR_TASK = self.DR_ATTEMPT = self.DR_GO = self.DR_DONE = self.DR_STAGED = -1
            self.DR_ACK = self.DR_ACK_MASK = self.DR_ELECTED = self.SQ_ENQ = self.SQ_DEQ = -1
            self.drain_cells: tuple[int, ...] = ()
            return
        self.DR_PENDING = arr("drain.sync_start_pending", 1)
        self.DR_TASK = arr("drain.pending_task", 1)
        self.DR_ATTEMPT = arr("drain.drain_attempt", 1)
        self.DR_GO = arr("drain.drain_stage_go", 1)
        self.DR_DONE = arr("drain.drain_stage_done_mask", 1)
        self.DR_STAGED = arr("drain.drain_running_staged", 1)
        self.DR_ACK = arr("drain_ack_tokens_", T, 0, [f"drain_ack_tokens_[{t}]" for t in range(T)])
        # the pre-fix fields (mutant M_DRAIN_NO_ATTEMPT_TAG only)
        self.DR_ACK_MASK = arr("drain.drain_ack_mask", 1)
        self.DR_ELECTED = arr("drain.drain_worker_elected", 1)
        names = [f"ready_sync_queues[{K.SHAPE_NAMES[s]}]" for s in SYNC_SHAPES]
        self.SQ_ENQ = arr("sync_queue.enqueue_pos", 3, 0, [f"{n}.enqueue_pos" for n in names])
        self.SQ_DEQ = arr("sync_queue.dequeue_pos", 3, 0, [f"{n}.dequeue_pos" for n in names])
        # the fingerprint covers self.queues
        self.queues = self.queues + tuple(
            ReadyQueue(names[i], self.queue_cap, self.c, self.SQ_ENQ + i, self.SQ_DEQ + i) for i in range(3)
        )
        self.drain_cells = (self.DR_PENDING, self.DR_TASK, self.DR_ATTEMPT, self.DR_GO, self.DR_DONE,
                            self.DR_STAGED, self.DR_ACK_MASK, self.DR_ELECTED, *range(self.DR_ACK, self.DR_ACK + T))

    def _drain_build_ops(self) -> None:
        if not self.has_sync_drain:
            return
        o = self._op
        T = range(self.n_sched)
        sq = tuple(range(self.SQ_ENQ, self.SQ_ENQ + 3)) + tuple(range(self.SQ_DEQ, self.SQ_DEQ + 3))
        # push_ready_routed may push to a sync queue: the routing steps' footprints name those cells
        for name in ("OP_ROUTE", "OP_PUBLISH_A", "OP_PUBLISH_B"):
            table: list[Op] = getattr(self, name)
            setattr(self, name, [
                Op(op.kind, op.what, op.cite, op.reads + sq + self._desc(g), op.writes + sq, op.order, op.guard,
                   op.backstop)
                for g, op in enumerate(table)
            ])
        self.OP_DEINIT_CHECK = [
            Op(op.kind, op.what, op.cite, op.reads, op.writes + self.drain_cells, op.order, op.guard, op.backstop)
            for op in self.OP_DEINIT_CHECK
        ]
        P, A, G, D, S = self.DR_PENDING, self.DR_ATTEMPT, self.DR_GO, self.DR_DONE, self.DR_STAGED
        TASK, AM, EL = self.DR_TASK, self.DR_ACK_MASK, self.DR_ELECTED
        HD, EN = C.HANDLE_DRAIN, C.ENTER_DRAIN
        self.OP_DR_CHECK = [o(OpKind.LOAD, f"resolve_and_dispatch[{t}]: Phase 2 load sync_start_pending",
                              C.RESOLVE_AND_DISPATCH, (P,), (), Order.ACQUIRE) for t in T]
        self.OP_DR_ATTEMPT = [o(OpKind.LOAD, f"handle_drain_mode[{t}]: load drain_attempt", HD, (A,), (),
                                Order.ACQUIRE) for t in T]
        self.OP_DR_ACK = [o(OpKind.STORE, f"handle_drain_mode[{t}]: drain_ack_tokens_[{t}] = subtree token", HD, (),
                            (self.DR_ACK + t,), Order.RELEASE) for t in T]
        self.OP_DR_TASK = [o(OpKind.LOAD, f"handle_drain_mode[{t}]: load pending_task", HD, (TASK,), (),
                             Order.ACQUIRE) for t in T]
        cap_reads = (tuple(self.T_STATES + p for p in T) + tuple(self.T_PEND_OCC + p for p in T) + (self.RG_SLOT,)
                     + tuple(self.S_MASK + g for g in range(self.n_slots)))
        self.OP_DR_COUNT = [o(OpKind.LOAD, f"handle_drain_mode[{t}]: count_global_available (every tracker)",
                              C.COUNT_GLOBAL_AVAILABLE, cap_reads, (), Order.RELAXED) for t in T]
        self.OP_DR_RESET = [o(OpKind.STORE, f"handle_drain_mode[{t}]: capacity short: drain_attempt = next", HD,
                              (), (A,), Order.RELEASE) for t in T]
        self.OP_DR_GO_STAGED = [o(OpKind.STORE, f"handle_drain_mode[{t}]: drain_running_staged = 0", HD, (), (S,),
                                  Order.RELAXED) for t in T]
        self.OP_DR_GO_DONE = [o(OpKind.STORE, f"handle_drain_mode[{t}]: drain_stage_done_mask = 0", HD, (), (D,),
                                Order.RELAXED) for t in T]
        self.OP_DR_GO = [o(OpKind.STORE, f"handle_drain_mode[{t}]: drain_stage_go = 1", HD, (), (G,), Order.RELEASE)
                         for t in T]
        self.OP_DR_STAGED_ADD = [o(OpKind.FETCH_ADD, f"handle_drain_mode[{t}]: drain_running_staged += running",
                                   HD, (S,), (S,), Order.ACQ_REL) for t in T]
        self.OP_DR_DONE_OR = [o(OpKind.FETCH_ADD, f"handle_drain_mode[{t}]: drain_stage_done_mask |= bit", HD,
                                (D,), (D,), Order.RELEASE) for t in T]
        self.OP_DR_CLR_TASK = [o(OpKind.STORE, f"handle_drain_mode[{t}]: reopen: pending_task = nullptr", HD, (),
                                 (TASK,), Order.RELEASE) for t in T]
        self.OP_DR_CLR_GO = [o(OpKind.STORE, f"handle_drain_mode[{t}]: reopen: drain_stage_go = 0", HD, (), (G,),
                               Order.RELAXED) for t in T]
        self.OP_DR_CLR_DONE = [o(OpKind.STORE, f"handle_drain_mode[{t}]: reopen: drain_stage_done_mask = 0", HD, (),
                                 (D,), Order.RELAXED) for t in T]
        self.OP_DR_CLR_ACK = [o(OpKind.STORE, f"handle_drain_mode[{t}]: reopen: drain_ack_mask = 0 (pre-fix)", HD,
                                (), (AM,), Order.RELAXED) for t in T]
        self.OP_DR_CLR_ELECT = [o(OpKind.STORE, f"handle_drain_mode[{t}]: reopen: drain_worker_elected = 0 "
                                  "(pre-fix)", HD, (), (EL,), Order.RELAXED) for t in T]
        self.OP_DR_REOPEN = [o(OpKind.STORE, f"handle_drain_mode[{t}]: reopen: sync_start_pending = 0", HD, (), (P,),
                               Order.RELEASE) for t in T]
        # enter_drain_mode
        self.OP_DR_ENTER_CAS = [o(OpKind.CAS, f"enter_drain_mode[{t}]: CAS sync_start_pending 0 -> -1", EN, (P,),
                                  (P,), Order.ACQUIRE) for t in T]
        self.OP_DR_ENTER_ATTEMPT = [o(OpKind.STORE, f"enter_drain_mode[{t}]: drain_attempt = next(attempt)", EN,
                                      (A,), (A,), Order.RELEASE) for t in T]
        self.OP_DR_ENTER_TASK = [o(OpKind.STORE, f"enter_drain_mode[{t}]: pending_task = slot", EN, (), (TASK,),
                                   Order.RELEASE) for t in T]
        self.OP_DR_ENTER_ACKMASK = [o(OpKind.STORE, f"enter_drain_mode[{t}]: drain_ack_mask = 0 (pre-fix)", EN, (),
                                      (AM,), Order.RELAXED) for t in T]
        self.OP_DR_ENTER_ELECT = [o(OpKind.STORE, f"enter_drain_mode[{t}]: drain_worker_elected = 0 (pre-fix)", EN,
                                    (), (EL,), Order.RELAXED) for t in T]
        self.OP_DR_ENTER_GO = [o(OpKind.STORE, f"enter_drain_mode[{t}]: drain_stage_go = 0", EN, (), (G,),
                                 Order.RELAXED) for t in T]
        self.OP_DR_ENTER_DONE = [o(OpKind.STORE, f"enter_drain_mode[{t}]: drain_stage_done_mask = 0", EN, (), (D,),
                                   Order.RELAXED) for t in T]
        self.OP_DR_ENTER_STAGED = [o(OpKind.STORE, f"enter_drain_mode[{t}]: drain_running_staged = 0", EN, (), (S,),
                                     Order.RELAXED) for t in T]
        self.OP_DR_ENTER_PUBLISH = [o(OpKind.STORE, f"enter_drain_mode[{t}]: sync_start_pending = block_num", EN,
                                      (), (P,), Order.RELEASE) for t in T]
        # pre-fix barrier (mutant)
        self.OP_DR_ACK_OR = [o(OpKind.FETCH_ADD, f"handle_drain_mode[{t}]: drain_ack_mask |= bit (pre-fix)", HD,
                               (AM,), (AM,), Order.RELEASE) for t in T]
        self.OP_DR_ELECT_CAS = [o(OpKind.CAS, f"handle_drain_mode[{t}]: CAS drain_worker_elected 0 -> {t + 1} "
                                  "(pre-fix)", HD, (EL,), (EL,), Order.ACQUIRE) for t in T]
        self.OP_DR_ELECT_LOAD = [o(OpKind.LOAD, f"handle_drain_mode[{t}]: load drain_worker_elected (pre-fix)", HD,
                                   (EL,), (), Order.RELAXED) for t in T]
        self.OP_DR_RESET_ACK = [o(OpKind.STORE, f"handle_drain_mode[{t}]: capacity short: drain_ack_mask = 0 "
                                  "(pre-fix)", HD, (), (AM,), Order.RELEASE) for t in T]
        self.OP_DR_RESET_ELECT = [o(OpKind.STORE, f"handle_drain_mode[{t}]: drain_worker_elected = 0 (pre-fix)",
                                    HD, (), (EL,), Order.RELEASE) for t in T]
        # stage_sync_start_cores: the claim CAS and the publish store, as dispatch_shape's but cited here
        self.OP_DR_STAGE_CLAIM = [
            replace(op, what=op.what.replace("claim_block_range", "stage_sync_start_cores: claim_block_range"),
                    cite=C.STAGE_SYNC_START)
            for op in self.OP_CLAIM_BLOCKS
        ]
        self.OP_DR_STAGE_PUBLISH = [
            replace(op, what="stage_sync_start_cores: " + op.what, cite=C.STAGE_SYNC_START) for op in self.OP_PUBLISH
        ]
        # Tier 0 (dispatch_shape over ready_sync_queues)
        phase_names = ("IDLE", "PENDING")
        self.OP_SQ_POP = [
            [
                [
                    o(OpKind.POP, f"dispatch_shape[{t}] sync {K.SHAPE_NAMES[s]}/{phase_names[p]}: pop_batch",
                      C.DISPATCH_SHAPE, (self.SQ_ENQ + s, self.SQ_DEQ + s), (self.SQ_DEQ + s,), Order.ACQUIRE)
                    for p in range(2)
                ]
                for s in range(3)
            ]
            for t in T
        ]
        self.OP_SQ_REPUSH = [
            o(OpKind.PUSH, f"dispatch_shape: re-push to ready_sync_queues[{K.SHAPE_NAMES[s]}]", C.DISPATCH_SHAPE,
              (self.SQ_ENQ + s, self.SQ_DEQ + s), (self.SQ_ENQ + s,), Order.RELEASE)
            for s in range(3)
        ]
        self.OP_SQ_RESIDUAL = [
            o(OpKind.LOAD, f"run_staging_order[{t}]: has_residual_sync_mix (sync MIX queue size)",
              C.HAS_RESIDUAL_SYNC_MIX, (self.SQ_ENQ + 2, self.SQ_DEQ + 2), (), Order.RELAXED)
            for t in T
        ]

    # ------------------------------------------------------------------ overrides of shared steps

    def _fx_push_ready(self, g: int) -> None:
        """push_ready_routed: a ready sync_start cohort goes to ready_sync_queues[shape]."""
        if self.has_sync_drain:
            task = self.task_of_slot(g)
            if task >= 0 and self.plan.tasks[task].sync_start:
                s = self._shape_of(self.c[self.S_MASK + g])
                q = self.sync_q[s]
                pushed = self.queues[q].push(g)
                self.ghost("ready" if pushed else "ready-dropped", task, q)
                return
        super()._fx_push_ready(g)

    def _fx_deinit(self) -> None:
        """SchedulerContext::deinit also resets drain_state_ and the ack tokens."""
        super()._fx_deinit()
        for cell in self.drain_cells:
            self.c[cell] = 0

    def ghost(self, kind: str, task: int, extra: int = 0) -> None:
        if self.has_sync_drain and kind == "dispatch" and task >= 0 and self.plan.tasks[task].sync_start:
            key = (self.round, task, extra)
            self.ghost_block_dispatch[key] = self.ghost_block_dispatch.get(key, 0) + 1
        super().ghost(kind, task, extra)

    # ------------------------------------------------------------------ guarded waits

    def _drain_wait(self, t: int, what: str, cells: tuple[int, ...], guard: Callable[[], bool]) -> Op:
        self.drain_wait[t] = what
        return self.aug(Op(OpKind.LOAD, f"handle_drain_mode[{t}]: spin: {what}", C.HANDLE_DRAIN,
                           (*cells, self.X_COMPLETED), (), Order.ACQUIRE, guard), t)

    def _spin(self, t: int, what: str, kind: str, x: int = 0, y: int = 0) -> Op:
        """The guarded wait of one drain spin (built here: a generator local may not hold the memory list)."""
        c, xc, a, p, go, el = self.c, self.X_COMPLETED, self.DR_ATTEMPT, self.DR_PENDING, self.DR_GO, self.DR_ELECTED
        d, am = self.DR_DONE, self.DR_ACK_MASK
        guard: Callable[[], bool]
        cells: tuple[int, ...]
        if kind == "initialised":
            cells, guard = (p,), lambda: c[p] >= 0 or c[xc] != 0
        elif kind == "go":  # x = the thread's attempt
            cells, guard = (go, a), lambda: c[go] != 0 or c[xc] != 0 or c[a] != x
        elif kind == "reopen":
            cells, guard = (p, a), lambda: c[p] == 0 or c[xc] != 0 or c[a] != x
        elif kind == "done":  # x = all_acked
            cells, guard = (d,), lambda: c[d] & x == x or c[xc] != 0
        elif kind == "ackmask":  # x = all_acked, y = own bit
            cells, guard = (am,), lambda: c[xc] != 0 or c[am] & x == x or not c[am] & y
        elif kind == "go-elect":
            cells, guard = (go, el), lambda: c[go] != 0 or c[xc] != 0 or c[el] == 0
        elif kind == "reopen-elect":
            cells, guard = (p, el), lambda: c[p] == 0 or c[xc] != 0 or c[el] == 0
        else:
            raise ValueError(kind)
        return self._drain_wait(t, what, cells, guard)

    def _wait_token(self, t: int, cell: int, token: int, attempt: int, what: str) -> Op:
        c, xc, a = self.c, self.X_COMPLETED, self.DR_ATTEMPT
        return self._drain_wait(t, what, (cell, a), lambda: c[cell] == token or c[xc] != 0 or c[a] != attempt)

    def _await_token(self, t: int, cell: int, token: int, attempt: int, what: str) -> Generator[Op, bool, bool]:
        """Spin until `cell` holds this attempt's token; False when the spin bailed instead (completed_ set or
        the attempt changed), and the caller leaves the drain. (No generator local may hold the memory list:
        DFS keys thread positions on plain locals.)"""
        yield self._wait_token(t, cell, token, attempt, what)
        return self.c[cell] == token or not (self.c[self.X_COMPLETED] or self.c[self.DR_ATTEMPT] != attempt)

    # ------------------------------------------------------------------ Phase 2

    def drain_phase2(self, t: int) -> Generator[Op, bool, bool]:
        """resolve_and_dispatch's Phase 2: True when the drain ran (the loop continues)."""
        yield self.ops[t].OP_DR_CHECK[t]
        if self.c[self.DR_PENDING] == 0:
            return False
        if self.m_drain_no_attempt:
            yield from self.handle_drain_mode_untagged(t)
        else:
            yield from self.handle_drain_mode(t)
        self.drain_phase[t] = PH_NONE
        self.drain_wait[t] = ""
        return True

    def _wait_initialised(self, t: int) -> Generator[Op, bool, int]:
        """The `do { is_completed; load } while (block_num < 0)` spin; returns block_num (0: nothing to do)."""
        yield self._spin(t, "sync_start_pending >= 0 (drain initialised)", "initialised")
        if self.c[self.X_COMPLETED]:
            return 0
        return max(self.c[self.DR_PENDING], 0)

    def handle_drain_mode(self, t: int) -> Steps:
        """handle_drain_mode at the pinned commit (attempt-tagged tree acks, thread 0 coordinates)."""
        ops = self.ops[t]
        T = self.n_sched
        block_num = yield from self._wait_initialised(t)
        if block_num == 0:
            return
        all_acked = (1 << T) - 1
        yield ops.OP_DR_ATTEMPT[t]
        attempt = self.c[self.DR_ATTEMPT]
        self.drain_view[t] = self.drain_episode
        token = subtree_token(attempt)
        for child in (2 * t + 1, 2 * t + 2):
            if child >= T:
                continue
            acked = yield from self._await_token(
                t, self.DR_ACK + child, token, attempt, f"drain_ack_tokens_[{child}] == token({attempt})"
            )
            if not acked:
                return
        yield ops.OP_DR_ACK[t]
        self.c[self.DR_ACK + t] = token
        self.drain_acked[t] = self.drain_view[t]
        self.drain_phase[t] = PH_ACKED
        self.ghost("drain-ack", -1, t)
        if t != 0:
            acked = yield from self._await_token(
                t, self.DR_ACK, token, attempt, f"drain_ack_tokens_[0] == token({attempt}) (root)"
            )
            if not acked:
                return
        coordinator = t == 0
        yield ops.OP_DR_TASK[t]
        g = self.c[self.DR_TASK] - 1
        if coordinator:
            yield ops.OP_DR_COUNT[t]
            if self._fx_count_global(g) < block_num:
                yield ops.OP_DR_RESET[t]
                self.c[self.DR_ATTEMPT] = next_attempt(attempt)
                self._ghost_restart("drain-reset", g, t)
                return
            yield from self._publish_go(t, g)
        else:
            yield self._spin(t, "drain_stage_go != 0", "go", attempt)
            if self.c[self.DR_GO] == 0:
                return
        yield from self._stage_and_mark(t, g, block_num)
        if not coordinator:
            self.drain_phase[t] = PH_WAIT_REOPEN
            yield self._spin(t, "sync_start_pending == 0 (gate reopened)", "reopen", attempt)
            return
        yield from self._finalize(t, g, all_acked)

    def handle_drain_mode_untagged(self, t: int) -> Steps:
        """Mutant M_DRAIN_NO_ATTEMPT_TAG: handle_drain_mode before a74485d75 (ack mask + election)."""
        ops = self.ops[t]
        T = self.n_sched
        block_num = yield from self._wait_initialised(t)
        if block_num == 0:
            return
        all_acked = (1 << T) - 1
        bit = 1 << t
        yield ops.OP_DR_ACK_OR[t]
        self.c[self.DR_ACK_MASK] |= bit
        self.drain_view[t] = self.drain_acked[t] = self.drain_episode
        self.drain_phase[t] = PH_ACKED
        self.ghost("drain-ack", -1, t)
        yield self._spin(t, "drain_ack_mask == all (or own bit cleared)", "ackmask", all_acked, bit)
        if self.c[self.X_COMPLETED] or self.c[self.DR_ACK_MASK] & all_acked != all_acked:
            return
        yield ops.OP_DR_ELECT_CAS[t]
        if self.c[self.DR_ELECTED] == 0:
            self.c[self.DR_ELECTED] = t + 1
        yield ops.OP_DR_ELECT_LOAD[t]
        elected = self.c[self.DR_ELECTED] == t + 1
        yield ops.OP_DR_TASK[t]
        g = self.c[self.DR_TASK] - 1
        if elected:
            if g < 0:
                yield ops.OP_DR_RESET_ELECT[t]
                self.c[self.DR_ELECTED] = 0
                return
            yield ops.OP_DR_COUNT[t]
            if self._fx_count_global(g) < block_num:
                yield ops.OP_DR_RESET_ACK[t]
                self.c[self.DR_ACK_MASK] = 0
                self._ghost_restart("drain-reset", g, t)
                yield ops.OP_DR_RESET_ELECT[t]
                self.c[self.DR_ELECTED] = 0
                return
            yield from self._publish_go(t, g)
        else:
            yield self._spin(t, "drain_stage_go != 0 (or election released)", "go-elect")
            if self.c[self.DR_GO] == 0:
                return
            yield ops.OP_DR_TASK[t]
            g = self.c[self.DR_TASK] - 1
            if g < 0:
                return
        yield from self._stage_and_mark(t, g, block_num)
        if not elected:
            self.drain_phase[t] = PH_WAIT_REOPEN
            yield self._spin(t, "sync_start_pending == 0 (or election released)", "reopen-elect")
            return
        yield from self._finalize(t, g, all_acked)

    # ------------------------------------------------------------------ shared pieces

    def _ghost_restart(self, kind: str, g: int, t: int) -> None:
        """The barrier restarts (a won enter or a capacity reset): a new episode."""
        self.drain_episode += 1
        if kind == "drain-reset":
            self.drain_resets += 1
        else:
            self.drain_resets = 0
        self.ghost(kind, self.task_of_slot(g), t)

    def _publish_go(self, t: int, g: int) -> Steps:
        ops = self.ops[t]
        yield ops.OP_DR_GO_STAGED[t]
        self.c[self.DR_STAGED] = 0
        yield ops.OP_DR_GO_DONE[t]
        self.c[self.DR_DONE] = 0
        yield ops.OP_DR_GO[t]
        self.c[self.DR_GO] = 1
        self.ghost("drain-go", self.task_of_slot(g), t)

    def _stage_and_mark(self, t: int, g: int, block_num: int) -> Steps:
        ops = self.ops[t]
        self.drain_phase[t] = PH_STAGING
        running = yield from self.stage_sync_start_cores(t, g, block_num)
        yield ops.OP_DR_STAGED_ADD[t]
        self.c[self.DR_STAGED] += running
        yield ops.OP_DR_DONE_OR[t]
        self.c[self.DR_DONE] |= 1 << t

    def _finalize(self, t: int, g: int, all_acked: int) -> Steps:
        """The coordinator: wait for every stage_done bit, then clear and reopen the gate."""
        ops = self.ops[t]
        self.drain_phase[t] = PH_WAIT_REOPEN
        yield self._spin(t, "drain_stage_done_mask == all", "done", all_acked)
        if self.c[self.DR_DONE] & all_acked != all_acked:
            return
        yield ops.OP_DR_CLR_TASK[t]
        self.c[self.DR_TASK] = 0
        yield ops.OP_DR_CLR_GO[t]
        self.c[self.DR_GO] = 0
        yield ops.OP_DR_CLR_DONE[t]
        self.c[self.DR_DONE] = 0
        if self.m_drain_no_attempt:
            yield ops.OP_DR_CLR_ACK[t]
            self.c[self.DR_ACK_MASK] = 0
            yield ops.OP_DR_CLR_ELECT[t]
            self.c[self.DR_ELECTED] = 0
        yield ops.OP_DR_REOPEN[t]
        self.c[self.DR_PENDING] = 0
        self.ghost("drain-reopen", self.task_of_slot(g), t)
        # propagate_dispatch_fanin / finish_early_sync_drain: early-dispatch bookkeeping (not ported)

    def _fx_mix_running(self, p: int, g: int) -> int:
        """get_mix_running_cluster_offset_states(core_mask) of tracker p."""
        return self._fx_mix_select(p, self.tr_aic_mask[p], g, 0)

    def _fx_count_global(self, g: int) -> int:
        """count_global_available(shape, core_mask, include_pending=false): the ready drain counts idle only."""
        c = self.c
        shape = self._shape_of(c[self.S_MASK + g])
        total = 0
        for p in range(self.n_sched):
            if shape == K.SHAPE_MIX:
                total += _popcount(self._fx_mix_running(p, g))
            else:
                total += _popcount(self._idle_cores(p, shape, c[self.T_STATES + p], c[self.T_PEND_OCC + p]))
        return total

    def stage_sync_start_cores(self, t: int, g: int, block_num: int) -> Generator[Op, bool, int]:
        """Non-gated staging of this thread's idle cores; returns the running-slot cores (MIX only)."""
        ops = self.ops[t]
        shape = self._shape_of(self.c[self.S_MASK + g])
        is_mix = shape == K.SHAPE_MIX
        if is_mix:
            valid = self._fx_mix_running(t, g)
        else:
            valid = self._idle_cores(t, shape, self.c[self.T_STATES + t], self.c[self.T_PEND_OCC + t])
        running = 0
        while valid:
            avail = _popcount(valid)
            yield ops.OP_DR_STAGE_CLAIM[g]
            start, claim = self._fx_claim_range(g, block_num, avail)
            if claim == 0:
                break
            handles: tuple[tuple[int, int], ...] = ()
            for b in range(claim):
                off = _low_bit(valid)
                valid &= valid - 1
                if is_mix:
                    running += self._mix_idle_core_count(t, off, self.c[self.S_MASK + g])
                handles = handles + self._fx_prepare_block(t, off, g, shape, 0, start + b)
            for hi in range(len(handles)):
                k, tok = handles[hi]
                yield ops.OP_DR_STAGE_PUBLISH[k]
                self._fx_publish_token(k, tok)
            self.ghost("drain-stage", self.task_of_slot(g), claim)
        return running

    def _fx_claim_range(self, g: int, block_num: int, available: int) -> tuple[int, int]:
        """claim_block_range(block_num, available, start) with the caller's block_num."""
        c = self.c
        current = c[self.S_NEXT + g]
        if current < block_num and available > 0:
            count = min(block_num - current, available)
            c[self.S_NEXT + g] = current + count
            return current, count
        return current, 0

    def _mix_idle_core_count(self, t: int, off: int, mask: int) -> int:
        """mix_cluster_idle_core_count: used cores of the cluster that are idle (tracker bit set)."""
        states = self.c[self.T_STATES + t]
        n = 0
        for bitmask, o in ((K.MASK_AIC, off), (K.MASK_AIV0, off + 1), (K.MASK_AIV1, off + 2)):
            if mask & bitmask and (states >> o) & 1:
                n += 1
        return n

    # ------------------------------------------------------------------ enter_drain_mode

    def enter_drain_mode(self, t: int, g: int, block_num: int) -> Generator[Op, bool, bool]:
        ops = self.ops[t]
        yield ops.OP_DR_ENTER_CAS[t]
        if self.c[self.DR_PENDING] != 0:
            return False
        self.c[self.DR_PENDING] = -1
        if not self.m_drain_no_attempt:
            yield ops.OP_DR_ENTER_ATTEMPT[t]
            self.c[self.DR_ATTEMPT] = next_attempt(self.c[self.DR_ATTEMPT])
        yield ops.OP_DR_ENTER_TASK[t]
        self.c[self.DR_TASK] = g + 1
        if self.m_drain_no_attempt:
            yield ops.OP_DR_ENTER_ACKMASK[t]
            self.c[self.DR_ACK_MASK] = 0
            yield ops.OP_DR_ENTER_ELECT[t]
            self.c[self.DR_ELECTED] = 0
        yield ops.OP_DR_ENTER_GO[t]
        self.c[self.DR_GO] = 0
        yield ops.OP_DR_ENTER_DONE[t]
        self.c[self.DR_DONE] = 0
        yield ops.OP_DR_ENTER_STAGED[t]
        self.c[self.DR_STAGED] = 0
        yield ops.OP_DR_ENTER_PUBLISH[t]
        self.c[self.DR_PENDING] = block_num
        self._ghost_restart("drain-enter", g, t)
        return True

    # ------------------------------------------------------------------ Tier 0

    def dispatch_sync_tier(
        self, t: int, qexp: QExp
    ) -> Generator[Op, bool, tuple[bool, bool, QExp, Seen, bool]]:
        """dispatch_ready_tasks' Tier 0: run_staging_order over ready_sync_queues. Returns (progress, impure,
        qexp, reads, entered_drain)."""
        ops = self.ops[t]
        progress = False
        impure = False
        reads: Seen = ()
        order = (K.SHAPE_AIC, K.SHAPE_AIV) if t % 2 == 0 else (K.SHAPE_AIV, K.SHAPE_AIC)
        p, i, qexp, entered = yield from self.dispatch_sync_shape(t, K.SHAPE_MIX, 0, qexp)
        progress, impure = progress or p, impure or i
        if entered:
            return progress, impure, qexp, reads, True
        yield ops.OP_SQ_RESIDUAL[t]
        skip, i, qexp = self._fx_sync_residual(qexp)
        impure = impure or i
        if not skip:
            for s in order:
                p, i, qexp, entered = yield from self.dispatch_sync_shape(t, s, 0, qexp)
                progress, impure = progress or p, impure or i
                if entered:
                    return progress, impure, qexp, reads, True
        yield ops.OP_GATE[t][K.SHAPE_MIX]
        idle_peer, r = self._fx_idle_in_others(t, K.SHAPE_MIX)
        reads = reads + r
        if not idle_peer:
            p, i, qexp, entered = yield from self.dispatch_sync_shape(t, K.SHAPE_MIX, 1, qexp)
            progress, impure = progress or p, impure or i
            if entered:
                return progress, impure, qexp, reads, True
        if not skip:
            yield ops.OP_SQ_RESIDUAL[t]
            skip, i, qexp = self._fx_sync_residual(qexp)
            impure = impure or i
        if skip:
            return progress, impure, qexp, reads, False
        for s in order:
            yield ops.OP_GATE[t][s]
            idle_peer, r = self._fx_idle_in_others(t, s)
            reads = reads + r
            if idle_peer:
                continue
            p, i, qexp, entered = yield from self.dispatch_sync_shape(t, s, 1, qexp)
            progress, impure = progress or p, impure or i
            if entered:
                return progress, impure, qexp, reads, True
        return progress, impure, qexp, reads, False

    def _fx_sync_residual(self, qexp: QExp) -> tuple[bool, bool, QExp]:
        """has_residual_sync_mix. Returns (residual, impure, qexp)."""
        qi = self.sync_q[K.SHAPE_MIX]
        now = self.queues[qi].contents()
        for q, exp in qexp:
            if q == qi:
                return len(now) > 0, len(now) != len(exp), qexp
        return len(now) > 0, False, _qset(qexp, qi, now)

    def _sync_push_batch_op(self, s: int, n: int) -> Op:
        c = self.c
        q = self.queues[self.sync_q[s]]
        enq, deq, cap = q.enq_cell, q.deq_cell, q.capacity
        return Op(OpKind.PUSH, f"dispatch_shape: push_batch {n} back to {q.name} (retry while full)",
                  C.DISPATCH_SHAPE, (enq, deq), (enq,), Order.RELEASE,
                  lambda: n <= cap and c[enq] - c[deq] + n <= cap)

    def dispatch_sync_shape(
        self, t: int, shape: int, pending: int, qexp: QExp
    ) -> Generator[Op, bool, tuple[bool, bool, QExp, bool]]:
        """dispatch_shape over ready_sync_queues[shape] (every item requires sync_start)."""
        ops = self.ops[t]
        qi = self.sync_q[shape]

        progress = False
        impure = False
        entered = False
        is_mix = shape == K.SHAPE_MIX
        cores = self.tr_aic_mask[t] if is_mix else self._fx_dispatchable(t, shape, pending)
        while cores and not entered:
            want = _popcount(cores)
            yield ops.OP_SQ_POP[t][shape][pending]
            batch = self.queues[qi].pop_batch(want)
            if not batch:
                qexp, changed = _qnote(qexp, qi, ())
                impure = impure or changed
                break
            if self.queues[qi].size() > 0:
                impure = True
            put_back: tuple[int, ...] = ()
            handles: tuple[tuple[int, int], ...] = ()
            dispatched_any = False
            for bi in range(len(batch)):
                g = batch[bi]
                selected = 0
                if is_mix:
                    selected = self._fx_mix_select(t, cores, g, pending)
                    if not selected:
                        yield ops.OP_SQ_REPUSH[shape]
                        self.queues[qi].push(g)
                        put_back = (*put_back, g)
                        continue
                if pending:  # a sync_start cohort never goes to pending slots
                    yield ops.OP_SQ_REPUSH[shape]
                    self.queues[qi].push(g)
                    put_back = (*put_back, g)
                    continue
                available = _popcount(selected) if is_mix else _popcount(cores)
                block_num = self.c[self.S_BLOCKS + g]
                if available < block_num:
                    for hi in range(len(handles)):  # flush_publish before enter_drain_mode
                        k, tok = handles[hi]
                        yield ops.OP_PUBLISH[k]
                        self._fx_publish_token(k, tok)
                        progress = True
                    handles = ()
                    won = yield from self.enter_drain_mode(t, g, block_num)
                    if not won:
                        yield ops.OP_SQ_REPUSH[shape]
                        self.queues[qi].push(g)
                    for rem in range(bi + 1, len(batch)):
                        yield ops.OP_SQ_REPUSH[shape]
                        self.queues[qi].push(batch[rem])
                    entered = True
                    impure = True
                    break
                if not cores:
                    for hi in range(len(handles)):
                        k, tok = handles[hi]
                        yield ops.OP_PUBLISH[k]
                        self._fx_publish_token(k, tok)
                        progress = True
                    handles = ()
                    rest = batch[bi:]
                    yield self.aug(self._sync_push_batch_op(shape, len(rest)), t)
                    self.queues[qi].push_batch(rest)
                    impure = True
                    break
                yield ops.OP_CLAIM_BLOCKS[g]
                start, claim = self._fx_claim_blocks(g, available)
                if claim == 0:
                    continue
                dispatched_any = True
                impure = True
                if start + claim < block_num:
                    yield ops.OP_SQ_REPUSH[shape]
                    self.queues[qi].push(g)
                for b in range(claim):
                    if is_mix:
                        off = _low_bit(selected)
                        selected &= selected - 1
                        cores &= ~(1 << off)
                    else:
                        off = _low_bit(cores)
                        cores &= cores - 1
                    handles = handles + self._fx_prepare_block(t, off, g, shape, pending, start + b)
                for hi in range(len(handles)):  # any_sync_start: flush per task
                    k, tok = handles[hi]
                    yield ops.OP_PUBLISH[k]
                    self._fx_publish_token(k, tok)
                    progress = True
                handles = ()
            for hi in range(len(handles)):
                k, tok = handles[hi]
                yield ops.OP_PUBLISH[k]
                self._fx_publish_token(k, tok)
                progress = True
            if entered:
                break
            if not dispatched_any:
                qexp, changed = _qnote(qexp, qi, put_back)
                impure = impure or changed
                break
            if not cores:
                cores = self.tr_aic_mask[t] if is_mix else self._fx_dispatchable(t, shape, pending)
        return progress, impure, qexp, entered
