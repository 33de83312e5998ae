"""The executor, the schedule format and the basic schedulers on toy systems with known behaviour."""

from __future__ import annotations

from collections.abc import Hashable

import pytest

from model.errors import PtocheckError
from runtime.core import Cite, Executor, Failure, Memory, Op, OpKind, Order, StepRecord, ThreadBody
from runtime.execution import (
    DEADLOCK,
    DONE,
    FAILURE,
    RandomScheduler,
    ReplayDivergence,
    ReplayScheduler,
    RoundRobinScheduler,
    decode_schedule,
    encode_schedule,
    format_trace,
    run_once,
)

TOY = Cite("toy.cpp", "toy")


class LostUpdate:
    """Two threads increment one counter with a separate load and store: the classic lost update."""

    def __init__(self, threads: int = 2) -> None:
        self.mem = Memory()
        self.counter = self.mem.alloc("counter")
        self.n = threads

    def _incr(self) -> ThreadBody:
        yield Op(OpKind.LOAD, "load counter", TOY, reads=(self.counter,))
        value = self.mem.cells[self.counter]
        yield Op(OpKind.STORE, "store counter+1", TOY, writes=(self.counter,), order=Order.RELEASE)
        self.mem.cells[self.counter] = value + 1

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        return [(f"t{i}", "worker", self._incr()) for i in range(self.n)]

    def fingerprint(self) -> Hashable:
        return self.mem.snapshot()

    def work_left(self) -> str | None:
        got = self.mem.cells[self.counter]
        return None if got == self.n else f"counter is {got}, expected {self.n}"


class WaitForFlag:
    """A consumer spins on a flag that the producer may never set (when `set_flag` is false)."""

    def __init__(self, set_flag: bool, backstop: bool = False) -> None:
        self.mem = Memory()
        self.flag = self.mem.alloc("flag")
        self.set_flag = set_flag
        self.backstop = backstop
        self.timed_out = False

    def _producer(self) -> ThreadBody:
        if self.set_flag:
            yield Op(OpKind.STORE, "store flag=1", TOY, writes=(self.flag,))
            self.mem.cells[self.flag] = 1

    def _consumer(self) -> ThreadBody:
        ok = yield Op(
            OpKind.LOAD,
            "wait flag==1",
            TOY,
            reads=(self.flag,),
            guard=lambda: self.mem.cells[self.flag] == 1,
            backstop="flag timeout" if self.backstop else None,
        )
        self.timed_out = not ok

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        return [("producer", "p", self._producer()), ("consumer", "c", self._consumer())]

    def fingerprint(self) -> Hashable:
        return self.mem.snapshot()

    def work_left(self) -> str | None:
        return None if self.mem.cells[self.flag] == 1 or self.timed_out else "flag never set"


def test_round_robin_interleaves_and_loses_the_update() -> None:
    sched = RoundRobinScheduler()
    assert sched.new_execution()
    result = run_once(LostUpdate(), sched)
    assert result.schedule == [0, 1, 0, 1]
    assert result.outcome == DEADLOCK and result.work_left == "counter is 1, expected 2"
    assert not sched.new_execution()


def test_replay_of_a_serial_schedule_completes() -> None:
    sched = ReplayScheduler([0, 0, 1, 1])
    sched.new_execution()
    result = run_once(LostUpdate(), sched)
    assert result.outcome == DONE and result.preemptions == 0


def test_preemption_is_counted_only_when_leaving_a_runnable_thread() -> None:
    sched = ReplayScheduler([0, 1, 1, 0])
    sched.new_execution()
    assert run_once(LostUpdate(), sched).preemptions == 1


def test_replay_divergence_names_step_thread_and_runnable_set() -> None:
    sched = ReplayScheduler([0, 0, 0], ["t0", "t1"])
    sched.new_execution()
    with pytest.raises(ReplayDivergence) as err:
        run_once(LostUpdate(), sched)
    text = err.value.render()
    assert "step 2" in text and "t0" in text and "runnable: t1" in text


def test_random_scheduler_is_reproducible_and_finds_both_outcomes() -> None:
    def outcomes(seed: int) -> list[tuple[str, tuple[int, ...]]]:
        sched = RandomScheduler(seed, runs=40)
        out = []
        while sched.new_execution():
            r = run_once(LostUpdate(), sched)
            out.append((r.outcome, tuple(r.schedule)))
        return out

    first = outcomes(7)
    assert first == outcomes(7)
    assert {o for o, _ in first} == {DONE, DEADLOCK}


def test_a_wait_without_backstop_is_a_deadlock_with_thread_states() -> None:
    sched = RoundRobinScheduler()
    sched.new_execution()
    result = run_once(WaitForFlag(set_flag=False), sched)
    assert result.outcome == DEADLOCK
    assert result.thread_states == ["producer: finished", "consumer: blocked on wait flag==1  [toy (toy.cpp)]"]


def test_a_backstop_fires_only_when_nothing_else_can_run() -> None:
    sys_ok = WaitForFlag(set_flag=True, backstop=True)
    sched = ReplayScheduler([0, 1])
    sched.new_execution()
    assert run_once(sys_ok, sched).outcome == DONE and not sys_ok.timed_out
    sys_timeout = WaitForFlag(set_flag=False, backstop=True)
    sched = ReplayScheduler([1])
    sched.new_execution()
    result = run_once(sys_timeout, sched)
    assert result.outcome == DONE and sys_timeout.timed_out and result.trace[0].fired_backstop


def test_observer_failure_stops_the_run() -> None:
    system = LostUpdate()

    class CounterNeverOne:
        def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
            if system.mem.cells[system.counter] == 1:
                return Failure("toy.never_one", "counter reached 1", rec.index)
            return None

        def at_end(self, ex: Executor, outcome: str) -> Failure | None:
            return None

    sched = ReplayScheduler([0, 0, 1, 1])
    sched.new_execution()
    result = run_once(system, sched, observers=[CounterNeverOne()])
    assert result.outcome == FAILURE and result.failure is not None and result.failure.step == 1
    assert result.steps == 2


def test_state_key_distinguishes_thread_positions_and_locals() -> None:
    system = LostUpdate()
    sched = ReplayScheduler([0, 1, 0, 1])
    sched.new_execution()
    keys = []
    run_once(system, sched, on_executor=lambda ex: keys.append(ex))
    ex = keys[0]
    assert ex.steps == 4 and ex.state_key() == (system.mem.snapshot(), (None, None))
    other = LostUpdate()
    ex_a, ex_b = Executor(other), Executor(LostUpdate())
    assert ex_a.state_key() == ex_b.state_key()
    ex_a.step(0)
    assert ex_a.state_key() != ex_b.state_key()
    ex_b.step(1)
    assert ex_a.state_key() != ex_b.state_key()  # same memory, different thread positions
    ex_a.step(1)
    ex_b.step(0)
    assert ex_a.state_key() == ex_b.state_key()  # both loaded 0: the same global state


def test_schedule_text_round_trips_and_rejects_garbage() -> None:
    schedule = [0, 0, 0, 1, 2, 2, 0]
    text = encode_schedule(schedule)
    assert text == "ptosched1:0*3.1.2*2.0"
    assert decode_schedule(text) == schedule
    assert decode_schedule("ptosched1:") == []
    for bad in ("0*3", "ptosched1:a", "ptosched1:1*0", "ptosched1:-1"):
        with pytest.raises(PtocheckError):
            decode_schedule(bad)


def test_trace_is_a_numbered_table() -> None:
    sched = ReplayScheduler([0, 0, 1, 1])
    sched.new_execution()
    system = LostUpdate()
    result = run_once(system, sched)
    lines = format_trace(result, system).splitlines()
    assert lines[0] == "     1  t0         load counter [rlx]  toy"
    assert lines[1] == "     2  t0         store counter+1 [rel]  toy"
    assert len(lines) == 4
