"""Footprint audit: do the ops' declared reads/writes cover what their steps actually touch?

Partial-order reduction (runtime/dfs.py) and the incremental step checks (properties/port_checks.py)
trust `Op.reads` / `Op.writes`. A step's effect is everything the thread does from the `yield` of its op
to the next `yield`, so the footprint must cover that whole stretch. This module runs the port with a
memory that records every cell read and written, and reports, per step:

* an undeclared write: a cell the step changed that its op's `writes` does not name;
* an undeclared read: a cell the step (or its guard) read that another thread writes somewhere in the
  run, named neither in `reads` nor in `writes` nor covered by a region cell the op declares
  (`TrbState.RG_SLOT` covers slot binding / descriptor / payload / fanin spill cells, `RG_NODES` the
  dep-list nodes; reads of cells only the reading thread ever writes need no declaration);
* a region writer that does not declare its region: a step that changed a region-covered cell without
  naming the region cell in `writes`;
* an undeclared guard read: a cell a guard read that another thread writes, outside the narrower
  `guard_reads` its op declares (the incremental runnable set of runtime/execution.py trusts it).

Thread-private bookkeeping outside `mem` (`TrbState.pmem`, the TensorMap, ghost history) is not audited
here: only one thread touches it. The audit is dynamic: it covers the paths the runs take.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from model.scenario import Scenario
from runtime.core import Executor, Memory
from runtime.trb.system import TrbSystem


class _TrackingCells(list):  # type: ignore[type-arg]
    """A memory cell list that records the integer indices read and written."""

    __slots__ = ("reads", "writes")

    def __init__(self) -> None:
        super().__init__()
        self.reads: set[int] | None = None
        self.writes: set[int] | None = None

    def __getitem__(self, i):  # type: ignore[no-untyped-def]
        if self.reads is not None and type(i) is int:
            self.reads.add(i if i >= 0 else i + len(self))
        return list.__getitem__(self, i)

    def __setitem__(self, i, v):  # type: ignore[no-untyped-def]
        if self.writes is not None and type(i) is int:
            self.writes.add(i if i >= 0 else i + len(self))
        list.__setitem__(self, i, v)


class AuditedTrb(TrbSystem):
    """TrbSystem whose memory records accesses (the audit's system)."""

    def _new_memory(self) -> Memory:
        mem = Memory()
        mem.cells = _TrackingCells()
        return mem


@dataclass(frozen=True)
class FootprintProblem:
    kind: str  # "undeclared-write", "undeclared-read", "region-not-declared", "undeclared-guard-read"
    thread: str
    op: str
    cells: tuple[str, ...]

    def text(self) -> str:
        return f"{self.kind}: {self.thread}: {self.op!r}: {', '.join(self.cells)}"


def region_cells(s: TrbSystem) -> dict[int, int]:
    """cell -> the region cell that covers it."""
    out: dict[int, int] = {}
    for g in range(len(s.slot_ring)):
        for base in (s.S_BOUND, s.D_RING, s.D_LOCAL, s.D_BASE, s.D_END, s.P_FANIN, s.P_SPILL_START,
                     s.P_SPILL_POOL, s.S_MASK, s.S_BLOCKS, s.S_TOTAL, s.S_RING):
            out[base + g] = s.RG_SLOT
        for i in range(s.IC):
            out[s.E_BASE + g * s.IC + i] = s.RG_SLOT
    for r, base in enumerate(s.SPILL):
        for i in range(s.sp_cells[r]):
            out[base + i] = s.RG_SLOT
    for n in range(s.n_nodes):
        out[s.N_CONS + n] = s.RG_NODES
        out[s.N_NEXT + n] = s.RG_NODES
    return out


def audit_run(
    scenario: Scenario,
    seed: int,
    mutants: Iterable[str] = (),
    max_steps: int = 20_000,
    system_type: type[TrbSystem] | None = None,
) -> list[FootprintProblem]:
    """Run one random schedule of `scenario` and report every footprint problem seen (deduplicated).
    `system_type` (a subclass of `AuditedTrb`) lets a test plant a wrong footprint."""
    system = (system_type or AuditedTrb)(scenario, mutants)
    cells = system.mem.cells
    assert isinstance(cells, _TrackingCells)
    names = system.mem.names
    region = region_cells(system)
    ex = Executor(system)
    rng = random.Random(seed)
    writers: dict[int, set[str]] = defaultdict(set)
    steps: list[tuple[str, str, tuple[int, ...], tuple[int, ...], frozenset[int], frozenset[int]]] = []
    problems: set[FootprintProblem] = set()
    # (thread, op, cells its guard read beyond the op's declared guard_reads)
    beyond_guard_reads: set[tuple[str, str, frozenset[int], tuple[int, ...]]] = set()
    while ex.steps < max_steps:
        guard_reads: dict[int, frozenset[int]] = {}
        for slot in ex.slots:
            op = slot.op
            if op is not None and op.guard is not None:
                cells.reads = set()
                op.guard()
                guard_reads[slot.tid] = frozenset(cells.reads)
                cells.reads = None
                if op.guard_reads is not None and not guard_reads[slot.tid] <= set(op.guard_reads):
                    beyond = guard_reads[slot.tid] - set(op.guard_reads)
                    beyond_guard_reads.add((slot.name, op.what, beyond, op.guard_reads))
        choices, fire = ex.choices()
        if not choices:
            break
        tid = choices[rng.randrange(len(choices))]
        slot = ex.slots[tid]
        op = slot.op
        assert op is not None
        before = list(cells)
        cells.reads, cells.writes = set(), set()
        ex.step(tid, fire)
        read, written = cells.reads, cells.writes
        cells.reads = cells.writes = None
        changed = {i for i, v in enumerate(before) if list.__getitem__(cells, i) != v}
        for i in changed | written:
            writers[i].add(slot.name)
        undeclared = sorted(changed - set(op.writes))
        if undeclared:
            problems.add(FootprintProblem("undeclared-write", slot.name, op.what, tuple(names[i] for i in undeclared)))
        missing_region = sorted({region[i] for i in changed if i in region} - set(op.writes))
        if missing_region:
            problems.add(
                FootprintProblem("region-not-declared", slot.name, op.what, tuple(names[i] for i in missing_region))
            )
        steps.append((slot.name, op.what, op.reads, op.writes, frozenset(read), guard_reads.get(tid, frozenset())))
    for thread, what, reads, writes, cells_read, guard in steps:
        declared = set(reads) | set(writes)
        missing = sorted(
            i
            for i in cells_read | guard
            if i not in declared
            and writers[i] - {thread}
            and not (i in region and region[i] in declared)
        )
        if missing:
            problems.add(FootprintProblem("undeclared-read", thread, what, tuple(names[i] for i in missing)))
    for thread, what, beyond, declared_guard in beyond_guard_reads:
        missing = sorted(
            i for i in beyond if writers[i] - {thread} and not (i in region and region[i] in declared_guard)
        )
        if missing:
            problems.add(FootprintProblem("undeclared-guard-read", thread, what, tuple(names[i] for i in missing)))
    return sorted(problems, key=lambda p: (p.kind, p.thread, p.op))


def audit(
    scenarios: Iterable[Scenario], seeds: Iterable[int], mutants: Iterable[str] = (), max_steps: int = 20_000
) -> list[FootprintProblem]:
    out: set[FootprintProblem] = set()
    seeds = tuple(seeds)
    for scenario in scenarios:
        for seed in seeds:
            out.update(audit_run(scenario, seed, mutants, max_steps))
    return sorted(out, key=lambda p: (p.kind, p.thread, p.op))


__all__ = ["AuditedTrb", "FootprintProblem", "audit", "audit_run", "region_cells"]
