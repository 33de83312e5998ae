"""Exhaustive depth-first search over a System's interleavings, with a preemption bound and sleep sets.

What it explores. Every schedule of the System whose number of preemptions is at most the bound. A
preemption is a switch away from a thread that could have continued (it was runnable); a switch away
from a thread that blocked or finished is free, and so is every choice among fired backstops (they are
offered only when nothing else can run).

Stateful search. A node is (global state, current thread), the current thread being kept only while it
is runnable (it is what makes a switch cost a preemption). Each expansion of a state records how many
preemptions the bound still allowed below it; a later arrival is cut when an earlier expansion covers
it: same or no current thread and at least as many preemptions left, or one more left with any current
thread (a switch costs at most one), or an earlier expansion that the bound never cut anywhere below
("complete": nothing left to gain). So a state is re-expanded only when reached with fewer preemptions.

Partial-order reduction: sleep sets over the ops' read/write footprints. Two ops are dependent when they
touch a common cell and at least one writes it (lock ops count every cell they touch as written; an op
with an empty footprint is dependent on everything unless it is LOCAL or a FENCE). After the subtree of
child `t` of a node is explored, `t` sleeps in the later siblings' subtrees until a dependent op runs.
Sleep sets alone never lose a reachable state, but combined naively with a preemption bound they do:
the equivalent schedule that explored `t` first may need more preemptions than the one pruned (Coons,
Musuvathi, McKinley, "Bounded partial-order reduction", OOPSLA 2013). So a finished sibling `t` is put
to sleep only when the bound cut nothing in its subtree. One sibling may sleep whatever the bound cut:
the current thread A's continuation, in the subtrees that preempt A. A run that preempts A before its
next op `a` and runs `a` only after a stretch of steps that all commute with `a` reaches what the run
that preempts A right after `a` reaches, and that run costs no more: switching after `a` costs one only
if A can still run, and every switch inside the stretch costs the same in both runs provided `a` also
commutes with the announced op of each thread switched away from (that op's guard decides the cost). So
every sleeper is woken at a switch away from a thread whose announced op conflicts with it
(`test_a_sleeper_wakes_at_a_switch_away_from_a_conflicting_op` shows a state lost without that rule).
Below the bound's frontier the search otherwise falls back to plain stateful search, which is sound. A
node's stored sleep set must be a subset of an arrival's for the arrival to be cut (the earlier
expansion skipped only what the new arrival would skip too).

Known successors. The search remembers, per state, the key of the state each thread's step led to.
Before running a child it looks that key up: from this state's own remembered successors (a state met
again), or by commutation: if t's op commutes with every step taken since a node where t's step was
explored (or is known), then running t here reaches (that node after t) followed by the same steps,
whose key the remembered successors give. When that state is already expanded in a way that covers
the arrival, the child is skipped without running it, which saves the backtrack that running it would
cost. Unlike sleep sets this is exact under the bound (coverage is checked, not assumed); it trusts the
footprints, which `check_commutation` verifies by running every predicted step and comparing keys.

Backtracking. Generators cannot be copied, so returning to a node re-executes its schedule prefix on a
fresh System from the factory, in a fast mode: no guards, no observers, no records. Only the second and
later children of a node need it (the first child continues the live execution). `DfsResult` reports
the replayed steps next to the explored ones so the cost is visible. Building a System can cost as much
as replaying hundreds of steps (the TRB port builds its op tables), so a System class that declares
`RESET_IN_PLACE_STATIC` (the names of attributes that never change after it is built) is built once and
reset in place instead (`_InPlaceReset`); the first restores check that the reset System reaches the
very state key it reached before (else `ReplayMismatch`).

Iterative bounding (optional, as in CHESS): search with bounds 0, 1, ... P in turn, keeping the table
(expansions record the preemptions they had left, so a larger bound re-expands exactly what a smaller
one cut); a search cut by time or states then still certifies the bounds it finished.

Verdicts: `complete` when no bound cut anything (every reachable state was visited), else
`bounded(preemptions=P, ...)` (with `finished-preemptions=k` when an iterative search finished bound k
but not P); never "verified". Every end of a run is judged like `run_once` does: a
deadlock (nothing can run and work is left), the step limit, an observer Failure at a step or at the end
are all failures, each with the schedule that reproduces it under `ReplayScheduler`.

Starvation is not a livelock. A thread that never blocks (it polls or re-pushes without waiting) keeps
running under a spent preemption bound while runnable threads starve, and its run would hit the step
limit although any fair scheduler lets it end. A run at the step limit therefore continues under
round-robin for as many steps again: a run that then ends is judged as any end (reaching the goal counts
`fair_completions` among the bounds, since the starving prefix itself was not judged); one that still
does not end is the step-limit failure (its schedule includes the continuation).

Observers must judge from the executor's current state and the step record: the search resumes runs in
the middle after a fast replay that observers do not see, and equal states share one verdict. Every
reachable state (within the bound) is reached by at least one observed step, but a step pruned by a
sleep set or a known successor is not observed itself: a check of transitions (rather than states)
sees representatives only; pass `por=False` for such checks. Pass a factory (`System -> observers`)
when observers hold a reference to the system they check.
"""

from __future__ import annotations

import contextlib
import copy
import struct
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any

from model.errors import PtocheckError
from runtime.core import (
    DAEMON_ROLES,
    Executor,
    Failure,
    Observer,
    Op,
    OpKind,
    System,
    advance,
    thread_position,
)
from runtime.execution import DEADLOCK, DONE, FAILURE, STEP_LIMIT, encode_schedule

ObserverSource = Sequence[Observer] | Callable[[System], Sequence[Observer]]
"""Observers shared by every run, or a factory called with each fresh System."""

SystemFactory = Callable[[], System]

LOCK_KINDS = frozenset({OpKind.TRY_LOCK, OpKind.LOCK, OpKind.UNLOCK})
FOOTPRINT_FREE_KINDS = frozenset({OpKind.LOCAL, OpKind.FENCE})
DEADLOCK_PROPERTY = "run.deadlock"
STEP_LIMIT_PROPERTY = "run.step_limit"
UNBOUNDED = 1 << 30  # the preemptions "left" under no bound
KEY_TIMING_SAMPLE = 16  # state keys timed (the time reported for state keys is this sample, scaled)
RESET_CHECKS = 8  # restores of an in-place reset System whose reached state is checked against the table
CHECK_EVERY = 256  # transitions between checks of the time limit and progress callback


class ReplayMismatch(PtocheckError):
    """Re-executing a schedule prefix on a fresh System did not reach the state it reached before."""


class FootprintViolation(PtocheckError):
    """A step wrote a memory cell its op did not declare (the sleep-set reduction relies on footprints)."""


def dependent(a: Op, b: Op) -> bool:
    """Whether two announced ops may not commute: a common cell that one of them writes."""
    a_reads, a_writes, b_reads, b_writes = a.reads, a.writes, b.reads, b.writes
    if a.kind in LOCK_KINDS:
        a_reads, a_writes = (), a_reads + a_writes
    if b.kind in LOCK_KINDS:
        b_reads, b_writes = (), b_reads + b_writes
    if not (a_reads or a_writes):
        return a.kind not in FOOTPRINT_FREE_KINDS
    if not (b_reads or b_writes):
        return b.kind not in FOOTPRINT_FREE_KINDS
    for cell in a_writes:
        if cell in b_writes or cell in b_reads:
            return True
    return any(cell in a_reads for cell in b_writes)


def _always_dependent(a: Op, b: Op) -> bool:
    return True


@dataclass(frozen=True)
class FailedExecution:
    """One failing run found by a search: what failed, and the schedule that replays it exactly."""

    outcome: str  # FAILURE, DEADLOCK or STEP_LIMIT (as in runtime.execution)
    property_id: str
    message: str
    step: int  # index of the step at which it was detected (the run's length for end-of-run checks)
    schedule: tuple[int, ...]
    thread_states: tuple[str, ...] = ()
    seed: int | None = None  # the run's own seed, for randomised engines

    def schedule_text(self) -> str:
        return encode_schedule(self.schedule)

    def line(self) -> str:
        seed = f" seed={self.seed}" if self.seed is not None else ""
        return f"{self.outcome}: {self.property_id}: {self.message} (step {self.step}{seed}) {self.schedule_text()}"


@dataclass(frozen=True)
class DfsResult:
    """What the search did (counts), what cut it (bounds) and what it found (failures with schedules)."""

    complete: bool
    bounds: dict[str, int | float | str]  # the limits that cut the search (empty when complete)
    preemption_bound: int | None
    completed_bound: int | None  # the largest preemption bound whose search finished (None: none did)
    states: int  # distinct global states visited (stateful), or expanded nodes (stateless)
    nodes: int  # (state, current thread) nodes expanded
    executions: int  # runs that reached their end and were judged
    transitions: int  # steps executed while exploring (replay excluded)
    replayed_steps: int  # steps re-executed to backtrack
    restores: int  # how many times a prefix was re-executed
    max_depth: int
    sleep_pruned: int  # transitions skipped by sleep sets
    bound_pruned: int  # transitions cut by the preemption bound
    revisits: int  # nodes re-expanded because they were reached with fewer preemptions
    predicted: int  # children skipped because their state was known, and covered, without running them
    cycles: int  # arrivals at a node still on the search stack
    failures: tuple[FailedExecution, ...]
    failures_total: int
    seconds: float
    stopped_at_failure: bool = False
    stats: dict[str, float] = field(default_factory=dict)
    # how every judged end of a run came out: "done" (work_left says all done), or "<outcome>: <property>"
    # (deadlocks, step limits and observer failures, including those found at a step)
    end_outcomes: dict[str, int] = field(default_factory=dict)

    def bounds_text(self) -> str:
        """`complete`, or `bounded(preemptions=P, states=..., executions=..., seconds=...)`."""
        if self.complete:
            return "complete"
        parts = [f"{name}={value}" for name, value in self.bounds.items()]
        if self.completed_bound is not None and self.completed_bound != self.preemption_bound:
            parts.append(f"finished-preemptions={self.completed_bound}")
        parts += [f"states={self.states}", f"executions={self.executions}", f"seconds={self.seconds:.1f}"]
        return f"bounded({', '.join(parts)})"

    def verdict(self) -> str:
        """One line; a bounded pass says "no violation within bounds", never more."""
        if self.failures_total:
            first = self.failures[0]
            more = f" (+{self.failures_total - 1} more)" if self.failures_total > 1 else ""
            return f"violation: {first.property_id} ({first.outcome}) at step {first.step}{more}; {self.bounds_text()}"
        if self.complete:
            return f"complete: no violation ({self.states} states, {self.executions} executions)"
        return f"no violation within {self.bounds_text()}"

    def summary_line(self) -> str:
        return (
            f"{self.bounds_text()}: {self.states} states, {self.nodes} nodes, {self.executions} executions, "
            f"{self.transitions} transitions (+{self.replayed_steps} replayed in {self.restores} restores), "
            f"max depth {self.max_depth}, pruned {self.sleep_pruned} by sleep sets, {self.predicted} by "
            f"known successors and {self.bound_pruned} by the bound, {self.failures_total} failure(s), "
            f"{self.seconds:.2f}s"
        )


class _Entry:
    """One expansion of a state: the current thread it had, the preemptions it had left, its sleep set,
    and its fate."""

    __slots__ = ("complete", "current", "left", "on_stack", "sleep")

    def __init__(self, current: int | None, left: int, sleep: int) -> None:
        self.current = current
        self.left = left  # preemptions the bound still allowed below this node
        self.sleep = sleep
        self.complete = False
        self.on_stack = True

    def covers(self, current: int | None, left: int, sleep: int) -> bool:
        """Whether this expansion explored everything an arrival with these values would explore."""
        if self.sleep & ~sleep:
            return False
        if self.complete and not self.on_stack:
            return True
        if self.left >= left + 1:
            return True
        return self.left >= left and (self.current is None or self.current == current)


class _State:
    """What the search knows about one global state: its expansions, its known successors, and which
    threads can run in it (to know whether arriving by a thread leaves it as the current thread)."""

    __slots__ = ("edges", "entries", "runnable")

    def __init__(self, runnable: int) -> None:
        self.entries: list[_Entry] = []
        self.edges: dict[int, Hashable] | None = None  # thread -> successor state's key
        self.runnable = runnable  # bitmask of runnable threads (0 when only backstops can fire)

    def covering(self, current: int | None, left: int, sleep: int) -> _Entry | None:
        for entry in self.entries:
            if entry.covers(current, left, sleep):
                return entry
        return None


class _Frame:
    """A node on the search stack, with the children still to explore."""

    __slots__ = (
        "children",
        "complete",
        "cost",
        "current",
        "depth",
        "digest",
        "done_all",
        "done_complete",
        "entry",
        "fire",
        "last",
        "live",
        "next",
        "ops",
        "positions",
        "shadows",
        "sleep",
    )

    def __init__(
        self,
        depth: int,
        current: int | None,
        cost: int,
        sleep: int,
        children: list[int],
        fire: bool,
        ops: list[Op | None],
        positions: tuple[bytes, ...],
        entry: _Entry | None,
        complete: bool,
        digest: Hashable,
        shadows: dict[int, Hashable],
        last: int | None,
    ) -> None:
        self.depth = depth
        self.last = last  # the thread whose step led here (None at the root), runnable or not
        self.current = current
        self.cost = cost
        self.sleep = sleep
        self.children = children
        self.fire = fire
        self.ops = ops
        self.positions = positions
        self.entry = entry
        self.complete = complete
        self.digest = digest
        self.shadows = shadows  # thread t -> key of (this state after t), known by commutation
        self.next = 0
        self.live = True  # the executor sits here until the first child is stepped
        self.done_all = 0  # children explored (or predicted) so far
        self.done_complete = 0  # ... of which the bound never cut anything below: they may sleep in siblings


def _feed_fingerprint(digest: Any, fingerprint: Hashable) -> None:
    """Feed a fingerprint to a hash as bytes that are equal exactly when the fingerprints are equal.

    A fingerprint is usually a tuple whose large parts are tuples of ints (memory cells): those are packed
    as 64-bit integers in C (`struct`), everything else as its repr; each part carries a tag and its length,
    so the encoding stays injective. Packing instead of one big repr is what makes the state key cheap.
    """
    parts = fingerprint if isinstance(fingerprint, tuple) else (fingerprint,)
    for part in parts:
        data: bytes | None = None
        if isinstance(part, tuple) and len(part) > 8:
            packer = _PACKERS.get(len(part))
            if packer is None:
                packer = _PACKERS[len(part)] = struct.Struct(f"<{len(part)}q")
            try:
                data = b"I" + packer.pack(*part)
            except struct.error:  # not all ints, or an int beyond 64 bits
                data = None
        if data is None:
            data = b"R" + repr(part).encode()
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)


_PACKERS: dict[int, struct.Struct] = {}  # tuple length -> its int64 packer (struct packs 3-4x faster than array)

_IMMUTABLE_SCALARS = (int, str, float, bool, bytes, type(None))


def _is_immutable(value: object) -> bool:
    if isinstance(value, _IMMUTABLE_SCALARS):
        return True
    if isinstance(value, tuple | frozenset):
        return all(_is_immutable(v) for v in value)
    return False


class _InPlaceReset:
    """A System brought back to the state it had right after it was built, without building it again.

    Captured before `threads()` is called. Memory objects' cell lists are restored in place (guards close
    over them); attributes holding immutable values are set back; the attributes the class lists in
    `RESET_IN_PLACE_STATIC` are left alone; every other attribute gets a deep copy of its built value
    (sharing the system itself, its Memory objects, Ops and `Static` objects); attributes added later (an
    observer's hook) are removed.
    """

    def __init__(self, system: System, static: Sequence[str]) -> None:
        from runtime.core import Memory

        self.system = system
        attributes: dict[str, object] = vars(system)
        self.memo: dict[int, object] = {id(system): system}
        self.cells: list[tuple[list[int], list[int]]] = []
        self.values: dict[str, object] = {}
        self.copies: dict[str, object] = {}
        for value in attributes.values():
            if isinstance(value, Memory):
                self.memo[id(value)] = value
                self.memo[id(value.cells)] = value.cells
                self.cells.append((value.cells, list(value.cells)))
        skip = set(static)
        for name, value in attributes.items():
            if name in skip or isinstance(value, Memory) or name.startswith("OP_"):
                self.memo[id(value)] = value
                self.values[name] = value
            elif _is_immutable(value):
                self.values[name] = value
        for name, value in attributes.items():
            if name not in self.values:
                self.copies[name] = copy.deepcopy(value, dict(self.memo))

    def restore(self) -> None:
        for cells, built in self.cells:
            cells[:] = built
        attributes: dict[str, object] = vars(self.system)
        for name in [n for n in attributes if n not in self.values and n not in self.copies]:
            del attributes[name]
        attributes.update(self.values)
        for name, value in self.copies.items():
            attributes[name] = copy.deepcopy(value, dict(self.memo))


def _unfinished_text(ex: Executor) -> str:
    unfinished = sum(1 for slot in ex.slots if slot.op is not None and slot.role not in DAEMON_ROLES)
    return f"no thread can run and {unfinished} thread(s) have not finished"


class _StopSearch(Exception):
    pass


class DfsEngine:
    """Exhaustive (bounded) DFS over the interleavings of the Systems `system_factory` builds.

    `preemption_bound=None` explores without a bound. `iterative=True` searches with bounds 0, 1, ...
    up to `preemption_bound` in turn, keeping what it learnt (CHESS's iterative context bounding): a run
    cut by time still certifies every bound it finished (`DfsResult.completed_bound`). `stateful=False` keeps no visited states (every
    schedule is a path of its own: only for tiny systems or observers that are not state functions).
    `por=False` switches the sleep sets off. `max_steps` is the run length at which a run is reported as
    a step-limit failure (livelock). `max_seconds` (wall clock) / `max_cpu_seconds` (process time) /
    `max_states` cut the search (reported as bounds).
    `check_replay` verifies, at every backtrack, that the replayed prefix reached the same state (catches
    a System that is not a function of its schedule); `check_footprints` verifies after every explored
    step that the cells it changed are among its op's declared writes; `check_commutation` runs every
    child whose state was predicted and checks the prediction. They cost time; use them in tests.
    `reuse_systems=False` builds a new System for every backtrack even when its class supports an
    in-place reset (see "Backtracking" in the module docstring).
    """

    # Wake sleepers at a switch away from a thread whose announced op conflicts with them (see the module
    # docstring); a class attribute only so that a test can show what is lost without it.
    _switch_wakes = True

    def __init__(
        self,
        system_factory: SystemFactory,
        *,
        preemption_bound: int | None = 2,
        iterative: bool = False,
        por: bool = True,
        stateful: bool = True,
        observers: ObserverSource = (),
        max_steps: int = 100_000,
        max_seconds: float | None = None,
        max_cpu_seconds: float | None = None,
        max_states: int | None = None,
        stop_at_first_failure: bool = True,
        keep_failures: int = 20,
        exact_states: bool = False,
        check_replay: bool = False,
        check_footprints: bool = False,
        check_commutation: bool = False,
        reuse_systems: bool = True,
        progress: Callable[[DfsResult], None] | None = None,
    ) -> None:
        if preemption_bound is not None and preemption_bound < 0:
            raise PtocheckError(
                f"preemption bound must be >= 0, got {preemption_bound}", "dfs", "use None for no bound"
            )
        if max_steps < 1:
            raise PtocheckError(
                f"max_steps must be >= 1, got {max_steps}", "dfs", "pass a positive step limit"
            )
        self._factory = system_factory
        self._final_bound = preemption_bound
        self._bound = preemption_bound
        self._iterative = iterative
        self._por = por
        self._stateful = stateful
        self._observer_source = observers
        self._max_steps = max_steps
        self._max_seconds = max_seconds
        self._max_cpu_seconds = max_cpu_seconds
        self._max_states = max_states
        self._stop_first = stop_at_first_failure
        self._keep_failures = keep_failures
        self._exact = exact_states
        self._check_replay = check_replay
        self._check_footprints = check_footprints
        self._check_commutation = check_commutation
        self._reuse_systems = reuse_systems
        self._reset: _InPlaceReset | None = None
        self._progress = progress

    # ----------------------------------------------------------------------------------------- run
    def run(self) -> DfsResult:
        self._started = time.perf_counter()
        self._cpu_started = time.process_time()
        self._table: dict[Hashable, _State] = {}
        self._path: list[int] = []
        self._fires: list[bool] = []
        self._failures: list[FailedExecution] = []
        self._failures_total = 0
        self._nodes = 0
        self._executions = 0
        self._transitions = 0
        self._replayed = 0
        self._restores = 0
        self._max_depth = 0
        self._sleep_pruned = 0
        self._bound_pruned = 0
        self._revisits = 0
        self._cycles = 0
        self._predicted = 0
        self._replay_seconds = 0.0
        self._key_seconds = 0.0
        self._cut: dict[str, int | float | str] = {}
        self._outcomes: dict[str, int] = {}
        self._stopped_at_failure = False
        self._completed_bound: int | None = None
        final = self._final_bound
        bounds = list(range(final + 1)) if self._iterative and final is not None else [final]
        with contextlib.suppress(_StopSearch):
            for bound in bounds:
                self._bound = bound
                self._cut.pop("preemptions", None)
                del self._path[:], self._fires[:]
                self._fresh()
                self._pos: list[bytes] = [self._position_text(tid) for tid in range(len(self._ex.slots))]
                self._search()
                self._completed_bound = bound
                if "preemptions" not in self._cut:
                    break  # the bound cut nothing: a larger one would explore the same
        return self._result()

    def _search(self) -> None:
        root, _ = self._enter(None, 0, 0, {}, None, None)
        stack: list[_Frame] = [root] if root is not None else []
        ticks = 0
        while stack:
            frame = stack[-1]
            if frame.next >= len(frame.children):
                stack.pop()
                if frame.entry is not None:
                    frame.entry.complete = frame.complete
                    frame.entry.on_stack = False
                if stack:
                    self._child_done(stack[-1], self._path[frame.depth - 1], frame.complete)
                continue
            tid = frame.children[frame.next]
            frame.next += 1
            cost = frame.cost + (0 if frame.current is None or tid == frame.current else 1)
            child_sleep = self._child_sleep(frame, tid) if self._por and not frame.fire else 0
            expected: Hashable = None
            if self._stateful:
                expected = self._predict(frame, tid, cost, child_sleep)
                if expected is not None and not self._check_commutation:
                    continue
            shadows = (
                self._child_shadows(frame, tid) if self._stateful and self._por and not frame.fire else {}
            )
            if not frame.live:
                self._restore(frame)
            frame.live = False
            frame.done_all |= 1 << tid
            failure = self._explore_step(tid, frame.fire)
            if failure is not None:
                self._child_done(frame, tid, True)
                continue
            child, complete = self._enter(tid, cost, child_sleep, shadows, frame.digest, expected)
            if child is None:
                self._child_done(frame, tid, complete)
            else:
                stack.append(child)
            ticks += 1
            if ticks >= CHECK_EVERY:
                ticks = 0
                self._check_limits()

    # -------------------------------------------------------------------------------- node handling
    def _enter(
        self,
        current: int | None,
        cost: int,
        sleep: int,
        shadows: dict[int, Hashable],
        parent: Hashable,
        expected: Hashable,
    ) -> tuple[_Frame | None, bool]:
        """The live executor sits at a new node: judge its end, or decide which children to explore.

        Returns the frame to push (None for a leaf) and, for a leaf, whether it is complete (the bound
        cut nothing below it). `parent` is the key of the state it was reached from (None at the root);
        `expected` the key a commutation predicted for it (checked in `check_commutation` mode).
        """
        ex = self._ex
        depth = len(self._path)
        if depth > self._max_depth:
            self._max_depth = depth
        choices, fire = ex.choices()
        norm = current if (current is not None and not fire and current in choices) else None
        entry: _Entry | None = None
        digest: Hashable = None
        if self._stateful:
            if self._nodes % KEY_TIMING_SAMPLE:
                digest = self._digest()
            else:  # reading the CPU clock costs microseconds: time one key in KEY_TIMING_SAMPLE
                clock = time.process_time()
                digest = self._digest()
                self._key_seconds += (time.process_time() - clock) * KEY_TIMING_SAMPLE
            if expected is not None and digest != expected:
                raise FootprintViolation(
                    f"steps declared independent do not commute (last step {self._path[-1]}: "
                    f"{self._ex.slots[self._path[-1]].name})",
                    f"schedule {encode_schedule(self._path)}",
                    "some op's footprint misses a cell or structure it reads or writes",
                )
            if parent is not None:
                parent_state = self._table[parent]
                if parent_state.edges is None:
                    parent_state.edges = {}
                parent_state.edges[self._path[-1]] = digest
            state = self._table.get(digest)
            if state is None:
                runnable = 0 if fire else sum(1 << t for t in choices)
                state = _State(runnable)
                self._table[digest] = state
                if self._max_states is not None and len(self._table) > self._max_states:
                    self._cut["max_states"] = self._max_states
                    raise _StopSearch
            else:
                old = state.covering(norm, self._left(cost), sleep)
                if old is not None:
                    if old.on_stack:
                        self._cycles += 1
                        return None, False
                    return None, old.complete
                if state.entries:
                    self._revisits += 1
            entry = _Entry(norm, self._left(cost), sleep)
            state.entries[:] = [
                old for old in state.entries if not entry.covers(old.current, old.left, old.sleep)
            ]
            state.entries.append(entry)
        self._nodes += 1
        if not choices:
            if entry is not None:
                entry.complete, entry.on_stack = True, False
            self._judge_end()
            return None, True
        if depth >= self._max_steps:
            if entry is not None:
                entry.on_stack = False
            self._finish_fairly()
            return None, False
        complete = True
        children: list[int] = []
        ordered = choices if norm is None else [norm, *(t for t in choices if t != norm)]
        bound = self._bound
        # choosing a sleeper switches away from the last thread; the swap argument needs that thread's
        # announced op (whose guard decides what the switch costs) to commute with the sleeper's op
        last_op = ex.slots[current].op if current is not None and self._switch_wakes else None
        for tid in ordered:
            if sleep >> tid & 1 and not fire:
                op = ex.slots[tid].op
                if last_op is None or tid == current or op is None or not self._dependent(last_op, op):
                    self._sleep_pruned += 1
                    continue
            if bound is not None and norm is not None and tid != norm and cost + 1 > bound:
                self._bound_pruned += 1
                complete = False
                self._cut["preemptions"] = bound
                continue
            children.append(tid)
        ops = [s.op for s in ex.slots]
        frame = _Frame(
            depth, norm, cost, sleep, children, fire, ops, tuple(self._pos), entry, complete, digest, shadows,
            current,
        )
        return frame, True

    def _predict(self, frame: _Frame, tid: int, cost: int, sleep: int) -> Hashable:
        """The key of the state child `tid` leads to, when it is known without running the step (a
        successor seen before, or one known by commuting independent steps) AND that state was
        already expanded in a way that covers this arrival; else None. A covered child is recorded
        as done (the caller skips it, which saves a backtrack)."""
        here = self._table[frame.digest]
        target = here.edges.get(tid) if here.edges is not None else None
        if target is None:
            target = frame.shadows.get(tid)
            if target is None:
                return None
        state = self._table.get(target)
        if state is None:
            return None
        arriving = tid if state.runnable >> tid & 1 else None
        old = state.covering(arriving, self._left(cost), sleep)
        if old is None:
            return None
        if self._check_commutation:
            return target
        self._predicted += 1
        if here.edges is None:
            here.edges = {}
        here.edges[tid] = target
        frame.done_all |= 1 << tid
        if old.on_stack:
            self._cycles += 1
        self._child_done(frame, tid, old.complete and not old.on_stack)
        return target

    def _left(self, cost: int) -> int:
        return (UNBOUNDED if self._bound is None else self._bound) - cost

    def _child_shadows(self, frame: _Frame, tid: int) -> dict[int, Hashable]:
        """For child `tid`: each thread t whose op commutes with tid's, mapped to the key of (child state
        after t), when known: (this state after t) then tid, for t a shadow here or a child explored here."""
        op = frame.ops[tid]
        assert op is not None
        table = self._table
        out: dict[int, Hashable] = {}
        for t, after_t in frame.shadows.items():
            other = frame.ops[t]
            if t != tid and other is not None and not self._dependent(other, op):
                edges = table[after_t].edges
                target = edges.get(tid) if edges is not None else None
                if target is not None:
                    out[t] = target
        explored = frame.done_all & ~(1 << tid)
        here = table[frame.digest].edges
        t = 0
        while explored:
            if explored & 1 and t not in out:
                other = frame.ops[t]
                after_t = here.get(t) if here is not None else None
                if other is not None and after_t is not None and not self._dependent(other, op):
                    edges = table[after_t].edges
                    target = edges.get(tid) if edges is not None else None
                    if target is not None:
                        out[t] = target
            explored >>= 1
            t += 1
        return out

    def _child_done(self, frame: _Frame, tid: int, complete: bool) -> None:
        if complete:
            frame.done_complete |= 1 << tid
        else:
            frame.complete = False

    def _child_sleep(self, frame: _Frame, tid: int) -> int:
        """The sleep set of child `tid`: sleepers, completed siblings and the continued current thread
        whose ops commute with tid's (see "Partial-order reduction" in the module docstring)."""
        candidates = (frame.sleep | frame.done_complete) & ~(1 << tid)
        norm = frame.current
        if norm is not None and norm != tid and frame.done_all >> norm & 1:
            candidates |= 1 << norm
        if not candidates:
            return 0
        ops = frame.ops
        op = ops[tid]
        assert op is not None
        last = frame.last
        switched = ops[last] if last is not None and last != tid and self._switch_wakes else None
        out = 0
        t = 0
        while candidates:
            if candidates & 1:
                other = ops[t]
                if (
                    other is not None
                    and not self._dependent(other, op)
                    and (switched is None or t == last or not self._dependent(other, switched))
                ):
                    out |= 1 << t
            candidates >>= 1
            t += 1
        return out

    # ----------------------------------------------------------------------------- steps and ends
    def _explore_step(self, tid: int, fire: bool) -> FailedExecution | None:
        ex = self._ex
        before = ex.system.mem.snapshot() if self._check_footprints else None
        rec = ex.step(tid, fire)
        self._path.append(tid)
        self._fires.append(fire)
        self._pos[tid] = self._position_text(tid)
        self._transitions += 1
        if before is not None:
            self._check_footprint(before, rec.op.writes, rec.op.what)
        for obs in self._observers:
            failure = obs.on_step(ex, rec)
            if failure is not None:
                return self._record(FAILURE, failure.property_id, failure.message, failure.step)
        return None

    def _finish_fairly(self) -> None:
        """The run reached the step limit. Under a preemption bound, a thread that never blocks (it polls,
        or pops and re-pushes what it cannot place) keeps running while runnable threads starve, which no
        fair scheduler does. So the run goes on under round-robin for up to `max_steps` more steps, checked
        like any other step. If it then ends, it is judged as usual, and an end that reaches its goal is
        counted as a cut of the search (`fair_completions`: the search left that starving prefix
        unjudged). If it does not end, that is a livelock: a step-limit failure whose schedule (prefix and
        continuation) replays it."""
        ex = self._ex
        last = self._path[-1] if self._path else -1
        for _ in range(self._max_steps):
            choices, fire = ex.choices()
            if not choices:
                break
            later = [t for t in choices if t > last]
            last = later[0] if later else choices[0]
            if self._explore_step(last, fire) is not None:
                return
        if ex.choices()[0]:
            self._cut["max_steps"] = self._max_steps
            self._record(
                STEP_LIMIT,
                STEP_LIMIT_PROPERTY,
                f"the run did not end within {self._max_steps} steps, nor in {self._max_steps} more under round-robin",
                len(self._path),
            )
            return
        failures = self._failures_total
        self._judge_end()
        if self._failures_total == failures:
            self._cut["fair_completions"] = int(self._cut.get("fair_completions", 0)) + 1

    def _judge_end(self) -> None:
        """A run ended (nothing can run): judge it like run_once does."""
        self._executions += 1
        ex = self._ex
        work_left = ex.system.work_left()
        outcome = DONE if ex.finished() and work_left is None else DEADLOCK
        failure: Failure | None = None
        for obs in self._observers:
            failure = obs.at_end(ex, outcome)
            if failure is not None:
                break
        depth = len(self._path)
        if failure is not None:
            self._record(FAILURE, failure.property_id, failure.message, failure.step)
        elif outcome == DEADLOCK:
            why = work_left if work_left is not None else _unfinished_text(ex)
            self._record(DEADLOCK, DEADLOCK_PROPERTY, why, depth)
        else:
            self._outcomes[DONE] = self._outcomes.get(DONE, 0) + 1

    def _record(self, outcome: str, property_id: str, message: str, step: int) -> FailedExecution:
        failed = FailedExecution(
            outcome, property_id, message, step, tuple(self._path), tuple(self._ex.describe_threads())
        )
        key = f"{outcome}: {property_id}"
        self._outcomes[key] = self._outcomes.get(key, 0) + 1
        self._failures_total += 1
        if len(self._failures) < self._keep_failures:
            self._failures.append(failed)
        if self._stop_first:
            self._stopped_at_failure = True
            self._cut["stop"] = "first-failure"
            raise _StopSearch
        return failed

    # ------------------------------------------------------------------------- systems and replay
    def _fresh(self) -> None:
        reset = self._reset
        if reset is not None:
            reset.restore()
            system = reset.system
        else:
            system = self._factory()
            static = getattr(type(system), "RESET_IN_PLACE_STATIC", None)
            if static is not None and self._reuse_systems and hasattr(system, "__dict__"):
                self._reset = _InPlaceReset(system, static)
        self._ex = Executor(system)
        # under a store-buffer mode a commit can enable its owner's next op (one that waits for an empty
        # buffer) and an owner's store re-announces its daemon's op, neither through a cell both declare:
        # footprints no longer say what commutes, so every pair of steps is dependent (no reduction)
        self._dependent: Callable[[Op, Op], bool] = dependent if self._ex.hooks is None else _always_dependent
        self._fingerprint_bytes: Callable[[], bytes] | None = getattr(system, "fingerprint_bytes", None)
        source = self._observer_source
        self._observers: Sequence[Observer] = source(system) if callable(source) else source

    def _restore(self, frame: _Frame) -> None:
        """Bring a fresh System to `frame`'s node by re-executing the schedule prefix (no checks)."""
        clock = time.process_time()
        depth = frame.depth
        del self._path[depth:]
        del self._fires[depth:]
        self._fresh()
        slots = self._ex.slots
        fires = self._fires
        hooks = self._ex.hooks
        for i, tid in enumerate(self._path):
            slot = slots[tid]
            if hooks is not None:
                advance(slot, fires[i], hooks)
                continue
            try:
                slot.op = slot.body.send(not fires[i])
            except StopIteration:
                slot.op = None
        self._ex.steps = depth
        self._pos[:] = frame.positions
        self._replayed += depth
        self._restores += 1
        self._replay_seconds += time.process_time() - clock
        if self._check_replay or (self._reset is not None and self._restores <= RESET_CHECKS and self._stateful):
            self._pos[:] = [self._position_text(tid) for tid in range(len(slots))]
            got = self._digest()
            if frame.digest is not None and got != frame.digest:
                raise ReplayMismatch(
                    "re-executing the schedule prefix reached a different state",
                    f"dfs backtrack to step {depth} ({encode_schedule(self._path)})",
                    "the System must be a function of its schedule: no hidden state, no randomness"
                    + ("; its in-place reset missed some state (pass reuse_systems=False or fix "
                       "RESET_IN_PLACE_STATIC)" if self._reset is not None else ""),
                )

    def _position_text(self, tid: int) -> bytes:
        slot = self._ex.slots[tid]
        return b"" if slot.op is None else repr(thread_position(slot.body)).encode()

    def _digest(self) -> Hashable:
        """The key of the current global state: the system fingerprint and every thread's position.

        By default a 128-bit BLAKE2 digest of the fingerprint's repr and the positions (a collision
        among 10^9 states has probability below 10^-20); `exact_states` keeps the values themselves.
        A System may define `fingerprint_bytes()` (bytes equal exactly when fingerprints are equal)
        to skip the repr, which dominates the key's cost for large memories.
        """
        if self._exact:
            return (self._ex.system.fingerprint(), tuple(self._pos))
        fast = self._fingerprint_bytes
        digest = blake2b(digest_size=16)
        if fast is not None:
            digest.update(fast())
        else:
            _feed_fingerprint(digest, self._ex.system.fingerprint())
        digest.update(b"\x00".join(self._pos))
        return digest.digest()

    def _check_footprint(self, before: tuple[int, ...], writes: tuple[int, ...], what: str) -> None:
        after = self._ex.system.mem.cells
        names = self._ex.system.mem.names
        for cell, old in enumerate(before):
            if after[cell] != old and cell not in writes:
                raise FootprintViolation(
                    f"step {what!r} wrote cell {names[cell]} without declaring it",
                    f"schedule {encode_schedule(self._path)}",
                    "add the cell to the op's writes (partial-order reduction trusts the footprints)",
                )

    def _check_limits(self) -> None:
        elapsed = time.perf_counter() - self._started
        if self._max_seconds is not None and elapsed > self._max_seconds:
            self._cut["max_seconds"] = self._max_seconds
            raise _StopSearch
        cpu = self._max_cpu_seconds
        if cpu is not None and time.process_time() - self._cpu_started > cpu:
            self._cut["max_cpu_seconds"] = cpu
            raise _StopSearch
        if self._progress is not None:
            self._progress(self._result())

    def _result(self) -> DfsResult:
        seconds = time.perf_counter() - self._started
        complete = not self._cut
        return DfsResult(
            complete=complete,
            bounds=dict(self._cut),
            preemption_bound=self._final_bound,
            completed_bound=self._completed_bound,
            states=len(self._table) if self._stateful else self._nodes,
            nodes=self._nodes,
            executions=self._executions,
            transitions=self._transitions,
            replayed_steps=self._replayed,
            restores=self._restores,
            max_depth=self._max_depth,
            sleep_pruned=self._sleep_pruned,
            bound_pruned=self._bound_pruned,
            revisits=self._revisits,
            predicted=self._predicted,
            cycles=self._cycles,
            failures=tuple(self._failures),
            failures_total=self._failures_total,
            seconds=seconds,
            stopped_at_failure=self._stopped_at_failure,
            end_outcomes=dict(sorted(self._outcomes.items())),
            stats={
                "cpu_seconds": time.process_time() - self._cpu_started,
                "replay_cpu_seconds": self._replay_seconds,
                "state_key_cpu_seconds": self._key_seconds,  # estimated from a 1-in-16 sample
            },
        )
