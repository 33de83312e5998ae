"""The model's named properties, each tied to its spec id (runtime-spec.md §3).

ALWAYS properties are safety invariants checked in every reachable state; SOMETIMES properties are the
non-vacuity witnesses (the states an invariant talks about are reachable); the EVENTUALLY property is
the run's outcome: every task consumed, or the runtime's own expected fatal code.

Properties that rely on the runtime's sizing rules (INV-P4 needs sum(W_r - 1) <= ready-queue capacity)
are only asserted where the rule holds.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from model.program import I_END, I_SUBMIT, RETAIN, WAIT
from model.protocol import Property, PropertyKind
from model.scenario import NUM_RINGS

if TYPE_CHECKING:
    from model.trb_model import TrbModel

State = tuple[Any, ...]


def model_properties(model: TrbModel) -> Iterator[Property[State]]:
    from model import trb_model as m

    info = model.info
    windows = info.windows
    heaps = info.heap_sizes
    rings_used = [r for r in range(NUM_RINGS) if info.tasks_per_ring[r]]
    by_ring = info.by_ring_local
    tasks_info = info.tasks
    kernel_tasks = [t.index for t in tasks_info if not t.is_alloc]
    consts = model.consts
    sizing_ok = sum(w - 1 for w in windows) <= consts.ready_queue_capacity

    def always(name: str, spec: str, desc: str, fn: Callable[[State], bool]) -> Property[State]:
        return Property(name, PropertyKind.ALWAYS, fn, spec, desc)

    def sometimes(name: str, spec: str, desc: str, fn: Callable[[State], bool]) -> Property[State]:
        return Property(name, PropertyKind.SOMETIMES, fn, spec, desc)

    def window_bound(s: State) -> bool:
        for r in rings_used:
            ring = s[m.S_RINGS][r]
            if not 0 <= ring[m.R_CUR] - ring[m.R_LA] <= windows[r] - 1:
                return False
        return True

    yield always("window_bound", "INV-R1", "0 <= cur - la <= W - 1 on every ring", window_bound)

    def consumed_prefix(s: State) -> bool:
        tasks = s[m.S_TASKS]
        for r in rings_used:
            row = by_ring[r]
            for local in range(s[m.S_RINGS][r][m.R_LA]):
                if tasks[row[local]][m.T_ST] != m.CONSUMED:
                    return False
        return True

    yield always("consumed_prefix", "INV-R3", "every id below la is CONSUMED", consumed_prefix)

    def own_release_before_reuse(s: State) -> bool:
        tasks = s[m.S_TASKS]
        for t in kernel_tasks:
            ti = tasks_info[t]
            succ = info.task_at(ti.ring, ti.local + windows[ti.ring])
            if succ >= 0 and tasks[succ][m.T_ST] != m.NONE and not tasks[t][m.T_FLAGS] & m.F_SELF_RELEASED:
                return False
        return True

    yield always(
        "own_release_before_reuse",
        "INV-R7",
        "a task's own on_task_release completes before its slot is rebound",
        own_release_before_reuse,
    )

    def heap_disjoint(s: State) -> bool:
        tasks = s[m.S_TASKS]
        for r in rings_used:
            ring = s[m.S_RINGS][r]
            spans = []
            for local in range(ring[m.R_LA], ring[m.R_CUR]):
                tt = tasks[by_ring[r][local]]
                base, end = tt[m.T_HBASE], tt[m.T_HEND]
                if not 0 <= base <= end <= heaps[r]:
                    return False
                if end > base:
                    spans.append((base, end))
            spans.sort()
            for (_, e1), (b2, _) in itertools.pairwise(spans):
                if b2 < e1:
                    return False
        return True

    yield always(
        "heap_disjoint",
        "INV-H1",
        "live buffers are pairwise disjoint and inside [0, H), never straddling the end",
        heap_disjoint,
    )

    def heap_top_tail(s: State) -> bool:
        tasks = s[m.S_TASKS]
        for r in rings_used:
            ring = s[m.S_RINGS][r]
            top, tail = ring[m.R_TOP], ring[m.R_TAIL]
            if not (0 <= top <= heaps[r] and 0 <= tail <= heaps[r]):
                return False
            # the allocator's live set: allocated, nonzero, not yet seen reclaimed by update_heap_tail
            live = any(
                tasks[by_ring[r][local]][m.T_HEND] > tasks[by_ring[r][local]][m.T_HBASE]
                for local in range(ring[m.R_SEEN], ring[m.R_CUR])
            )
            if (top == tail) == live and ring[m.R_ANCHOR] < 0:
                return False
        return True

    yield always("heap_top_tail", "INV-H2", "top == tail iff the allocator's live set is empty", heap_top_tail)

    def fanin_bounded(s: State) -> bool:
        for tt in s[m.S_TASKS]:
            if tt[m.T_ST] != m.NONE and tt[m.T_FCOUNT] and tt[m.T_FRC] > tt[m.T_FCOUNT]:
                return False
        return True

    yield always("fanin_bounded", "INV-F2", "fanin_refcount never exceeds fanin_count", fanin_bounded)

    def ready_implies_producers_done(s: State) -> bool:
        tasks = s[m.S_TASKS]
        cores = s[m.S_CORES]
        for t in (*cores[m.C_AIC], *cores[m.C_AIV]):
            for p, f, _ph in tasks[t][m.T_EDGES]:
                if f & WAIT and tasks[p][m.T_ST] < m.COMPLETED:
                    return False
        return True

    yield always(
        "dispatch_after_producers",
        "INV-F4",
        "a running task's WAIT producers are all COMPLETED",
        ready_implies_producers_done,
    )

    def balanced_releases(s: State) -> bool:
        return all(tt[m.T_RC] <= tt[m.T_FC] for tt in s[m.S_TASKS])

    yield always("balanced_releases", "INV-L2", "releases never exceed claims (rc_low <= fc_low)", balanced_releases)

    def retention(s: State) -> bool:
        tasks = s[m.S_TASKS]
        for c, ct in enumerate(tasks):
            if ct[m.T_ST] == m.NONE:
                continue
            edges = ct[m.T_EDGES]
            for i in range(ct[m.T_RELCUR], len(edges)):
                p, f, ph = edges[i]
                if f & RETAIN and not ph and p != c and tasks[p][m.T_ST] == m.CONSUMED:
                    return False
        return True

    yield always(
        "retention",
        "INV-L4",
        "a producer held by an unreleased RETAIN edge is not CONSUMED",
        retention,
    )

    def consumed_only_when_released(s: State) -> bool:
        for tt in s[m.S_TASKS]:
            if tt[m.T_ST] == m.CONSUMED and (tt[m.T_RC] != tt[m.T_FC] or not tt[m.T_RSCOPE]):
                return False
        return True

    yield always(
        "single_consumption",
        "INV-L3",
        "CONSUMED only with every claim and the scope reference released",
        consumed_only_when_released,
    )

    def pool_bounds(s: State) -> bool:
        for r in rings_used:
            ring = s[m.S_RINGS][r]
            cap = model.scenario.config.dep_pool[r]
            if not 0 <= ring[m.R_DTOP] - ring[m.R_DTAIL] <= cap:
                return False
            if not 0 <= ring[m.R_STOP] - ring[m.R_STAIL] <= cap:
                return False
        return len(s[m.S_TMAP]) <= consts.tensormap_pool_size

    yield always("pool_bounds", "INV-P1/P2/P3", "0 <= top - tail <= capacity for every pool", pool_bounds)

    def threshold_behind_la(s: State) -> bool:
        return all(ring[m.R_THR] <= ring[m.R_LA] for ring in s[m.S_RINGS])

    yield always("threshold_behind_la", "INV-T3", "TensorMap validity threshold <= la", threshold_behind_la)

    if sizing_ok:

        def no_lost_task(s: State) -> bool:
            return not any(tt[m.T_FLAGS] & m.F_DROPPED for tt in s[m.S_TASKS])

        yield always("queues_never_lose", "INV-P4", "no ready push is dropped by a full queue", no_lost_task)

    # ---- the outcome ----
    expected = model.scenario.expected.fatal

    def outcome(s: State) -> bool:
        if expected is None:
            return not s[m.S_FATAL] and model.is_final(s)
        return bool(s[m.S_FATAL] == int(expected))

    yield Property(
        "expected_outcome",
        PropertyKind.EVENTUALLY,
        outcome,
        "INV-E2",
        f"every run ends {model.scenario.expected.label}",
    )

    # ---- non-vacuity witnesses ----
    yield sometimes(
        "ring_full",
        "INV-R1",
        "a ring holds W - 1 live tasks",
        lambda s: any(s[m.S_RINGS][r][m.R_CUR] - s[m.S_RINGS][r][m.R_LA] == windows[r] - 1 for r in rings_used),
    )
    yield sometimes(
        "slot_reuse",
        "INV-R4",
        "a slot is rebound to a newer generation",
        lambda s: any(s[m.S_RINGS][r][m.R_CUR] > windows[r] for r in rings_used),
    )
    yield sometimes(
        "heap_wrap",
        "INV-H2",
        "an allocation wrapped to offset 0 while older buffers were live",
        lambda s: any(tt[m.T_FLAGS] & m.F_WRAPPED for tt in s[m.S_TASKS]),
    )

    def scope_end_with_live(s: State) -> bool:
        instr = info.instrs[s[m.S_PC]]
        if instr.kind != I_END or s[m.S_CUR] >= len(instr.frame):
            return False
        return bool(s[m.S_TASKS][instr.frame[s[m.S_CUR]]][m.T_ST] == m.PENDING)

    yield sometimes("scope_end_with_live_task", "INV-S1", "a scope ends while its task is PENDING", scope_end_with_live)

    def blocked(s: State) -> bool:
        instr = info.instrs[s[m.S_PC]]
        return instr.kind == I_SUBMIT and not s[m.S_FATAL] and isinstance(model._orch(s), m.Blocked)

    yield sometimes("orchestrator_blocked", "INV-S6", "the orchestrator waits on flow control", blocked)

    if any(t.manual for t in tasks_info):
        yield sometimes(
            "manual_scope",
            "INV-S4",
            "a task is submitted inside a MANUAL scope",
            lambda s: any(
                tasks_info[t].manual and s[m.S_TASKS][t][m.T_ST] != m.NONE for t in range(len(tasks_info))
            ),
        )
    yield sometimes(
        "completed_awaiting_own_release",
        "INV-L5",
        "a task is COMPLETED while its own release is still deferred",
        lambda s: any(
            tt[m.T_ST] == m.COMPLETED and not tt[m.T_FLAGS] & m.F_SELF_RELEASED and not tasks_info[i].is_alloc
            for i, tt in enumerate(s[m.S_TASKS])
        ),
    )
