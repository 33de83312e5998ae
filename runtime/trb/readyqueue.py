"""The Vyukov bounded MPMC ready queue (PTO2ReadyQueue, SCHED/pto_scheduler.h) at push/pop granularity.

The port performs a push, a pop or a batch as one atomic step. With whole operations atomic, the
Vyukov state is fully determined by the two positions and the items between them: slot `p & mask`
holds sequence p+1 for p in [dequeue_pos, enqueue_pos) and is free for position p+capacity otherwise.
A push fails (returns False: "queue full") exactly when enqueue_pos - dequeue_pos == capacity, which is
the C++ `seq - pos < 0` test. The positions live in memory cells (monotonic across runs: the C++
`reset_for_reuse` is a no-op); the items (global slot ids) live here and are in the fingerprint.

Not modelled: a pop that observes a slot a peer has reserved but not yet published (the C++ returns
"empty" then), i.e. the push's reserve/publish split.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Sequence


class ReadyQueue:
    __slots__ = ("capacity", "cells", "deq_cell", "enq_cell", "items", "name")

    def __init__(self, name: str, capacity: int, cells: list[int], enq_cell: int, deq_cell: int) -> None:
        self.name = name
        self.capacity = capacity
        self.cells = cells
        self.enq_cell = enq_cell
        self.deq_cell = deq_cell
        self.items: deque[int] = deque()

    def size(self) -> int:
        return len(self.items)

    def push(self, item: int) -> bool:
        if len(self.items) >= self.capacity:
            return False
        self.items.append(item)
        self.cells[self.enq_cell] += 1
        return True

    def push_batch(self, batch: Sequence[int]) -> bool:
        if len(batch) == 0:
            return True
        if len(batch) > self.capacity or len(self.items) + len(batch) > self.capacity:
            return False
        self.items.extend(batch)
        self.cells[self.enq_cell] += len(batch)
        return True

    def pop_batch(self, max_count: int) -> tuple[int, ...]:
        n = min(max_count, len(self.items))
        if n <= 0:
            return ()
        out = tuple(self.items.popleft() for _ in range(n))
        self.cells[self.deq_cell] += n
        return out

    def holds(self, expected: tuple[int, ...]) -> bool:
        """True when the queue holds exactly `expected`, in order."""
        items = self.items
        if len(items) != len(expected):
            return False
        return all(a == b for a, b in zip(items, expected, strict=True))

    def contents(self) -> tuple[int, ...]:
        return tuple(self.items)

    def fingerprint(self) -> Hashable:
        return tuple(self.items)

    def sequence_of(self, index: int) -> int:
        """The C++ `slots[index].sequence` value implied by the positions (for invariant checks)."""
        enq = self.cells[self.enq_cell]
        deq = self.cells[self.deq_cell]
        cap = self.capacity
        for p in range(deq, enq):
            if p % cap == index:
                return p + 1
        # a free slot carries the next position that maps to it: the one in [enq, deq + capacity)
        p = enq
        while p % cap != index:
            p += 1
        return p
