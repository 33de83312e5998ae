"""Freedom from flow-control deadlock, and the exact sizes it needs for a given scope shape (spec
INV-S3, INV-S6, §2.13, §2.14; C++ `check_scope_can_accept_task`, `PTO2TaskAllocator::alloc`).

While the orchestrator waits on ring r, every task of r that no open scope pins eventually becomes
CONSUMED (INV-S6's premise), so `la` can reach, and never pass, the ring's oldest open-scope task.
The orchestrator deadlocks on ring r exactly when, with `la` at that pin, its request still fails.

Window: `check_scope_can_accept_task` (n < W - 1 tasks already in the frame) makes the window check
pass once `la` reaches the frame start; this is proved for every int32 window. The minimal window of
a shape is the smallest power of two above its largest frame count plus one; half of it is rejected
by the scope check (SCOPE_DEADLOCK).

Heap: the allocations of one ring are unrolled in task order (bounded model checking over the
program's ring, its request sizes and its pins), with every timing of `la` the schedulers allow: `la`
is monotone, never passes a pinned task, and an allocation happens at the first observed `la` at which
it fits. A deadlock is a task whose request fails with `la` at its pin. `minimal_heap` finds the least
H such that no heap of H or more bytes deadlocks, and a deadlocking schedule for H - 1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import z3  # type: ignore[import-untyped]

from model.program import ProgramInfo
from model.scenario import Scenario
from properties.smt.core import DEFAULT_RLIMIT, DEFAULT_SEED, Expr, run_query


@dataclass(frozen=True)
class RingTask:
    local: int
    name: str
    size: int  # heap request in bytes (model.program: O1 layout + 64-byte alignment)
    pin: int  # the local id la can reach while this task waits (its ring's oldest open-scope task)


def ring_tasks(scenario: Scenario, ring: int) -> list[RingTask]:
    info = ProgramInfo(scenario)
    out = []
    for t in info.tasks:
        if t.ring != ring:
            continue
        pin = t.local
        if t.oldest_open >= 0 and info.tasks[t.oldest_open].ring == ring:
            pin = info.tasks[t.oldest_open].local
        out.append(RingTask(t.local, t.name, t.heap_request, pin))
    return sorted(out, key=lambda r: r.local)


def minimal_window(scenario: Scenario, ring: int) -> tuple[int, int]:
    """(the smallest legal window with no SCOPE_DEADLOCK on this ring, the largest frame count before a
    submit). Half of the window is rejected by the scope check."""
    info = ProgramInfo(scenario)
    most = max((t.frame_count_before for t in info.tasks if t.ring == ring), default=0)
    w = 4
    while not most < w - 1:
        w *= 2
    return w, most


def window_vc() -> list[Expr]:
    """Negation of: n < W - 1 (the scope check passed) and la at the frame start f with cur = f + n
    implies the window check cur - la + 1 < W, for every int32 W (power of two >= 4) and frame start."""
    w, f, n = z3.BitVecs("W f n", 32)
    cur, la = f + n, f
    return [
        w >= 4,
        w <= 2**30,
        w & (w - 1) == 0,
        f >= 0,
        n >= 0,
        f + n >= f,  # no int32 overflow of the local id (A-INT32)
        n < w - 1,
        z3.Not(cur - la + 1 < w),
    ]


@dataclass
class HeapSchedule:
    """A decoded deadlocking schedule: per allocated task the `la` its allocation observed, then the
    task whose request fails with `la` at its pin."""

    heap: int
    observed_la: list[int]
    stuck: int  # local id of the task that cannot be allocated

    def describe(self, tasks: list[RingTask]) -> str:
        steps = [f"{tasks[i].name}@la={la}" for i, la in enumerate(self.observed_la)]
        t = tasks[self.stuck]
        return f"H={self.heap}: " + ", ".join(steps) + f"; {t.name} ({t.size} B) blocks with la={t.pin}"


def _allocator(tasks: list[RingTask], window: int, heap: Expr) -> tuple[list[Expr], list[Expr], list[Expr]]:
    """Unroll alloc over the ring's tasks. Returns (schedule constraints per task, deadlock-at-task
    conditions, the observed-la variables)."""
    top: Expr = z3.IntVal(0)
    tail: Expr = z3.IntVal(0)
    seen: Expr = z3.IntVal(0)
    anchor: Expr = z3.IntVal(-1)
    ends: list[Expr] = []
    prev_la: Expr = z3.IntVal(0)
    ok_steps: list[Expr] = []
    dead: list[Expr] = []
    las: list[Expr] = []

    def end_of(la: Expr) -> Expr:
        value: Expr = z3.IntVal(0)
        for k, e in enumerate(ends):
            value = z3.If(la - 1 == k, e, value)
        return value

    def derive(la: Expr) -> tuple[Expr, Expr, Expr]:
        fresh = la > seen
        keep = z3.And(anchor >= 0, la <= anchor)
        upd = z3.And(fresh, z3.Not(keep))
        return z3.If(fresh, la, seen), z3.If(upd, z3.IntVal(-1), anchor), z3.If(upd, end_of(la), tail)

    def bump(tl: Expr, a: int) -> tuple[Expr, Expr, Expr, Expr]:
        """(fits, base, top', rebased) of try_bump_heap(a) on (top, tl)."""
        if a == 0:
            return z3.BoolVal(True), top, top, z3.BoolVal(False)
        above = top >= tl
        at_end = heap - top >= a
        wrap = tl > a
        rebase = z3.And(top == tl, a <= heap)
        fits = z3.Or(z3.And(above, z3.Or(at_end, wrap, rebase)), z3.And(z3.Not(above), tl - top > a))
        base = z3.If(z3.And(above, z3.Not(at_end)), z3.IntVal(0), top)
        rebased = z3.And(above, z3.Not(at_end), z3.Not(wrap), rebase)
        return fits, base, base + a, rebased

    for j, t in enumerate(tasks):
        la = z3.Int(f"la_{j}")
        las.append(la)
        s_j, a_j, tl_j = derive(la)
        fits, base, new_top, rebased = bump(tl_j, t.size)
        window_ok = j - la + 1 < window
        succeeds = z3.And(window_ok, fits)
        # the same request at the previous observed la (an allocation takes the first la that fits)
        _s_p, _a_p, tl_p = derive(prev_la)
        fits_prev = bump(tl_p, t.size)[0]
        first = z3.Or(la == prev_la, z3.Not(z3.And(j - prev_la + 1 < window, fits_prev)))
        ok_steps.append(z3.And(prev_la <= la, la <= t.pin, succeeds, first))
        # deadlock: with la at the pin (everything unpinned reclaimed) the request still fails
        pin = z3.IntVal(t.pin)
        _s_d, _a_d, tl_d = derive(z3.If(pin > prev_la, pin, prev_la))
        fits_d = bump(tl_d, t.size)[0]
        dead.append(z3.And(prev_la <= pin, z3.Not(z3.And(j - t.pin + 1 < window, fits_d))))
        # commit the successful allocation
        seen, anchor = s_j, z3.If(rebased, z3.IntVal(t.local), a_j)
        tail = z3.If(rebased, z3.IntVal(0), tl_j)
        top = new_top
        ends.append(base + t.size)
        prev_la = la
    return ok_steps, dead, las


def deadlock_query(tasks: list[RingTask], window: int, heap: Expr) -> tuple[list[Expr], list[Expr]]:
    ok, dead, las = _allocator(tasks, window, heap)
    cases = [z3.And(*ok[:j], dead[j]) for j in range(len(tasks))]
    return [z3.Or(*cases)], las


@dataclass
class HeapBound:
    minimal: int  # no heap of this many bytes or more deadlocks
    schedule: HeapSchedule | None  # a deadlock with minimal - 1 bytes
    iterations: int
    seconds: float
    spec_bound: int  # Σ_pinned + 3·a_max (INV-S6's safe bound)
    query_seconds: list[float] = field(default_factory=list)  # CPU time of each solver query


def minimal_heap(
    tasks: list[RingTask], window: int, rlimit: int = DEFAULT_RLIMIT, seed: int = DEFAULT_SEED
) -> HeapBound:
    """The smallest H such that no heap of H bytes or more deadlocks. z3's optimizer proposes the
    largest deadlocking heap up to a cap (the spec's safe bound, doubled while something above it
    deadlocks); neither side rests on the optimizer: "no heap >= H deadlocks" is an UNSAT check over
    every larger heap, and H - 1 deadlocks by a model whose schedule is replayed on the model's allocator."""
    started = time.process_time()
    heap = z3.Int("H")
    formulas, las = deadlock_query(tasks, window, heap)
    pinned = _pinned_bytes(tasks)
    spec = pinned + 3 * max(t.size for t in tasks)
    query_seconds: list[float] = []
    lo = max([1, *[t.size for t in tasks]])  # heaps below the largest request are not considered
    cap = max(spec, lo)
    while True:
        best, model = _largest_deadlock(formulas, heap, lo, cap, rlimit, seed, query_seconds)
        minimal = lo if best is None else best + 1
        out = run_query([*formulas, heap >= minimal], rlimit, seed)  # the proof: no larger heap deadlocks
        query_seconds.append(out.seconds)
        if out.status == "unknown":
            raise RuntimeError(f"heap bound search: solver gave up ({out.reason})")
        if out.status == "unsat":
            break
        cap = 2 * int(out.model.eval(heap).as_long())  # a deadlock above the cap: search higher
    schedule = None
    if model is not None:
        schedule = _decode_schedule(model, las, tasks, minimal - 1, window)
    return HeapBound(minimal, schedule, len(query_seconds), time.process_time() - started, spec, query_seconds)


def _largest_deadlock(
    formulas: list[Expr], heap: Expr, lo: int, cap: int, rlimit: int, seed: int, seconds: list[float]
) -> tuple[int | None, object | None]:
    """The largest deadlocking heap in [lo, cap] and its model (None, None when there is none)."""
    opt = z3.Optimize()
    opt.set("rlimit", rlimit)
    opt.set("random_seed", seed)
    opt.add(*formulas, heap >= lo, heap <= cap)
    opt.maximize(heap)
    started = time.process_time()
    answer = opt.check()
    seconds.append(time.process_time() - started)
    if answer == z3.unknown:
        raise RuntimeError(f"heap bound search: optimizer gave up ({opt.reason_unknown()})")
    if answer == z3.unsat:
        return None, None
    model = opt.model()
    return int(model.eval(heap).as_long()), model


def _pinned_bytes(tasks: list[RingTask]) -> int:
    """The largest number of request bytes one pinned suffix holds (a frame's tasks before a submit)."""
    best = 0
    for t in tasks:
        best = max(best, sum(u.size for u in tasks if t.pin <= u.local <= t.local))
    return best


def _decode_schedule(model: object, las: list[Expr], tasks: list[RingTask], heap: int, window: int) -> HeapSchedule:
    """The deadlocking schedule, confirmed by replaying it on the executable model's allocator
    (`TrbModel`'s update_heap_tail / try_bump_heap): a disagreement raises."""
    from properties.smt.replay import simulate_ring_heap

    observed = [model.eval(la, model_completion=True).as_long() for la in las]  # type: ignore[attr-defined]
    result = simulate_ring_heap(tasks, observed, heap, window)
    if result.stuck is None:
        raise RuntimeError(f"encoding disagrees with the model: the schedule {observed} does not deadlock at H={heap}")
    return HeapSchedule(heap, observed[: result.stuck], result.stuck)


def shape_scenario(frames: list[list[int]], window: int, heap: int, name: str = "smt-scope-shape") -> Scenario:
    """A program with just a scope shape: one depth-1 scope (ring 1) per frame, each task an
    independent AIV kernel with one OUTPUT of the given size (0: no output). No edges, so any
    completion order (any `la` timing) is possible."""
    from model.scenario import Arg, Config, OutputSpec, ScopeBegin, ScopeEnd, Submit, Tag, validate

    program: list[object] = []
    n = 0
    for frame in frames:
        program.append(ScopeBegin())
        for size in frame:
            args = (Arg(Tag.OUTPUT, creates=OutputSpec(f"o{n}", (size,), "INT8")),) if size > 0 else ()
            program.append(Submit(f"t{n}", (-1, 0, -1), args))
            n += 1
        program.append(ScopeEnd())
    cfg = Config(
        task_window=(4, window, 4, 4),
        heap_bytes=(1024, heap, 1024, 1024),
        dep_pool=(16, 16, 16, 16),
        scheduler_threads=1,
        clusters=1,
    )
    return validate(Scenario(name, cfg, (), tuple(program)))  # type: ignore[arg-type]
