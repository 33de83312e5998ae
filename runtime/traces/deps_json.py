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
from typing import Literal, NamedTuple

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
_PLAIN_IDS = 1 << 40  # raw ids below this are (ring << 32) | local exactly

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
        return TaskId(TaskId.raw_of(ring, local))

    @staticmethod
    def raw_of(ring: int, local: int) -> int:
        """The raw id of (ring, local), without building a TaskId."""
        return (ring << 32) | (local & 0xFFFFFFFF)

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


class DepsArg(NamedTuple):
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


class DepsTask(NamedTuple):
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


class DepsTensor(NamedTuple):
    """One distinct ``(buffer_addr, version)``; ``tensor_id`` is its FNV-1a 64 hash."""

    tensor_id: int
    buffer_addr: int
    version: int
    dtype: str
    buffer_numel: int


class DepsEdge(NamedTuple):
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
        if all(p < _PLAIN_IDS and s < _PLAIN_IDS for p, s in acc):
            ordered = sorted(acc)  # no bits above the ring: raw order is (ring, local) order
        else:
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


# The fast path: each record is decoded by a plain function that accepts exactly what the strict
# `_parse_*` functions accept and builds the same record, or returns None at the first thing it does not
# like; the strict function then re-reads that record and names the problem (or, for a shape the fast
# path does not handle, builds it). Long traces spend their time here, so it avoids per-field calls.

_FLAG_SETS: dict[tuple[str, ...], frozenset[EdgeFlag]] = {
    (): frozenset(),
    ("wait",): frozenset({"wait"}),
    ("retain",): frozenset({"retain"}),
    ("wait", "retain"): frozenset({"wait", "retain"}),
    ("retain", "wait"): frozenset({"wait", "retain"}),
}
_ARG_TAGS = frozenset(ARG_TYPES)
_OUTPUT_ARGS: dict[int, DepsArg] = {}


def _u64_fast(value: object) -> int | None:
    if type(value) is not str or not value.isdigit() or not value.isascii():
        return None
    number = int(value)
    return number if number <= UINT64_MAX else None


def _ints_fast(value: object) -> tuple[int, ...] | None:
    if type(value) is not list:
        return None
    for v in value:
        if type(v) is not int:
            return None
    return tuple(value)


class _U64Memo(dict[object, int | None]):
    """JSON value -> its uint64 (None: not a decimal uint64 string); ids and offsets repeat a lot. An
    unhashable value (array, object) raises TypeError, which sends the record to the strict path."""

    def __missing__(self, key: object) -> int | None:
        value = None
        if type(key) is str and key.isdigit() and key.isascii():  # _u64_fast, inlined: every new id is a miss
            number = int(key)
            value = number if number <= UINT64_MAX else None
        self[key] = value
        return value


_new = tuple.__new__  # builds a record without the NamedTuple constructor's Python-level frame
_ABSENT = object()  # a key the record does not have
_BAD = object()  # a value the fast path does not accept


def _fast_tensor(raw: object, u64: _U64Memo) -> DepsTensor | None:
    if type(raw) is not dict:
        return None
    try:
        tid, addr, version, dtype, numel = (
            raw["tensor_id"], raw["buffer_addr"], raw["version"], raw["dtype"], raw["buffer_numel"]
        )
    except KeyError:
        return None
    tensor_id, buffer_addr, buffer_numel = u64[tid], u64[addr], u64[numel]
    if tensor_id is None or buffer_addr is None or buffer_numel is None:
        return None
    if type(version) is not int or version < 0 or type(dtype) is not str:
        return None
    return _new(DepsTensor, (tensor_id, buffer_addr, version, dtype, buffer_numel))


def _fast_args(raw_args: object, tensors: Mapping[int, DepsTensor], u64: _U64Memo) -> tuple[DepsArg, ...] | None:
    if type(raw_args) is not list:
        return None
    args: list[DepsArg] = []
    for raw in raw_args:
        if type(raw) is not dict:
            return None
        idx, tag = raw.get("idx"), raw.get("type")
        if type(idx) is not int or idx < 0 or type(tag) is not str or tag not in _ARG_TAGS:
            return None
        if tag == "OUTPUT":
            out = _OUTPUT_ARGS.get(idx)
            if out is None:
                out = _OUTPUT_ARGS[idx] = DepsArg(idx, "OUTPUT")  # immutable: one shared record per index
            args.append(out)
            continue
        try:
            tid, dtype, shape, offset, strides = (
                raw["tensor_id"], raw["dtype"], raw["shape"], raw["start_offset"], raw["strides"]
            )
        except KeyError:
            return None
        tensor_id, start_offset = u64[tid], u64[offset]
        if tensor_id is None or tensor_id not in tensors or start_offset is None or type(dtype) is not str:
            return None
        if type(shape) is not list or type(strides) is not list:
            return None
        for v in shape:
            if type(v) is not int:
                return None
        for v in strides:
            if type(v) is not int:
                return None
        args.append(_new(DepsArg, (idx, tag, tensor_id, dtype, tuple(shape), start_offset, tuple(strides))))
    return tuple(args)


def _fast_task(raw: object, tensors: Mapping[int, DepsTensor], u64: _U64Memo) -> DepsTask | None:
    if type(raw) is not dict:
        return None
    try:
        tid, scope, early, kids, block_num, raw_args = (
            raw["task_id"], raw["scope"], raw["early_dispatch"], raw["kernel_ids"], raw["block_num"], raw["args"]
        )
    except KeyError:
        return None
    task_id = u64[tid]
    if task_id is None or (scope != "auto" and scope != "manual") or type(early) is not bool:
        return None
    if type(kids) is not list or len(kids) != 3 or type(block_num) is not int or block_num < 1:
        return None
    k0, k1, k2 = kids
    if type(k0) is not int or type(k1) is not int or type(k2) is not int or min(k0, k1, k2) < -1:
        return None
    args = _fast_args(raw_args, tensors, u64)
    if args is None:
        return None
    return _new(DepsTask, (task_id, scope == "manual", early, (k0, k1, k2), block_num, args))


def _ints_opt(value: object) -> object:
    """An optional int-list key: absent (_ABSENT) -> None, an int list -> a tuple, anything else -> _BAD."""
    if value is _ABSENT:
        return None
    if type(value) is not list:
        return _BAD
    for v in value:
        if type(v) is not int:
            return _BAD
    return tuple(value)


def _u64_opt(value: object, u64: _U64Memo) -> object:
    """An optional uint64 key: absent -> None, a decimal uint64 string -> its value, else _BAD."""
    if value is _ABSENT:
        return None
    number = u64[value]
    return _BAD if number is None else number


def _fast_edge(
    raw: object, tasks: Mapping[int, DepsTask], tensors: Mapping[int, DepsTensor], u64: _U64Memo
) -> DepsEdge | None:
    if type(raw) is not dict:
        return None
    try:
        p, s, arg, source, raw_flags = raw["pred"], raw["succ"], raw["arg"], raw["source"], raw["flags"]
    except KeyError:
        return None
    pred, succ = u64[p], u64[s]
    if pred is None or succ is None or succ not in tasks or type(arg) is not int or arg < -1:
        return None
    if type(source) is not str or source not in EDGE_SOURCES or type(raw_flags) is not list:
        return None
    for f in raw_flags:
        if type(f) is not str:
            return None
    flags = _FLAG_SETS.get(tuple(raw_flags))
    if flags is None:
        return None
    get = raw.get
    overlap = get("overlap", _ABSENT)
    if overlap is _ABSENT:
        overlap = None
    elif type(overlap) is not str or overlap not in OVERLAP_KINDS:
        return None
    dtype = get("consumer_dtype", _ABSENT)
    if dtype is _ABSENT:
        dtype = None
    elif type(dtype) is not str:
        return None
    tensor_id = get("tensor_id", _ABSENT)
    if tensor_id is _ABSENT:
        tensor_id = None
    elif u64[tensor_id] not in tensors:  # None (not a uint64) is in no mapping either
        return None
    else:
        tensor_id = u64[tensor_id]
    if len(raw) == 5 + (overlap is not None) + (dtype is not None) + (tensor_id is not None):
        rest: tuple[object, ...] = (None, None, None, None, None, None)  # no geometry key (explicit rows)
    else:
        rest = (
            _ints_opt(get("consumer_shape", _ABSENT)),
            _u64_opt(get("consumer_start_offset", _ABSENT), u64),
            _ints_opt(get("consumer_strides", _ABSENT)),
            _ints_opt(get("producer_shape", _ABSENT)),
            _u64_opt(get("producer_start_offset", _ABSENT), u64),
            _ints_opt(get("producer_strides", _ABSENT)),
        )
        if _BAD in rest:
            return None
    return _new(DepsEdge, (pred, succ, arg, source, flags, overlap, tensor_id, dtype, *rest))


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

    u64 = _U64Memo()  # a TypeError out of a fast decoder (an unhashable value where an id belongs) -> strict
    tensors: dict[int, DepsTensor] = {}
    for i, raw in enumerate(raw_tensors):
        try:
            tensor = _fast_tensor(raw, u64)
        except TypeError:
            tensor = None
        tensor = tensor or _parse_tensor(r, raw, f"tensors[{i}]")
        if tensor.tensor_id in tensors:
            raise r.fail(f"tensors[{i}].tensor_id", f"duplicate tensor id {tensor.tensor_id}")
        tensors[tensor.tensor_id] = tensor

    tasks: dict[int, DepsTask] = {}
    for i, raw in enumerate(raw_tasks):
        try:
            task = _fast_task(raw, tensors, u64)
        except TypeError:
            task = None
        task = task or _parse_task(r, raw, f"tasks[{i}]", tensors)
        if task.task_id in tasks:
            first = next(j for j, t in enumerate(tasks) if t == task.task_id)
            raise r.fail(
                f"tasks[{i}].task_id",
                f"duplicate task id {task.tid} ({task.task_id}), first at tasks[{first}]",
            )
        tasks[task.task_id] = task

    edge_list: list[DepsEdge] = []
    for i, raw in enumerate(raw_edges):
        try:
            edge = _fast_edge(raw, tasks, tensors, u64)
        except TypeError:
            edge = None
        edge_list.append(edge or _parse_edge(r, raw, f"edges[{i}]", tasks, tensors))
    edges = tuple(edge_list)
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
