"""The model's dependency derivation (`model.dependencies.derive_all_edges`, dep_gen replay semantics) in
time linear in the number of submits, for long real runs.

`derive_all_edges` hands every submit the whole TensorMap, which under replay semantics (nothing retires)
only grows: quadratic in the run's length. Only entries on a buffer one of the submit's arguments names can
overlap it (`ProgramInfo.overlap` is NO_OVERLAP across buffers) or be removed by it (removal needs a
COVERED overlap), so this calls the model's own `collect_edges` with exactly those entries, in their
TensorMap order, and puts back what it keeps: the same rows in the same order, as the runtime's hash
buckets keyed by buffer address do. tests/test_conformance.py compares both on every real trace.
"""

from __future__ import annotations

from collections import defaultdict

from model.dependencies import EdgeRow, Entry, collect_edges, registrations
from model.program import ProgramInfo
from model.scenario import Tag

__all__ = ["derive_all_edges_by_buffer"]


def derive_all_edges_by_buffer(info: ProgramInfo) -> list[EdgeRow]:
    live: dict[str, list[Entry]] = defaultdict(list)  # buffer -> its live entries, oldest first
    order: dict[Entry, int] = {}  # entry -> insertion number (the TensorMap's global order)
    out: list[EdgeRow] = []
    for task in info.tasks:
        if task.is_alloc:
            continue
        t = task.index
        buffers = sorted({b for ai in task.lookups if (b := task.args[ai].buffer) is not None})
        own = sorted((e for b in buffers for e in live[b]), key=order.__getitem__) if buffers else []
        rows, kept = collect_edges(info, t, tuple(own), lambda _p: True, lambda _p: True)
        out.extend(rows)
        if len(kept) != len(own):
            gone = set(own) - set(kept)
            for b in buffers:
                live[b] = [e for e in live[b] if e not in gone]
        for entry in registrations(info, t):
            buffer = info.tasks[entry[0]].args[entry[1]].buffer
            assert buffer is not None and info.tasks[entry[0]].args[entry[1]].tag is not Tag.OUTPUT
            order[entry] = len(order)
            live[buffer].append(entry)
    return out
