"""Which of the runtime's sizing rules a scenario satisfies (spec INV-S6 conditions 1-8, INV-P4).

INV-S6 is *sufficient* for freedom from flow-control deadlock: where every condition holds, a correct
runtime must finish the program (or stop at a fatal the program itself asks for, like AUTO inside
MANUAL); where one fails, nothing is promised either way. Properties that rely on the rules are
asserted only where `check_sizing(...).inv_s6` (or `.inv_p4`) holds.

The check is static: it walks the program once and, at every submit on ring r, bounds what can still be
live after every task that can be consumed has been: the tasks of each ring from its oldest task held
by an open scope onward (the spec's "pinned suffix"). Edge counts come from the no-retirement
derivation (`derive_all_edges`), an upper bound on the edges any run derives.

Two refinements of the spec's statement of INV-S6 (reported to the lead):
* Conditions 3-5 are checked where the submit waits *after* its claims (a spill-pool wait at a claim,
  the TensorMap reserve at O7, the dep-list reserve at O11c). By then the submit holds one claim on
  each of its producers, so those producers (and everything after them on their ring, since `la`
  advances in order) cannot be consumed during the wait. The spec's pinned suffix omits them; with a
  small TensorMap pool that omission is a real TENSORMAP_OVERFLOW (the reference model finds it).
* Condition 2 uses a sufficient bound derived from try_bump_heap (`_heap_needed`), tighter than the spec's
  P + 3 a_max.

Not sufficient, by a finding about the runtime (F-PORT-TMAP-STALE-ALIAS): the claims counted above are the
program's edges, but the TensorMap matches by address, so a lookup of a heap buffer that reuses a dead one's
bytes also claims the dead buffer's unretired writers (`heap_alias_lookups` names the submits where that can
happen). Such a claim can stall condition 3's or 5's wait for good. The rules here stay as the spec states
them; the finding is registered and campaigns report it as known.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.dependencies import EdgeRow, derive_all_edges, merge_rows
from model.program import I_ALLOC, I_BEGIN, I_END, I_SUBMIT, WAIT, ProgramInfo
from model.scenario import (
    NUM_RINGS,
    Alloc,
    Expected,
    FatalCode,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    Shape,
    Submit,
    TensorData,
)

WINDOW = "S6.1-task-window"
HEAP = "S6.2-heap"
DEP_POOL = "S6.3-dep-pool"
FANIN_SPILL = "S6.4-fanin-spill"
TENSORMAP = "S6.5-tensormap"
SCOPE_TASKS = "S6.6-scope-tasks"
READY_QUEUE = "S6.7-ready-queue"  # the same condition as INV-P4
SYNC_START = "S6.8-sync-start"
RULES = (WINDOW, HEAP, DEP_POOL, FANIN_SPILL, TENSORMAP, SCOPE_TASKS, READY_QUEUE, SYNC_START)


@dataclass(frozen=True)
class RuleFailure:
    rule: str
    task: str  # the submit where it first fails ("" for configuration-wide rules)
    detail: str


@dataclass(frozen=True)
class SizingReport:
    """The first failure of each rule (at most one per rule), in rule order."""

    failures: tuple[RuleFailure, ...]

    def holds(self, rule: str) -> bool:
        return all(f.rule != rule for f in self.failures)

    @property
    def inv_s6(self) -> bool:
        """Every INV-S6 condition holds at every submit: no flow-control deadlock, no sizing fatal."""
        return not self.failures

    @property
    def inv_p4(self) -> bool:
        """sum_r (W_r - 1) <= ready-queue capacity: a plain ready push can never hit a full queue."""
        return self.holds(READY_QUEUE)

    def failing_rules(self) -> tuple[str, ...]:
        return tuple(f.rule for f in self.failures)

    def describe(self) -> str:
        if not self.failures:
            return "INV-S6 holds (conditions 1-8 at every submit)"
        return "; ".join(
            f"{f.rule} fails" + (f" at {f.task}" if f.task else "") + f": {f.detail}" for f in self.failures
        )


@dataclass(frozen=True)
class SubmitNeeds:
    """What one submit needs for INV-S6 conditions 1-6 once only what it cannot outlive is live."""

    task: str
    ring: int
    pinned: int  # tasks of the ring's pinned suffix before this one (condition 1)
    heap: int  # heap bytes that guarantee the allocation (condition 2)
    dep_nodes: int  # dep-list nodes possibly live incl. this task's WAIT edges (condition 3)
    spill: int  # fanin spill entries possibly live incl. this task's (condition 4)
    tensormap: int  # TensorMap entries possibly live incl. this task's inserts (condition 5)
    scope_tasks: int  # scope_tasks entries incl. this one (condition 6)


def submit_needs(scenario: Scenario, info: ProgramInfo | None = None) -> list[SubmitNeeds]:
    """The needs of every submit and alloc, in program order (one round). They depend on the program,
    the windows and the constants, not on the resources (`info`: the scenario's ProgramInfo, if built)."""
    info = info or ProgramInfo(scenario)
    consts = scenario.config.constants
    # Per task: WAIT edges (dep-list nodes it may allocate), all edges (fanin entries), TensorMap inserts.
    rows_by_succ: dict[int, list[EdgeRow]] = {}
    for row in derive_all_edges(info):
        rows_by_succ.setdefault(row.succ, []).append(row)
    producers = {t: merge_rows(rows) for t, rows in rows_by_succ.items()}
    n = len(info.tasks)
    wait_edges = [sum(1 for _p, f in producers.get(t, ()) if f & WAIT) for t in range(n)]
    spills = [max(0, len(producers.get(t, ())) - consts.fanin_inline_cap) for t in range(n)]
    inserts = [len(task.registrations) for task in info.tasks]

    out: list[SubmitNeeds] = []
    open_frames: list[list[int]] = [[]]  # task indices per open frame, the executor's root frame first
    submitted = [0] * NUM_RINGS  # tasks already allocated per ring (the next local id)
    scope_tasks = 0
    for instr in info.instrs[1:]:
        if instr.kind == I_BEGIN:
            open_frames.append([])
            continue
        if instr.kind == I_END:
            scope_tasks -= len(open_frames.pop())
            continue
        if instr.kind not in (I_SUBMIT, I_ALLOC):
            continue
        t = instr.task
        task = info.tasks[t]
        r = task.ring
        # Admission (conditions 1, 2) waits before any claim: only open scopes pin.
        scoped = [_oldest_open(info, open_frames, ring) for ring in range(NUM_RINGS)]
        here = _suffix(info, r, scoped[r], submitted[r])
        pinned_bytes = sum(info.tasks[p].heap_request for p in here)
        largest = max((info.tasks[p].heap_request for p in here), default=0)
        # The later waits (spill pool at a claim, TensorMap at O7, dep-list pool at O11c) happen while
        # this submit holds a claim on each of its producers: they cannot be consumed either, and la
        # stops at the oldest of them.
        held = list(scoped)
        for p, _flags in producers.get(t, ()):
            pr, pl = info.tasks[p].ring, info.tasks[p].local
            held[pr] = pl if held[pr] < 0 else min(held[pr], pl)
        live = [_suffix(info, ring, held[ring], submitted[ring]) for ring in range(NUM_RINGS)]
        head = held[r] if held[r] >= 0 else task.local
        # Dep-list nodes stay until la passes their task AND la has moved >= the cleanup interval since
        # the last reclaim: the interval - 1 tasks before the live head may still hold theirs.
        throttle_from = max(0, head - consts.dep_pool_cleanup_interval + 1)
        out.append(
            SubmitNeeds(
                task=task.name,
                ring=r,
                pinned=len(here),
                heap=_heap_needed(task.heap_request, pinned_bytes, largest),
                dep_nodes=sum(wait_edges[p] for p in info.by_ring_local[r][throttle_from : task.local])
                + wait_edges[t],
                spill=sum(spills[p] for p in live[r]) + spills[t],
                tensormap=sum(inserts[p] for ring_live in live for p in ring_live) + inserts[t],
                scope_tasks=scope_tasks + 1,
            )
        )
        open_frames[-1].append(t)
        scope_tasks += 1
        submitted[r] += 1
    return out


def check_sizing(scenario: Scenario, needs: list[SubmitNeeds] | None = None) -> SizingReport:
    """Check INV-S6 conditions 1-8 at every submit (and alloc) of the program."""
    cfg = scenario.config
    consts = cfg.constants
    first: dict[str, RuleFailure] = {}

    def fail(rule: str, task: str, detail: str) -> None:
        first.setdefault(rule, RuleFailure(rule, task, detail))

    queued = sum(w - 1 for w in cfg.task_window)
    if queued > consts.ready_queue_capacity:
        fail(READY_QUEUE, "", f"sum(W_r - 1) = {queued} > ready-queue capacity {consts.ready_queue_capacity}")
    cores = {Shape.AIC: cfg.clusters, Shape.AIV: 2 * cfg.clusters, Shape.MIX: cfg.clusters}
    for op in scenario.tasks():
        if isinstance(op, Submit) and op.sync_start and op.block_num > cores.get(op.shape, op.block_num):
            fail(SYNC_START, op.name, f"sync_start block_num {op.block_num} > {cores[op.shape]} cores")
    capacity = sum(cfg.task_window)
    for need in submit_needs(scenario) if needs is None else needs:
        r = need.ring
        if need.pinned + 1 > cfg.task_window[r] - 1:
            fail(
                WINDOW, need.task, f"{need.pinned} pinned + 1 on ring {r} > W - 1 = {cfg.task_window[r] - 1}"
            )
        if need.heap > cfg.heap_bytes[r]:
            fail(HEAP, need.task, f"needs {need.heap} B > heap {cfg.heap_bytes[r]} B on ring {r}")
        if need.dep_nodes > cfg.dep_pool[r]:
            fail(
                DEP_POOL,
                need.task,
                f"up to {need.dep_nodes} live dep-list nodes > pool {cfg.dep_pool[r]} on ring {r}",
            )
        if need.spill > cfg.dep_pool[r]:
            fail(
                FANIN_SPILL,
                need.task,
                f"up to {need.spill} live spill entries > pool {cfg.dep_pool[r]} on ring {r}",
            )
        if need.tensormap > consts.tensormap_pool_size:
            fail(
                TENSORMAP,
                need.task,
                f"up to {need.tensormap} live entries > pool {consts.tensormap_pool_size}",
            )
        if need.scope_tasks > capacity:
            fail(SCOPE_TASKS, need.task, f"scope_tasks {need.scope_tasks} > sum(W) = {capacity}")
    return SizingReport(tuple(first[rule] for rule in RULES if rule in first))


@dataclass(frozen=True)
class Requirements:
    """The smallest resources with which conditions 2-5 and 7 hold (1 and 6 depend on windows only)."""

    heap_bytes: tuple[int, int, int, int]
    dep_pool: tuple[int, int, int, int]
    tensormap_pool: int
    ready_queue: int


def requirements(scenario: Scenario, needs: list[SubmitNeeds] | None = None) -> Requirements:
    needs = submit_needs(scenario) if needs is None else needs
    heap = [0] * NUM_RINGS
    dep = [0] * NUM_RINGS
    for need in needs:
        heap[need.ring] = max(heap[need.ring], need.heap)
        dep[need.ring] = max(dep[need.ring], need.dep_nodes, need.spill)
    return Requirements(
        heap_bytes=(heap[0], heap[1], heap[2], heap[3]),
        dep_pool=(dep[0], dep[1], dep[2], dep[3]),
        tensormap_pool=max((need.tensormap for need in needs), default=0),
        ready_queue=sum(w - 1 for w in scenario.config.task_window),
    )


def _heap_needed(request: int, pinned_bytes: int, largest_pinned: int) -> int:
    """Heap bytes that guarantee `request` fits once only the pinned suffix is live (try_bump_heap, §2.13).

    Zero-size requests always fit; on an empty ring the rebase fits anything up to H. Otherwise the live
    arc is the pinned bytes plus at most one wasted end fragment, smaller than the pinned request that
    wrapped: a wrapped arc leaves a middle gap H - P - f > a when H >= P + a + largest_pinned; an
    unwrapped one has an end gap >= a or a start gap > a when H - P >= 2a. This is tighter than the
    spec's stated safe bound (P + 3 a_max), which it implies.
    """
    if request == 0:
        return 0
    if pinned_bytes == 0:
        return request
    return pinned_bytes + request + max(request, largest_pinned)


def _oldest_open(info: ProgramInfo, open_frames: list[list[int]], ring: int) -> int:
    """Local id of the oldest task of `ring` held by an open scope, or -1."""
    oldest = -1
    for depth, frame in enumerate(open_frames):
        if min(depth, NUM_RINGS - 1) != ring:
            continue
        for t in frame:
            local = info.tasks[t].local
            if oldest < 0 or local < oldest:
                oldest = local
    return oldest


def _suffix(info: ProgramInfo, ring: int, head: int, submitted: int) -> list[int]:
    """Task indices of `ring` from local id `head` up to the submitted ones (none when head < 0)."""
    return [] if head < 0 else list(info.by_ring_local[ring][head:submitted])


def stale_tensor_uses(scenario: Scenario) -> list[str]:
    """Tasks (and tensor-data ops) that view a runtime-created tensor after its creator's scope ended.

    The runtime documents a task's output tensors as valid only within the submitting scope (spec §5,
    "Creator lifetime"); it still defends stale owner ids with the claim's generation check (INV-G1).
    Outside the contract, nothing is promised about the outcome."""
    frames: list[set[str]] = [set()]
    out: list[str] = []
    external = {b.name for b in scenario.buffers}
    for i, op in enumerate(scenario.program):
        if isinstance(op, ScopeBegin):
            frames.append(set())
        elif isinstance(op, ScopeEnd):
            frames.pop()
        elif isinstance(op, TensorData):
            if op.region.buffer not in external and not any(op.region.buffer in f for f in frames):
                out.append(f"program[{i}]")
        elif isinstance(op, Submit):
            if any(
                a.region is not None
                and a.region.buffer not in external
                and not any(a.region.buffer in f for f in frames)
                for a in op.args
            ):
                out.append(op.name)
            frames[-1].update(a.creates.name for a in op.args if a.creates is not None)
        elif isinstance(op, Alloc):
            frames[-1].update(o.name for o in op.outputs)
    return out


def heap_alias_lookups(scenario: Scenario) -> list[str]:
    """Submits that may look up a runtime-created tensor at the heap address of an older one that a task
    registered in the TensorMap (finding F-PORT-TMAP-STALE-ALIAS).

    The TensorMap keys entries by buffer address and keeps one until its *writer* retires, not until its
    buffer is reclaimed. A heap buffer is reclaimed with its creator, so a tensor created later on the same
    ring's heap can get the same address while an older writer's entry is still valid, and a lookup of it
    matches that entry. Static and conservative: same heap ring, created later, a different tensor; whether
    the addresses coincide depends on the run."""
    info = ProgramInfo(scenario)
    registered: list[tuple[str, int, int]] = []  # (buffer, creator's ring, creator's index), in order
    out: list[str] = []
    for task in info.tasks:
        if task.is_alloc or task.manual:
            continue
        for ai in task.lookups:
            arg = task.args[ai]
            if arg.owner < 0 or arg.buffer is None:
                continue
            ring = info.tasks[arg.owner].ring
            if any(buf != arg.buffer and r == ring and owner < arg.owner for buf, r, owner in registered):
                out.append(task.name)
                break
        for ai in task.registrations:
            arg = task.args[ai]
            if arg.owner >= 0 and arg.buffer is not None:
                registered.append((arg.buffer, info.tasks[arg.owner].ring, arg.owner))
    return out


def static_outcome(
    scenario: Scenario, report: SizingReport | None = None, info: ProgramInfo | None = None
) -> Expected | None:
    """The outcome every run must reach when the program alone decides it, else None.

    Complete when INV-S6 holds, the program keeps to the documented tensor lifetime (no
    `stale_tensor_uses`) and asks for no fatal. The immediate fatals the orchestrator
    raises in program order (AUTO inside MANUAL -> INVALID_ARGS, a full frame -> SCOPE_DEADLOCK, a full
    scope_tasks array -> SCOPE_TASKS_OVERFLOW) are certain when every earlier submit satisfies INV-S6.
    """
    report = report or check_sizing(scenario)
    if not report.holds(READY_QUEUE) or not report.holds(SYNC_START):
        return None  # a dropped ready push or a sync_start fatal may come first
    if stale_tensor_uses(scenario):
        return None
    failing_at: dict[str, set[str]] = {}
    for f in report.failures:
        failing_at.setdefault(f.task, set()).add(f.rule)
    info = info or ProgramInfo(scenario)
    cfg = scenario.config
    capacity = sum(cfg.task_window)
    for instr in info.instrs:
        if instr.kind == I_BEGIN and instr.auto_in_manual:
            return Expected(FatalCode.INVALID_ARGS)
        if instr.kind not in (I_SUBMIT, I_ALLOC):
            continue
        task = info.tasks[instr.task]
        if task.frame_count_before >= cfg.task_window[task.ring] - 1:
            return Expected(FatalCode.SCOPE_DEADLOCK)  # check_scope_can_accept_task, before any allocation
        here = failing_at.get(task.name, set())
        if here & {WINDOW, HEAP}:
            return None  # the allocation may block for good
        if task.scope_tasks_before + 1 > capacity:
            return Expected(FatalCode.SCOPE_TASKS_OVERFLOW)
        if here:
            return None
    return Expected()
