"""The exhaustive DFS engine on toy systems with known answers, and against a brute-force reference."""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Callable, Hashable

import pytest

from model.errors import PtocheckError
from runtime.core import Cite, Executor, Failure, Memory, Op, OpKind, StepRecord, System, ThreadBody
from runtime.dfs import (
    DEADLOCK_PROPERTY,
    STEP_LIMIT_PROPERTY,
    DfsEngine,
    DfsResult,
    FootprintViolation,
    ReplayMismatch,
    dependent,
)
from runtime.execution import DEADLOCK, FAILURE, STEP_LIMIT, ReplayScheduler, run_once
from runtime.search import SearchBounds, search
from runtime.toys import (
    CheckThenUse,
    Grid,
    IndependentThreads,
    LostUpdate,
    RandomProgram,
    SpinHandoff,
    ToyAssertions,
    TryLockRetry,
    TwoLockDeadlock,
)

TOY = Cite("toy.cpp", "toy")


def dfs(factory: Callable[[], System], **kwargs: object) -> DfsResult:
    kwargs.setdefault("check_replay", True)
    kwargs.setdefault("check_footprints", True)
    kwargs.setdefault("check_commutation", True)
    return DfsEngine(factory, **kwargs).run()  # type: ignore[arg-type]


def replay(
    factory: Callable[[], System], schedule: tuple[int, ...], observers: tuple[object, ...] = ()
) -> str:
    sched = ReplayScheduler(schedule)
    sched.new_execution()
    result = run_once(factory(), sched, observers=observers)  # type: ignore[arg-type]
    assert result.steps == len(schedule)
    return result.outcome


# --------------------------------------------------------------------------------- known answers


def test_lost_update_needs_exactly_one_preemption() -> None:
    clean = dfs(LostUpdate, preemption_bound=0)
    assert clean.failures_total == 0 and not clean.complete
    assert clean.bounds_text().startswith("bounded(preemptions=0, states=8,")
    assert clean.verdict().startswith("no violation within bounded(preemptions=0")

    found = dfs(LostUpdate, preemption_bound=1)
    assert found.failures_total == 1 and found.stopped_at_failure
    failure = found.failures[0]
    assert failure.outcome == DEADLOCK and failure.property_id == DEADLOCK_PROPERTY
    assert failure.message == "counter is 1, expected 2"
    sched = ReplayScheduler(failure.schedule)
    sched.new_execution()
    rerun = run_once(LostUpdate(), sched)
    assert rerun.outcome == DEADLOCK and rerun.preemptions == 1


def test_por_runs_one_execution_of_independent_threads_instead_of_n_factorial() -> None:
    for n in (3, 4):
        plain = dfs(
            functools.partial(IndependentThreads, n), preemption_bound=None, stateful=False, por=False
        )
        reduced = dfs(
            functools.partial(IndependentThreads, n), preemption_bound=None, stateful=False, por=True
        )
        stateful = dfs(functools.partial(IndependentThreads, n), preemption_bound=None)
        assert plain.executions == len(list(itertools.permutations(range(n))))
        assert reduced.executions == 1 and stateful.executions == 1
        # Every subset of finished threads is a state; sleep sets reach each one by exactly one step.
        assert stateful.states == 2**n and stateful.transitions == 2**n - 1
        assert plain.complete and reduced.complete and stateful.complete


def test_two_lock_deadlock_needs_one_preemption() -> None:
    assert dfs(TwoLockDeadlock, preemption_bound=0).failures_total == 0
    found = dfs(TwoLockDeadlock, preemption_bound=1)
    failure = found.failures[0]
    assert failure.outcome == DEADLOCK and failure.schedule == (0, 1)
    assert failure.message == "no thread can run and 2 thread(s) have not finished"
    assert failure.thread_states == (
        "t0: blocked on lock B  [toy (toy.cpp)]",
        "t1: blocked on lock A  [toy (toy.cpp)]",
    )
    assert replay(TwoLockDeadlock, failure.schedule) == DEADLOCK
    ordered = dfs(lambda: TwoLockDeadlock(ordered=True), preemption_bound=None)
    assert ordered.complete and ordered.failures_total == 0


@pytest.mark.parametrize(
    ("threads", "steps", "bound", "states", "complete_with_por", "complete_without_por"),
    [
        # Two threads of two private steps: a 3x3 grid of positions. Without preemption a run goes
        # along two edges of the grid (8 points); the centre needs one preemption. With one, every
        # point is reached; without POR the bound still cut switches (so the search says bounded),
        # with POR those switches were asleep (covered by a subtree the bound never cut).
        (2, 2, 0, 8, False, False),
        (2, 2, 1, 9, True, False),
        (2, 2, None, 9, True, True),
        # 4x4 grid: without preemption the four edges (12 points); one preemption reaches every point.
        (2, 3, 0, 12, False, False),
        (2, 3, 1, 16, True, False),
        (2, 3, None, 16, True, True),
        # Three threads of one step: every subset of finished threads (each switch is free).
        (3, 1, 0, 8, True, True),
        # Three threads of three steps (4^3 = 64 points). Without preemption at most one thread is
        # part-way (3 threads x 2 positions x 4 ways to be at 0 or 3 for the others = 24) or none is
        # (8): 32.
        (3, 3, 0, 32, False, False),
        (3, 3, None, 64, True, True),
    ],
)
def test_state_counts_match_hand_computed_values(
    threads: int,
    steps: int,
    bound: int | None,
    states: int,
    complete_with_por: bool,
    complete_without_por: bool,
) -> None:
    for por, complete in ((True, complete_with_por), (False, complete_without_por)):
        result = dfs(lambda: Grid(threads, steps), preemption_bound=bound, por=por)
        assert (result.states, result.complete) == (states, complete)
        assert result.executions == 1  # one end state, judged once


def test_an_observer_failure_needs_the_preemption_between_check_and_use() -> None:
    assert dfs(CheckThenUse, preemption_bound=0, observers=[ToyAssertions()]).failures_total == 0
    found = dfs(CheckThenUse, preemption_bound=1, observers=[ToyAssertions()])
    failure = found.failures[0]
    assert failure.outcome == FAILURE and failure.property_id == "toy.assertion"
    assert replay(CheckThenUse, failure.schedule, (ToyAssertions(),)) == FAILURE


def test_every_failure_is_kept_when_not_stopping_at_the_first() -> None:
    result = dfs(LostUpdate, preemption_bound=None, stop_at_first_failure=False)
    # Two end states (counter 2, counter 1); the lost update is reached by several schedules (either
    # thread may store last) but it is one state, judged once.
    assert result.complete and result.failures_total == 1 and result.executions == 2
    assert {f.message for f in result.failures} == {"counter is 1, expected 2"}
    for failure in result.failures:
        assert replay(LostUpdate, failure.schedule) == DEADLOCK


def test_spin_waits_are_not_steps_and_a_lost_value_is_found() -> None:
    ok = dfs(lambda: SpinHandoff(3), preemption_bound=2)
    assert ok.complete and ok.failures_total == 0
    assert ok.max_depth == 9  # 3 CAS + 3 x (wait, exchange): waiting is never a step
    safe = dfs(lambda: SpinHandoff(1, producers=2), preemption_bound=None)
    assert safe.complete and safe.failures_total == 0
    assert dfs(lambda: SpinHandoff(1, producers=2, racy=True), preemption_bound=0).failures_total == 0
    racy = dfs(lambda: SpinHandoff(1, producers=2, racy=True), preemption_bound=1)
    failure = racy.failures[0]
    assert failure.outcome == DEADLOCK and failure.message == "consumer took 1 of 2 values"
    assert replay(lambda: SpinHandoff(1, producers=2, racy=True), failure.schedule) == DEADLOCK


def test_a_cycle_in_the_state_graph_terminates() -> None:
    result = dfs(TryLockRetry, preemption_bound=None)
    assert result.complete and result.failures_total == 0 and result.cycles > 0


class Forever:
    """One thread that increments a counter forever: a livelock the step limit reports."""

    def __init__(self) -> None:
        self.mem = Memory()
        self.cell = self.mem.alloc("n")

    def _body(self) -> ThreadBody:
        while True:
            yield Op(OpKind.FETCH_ADD, "n+=1", TOY, reads=(self.cell,), writes=(self.cell,))
            self.mem.cells[self.cell] += 1

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        return [("spinner", "worker", self._body())]

    def fingerprint(self) -> Hashable:
        return self.mem.snapshot()

    def work_left(self) -> str | None:
        return None


def test_the_step_limit_is_a_failure_and_a_bound() -> None:
    """A run that does not end within the step limit, nor within as many round-robin steps more."""
    result = dfs(Forever, max_steps=30)
    failure = result.failures[0]
    assert failure.outcome == STEP_LIMIT and failure.property_id == STEP_LIMIT_PROPERTY and failure.step == 60
    assert len(failure.schedule) == 60 and "nor in 30 more under round-robin" in failure.message
    assert "max_steps=30" in result.bounds_text()


class Starver:
    """A poller that never blocks (each poll bumps its own counter) until a setter, also runnable, sets a
    flag. Under preemption bound 0 the run that starts with the poller starves the setter forever: only a
    fair scheduler ends it."""

    def __init__(self) -> None:
        self.mem = Memory()
        self.flag = self.mem.alloc("flag")
        self.polls = self.mem.alloc("polls")

    def _poller(self) -> ThreadBody:
        while True:
            yield Op(OpKind.FETCH_ADD, "load flag; polls += 1", TOY, reads=(self.flag, self.polls), writes=(self.polls,))
            self.mem.cells[self.polls] += 1
            if self.mem.cells[self.flag]:
                return

    def _setter(self) -> ThreadBody:
        yield Op(OpKind.STORE, "flag = 1", TOY, writes=(self.flag,))
        self.mem.cells[self.flag] = 1

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        return [("poller", "worker", self._poller()), ("setter", "worker", self._setter())]

    def fingerprint(self) -> Hashable:
        return self.mem.snapshot()

    def work_left(self) -> str | None:
        return None


def test_a_starved_thread_is_no_livelock_the_fair_continuation_ends_the_run() -> None:
    """The poller-first run hits the step limit only because bound 0 never preempts it; round-robin lets
    the setter run, the run ends at its goal, and the search says it cut that starving prefix."""
    result = dfs(Starver, preemption_bound=0, max_steps=20)
    assert result.failures == () and not result.complete
    assert result.bounds["fair_completions"] == 1 and "max_steps" not in result.bounds
    assert "fair_completions=1" in result.bounds_text()
    assert result.executions == 2  # setter first, and the fairly completed poller-first run


class Timeout:
    """A waiter with a backstop: it times out only when the setter cannot run (or has finished without
    setting the flag)."""

    def __init__(self, sets: bool) -> None:
        self.mem = Memory()
        self.flag = self.mem.alloc("flag")
        self.timed_out = self.mem.alloc("timed_out")
        self.sets = sets

    def _setter(self) -> ThreadBody:
        if self.sets:
            yield Op(OpKind.STORE, "store flag=1", TOY, writes=(self.flag,))
            self.mem.cells[self.flag] = 1

    def _waiter(self) -> ThreadBody:
        ok = yield Op(
            OpKind.LOAD,
            "wait flag",
            TOY,
            reads=(self.flag,),
            writes=(self.timed_out,),
            guard=lambda: self.mem.cells[self.flag] == 1,
            backstop="flag timeout",
        )
        if not ok:
            self.mem.cells[self.timed_out] = 1

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        return [("setter", "s", self._setter()), ("waiter", "w", self._waiter())]

    def fingerprint(self) -> Hashable:
        return self.mem.snapshot()

    def work_left(self) -> str | None:
        return None


def test_backstops_fire_only_when_nothing_else_can_run() -> None:
    ends: list[tuple[int, ...]] = []

    class EndState:
        def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
            return None

        def at_end(self, ex: Executor, outcome: str) -> Failure | None:
            ends.append(ex.system.mem.snapshot())
            return None

    dfs(lambda: Timeout(sets=True), preemption_bound=None, observers=[EndState()])
    assert ends == [(1, 0)]  # the setter can always run first: the timeout never fires
    ends.clear()
    dfs(lambda: Timeout(sets=False), preemption_bound=None, observers=[EndState()])
    assert ends == [(0, 1)]


# ------------------------------------------------------------------- soundness against brute force


def _random_program(rng: random.Random) -> tuple[list[list[tuple[object, ...]]], int]:
    cells = rng.randint(1, 3)
    program: list[list[tuple[object, ...]]] = []
    for _ in range(rng.randint(2, 3)):
        code: list[tuple[object, ...]] = []
        for _ in range(rng.randint(1, 4)):
            kind = rng.choice(["load", "store", "add", "lock", "unlock", "wait", "local"])
            cell = rng.randrange(cells)
            if kind == "local":
                code.append(("local",))
            elif kind == "wait":
                code.append(("wait", cell, rng.randrange(3)))
            else:
                code.append((kind, cell))
        program.append(code)
    return program, cells


def _reference(factory: Callable[[], System], bound: int | None) -> tuple[set[Hashable], set[Hashable]]:
    """Every state and end state on a schedule with at most `bound` preemptions, by enumerating all
    schedules (no reduction, no state caching: obviously right, exponentially slow)."""
    states: set[Hashable] = set()
    ends: set[Hashable] = set()

    def visit(schedule: list[int], current: int | None, cost: int) -> None:
        ex = Executor(factory())
        for tid in schedule:
            ex.step(tid, ex.choices()[1])
        states.add(ex.state_key())
        choices, fire = ex.choices()
        if not choices:
            ends.add(ex.state_key())
            return
        for tid in choices:
            extra = 1 if current is not None and not fire and current in choices and tid != current else 0
            if bound is None or cost + extra <= bound:
                visit([*schedule, tid], tid, cost + extra)

    visit([], None, 0)
    return states, ends


class _Recorder:
    def __init__(self, initial: Hashable) -> None:
        self.states: set[Hashable] = {initial}
        self.ends: set[Hashable] = set()
        self.predicted = 0

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        self.states.add(ex.state_key())
        return None

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        self.ends.add(ex.state_key())
        return None


def _visited(factory: Callable[[], System], bound: int | None, **kwargs: object) -> _Recorder:
    recorder = _Recorder(Executor(factory()).state_key())
    result = dfs(factory, preemption_bound=bound, observers=[recorder], stop_at_first_failure=False, **kwargs)
    recorder.predicted = result.predicted
    return recorder


def test_every_mode_visits_exactly_the_states_reachable_within_the_bound() -> None:
    """Sleep sets, known-successor pruning, state caching and the bound together lose no state: on
    random programs each mode visits exactly the states (and end states) that brute force finds."""
    modes: list[dict[str, bool]] = [
        {"por": True, "check_commutation": False},  # everything on, predicted children really skipped
        {"por": True},  # ... predicted children run anyway and the predictions are checked
        {"por": False},
        {"stateful": False},
        {"iterative": True, "check_commutation": False},
    ]
    rng = random.Random(20240601)
    checked = 0
    predicted = 0
    for _ in range(60):
        program, cells = _random_program(rng)

        def factory(program: list[list[tuple[object, ...]]] = program, cells: int = cells) -> System:
            return RandomProgram(program, cells)

        for bound in (0, 1, None):
            states, ends = _reference(factory, bound)
            for mode in modes:
                seen = _visited(factory, bound, **mode)
                assert (seen.states, seen.ends) == (states, ends), (program, bound, mode)
                checked += 1
                predicted += seen.predicted
    assert checked == 60 * 3 * len(modes)
    assert predicted > 50  # the pruning under test did happen


def test_naive_sleep_sets_under_a_preemption_bound_lose_states(monkeypatch: pytest.MonkeyPatch) -> None:
    """Why a thread sleeps only after a subtree the bound never cut: t0 = (a1, a2), t1 = (b1), all
    independent. With bound 0, "b1 a1" reaches the state after a1 and b1 without preemption; its only
    sleep-set equivalent "a1 b1" preempts t0. Putting a1 to sleep regardless loses that state."""
    program = [[("store", 0), ("store", 0)], [("store", 1)]]

    def factory() -> System:
        return RandomProgram(program, 2)

    states, _ = _reference(factory, 0)
    assert _visited(factory, 0).states == states

    def naive_child_done(self: DfsEngine, frame: object, tid: int, complete: bool) -> None:
        frame.done_complete |= 1 << tid  # type: ignore[attr-defined]
        if not complete:
            frame.complete = False  # type: ignore[attr-defined]

    monkeypatch.setattr(DfsEngine, "_child_done", naive_child_done)
    lost = states - _visited(factory, 0).states
    assert len(lost) == 1


def test_the_continued_thread_sleeps_in_its_preemptions_and_no_state_is_lost() -> None:
    """The running thread's continuation sleeps in the subtrees that preempt it whatever the bound cut
    (module docstring): preempting t0 before a store to its own cell gains nothing over preempting it
    after, so those branches are pruned, and every state brute force finds is still visited."""
    program = [[("store", 0), ("store", 0), ("store", 0)], [("store", 1), ("load", 1)]]

    def factory() -> System:
        return RandomProgram(program, 2)

    for bound in (1, 2):
        states, ends = _reference(factory, bound)
        seen = _visited(factory, bound)
        assert (seen.states, seen.ends) == (states, ends)
        result = dfs(factory, preemption_bound=bound, stop_at_first_failure=False)
        assert result.sleep_pruned > 0


def _rich_program(rng: random.Random) -> tuple[list[list[tuple[object, ...]]], int]:
    """Like _random_program, with up to 4 threads, 5 ops each and more waits (guards that a switch's
    cost depends on)."""
    cells = rng.randint(1, 3)
    program: list[list[tuple[object, ...]]] = []
    for _ in range(rng.randint(2, 4)):
        code: list[tuple[object, ...]] = []
        for _ in range(rng.randint(1, 5)):
            kind = rng.choice(["load", "store", "add", "wait", "wait", "lock", "unlock"])
            cell = rng.randrange(cells)
            code.append(("wait", cell, rng.randrange(2)) if kind == "wait" else (kind, cell))
        program.append(code)
    return program, cells


def test_rich_random_programs_lose_no_state_under_bounds_one_and_two() -> None:
    rng = random.Random(11)
    checked = 0
    for _ in range(80):
        program, cells = _rich_program(rng)

        def factory(program: list[list[tuple[object, ...]]] = program, cells: int = cells) -> System:
            return RandomProgram(program, cells)

        for bound in (1, 2):
            states, ends = _reference(factory, bound)
            seen = _visited(factory, bound, check_commutation=False)
            assert (seen.states, seen.ends) == (states, ends), (program, bound)
            checked += 1
    assert checked == 160


def test_a_sleeper_wakes_at_a_switch_away_from_a_conflicting_op(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without waking sleepers at a switch away from a thread whose announced op conflicts with them, the
    continued-thread sleep loses states: the switch's cost depends on that op's guard, which the
    sleeper's op can flip (a program the rich random generator found)."""
    program: list[list[tuple[object, ...]]] = [
        [("add", 0), ("wait", 0, 1), ("wait", 1, 0)],
        [("lock", 1), ("add", 1), ("wait", 2, 0), ("lock", 2), ("load", 1)],
        [("wait", 2, 0), ("wait", 1, 0), ("add", 1), ("load", 2), ("load", 0)],
        [("add", 2), ("lock", 0)],
    ]

    def factory() -> System:
        return RandomProgram(program, 3)

    states, _ = _reference(factory, 1)
    assert _visited(factory, 1, check_commutation=False).states == states
    monkeypatch.setattr(DfsEngine, "_switch_wakes", False)
    lost = states - _visited(factory, 1, check_commutation=False).states
    assert lost


# ------------------------------------------------------------------------- footprints and checks


def test_dependence_is_a_shared_cell_that_one_side_writes() -> None:
    def op(kind: OpKind, reads: tuple[int, ...] = (), writes: tuple[int, ...] = ()) -> Op:
        return Op(kind, "x", TOY, reads=reads, writes=writes)

    load0, load0b, store0, store1 = (
        op(OpKind.LOAD, (0,)),
        op(OpKind.LOAD, (0,)),
        op(OpKind.STORE, (), (0,)),
        op(OpKind.STORE, (), (1,)),
    )
    assert not dependent(load0, load0b)
    assert dependent(load0, store0) and dependent(store0, load0) and dependent(store0, store0)
    assert not dependent(store0, store1) and not dependent(load0, store1)
    # A try-lock only reads the lock word when it fails, but lock ops conflict on the lock cell.
    try_lock = op(OpKind.TRY_LOCK, (5,))
    assert dependent(try_lock, op(OpKind.TRY_LOCK, (5,))) and dependent(try_lock, op(OpKind.LOAD, (5,)))
    # An op without a footprint commutes with everything only if it is LOCAL or a FENCE.
    assert not dependent(op(OpKind.LOCAL), store0) and not dependent(op(OpKind.FENCE), store0)
    assert dependent(op(OpKind.CORE), store1) and dependent(store1, op(OpKind.CORE))


class HiddenCounter:
    """Each instance draws from a counter shared by every instance: not a function of its schedule."""

    drawn = 0

    def __init__(self) -> None:
        self.mem = Memory()
        self.cell = self.mem.alloc("x")

    def _body(self, tid: int) -> ThreadBody:
        for _ in range(2):
            yield Op(OpKind.STORE, "store x", TOY, writes=(self.cell,))
            HiddenCounter.drawn += 1
            self.mem.cells[self.cell] = HiddenCounter.drawn

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        return [(f"t{i}", "w", self._body(i)) for i in range(2)]

    def fingerprint(self) -> Hashable:
        return self.mem.snapshot()

    def work_left(self) -> str | None:
        return None


def test_a_system_with_hidden_state_is_caught_at_replay() -> None:
    with pytest.raises(ReplayMismatch) as err:
        dfs(HiddenCounter, preemption_bound=None)
    assert "different state" in err.value.render() and "ptosched1:" in err.value.render()


class UndeclaredWrite(LostUpdate):
    def _incr(self) -> ThreadBody:
        yield Op(OpKind.LOAD, "load counter", TOY, reads=(self.counter,))
        self.mem.cells[self.counter] += 1  # writes during a step announced as a load


def test_an_undeclared_write_is_caught() -> None:
    with pytest.raises(FootprintViolation) as err:
        dfs(UndeclaredWrite, preemption_bound=None)
    assert "wrote cell counter without declaring it" in err.value.render()


def test_loop_iterations_with_equal_locals_are_different_positions() -> None:
    """A `for` loop's iterator is not a local: two iterations with equal locals must still differ."""
    system = RandomProgram([[("store", 0), ("store", 0), ("store", 0)]], 1)
    ex = Executor(system)
    keys = []
    while ex.choices()[0]:
        ex.step(0)
        keys.append(ex.state_key())
    # Each store writes 1 and leaves the same locals: only the loop's iterator tells the steps apart.
    first = Executor(RandomProgram([[("store", 0), ("store", 0), ("store", 0)]], 1)).state_key()
    assert len({first, *keys}) == 4


def test_iterative_deepening_certifies_the_bounds_it_finished() -> None:
    cut = dfs(lambda: Grid(3, 3), preemption_bound=2, iterative=True, max_states=50)
    # Bound 0 reaches 32 states, bound 1 needs 56: the state cap stops the second round.
    assert not cut.complete and cut.completed_bound == 0
    assert "max_states=50, finished-preemptions=0," in cut.bounds_text()
    whole = dfs(lambda: Grid(3, 3), preemption_bound=5, iterative=True)
    plain = dfs(lambda: Grid(3, 3), preemption_bound=5)
    assert whole.complete and plain.complete and whole.states == plain.states == 64
    assert whole.completed_bound == 2  # bound 2 cut nothing, so 3..5 were not needed
    assert whole.bounds_text() == "complete"


def test_bad_bounds_are_rejected() -> None:
    with pytest.raises(PtocheckError):
        DfsEngine(LostUpdate, preemption_bound=-1)
    with pytest.raises(PtocheckError):
        DfsEngine(LostUpdate, max_steps=0)


# ---------------------------------------------------------------------------------- the facade


def test_search_facade_runs_every_engine_and_rejects_unknown_ones() -> None:
    report = search(LostUpdate, "dfs", bounds=SearchBounds(preemptions=1))
    assert not report.ok and report.failures[0].outcome == DEADLOCK and report.dfs is not None
    assert report.lines()[0].startswith("engine dfs, seed 0: violation: run.deadlock (deadlock)")
    clean = search(lambda: TwoLockDeadlock(ordered=True), "dfs", bounds=SearchBounds(preemptions=None))
    assert clean.ok and clean.bounds_text == "complete" and clean.verdict().startswith("complete")
    for engine in ("random", "pct"):
        found = search(LostUpdate, engine, seed=3, bounds=SearchBounds(runs=200))
        assert not found.ok and found.failures[0].seed is not None
        assert replay(LostUpdate, found.failures[0].schedule) == DEADLOCK
    rr = search(lambda: SpinHandoff(2), "round-robin")
    assert rr.ok and rr.executions == 1 and rr.verdict().startswith("no violation within bounded(runs=1")
    with pytest.raises(PtocheckError) as err:
        search(LostUpdate, "bfs")
    assert "dfs, pct, random, round-robin" in err.value.render()


def test_observer_factories_get_each_fresh_system() -> None:
    systems: list[System] = []

    def make(system: System) -> list[ToyAssertions]:
        systems.append(system)
        return [ToyAssertions()]

    result = dfs(CheckThenUse, preemption_bound=1, observers=make, stop_at_first_failure=False)
    assert result.failures_total >= 1 and len(systems) == result.restores + 1
    assert len({id(s) for s in systems}) == len(systems)


def test_search_of_a_clean_system_finishes_every_run() -> None:
    report = search(lambda: SpinHandoff(2), "dfs", bounds=SearchBounds(preemptions=2))
    assert report.ok and report.dfs is not None and report.dfs.complete
    assert report.executions == report.dfs.executions >= 1


class GridWithBytes(Grid):
    """The same toy with the optional fast fingerprint hook."""

    calls = 0

    def fingerprint_bytes(self) -> bytes:
        GridWithBytes.calls += 1
        return bytes(self.mem.cells)


def test_the_fast_fingerprint_hook_gives_the_same_search() -> None:
    plain = dfs(lambda: Grid(3, 2), preemption_bound=1)
    fast = dfs(lambda: GridWithBytes(3, 2), preemption_bound=1)
    assert GridWithBytes.calls >= fast.nodes
    same = ("states", "nodes", "executions", "transitions", "restores", "predicted", "complete")
    assert [getattr(fast, k) for k in same] == [getattr(plain, k) for k in same]


# ------------------------------------------------------------------------------ in-place reset


class Mailbox:
    """Two writers append to a Python-side log (a list, outside Memory) and bump a counter: mutable state
    of every kind an in-place reset must bring back (memory cells, a list, a dict, a rebound attribute)."""

    RESET_IN_PLACE_STATIC: tuple[str, ...] = ("names",)
    built = 0

    def __init__(self) -> None:
        Mailbox.built += 1
        self.mem = Memory()
        self.counter = self.mem.alloc("counter")
        self.log: list[int] = []
        self.seen: dict[int, int] = {}
        self.last = -1
        self.names = ("w0", "w1")

    def _write(self, i: int) -> ThreadBody:
        for _ in range(2):
            yield Op(OpKind.FETCH_ADD, "bump", TOY, reads=(self.counter,), writes=(self.counter,))
            self.mem.cells[self.counter] += 1
            self.log.append(i)
            self.seen[i] = self.seen.get(i, 0) + 1
            self.last = i

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        return [(self.names[i], "w", self._write(i)) for i in range(2)]

    def fingerprint(self) -> Hashable:
        return (self.mem.snapshot(), tuple(self.log), tuple(sorted(self.seen.items())), self.last)

    def work_left(self) -> str | None:
        return None


class MailboxLeavingItsLog(Mailbox):
    RESET_IN_PLACE_STATIC = ("names", "log")  # a wrong declaration: the log changes during a run


def test_an_in_place_reset_gives_the_same_search_as_rebuilding() -> None:
    Mailbox.built = 0
    rebuilt = dfs(Mailbox, preemption_bound=None, reuse_systems=False)
    builds_without_reuse = Mailbox.built
    Mailbox.built = 0
    reused = dfs(Mailbox, preemption_bound=None)  # check_replay: every restore reaches its recorded state
    assert reused.restores == rebuilt.restores > 0
    assert Mailbox.built == 1 < builds_without_reuse  # built once, reset at every backtrack
    same = ("states", "nodes", "executions", "transitions", "complete")
    assert [getattr(reused, k) for k in same] == [getattr(rebuilt, k) for k in same]


def test_a_reset_that_misses_state_is_caught_at_the_first_restores() -> None:
    with pytest.raises(ReplayMismatch) as err:
        DfsEngine(MailboxLeavingItsLog, preemption_bound=None).run()  # no check_replay: the built-in check
    assert "in-place reset" in err.value.render()


def test_the_trb_port_reset_in_place_explores_what_rebuilding_explores() -> None:
    from model.builders import BUILTIN_SCENARIOS
    from properties.port_checks import port_observers
    from runtime.trb import TrbSystem

    built = BUILTIN_SCENARIOS["pa_scope_deadlock"]()
    results = [
        DfsEngine(lambda: TrbSystem(built), preemption_bound=0, max_states=600, check_replay=True,
                  observers=port_observers(), reuse_systems=reuse, stop_at_first_failure=False).run()
        for reuse in (False, True)
    ]
    same = ("states", "nodes", "executions", "transitions", "restores", "failures_total")
    assert [getattr(results[1], k) for k in same] == [getattr(results[0], k) for k in same]
    assert results[1].restores > 10 and results[1].end_outcomes == results[0].end_outcomes


def test_explore_target_port_runs_the_dfs_on_the_port(capsys: pytest.CaptureFixture[str]) -> None:
    from fuzz.cli import main

    code = main(["explore", "--target", "port", "pa_scope_deadlock", "--preemptions", "1", "--max-states", "300"])
    out = capsys.readouterr().out
    assert code == 0
    assert "pa_scope_deadlock [tensormap_and_ringbuffer] target port: no violation within bounded(" in out
    assert "max_states=300" in out and "execution(s) ended done" in out
    assert main(["explore", "--target", "port", "pa_scope_deadlock", "--preemptions", "-1"]) == 2
    assert "--preemptions" in capsys.readouterr().err
