"""The vocabulary of the step-level port: shared memory cells, atomic operations, threads.

A thread of the port is a Python generator. It *announces* its next atomic shared-memory operation by
yielding an `Op`; when the scheduler picks the thread, the generator is resumed and the code between
that `yield` and the next one performs exactly the announced operation (one load, one store, one CAS,
one fetch-add, one lock acquisition, or one block of C++ that runs under a lock already held). So every
interleaving point of the C++ is a `yield`, and a scheduler decides every interleaving.

Spin-waits are not busy steps: an op with a `guard` is runnable only while `guard()` is true (the thread
blocks until a location it reads changes). An op with a `backstop` names a time-based timeout of the C++
(the 500 ms allocation backstop, the scheduler watchdog, the tensor-data wait limit); the executor offers
it only when nothing else can run, and resumes the generator with `False` (timed out) instead of `True`.

Everything a thread keeps across steps is either a plain value in a generator local (int, bool, str,
None, or tuples of those) or lives in the system's own state, which `System.fingerprint()` covers; that
is what makes `thread_position` plus the fingerprint an exact state key for stateful search.
"""

from __future__ import annotations

import dis
import gc
import types
from collections.abc import Callable, Generator, Hashable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol

# The simpler commit the port mirrors; every `Cite` refers to it.
PINNED_COMMIT = "6ebaf77156313aaeb5c9457c57b16c45b84ae7e8"
SIMPLER_REPO = "hw-native-sys/simpler"


class Order(IntEnum):
    """The C++ memory order of an access (PLAIN = not an atomic)."""

    PLAIN = 0
    RELAXED = 1
    ACQUIRE = 2
    RELEASE = 3
    ACQ_REL = 4
    SEQ_CST = 5


ORDER_NAMES = ("plain", "rlx", "acq", "rel", "acq_rel", "seq_cst")


class OpKind(IntEnum):
    LOAD = 0
    STORE = 1
    CAS = 2
    FETCH_ADD = 3
    EXCHANGE = 4
    TRY_LOCK = 5
    LOCK = 6
    UNLOCK = 7
    PUSH = 8
    POP = 9
    LOCKED = 10  # a block of the C++ that runs entirely under a lock the thread holds
    FENCE = 11
    LOCAL = 12  # thread-private work that another thread can observe only through later ops
    CORE = 13  # an AICore register access or kernel boundary


@dataclass(frozen=True, slots=True)
class Cite:
    """Where the step comes from: a file of hw-native-sys/simpler at PINNED_COMMIT and a C++ function."""

    file: str
    function: str

    def text(self) -> str:
        return f"{self.function} ({self.file})"


@dataclass(frozen=True, slots=True)
class Op:
    """One announced atomic step: what it does, where it comes from, what it touches."""

    kind: OpKind
    what: str
    cite: Cite
    reads: tuple[int, ...] = ()
    writes: tuple[int, ...] = ()
    order: Order = Order.RELAXED
    guard: Callable[[], bool] | None = None
    backstop: str | None = None
    # the cells the guard reads, when they are fewer than `reads` (None: `reads`); the incremental runnable
    # set re-evaluates the guard only after a write to one of them (the footprint audit checks the claim)
    guard_reads: tuple[int, ...] | None = None

    def __deepcopy__(self, memo: dict[int, object]) -> Op:
        return self  # immutable; its guard reads the system's memory, which stays the same object


ThreadBody = Generator[Op, bool, None]


class Memory:
    """Shared memory as a flat list of integer cells with names (for traces and footprints)."""

    __slots__ = ("cells", "names")

    def __init__(self) -> None:
        self.cells: list[int] = []
        self.names: list[str] = []

    def alloc(self, name: str, count: int = 1, init: int = 0) -> int:
        """Reserve `count` cells named `name` (or `name[i]`); returns the first cell's index."""
        base = len(self.cells)
        self.cells.extend([init] * count)
        if count == 1:
            self.names.append(name)
        else:
            self.names.extend(f"{name}[{i}]" for i in range(count))
        return base

    def snapshot(self) -> tuple[int, ...]:
        return tuple(self.cells)

    def restore(self, snap: Sequence[int]) -> None:
        self.cells[:] = snap


class Static:
    """Base of objects a thread may hold in a local that are not thread state (memory, config, tables).

    `thread_position` skips them: they are either immutable or covered by `System.fingerprint()`; a
    deep copy of a system's state (DFS's in-place reset) shares them for the same reason.
    """

    __slots__ = ()

    def __deepcopy__(self, memo: dict[int, object]) -> Static:
        return self


_PLAIN = (int, bool, str, float, type(None))
_PLAIN_TYPES = frozenset(_PLAIN)  # exact types: a tuple holding anything else takes the element-wise path


def _plain_value(name: str, value: object) -> Hashable:
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, tuple):
        if type(value) is tuple and _PLAIN_TYPES.issuperset(map(type, value)):
            return value  # the common case, checked in C: a flat tuple of plain values is its own plain value
        return tuple(_plain_value(name, v) for v in value)
    if isinstance(value, IntEnum):
        return int(value)
    if isinstance(value, Static | Op | types.FunctionType | types.MethodType | types.ModuleType | type):
        return None
    fp = getattr(value, "fingerprint", None)
    if callable(fp):
        result: Hashable = fp()
        return result
    raise TypeError(
        f"thread local {name!r} holds a {type(value).__name__}: keep cross-step thread state in plain "
        "values or in the system state covered by fingerprint()"
    )


def _iterator_state(name: str, it: object) -> Hashable:
    """How far a loop iterator has gone: the state its `__reduce__` exposes (an index, the remaining
    items, or the state of the iterators it wraps), plain values only."""
    if isinstance(it, types.GeneratorType):
        return thread_position(it)
    reduced = it.__reduce__()
    if not isinstance(reduced, tuple):
        raise TypeError(f"{name}: loop iterator {type(it).__name__} does not expose its state")
    parts: list[Hashable] = [type(it).__name__]
    for arg in reduced[1:]:
        parts.append(_reduced_value(name, arg))
    return tuple(parts)


def _reduced_value(name: str, value: object) -> Hashable:
    if isinstance(value, range):
        return (value.start, value.stop, value.step)
    if isinstance(value, tuple | list):
        return tuple(_reduced_value(name, v) for v in value)
    if hasattr(type(value), "__next__"):
        return _iterator_state(name, value)
    return _plain_value(name, value)


def _loop_iterators(gen: types.GeneratorType[object, object, object]) -> Hashable:
    """The state of the `for` loops a suspended generator is inside of.

    A `for` loop keeps its iterator on the frame's value stack, not in a local, so two iterations
    whose locals are equal (e.g. over a tuple with repeated items) would otherwise look like one
    position. The generator's GC referents include its value stack; iterators are never locals (a
    local iterator is rejected by `_plain_value`), so every iterator among them is a loop's.
    """
    code = gen.gi_code
    has_loop = _HAS_FOR_LOOP.get(code)
    if has_loop is None:
        has_loop = any(ins.opname == "FOR_ITER" for ins in dis.get_instructions(code))
        _HAS_FOR_LOOP[code] = has_loop
    if not has_loop:
        return ()
    sub = gen.gi_yieldfrom
    found = []
    for obj in gc.get_referents(gen):
        kind = type(obj)
        is_iterator = _IS_ITERATOR_TYPE.get(kind)
        if is_iterator is None:
            is_iterator = _IS_ITERATOR_TYPE[kind] = hasattr(kind, "__next__")
        if is_iterator and obj is not sub:
            found.append(obj)
    return tuple(_iterator_state(code.co_qualname, obj) for obj in found)


_HAS_FOR_LOOP: dict[types.CodeType, bool] = {}  # code objects of thread bodies: whether they have a `for` loop
_IS_ITERATOR_TYPE: dict[type, bool] = {}


def thread_position(gen: ThreadBody) -> Hashable:
    """Where a suspended generator is and what it holds: (code, offset, plain locals, loop iterator
    states) down the yield-from chain."""
    out: list[Hashable] = []
    g: object = gen
    while isinstance(g, types.GeneratorType):
        frame = g.gi_frame
        if frame is None:
            out.append("finished")
            break
        local_values = tuple(
            (k, _plain_value(k, v)) for k, v in sorted(frame.f_locals.items()) if k != "self"
        )
        out.append((g.gi_code.co_qualname, frame.f_lasti, local_values, _loop_iterators(g)))
        g = g.gi_yieldfrom
    return tuple(out)


# Roles of daemon threads: they never finish and keep no run alive (a run whose other threads have all
# finished is over even while a daemon waits); e.g. the store buffers of `runtime.store_buffer`.
ROLE_STORE_BUFFER = "store-buffer"
DAEMON_ROLES = frozenset({ROLE_STORE_BUFFER})


class StepHooks(Protocol):
    """What a System that changes how steps touch memory (a store-buffer mode) runs around every step.

    A System exposes them as `step_hooks` once its `threads()` has been called (None: plain steps)."""

    def before_step(self, tid: int, op: Op) -> tuple[int, ...] | None: ...

    def after_step(self, tid: int, op: Op, before: tuple[int, ...] | None) -> None: ...

    def may_run(self, tid: int, op: Op) -> bool:
        """Whether thread `tid` may take its announced `op` now (its guard included)."""
        ...

    def bind(self, slots: Sequence[ThreadSlot]) -> None:
        """The executor's thread slots (a hook may re-announce a daemon thread's op)."""
        ...


class System(Protocol):
    """A port instance built from a scenario: its shared memory, its threads, and what 'done' means."""

    mem: Memory

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        """(name, role, body) of every thread, in a fixed order; called once, before the first step."""
        ...

    def fingerprint(self) -> Hashable:
        """Everything the threads share or keep outside generator locals (memory cells included)."""
        ...

    def work_left(self) -> str | None:
        """None when the run reached its goal (e.g. every task consumed, or the expected fatal); else why not."""
        ...


@dataclass(frozen=True, slots=True)
class Failure:
    """A property an observer found violated at a step (or at the end of the run)."""

    property_id: str
    message: str
    step: int


@dataclass(slots=True)
class StepRecord:
    """One executed step of a run."""

    index: int
    tid: int
    op: Op
    fired_backstop: bool = False


class Observer(Protocol):
    """Checks a run as it goes; returns a Failure to stop the run."""

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None: ...

    def at_end(self, ex: Executor, outcome: str) -> Failure | None: ...


@dataclass(slots=True)
class ThreadSlot:
    tid: int
    name: str
    role: str
    body: ThreadBody
    op: Op | None  # the announced next step; None once the generator returned


@dataclass(slots=True)
class Executor:
    """Runs one execution of a System one step at a time; the caller (an engine) picks each thread."""

    system: System
    slots: list[ThreadSlot] = field(default_factory=list)
    steps: int = 0
    hooks: StepHooks | None = None

    def __post_init__(self) -> None:
        for tid, (name, role, body) in enumerate(self.system.threads()):
            self.slots.append(ThreadSlot(tid, name, role, body, _first_op(body)))
        self.hooks = getattr(self.system, "step_hooks", None)
        if self.hooks is not None:
            self.hooks.bind(self.slots)

    def runnable(self) -> list[int]:
        """Threads whose next op can run now, in thread order."""
        hooks = self.hooks
        if hooks is not None:
            may_run = hooks.may_run
            return [s.tid for s in self.slots if (op := s.op) is not None and may_run(s.tid, op)]
        return [s.tid for s in self.slots if (op := s.op) is not None and (op.guard is None or op.guard())]

    def backstops(self) -> list[int]:
        """Threads whose blocked op has a time-based backstop (offered only when nothing is runnable)."""
        return [s.tid for s in self.slots if s.op is not None and s.op.backstop is not None]

    def choices(self) -> tuple[list[int], bool]:
        """The threads a scheduler may pick now, and whether picking one fires its backstop."""
        run = self.runnable()
        if run:
            return run, False
        return self.backstops(), True

    def finished(self) -> bool:
        """Every thread returned (daemons aside)."""
        return all(s.op is None or s.role in DAEMON_ROLES for s in self.slots)

    def step(self, tid: int, fire_backstop: bool = False) -> StepRecord:
        slot = self.slots[tid]
        op = slot.op
        assert op is not None, f"thread {slot.name} has finished"
        rec = StepRecord(self.steps, tid, op, fire_backstop)
        self.steps += 1
        advance(slot, fire_backstop, self.hooks)
        return rec

    def state_key(self) -> Hashable:
        """An exact key of the global state: system state plus every thread's position."""
        return (
            self.system.fingerprint(),
            tuple(thread_position(s.body) if s.op is not None else None for s in self.slots),
        )

    def describe_threads(self) -> list[str]:
        """One line per thread: its name and what it is doing or waiting for (for deadlock reports)."""
        lines = []
        for s in self.slots:
            if s.op is None:
                lines.append(f"{s.name}: finished")
                continue
            if self.hooks is not None:
                blocked = not self.hooks.may_run(s.tid, s.op)
            else:
                blocked = s.op.guard is not None and not s.op.guard()
            state = "blocked on" if blocked else "ready to"
            lines.append(f"{s.name}: {state} {s.op.what}  [{s.op.cite.text()}]")
        return lines


def advance(slot: ThreadSlot, fire_backstop: bool, hooks: StepHooks | None) -> None:
    """Run `slot`'s announced op (resume its body) and store the op it announces next."""
    if hooks is None:
        try:
            slot.op = slot.body.send(not fire_backstop)
        except StopIteration:
            slot.op = None
        return
    op = slot.op
    assert op is not None
    before = hooks.before_step(slot.tid, op)
    try:
        slot.op = slot.body.send(not fire_backstop)
    except StopIteration:
        slot.op = None
    finally:
        hooks.after_step(slot.tid, op, before)


def _first_op(body: ThreadBody) -> Op | None:
    try:
        return next(body)
    except StopIteration:
        return None
