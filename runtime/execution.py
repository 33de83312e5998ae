"""Running a System under a Scheduler: schedules as data, the run loop, outcomes, traces.

The loop asks the scheduler for a thread at every step, records the schedule it took, and stops on a
deadlock (nothing can run and work is left: every thread's state is reported), on the step limit
(livelock), on an observer's Failure, or when every thread has finished.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from model.errors import PtocheckError
from runtime.core import ORDER_NAMES, Executor, Failure, Observer, StepRecord, System

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
        self._done = 0
        self.run_seed = seed

    def new_execution(self) -> bool:
        if self._done >= self.runs:
            return False
        self._done += 1
        self.run_seed = self._master.getrandbits(63)
        self._rng = random.Random(self.run_seed)
        return True

    def choose(self, choices: Sequence[int], current: int | None, step: int) -> int:
        return choices[self._rng.randrange(len(choices))] if len(choices) > 1 else choices[0]


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
) -> RunResult:
    """One run of `system` under `scheduler` (whose `new_execution` the caller has already called)."""
    ex = Executor(system)
    if on_executor is not None:
        on_executor(ex)
    names = [s.name for s in ex.slots]
    schedule: list[int] = []
    trace: list[StepRecord] = []
    current: int | None = None
    preemptions = 0
    failure: Failure | None = None
    outcome = DONE
    # the hot loop (the executor's steps per second are a target): locals, runnable set computed inline
    slots = ex.slots
    choose = scheduler.choose
    step = ex.step
    on_steps = tuple(obs.on_step for obs in observers)
    while True:
        choices = [s.tid for s in slots if (op := s.op) is not None and (op.guard is None or op.guard())]
        fire = not choices
        if fire:
            choices = ex.backstops()
            if not choices:
                break
        if len(schedule) >= max_steps:
            outcome = STEP_LIMIT
            break
        tid = choose(choices, current, len(schedule))
        if current is not None and tid != current and not fire and current in choices:
            preemptions += 1
        schedule.append(tid)
        rec = step(tid, fire)
        current = tid
        if record_trace:
            trace.append(rec)
        for on_step in on_steps:
            failure = on_step(ex, rec)
            if failure is not None:
                break
        if failure is not None:
            outcome = FAILURE
            break
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
        steps=len(schedule),
        schedule=schedule,
        preemptions=preemptions,
        failure=failure,
        work_left=work_left,
        thread_states=ex.describe_threads() if outcome != DONE else [],
        trace=trace,
        thread_names=names,
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
