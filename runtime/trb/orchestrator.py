"""The orchestrator thread: AicpuExecutor::run's orchestrator branch and everything it calls.

Submit path (submit_task_common, RT/pto_orchestrator.cpp) as steps:
  prepare_task: scope check (private) -> alloc: load la + update_heap_tail + window/heap check (one step,
  the check is private) -> [spin on la: a guarded wait, 500 ms backstop] -> commit_task: store cur (rel)
  -> prepare the slot: reset_for_reuse + task_state = PENDING (rlx) + scope push (one step);
  STEP 2: load la, sync_tensormap; STEP 1: per explicit dep a load of its ring's la and a claim; STEP 3:
  per creator / TensorMap producer one claim (append_fanin_or_fail, one step under L(P)); STEP 4: reserve
  TensorMap capacity (waits), then registration + descriptor + payload (one private step);
  STEP 6: (a) publish+push, (b) one load of every producer's state, WAIT-only pin releases, push, or
  (c) dep-pool reserve (waits), then per WAIT edge one step under L(P) (+ pin release), the
  fanin_refcount fetch_add, and route_ready_once.
"""

from __future__ import annotations

from collections.abc import Generator

from model.scenario import ScopeMode, Tag
from runtime.core import Cite, Op, OpKind, Order, ThreadBody
from runtime.trb import cites as C
from runtime.trb import consts as K
from runtime.trb.early_dispatch import EarlyDispatchSteps
from runtime.trb.plan import I_ALLOC, I_BEGIN, I_END, I_SUBMIT, I_TDATA
from runtime.trb.shared import Steps
from runtime.trb.startup import abort_startup
from runtime.trb.tensormap import COVERED, ProbeTensor

Edges = tuple[tuple[int, int], ...]


def _i32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


class OrchestratorThread(EarlyDispatchSteps):
    # ------------------------------------------------------------------ thread body

    def orchestrator_body(self) -> ThreadBody:
        tid = self.orch_tidx
        for run in range(self.runs):
            yield self.OP_AICPU_LAUNCH[tid][run]
            if self.c[self.HOST_RESET]:
                return
            yield self.OP_WAIT_HS  # init(): a non-leader waits for the leader's pre-handshake setup
            if self.cfg.init_failure and run == self.cfg.init_failure_run:
                yield from abort_startup(self)  # an injected startup abort path (runtime/trb/startup.py)
                continue
            yield self.OP_SM_RESET
            self._fx_sm_reset()
            yield self.OP_INIT_READY
            self.c[self.E_RT] = 1
            self.c[self.E_INIT_READY] = 1
            yield from self.begin_scope(False)  # the executor's rt_scope_begin (depth 0, AUTO)
            for pc in range(len(self.plan.instrs)):
                self.p[self.O_PC] = pc
                if self.p[self.O_FATAL]:
                    continue  # every orchestration API entry point is a no-op after fatal
                kind = self.plan.instrs[pc].kind
                if kind == I_BEGIN:
                    yield from self.begin_scope(self.plan.instrs[pc].mode is ScopeMode.MANUAL)
                elif kind == I_END:
                    yield from self.end_scope()
                elif kind == I_SUBMIT:
                    yield from self.submit(self.plan.instrs[pc].task)
                elif kind == I_ALLOC:
                    yield from self.alloc_tensors(self.plan.instrs[pc].task)
                elif kind == I_TDATA:
                    yield from self.tensor_data(pc)
                    if self.data is not None:
                        self.data.on_tensor_data(pc)
                if self.crash is not None:
                    return
            self.p[self.O_PC] = len(self.plan.instrs)
            yield from self.end_scope()  # the executor's rt_scope_end
            yield self.OP_TOTAL
            total = sum(self.c[self.R_CUR + r] for r in range(K.NUM_RINGS))
            yield self.OP_MARK_DONE
            self._fx_mark_done()
            yield self.OP_SET_TOTAL
            self.c[self.X_TOTAL_TASKS] = total
            if self.p[self.O_INLINE] > 0:
                yield self.OP_FOLD_INLINE
                self.c[self.X_COMPLETED_TASKS] += self.p[self.O_INLINE]
            yield self.OP_ORCH_DONE_CTX
            self.c[self.X_ORCH_DONE] = 1
            yield self.OP_LOAD_ERR
            if self.c[self.H_ORCH_ERR] != 0:
                yield from self.emergency_shutdown(tid)
            yield from self.aicpu_thread_exit(tid)

    # ------------------------------------------------------------------ run setup / teardown

    def _fx_sm_reset(self) -> None:
        """init_header_per_ring + runtime_reset_for_reuse (orchestrator, scheduler, TensorMap)."""
        pm = self.p
        c = self.c
        for r in range(K.NUM_RINGS):
            c[self.R_CUR + r] = 0
            c[self.R_LA + r] = 0
            c[self.R_SLA + r] = 0
            c[self.R_ALOCK + r] = 0
            c[self.DP_TOP + r] = 1
            c[self.DP_TAIL + r] = 1
            c[self.DP_HIGH + r] = 0
            c[self.DP_LAST + r] = 0
            c[self.FP_TOP + r] = 1
            c[self.FP_TAIL + r] = 1
            c[self.FP_HIGH + r] = 0
            c[self.FP_CURSOR + r] = 0
            c[self.AL_LOCAL + r] = 0
            c[self.AL_TOP + r] = 0
            c[self.AL_TAIL + r] = 0
            c[self.AL_SEEN + r] = 0
            c[self.AL_ANCHOR + r] = -1
        c[self.H_ORCH_DONE] = 0
        c[self.H_ORCH_ERR] = 0
        c[self.H_SCHED_ERR] = 0
        c[self.H_SCHED_ERR_THREAD] = -1
        c[self.H_SCHED_ERR_BITMAP] = 0
        c[self.H_STALL_DETAIL] = 0
        c[self.H_ADV_PENDING] = 0
        pm[self.O_FATAL] = 0
        pm[self.O_INLINE] = 0
        e = (pm[self.O_SEEN_EPOCH] + 1) & 0xFFFFFFFF
        if e == 0:
            e = 1
            for g in range(self.n_slots):
                pm[self.S_SEEN + g] = 0
        pm[self.O_SEEN_EPOCH] = e
        self.tmap.reset_for_reuse()
        if self.data is not None:
            self.data.on_run_reset()

    def _fx_mark_done(self) -> None:
        pm = self.p
        c = self.c
        c[self.H_ORCH_DONE] = 1
        pm[self.O_SCOPE_SIZE] = 0
        pm[self.O_SCOPE_TOP] = -1
        pm[self.O_MANUAL] = self.max_scope_depth

    def aicpu_thread_exit(self, tid: int) -> Steps:
        """The tail of AicpuExecutor::run and aicpu_execute for one AICPU thread."""
        ops = self.ops[tid]
        if tid < self.n_sched:
            yield ops.OP_SHUT_LOAD[tid]
            if self.c[self.X_FATAL_STARTED] == 0:
                for k in self.tr_cores[tid]:  # shutdown(): platform_deinit_aicore_regs per owned core
                    yield ops.OP_SIGNAL_EXIT[k]
                    self.c[self.C_DMB + k] = K.AICORE_EXIT_SIGNAL
                    ok = yield ops.OP_FINISH_EXIT[k]
                    if ok:
                        self.c[self.C_DMB + k] = K.AICPU_IDLE_TASK_ID
        yield ops.OP_FINISHED[tid]
        self.c[self.E_FINISHED_COUNT] += 1
        if self.c[self.E_FINISHED_COUNT] == self.n_aicpu:
            self.c[self.E_FINISHED] = 1
            self.c[self.E_RT] = 0
        yield ops.OP_DEINIT_CHECK[tid]
        if self.c[self.E_FINISHED]:
            self._fx_deinit()
        self.c[self.HOST_AICPU_EXITED] += 1

    def _fx_deinit(self) -> None:
        """AicpuExecutor::deinit (incl. SchedulerContext::deinit)."""
        c = self.c
        for k in range(self.n_cores):
            c[self.C_RUN_SLOT + k] = 0
            c[self.C_PEND_SLOT + k] = 0
            c[self.C_RUN_REG + k] = K.AICPU_TASK_INVALID
            c[self.C_PEND_REG + k] = K.AICPU_TASK_INVALID
            c[self.C_SEQ + k] = 0
            c[self.C_RUN_SUB + k] = 0
            c[self.C_PEND_SUB + k] = 0
            c[self.C_REG + k] = 0
        for t in range(self.n_sched):
            c[self.T_STATES + t] = 0
            c[self.T_PEND_OCC + t] = 0
        c[self.X_COMPLETED_TASKS] = 0
        c[self.X_TOTAL_TASKS] = 0
        c[self.X_ORCH_DONE] = 0
        c[self.X_COMPLETED] = 0
        c[self.X_FATAL_STARTED] = 0
        c[self.E_FINISHED_COUNT] = 0
        c[self.E_INIT_READY] = 0
        c[self.E_HS_SETUP] = 0
        c[self.E_FINISHED] = 0
        c[self.E_RT] = 0

    # ------------------------------------------------------------------ fatal latch

    def mark_fatal(self, code: int) -> Steps:
        """orch_mark_fatal / report_fatal: fatal = true; CAS orch_error_code from NONE (first writer wins)."""
        yield self.OP_REPORT_FATAL
        self.p[self.O_FATAL] = 1
        if self.c[self.H_ORCH_ERR] == K.ERROR_NONE:
            self.c[self.H_ORCH_ERR] = code

    # ------------------------------------------------------------------ scopes

    def begin_scope(self, manual: bool) -> Steps:
        if self.p[self.O_FATAL]:
            return
        yield self.OP_BEGIN_SCOPE
        in_manual = self.p[self.O_SCOPE_TOP] >= self.p[self.O_MANUAL]
        if not manual and in_manual:
            yield from self.mark_fatal(K.INVALID_ARGS)
            return
        top = self.p[self.O_SCOPE_TOP] + 1
        self.p[self.O_SCOPE_TOP] = top
        self.p[self.O_BEGINS + top] = self.p[self.O_SCOPE_SIZE]
        if manual and not in_manual:
            self.p[self.O_MANUAL] = top

    def end_scope(self) -> Steps:
        if self.p[self.O_FATAL]:
            return
        yield self.OP_END_SCOPE
        top = self.p[self.O_SCOPE_TOP]
        ending_manual = top == self.p[self.O_MANUAL]
        begin = self.p[self.O_BEGINS + top]
        self.p[self.O_SCOPE_TOP] = top - 1
        count = self.p[self.O_SCOPE_SIZE] - begin
        if ending_manual:
            self.p[self.O_MANUAL] = self.max_scope_depth
        for i in range(count):  # on_scope_end: release_producer_scope in submission order
            g = self.p[self.O_SCOPE_TASKS + begin + i] - 1
            yield from self.release_producer(g, True, self.orch_tidx)
        self.p[self.O_SCOPE_SIZE] = begin

    def _oldest_open(self) -> int:
        """oldest_open_task_on_current_ring: scope_tasks[scope_begins[ring]] or -1."""
        pm = self.p
        ring = min(max(pm[self.O_SCOPE_TOP], 0), K.NUM_RINGS - 1)
        begin = pm[self.O_BEGINS + ring]
        if begin < pm[self.O_SCOPE_SIZE]:
            return pm[self.O_SCOPE_TASKS + begin] - 1
        return -1

    # ------------------------------------------------------------------ prepare_task + allocator

    def prepare_task(self, ti: int) -> Generator[Op, bool, tuple[int, int, int]]:
        """check_scope_can_accept_task, alloc (waits), prepare the slot. Returns (ok, packed_base, end)."""
        task = self.plan.tasks[ti]
        r = task.ring
        n_scope = self.p[self.O_SCOPE_SIZE] - self.p[self.O_BEGINS + self.p[self.O_SCOPE_TOP]]
        if n_scope >= self.windows[r] - 1:
            yield from self.mark_fatal(K.SCOPE_DEADLOCK)
            return 0, 0, 0
        oldest = self._oldest_open()
        local, base, end = yield from self.alloc(r, task.output_size, oldest)
        if local < 0:
            yield from self.mark_fatal(K.HEAP_RING_DEADLOCK)
            return 0, 0, 0
        g = self.slot_of(r, local)
        yield self.OP_PREPARE[g]
        overflow = self._fx_prepare(ti, g)
        if overflow:
            yield from self.mark_fatal(K.SCOPE_TASKS_OVERFLOW)  # report_fatal; prepare_task still succeeds
        return 1, base, end

    def alloc(self, r: int, output_size: int, oldest: int) -> Generator[Op, bool, tuple[int, int, int]]:
        """PTO2TaskAllocator::alloc: returns (task local id, packed_base, packed_end) or (-1, 0, 0)."""
        size = _i32(output_size)
        aligned = (size + self.consts.heap_align - 1) // self.consts.heap_align * self.consts.heap_align if size > 0 else 0
        yield self.OP_ALLOC_LA[r]
        la = self.c[self.R_LA + r]
        self._fx_update_heap_tail(r, la)
        prev = la
        status, base, end = self._fx_try_alloc(r, aligned, la)
        while status <= 0:
            heap_blocked = status == 0
            ok = yield self._alloc_wait_op(r, prev, oldest)
            if not ok:  # the 500 ms wall-clock backstop
                yield self.OP_REPORT_DEADLOCK[r]
                self._fx_report_deadlock(heap_blocked)
                return -1, 0, 0
            la = self.c[self.R_LA + r]
            self._fx_update_heap_tail(r, la)
            if la > prev:
                prev = la
                status, base, end = self._fx_try_alloc(r, aligned, la)
                continue
            if not self.m_no_fatal_poll and self.c[self.H_ORCH_ERR] != K.ERROR_NONE:
                return -1, 0, 0
            if self._head_is_oldest(r, la, oldest):  # structural, immediate
                yield self.OP_REPORT_DEADLOCK[r]
                self._fx_report_deadlock(heap_blocked)
                return -1, 0, 0
        yield self.OP_ALLOC_COMMIT[r]
        local = self.c[self.AL_LOCAL + r]
        self.c[self.AL_LOCAL + r] = local + 1
        self.c[self.R_CUR + r] = local + 1
        return local, base, end

    def _head_is_oldest(self, r: int, la: int, oldest: int) -> bool:
        return oldest >= 0 and oldest == self.slot_base[r] + (la & self.masks[r])

    def _alloc_wait_op(self, r: int, prev: int, oldest: int) -> Op:
        c = self.c
        la_cell, err = self.R_LA + r, self.H_ORCH_ERR
        poll = not self.m_no_fatal_poll
        target = oldest
        base, mask = self.slot_base[r], self.masks[r]

        def guard() -> bool:
            la = c[la_cell]
            if la != prev:
                return True
            if poll and c[err] != 0:
                return True
            return target >= 0 and target == base + (la & mask)

        return Op(
            OpKind.LOAD,
            f"alloc r{r}: spin re-reading last_task_alive (blocked)",
            C.ALLOC,
            (la_cell, err),
            self.alloc_cells[r],
            Order.ACQUIRE,
            guard,
            "500 ms allocation backstop",
        )

    def _fx_update_heap_tail(self, r: int, la: int) -> None:
        c = self.c
        if la <= c[self.AL_SEEN + r]:
            return
        c[self.AL_SEEN + r] = la
        anchor = c[self.AL_ANCHOR + r]
        if anchor >= 0 and la <= anchor:
            return
        c[self.AL_ANCHOR + r] = -1
        g = self.slot_base[r] + ((la - 1) & self.masks[r])
        end = c[self.D_END + g]
        if self.m_heap_tail_abs:
            c[self.AL_TAIL + r] = end
        else:
            c[self.AL_TAIL + r] = (end - self.heap_base[r]) & 0xFFFFFFFFFFFFFFFF

    def _fx_try_alloc(self, r: int, aligned: int, la: int) -> tuple[int, int, int]:
        """Window check, then try_bump_heap: (1, base, end) on success, 0 heap refused, -1 window full."""
        c = self.c
        if c[self.AL_LOCAL + r] - la + 1 >= self.windows[r]:
            return -1, 0, 0
        off = self._try_bump_heap(r, aligned)
        if off < 0:
            return 0, 0, 0
        base = self.heap_base[r] + off
        return 1, base, base + aligned

    def _try_bump_heap(self, r: int, a: int) -> int:
        c = self.c
        top = c[self.AL_TOP + r]
        if a == 0:
            return top
        tail = c[self.AL_TAIL + r]
        size = self.heap_size[r]
        if top >= tail:
            if size - top >= a:
                c[self.AL_TOP + r] = top + a
                return top
            if tail > a:
                c[self.AL_TOP + r] = a
                return 0
            if top == tail and a <= size:
                c[self.AL_TOP + r] = a
                c[self.AL_TAIL + r] = 0
                c[self.AL_ANCHOR + r] = c[self.AL_LOCAL + r]
                return 0
            return -1
        gap = tail - top
        if gap > a or (self.m_gap_nonstrict and gap == a):
            c[self.AL_TOP + r] = top + a
            return top
        return -1

    def _fx_report_deadlock(self, heap_blocked: bool) -> None:
        self.c[self.H_ORCH_ERR] = K.HEAP_RING_DEADLOCK if heap_blocked else K.FLOW_CONTROL_DEADLOCK

    def _fx_prepare(self, ti: int, g: int) -> bool:
        """bind_ring, reset_for_reuse, fanin_count = 0, bind_buffers, task_state = PENDING, attrs, scope push.
        Returns True when scope_tasks_push overflowed."""
        pm = self.p
        c = self.c
        task = self.plan.tasks[ti]
        c[self.S_RING + g] = task.ring
        self._reset_for_reuse(g)
        c[self.S_FCOUNT + g] = 0
        c[self.S_BOUND + g] = 1
        if not self.m_no_generation:
            c[self.S_STATE + g] = K.PENDING
        c[self.S_TOTAL + g] = task.total_subtasks
        c[self.S_BLOCKS + g] = task.block_num
        c[self.S_MASK + g] = task.mask
        pm[self.S_ATTRS + g] = 2 if task.sync_start else 0
        self.ghost_submitted[self.round][ti] += 1
        self.ghost("submit", ti)
        size = pm[self.O_SCOPE_SIZE]
        if size >= self.scope_tasks_capacity:
            return True
        pm[self.O_SCOPE_TASKS + size] = g + 1
        pm[self.O_SCOPE_SIZE] = size + 1
        return False

    # ------------------------------------------------------------------ submit

    def submit(self, ti: int) -> Steps:
        task = self.plan.tasks[ti]
        self.ghost_submitting = ti
        if task.sync_start_invalid:  # block_num above the core limit (a cohort within it is scheduled)
            yield from self.mark_fatal(K.REQUIRE_SYNC_START_INVALID)
            return
        ok, base, end = yield from self.prepare_task(ti)
        if not ok:
            return
        r = task.ring
        g = self.slot_of(r, task.local)
        manual = self.p[self.O_SCOPE_TOP] >= self.p[self.O_MANUAL]
        epoch = self._fx_next_epoch()
        self.p[self.O_SPILL_START] = 0
        yield self.OP_SYNC_LA[r]
        self.tmap.sync_tensormap(r, task.local, self.c[self.R_LA + r], self.consts.tensormap_cleanup_interval)
        edges: Edges = ()
        for dti, flags in task.deps:  # STEP 1: explicit dependencies
            dep = self.plan.tasks[dti]
            yield self.OP_DEP_LA[dep.ring]
            if dep.local < self.c[self.R_LA + dep.ring]:
                continue
            res = yield from self.append_fanin(g, r, dep.ring, dep.local, flags, edges, epoch)
            if res is None:
                return
            edges = res
        if not manual:  # STEP 3: compute_task_fanin
            for ai in range(len(task.args)):
                if task.args[ai].tag is Tag.OUTPUT:
                    continue
                inout = task.args[ai].tag is Tag.INOUT
                lookup = task.args[ai].tag in (Tag.INPUT, Tag.INOUT) and not self._arg_manual_dep(ti, ai)
                owner = self._arg_owner(ti, ai)
                if owner >= 0:
                    o = self.plan.tasks[owner]
                    res = yield from self.append_fanin(g, r, o.ring, o.local, K.DEP_WAIT | K.DEP_RETAIN, edges, epoch)
                    if res is None:
                        return
                    edges = res
                if not lookup:
                    continue
                matches = self._fx_lookup(ti, ai)
                for mi in range(len(matches)):
                    if self.m_lookup_cap and mi >= 1:
                        break
                    eid, status, pr, pl = matches[mi]
                    res = yield from self.append_fanin(g, r, pr, pl, K.DEP_WAIT, edges, epoch)
                    if res is None:
                        return
                    edges = res
                    if inout and status == COVERED and self.tmap.still_linked(eid):
                        self.tmap.remove_entry(eid)
        needed = 0 if manual else self._registrable(ti)
        if needed > 0 and not self.m_tmap_assert:
            ok2 = yield from self.ensure_tensormap_capacity(needed)
            if not ok2:
                return
        yield self.register_op(g, len(edges))
        if not self._fx_register(ti, g, edges, base, end, manual):
            return
        if self.early_on:
            self.ed_payload_init(g)
        count = len(edges)
        if count == 0:
            yield self.OP_PUBLISH_A[g]
            self._fx_publish(g, first=True)
            return
        yield self.OP_ALL_DONE[g]
        if self._fx_all_completed(g, edges):
            for i in range(count):
                p, f = edges[i]
                if f & K.DEP_WAIT and not f & K.DEP_RETAIN:
                    yield from self.release_producer(p, False, self.orch_tidx)
            yield self.OP_PUBLISH_B[g]
            self._fx_publish(g, first=False)
            return
        wait = sum(1 for _p, f in edges if f & K.DEP_WAIT)
        ok3 = yield from self.dep_pool_ensure(r, wait, self._oldest_open())
        if not ok3:
            self.p[self.O_FATAL] = 1
            return
        yield from self.wire_fanin_task(g, r, wait, edges)

    def _fx_next_epoch(self) -> int:
        pm = self.p
        e = (pm[self.O_SEEN_EPOCH] + 1) & 0xFFFFFFFF
        if e == 0:
            for x in range(self.n_slots):
                pm[self.S_SEEN + x] = 0
            e = 1
        pm[self.O_SEEN_EPOCH] = e
        return e

    def _arg_owner(self, ti: int, ai: int) -> int:
        spec = self.plan.tasks[ti].args[ai].tensor
        assert spec is not None
        return spec.owner

    def _arg_manual_dep(self, ti: int, ai: int) -> bool:
        spec = self.plan.tasks[ti].args[ai].tensor
        assert spec is not None
        return spec.manual_dep

    def _probe(self, ti: int, ai: int) -> ProbeTensor:
        spec = self.plan.tasks[ti].args[ai].tensor
        assert spec is not None
        return ProbeTensor(self.p[self.O_BUF + spec.buffer], spec)

    def _fx_lookup(self, ti: int, ai: int) -> tuple[tuple[int, int, int, int], ...]:
        probe = self._probe(ti, ai)
        out = []
        for eid, status in self.tmap.lookup(probe):
            e = self.tmap.entries[eid]
            out.append((eid, status, e.producer_ring, e.producer_local))
        return tuple(out)

    def _registrable(self, ti: int) -> int:
        return sum(
            1
            for a in self.plan.tasks[ti].args
            if a.tag in (Tag.INOUT, Tag.OUTPUT_EXISTING) and a.tensor is not None and not a.tensor.manual_dep
        )

    # ------------------------------------------------------------------ append_fanin_or_fail

    def append_fanin(
        self, g: int, ring: int, pr: int, pl: int, flags: int, edges: Edges, epoch: int
    ) -> Generator[Op, bool, Edges | None]:
        """append_fanin_or_fail for producer (pr, pl): the claim under L(P), then the edge (inline or spilled).
        Returns the new edge tuple, or None when the submit must stop (fatal)."""
        ps = self.slot_of(pr, pl)
        spill: tuple[int, ...] = ()
        if len(edges) >= self.inline_cap:  # this step's effect may spill the edge (or rewrite a spilled one)
            spill = self._spill_cells(g, ring, ps, edges)
        if self.m_claim_outside_lock:
            op = self.OP_CLAIM_CHECK[ps]
            yield self.claim_op(op, ring, spill) if spill else op
            gone, seen = self._fx_claim(ps, pl, epoch, False)
            if not gone and not seen:
                op = self.OP_CLAIM_FC[ps]
                yield self.claim_op(op, ring, spill) if spill else op
                self.c[self.S_FC + ps] += 1
        else:
            op = self.OP_CLAIM[ps]
            yield self.claim_op(op, ring, spill) if spill else op
            gone, seen = self._fx_claim(ps, pl, epoch, True)
        if gone:
            return edges
        if flags & K.DEP_RETAIN:  # ghost: the producer's bytes are now held for the task being submitted
            self.ghost("retain-wired", self.plan.task_at[(pr, pl)], self.ghost_submitting)
        if seen:
            return self._or_flags(g, edges, ps, flags)
        if len(edges) < self.inline_cap:
            return (*edges, (ps, flags))
        ok = yield from self.fanin_pool_ensure(ring, 1)
        if not ok:
            yield from self.mark_fatal(K.DEP_POOL_OVERFLOW)
            return None
        idx = self._fx_spill_alloc(ring)
        if idx < 0:
            yield from self.mark_fatal(K.DEP_POOL_OVERFLOW)
            return None
        if len(edges) == self.inline_cap:
            self.p[self.O_SPILL_START] = idx
        self.c[self.SPILL[ring] + (idx % self.dep_cap[ring]) % self.sp_cells[ring]] = self.pack_edge(ps, flags)
        return (*edges, (ps, flags))

    def _spill_cells(self, g: int, ring: int, ps: int, edges: Edges) -> tuple[int, ...]:
        """The fanin_pool cells an append for producer slot ps may write: the next free entry, and the
        entry already holding ps when the dedupe ORs the flags into it."""
        out = [self.spill_cell(ring, self.c[self.FP_TOP + ring])]
        for i in range(self.inline_cap, len(edges)):
            if edges[i][0] == ps:
                cap = self.dep_cap[ring]
                phys = (self.p[self.O_SPILL_START] % cap + (i - self.inline_cap)) % cap
                out.append(self.SPILL[ring] + phys % self.sp_cells[ring])
        return tuple(out)

    def _fx_claim(self, ps: int, pl: int, epoch: int, claim: bool) -> tuple[bool, bool]:
        pm = self.p
        c = self.c
        gone = (
            c[self.S_BOUND + ps] == 0
            or (c[self.D_LOCAL + ps] & 0xFFFFFFFF) != (pl & 0xFFFFFFFF)
            or c[self.S_STATE + ps] == K.CONSUMED
        )
        if gone:
            return True, False
        if pm[self.S_SEEN + ps] == epoch:
            return False, True
        pm[self.S_SEEN + ps] = epoch
        if claim:
            c[self.S_FC + ps] += 1
        return False, False

    def _or_flags(self, g: int, edges: Edges, ps: int, flags: int) -> Edges:
        out = list(edges)
        for i, (p, f) in enumerate(out):
            if p == ps:
                out[i] = (p, f | flags)
                if i >= self.inline_cap:
                    ring = self.slot_ring[g]
                    cap = self.dep_cap[ring]
                    start = self.p[self.O_SPILL_START]
                    phys = (start % cap + (i - self.inline_cap)) % cap
                    self.c[self.SPILL[ring] + phys % self.sp_cells[ring]] = self.pack_edge(p, f | flags)
                return tuple(out)
        self.crash = "always_assert: or_flags_into_existing: deduped producer missing from the fanin builder"
        return edges

    def _fx_spill_alloc(self, r: int) -> int:
        c = self.c
        used = c[self.FP_TOP + r] - c[self.FP_TAIL + r]
        if used >= self.dep_cap[r]:
            c[self.H_ORCH_ERR] = K.DEP_POOL_OVERFLOW  # alloc(): plain store of the code
            return -1
        top = c[self.FP_TOP + r]
        c[self.FP_TOP + r] = top + 1
        c[self.FP_HIGH + r] = max(c[self.FP_HIGH + r], used + 1)
        return top

    def fanin_pool_ensure(self, r: int, needed: int) -> Generator[Op, bool, bool]:
        if self.dep_cap[r] - (self.c[self.FP_TOP + r] - self.c[self.FP_TAIL + r]) >= needed:
            return True
        yield self.claim_op(self.OP_FP_LA[r], r, (self.spill_cell(r, self.c[self.FP_TOP + r]),))
        prev = self.c[self.R_LA + r]
        while self.dep_cap[r] - (self.c[self.FP_TOP + r] - self.c[self.FP_TAIL + r]) < needed:
            self._fx_fanin_reclaim(r, prev)
            if self.dep_cap[r] - (self.c[self.FP_TOP + r] - self.c[self.FP_TAIL + r]) >= needed:
                return True
            ok = yield self._la_wait_op(
                r, prev, -1, "fanin_pool.ensure_space", C.FANIN_POOL_ENSURE,
                self.fanin_wait_cells[r] + (self.spill_cell(r, self.c[self.FP_TOP + r]),),
            )
            if not ok:
                yield self.OP_FANIN_LATCH
                self._fx_latch_pool_error()
                return False
            cur = self.c[self.R_LA + r]
            if cur > prev:
                prev = cur
                continue
            if not self.m_no_fatal_poll and self.c[self.H_ORCH_ERR] != 0:
                return False
        return True

    def _fx_fanin_reclaim(self, r: int, la: int) -> None:
        c = self.c
        cursor = c[self.FP_CURSOR + r]
        if la <= cursor:
            return
        for tid in range(cursor, la):
            g = self.slot_base[r] + (tid & self.masks[r])
            if c[self.P_SPILL_POOL + g] != r + 1:
                continue
            n = c[self.P_FANIN + g]
            spill = n - min(n, self.inline_cap)
            if spill > 0:
                c[self.FP_TAIL + r] = max(c[self.FP_TAIL + r], c[self.P_SPILL_START + g] + spill)
        c[self.FP_CURSOR + r] = la

    def _fx_latch_pool_error(self) -> None:
        c = self.c
        if c[self.H_ORCH_ERR] == K.ERROR_NONE:
            c[self.H_ORCH_ERR] = K.DEP_POOL_OVERFLOW

    def _la_wait_op(self, r: int, prev: int, oldest: int, who: str, cite: Cite, writes: tuple[int, ...]) -> Op:
        c = self.c
        la_cell, err = self.R_LA + r, self.H_ORCH_ERR
        poll = not self.m_no_fatal_poll
        base, mask = self.slot_base[r], self.masks[r]

        def guard() -> bool:
            la = c[la_cell]
            if la != prev:
                return True
            if poll and c[err] != 0:
                return True
            return oldest >= 0 and oldest == base + (la & mask)

        return Op(OpKind.LOAD, f"{who} r{r}: spin re-reading last_task_alive (pool full)", cite, (la_cell, err),
                  writes, Order.ACQUIRE, guard, "500 ms allocation backstop")

    # ------------------------------------------------------------------ STEP 4: TensorMap capacity

    def ensure_tensormap_capacity(self, needed: int) -> Generator[Op, bool, bool]:
        if self.tmap.free_entries() >= needed:
            return True
        yield self.OP_TMAP_LA
        alive = self._fx_tmap_reclaim()
        if self.tmap.free_entries() >= needed:
            return True
        while True:
            ok = yield self._tmap_wait_op(alive)
            if not ok:
                yield from self.mark_fatal(K.TENSORMAP_OVERFLOW)
                return False
            if alive == tuple(self.c[self.R_LA + r] for r in range(K.NUM_RINGS)):
                return False  # woken by a fatal latched elsewhere
            alive = self._fx_tmap_reclaim()
            if self.tmap.free_entries() >= needed:
                return True

    def _fx_tmap_reclaim(self) -> tuple[int, int, int, int]:
        c = self.c
        alive = (c[self.R_LA], c[self.R_LA + 1], c[self.R_LA + 2], c[self.R_LA + 3])
        self.tmap.reclaim_retired_all(alive)
        return alive

    def _tmap_wait_op(self, alive: tuple[int, int, int, int]) -> Op:
        c = self.c
        la0, err = self.R_LA, self.H_ORCH_ERR
        poll = not self.m_no_fatal_poll

        def guard() -> bool:
            for r in range(K.NUM_RINGS):
                if c[la0 + r] != alive[r]:
                    return True
            return poll and c[err] != 0

        return Op(OpKind.LOAD, "ensure_tensormap_capacity: spin, reclaim when a watermark moves", C.ENSURE_TMAP,
                  tuple(la0 + r for r in range(K.NUM_RINGS)) + (err,), (), Order.RELAXED, guard,
                  "500 ms TensorMap-pool backstop")

    # ------------------------------------------------------------------ STEP 4-5 registration, descriptor, payload

    def _fx_register(self, ti: int, g: int, edges: Edges, base: int, end: int, manual: bool) -> bool:
        pm = self.p
        c = self.c
        task = self.plan.tasks[ti]
        if not manual:
            for ai, a in enumerate(task.args):
                if a.tag not in (Tag.INOUT, Tag.OUTPUT_EXISTING) or a.tensor is None or a.tensor.manual_dep:
                    continue
                if not self.tmap.insert(self._probe(ti, ai), task.ring, task.local):
                    self.crash = "always_assert(next_entry_idx < pool_size) in PTO2TensorMap::new_entry"
                    return False
        self._write_descriptor(ti, g, base, end)
        c[self.P_FANIN + g] = len(edges)
        c[self.P_SPILL_START + g] = pm[self.O_SPILL_START]
        c[self.P_SPILL_POOL + g] = task.ring + 1
        for i in range(min(len(edges), self.inline_cap)):
            p, f = edges[i]
            c[self.E_BASE + g * self.IC + i] = self.pack_edge(p, f)
        return True

    def _write_descriptor(self, ti: int, g: int, base: int, end: int) -> None:
        pm = self.p
        c = self.c
        task = self.plan.tasks[ti]
        c[self.D_RING + g] = task.ring
        c[self.D_LOCAL + g] = task.local
        c[self.D_BASE + g] = base
        c[self.D_END + g] = end
        for b in task.outputs:  # payload.init materialises each OUTPUT at packed_base + offset
            pm[self.O_BUF + b] = base + self.plan.buffers[b].packed_offset
        if self.data is not None:
            self.data.on_descriptor(ti, base, end)

    def _fx_all_completed(self, g: int, edges: Edges) -> bool:
        c = self.c
        for p, f in edges:
            if f & K.DEP_WAIT and not (p >= 0 and c[self.S_STATE + p] >= K.COMPLETED):
                return False
        seed = sum(1 for _p, f in edges if f & K.DEP_WAIT) + 1
        c[self.S_FCOUNT + g] = seed
        c[self.S_FRC + g] = seed
        return True

    def _fx_publish(self, g: int, first: bool) -> None:
        pm = self.p
        c = self.c
        if first:
            c[self.S_FCOUNT + g] = 1
            c[self.S_FRC + g] = 1
        pm[self.S_MARK + g] = c[self.DP_TOP + self.slot_ring[g]]
        self._fx_push_ready(g)

    # ------------------------------------------------------------------ STEP 6 (c): dep pool + wiring

    def dep_pool_ensure(self, r: int, needed: int, oldest: int) -> Generator[Op, bool, bool]:
        if self.m_deppool_wrap:
            return True
        if self._dp_available(r) >= needed:
            return True
        yield self.OP_DP_LA[r]
        prev = self.c[self.R_LA + r]
        while self._dp_available(r) < needed:
            self._fx_dp_reclaim(r, prev)
            if self._dp_available(r) >= needed:
                return True
            ok = yield self._la_wait_op(
                r, prev, oldest, "dep_pool.ensure_space", C.DEP_POOL_ENSURE, self.dep_wait_cells[r]
            )
            if not ok:
                yield self.OP_POOL_LATCH
                self._fx_latch_pool_error()
                return False
            cur = self.c[self.R_LA + r]
            if cur > prev:
                prev = cur
                continue
            if not self.m_no_fatal_poll and self.c[self.H_ORCH_ERR] != 0:
                return False
            if self._head_is_oldest(r, cur, oldest):
                yield self.OP_POOL_LATCH
                self._fx_latch_pool_error()
                return False
        return True

    def _dp_available(self, r: int) -> int:
        c = self.c
        return self.dep_cap[r] - (c[self.DP_TOP + r] - c[self.DP_TAIL + r])

    def _fx_dp_reclaim(self, r: int, la: int) -> None:
        pm = self.p
        c = self.c
        if la >= c[self.DP_LAST + r] + self.consts.dep_pool_cleanup_interval and la > 0:
            g = self.slot_base[r] + ((la - 1) & self.masks[r])
            mark = pm[self.S_MARK + g]
            if mark > 0 and mark > c[self.DP_TAIL + r]:
                c[self.DP_TAIL + r] = mark
            c[self.DP_LAST + r] = la

    def wire_fanin_task(self, g: int, r: int, wfanin: int, edges: Edges) -> Steps:
        if self.m_fanin_sb_weak:
            yield from self._wire_fanin_task_before_eede5613f(g, r, edges)
            return
        self.c[self.S_FCOUNT + g] = wfanin + 1  # W1: before any link (published by the first unlock)
        completed = 0
        propagated = 0  # W2: edges linked after the producer's dispatch_fanin propagation snapshot
        for i in range(len(edges)):
            p, f = edges[i]
            if f & K.DEP_WAIT:
                yield self.wire_op(p, self.slot_ring[g])
                done = self._fx_wire_one(p, g)
                completed += done
                if self.early_on:
                    propagated += self.ed_wire_propagated(p, done)
            if f & K.DEP_WAIT and not f & K.DEP_RETAIN:
                yield from self.release_producer(p, False, self.orch_tidx)
        if self.early_on:  # W3
            yield from self.ed_seed(g, edges, completed, propagated)
        yield self.OP_WIRE_RC[g]
        new_rc = self.c[self.S_FRC + g] + completed + 1
        self.c[self.S_FRC + g] = new_rc
        self.p[self.S_MARK + g] = self.c[self.DP_TOP + r]
        if new_rc >= self.c[self.S_FCOUNT + g]:
            yield from self.route_ready_once(g, self.orch_tidx)

    def _wire_fanin_task_before_eede5613f(self, g: int, r: int, edges: Edges) -> Steps:
        """M_FANIN_SB_WEAK (catalogue H01): the publication of pto2_submit_task before eede5613f.

        fanin_count (the producers still live when linked) is stored AFTER the links, with release order,
        and the orchestrator then loads fanin_refcount (acquire) to see whether they have all completed
        since; there is no share added by RMW. A scheduler still does refcount += 1 (acq_rel) and compares
        with fanin_count. Sequentially consistent, one of the two sides sees the other's write (and
        route_ready_once keeps a double sighting to one push); with store buffers both can read stale.
        """
        completed = 0
        for p, f in edges:
            if f & K.DEP_WAIT:
                yield self.wire_op(p, self.slot_ring[g])
                completed += self._fx_wire_one(p, g)
            if f & K.DEP_WAIT and not f & K.DEP_RETAIN:
                yield from self.release_producer(p, False, self.orch_tidx)
        live = sum(1 for _p, f in edges if f & K.DEP_WAIT) - completed
        yield self.OP_SB_FANIN_STORE[g]
        self.c[self.S_FCOUNT + g] = live
        self.p[self.S_MARK + g] = self.c[self.DP_TOP + r]
        yield self.OP_SB_REFCOUNT_LOAD[g]
        if self.c[self.S_FRC + g] >= live:
            yield from self.route_ready_once(g, self.orch_tidx)

    def _fx_wire_one(self, p: int, g: int) -> int:
        """Under L(P): count a finished producer, else prepend a dep node (consumer ring's pool)."""
        c = self.c
        st = c[self.S_STATE + p]
        done = st == K.COMPLETED if self.m_eq_not_ge else st >= K.COMPLETED
        if done:
            return 1
        r = self.slot_ring[g]
        top, tail = c[self.DP_TOP + r], c[self.DP_TAIL + r]
        cap = self.dep_cap[r]
        if not self.m_deppool_wrap and top - tail >= cap:
            c[self.H_ORCH_ERR] = K.DEP_POOL_OVERFLOW  # alloc() logs, stores the code, returns nullptr
            c[self.S_HEAD + p] = 0  # fanout_head = prepend(...) == nullptr
            return 0
        idx = top % cap
        c[self.DP_TOP + r] = top + 1
        c[self.DP_HIGH + r] = max(c[self.DP_HIGH + r], top + 1 - tail)
        node = self.node_base[r] + (idx % self.dp_cells[r])
        c[self.N_CONS + node] = g + 1
        c[self.N_NEXT + node] = c[self.S_HEAD + p]
        c[self.S_HEAD + p] = node + 1
        return 0

    # ------------------------------------------------------------------ alloc_tensors, tensor data

    def alloc_tensors(self, ti: int) -> Steps:
        ok, base, end = yield from self.prepare_task(ti)
        if not ok:
            return
        task = self.plan.tasks[ti]
        g = self.slot_of(task.ring, task.local)
        yield self.OP_MARK_COMPLETED[g]
        self._write_descriptor(ti, g, base, end)
        self.c[self.P_FANIN + g] = 0
        self.c[self.P_SPILL_START + g] = 0
        self.c[self.P_SPILL_POOL + g] = task.ring + 1
        self.p[self.S_ATTRS + g] |= 1  # set_early_resolve(true)
        self.c[self.S_STATE + g] = K.COMPLETED
        self.c[self.S_FLAGS + g] |= K.COMPLETION_DONE
        self.p[self.O_INLINE] += 1
        self.ghost_completed[self.round][ti] += 1
        self.ghost("completed", ti)

    def tensor_data(self, pc: int) -> Steps:
        instr = self.plan.instrs[pc]
        write = instr.write
        waits = self._fx_tensor_wait_list(pc)
        for i in range(len(waits)):
            g = waits[i]
            ok = yield self.OP_TW_PROD[g]
            if not ok:
                yield from self.mark_fatal(K.TENSOR_WAIT_TIMEOUT)
                return
            if self.c[self.S_STATE + g] < K.COMPLETED:
                return  # a fatal latched elsewhere broke the wait
            if write:
                ok = yield self.OP_TW_CONS[g]
                if not ok:
                    yield from self.mark_fatal(K.TENSOR_WAIT_TIMEOUT)
                    return
                if (self.c[self.S_RC + g] & K.LOW_MASK) < (self.c[self.S_FC + g] & K.LOW_MASK):
                    return

    def _fx_tensor_wait_list(self, pc: int) -> tuple[int, ...]:
        """wait_for_tensor_ready's producer slots, in wait order (segments of 64, deduplicated per segment)."""
        spec = self.plan.instrs[pc].tensor
        assert spec is not None
        addr = self.p[self.O_BUF + spec.buffer]
        if addr == 0:
            return ()  # get/set_tensor_data on an unallocated buffer: logged error, no wait
        order: list[int] = []
        seg: list[int] = []

        def push(x: int) -> None:
            nonlocal seg
            if x in seg:
                return
            if len(seg) == 64:
                order.extend(seg)
                seg = []
            seg.append(x)

        if spec.owner >= 0:
            o = self.plan.tasks[spec.owner]
            push(self.slot_of(o.ring, o.local))
        for eid, _status in self.tmap.lookup(ProbeTensor(addr, spec)):
            e = self.tmap.entries[eid]
            push(self.slot_of(e.producer_ring, e.producer_local))
        order.extend(seg)
        return tuple(order)
