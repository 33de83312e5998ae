"""The orchestrator-private TensorMap (PTO2TensorMap, RT/pto_tensormap.h, RT/shared/pto_tensormap.cpp).

Only the orchestrator thread touches it, so it is a structured private object rather than memory cells;
`fingerprint()` covers everything that can change what the map does next.

Representation: the C++ hashes entries into buckets by base address and walks a bucket chain
newest-first, comparing `buffer_addr` before the overlap check. Entries of different addresses never
match each other, and insertion is always at the chain head, so the walk order *among entries of one
address* is insertion order, newest first. The port therefore keeps one chain per address (the bucket
chain restricted to that address), which walks in exactly the C++ order. Task chains
(`task_entry_heads[ring][slot]`, mixing generations t, t+W, ...) are kept as in the C++ because cleanup
walks them. Entry ids stand for the pool's entry slots (the C++ reuses freed entries LIFO); the fingerprint
includes them (and the free list) because a lookup's matches, held across steps, name entries by id. A run reuse bumps the epoch in the C++, which
makes every old chain unreachable and restarts the pool counters: `reset_for_reuse` clears the map.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from runtime.trb import consts as K
from runtime.trb.plan import TensorSpec

NO_OVERLAP, COVERED, OTHER = 0, 1, 2
OVERLAP_NAMES = ("NO_OVERLAP", "COVERED", "OTHER")


@dataclass(frozen=True, slots=True)
class ProbeTensor:
    """What `lookup`/`check_overlap` read of an input ChipTensor: its spec plus the run-time address."""

    addr: int
    spec: TensorSpec


@dataclass(slots=True)
class Entry:
    addr: int
    producer_ring: int
    producer_local: int
    start_offset: int
    version: int
    ndims: int
    dtype: str
    elem_size: int
    shapes: tuple[int, ...]
    strides: tuple[int, ...]
    is_contiguous: bool
    extent: int

    def key(self) -> tuple[int, int, int, int, int, str, tuple[int, ...], tuple[int, ...], bool, int]:
        return (
            self.producer_ring,
            self.producer_local,
            self.start_offset,
            self.version,
            self.ndims,
            self.dtype,
            self.shapes,
            self.strides,
            self.is_contiguous,
            self.extent,
        )


def check_overlap(entry: Entry, probe: ProbeTensor) -> int:
    """PTO2TensorMapEntry::check_overlap(input): NO_OVERLAP / COVERED / OTHER, as the C++ computes it."""
    inp = probe.spec
    if inp.version > entry.version:
        return OTHER
    # L1: element-range intersection
    in_begin = inp.start_offset
    in_end = inp.start_offset + inp.extent
    ent_begin = entry.start_offset
    ent_end = entry.start_offset + entry.extent
    if not (in_end > ent_begin and ent_end > in_begin):
        return NO_OVERLAP
    # L2 prerequisites: same axis layout
    if inp.dtype != entry.dtype or inp.ndims != entry.ndims or entry.ndims == 0:
        return OTHER
    ndims = entry.ndims
    strides = entry.strides
    for i in range(ndims):
        if inp.strides[i] != strides[i]:
            return OTHER
    if strides[ndims - 1] != 1:
        return OTHER
    for i in range(1, ndims):
        if strides[i - 1] % strides[i] != 0:
            return OTHER
    ref = [0] * ndims
    for i in range(1, ndims):
        ref[i] = strides[i - 1] // strides[i]
    elem = entry.elem_size
    if elem == 0:
        return OTHER
    numel_storage = inp.buffer_size // elem
    if numel_storage % strides[0] != 0:
        return OTHER
    ref[0] = (numel_storage // strides[0]) & 0xFFFFFFFF  # uint32 narrowing as in the C++
    in_off = [0] * ndims
    ent_off = [0] * ndims
    in_rem = inp.start_offset
    ent_rem = entry.start_offset
    for i in range(ndims):
        s = strides[i]
        in_off[i] = (in_rem // s) & 0xFFFFFFFF
        ent_off[i] = (ent_rem // s) & 0xFFFFFFFF
        in_rem %= s
        ent_rem %= s
    if in_rem != 0 or ent_rem != 0:
        return OTHER
    for i in range(ndims):
        if in_off[i] + inp.shapes[i] > ref[i]:
            return OTHER
        if ent_off[i] + entry.shapes[i] > ref[i]:
            return OTHER
    contains = True
    for i in range(ndims):
        ib, ie = in_off[i], in_off[i] + inp.shapes[i]
        eb, ee = ent_off[i], ent_off[i] + entry.shapes[i]
        if not (ie > eb and ee > ib):
            return NO_OVERLAP
        if not (ib <= eb and ee <= ie):
            contains = False
    return COVERED if contains else OTHER


class TensorMap:
    """PTO2TensorMap with per-address chains (see the module docstring)."""

    __slots__ = (
        "by_addr",
        "cleanup_whole_chain",
        "entries",
        "free_list",
        "free_num",
        "last_cleanup",
        "last_task_alives",
        "next_entry_idx",
        "pool_size",
        "task_chains",
        "windows",
    )

    def __init__(self, pool_size: int, windows: tuple[int, int, int, int], cleanup_whole_chain: bool = False) -> None:
        self.pool_size = pool_size
        self.windows = windows
        self.cleanup_whole_chain = cleanup_whole_chain  # mutant M_CLEANUP_WHOLE_SLOT_CHAIN
        self.entries: dict[int, Entry] = {}
        self.by_addr: dict[int, list[int]] = {}  # addr -> entry ids, newest first
        self.task_chains: dict[tuple[int, int], list[int]] = {}  # (ring, slot) -> entry ids, newest first
        self.free_list: list[int] = []
        self.next_entry_idx = 0
        self.free_num = 0
        self.last_task_alives = [0, 0, 0, 0]
        self.last_cleanup = [0, 0, 0, 0]

    def reset_for_reuse(self) -> None:
        """PTO2TensorMap::reset_for_reuse: pool counters to 0, epoch++ (old chains unreachable)."""
        self.entries.clear()
        self.by_addr.clear()
        self.task_chains.clear()
        self.free_list.clear()
        self.next_entry_idx = 0
        self.free_num = 0
        self.last_task_alives = [0, 0, 0, 0]
        self.last_cleanup = [0, 0, 0, 0]

    # ------------------------------------------------------------------ pool

    def current_used(self) -> int:
        return self.next_entry_idx - self.free_num

    def free_entries(self) -> int:
        return self.pool_size - self.current_used()

    def new_entry(self) -> int | None:
        """An entry id, or None where the C++ `always_assert(next_entry_idx < pool_size)` fails."""
        if self.free_num > 0:
            self.free_num -= 1
            return self.free_list.pop()
        if self.next_entry_idx >= self.pool_size:
            return None
        eid = self.next_entry_idx
        self.next_entry_idx += 1
        return eid

    def _free(self, eid: int) -> None:
        e = self.entries.pop(eid)
        chain = self.by_addr[e.addr]
        chain.remove(eid)
        if not chain:
            del self.by_addr[e.addr]
        self.free_list.append(eid)
        self.free_num += 1

    # ------------------------------------------------------------------ API

    def entry_valid(self, e: Entry) -> bool:
        return e.producer_local >= self.last_task_alives[e.producer_ring]

    def sync_validity(self, ring: int, la: int) -> None:
        self.last_task_alives[ring] = la

    def lookup(self, probe: ProbeTensor) -> list[tuple[int, int]]:
        """The (entry id, overlap) pairs `lookup` hands its callback, newest first (the walk latches
        `next` before each callback, so removing the current entry is safe; callers iterate this list)."""
        out: list[tuple[int, int]] = []
        for eid in self.by_addr.get(probe.addr, ()):
            e = self.entries[eid]
            if not self.entry_valid(e):
                continue
            status = check_overlap(e, probe)
            if status != NO_OVERLAP:
                out.append((eid, status))
        return out

    def still_linked(self, eid: int) -> bool:
        return eid in self.entries

    def insert(self, probe: ProbeTensor, ring: int, local: int) -> bool:
        """insert(tensor, producer); False where `new_entry` would fail its always_assert."""
        eid = self.new_entry()
        if eid is None:
            return False
        s = probe.spec
        self.entries[eid] = Entry(
            probe.addr,
            ring,
            local,
            s.start_offset,
            s.version,
            s.ndims,
            s.dtype,
            s.elem_size,
            s.shapes,
            s.strides,
            s.is_contiguous,
            s.extent,
        )
        self.by_addr.setdefault(probe.addr, []).insert(0, eid)
        slot = local & (self.windows[ring] - 1)
        self.task_chains.setdefault((ring, slot), []).insert(0, eid)
        return True

    def remove_entry(self, eid: int) -> None:
        e = self.entries[eid]
        slot = e.producer_local & (self.windows[e.producer_ring] - 1)
        self.task_chains[(e.producer_ring, slot)].remove(eid)
        self._free(eid)

    def cleanup_retired(self, ring: int, old: int, new: int) -> int:
        """Free the entries of retired ids [old, new) on `ring`; returns how many were freed."""
        freed = 0
        for local in range(old, new):
            slot = local & (self.windows[ring] - 1)
            chain = self.task_chains.get((ring, slot))
            if not chain:
                continue
            for eid in tuple(chain):
                e = self.entries[eid]
                if self.cleanup_whole_chain or (e.producer_ring == ring and e.producer_local == local):
                    chain.remove(eid)
                    self._free(eid)
                    freed += 1
        return freed

    def sync_tensormap(self, ring: int, local: int, la: int, interval: int) -> None:
        """PTO2TensorMap::sync_tensormap(task_id, sm_last_task_alive)."""
        self.sync_validity(ring, la)
        mask = self.windows[ring] - 1
        overlap = (local & mask) == (self.last_cleanup[ring] & mask)
        if la - self.last_cleanup[ring] >= interval or overlap:
            self.cleanup_retired(ring, self.last_cleanup[ring], la)
            self.last_cleanup[ring] = la

    def reclaim_retired_all(self, alive: tuple[int, int, int, int]) -> int:
        total = 0
        for r in range(K.NUM_RINGS):
            a = alive[r]
            self.sync_validity(r, a)
            if a > self.last_cleanup[r]:
                self.cleanup_retired(r, self.last_cleanup[r], a)
                self.last_cleanup[r] = a
            total += a
        return total

    # ------------------------------------------------------------------ state

    def fingerprint(self) -> Hashable:
        # Entry ids are included: the orchestrator may hold them across steps (a lookup's matches).
        chains = tuple(
            (addr, tuple((eid, self.entries[eid].key()) for eid in ids)) for addr, ids in sorted(self.by_addr.items())
        )
        return (
            chains,
            tuple((k, tuple(v)) for k, v in sorted(self.task_chains.items()) if v),
            tuple(self.free_list),
            self.next_entry_idx,
            tuple(self.last_task_alives),
            tuple(self.last_cleanup),
        )

    def live_entries(self) -> list[tuple[int, int, int]]:
        """(address, producer ring, producer local) of every linked entry, by address then newest first."""
        out = []
        for addr, ids in sorted(self.by_addr.items()):
            for eid in ids:
                e = self.entries[eid]
                out.append((addr, e.producer_ring, e.producer_local))
        return out
