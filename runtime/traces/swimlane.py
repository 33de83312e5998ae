"""Reader of ``chip_swimlane_records.json`` (``--enable-chip-swimlane``): per-subtask timing, scheduler
phases and orchestrator submit windows, all in sys-counter cycles on one shared clock.

Format: shared/spec/trace-formats.md §2 (writer: ``chip_swimlane_collector.cpp`` ``export_swimlane_json``).
Levels: 1 = AICore rows only; 2 = + AICPU dispatch/finish rows; 3 = + scheduler phases; 4 = + orchestrator
submit records. A key the level promises but the file lacks is a warning (that part cannot be checked),
a key with a wrong shape is a :class:`~model.errors.TraceError` naming the JSON position.

:func:`join_executions` pairs each AICore row with its AICPU row on ``(core_id, reg_task_id)`` (never on
the task id: SPMD and MIX tasks repeat their id on one core), giving one :class:`Execution` per
dispatched subtask.

Depends only on :mod:`model.errors`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from model.errors import TraceError
from runtime.traces.common import JsonReader, TraceWarning, read_text

__all__ = [
    "CORE_TYPES",
    "AicoreRow",
    "AicpuRow",
    "Execution",
    "OrchRecord",
    "SchedPhase",
    "SwimlaneMetadata",
    "SwimlaneRecords",
    "join_executions",
    "parse_swimlane",
    "read_swimlane",
]

CORE_TYPES = ("aic", "aiv")
LEVELS = (1, 2, 3, 4)
# Scheduler phase kinds that name one task (the separate-lane per-task records).
TASK_PHASE_KINDS = ("dummy_task", "predicated_skip", "graph_prepare")
_HINT = "regenerate it with --enable-chip-swimlane; a file the collector wrote completely is never like this"


class AicoreRow(NamedTuple):
    """``[core_id, task_token_raw, reg_task_id, start_cycles, end_cycles, receive_to_start_cycles]``."""

    pos: int  # position in aicore_tasks[]
    core: int
    task_id: int
    reg_task_id: int
    start: int
    end: int
    receive_to_start: int


class AicpuRow(NamedTuple):
    """``[core_id, reg_task_id, dispatch_cycles, finish_cycles]``."""

    pos: int  # position in aicpu_tasks[]
    core: int
    reg_task_id: int
    dispatch: int
    finish: int


class SchedPhase(NamedTuple):
    thread: int
    pos: int  # position in aicpu_scheduler_phases[thread]
    kind: str
    start: int
    end: int
    task_id: int | None  # dummy_task / predicated_skip / graph_prepare only


class OrchRecord(NamedTuple):
    """One ``submit_task()`` / ``alloc_tensors()`` call: its whole [start, end] window."""

    lane: int
    pos: int  # position in aicpu_orchestrator_phases[lane]
    submit_idx: int
    task_id: int
    start: int
    end: int


class Execution(NamedTuple):
    """One dispatched subtask: an AICore row joined with its AICPU row (None below level 2)."""

    core: int
    reg_task_id: int
    task_id: int
    core_type: str
    dispatch: int | None  # AICPU: just before the DATA_MAIN_BASE write
    receive: int  # AICore: read the token from its register
    start: int
    end: int
    finish: int | None  # AICPU: observed the FIN (before any completion processing)
    aicore_index: int
    aicpu_index: int | None


@dataclass(frozen=True)
class SwimlaneMetadata:
    clock_freq_hz: int
    num_cores: int
    core_types: tuple[str, ...]
    core_to_thread: tuple[int, ...] | None  # level >= 3; -1 = no scheduler thread
    orchestrator_source: str | None  # "host" for host_build_graph runs; absent for device orchestration

    @property
    def aic_cores(self) -> int:
        return sum(1 for t in self.core_types if t == "aic")

    def cluster_of(self, core: int) -> int:
        """Cluster index of a core (cluster k = AIC k + AIV n_aic+2k, n_aic+2k+1; spec trace-formats §0)."""
        n_aic = self.aic_cores
        return core if core < n_aic else (core - n_aic) // 2


@dataclass(frozen=True)
class SwimlaneRecords:
    source: str
    level: int
    metadata: SwimlaneMetadata
    aicore: tuple[AicoreRow, ...]
    aicpu: tuple[AicpuRow, ...]
    sched_phases: tuple[SchedPhase, ...]  # all threads, thread-major, file order
    orch_records: tuple[OrchRecord, ...]  # all lanes, lane-major, file order
    has_aicpu: bool  # aicpu rows are expected (level >= 2)
    has_sched_phases: bool
    has_orch_records: bool
    warnings: tuple[TraceWarning, ...]

    @property
    def event_count(self) -> int:
        return len(self.aicore) + len(self.aicpu) + len(self.sched_phases) + len(self.orch_records)


def _well_formed(raw: list[Any], width: int, num_cores: int) -> bool:
    """Every row an array of `width` non-negative integers with an in-range core id. The fast check, all
    rows at once at C speed (bool is not int: ``type`` tells them apart); any doubt goes the strict way."""
    if not raw:
        return True
    if set(map(type, raw)) != {list} or set(map(len, raw)) != {width}:
        return False
    if set(map(type, chain.from_iterable(raw))) != {int}:
        return False
    return bool(min(map(min, raw)) >= 0 and max(map(itemgetter(0), raw)) < num_cores)


def _rows(r: JsonReader, doc: dict[str, object], key: str, width: int, num_cores: int) -> list[list[int]]:
    raw = r.list_(doc, key, "")
    if _well_formed(raw, width, num_cores):
        return raw  # type: ignore[return-value]
    for i, row in enumerate(raw):
        if type(row) is not list or len(row) != width or any(type(v) is not int or v < 0 for v in row):
            where = f"{key}[{i}]"
            if type(row) is not list:
                raise r.wrong(where, f"an array of {width} non-negative integers", row)
            if len(row) != width:
                raise r.fail(where, f"expected {width} columns, got {len(row)}")
            bad = next(j for j, v in enumerate(row) if type(v) is not int or v < 0)
            raise r.wrong(f"{where}[{bad}]", "a non-negative integer", row[bad])
        if row[0] >= num_cores:
            raise r.fail(f"{key}[{i}][0]", f"core_id {row[0]} is outside metadata.num_cores={num_cores}")
    return raw  # type: ignore[return-value]


def _metadata(r: JsonReader, doc: dict[str, object], warnings: list[TraceWarning]) -> SwimlaneMetadata:
    meta = r.obj(r.key(doc, "metadata", ""), "metadata")
    num_cores = r.int_(meta, "num_cores", "metadata", minimum=1)
    raw_types = r.list_(meta, "core_types", "metadata")
    types: list[str] = []
    for i, t in enumerate(raw_types):
        if t not in CORE_TYPES:
            raise r.fail(f"metadata.core_types[{i}]", f"unknown core type {t!r} (known: aic, aiv)")
        types.append(str(t))
    if len(types) != num_cores:
        raise r.fail("metadata.core_types", f"{len(types)} entries for num_cores={num_cores}")
    to_thread: tuple[int, ...] | None = None
    if "core_to_thread" in meta:
        to_thread = r.int_list(meta, "core_to_thread", "metadata", minimum=-1)
        if len(to_thread) != num_cores:
            raise r.fail("metadata.core_to_thread", f"{len(to_thread)} entries for num_cores={num_cores}")
    source = r.str_(meta, "orchestrator_source", "metadata") if "orchestrator_source" in meta else None
    capture = meta.get("host_capture")
    if isinstance(capture, dict) and capture.get("status") != "complete":
        warnings.append(
            TraceWarning(f"host capture status is {capture.get('status')!r}: host submit records are incomplete",
                         f"{r.source}: metadata.host_capture")
        )
    return SwimlaneMetadata(
        clock_freq_hz=r.int_(meta, "clock_freq_hz", "metadata", minimum=1),
        num_cores=num_cores,
        core_types=tuple(types),
        core_to_thread=to_thread,
        orchestrator_source=source,
    )


def _fast_record(raw: object, keys: tuple[str, ...]) -> list[int] | None:
    """The non-negative integer fields `keys` of a record, or None when anything is off (the caller then
    goes the slow way, which names the problem)."""
    if type(raw) is not dict:
        return None
    try:
        values = [raw[k] for k in keys]
    except KeyError:
        return None
    for v in values:
        if type(v) is not int or v < 0:
            return None
    return values


_PHASE_KEYS = ("start_cycles", "end_cycles")
_PHASE_TASK_KEYS = ("start_cycles", "end_cycles", "task_id")
_ORCH_KEYS = ("submit_idx", "task_id", "start_cycles", "end_cycles")


def _phases(r: JsonReader, doc: dict[str, object]) -> list[SchedPhase]:
    out: list[SchedPhase] = []
    for thread, lane in enumerate(r.list_(doc, "aicpu_scheduler_phases", "")):
        lane_path = f"aicpu_scheduler_phases[{thread}]"
        if not isinstance(lane, list):
            raise r.wrong(lane_path, "a JSON array (one per AICPU thread)", lane)
        for i, raw in enumerate(lane):
            kind = raw.get("kind") if type(raw) is dict else None
            if type(kind) is str:
                with_task = kind in TASK_PHASE_KINDS
                fast = _fast_record(raw, _PHASE_TASK_KEYS if with_task else _PHASE_KEYS)
                if fast is not None:
                    out.append(SchedPhase(thread, i, kind, fast[0], fast[1], fast[2] if with_task else None))
                    continue
            path = f"{lane_path}[{i}]"
            rec = r.obj(raw, path)
            kind = r.str_(rec, "kind", path)
            start = r.int_(rec, "start_cycles", path, minimum=0)
            end = r.int_(rec, "end_cycles", path, minimum=0)
            task_id = None
            if kind in TASK_PHASE_KINDS:
                task_id = r.int_(rec, "task_id", path, minimum=0)
            out.append(SchedPhase(thread, i, kind, start, end, task_id))
    return out


def _orch(r: JsonReader, doc: dict[str, object]) -> list[OrchRecord]:
    out: list[OrchRecord] = []
    for lane_no, lane in enumerate(r.list_(doc, "aicpu_orchestrator_phases", "")):
        lane_path = f"aicpu_orchestrator_phases[{lane_no}]"
        if not isinstance(lane, list):
            raise r.wrong(lane_path, "a JSON array (one per orchestrator thread)", lane)
        for i, raw in enumerate(lane):
            fast = _fast_record(raw, _ORCH_KEYS)
            if fast is not None:
                out.append(OrchRecord(lane_no, i, fast[0], fast[1], fast[2], fast[3]))
                continue
            path = f"{lane_path}[{i}]"
            rec = r.obj(raw, path)
            out.append(
                OrchRecord(
                    lane_no,
                    i,
                    r.int_(rec, "submit_idx", path, minimum=0),
                    r.int_(rec, "task_id", path, minimum=0),
                    r.int_(rec, "start_cycles", path, minimum=0),
                    r.int_(rec, "end_cycles", path, minimum=0),
                )
            )
    return out


def parse_swimlane(text: str, source: str = "<chip_swimlane_records.json>") -> SwimlaneRecords:
    """Parse and validate the text of a chip_swimlane_records.json; ``source`` names it in errors."""
    r = JsonReader(source, _HINT)
    try:
        raw: object = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceError(
            f"not valid JSON: {exc.msg}",
            f"{source}: line {exc.lineno} column {exc.colno}",
            "the file is truncated or corrupt (e.g. the run aborted while writing it); " + _HINT,
        ) from None
    doc = r.obj(raw, "")
    level = r.int_(doc, "chip_swimlane_level", "")
    if level not in LEVELS:
        raise r.fail(
            "chip_swimlane_level",
            f"unknown level {level} (known: 1-4)",
            "this reader follows the chip swimlane writer @ simpler 6ebaf7715; a newer runtime may need a reader update",
        )
    warnings: list[TraceWarning] = []
    meta = _metadata(r, doc, warnings)
    new = tuple.__new__  # the rows are validated: build them without the NamedTuple constructor's frame
    aicore = [new(AicoreRow, (i, *row)) for i, row in enumerate(_rows(r, doc, "aicore_tasks", 6, meta.num_cores))]
    has_aicpu = level >= 2
    aicpu: list[AicpuRow] = []
    if "aicpu_tasks" in doc:
        aicpu = [new(AicpuRow, (i, *row)) for i, row in enumerate(_rows(r, doc, "aicpu_tasks", 4, meta.num_cores))]
    elif has_aicpu:
        warnings.append(TraceWarning(f"level {level} file has no aicpu_tasks: dispatch/finish times unknown", source))
        has_aicpu = False
    has_phases = level >= 3 and "aicpu_scheduler_phases" in doc
    if level >= 3 and not has_phases:
        warnings.append(TraceWarning(f"level {level} file has no aicpu_scheduler_phases: dummy completions unknown", source))
    phases = _phases(r, doc) if has_phases else []
    has_orch = level >= 4 and "aicpu_orchestrator_phases" in doc
    if level >= 4 and not has_orch:
        if meta.orchestrator_source == "host":
            warnings.append(TraceWarning("host orchestration: no device submit records; submit times unknown", source))
        else:
            warnings.append(TraceWarning("level 4 file has no aicpu_orchestrator_phases: submit times unknown", source))
    orch = _orch(r, doc) if has_orch else []
    return SwimlaneRecords(
        source=source,
        level=level,
        metadata=meta,
        aicore=tuple(aicore),
        aicpu=tuple(aicpu),
        sched_phases=tuple(phases),
        orch_records=tuple(orch),
        has_aicpu=has_aicpu,
        has_sched_phases=has_phases,
        has_orch_records=has_orch,
        warnings=tuple(warnings),
    )


def read_swimlane(path: Path) -> SwimlaneRecords:
    return parse_swimlane(read_text(path, _HINT), str(path))


def join_executions(records: SwimlaneRecords) -> tuple[list[Execution], list[TraceWarning]]:
    """One Execution per AICore row, joined to its AICPU row on ``(core_id, reg_task_id)``.

    Below level 2 every Execution has ``dispatch = finish = None``. An AICore row without an AICPU row
    (or the reverse) is a lost record: a warning, and the row keeps ``None`` for the missing side.
    Duplicate ``(core_id, reg_task_id)`` keys are kept (the exactly-once check reports them); a duplicate
    AICPU key joins in file order.
    """
    warnings: list[TraceWarning] = []
    by_key: dict[tuple[int, int], list[AicpuRow]] = {}
    for row in records.aicpu:
        by_key.setdefault((row.core, row.reg_task_id), []).append(row)
    types = records.metadata.core_types
    out: list[Execution] = []
    unmatched = 0
    first_unmatched = ""
    for a in records.aicore:
        receive = a.start - a.receive_to_start
        cpu_rows = by_key.get((a.core, a.reg_task_id))
        cpu = cpu_rows.pop(0) if cpu_rows else None
        if cpu is None and records.has_aicpu:
            unmatched += 1
            first_unmatched = first_unmatched or f"aicore_tasks[{a.pos}]"
        out.append(
            Execution(
                a.core,
                a.reg_task_id,
                a.task_id,
                types[a.core],
                None if cpu is None else cpu.dispatch,
                receive,
                a.start,
                a.end,
                None if cpu is None else cpu.finish,
                a.pos,
                None if cpu is None else cpu.pos,
            )
        )
    if unmatched:
        warnings.append(
            TraceWarning(
                f"{unmatched} AICore row(s) have no AICPU row with the same (core_id, reg_task_id) "
                f"(first: {first_unmatched}); their dispatch/finish times are unknown",
                records.source,
            )
        )
    left = [row for rows in by_key.values() for row in rows]
    if left:
        left.sort(key=lambda row: row.pos)
        warnings.append(
            TraceWarning(
                f"{len(left)} AICPU row(s) have no AICore row (first: aicpu_tasks[{left[0].pos}]); "
                "those dispatches are not checked",
                records.source,
            )
        )
    return out, warnings

