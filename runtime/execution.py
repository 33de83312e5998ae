"""Running a System under a Scheduler: schedules as data, the run loop, outcomes, traces.

The loop asks the scheduler for a thread at every step, records the schedule it took, and stops on a
deadlock (nothing can run and work is left: every thread's state is reported), on the step limit
(livelock), on an observer's Failure, or when every thread has finished.

The runnable set a scheduler chooses from is every thread whose announced op's guard holds. For a system
whose footprints are exact (`guards_follow_footprints`, the TRB port) it is kept incrementally: after a
step only the stepping thread and the blocked threads whose guard reads a cell the step wrote are
re-evaluated. The choices are the same list the full scan gives (tests cross-check it step by step), so
schedules, traces and findings are unchanged; only the cost per step is.
"""

from __future__ import annotations

import gc
import random
from bisect import insort
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from model.errors import PtocheckError
from runtime.core import ORDER_NAMES, Executor, Failure, Observer, Op, StepRecord, System

SCHEDULE_PREFIX = "ptosched1:"

DONE = "done"  # every thread finished and the system says no work is left
DEADLOCK = "deadlock"  # nothing can run and work is left (or threads exited with work left)
STEP_LIMIT = "step-limit"  # the run did not end within the step bound (livelock or an infinite loop)
FAILURE = "failure"  # an observer reported a violated property


class ReplayDivergence(PtocheckError):
    """A recorded schedule asked for a thread that cannot run at that step."""


class Scheduler(Protocol):
    """Chooses the next thread at every step of a run; one object may drive many runs."""

    name: str

    def new_execution(self) -> bool:
        """Prepare the next run; False when the scheduler has no more runs to offer."""
        ...

    def choose(self, choices: Sequence[int], current: int | None, step: int) -> int:
        """Pick one of `choices` (thread ids, ascending). `current` ran the previous step."""
        ...


def encode_schedule(schedule: Sequence[int]) -> str:
    """Compact one-line form: runs of the same thread as `tid*count`, separated by dots."""
    parts: list[str] = []
    i = 0
    while i < len(schedule):
        j = i
        while j < len(schedule) and schedule[j] == schedule[i]:
            j += 1
        n = j - i
        parts.append(f"{schedule[i]}*{n}" if n > 1 else str(schedule[i]))
        i = j
    return SCHEDULE_PREFIX + ".".join(parts)


def decode_schedule(text: str, where: str = "schedule") -> list[int]:
    if not text.startswith(SCHEDULE_PREFIX):
        raise PtocheckError(
            f"a schedule must start with {SCHEDULE_PREFIX!r}", where, "pass a schedule printed by ptocheck"
        )
    body = text[len(SCHEDULE_PREFIX) :]
    out: list[int] = []
    if not body:
        return out
    for k, part in enumerate(body.split(".")):
        tid_text, _, count_text = part.partition("*")
        try:
            tid = int(tid_text)
            count = int(count_text) if count_text else 1
        except ValueError:
            raise PtocheckError(
                f"schedule item {k} ({part!r}) is not TID or TID*COUNT", where, "pass a schedule printed by ptocheck"
            ) from None
        if tid < 0 or count < 1:
            raise PtocheckError(f"schedule item {k} ({part!r}) is out of range", where, "thread ids and counts are >= 0 / >= 1")
        out.extend([tid] * count)
    return out


class RoundRobinScheduler:
    """Switches to the next runnable thread after the current one at every step (one run)."""

    name = "round-robin"

    def __init__(self) -> None:
        self._runs = 0

    def new_execution(self) -> bool:
        self._runs += 1
        return self._runs == 1

    def choose(self, choices: Sequence[int], current: int | None, step: int) -> int:
        if current is None:
            return choices[0]
        for tid in choices:
            if tid > current:
                return tid
        return choices[0]


class RandomScheduler:
    """Uniformly random among the runnable threads; run k uses the k-th seed drawn from the master seed."""

    name = "random"

    def __init__(self, seed: int, runs: int = 1) -> None:
        self.seed = seed
        self.runs = runs
        self._master = random.Random(seed)
        self._rng = random.Random(0)
        self._bits = self._rng.getrandbits
        self._done = 0
        self.run_seed = seed

    def new_execution(self) -> bool:
        if self._done >= self.runs:
            return False
        self._done += 1
        self.run_seed = self._master.getrandbits(63)
        self._rng = random.Random(self.run_seed)
        self._bits = self._rng.getrandbits
        return True

    def choose(self, choices: Sequence[int], current: int | None, step: int) -> int:
        n = len(choices)
        if n == 1:
            return choices[0]
        if not _INLINE_RANDRANGE:
            return choices[self._rng.randrange(n)]
        # randrange(n) inlined (the same draws, checked at import): rejection sampling on n.bit_length() bits
        bits, k = self._bits, n.bit_length()
        r = bits(k)
        while r >= n:
            r = bits(k)
        return choices[r]


def _inline_randrange_matches() -> bool:
    """Whether this Python's randrange(n) draws exactly what RandomScheduler.choose's inlined form does."""
    a, b = random.Random(12345), random.Random(12345)
    for n in (*range(2, 70), 1000, 1 << 20):
        for _ in range(4):
            k = n.bit_length()
            r = b.getrandbits(k)
            while r >= n:
                r = b.getrandbits(k)
            if a.randrange(n) != r:
                return False
    return True


_INLINE_RANDRANGE = _inline_randrange_matches()


class ReplayScheduler:
    """Strict replay of a recorded schedule: any divergence is an error naming the step and the runnable set."""

    name = "replay"

    def __init__(self, schedule: Sequence[int], thread_names: Sequence[str] = ()) -> None:
        self.schedule = list(schedule)
        self.thread_names = list(thread_names)
        self._runs = 0

    def new_execution(self) -> bool:
        self._runs += 1
        return self._runs == 1

    def _name(self, tid: int) -> str:
        return self.thread_names[tid] if tid < len(self.thread_names) else f"thread {tid}"

    def choose(self, choices: Sequence[int], current: int | None, step: int) -> int:
        runnable = ", ".join(self._name(t) for t in choices) or "nothing"
        if step >= len(self.schedule):
            raise ReplayDivergence(
                f"the run continues past the recorded schedule's {len(self.schedule)} steps (runnable: {runnable})",
                f"step {step}",
                "the artifact was recorded against a different port or scenario; re-record it",
            )
        tid = self.schedule[step]
        if tid not in choices:
            raise ReplayDivergence(
                f"recorded thread {self._name(tid)} cannot run (runnable: {runnable})",
                f"step {step}",
                "the artifact was recorded against a different port or scenario; re-record it",
            )
        return tid


@dataclass
class RunResult:
    """What one run did: its outcome, the schedule it took, and (if recorded) its trace."""

    outcome: str
    steps: int
    schedule: list[int]
    preemptions: int
    failure: Failure | None = None
    work_left: str | None = None
    thread_states: list[str] = field(default_factory=list)
    trace: list[StepRecord] = field(default_factory=list)
    thread_names: list[str] = field(default_factory=list)
    non_stutter_steps: int = 0

    @property
    def ok(self) -> bool:
        return self.outcome == DONE

    def schedule_text(self) -> str:
        return encode_schedule(self.schedule)


def run_once(
    system: System,
    scheduler: Scheduler,
    observers: Sequence[Observer] = (),
    max_steps: int = 200_000,
    record_trace: bool = True,
    on_executor: Callable[[Executor], None] | None = None,
    cross_check: bool = False,
) -> RunResult:
    """One run of `system` under `scheduler` (whose `new_execution` the caller has already called).

    A system whose `guards_follow_footprints` is true has its runnable set kept incrementally (see
    `_IncrementalRunnable`); `cross_check` then also recomputes it in full at every step and raises
    AssertionError on any difference (for tests: the fast path must offer exactly what the full scan does).
    """
    # The cyclic collector is paused for the whole run and restored even if an observer or the scheduler
    # raises. A run allocates no reference cycles (its objects die by reference counting), but the
    # collector, triggered by the allocation count, would rescan the system's large object graph many times
    # per run, and at any step could start collecting the systems of earlier runs (which are cyclic
    # garbage): that work is the systems' lifecycle, not this run's steps, and happens when the caller
    # next allocates (building the next system).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run(system, scheduler, observers, max_steps, record_trace, on_executor, cross_check)
    finally:
        if collecting:
            gc.enable()


def _run(
    system: System,
    scheduler: Scheduler,
    observers: Sequence[Observer],
    max_steps: int,
    record_trace: bool,
    on_executor: Callable[[Executor], None] | None,
    cross_check: bool,
) -> RunResult:
    ex = Executor(system)
    if on_executor is not None:
        on_executor(ex)
    names = [s.name for s in ex.slots]
    loop = _Loop(ex, scheduler, observers, max_steps, record_trace)
    if getattr(system, "guards_follow_footprints", False) and ex.hooks is None:
        loop.run_tracked(_IncrementalRunnable(ex), cross_check)
    else:
        loop.run_scanning()
    outcome, failure = loop.outcome, loop.failure
    work_left = system.work_left()
    if outcome == DONE and (not ex.finished() or work_left is not None):
        outcome = DEADLOCK
    if outcome in (DONE, DEADLOCK):
        for obs in observers:
            failure = obs.at_end(ex, outcome)
            if failure is not None:
                outcome = FAILURE
                break
    return RunResult(
        outcome=outcome,
        steps=len(loop.schedule),
        schedule=loop.schedule,
        preemptions=loop.preemptions,
        failure=failure,
        work_left=work_left,
        thread_states=ex.describe_threads() if outcome != DONE else [],
        trace=loop.trace,
        thread_names=names,
    )


class _Loop:
    """The step loop of `run_once` (its steps per second are a target: everything in it is a local).

    Stops on an observer's Failure (outcome FAILURE), the step limit (STEP_LIMIT), or when no thread can
    run and no backstop can fire (DONE here; `run_once` then tells DONE from DEADLOCK)."""

    def __init__(
        self, ex: Executor, scheduler: Scheduler, observers: Sequence[Observer], max_steps: int, record_trace: bool
    ) -> None:
        self.ex = ex
        self.choose = scheduler.choose
        self.on_steps = tuple(obs.on_step for obs in observers)
        self.max_steps = max_steps
        self.record_trace = record_trace
        self.schedule: list[int] = []
        self.trace: list[StepRecord] = []
        self.preemptions = 0
        self.failure: Failure | None = None
        self.outcome = DONE

    def run_scanning(self) -> None:
        """Every guard evaluated at every step (any System)."""
        ex = self.ex
        slots = ex.slots
        choose, step, on_steps = self.choose, ex.step, self.on_steps
        schedule, trace, record_trace, max_steps = self.schedule, self.trace, self.record_trace, self.max_steps
        current: int | None = None
        preemptions = 0
        hooked = ex.hooks is not None  # guards are then evaluated as their own thread sees memory
        while True:
            if hooked:
                choices = ex.runnable()
            else:
                choices = [s.tid for s in slots if (op := s.op) is not None and (op.guard is None or op.guard())]
            fire = not choices
            if fire:
                choices = ex.backstops()
                if not choices:
                    break
            if len(schedule) >= max_steps:
                self.outcome = STEP_LIMIT
                break
            tid = choose(choices, current, len(schedule))
            if current is not None and tid != current and not fire and current in choices:
                preemptions += 1
            schedule.append(tid)
            rec = step(tid, fire)
            current = tid
            if record_trace:
                trace.append(rec)
            failure = None
            for on_step in on_steps:
                failure = on_step(ex, rec)
                if failure is not None:
                    break
            if failure is not None:
                self.failure = failure
                self.outcome = FAILURE
                break
        self.preemptions = preemptions

    def run_tracked(self, tracker: _IncrementalRunnable, cross_check: bool) -> None:
        """The runnable set kept by `tracker`; `Executor.step` inlined (same effect, no call)."""
        ex = self.ex
        slots = ex.slots
        choose, on_steps = self.choose, self.on_steps
        schedule, trace, record_trace, max_steps = self.schedule, self.trace, self.record_trace, self.max_steps
        choices, ready, registered = tracker.choices, tracker.ready, tracker.registered
        narrowed, universe = tracker.narrowed, tracker.universe
        current: int | None = None
        preemptions = 0
        n = 0
        while True:
            if cross_check:
                tracker.verify()
            if choices:
                fire = False
                offered = choices
            else:
                tracker.verify()  # nothing runnable: confirm it by a full scan before firing or stopping
                fire = True
                offered = ex.backstops()
                if not offered:
                    break
            if n >= max_steps:
                self.outcome = STEP_LIMIT
                break
            tid = choose(offered, current, n)
            if current is not None and tid != current and not fire and current in offered:
                preemptions += 1
            schedule.append(tid)
            slot = slots[tid]
            op = slot.op
            assert op is not None, f"thread {slot.name} has finished"
            rec = StepRecord(n, tid, op, fire)
            n += 1
            ex.steps = n
            new: Op | None
            try:
                new = slot.op = slot.body.send(not fire)
            except StopIteration:
                new = slot.op = None
            # the runnable set after the step (kept here, the tracker's state in locals): the stepping
            # thread's new op first
            if new is None or new.guard is None:
                if registered[tid]:
                    tracker.watch(tid, ())
                now = new is not None
            else:
                watched = new.reads if new.guard_reads is None else new.guard_reads
                if watched is not registered[tid]:
                    tracker.watch(tid, watched)
                now = new.guard()
            if ready[tid] != now:
                ready[tid] = now
                if now:
                    insort(choices, tid)
                else:
                    choices.remove(tid)
            # then the guarded threads watching a cell the step wrote
            entry = narrowed.get(id(op))
            if entry is None or entry[0] is not op or entry[1] != universe.version:
                entry = tracker.narrowed_entry(op)
            if entry[2]:
                tracker.wake(tid, entry[2])
            current = tid
            if record_trace:
                trace.append(rec)
            failure = None
            for on_step in on_steps:
                failure = on_step(ex, rec)
                if failure is not None:
                    break
            if failure is not None:
                self.failure = failure
                self.outcome = FAILURE
                break
        self.preemptions = preemptions


class _Universe:
    """Cells guards have watched; `version` grows with `cells`. `by_what`: op text -> [(writes, version,
    the cells of writes in `cells`)] (an op of a new system is a new object with an earlier run's text and
    footprint: found by the text, whose hash the string keeps, and an equality test of the writes)."""

    __slots__ = ("by_id", "by_what", "cells", "version")

    def __init__(self) -> None:
        self.cells: set[int] = set()
        self.version = 0
        self.by_what: dict[str, list[tuple[tuple[int, ...], int, tuple[int, ...]]]] = {}
        # id(writes) -> (writes, kept so the id stays theirs; version; narrowed): footprints a port shares
        self.by_id: dict[int, tuple[tuple[int, ...], int, tuple[int, ...]]] = {}

    def narrow(self, what: str, writes: tuple[int, ...]) -> tuple[int, ...]:
        """The cells of `writes` in `cells`, ascending (so the re-evaluation order never depends on set
        order; guards are pure, so it could not matter anyway)."""
        known = self.by_id.get(id(writes))
        if known is not None and known[0] is writes and known[1] == self.version:
            return known[2]
        cells = self._narrow(what, writes)
        if len(self.by_id) > 65536:
            self.by_id.clear()
        self.by_id[id(writes)] = (writes, self.version, cells)
        return cells

    def _narrow(self, what: str, writes: tuple[int, ...]) -> tuple[int, ...]:
        bucket = self.by_what.get(what)
        if bucket is None:
            if len(self.by_what) > 65536:
                self.by_what.clear()
            bucket = self.by_what[what] = []
        for i, (known, version, cells) in enumerate(bucket):
            if known == writes:
                if version == self.version:
                    return cells
                del bucket[i]
                break
        cells = tuple(sorted(self.cells.intersection(writes)))
        if len(bucket) >= 16:  # one text, many footprints (a scan's range): keep the latest ones
            del bucket[0]
        bucket.append((writes, self.version, cells))
        return cells


_UNIVERSES: dict[tuple[type, int], _Universe] = {}


class _IncrementalRunnable:
    """The runnable threads of an executor, kept up to date from each step's declared writes.

    Valid for a system whose guards read only cells their op's `guard_reads` (default: `reads`) names (or
    cells only their own thread writes) and whose steps name every cell they change in `writes` (the TRB port: its footprint
    audit, runtime/trb/audit.py, checks both). Then a blocked thread's guard can change value only when a
    step writes a cell it reads, so after a step only the stepping thread and the guarded threads
    watching a written cell are re-evaluated, instead of every thread's guard at every step.

    `choices` is the ascending list of runnable thread ids (the same list the full scan builds). A step's
    writes are first narrowed to the cells any guard has watched (`universe`; footprints name
    up to ~100 cells, a scheduler's private bookkeeping, of which guards watch a few): that narrowing is
    kept per writes tuple and recomputed when the universe grows.
    """

    __slots__ = ("choices", "ex", "narrowed", "ready", "registered", "slots", "universe", "watchers")

    def __init__(self, ex: Executor) -> None:
        self.ex = ex
        self.slots = ex.slots
        n = len(self.slots)
        self.ready = [False] * n
        self.registered: list[tuple[int, ...]] = [()] * n  # the reads each guarded thread is watching
        self.watchers: dict[int, list[int]] = {}  # cell -> the guarded threads whose op reads it
        # every cell a guard has watched, in any run of a system of this type and memory size (a superset of
        # the cells watched now is all the narrowing needs: sharing it across runs saves rebuilding it)
        if len(_UNIVERSES) > 64:
            _UNIVERSES.clear()
        self.universe = _UNIVERSES.setdefault((type(ex.system), len(ex.system.mem.cells)), _Universe())
        # id(op) -> (op, version, the cells of its writes in the universe); the op kept so its id stays unique
        self.narrowed: dict[int, tuple[Op, int, tuple[int, ...]]] = {}
        for tid in range(n):
            op = self.slots[tid].op
            if op is not None and op.guard is not None:
                self.watch(tid, op.reads if op.guard_reads is None else op.guard_reads)
                self.ready[tid] = op.guard()
            else:
                self.ready[tid] = op is not None
        self.choices = [tid for tid in range(n) if self.ready[tid]]

    def watch(self, tid: int, reads: tuple[int, ...]) -> None:
        """Thread `tid` now watches the cells `reads` (instead of those it watched before)."""
        watchers = self.watchers
        for cell in self.registered[tid]:
            lst = watchers[cell]
            if tid in lst:
                lst.remove(tid)
        for cell in reads:
            watching = watchers.get(cell)
            if watching is None:
                watchers[cell] = [tid]
            elif tid not in watching:
                watching.append(tid)
        self.registered[tid] = reads
        universe = self.universe
        if not universe.cells.issuperset(reads):
            universe.cells.update(reads)
            universe.version += 1

    def narrowed_entry(self, stepped: Op) -> tuple[Op, int, tuple[int, ...]]:
        """(stepped, universe version, the cells of its writes some guard may watch), kept per op."""
        if len(self.narrowed) > 8192:  # ops built per step are not kept forever
            self.narrowed.clear()
        universe = self.universe
        entry = self.narrowed[id(stepped)] = (stepped, universe.version, universe.narrow(stepped.what, stepped.writes))
        return entry

    def wake(self, tid: int, cells: tuple[int, ...]) -> None:
        """Re-evaluate the guards of the threads (other than `tid`, just refreshed) watching `cells`."""
        ready = self.ready
        choices = self.choices
        watchers = self.watchers
        slots = self.slots
        for cell in cells:
            for t in watchers.get(cell, ()):
                if t == tid:
                    continue
                guard = slots[t].op.guard  # type: ignore[union-attr]  # a watcher's op is guarded
                now = guard()  # type: ignore[misc]
                if now != ready[t]:
                    ready[t] = now
                    if now:
                        insort(choices, t)
                    else:
                        choices.remove(t)

    def verify(self) -> None:
        """Raise AssertionError when the kept set differs from a full scan of every guard."""
        full = self.ex.runnable()
        if full != self.choices:
            names = [s.name for s in self.slots]
            raise AssertionError(
                f"incremental runnable set {[names[t] for t in self.choices]} != full scan "
                f"{[names[t] for t in full]} at step {self.ex.steps}: a guard reads a cell its op does not "
                "declare, or a step writes a cell its op does not declare (run runtime/trb/audit.py)"
            )


def format_trace(result: RunResult, system: System, limit: int | None = None) -> str:
    """The run as a numbered step table: step, thread, operation, memory order, C++ function."""
    lines = []
    rows = result.trace if limit is None else result.trace[-limit:]
    for rec in rows:
        op = rec.op
        order = ORDER_NAMES[op.order]
        fired = "  (backstop fired)" if rec.fired_backstop else ""
        lines.append(
            f"{rec.index + 1:>6}  {result.thread_names[rec.tid]:<10} {op.what} [{order}]  "
            f"{op.cite.function}{fired}"
        )
    return "\n".join(lines)
