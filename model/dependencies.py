"""Dependency derivation at submit: explicit deps, creator edges, TensorMap lookups (spec §2.2 O5-O7, §5).

One pure function, `collect_edges`, states which edges a submit derives from the TensorMap contents and
a validity predicate; the reference model calls it with the runtime's per-ring thresholds, and
`derive_all_edges` calls it with "every entry valid" (what dep_gen's host replay does) so the result
can be compared with a real `deps.json`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from model.overlap import Overlap
from model.program import RETAIN, WAIT, ProgramInfo
from model.scenario import Tag

Entry = tuple[int, int]  # (producer task index, producer argument index), registered at O7


@dataclass(frozen=True)
class EdgeRow:
    """One reason for an edge, as dep_gen annotates it."""

    pred: int
    succ: int
    source: str  # "explicit" | "creator" | "tensormap"
    flags: int
    arg: int  # consumer argument index, -1 for explicit
    overlap: Overlap | None = None


def collect_edges(
    info: ProgramInfo,
    t: int,
    tmap: tuple[Entry, ...],
    entry_valid: Callable[[int], bool],
    explicit_valid: Callable[[int], bool],
    same_address: Callable[[str | None, str | None], bool] | None = None,
) -> tuple[list[EdgeRow], tuple[Entry, ...]]:
    """The rows a submit of task `t` emits, in the runtime's order, and the TensorMap after its INOUT
    COVERED removals (registration of `t`'s own outputs is separate: O7 runs after all lookups).

    The runtime matches entries by buffer address: `same_address(b1, b2)` says whether two different
    buffers have the same address at this point of the run (a heap buffer that reuses a dead one's bytes);
    without it, different buffers never match (a run in which nothing is reclaimed, like dep_gen's replay)."""
    task = info.tasks[t]
    rows: list[EdgeRow] = [
        EdgeRow(dep, t, "explicit", flags, -1) for dep, flags in task.explicit_deps if explicit_valid(dep)
    ]
    if task.manual:
        return rows, tmap  # compute_task_fanin returns at once in a MANUAL scope (no creator edges either)
    live = list(tmap)
    lookups = set(task.lookups)
    for ai, arg in enumerate(task.args):
        if arg.tag is Tag.OUTPUT:
            continue
        if arg.owner >= 0:
            rows.append(EdgeRow(arg.owner, t, "creator", WAIT | RETAIN, ai))  # Step A
        if ai not in lookups:
            continue
        for entry in reversed(tuple(live)):  # Step B: newest entry first
            p, pa = entry
            if not entry_valid(p):
                continue  # stale entries are skipped, never truncated (INV-T3)
            registered = info.tasks[p].args[pa].buffer
            if registered == arg.buffer:
                ov = info.overlap(t, ai, p, pa)
            elif same_address is not None and same_address(arg.buffer, registered):
                ov = info.alias_overlap(t, ai, p, pa)
            else:
                continue
            if ov is Overlap.NO_OVERLAP:
                continue
            rows.append(EdgeRow(p, t, "tensormap", WAIT, ai, ov))
            if arg.tag is Tag.INOUT and ov is Overlap.COVERED:
                live.remove(entry)
    return rows, tuple(live)


def merge_rows(rows: list[EdgeRow]) -> list[tuple[int, int]]:
    """Deduplicate by producer, OR-ing the flags, in first-occurrence order (append_fanin_or_fail)."""
    merged: dict[int, int] = {}
    for row in rows:
        merged[row.pred] = merged.get(row.pred, 0) | row.flags
    return list(merged.items())


def registrations(info: ProgramInfo, t: int) -> tuple[Entry, ...]:
    return tuple((t, ai) for ai in info.tasks[t].registrations)


def derive_all_edges(info: ProgramInfo) -> list[EdgeRow]:
    """Every row of a sequential run in which no task ever retires (dep_gen's host replay semantics:
    no `last_task_alive`, no cleanup, no generation check)."""
    tmap: tuple[Entry, ...] = ()
    out: list[EdgeRow] = []
    for task in info.tasks:
        if task.is_alloc:
            continue
        rows, tmap = collect_edges(info, task.index, tmap, lambda _p: True, lambda _p: True)
        out.extend(rows)
        tmap = tmap + registrations(info, task.index)
    return out


def flag_names(flags: int) -> frozenset[str]:
    names = set()
    if flags & WAIT:
        names.add("wait")
    if flags & RETAIN:
        names.add("retain")
    return frozenset(names)
