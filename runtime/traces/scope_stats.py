"""Reader of ``scope_stats/scope_stats.jsonl`` (``--enable-scope-stats``, schema version 6).

Format: shared/spec/trace-formats.md §3 (writer: ``scope_stats_collector.cpp`` ``write_jsonl``; samples
taken by ``begin_scope`` / ``end_scope`` in ``pto_orchestrator.cpp``). Line 1 is a header, then one line
per scope boundary in orchestrator program order. For the sample's own ring, ``task_window_start`` is the
shared watermark ``last_task_alive`` (acquire load) and ``task_window_end`` the allocator's next local id;
an ``end`` sample is taken *before* the scope releases its tasks.

A line that is not JSON, or a field of the wrong type, is a TraceError naming ``file:line``; an unknown
schema version is a TraceError. A header that admits dropped records, or fewer sample lines than the header
announces (a truncated file), is a warning: the samples present are still read.

Depends only on :mod:`model.errors`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from model.errors import TraceError
from runtime.traces.common import JsonReader, TraceWarning, read_text

__all__ = ["SCOPE_STATS_VERSION", "ScopeSample", "ScopeStats", "parse_scope_stats", "read_scope_stats"]

SCOPE_STATS_VERSION = 6
NUM_RINGS = 4
ROOT_SITE = "(unknown):0"  # the executor's root scope (depth 0)
_HINT = "regenerate it with --enable-scope-stats; a file the collector wrote completely is never like this"


class ScopeSample(NamedTuple):
    line: int  # 1-based line number in the file
    site: str
    phase: str  # "begin" | "end"
    depth: int
    ring: int
    task_window_start: int  # the ring's watermark (last_task_alive) at the sample
    task_window_end: int  # the ring's next local id (tasks allocated so far)
    heap_start: int
    heap_end: int
    dep_pool_start: int
    dep_pool_end: int
    tensormap: int


@dataclass(frozen=True)
class ScopeStats:
    source: str
    version: int
    fatal: bool
    dropped: int
    total: int
    task_window_max: tuple[int, ...]
    heap_max: tuple[int, ...]
    dep_pool_max: tuple[int, ...]
    tensormap_max: int
    samples: tuple[ScopeSample, ...]
    warnings: tuple[TraceWarning, ...]


def _line_json(text: str, source: str, lineno: int) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceError(
            f"not valid JSON: {exc.msg}",
            f"{source}:{lineno} column {exc.colno}",
            "the line is cut or corrupt (e.g. the run aborted while writing it); " + _HINT,
        ) from None


def _per_ring(r: JsonReader, header: dict[str, object], key: str) -> tuple[int, ...]:
    values = r.int_list(header, key, "line 1", minimum=0)
    if len(values) != NUM_RINGS:
        raise r.fail(f"line 1.{key}", f"expected {NUM_RINGS} per-ring values, got {len(values)}")
    return values


_INT_FIELDS = ("depth", "ring", "task_window_start", "task_window_end", "heap_start", "heap_end")
_ANY_INT_FIELDS = ("dep_pool_start", "dep_pool_end")


def _all_records(lines: list[str]) -> list[object] | None:
    """Every sample line parsed in one go (None if that fails: the per-line path then names the line)."""
    try:
        records = json.loads("[" + ",".join(lines) + "]")
    except json.JSONDecodeError:
        return None
    return records if isinstance(records, list) and len(records) == len(lines) else None


def _fast_sample(rec: object, lineno: int) -> ScopeSample | None:
    """The sample if every field is well-formed, else None (the strict path then says what is wrong)."""
    if type(rec) is not dict:
        return None
    try:
        site, phase, tensormap = rec["site"], rec["phase"], rec["tensormap"]
        ints = [rec[k] for k in _INT_FIELDS]
        pool = [rec[k] for k in _ANY_INT_FIELDS]
    except KeyError:
        return None
    if type(site) is not str or phase not in ("begin", "end") or type(tensormap) is not int or tensormap < 0:
        return None
    if any(type(v) is not int or v < 0 for v in ints) or any(type(v) is not int for v in pool) or ints[1] >= NUM_RINGS:
        return None
    return ScopeSample(lineno, site, phase, ints[0], ints[1], ints[2], ints[3], ints[4], ints[5], pool[0], pool[1], tensormap)


def parse_scope_stats(text: str, source: str = "<scope_stats.jsonl>") -> ScopeStats:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise TraceError("the file is empty (no header line)", source, _HINT)
    r = JsonReader(source, _HINT)
    header = r.obj(_line_json(lines[0], source, 1), "line 1")
    version = r.int_(header, "version", "line 1")
    if version != SCOPE_STATS_VERSION:
        raise r.fail(
            "line 1.version",
            f"unknown schema version {version} (this reader knows version {SCOPE_STATS_VERSION})",
            "this reader follows scope_stats @ simpler 6ebaf7715; a newer runtime may need a reader update",
        )
    fatal = r.bool_(header, "fatal", "line 1")
    dropped = r.int_(header, "dropped", "line 1", minimum=0)
    total = r.int_(header, "total", "line 1", minimum=0)
    windows = _per_ring(r, header, "task_window_max")
    heaps = _per_ring(r, header, "heap_max")
    pools = _per_ring(r, header, "dep_pool_max")
    tensormap_max = r.int_(header, "tensormap_max", "line 1", minimum=0)
    samples: list[ScopeSample] = []
    records = _all_records(lines[1:])
    for offset, text_line in enumerate(lines[1:]):
        lineno = offset + 2
        fast = _fast_sample(records[offset], lineno) if records is not None else None
        if fast is not None:
            samples.append(fast)
            continue
        where = f"line {lineno}"
        rec = r.obj(_line_json(text_line, source, lineno), where)
        phase = r.str_(rec, "phase", where)
        if phase not in ("begin", "end"):
            raise r.fail(f"{where}.phase", f"unknown phase {phase!r} (known: begin, end)")
        ring = r.int_(rec, "ring", where, minimum=0)
        if ring >= NUM_RINGS:
            raise r.fail(f"{where}.ring", f"ring {ring} is not below {NUM_RINGS}")
        samples.append(
            ScopeSample(
                lineno,
                r.str_(rec, "site", where),
                phase,
                r.int_(rec, "depth", where, minimum=0),
                ring,
                r.int_(rec, "task_window_start", where, minimum=0),
                r.int_(rec, "task_window_end", where, minimum=0),
                r.int_(rec, "heap_start", where, minimum=0),
                r.int_(rec, "heap_end", where, minimum=0),
                r.int_(rec, "dep_pool_start", where),
                r.int_(rec, "dep_pool_end", where),
                r.int_(rec, "tensormap", where, minimum=0),
            )
        )
    warnings: list[TraceWarning] = []
    if dropped:
        warnings.append(TraceWarning(f"the collector dropped {dropped} sample(s): scope boundaries are missing", f"{source}:1"))
    if len(samples) != total - dropped:
        warnings.append(
            TraceWarning(
                f"the header announces {total - dropped} sample(s) (total={total}, dropped={dropped}) but the file "
                f"has {len(samples)}: it is truncated or was edited",
                f"{source}:1",
            )
        )
    if fatal:
        warnings.append(TraceWarning("the run latched a fatal error: it did not run to completion", f"{source}:1"))
    return ScopeStats(
        source=source,
        version=version,
        fatal=fatal,
        dropped=dropped,
        total=total,
        task_window_max=windows,
        heap_max=heaps,
        dep_pool_max=pools,
        tensormap_max=tensormap_max,
        samples=tuple(samples),
        warnings=tuple(warnings),
    )


def read_scope_stats(path: Path) -> ScopeStats:
    return parse_scope_stats(read_text(path, _HINT), str(path))
