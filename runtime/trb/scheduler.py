"""Scheduler threads: init (handshake), run(), SchedulerContext::resolve_and_dispatch, shutdown.

One loop iteration of resolve_and_dispatch as steps: load completed_; (no running cores)
handle_orchestrator_exit's loads; Phase 1: per running core a COND load, then the transition's effects
(complete_slot_task: completed_subtasks fetch_add, on_task_complete's locked mark+snapshot and one
fetch_add (+ route) per fanout node, the deferred-release append, flushing the whole buffer first when it
is full); the completed_tasks_ fetch_add; Phase 3: dummy_ready_queue pop_batch and inline completion;
Phase 4: dispatch_ready_tasks (per stage: a pop_batch, per task a next_block_idx CAS, re-pushes, then one
DATA_MAIN_BASE store per prepared subtask); idle path: on_task_release for every deferred entry (LIFO),
drain_pending_ring_advances, check_idle_fatal_error.

Spinning: an iteration that changed nothing (no transition, no dispatch, no release, nothing popped that
it kept, no queue that two of its passes saw hold different contents) and whose reads it remembers, is
followed by a blocked wait that becomes runnable only when one of the locations it read holds a different
value (or a queue it drained holds something other than what it put back). The wait carries the scheduler
watchdog as its backstop. The 1024-idle-iteration cadence of check_idle_fatal_error is abstracted to
"every idle iteration" (an idle iteration can repeat any number of times in real time).

Phase 2 (the sync_start drain) and Tier 0 of dispatch_ready_tasks (ready_sync_queues) are in
runtime/trb/sync_drain.py; they run only for a plan with a schedulable sync_start cohort (otherwise the
sync queues are always empty and sync_start_pending always 0: those loads are left out).

Early dispatch (Phase 4b, the gated-core skip and Case 3.3 of Phase 1, the release sink of on_task_complete,
record_published_blocks + propagate_dispatch_fanin after dispatch_shape's flush) lives in early_dispatch.py
and runs only in scenarios with an allow_early_resolve submit.

Not ported (scenarios using them are rejected by the plan): sync_start cohorts of early-dispatch tasks
(the gated drain, the rendezvous), async completions (the mailbox), dispatch predicates, PMU
single-issue mode.
"""

from __future__ import annotations

from collections.abc import Generator
from operator import itemgetter

from runtime.core import Op, OpKind, Order, ThreadBody
from runtime.trb import cites as C
from runtime.trb import consts as K
from runtime.trb.early_dispatch import EARLY_SINK_CAP
from runtime.trb.shared import Steps
from runtime.trb.sync_drain import SyncDrainThread

Seen = tuple[tuple[int, int], ...]
QExp = tuple[tuple[int, tuple[int, ...]], ...]

# transition bits (SlotTransition)
T_MATCHED, T_RUN_DONE, T_PEND_DONE, T_RUN_FREED, T_PEND_FREED = 1, 2, 4, 8, 16


def _qset(qexp: QExp, q: int, contents: tuple[int, ...]) -> QExp:
    # qexp holds at most one entry per queue (only _qset adds entries): drop it, append the new one
    for i in range(len(qexp)):
        if qexp[i][0] == q:
            return qexp[:i] + qexp[i + 1 :] + ((q, contents),)
    return (*qexp, (q, contents))


def _qnote(qexp: QExp, q: int, contents: tuple[int, ...]) -> tuple[QExp, bool]:
    """Record that queue q holds `contents` after this pass; True when an earlier pass of the same
    iteration saw q hold something else. Such an iteration is impure: the wait guard can compare q
    with one value only, and the next poll starts with the pass that saw the older contents (e.g. the
    MIX/IDLE pass saw the queue empty, then the MIX/PENDING pass popped and re-pushed a task pushed in
    between: the next iteration's MIX/IDLE pass dispatches it)."""
    for _q, exp in qexp:
        if _q == q:
            return _qset(qexp, q, contents), exp != contents
    return (*qexp, (q, contents)), False


def _popcount(v: int) -> int:
    return v.bit_count()


def _low_bit(v: int) -> int:
    return (v & -v).bit_length() - 1


class SchedulerThread(SyncDrainThread):
    # ------------------------------------------------------------------ thread body

    def scheduler_body(self, t: int) -> ThreadBody:
        ops = self.ops[t]
        for run in range(self.runs):
            yield ops.OP_AICPU_LAUNCH[t][run]
            if self.c[self.HOST_RESET]:
                return
            if t == 0:  # init(): the leader's pre_handshake_init, then hs_setup_done_
                yield ops.OP_PRE_HS
                self._fx_pre_handshake()
            else:
                yield ops.OP_WAIT_HS
            owned = self.tr_cores[t]
            for k in owned:  # handshake_owned_clusters phase 1: wait for each owned core's report
                yield ops.OP_HS_CORE[k]
            for k in owned:  # phase 3: open each window (DATA_MAIN_BASE = AICPU_IDLE)
                yield ops.OP_OPEN_WINDOW[k]
                self.c[self.C_DMB + k] = K.AICPU_IDLE_TASK_ID
                self.c[self.C_REG + k] = 1
            self._fx_assign_own_clusters(t)
            yield ops.OP_RUN_COMPLETED[t]
            if self.c[self.X_COMPLETED] == 0:
                yield ops.OP_READ_RT[t] if self.m_sched_no_init_wait else ops.OP_WAIT_INIT[t]
                if self.c[self.E_RT] != 0:
                    if self.cfg.serial_orch_sched:
                        yield ops.OP_SERIAL_WAIT[t]
                        if self.c[self.X_ORCH_DONE] == 0 and self.c[self.X_COMPLETED] == 0:
                            yield from self.emergency_shutdown(t)  # check_idle_fatal_error saw an error
                    yield from self.resolve_and_dispatch(t)
            yield from self.aicpu_thread_exit(t)

    def _fx_pre_handshake(self) -> None:
        c = self.c
        for k in range(self.n_cores):  # memset(core_exec_states_, 0)
            c[self.C_RUN_SLOT + k] = 0
            c[self.C_PEND_SLOT + k] = 0
            c[self.C_RUN_REG + k] = 0
            c[self.C_PEND_REG + k] = 0
            c[self.C_SEQ + k] = 0
            c[self.C_REG + k] = 0
        c[self.X_COMPLETED_TASKS] = 0
        c[self.X_ORCH_DONE] = 0
        total = 0  # total_tasks_ from the SM as the previous run left it
        for r in range(K.NUM_RINGS):
            n = c[self.R_CUR + r]
            if 0 < n <= K.PTO2_SCOPE_TASKS_CAP:
                total += n
        c[self.X_TOTAL_TASKS] = total
        c[self.E_HS_SETUP] = 1

    def _fx_assign_own_clusters(self, t: int) -> None:
        c = self.c
        c[self.T_STATES + t] = self.tr_aic_mask[t] | self.tr_aiv_mask[t]
        c[self.T_PEND_OCC + t] = 0
        for k in self.tr_cores[t]:  # handshake phase 4: CoreExecState with INVALID register ids
            c[self.C_RUN_SLOT + k] = 0
            c[self.C_PEND_SLOT + k] = 0
            c[self.C_RUN_REG + k] = K.AICPU_TASK_INVALID
            c[self.C_PEND_REG + k] = K.AICPU_TASK_INVALID
            c[self.C_SEQ + k] = 0

    # ------------------------------------------------------------------ the dispatch loop

    def resolve_and_dispatch(self, t: int) -> Steps:
        ops = self.ops[t]
        armed = True
        pure = False
        seen: Seen = ()
        qexp: QExp = ()
        while True:
            if pure:
                ok = yield self.aug(self._idle_wait_op(t, seen, qexp, armed), t)
                if not ok:
                    if self._fx_watchdog_fires(t):
                        yield ops.OP_LATCH_TIMEOUT[t]
                        self._fx_latch_timeout(t)
                        yield from self.emergency_shutdown(t)
                        break
                    armed = False  # the watchdog refreshed its timestamp; spin on until something changes
                    continue
                armed = True
                pure = False
            seen = ()
            qexp = ()
            impure = False
            made_progress = False
            yield ops.OP_TOP[t]
            v = self.c[self.X_COMPLETED]
            seen = (*seen, (self.X_COMPLETED, v))
            if v:
                break
            if not self._fx_has_running(t):
                yield ops.OP_ORCH_EXIT[t]
                act, reads = self._fx_orch_exit()
                seen = seen + reads
                if act == 2:
                    yield from self.emergency_shutdown(t)
                    break
                if act == 3:
                    yield ops.OP_SET_COMPLETED[t]
                    self.c[self.X_COMPLETED] = 1
                    break
                if act == 1:
                    break
            # ---- Phase 1: completions ----
            completed_this_turn = 0
            running = self._fx_running_offsets(t)
            for i in range(len(running)):
                off = running[i]
                k = self.tr_cores[t][off]
                pending_gated = False
                if self.early_on:  # a gated running task cannot ACK/FIN: skip its core
                    gated, reads = yield from self.ed_running_gated(t, k)
                    seen = seen + reads
                    if gated:
                        continue
                yield ops.OP_POLL[k]
                cond = self.c[self.C_COND + k]
                seen = (*seen, (self.C_COND + k, cond))
                if self.early_on:
                    pending_gated, reads = yield from self.ed_pending_gated(t, k)
                    seen = seen + reads
                bits, g_run, g_pend = self._fx_decide(k, cond, pending_gated)
                if not bits & T_MATCHED:
                    continue
                if bits & (T_PEND_DONE | T_RUN_DONE):
                    impure = True
                if bits & T_PEND_DONE:
                    completed_this_turn += yield from self.complete_slot_task(t, g_pend)
                if bits & T_RUN_DONE:
                    completed_this_turn += yield from self.complete_slot_task(t, g_run)
                # a re-observed ACK matches on every poll but changes nothing after the first: only a
                # transition that changes the core's or tracker's cells makes the iteration impure
                if self._fx_apply_transition(t, off, k, bits):
                    impure = True
                if bits & T_RUN_DONE:
                    made_progress = True
            if completed_this_turn > 0:
                yield ops.OP_ADD_COMPLETED[t]
                self.c[self.X_COMPLETED_TASKS] += completed_this_turn
            # ---- Phase 2: the sync_start drain (runtime/trb/sync_drain.py) ----
            if self.has_sync_drain:
                if (yield from self.drain_phase2(t)):
                    continue
                seen = (*seen, (self.DR_PENDING, 0))
            # ---- Phase 3: dummy tasks complete inline ----
            yield ops.OP_DUMMY_POP[t]
            batch = self.queues[K.SHAPE_DUMMY].pop_batch(self.consts.dummy_drain_batch)
            if not batch:
                qexp = _qset(qexp, K.SHAPE_DUMMY, ())
            for i in range(len(batch)):
                g = batch[i]
                yield from self.on_task_complete(g, t)
                if self._fx_defer_append(t, g, append_first=True):
                    while self.c[self.T_DEF_COUNT + t] > 0:
                        yield from self.on_task_release(self._fx_defer_pop(t), t)
                yield ops.OP_ADD_ONE[t]
                self.c[self.X_COMPLETED_TASKS] += 1
            if batch:
                made_progress = True
                impure = True
            # ---- Phase 4: dispatch ----
            progress, imp, qexp, reads = yield from self.dispatch_ready_tasks(t, qexp)
            seen = seen + reads
            made_progress = made_progress or progress
            impure = impure or imp
            if self.early_on:  # ---- Phase 4b: early dispatch ----
                progress, imp, qexp, reads = yield from self.try_early_dispatch(t, qexp)
                seen = seen + reads
                made_progress = made_progress or progress
                impure = impure or imp
            if made_progress:
                continue
            # ---- idle path ----
            while self.c[self.T_DEF_COUNT + t] > 0:
                impure = True
                yield from self.on_task_release(self._fx_defer_pop(t), t)
            advanced, imp, reads = yield from self.drain_pending(t)
            seen = seen + reads
            impure = impure or imp
            if advanced:
                continue
            yield ops.OP_IDLE_FATAL[t]
            reads = (
                (self.X_COMPLETED, self.c[self.X_COMPLETED]),
                (self.H_ORCH_ERR, self.c[self.H_ORCH_ERR]),
                (self.H_SCHED_ERR, self.c[self.H_SCHED_ERR]),
            )
            seen = seen + reads
            if self.c[self.X_COMPLETED]:
                break
            if self.c[self.H_ORCH_ERR] != 0 or self.c[self.H_SCHED_ERR] != 0:
                yield from self.emergency_shutdown(t)
                break
            pure = not impure
        while self.c[self.T_DEF_COUNT + t] > 0:  # final flush of the deferred releases
            yield from self.on_task_release(self._fx_defer_pop(t), t)

    def _idle_wait_op(self, t: int, seen: Seen, qexp: QExp, armed: bool) -> Op:
        c = self.c
        # evaluated for every blocked scheduler at every step: compare in C (itemgetter, tuple equality)
        cells = tuple(cell for cell, _v in seen)
        values = tuple(v for _c, v in seen)
        load = itemgetter(*cells) if len(cells) > 1 else None
        watched = tuple((self.queues[q].items, exp) for q, exp in qexp)

        def guard() -> bool:
            if load is not None:
                if load(c) != values:
                    return True
            elif cells and c[cells[0]] != values[0]:
                return True
            for items, exp in watched:  # noqa: SIM110  (a loop, not any(genexpr): no generator per call)
                if len(items) != len(exp) or tuple(items) != exp:
                    return True
            return False

        # the guard's cells, the queues it watches, and what the watchdog check after a backstop reads
        guard_reads = (
            cells
            + tuple(self.queues[q].enq_cell for q, _e in qexp)
            + tuple(self.queues[q].deq_cell for q, _e in qexp)
        )
        reads = guard_reads + self.watchdog_reads
        return Op(
            OpKind.LOAD,
            f"resolve_and_dispatch[{t}]: idle spin until something it read changes",
            C.RESOLVE_AND_DISPATCH,
            reads,
            (),
            Order.ACQUIRE,
            guard,
            "scheduler watchdog (SCHEDULER_TIMEOUT_MS)" if armed else None,
            guard_reads,
        )

    def _fx_has_running(self, t: int) -> bool:
        c = self.c
        return bool(~c[self.T_STATES + t] & (self.tr_aic_mask[t] | self.tr_aiv_mask[t]))

    def _fx_running_offsets(self, t: int) -> tuple[int, ...]:
        c = self.c
        running = ~c[self.T_STATES + t] & (self.tr_aic_mask[t] | self.tr_aiv_mask[t])
        out = []
        while running:
            b = _low_bit(running)
            out.append(b)
            running &= running - 1
        return tuple(out)

    def _fx_orch_exit(self) -> tuple[int, Seen]:
        """handle_orchestrator_exit: 0 = go on, 1 = break, 2 = emergency shutdown + break, 3 = completed."""
        c = self.c
        reads: Seen = ((self.X_COMPLETED, c[self.X_COMPLETED]),)
        if c[self.X_COMPLETED]:
            return 1, reads
        reads = (*reads, (self.H_ORCH_ERR, c[self.H_ORCH_ERR]))
        if c[self.H_ORCH_ERR] != 0:
            return 2, reads
        reads = (*reads, (self.H_SCHED_ERR, c[self.H_SCHED_ERR]))
        if c[self.H_SCHED_ERR] != 0:
            return 2, reads
        reads = (*reads, (self.X_ORCH_DONE, c[self.X_ORCH_DONE]))
        if not c[self.X_ORCH_DONE]:
            return 0, reads
        total = c[self.X_TOTAL_TASKS]
        reads = (*reads, (self.X_TOTAL_TASKS, total), (self.X_COMPLETED_TASKS, c[self.X_COMPLETED_TASKS]))
        if total > 0 and c[self.X_COMPLETED_TASKS] >= total:
            return 3, reads
        return 0, reads

    # ------------------------------------------------------------------ Phase 1

    def _fx_decide(self, k: int, cond: int, pending_gated: bool = False) -> tuple[int, int, int]:
        """decide_slot_transition on the COND value just read; returns (bits, running slot, pending slot).
        `pending_gated`: the pending task is an early-dispatch stage parked on its doorbell (Case 3.3)."""
        c = self.c
        reg_id = cond & K.TASK_ID_MASK
        fin = (cond >> 31) & 1 == K.TASK_FIN_STATE
        run_id = c[self.C_RUN_REG + k]
        pend_id = c[self.C_PEND_REG + k]
        bits = 0
        if pend_id != K.AICPU_TASK_INVALID and reg_id == pend_id:
            bits = T_MATCHED | T_RUN_DONE | T_RUN_FREED | T_PEND_FREED
            if fin:
                bits |= T_PEND_DONE
        elif reg_id == run_id:
            if fin:
                if pend_id == K.AICPU_TASK_INVALID or pending_gated:  # Case 3.2, or 3.3 (promote the gated task)
                    bits = T_MATCHED | T_RUN_DONE | T_RUN_FREED
                # Case 3.1: a non-gated pending task exists -> wait for its ACK
            else:
                bits = T_MATCHED | T_PEND_FREED
        return bits, c[self.C_RUN_SLOT + k] - 1, c[self.C_PEND_SLOT + k] - 1

    def _fx_apply_transition(self, t: int, off: int, k: int, bits: int) -> bool:
        """Apply a matched transition to the core's CoreExecState and the tracker; True if a cell changed."""
        c = self.c
        cells = (self.C_RUN_SLOT + k, self.C_RUN_REG + k, self.C_RUN_SUB + k, self.C_PEND_SLOT + k,
                 self.C_PEND_REG + k, self.T_STATES + t, self.T_PEND_OCC + t)
        before = [c[cell] for cell in cells]
        if bits & T_RUN_FREED:
            if c[self.C_PEND_SLOT + k] != 0 and not bits & T_PEND_DONE:
                c[self.C_RUN_SLOT + k] = c[self.C_PEND_SLOT + k]
                c[self.C_RUN_REG + k] = c[self.C_PEND_REG + k]
                c[self.C_RUN_SUB + k] = c[self.C_PEND_SUB + k]
                c[self.C_PEND_SLOT + k] = 0
                c[self.C_PEND_REG + k] = K.AICPU_TASK_INVALID
            else:
                c[self.C_RUN_SLOT + k] = 0
                c[self.C_RUN_REG + k] = K.AICPU_TASK_INVALID
                if bits & T_PEND_DONE:
                    c[self.C_PEND_SLOT + k] = 0
                    c[self.C_PEND_REG + k] = K.AICPU_TASK_INVALID
        bit = 1 << off
        if c[self.C_RUN_REG + k] == K.AICPU_TASK_INVALID:
            c[self.T_STATES + t] ^= bit  # change_core_state: running -> idle
            c[self.T_PEND_OCC + t] &= ~bit
        elif bits & T_PEND_FREED and c[self.C_PEND_REG + k] == K.AICPU_TASK_INVALID:
            c[self.T_PEND_OCC + t] &= ~bit
        return any(c[cell] != old for cell, old in zip(cells, before, strict=True))

    def complete_slot_task(self, t: int, g: int) -> Generator[Op, bool, int]:
        ops = self.ops[t]
        yield ops.OP_SUB[g]
        prev = self.c[self.S_DONE + g]
        self.c[self.S_DONE + g] = (prev + 1) & 0xFFFF
        if ((prev + 1) & 0xFFFF) != (self.c[self.S_TOTAL + g] & 0xFFFF):
            return 0
        # ghost: the task completing here (its slot may be consumed and rebound before the append below when
        # the fanout walk is long, e.g. an early-dispatch release: the entry then already names the new task)
        task = self.task_of_slot(g)
        yield from self.on_task_complete(g, t)
        if self._fx_defer_append(t, g, append_first=False, task=task):
            while self.c[self.T_DEF_COUNT + t] > 0:
                yield from self.on_task_release(self._fx_defer_pop(t), t)
            if not self.m_defer_drop:
                self._fx_defer_push(t, g, task)
        return 1

    def _fx_defer_append(self, t: int, g: int, append_first: bool, task: int | None = None) -> bool:
        """Append to the deferred-release buffer. complete_slot_task (append_first=False) appends only when
        there is room and returns True when the caller must flush first (then append); the dummy path appends
        first and returns True when the buffer reached capacity (flush)."""
        c = self.c
        n = c[self.T_DEF_COUNT + t]
        if append_first:
            self._fx_defer_push(t, g, task)
            return n + 1 >= self.defer_cap
        if n < self.defer_cap:
            self._fx_defer_push(t, g, task)
            return False
        return True

    def _fx_defer_push(self, t: int, g: int, task: int | None = None) -> None:
        c = self.c
        n = c[self.T_DEF_COUNT + t]
        if n >= self.def_cells:  # cannot happen: one entry per completion, and at most one past the capacity
            self.crash = "port limit: more deferred releases than slots (TrbState.def_cells)"
            return
        c[self.T_DEF[t] + n] = g + 1
        c[self.T_DEF_COUNT + t] = n + 1
        self.ghost_deferred[(t, n)] = self.task_of_slot(g) if task is None else task

    def _fx_defer_pop(self, t: int) -> int:
        """Pop the newest deferred release; a ghost "release-rebound" event records an on_task_release that
        starts on a slot the orchestrator has rebound since the task completed (INV-R7)."""
        c = self.c
        n = c[self.T_DEF_COUNT + t] - 1
        c[self.T_DEF_COUNT + t] = n
        g = c[self.T_DEF[t] + n] - 1
        then = self.ghost_deferred.pop((t, n), -1)
        now = self.task_of_slot(g)
        if then != now:
            self.ghost("release-rebound", then, now)
        return g

    def on_task_complete(self, g: int, t: int) -> Steps:
        ops = self.ops[t]
        ge = g
        sink: tuple[int, ...] = ()  # EarlyDispatchReleaseSink (early dispatch only)
        if self.m_slot_by_id and self.c[self.D_LOCAL + g] >= self.windows[self.slot_ring[g]]:
            ge = self.phantom  # the slot array indexed by an id beyond the window
        yield ops.OP_OTC[ge]
        node = self._fx_mark_completed(ge)
        while node:
            cons = self.c[self.N_CONS + node - 1] - 1
            nxt = self.c[self.N_NEXT + node - 1]
            if cons < 0:
                self.crash = "null consumer in a fanout node (release_fanin_and_check_ready on nullptr)"
                return
            yield ops.OP_FRC[cons]
            rc = self.c[self.S_FRC + cons] + 1
            self.c[self.S_FRC + cons] = rc
            if rc == self.c[self.S_FCOUNT + cons]:
                if self.early_on:
                    if (yield from self.ed_route_ready_once(cons, t, len(sink) < EARLY_SINK_CAP)):
                        sink = (*sink, cons)
                else:
                    yield from self.route_ready_once(cons, t)
            node = nxt
        if sink:
            yield from self.ed_flush_sink(sink, t)

    def _fx_mark_completed(self, g: int) -> int:
        c = self.c
        c[self.S_STATE + g] = K.COMPLETED
        c[self.S_FLAGS + g] |= K.COMPLETION_DONE
        task = self.task_of_slot(g)
        if task >= 0:
            self.ghost_completed[self.round][task] += 1
            self.ghost("completed", task)
        return c[self.S_HEAD + g]

    def on_task_release(self, g: int, t: int) -> Steps:
        n = self.c[self.P_FANIN + g]
        for i in range(n):
            p, f = self.read_edge(g, i)
            if not f & K.DEP_RETAIN:
                continue  # ordering-only edges dropped their pin at wiring
            yield from self.release_producer(p, False, t)
        yield from self.check_and_handle_consumed(g, t)

    # ------------------------------------------------------------------ Phase 4

    def dispatch_ready_tasks(self, t: int, qexp: QExp) -> Generator[Op, bool, tuple[bool, bool, QExp, Seen]]:
        """run_staging_order over the regular ready queues (Tier 1)."""
        ops = self.ops[t]
        progress = False
        impure = False
        reads: Seen = ()
        if self.has_sync_drain:  # Tier 0: ready_sync_queues (runtime/trb/sync_drain.py)
            progress, impure, qexp, reads, entered_drain = yield from self.dispatch_sync_tier(t, qexp)
            if entered_drain:
                return progress, impure, qexp, reads
        order = (K.SHAPE_AIC, K.SHAPE_AIV) if t % 2 == 0 else (K.SHAPE_AIV, K.SHAPE_AIC)
        p, i, qexp = yield from self.dispatch_shape(t, K.SHAPE_MIX, 0, qexp)
        progress, impure = progress or p, impure or i
        yield ops.OP_RESIDUAL[t]
        skip, i, qexp = self._fx_residual(qexp)
        impure = impure or i
        if not skip:
            for s in order:
                p, i, qexp = yield from self.dispatch_shape(t, s, 0, qexp)
                progress, impure = progress or p, impure or i
        yield ops.OP_GATE[t][K.SHAPE_MIX]
        idle_peer, r = self._fx_idle_in_others(t, K.SHAPE_MIX)
        reads = reads + r
        if not idle_peer:
            p, i, qexp = yield from self.dispatch_shape(t, K.SHAPE_MIX, 1, qexp)
            progress, impure = progress or p, impure or i
        if not skip:
            yield ops.OP_RESIDUAL[t]
            skip, i, qexp = self._fx_residual(qexp)
            impure = impure or i
        if skip:
            return progress, impure, qexp, reads
        for s in order:
            yield ops.OP_GATE[t][s]
            idle_peer, r = self._fx_idle_in_others(t, s)
            reads = reads + r
            if idle_peer:
                continue
            p, i, qexp = yield from self.dispatch_shape(t, s, 1, qexp)
            progress, impure = progress or p, impure or i
        return progress, impure, qexp, reads

    def _fx_residual(self, qexp: QExp) -> tuple[bool, bool, QExp]:
        """has_residual_mix: the MIX queue is non-empty. Returns (residual, impure, qexp)."""
        q = self.queues[K.SHAPE_MIX]
        now = q.contents()
        for qi, exp in qexp:
            if qi == K.SHAPE_MIX:
                return len(now) > 0, len(now) != len(exp), qexp
        return len(now) > 0, False, _qset(qexp, K.SHAPE_MIX, now)

    def _fx_idle_in_others(self, t: int, shape: int) -> tuple[bool, Seen]:
        """has_idle_in_other_threads: a racy read of the peers' trackers (a scheduling hint)."""
        c = self.c
        reads: Seen = ()
        found = False
        for p in range(self.n_sched):
            if p == t:
                continue
            states, occ = c[self.T_STATES + p], c[self.T_PEND_OCC + p]
            reads = (*reads, (self.T_STATES + p, states), (self.T_PEND_OCC + p, occ))
            if not found and self._idle_cores(p, shape, states, occ):
                found = True
        return found, reads

    def _idle_cores(self, t: int, shape: int, states: int, occ: int) -> int:
        """get_idle_core_offset_states(shape) of tracker t for the given tracker words."""
        am, vm = self.tr_aic_mask[t], self.tr_aiv_mask[t]
        if shape == K.SHAPE_AIC:
            return states & am & ~(occ & am)
        if shape == K.SHAPE_AIV:
            return states & vm
        return (states >> 1) & (states >> 2) & states & am  # MIX: every core of the cluster idle

    def _fx_dispatchable(self, t: int, shape: int, pending: int) -> int:
        c = self.c
        states, occ = c[self.T_STATES + t], c[self.T_PEND_OCC + t]
        am, vm = self.tr_aic_mask[t], self.tr_aiv_mask[t]
        if not pending:
            return self._idle_cores(t, shape, states, occ)
        if shape == K.SHAPE_AIC:
            return ~states & am & ~(occ & am)
        return ~states & vm & ~occ

    def dispatch_shape(self, t: int, shape: int, pending: int, qexp: QExp) -> Generator[Op, bool, tuple[bool, bool, QExp]]:
        ops = self.ops[t]
        progress = False
        impure = False
        is_mix = shape == K.SHAPE_MIX
        cores = self.tr_aic_mask[t] if is_mix else self._fx_dispatchable(t, shape, pending)
        while cores:
            want = _popcount(cores)
            yield ops.OP_POP[t][shape][pending]
            batch = self.queues[shape].pop_batch(want)
            if not batch:
                qexp, changed = _qnote(qexp, shape, ())
                impure = impure or changed
                break
            if self.queues[shape].size() > 0:
                impure = True  # items this pass has not looked at remain queued
            put_back: tuple[int, ...] = ()
            handles: tuple[tuple[int, int], ...] = ()
            published: tuple[tuple[int, int], ...] = ()  # (slot, blocks) ranges claimed by this pop
            dispatched_any = False
            for bi in range(len(batch)):
                g = batch[bi]
                selected = 0
                if is_mix:
                    selected = self._fx_mix_select(t, cores, g, pending)
                    if not selected:
                        yield ops.OP_REPUSH[shape]
                        self.queues[shape].push(g)
                        put_back = (*put_back, g)
                        continue
                if not cores:
                    for hi in range(len(handles)):
                        k, tok = handles[hi]
                        yield ops.OP_PUBLISH[k]
                        self._fx_publish_token(k, tok)
                        progress = True
                    handles = ()
                    rest = batch[bi:]
                    yield self.aug(self._push_batch_op(shape, len(rest)), t)
                    self.queues[shape].push_batch(rest)
                    impure = True
                    break
                available = _popcount(selected) if is_mix else _popcount(cores)
                yield ops.OP_CLAIM_BLOCKS[g]
                start, claim = self._fx_claim_blocks(g, available)
                if claim == 0:
                    continue
                dispatched_any = True
                impure = True
                published = (*published, (g, claim))
                if start + claim < self.c[self.S_BLOCKS + g]:
                    yield ops.OP_REPUSH[shape]
                    self.queues[shape].push(g)
                for b in range(claim):
                    if is_mix:
                        off = _low_bit(selected)
                        selected &= selected - 1
                        cores &= ~(1 << off)
                    else:
                        off = _low_bit(cores)
                        cores &= cores - 1
                    handles = handles + self._fx_prepare_block(t, off, g, shape, pending, start + b)
            for hi in range(len(handles)):
                k, tok = handles[hi]
                yield ops.OP_PUBLISH[k]
                self._fx_publish_token(k, tok)
                progress = True
            if self.early_on:
                yield from self.ed_after_publish(t, published)
            if not dispatched_any:
                qexp, changed = _qnote(qexp, shape, put_back)
                impure = impure or changed
                break
            if not cores:
                cores = self.tr_aic_mask[t] if is_mix else self._fx_dispatchable(t, shape, pending)
        return progress, impure, qexp

    def _push_batch_op(self, shape: int, n: int) -> Op:
        c = self.c
        q = self.queues[shape]
        enq, deq, cap = q.enq_cell, q.deq_cell, q.capacity
        return Op(
            OpKind.PUSH,
            f"dispatch_shape: push_batch {n} back to {q.name} (retry while full)",
            C.DISPATCH_SHAPE,
            (enq, deq),
            (enq,),
            Order.RELEASE,
            lambda: n <= cap and c[enq] - c[deq] + n <= cap,
        )

    def _fx_mix_select(self, t: int, cores: int, g: int, pending: int) -> int:
        """Clusters of `cores` whose classify_mix_cluster placement is the one this phase wants."""
        c = self.c
        states, occ = c[self.T_STATES + t], c[self.T_PEND_OCC + t]
        mask = c[self.S_MASK + g]
        out = 0
        rest = cores
        while rest:
            off = _low_bit(rest)
            rest &= rest - 1
            used = 0
            if mask & K.MASK_AIC:
                used |= 1 << off
            if mask & K.MASK_AIV0:
                used |= 1 << (off + 1)
            if mask & K.MASK_AIV1:
                used |= 1 << (off + 2)
            if not used or occ & used:
                continue  # REJECT
            placement_running = _popcount(states & used) == _popcount(used)
            if placement_running != bool(pending):
                out |= 1 << off
        return out

    def _fx_claim_blocks(self, g: int, available: int) -> tuple[int, int]:
        c = self.c
        current = c[self.S_NEXT + g]
        limit = c[self.S_BLOCKS + g]
        if current < limit and available > 0:
            count = min(limit - current, available)
            c[self.S_NEXT + g] = current + count
            return current, count
        return current, 0

    def _fx_prepare_block(
        self, t: int, off: int, g: int, shape: int, pending: int, block: int, force_gate: bool = False
    ) -> tuple[tuple[int, int], ...]:
        if shape == K.SHAPE_MIX:
            c = self.c
            mask = c[self.S_MASK + g]
            states = c[self.T_STATES + t]
            out = []
            for bitmask, sub, o in ((K.MASK_AIC, K.SUB_AIC, off), (K.MASK_AIV0, K.SUB_AIV0, off + 1),
                                    (K.MASK_AIV1, K.SUB_AIV1, off + 2)):
                if mask & bitmask:
                    to_pending = bool(pending) and not (states >> o) & 1
                    out.append(self._fx_prepare_subtask(t, o, g, sub, to_pending, block, force_gate))
            return tuple(out)
        sub = K.SUB_AIC if shape == K.SHAPE_AIC else K.SUB_AIV0
        return (self._fx_prepare_subtask(t, off, g, sub, bool(pending), block, force_gate),)

    def _fx_prepare_subtask(
        self, t: int, off: int, g: int, sub: int, to_pending: bool, block: int, force_gate: bool = False
    ) -> tuple[int, int]:
        c = self.c
        k = self.tr_cores[t][off]
        seq = (c[self.C_SEQ + k] + 1) & 0xFFFFFFFF
        token = seq & K.TASK_ID_MASK
        if token >= K.AICORE_EXIT_SIGNAL:
            seq = (seq + (K.TASK_ID_MASK - token + 1)) & 0xFFFFFFFF
            token = seq & K.TASK_ID_MASK
        c[self.C_SEQ + k] = seq
        if self.m_token_local:
            token = (c[self.D_LOCAL + g] + 1) & K.TASK_ID_MASK
        self.ghost_token[(k, token)] = (self.round, self.task_of_slot(g), block)
        if self.early_on:
            self.ed_set_gate(k, token, g, force_gate)
        if to_pending:
            c[self.C_PEND_SUB + k] = sub
            c[self.C_PEND_SLOT + k] = g + 1
            c[self.C_PEND_REG + k] = token
        else:
            c[self.C_RUN_SUB + k] = sub
            c[self.C_RUN_SLOT + k] = g + 1
            c[self.C_RUN_REG + k] = token
            c[self.T_STATES + t] ^= 1 << off
        c[self.T_PEND_OCC + t] |= 1 << off
        return k, token

    def _fx_publish_token(self, k: int, token: int) -> None:
        self.c[self.C_DMB + k] = token
        _run, task, block = self.ghost_token.get((k, token), (self.round, -1, 0))
        if task >= 0:
            self.ghost("dispatch", task, block)

    # ------------------------------------------------------------------ idle path

    def drain_pending(self, t: int) -> Generator[Op, bool, tuple[bool, bool, Seen]]:
        ops = self.ops[t]
        yield ops.OP_DRAIN_LOAD[t]
        pending = self.c[self.H_ADV_PENDING]
        reads: Seen = ((self.H_ADV_PENDING, pending),)
        if pending == 0:
            return False, False, reads
        advanced = False
        impure = False
        for r in range(K.NUM_RINGS):
            if not pending & (1 << r):
                continue
            yield ops.OP_DRAIN_TRY[r]
            if not self._fx_try_lock(r):
                reads = (*reads, (self.R_ALOCK + r, 1))
                continue
            impure = True
            yield ops.OP_DRAIN_CLEAR[r]
            self.c[self.H_ADV_PENDING] &= ~(1 << r)
            before = self.c[self.R_SLA + r]
            yield from self.advance_ring_pointers(r, t)
            if self.c[self.R_SLA + r] != before:
                advanced = True
        return advanced, impure, reads

    def _fx_watchdog_fires(self, t: int) -> bool:
        c = self.c
        self_owns = any(c[self.C_RUN_SLOT + k] != 0 for k in self.tr_cores[t])
        if self_owns:
            return True
        nobody = all(c[self.C_RUN_SLOT + k] == 0 for k in range(self.n_cores))
        total = c[self.X_TOTAL_TASKS]
        return total > 0 and c[self.X_COMPLETED_TASKS] < total and nobody

    def _fx_latch_timeout(self, t: int) -> None:
        """latch_scheduler_error(SCHEDULER_TIMEOUT) with classify_stall_reason's sub-class."""
        c = self.c
        if c[self.H_SCHED_ERR] == K.ERROR_NONE:
            c[self.H_SCHED_ERR] = K.SCHEDULER_TIMEOUT
            c[self.H_SCHED_ERR_THREAD] = t
            c[self.H_STALL_DETAIL] = self._classify_stall()
        c[self.H_SCHED_ERR_BITMAP] |= 1 << t

    def _classify_stall(self) -> int:
        c = self.c
        running = ready = waiting = 0
        for r in range(K.NUM_RINGS):
            for tid in range(c[self.R_LA + r], c[self.R_CUR + r]):
                g = self.slot_of(r, tid)
                if c[self.S_STATE + g] >= K.COMPLETED:
                    continue
                if any(c[self.C_RUN_SLOT + k] == g + 1 for k in range(self.n_cores)):
                    running += 1
                elif c[self.S_FRC + g] >= c[self.S_FCOUNT + g]:
                    ready += 1
                else:
                    waiting += 1
        if running:
            return K.STALL_RUNNING
        if ready:
            return K.STALL_READY_IDLE
        if waiting:
            return K.STALL_DEP_DEADLOCK
        if not c[self.X_ORCH_DONE]:
            return K.STALL_ORCH_STARVATION
        return K.STALL_UNKNOWN
