"""Step sequences both the orchestrator and the scheduler threads run (pto_scheduler.h inline methods).

Each generator yields the Op it is about to perform; the code after a `yield` is that step's effect.
Effects live in `_fx_*` methods so generator frames only hold plain values (see runtime.core).
"""

from __future__ import annotations

from collections.abc import Generator

from runtime.core import Op
from runtime.trb import consts as K
from runtime.trb.state import TrbState

Steps = Generator[Op, bool, None]


class SharedSteps(TrbState):
    # ------------------------------------------------------------------ release / consume / advance

    def release_producer(self, g: int, scope: bool, e: int) -> Steps:
        """release_producer / release_producer_scope: fetch_add, then check_and_handle_consumed.
        `e` is the executor (scheduler thread index, or orch_tidx) whose op views are announced."""
        ops = self.ops[e]
        yield ops.OP_REL_SCOPE[g] if scope else ops.OP_REL[g]
        self._fx_release(g, scope)
        yield from self.check_and_handle_consumed(g, e)

    def _fx_release(self, g: int, scope: bool) -> None:
        c = self.c
        c[self.S_RC + g] = (c[self.S_RC + g] + (K.SCOPE_BIT if scope else 1)) & 0xFFFFFFFF

    def check_and_handle_consumed(self, g: int, e: int) -> Steps:
        ops = self.ops[e]
        yield ops.OP_CHC[g]
        if not self._fx_consume(g):
            return
        r = self.c[self.S_RING + g]
        if self.m_advance_no_lock:
            yield from self.advance_unlocked(r, e)
            return
        yield ops.OP_ADV_TRY[r]
        if self._fx_try_lock(r):
            yield from self.advance_ring_pointers(r, e)
            return
        if self.m_no_pending_mask:
            return
        yield ops.OP_MARK_PENDING[r]
        self.c[self.H_ADV_PENDING] |= 1 << r

    def _fx_consume(self, g: int) -> bool:
        """Under L(P): fanout_refcount == fanout_count -> CAS COMPLETED->CONSUMED."""
        c = self.c
        if c[self.S_RC + g] != c[self.S_FC + g]:
            return False
        if c[self.S_STATE + g] != K.COMPLETED:
            return False
        c[self.S_STATE + g] = K.CONSUMED
        task = self.task_of_slot(g)
        if task >= 0:
            self.ghost_consumed[self.round][task] += 1
            self.ghost("consumed", task)
        return True

    def _fx_try_lock(self, r: int) -> bool:
        c = self.c
        if c[self.R_ALOCK + r] != 0:
            return False
        c[self.R_ALOCK + r] = 1
        return True

    def advance_ring_pointers(self, r: int, e: int) -> Steps:
        """RingSchedState::advance_ring_pointers with advance_lock held; releases the lock at the end."""
        ops = self.ops[e]
        yield ops.OP_ADV_CUR[r]
        cur = self.c[self.R_CUR + r]
        yield self.aug(self.scan_op(r, self.c[self.R_SLA + r], cur, locked=True), e)
        self._fx_scan(r, self.c[self.R_SLA + r], cur, publish=True)
        yield ops.OP_ADV_UNLOCK[r]
        self.c[self.R_ALOCK + r] = 0

    def _fx_scan(self, r: int, la: int, cur: int, publish: bool) -> int:
        """Advance over the CONSUMED prefix [la, cur), reset the passed slots; optionally sync_to_sm."""
        c = self.c
        old = la
        base, mask = self.slot_base[r], self.masks[r]
        while la < cur:
            g = base + (la & mask)
            if c[self.S_STATE + g] != K.CONSUMED:
                break
            la += 1
        for tid in range(old, la):
            self._reset_for_reuse(base + (tid & mask))
        if publish:
            c[self.R_SLA + r] = la
            c[self.R_LA + r] = la
            if self.data is not None:
                self.data.on_last_alive(r, la)
        return la

    def _reset_for_reuse(self, g: int) -> None:
        """PTO2TaskSlotState::reset_for_reuse (task_state stays as it is)."""
        c = self.c
        c[self.S_LOCK + g] = 0
        c[self.S_FC + g] = K.SCOPE_BIT
        c[self.S_HEAD + g] = 0
        c[self.S_FRC + g] = 0
        c[self.S_RC + g] = 0
        c[self.S_DONE + g] = 0
        c[self.S_NEXT + g] = 0
        c[self.S_FLAGS + g] = 0

    def advance_unlocked(self, r: int, e: int) -> Steps:
        """Mutant M_ADVANCE_NO_LOCK: the pre-#171 advance, three unlocked steps."""
        ops = self.ops[e]
        yield ops.OP_ADVNL_READ[r]
        la = self.c[self.R_SLA + r]
        cur = self.c[self.R_CUR + r]
        yield self.aug(self.scan_op(r, la, cur, locked=False), e)
        new = self._fx_scan(r, la, cur, publish=False)
        yield ops.OP_ADVNL_WRITE[r]
        self.c[self.R_SLA + r] = new
        self.c[self.R_LA + r] = new
        if self.data is not None:
            self.data.on_last_alive(r, new)

    # ------------------------------------------------------------------ readiness

    def route_ready_once(self, g: int, e: int) -> Steps:
        yield self.ops[e].OP_ROUTE[g]
        if self.c[self.S_FLAGS + g] & K.READY_CLAIMED:
            return
        self.c[self.S_FLAGS + g] |= K.READY_CLAIMED
        self._fx_push_ready(g)

    def _fx_push_ready(self, g: int) -> None:
        """push_ready_routed's queue choice; the push's result is ignored as in the C++."""
        mask = self.c[self.S_MASK + g]
        q = 3 if mask == 0 else self._shape_of(mask)
        pushed = self.queues[q].push(g)
        task = self.task_of_slot(g)
        if task >= 0:
            self.ghost("ready" if pushed else "ready-dropped", task, q)

    @staticmethod
    def _shape_of(mask: int) -> int:
        m = mask & 7
        if m == 0:
            return K.SHAPE_DUMMY
        if m & (m - 1):
            return K.SHAPE_MIX
        return K.SHAPE_AIC if m & K.MASK_AIC else K.SHAPE_AIV

    # ------------------------------------------------------------------ emergency shutdown

    def emergency_shutdown(self, tid: int) -> Steps:
        """emergency_shutdown: begin (exchange + completed_), then signal every handshaken core and join it."""
        ops = self.ops[tid]
        yield ops.OP_EMERG_XCHG[tid]
        first = self.c[self.X_FATAL_STARTED] == 0
        self.c[self.X_FATAL_STARTED] = 1
        yield ops.OP_EMERG_COMPLETED[tid]
        self.c[self.X_COMPLETED] = 1
        if not first:
            return
        cores = tuple(k for k in range(self.n_cores) if self.c[self.C_REG + k] != 0)
        for k in cores:
            yield ops.OP_SIGNAL_EXIT[k]
            self.c[self.C_DMB + k] = K.AICORE_EXIT_SIGNAL
        for k in cores:
            ok = yield ops.OP_FINISH_EXIT[k]
            if ok:
                self.c[self.C_DMB + k] = K.AICPU_IDLE_TASK_ID
