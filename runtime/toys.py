"""Small Systems with known answers, for testing and benchmarking the schedule-search engines.

Each toy follows the port's rules (generators yielding one `Op` with its read/write footprint, spin-waits
as guards) so the engines see exactly what they see on the real port. `ToyAssertions` turns a toy's
`violation` attribute into an observer Failure, so a toy bug reads like a property violation.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

from runtime.core import (
    ROLE_STORE_BUFFER,
    Cite,
    Executor,
    Failure,
    Memory,
    Op,
    OpKind,
    Order,
    StepRecord,
    ThreadBody,
)
from runtime.store_buffer import StoreBuffers

TOY = Cite("toy.cpp", "toy")


class LostUpdate:
    """`threads` threads each increment one counter with a separate load and store (the classic lost
    update: one preemption between a load and its store loses an increment)."""

    def __init__(self, threads: int = 2) -> None:
        self.mem = Memory()
        self.counter = self.mem.alloc("counter")
        self.n = threads

    def _incr(self) -> ThreadBody:
        yield Op(OpKind.LOAD, "load counter", TOY, reads=(self.counter,))
        value = self.mem.cells[self.counter]
        yield Op(OpKind.STORE, "store counter+1", TOY, writes=(self.counter,))
        self.mem.cells[self.counter] = value + 1

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        return [(f"t{i}", "worker", self._incr()) for i in range(self.n)]

    def fingerprint(self) -> Hashable:
        return self.mem.snapshot()

    def work_left(self) -> str | None:
        got = self.mem.cells[self.counter]
        return None if got == self.n else f"counter is {got}, expected {self.n}"


class IndependentThreads:
    """`threads` threads, each doing `steps` stores to its own cell: every interleaving is equivalent."""

    def __init__(self, threads: int = 3, steps: int = 1) -> None:
        self.mem = Memory()
        self.base = self.mem.alloc("own", threads)
        self.n = threads
        self.steps = steps

    def _body(self, tid: int) -> ThreadBody:
        cell = self.base + tid
        for _ in range(self.steps):
            yield Op(OpKind.STORE, f"store own[{tid}]+1", TOY, writes=(cell,))
            self.mem.cells[cell] += 1

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        return [(f"t{i}", "worker", self._body(i)) for i in range(self.n)]

    def fingerprint(self) -> Hashable:
        return self.mem.snapshot()

    def work_left(self) -> str | None:
        return None


class TwoLockDeadlock:
    """t0 takes A then B, t1 takes B then A: one preemption between the two acquisitions deadlocks.
    With `ordered=True` both take A first (no deadlock is possible)."""

    def __init__(self, ordered: bool = False) -> None:
        self.mem = Memory()
        self.lock_a = self.mem.alloc("lock_a")
        self.lock_b = self.mem.alloc("lock_b")
        self.ordered = ordered

    def _lock(self, cell: int, tid: int, name: str) -> ThreadBody:
        """Blocking acquisition: runnable only while the lock is free; takes it in one atomic step."""
        yield Op(
            OpKind.LOCK,
            f"lock {name}",
            TOY,
            reads=(cell,),
            writes=(cell,),
            guard=lambda: self.mem.cells[cell] == 0,
        )
        self.mem.cells[cell] = tid + 1

    def _unlock(self, cell: int, name: str) -> ThreadBody:
        yield Op(OpKind.UNLOCK, f"unlock {name}", TOY, writes=(cell,))
        self.mem.cells[cell] = 0

    def _body(self, tid: int, first: tuple[int, str], second: tuple[int, str]) -> ThreadBody:
        yield from self._lock(first[0], tid, first[1])
        yield from self._lock(second[0], tid, second[1])
        yield from self._unlock(second[0], second[1])
        yield from self._unlock(first[0], first[1])

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        a, b = (self.lock_a, "A"), (self.lock_b, "B")
        return [
            ("t0", "worker", self._body(0, a, b)),
            ("t1", "worker", self._body(1, a, b) if self.ordered else self._body(1, b, a)),
        ]

    def fingerprint(self) -> Hashable:
        return self.mem.snapshot()

    def work_left(self) -> str | None:
        return None


class Grid:
    """`threads` threads doing `steps` stores each to their own cell (no shared data): the reachable
    states form a grid of (steps+1)^threads points, which makes state counts easy to compute by hand."""

    def __init__(self, threads: int = 2, steps: int = 2) -> None:
        self.inner = IndependentThreads(threads, steps)
        self.mem = self.inner.mem

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        return self.inner.threads()

    def fingerprint(self) -> Hashable:
        return self.inner.fingerprint()

    def work_left(self) -> str | None:
        return None


class CheckThenUse:
    """A depth-2 ordering bug (for PCT): `user` checks a pointer, then uses it; `clearer` does `work`
    private steps and then clears the pointer. The bug needs the clear to land between the check and
    the use (two ordering constraints); a run that clears before the check simply skips the use."""

    def __init__(self, work: int = 5) -> None:
        self.mem = Memory()
        self.ptr = self.mem.alloc("ptr", init=1)
        self.progress = self.mem.alloc("progress")
        self.work = work
        self.violation: str | None = None

    def _clearer(self) -> ThreadBody:
        for _ in range(self.work):
            yield Op(OpKind.STORE, "store progress+1", TOY, writes=(self.progress,))
            self.mem.cells[self.progress] += 1
        yield Op(OpKind.STORE, "store ptr=0", TOY, writes=(self.ptr,))
        self.mem.cells[self.ptr] = 0

    def _user(self) -> ThreadBody:
        yield Op(OpKind.LOAD, "load ptr (check)", TOY, reads=(self.ptr,))
        if self.mem.cells[self.ptr] == 0:
            return
        yield Op(OpKind.LOAD, "load ptr (use)", TOY, reads=(self.ptr,))
        if self.mem.cells[self.ptr] == 0:
            self.violation = "user dereferenced a pointer cleared after its check"

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        return [("clearer", "worker", self._clearer()), ("user", "worker", self._user())]

    def fingerprint(self) -> Hashable:
        return (self.mem.snapshot(), self.violation)

    def work_left(self) -> str | None:
        return None


class SpinHandoff:
    """`producers` producers each publish `items` values through a one-slot mailbox; one consumer
    spin-waits (a guard, not busy steps) for each value and takes it. A producer waits for the box to
    be empty and fills it with one CAS; with `racy=True` it waits with a load and then stores in a
    separate step, so two producers can both see the box empty and one value is overwritten (the
    consumer then waits forever: a deadlock with work left)."""

    def __init__(self, items: int = 2, producers: int = 1, racy: bool = False) -> None:
        self.mem = Memory()
        self.box = self.mem.alloc("box")
        self.taken = self.mem.alloc("taken")
        self.items = items
        self.producers = producers
        self.racy = racy

    def _box_empty(self) -> bool:
        return self.mem.cells[self.box] == 0

    def _producer(self, p: int) -> ThreadBody:
        for i in range(self.items):
            value = p * self.items + i + 1
            if self.racy:
                yield Op(OpKind.LOAD, "wait box==0", TOY, reads=(self.box,), guard=self._box_empty)
                yield Op(OpKind.STORE, f"store box={value}", TOY, writes=(self.box,))
            else:
                yield Op(
                    OpKind.CAS,
                    f"cas box 0->{value}",
                    TOY,
                    reads=(self.box,),
                    writes=(self.box,),
                    guard=self._box_empty,
                )
            self.mem.cells[self.box] = value

    def _consumer(self) -> ThreadBody:
        for _ in range(self.items * self.producers):
            yield Op(
                OpKind.LOAD,
                "wait box!=0",
                TOY,
                reads=(self.box,),
                guard=lambda: self.mem.cells[self.box] != 0,
            )
            yield Op(
                OpKind.EXCHANGE, "exchange box<-0", TOY, reads=(self.box,), writes=(self.box, self.taken)
            )
            self.mem.cells[self.box] = 0
            self.mem.cells[self.taken] += 1

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        out = [(f"producer{p}", "p", self._producer(p)) for p in range(self.producers)]
        return [*out, ("consumer", "c", self._consumer())]

    def fingerprint(self) -> Hashable:
        return self.mem.snapshot()

    def work_left(self) -> str | None:
        got, want = self.mem.cells[self.taken], self.items * self.producers
        return None if got == want else f"consumer took {got} of {want} values"


class TryLockRetry:
    """Two threads take one lock with a try-lock that retries on failure (a failed try-lock changes no
    memory, so the failing thread returns to a state it was already in: the state graph has cycles)."""

    def __init__(self) -> None:
        self.mem = Memory()
        self.lock = self.mem.alloc("lock")
        self.count = self.mem.alloc("count")

    def _body(self, tid: int) -> ThreadBody:
        while True:
            yield Op(OpKind.TRY_LOCK, "try_lock", TOY, reads=(self.lock,), writes=(self.lock,))
            if self.mem.cells[self.lock] == 0:
                self.mem.cells[self.lock] = tid + 1
                break
        yield Op(OpKind.LOCKED, "count+=1 under lock", TOY, reads=(self.count,), writes=(self.count,))
        self.mem.cells[self.count] += 1
        yield Op(OpKind.UNLOCK, "unlock", TOY, writes=(self.lock,))
        self.mem.cells[self.lock] = 0

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        return [(f"t{i}", "worker", self._body(i)) for i in range(2)]

    def fingerprint(self) -> Hashable:
        return self.mem.snapshot()

    def work_left(self) -> str | None:
        got = self.mem.cells[self.count]
        return None if got == 2 else f"count is {got}, expected 2"


class ToyAssertions:
    """Reports a toy's `violation` attribute (set by the step that went wrong) as a Failure."""

    property_id = "toy.assertion"

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        violation = getattr(ex.system, "violation", None)
        if violation is not None:
            return Failure(self.property_id, str(violation), rec.index)
        return None

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        return None


class RandomProgram:
    """A small random program over a few shared cells, for differential tests of the search engines.

    `program[t]` is thread t's list of instructions: ("load", cell), ("store", cell), ("add", cell),
    ("lock", cell), ("unlock", cell), ("wait", cell, value), ("local",). Loads copy into a register;
    stores write register+tid+1 (mod 3) so data flows between threads; values stay in 0..2 so the state
    space stays small. Locks are taken with a guarded LOCK op; an unlock of a lock not held is skipped.
    """

    def __init__(self, program: Sequence[Sequence[tuple[object, ...]]], cells: int) -> None:
        self.mem = Memory()
        self.base = self.mem.alloc("c", cells)
        self.program = program

    def _cell_is(self, cell: int, value: int) -> Callable[[], bool]:
        cells = self.mem.cells
        return lambda: cells[cell] == value

    def _body(self, tid: int, code: tuple[tuple[object, ...], ...]) -> ThreadBody:
        reg = 0
        held: tuple[int, ...] = ()
        for instr in code:
            kind = instr[0]
            if kind == "local":
                yield Op(OpKind.LOCAL, "local", TOY)
                reg = (reg + 1) % 3
                continue
            cell = self.base + int(str(instr[1]))
            if kind == "load":
                yield Op(OpKind.LOAD, f"load c{instr[1]}", TOY, reads=(cell,))
                reg = self.mem.cells[cell]
            elif kind == "store":
                yield Op(OpKind.STORE, f"store c{instr[1]}", TOY, writes=(cell,))
                self.mem.cells[cell] = (reg + tid + 1) % 3
            elif kind == "add":
                yield Op(OpKind.FETCH_ADD, f"fetch_add c{instr[1]}", TOY, reads=(cell,), writes=(cell,))
                reg = self.mem.cells[cell]
                self.mem.cells[cell] = (reg + 1) % 3
            elif kind == "lock":
                if cell in held:
                    continue
                yield Op(
                    OpKind.LOCK,
                    f"lock c{instr[1]}",
                    TOY,
                    reads=(cell,),
                    writes=(cell,),
                    guard=self._cell_is(cell, 0),
                )
                self.mem.cells[cell] = tid + 1
                held = (*held, cell)
            elif kind == "unlock":
                if cell not in held:
                    continue
                yield Op(OpKind.UNLOCK, f"unlock c{instr[1]}", TOY, writes=(cell,))
                self.mem.cells[cell] = 0
                held = tuple(h for h in held if h != cell)
            elif kind == "wait":
                want = int(str(instr[2]))
                yield Op(
                    OpKind.LOAD,
                    f"wait c{instr[1]}=={want}",
                    TOY,
                    reads=(cell,),
                    guard=self._cell_is(cell, want),
                )
            else:
                raise ValueError(f"unknown instruction {instr!r}")

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        return [
            (f"t{i}", "worker", self._body(i, tuple(tuple(x) for x in code)))
            for i, code in enumerate(self.program)
        ]

    def fingerprint(self) -> Hashable:
        return self.mem.snapshot()

    def work_left(self) -> str | None:
        return None


class StoreBufferingLitmus:
    """The store-buffering litmus test (SB): t0 stores x = 1 then loads y, t1 stores y = 1 then loads x.

    Sequentially consistent, at least one load sees the other thread's store; under `memory_model="tso"`
    (runtime/store_buffer.py) both can read 0. `between` puts one op between each store and load:
    "fetch_add" (an RMW on a private cell: it waits for an empty buffer, as a locked instruction does), "reload" (the
    thread loads its own cell back: store forwarding, it must see 1) or "" (nothing). `seq_cst_store`
    makes both stores `seq_cst` (x86 `xchg`: never buffered). The loaded values are stored to r0 / r1 with
    a `seq_cst` store (after both loads), so the end state (in the fingerprint) records the outcome.
    """

    def __init__(self, memory_model: str = "sc", between: str = "", seq_cst_store: bool = False) -> None:
        self.mem = Memory()
        self.x, self.y = self.mem.alloc("x"), self.mem.alloc("y")
        self.r = self.mem.alloc("r", 2, init=-1)
        self.private = self.mem.alloc("private", 2)
        self.own_seen = self.mem.alloc("own_seen", 2, init=-1)
        self.memory_model = memory_model
        self.between = between
        self.seq_cst_store = seq_cst_store
        self.step_hooks: StoreBuffers | None = None

    def _body(self, tid: int) -> ThreadBody:
        mine, other = (self.x, self.y) if tid == 0 else (self.y, self.x)
        order = Order.SEQ_CST if self.seq_cst_store else Order.RELEASE
        yield Op(OpKind.STORE, f"t{tid}: store own = 1", TOY, writes=(mine,), order=order)
        self.mem.cells[mine] = 1
        if self.between == "fetch_add":
            cell = self.private + tid
            yield Op(OpKind.FETCH_ADD, f"t{tid}: fetch_add private", TOY, reads=(cell,), writes=(cell,),
                     order=Order.ACQ_REL)
            self.mem.cells[cell] += 1
        elif self.between == "reload":
            yield Op(OpKind.LOAD, f"t{tid}: load own", TOY, reads=(mine,), order=Order.ACQUIRE)
            seen = self.mem.cells[mine]
        yield Op(OpKind.LOAD, f"t{tid}: load other", TOY, reads=(other,), order=Order.ACQUIRE)
        value = self.mem.cells[other]
        record = (self.r + tid, self.own_seen + tid) if self.between == "reload" else (self.r + tid,)
        yield Op(OpKind.STORE, f"t{tid}: record what it loaded", TOY, writes=record, order=Order.SEQ_CST)
        self.mem.cells[self.r + tid] = value
        if self.between == "reload":
            self.mem.cells[self.own_seen + tid] = seen

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        out: list[tuple[str, str, ThreadBody]] = [(f"t{i}", "worker", self._body(i)) for i in range(2)]
        if self.memory_model == "tso":
            buffers = StoreBuffers(self.mem.cells, {0: "t0", 1: "t1"})
            self.step_hooks = buffers
            out += [(f"sb.t{i}", ROLE_STORE_BUFFER, buffers.commit_body(i, 2 + i)) for i in range(2)]
        return out

    def fingerprint(self) -> Hashable:
        buffered = self.step_hooks.fingerprint() if self.step_hooks is not None else None
        return (self.mem.snapshot(), buffered)

    def work_left(self) -> str | None:
        return None

    def outcome(self) -> tuple[int, int]:
        cells = self.mem.cells
        return cells[self.r], cells[self.r + 1]
