"""A store-buffer (x86-TSO) execution mode for the step-level port.

Under sequential consistency every store is visible to every thread the moment its step runs. Under
TSO a thread's ordinary stores first enter its private FIFO store buffer and reach shared memory later,
one at a time, in program order; the thread itself reads its own newest buffered value (store
forwarding). So a store followed by a load of another location can be observed in the opposite order:
the store-buffering pattern behind catalogue bug H01, which C++'s acquire/release orders allow too
(only `seq_cst` on both the store and the load forbids it).

How a step of a buffered thread runs (its op's kind and memory order decide):
  * a buffered store (kind STORE, order plain / relaxed / release): the cells the step changed go into
    the buffer as ONE entry, committed later all at once (an op that writes several cells is a block of
    the C++ whose internal order the port does not keep, so it is never split);
  * a plain load (kind LOAD without writes, any order: an x86 `seq_cst` load is a plain `mov`): it runs
    over the thread's own buffered values, and memory is put back afterwards;
  * everything else runs only once the thread's buffer is empty (until then the thread is blocked, and
    its buffer's daemon commits), then writes memory directly: RMWs, locks and lock-held blocks, queue
    push/pop, fences, AICore register accesses (the cores' own ops, and an AICPU store that writes a
    register cell: uncached device memory), `seq_cst` stores (x86 `xchg`), and any other op that writes.
    This is the x86-TSO machine's rule for locked instructions, applied also to blocks the port runs
    under a lock: lock-protected code is kept sequentially consistent (fewer behaviours than the
    hardware, never more, so every violation found is one TSO allows).
A buffer is emptied by its own daemon thread ("store buffer of T"): one step commits the oldest entry,
announced as that entry's cells and cited as the C++ store that made it. The daemon is an ordinary
schedulable thread, so schedules, replay, PCT and DFS choose commit points like any other interleaving;
it keeps no run alive (`ROLE_STORE_BUFFER` is a daemon role). Every change of memory by a buffered store
is therefore a commit step of its own in the trace, blamed on that store.

A blocked thread's guard is evaluated over its own buffered values, as its load would read them.
Only `Memory.cells` is buffered; state a port keeps outside it (queues' items, private memory) is written
directly, i.e. sequentially consistently.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

from runtime.core import ROLE_STORE_BUFFER, Cite, Op, OpKind, Order, Static, ThreadBody, ThreadSlot

__all__ = ["ROLE_STORE_BUFFER", "StoreBuffers"]

_BUFFERED_ORDERS = (Order.PLAIN, Order.RELAXED, Order.RELEASE)
_WAIT_CITE = Cite("(hardware)", "store buffer: empty, waiting for a store")

Entry = tuple[tuple[int, int], ...]  # ((cell, value), ...) committed together
Buffered = tuple[Entry, Op]  # an entry and the buffered store op that made it


class StoreBuffers(Static):
    """The per-thread FIFO store buffers of one run (keyed by thread id) and the step hooks around them.

    Built with the thread bodies (a system reset in place builds new ones); a `Static`, so thread positions
    skip it: its contents are in the owning system's fingerprint (`fingerprint()` here).

    A daemon's announced op always describes the entry it commits next: that entry's cells as its writes
    and the buffered store's C++ citation (so a property that fails at a commit blames the C++ store
    that became visible there), or, while its buffer is empty, a waiting op that writes nothing. A store
    into an empty buffer re-announces it (`bind` gives the hooks the executor's thread slots); after a
    commit the daemon announces its next op itself."""

    __slots__ = ("_daemons", "_names", "_overlay", "_slots", "_unbuffered", "_waiting", "cells", "pending")

    def __init__(self, cells: list[int], owners: dict[int, str], unbuffered: frozenset[int] = frozenset()) -> None:
        """`owners`: thread id -> name of every thread whose stores are buffered; `unbuffered`: cells a
        store reaches directly (device registers: uncached, never in a store buffer), so a store to one
        waits for an empty buffer like an RMW."""
        self.cells = cells
        self._unbuffered = unbuffered
        self.pending: dict[int, list[Buffered]] = {tid: [] for tid in owners}
        self._names = dict(owners)
        self._daemons: dict[int, int] = {}  # owner -> its daemon's thread id
        self._slots: Sequence[ThreadSlot] = ()
        self._overlay: list[tuple[int, int]] = []  # (cell, global value) saved while an overlay is applied
        self._waiting = {tid: Op(OpKind.STORE, f"store buffer of {name}: empty, nothing to commit", _WAIT_CITE,
                                 (), (), Order.RELAXED, self._non_empty(tid)) for tid, name in owners.items()}

    def _non_empty(self, owner: int) -> Callable[[], bool]:
        entries = self.pending[owner]
        return lambda: bool(entries)

    def quiescent(self) -> bool:
        """No store is waiting in any buffer: memory holds every store issued so far."""
        return not any(self.pending.values())

    def fingerprint(self) -> Hashable:
        return tuple((tid, tuple(e for e, _op in entries)) for tid, entries in sorted(self.pending.items()) if entries)

    # ----------------------------------------------------------------- the daemon threads
    def commit_body(self, owner: int, tid: int) -> ThreadBody:
        """The daemon (thread id `tid`) that drains `owner`'s buffer, one entry per step, for ever."""
        self._daemons[owner] = tid
        while True:
            yield self._next_op(owner)
            self._commit_oldest(owner)

    def bind(self, slots: Sequence[ThreadSlot]) -> None:
        self._slots = slots

    def _next_op(self, owner: int) -> Op:
        entries = self.pending[owner]
        if not entries:
            return self._waiting[owner]
        entry, origin = entries[0]
        return Op(OpKind.STORE, f"store buffer of {self._names[owner]}: commit {origin.what}", origin.cite, (),
                  tuple(cell for cell, _value in entry), origin.order, self._non_empty(owner))

    def _announce(self, owner: int) -> None:
        """Re-announce `owner`'s daemon op after a store entered its empty buffer."""
        if self._slots:
            self._slots[self._daemons[owner]].op = self._next_op(owner)

    def _commit_oldest(self, owner: int) -> None:
        cells = self.cells
        entry, _origin = self.pending[owner].pop(0)
        for cell, value in entry:
            cells[cell] = value

    # ----------------------------------------------------------------- around one step
    def buffers_store(self, op: Op) -> bool:
        return (op.kind is OpKind.STORE and op.order in _BUFFERED_ORDERS
                and not (self._unbuffered and self._unbuffered.intersection(op.writes)))

    @staticmethod
    def _only_loads(op: Op) -> bool:
        return op.kind is OpKind.LOAD and not op.writes

    def before_step(self, tid: int, op: Op) -> tuple[int, ...] | None:
        """Prepare `tid`'s step; returns the pre-step values of a buffered store's cells (else None)."""
        entries = self.pending.get(tid)
        if entries is None:
            return None
        if self.buffers_store(op):
            self._apply_overlay(entries)
            cells = self.cells
            return tuple(cells[c] for c in op.writes)
        if self._only_loads(op):
            self._apply_overlay(entries)
            return None
        assert not entries, f"{op.what} ran with stores still in its thread's buffer"  # may_run blocks it
        return None

    def after_step(self, tid: int, op: Op, before: tuple[int, ...] | None) -> None:
        """Move a buffered store's effect from memory into the buffer, and take the overlay off."""
        if before is not None:
            cells = self.cells
            entry = tuple((c, cells[c]) for c, old in zip(op.writes, before, strict=True) if cells[c] != old)
            saved = dict(self._overlay)
            for c, _value in entry:
                # memory goes back to what other threads see: the saved global value, or the pre-step one
                cells[c] = saved.get(c, before[op.writes.index(c)])
            if entry:
                entries = self.pending[tid]
                entries.append((entry, op))
                if len(entries) == 1:
                    self._announce(tid)
        self._remove_overlay()

    def may_run(self, tid: int, op: Op) -> bool:
        """Whether `tid` may take `op` now: an op that neither buffers nor only loads waits for an empty
        buffer; a guard is evaluated as `tid` would see memory, over its own buffered values."""
        entries = self.pending.get(tid)
        guard = op.guard
        if not entries:
            return guard is None or guard()
        if not self.buffers_store(op) and not self._only_loads(op):
            return False
        if guard is None:
            return True
        self._apply_overlay(entries)
        try:
            return guard()
        finally:
            self._remove_overlay()

    def _apply_overlay(self, entries: list[Buffered]) -> None:
        cells = self.cells
        saved = self._overlay
        seen: set[int] = set()
        for entry, _origin in entries:
            for cell, value in entry:
                if cell not in seen:
                    seen.add(cell)
                    saved.append((cell, cells[cell]))
                cells[cell] = value

    def _remove_overlay(self) -> None:
        cells = self.cells
        for cell, value in self._overlay:
            cells[cell] = value
        self._overlay.clear()
