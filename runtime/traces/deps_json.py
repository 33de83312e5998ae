"""Reader of dep_gen's ``deps.json`` (the task graph the real PTO2 runtime writes with ``--enable-dep-gen``).

Format: shared/spec/trace-formats.md §1 (reconstruction: §6). One JSON object
``{"tasks": [...], "tensors": [...], "edges": [...]}``; every uint64 (task ids, tensor ids, buffer
addresses, offsets, numels) is a decimal *string*, every other number a JSON integer.

The reader is strict: each problem in the input is one :class:`~model.errors.TraceError` that names the
file and the JSON location (``deps.json: tasks[3].args[1].type``) and says what to do. Nothing else is
raised for bad input.

Forward compatibility: keys this reader does not know (at any level) are ignored, so a newer runtime
that adds fields still reads; a known key with a wrong type or an unknown enumerated value
(arg ``type``, edge ``source``/``flags``/``overlap``) is an error, because silently misreading the
graph is worse than stopping.

``alloc_tensors`` tasks are not listed in ``tasks[]`` but appear as ``pred`` of edges
(:attr:`DepsGraph.hidden_alloc_ids`); only preds may be such hidden ids, a ``succ`` must be in ``tasks[]``.

This module depends on nothing in the project except :mod:`model.errors`.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from model.errors import TraceError
from runtime.traces.common import JsonReader, describe_json, join

__all__ = [
    "ARG_TYPES",
    "EDGE_FLAGS",
    "EDGE_SOURCES",
    "OVERLAP_KINDS",
    "ArgType",
    "DepsArg",
    "DepsEdge",
    "DepsGraph",
    "DepsTask",
    "DepsTensor",
    "EdgeFlag",
    "EdgeSource",
    "TaskId",
    "TaskShape",
    "parse_deps_json",
    "read_deps_json",
]

UINT64_MAX = (1 << 64) - 1

ArgType = Literal["INPUT", "OUTPUT", "INOUT", "OUTPUT_EXISTING", "NO_DEP"]
EdgeSource = Literal["explicit", "creator", "tensormap"]
EdgeFlag = Literal["wait", "retain"]
TaskShape = Literal["AIC", "AIV", "MIX", "DUMMY"]

ARG_TYPES: tuple[ArgType, ...] = ("INPUT", "OUTPUT", "INOUT", "OUTPUT_EXISTING", "NO_DEP")
EDGE_SOURCES: tuple[EdgeSource, ...] = ("explicit", "creator", "tensormap")
EDGE_FLAGS: tuple[EdgeFlag, ...] = ("wait", "retain")
OVERLAP_KINDS: tuple[str, ...] = ("covered", "other")

_REGEN_HINT = "regenerate deps.json with --enable-dep-gen; a file written by dep_gen is never like this"
_DECIMAL = re.compile(r"[0-9]+")


# --------------------------------------------------------------------------------------------- task ids


@dataclass(frozen=True, order=True)
class TaskId:
    """A PTO2 task id: ``raw = (ring << 32) | local`` (``PTO2TaskId::raw``)."""

    raw: int

    @staticmethod
    def of(ring: int, local: int) -> TaskId:
        return TaskId((ring << 32) | (local & 0xFFFFFFFF))

    @staticmethod
    def ring_of(raw: int) -> int:
        return (raw >> 32) & 0xFF

    @staticmethod
    def local_of(raw: int) -> int:
        return raw & 0xFFFFFFFF

    @staticmethod
    def format(raw: int) -> str:
        """``rXtY``; ``tY`` for ring 0, as the runtime's own tools print it (spec §0)."""
        ring, local = TaskId.ring_of(raw), TaskId.local_of(raw)
        return f"r{ring}t{local}" if ring else f"t{local}"

    @staticmethod
    def sort_key(raw: int) -> tuple[int, int, int]:
        """Deterministic node order: by (ring, local), then raw (tie-break on unused high bits)."""
        return (TaskId.ring_of(raw), TaskId.local_of(raw), raw)

    @property
    def ring(self) -> int:
        return TaskId.ring_of(self.raw)

    @property
    def local(self) -> int:
        return TaskId.local_of(self.raw)

    def fmt(self) -> str:
        return TaskId.format(self.raw)

    def __str__(self) -> str:
        return self.fmt()


# ------------------------------------------------------------------------------------------ data model


@dataclass(frozen=True)
class DepsArg:
    """One tensor argument slot of a task (scalars are not listed). Plain ``OUTPUT`` slots carry only
    ``idx`` and ``tag`` (the runtime allocates the tensor for the task; no id yet): for them
    ``tensor_id``/``dtype`` are None, ``shape``/``strides`` empty and ``start_offset`` 0."""

    idx: int
    tag: ArgType
    tensor_id: int | None = None
    dtype: str | None = None
    shape: tuple[int, ...] = ()
    start_offset: int = 0
    strides: tuple[int, ...] = ()


@dataclass(frozen=True)
class DepsTask:
    """One captured submit (``submit_task``/``submit_dummy_task``)."""

    task_id: int
    manual_scope: bool
    early_dispatch: bool
    kernel_ids: tuple[int, int, int]
    block_num: int
    args: tuple[DepsArg, ...]

    @property
    def ring(self) -> int:
        return TaskId.ring_of(self.task_id)

    @property
    def local(self) -> int:
        return TaskId.local_of(self.task_id)

    @property
    def tid(self) -> TaskId:
        return TaskId(self.task_id)

    @property
    def shape(self) -> TaskShape:
        """From ``kernel_ids = [aic, aiv0, aiv1]``: all -1 -> DUMMY, >= 2 used -> MIX, aic used -> AIC, else AIV."""
        used = sum(1 for k in self.kernel_ids if k >= 0)
        if used == 0:
            return "DUMMY"
        if used >= 2:
            return "MIX"
        if self.kernel_ids[0] >= 0:
            return "AIC"
        return "AIV"


@dataclass(frozen=True)
class DepsTensor:
    """One distinct ``(buffer_addr, version)``; ``tensor_id`` is its FNV-1a 64 hash."""

    tensor_id: int
    buffer_addr: int
    version: int
    dtype: str
    buffer_numel: int


@dataclass(frozen=True)
class DepsEdge:
    """One annotated producer -> consumer row (a ``(pred, succ)`` pair may repeat).

    ``arg`` is the consumer arg slot (-1 for explicit edges). ``tensor_id`` and the ``consumer_*``
    geometry are present on non-explicit edges, ``overlap`` and ``producer_*`` on tensormap edges;
    absent fields are None.
    """

    pred: int
    succ: int
    arg: int
    source: EdgeSource
    flags: frozenset[EdgeFlag]
    overlap: str | None = None
    tensor_id: int | None = None
    consumer_dtype: str | None = None
    consumer_shape: tuple[int, ...] | None = None
    consumer_start_offset: int | None = None
    consumer_strides: tuple[int, ...] | None = None
    producer_shape: tuple[int, ...] | None = None
    producer_start_offset: int | None = None
    producer_strides: tuple[int, ...] | None = None


@dataclass(frozen=True)
class DepsGraph:
    """A parsed deps.json. ``tasks`` in file order (= submit order), ``tensors`` by id, ``edges`` in
    file order. Derived views are computed on first use."""

    source: str
    tasks: tuple[DepsTask, ...]
    tensors: Mapping[int, DepsTensor]
    edges: tuple[DepsEdge, ...]

    @cached_property
    def task_by_id(self) -> Mapping[int, DepsTask]:
        return types.MappingProxyType({t.task_id: t for t in self.tasks})

    @cached_property
    def hidden_alloc_ids(self) -> tuple[int, ...]:
        """Ids that appear in edges but not in ``tasks[]`` (the ``alloc_tensors`` tasks), by (ring, local).
        Validation guarantees they only ever appear as ``pred``."""
        known = self.task_by_id
        hidden = {e.pred for e in self.edges if e.pred not in known}
        return tuple(sorted(hidden, key=TaskId.sort_key))

    def nodes(self) -> tuple[int, ...]:
        """Every node id (tasks and hidden alloc tasks), ordered by (ring, local)."""
        return self._nodes

    @cached_property
    def _nodes(self) -> tuple[int, ...]:
        return tuple(sorted({*self.task_by_id, *self.hidden_alloc_ids}, key=TaskId.sort_key))

    def is_hidden(self, raw: int) -> bool:
        """True for an id that is only known from edges (an alloc_tensors task)."""
        return raw in self._hidden_set

    @cached_property
    def _hidden_set(self) -> frozenset[int]:
        return frozenset(self.hidden_alloc_ids)

    def unique_edges(self) -> dict[tuple[int, int], frozenset[EdgeFlag]]:
        """``(pred, succ)`` -> OR of the flags of all its rows, sorted by (pred, succ) in node order.
        A fresh dict each call (callers may mutate it)."""
        return dict(self._unique)

    @cached_property
    def _unique(self) -> Mapping[tuple[int, int], frozenset[EdgeFlag]]:
        acc: dict[tuple[int, int], frozenset[EdgeFlag]] = {}
        for e in self.edges:
            key = (e.pred, e.succ)
            acc[key] = acc.get(key, frozenset()) | e.flags
        ordered = sorted(acc, key=lambda k: (TaskId.sort_key(k[0]), TaskId.sort_key(k[1])))
        return types.MappingProxyType({k: acc[k] for k in ordered})

    def fanin(self, succ: int, flag: EdgeFlag | None = None) -> tuple[int, ...]:
        """Distinct preds of ``succ`` (only those whose OR-ed flags include ``flag``, if given), node order."""
        return tuple(p for p, fl in self._preds.get(succ, ()) if flag is None or flag in fl)

    def fanout(self, pred: int, flag: EdgeFlag | None = None) -> tuple[int, ...]:
        """Distinct succs of ``pred`` (only those whose OR-ed flags include ``flag``, if given), node order."""
        return tuple(s for s, fl in self._succs.get(pred, ()) if flag is None or flag in fl)

    @cached_property
    def _preds(self) -> Mapping[int, tuple[tuple[int, frozenset[EdgeFlag]], ...]]:
        acc: dict[int, list[tuple[int, frozenset[EdgeFlag]]]] = {}
        for (p, s), fl in self._unique.items():
            acc.setdefault(s, []).append((p, fl))
        return {k: tuple(v) for k, v in acc.items()}

    @cached_property
    def _succs(self) -> Mapping[int, tuple[tuple[int, frozenset[EdgeFlag]], ...]]:
        acc: dict[int, list[tuple[int, frozenset[EdgeFlag]]]] = {}
        for (p, s), fl in self._unique.items():
            acc.setdefault(p, []).append((s, fl))
        return {k: tuple(v) for k, v in acc.items()}


# ---------------------------------------------------------------------------------------------- parser


class _Reader(JsonReader):
    """The shared validating accessors, plus dep_gen's enums and decimal-string uint64s."""

    def __init__(self, source: str) -> None:
        super().__init__(source, _REGEN_HINT)

    def enum(self, obj: dict[str, object], key: str, path: str, allowed: tuple[str, ...]) -> str:
        value = self.str_(obj, key, path)
        if value not in allowed:
            raise self.fail(
                join(path, key),
                f"unknown value {value!r} (known: {', '.join(allowed)})",
                "this reader follows dep_gen @ simpler 6ebaf7715; a newer runtime may need a reader update",
            )
        return value

    def u64(self, obj: dict[str, object], key: str, path: str) -> int:
        value = self.key(obj, key, path)
        where = join(path, key)
        if not isinstance(value, str):
            raise self.fail(
                where,
                f"expected a uint64 as a decimal string, got {describe_json(value)}",
                'dep_gen writes every uint64 as a JSON string, e.g. "8589934592"; ' + _REGEN_HINT,
            )
        if not _DECIMAL.fullmatch(value):
            raise self.fail(where, f"{value!r} is not a decimal uint64 (digits 0-9 only)")
        number = int(value)
        if number > UINT64_MAX:
            raise self.fail(where, f"{value} is out of the uint64 range (max {UINT64_MAX})")
        return number


def _parse_tensor(r: _Reader, raw: object, path: str) -> DepsTensor:
    obj = r.obj(raw, path)
    return DepsTensor(
        tensor_id=r.u64(obj, "tensor_id", path),
        buffer_addr=r.u64(obj, "buffer_addr", path),
        version=r.int_(obj, "version", path, minimum=0),
        dtype=r.str_(obj, "dtype", path),
        buffer_numel=r.u64(obj, "buffer_numel", path),
    )


def _parse_arg(r: _Reader, raw: object, path: str, tensors: Mapping[int, DepsTensor]) -> DepsArg:
    obj = r.obj(raw, path)
    idx = r.int_(obj, "idx", path, minimum=0)
    tag: ArgType = r.enum(obj, "type", path, ARG_TYPES)  # type: ignore[assignment]
    if tag == "OUTPUT":
        return DepsArg(idx=idx, tag=tag)
    tensor_id = r.u64(obj, "tensor_id", path)
    if tensor_id not in tensors:
        raise r.fail(
            join(path, "tensor_id"),
            f"tensor {tensor_id} is not in tensors[]",
            "dep_gen lists every tensor an arg names in tensors[]; the file is inconsistent, regenerate it",
        )
    return DepsArg(
        idx=idx,
        tag=tag,
        tensor_id=tensor_id,
        dtype=r.str_(obj, "dtype", path),
        shape=r.int_list(obj, "shape", path),
        start_offset=r.u64(obj, "start_offset", path),
        strides=r.int_list(obj, "strides", path),
    )


def _parse_task(r: _Reader, raw: object, path: str, tensors: Mapping[int, DepsTensor]) -> DepsTask:
    obj = r.obj(raw, path)
    task_id = r.u64(obj, "task_id", path)
    scope = r.enum(obj, "scope", path, ("auto", "manual"))
    early = r.bool_(obj, "early_dispatch", path)
    kids = r.int_list(obj, "kernel_ids", path)
    if len(kids) != 3:
        raise r.fail(join(path, "kernel_ids"), f"expected 3 kernel ids [aic, aiv0, aiv1], got {len(kids)}")
    for i, k in enumerate(kids):
        if k < -1:
            raise r.fail(f"{path}.kernel_ids[{i}]", f"kernel id {k} is below -1 (-1 = subslot unused)")
    block_num = r.int_(obj, "block_num", path, minimum=1)
    args_path = join(path, "args")
    args = tuple(
        _parse_arg(r, a, f"{args_path}[{i}]", tensors) for i, a in enumerate(r.list_(obj, "args", path))
    )
    return DepsTask(
        task_id=task_id,
        manual_scope=scope == "manual",
        early_dispatch=early,
        kernel_ids=(kids[0], kids[1], kids[2]),
        block_num=block_num,
        args=args,
    )


def _opt_int_list(r: _Reader, obj: dict[str, object], key: str, path: str) -> tuple[int, ...] | None:
    return r.int_list(obj, key, path) if key in obj else None


def _opt_u64(r: _Reader, obj: dict[str, object], key: str, path: str) -> int | None:
    return r.u64(obj, key, path) if key in obj else None


def _parse_edge(
    r: _Reader,
    raw: object,
    path: str,
    tasks: Mapping[int, DepsTask],
    tensors: Mapping[int, DepsTensor],
) -> DepsEdge:
    obj = r.obj(raw, path)
    pred = r.u64(obj, "pred", path)
    succ = r.u64(obj, "succ", path)
    if succ not in tasks:
        raise r.fail(
            join(path, "succ"),
            f"successor {TaskId.format(succ)} ({succ}) is not a task in tasks[]",
            "only a pred may be missing from tasks[], as alloc_tensors tasks are; the file is "
            "inconsistent or cut, regenerate it",
        )
    arg = r.int_(obj, "arg", path, minimum=-1)
    source: EdgeSource = r.enum(obj, "source", path, EDGE_SOURCES)  # type: ignore[assignment]
    flags_path = join(path, "flags")
    raw_flags = r.list_(obj, "flags", path)
    flags: set[EdgeFlag] = set()
    for i, f in enumerate(raw_flags):
        if not isinstance(f, str):
            raise r.wrong(f"{flags_path}[{i}]", "a string", f)
        if f not in EDGE_FLAGS:
            raise r.fail(
                f"{flags_path}[{i}]",
                f"unknown edge flag {f!r} (known: {', '.join(EDGE_FLAGS)})",
                "this reader follows dep_gen @ simpler 6ebaf7715; a newer runtime may need a reader update",
            )
        flags.add(f)
    overlap = r.enum(obj, "overlap", path, OVERLAP_KINDS) if "overlap" in obj else None
    tensor_id = _opt_u64(r, obj, "tensor_id", path)
    if tensor_id is not None and tensor_id not in tensors:
        raise r.fail(
            join(path, "tensor_id"),
            f"tensor {tensor_id} is not in tensors[]",
            "dep_gen lists every tensor an edge names in tensors[]; the file is inconsistent, regenerate it",
        )
    return DepsEdge(
        pred=pred,
        succ=succ,
        arg=arg,
        source=source,
        flags=frozenset(flags),
        overlap=overlap,
        tensor_id=tensor_id,
        consumer_dtype=r.str_(obj, "consumer_dtype", path) if "consumer_dtype" in obj else None,
        consumer_shape=_opt_int_list(r, obj, "consumer_shape", path),
        consumer_start_offset=_opt_u64(r, obj, "consumer_start_offset", path),
        consumer_strides=_opt_int_list(r, obj, "consumer_strides", path),
        producer_shape=_opt_int_list(r, obj, "producer_shape", path),
        producer_start_offset=_opt_u64(r, obj, "producer_start_offset", path),
        producer_strides=_opt_int_list(r, obj, "producer_strides", path),
    )


def parse_deps_json(text: str, source: str = "<deps.json>") -> DepsGraph:
    """Parse and validate the text of a deps.json; ``source`` names it in error messages.

    Unknown extra keys are ignored (forward compatibility); see the module docstring.
    Raises TraceError for every malformed input.
    """
    r = _Reader(source)
    try:
        doc: object = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceError(
            f"not valid JSON: {exc.msg}",
            f"{source}: line {exc.lineno} column {exc.colno}",
            "the file is truncated or corrupt, e.g. the run aborted while writing it; regenerate it with "
            "--enable-dep-gen",
        ) from None
    except RecursionError:
        raise r.fail("", "JSON nested too deeply to read", _REGEN_HINT) from None
    top = r.obj(doc, "")
    raw_tasks = r.list_(top, "tasks", "")
    raw_tensors = r.list_(top, "tensors", "")
    raw_edges = r.list_(top, "edges", "")

    tensors: dict[int, DepsTensor] = {}
    for i, raw in enumerate(raw_tensors):
        tensor = _parse_tensor(r, raw, f"tensors[{i}]")
        if tensor.tensor_id in tensors:
            raise r.fail(f"tensors[{i}].tensor_id", f"duplicate tensor id {tensor.tensor_id}")
        tensors[tensor.tensor_id] = tensor

    tasks: dict[int, DepsTask] = {}
    first_at: dict[int, int] = {}
    for i, raw in enumerate(raw_tasks):
        task = _parse_task(r, raw, f"tasks[{i}]", tensors)
        if task.task_id in tasks:
            raise r.fail(
                f"tasks[{i}].task_id",
                f"duplicate task id {task.tid} ({task.task_id}), first at tasks[{first_at[task.task_id]}]",
            )
        tasks[task.task_id] = task
        first_at[task.task_id] = i

    edges = tuple(_parse_edge(r, raw, f"edges[{i}]", tasks, tensors) for i, raw in enumerate(raw_edges))
    return DepsGraph(
        source=source,
        tasks=tuple(tasks.values()),
        tensors=types.MappingProxyType(tensors),
        edges=edges,
    )


def read_deps_json(path: Path) -> DepsGraph:
    """Read and parse a deps.json file; a missing/unreadable/non-UTF-8 file is a TraceError naming it."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise TraceError(
            f"cannot read deps.json: {exc.strerror or exc}",
            str(path),
            "pass the deps.json of a run made with --enable-dep-gen",
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TraceError(f"not UTF-8 text (bad byte at offset {exc.start})", str(path), _REGEN_HINT) from None
    return parse_deps_json(text, source=str(path))
