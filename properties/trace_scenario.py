"""Rebuild a scenario from a real `deps.json` (dep_gen's record of every submit), so the model's dependency
derivation can be compared with what the real runtime recorded.

What deps.json gives, and how each part becomes a scenario:

* Tasks, in file (= submit) order, with kernel ids, block_num, early_dispatch and the `scope` flag; each
  becomes a `Submit` named `r{ring}t{local}`. Scalars are not recorded and not needed.
* Non-OUTPUT arguments carry a `tensor_id` -> `(buffer_addr, version, dtype, buffer_numel)` and the view
  (shape, start_offset, strides, dtype), all in elements. Buffers are keyed by `buffer_addr` (named
  `buf_<hex addr>`); a view becomes a `Region` with that offset/shape/strides/version (and its dtype when it
  differs from the buffer's).
* Rings: a task's ring is its scope depth clamped to 3, so the rebuilt program opens and closes scopes so
  that every task lands at depth = its recorded ring (3 for ring 3). Tasks recorded with `scope: "manual"`
  are put in MANUAL scopes (an AUTO scope is never opened inside a MANUAL one). deps.json does not record
  scope boundaries, so consecutive tasks at the same depth share one scope: ring/local ids, modes and
  derived edges are exact; scope *sizes* (and so scope-release timing) are an inference.
* Hidden `alloc_tensors` tasks appear only as edge `pred`s. Each becomes an `Alloc` on its ring, placed
  as late as possible: just before its first consumer, or before the next local id of its own ring, if
  that comes first. A local id that no task or edge names (an alloc whose outputs nobody reads) becomes a
  placeholder alloc, so local ids stay consecutive.

Creator (owner) edges -- an inference, checked rather than derived independently. deps.json does not say
which OUTPUT created a buffer (OUTPUT slots are recorded empty), so each buffer's owner is inferred from the
`creator` rows: a buffer read through a creator row from pred P is owned by P, and the rebuilt program makes
one of P's OUTPUT args (or one of the alloc's outputs) create it: P's owned buffers in address order fill
P's OUTPUT slots in order (outputs are packed in slot order); an address gap between two owned buffers is
taken as one never-read output of the gap's size, and remaining slots get 1024-byte placeholders. Created
buffers are 1-D `[buffer_numel]`, which is exactly the runtime's 1024-aligned buffer size, so overlap tests
see the same buffer extent. Buffers with no creator row are external (in MANUAL scopes, where no creator
rows exist, runtime-created buffers therefore also appear as external; edges are unaffected, heap
accounting is not reproduced). Because ownership comes from the creator rows, the derived creator edges are
only checked for consistency: every buffer has exactly one owner, the owner precedes every reader, the
owner has an OUTPUT slot for it, and every non-OUTPUT arg on an owned buffer in an AUTO scope has the owner
among its recorded preds (the replay suppresses a creator row whose pred was already seen for the task).
`TraceError` reports any violation.

Explicit rows become explicit deps of kind WAIT|RETAIN: dep_gen records no per-dep kind and writes every
explicit row as [wait, retain], so `add_dep_wait` cannot be told apart.

Not recorded, so assumed: `manual_dep` is false on every arg (a manual_dep arg would show up as derived
TensorMap rows the trace lacks), no `get_tensor_data` / `set_tensor_data`, `sync_start` false, and the
configuration is the given `config` (default: the runtime defaults).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from model.dependencies import EdgeRow, derive_all_edges, flag_names
from model.errors import TraceError
from model.overlap import Overlap
from model.program import ProgramInfo
from model.scenario import (
    DTYPE_BYTES,
    NUM_RINGS,
    Alloc,
    Arg,
    Buffer,
    Config,
    DepKind,
    ExplicitDep,
    Op,
    OutputSpec,
    Region,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    ScopeMode,
    Submit,
    Tag,
    validate,
)
from runtime.traces.deps_json import DepsArg, DepsGraph, DepsTask, TaskId

__all__ = [
    "RowKey",
    "buffer_name",
    "dep_gen_rows",
    "derivation_mismatches",
    "derived_unique_edges",
    "raw_task_ids",
    "row_multiset",
    "scenario_from_deps",
    "task_name",
    "trace_row_multiset",
]

PLACEHOLDER_BYTES = 1024  # PTO2_PACKED_OUTPUT_ALIGN: the smallest output a task can own
_TAGS = {tag.value: tag for tag in Tag}


def task_name(raw: int) -> str:
    """The rebuilt scenario's name for the task with raw id `raw`: `r{ring}t{local}`."""
    return f"r{(raw >> 32) & 0xFF}t{raw & 0xFFFFFFFF}"  # TaskId.ring_of / local_of, inlined: a hot path


def buffer_name(addr: int) -> str:
    return f"buf_{addr:x}"


@dataclass
class _BufInfo:
    addr: int
    dtype: str
    numel: int
    name: str  # buffer_name(addr)
    owner: int | None = None  # raw task id
    readers: list[tuple[int, int]] = field(default_factory=list)  # (raw succ, arg position)


def _fail(graph: DepsGraph, what: str, hint: str = "") -> TraceError:
    return TraceError(what, graph.source, hint or "the deps.json is inconsistent with the runtime's rules")


def _collect_buffers(graph: DepsGraph) -> dict[int, _BufInfo]:
    """Buffers by address, dtype/numel from the first argument (in submit order) that names them."""
    bufs: dict[int, _BufInfo] = {}
    for task in graph.tasks:
        for pos, arg in enumerate(task.args):
            if arg.tensor_id is None:
                continue
            tensor = graph.tensors[arg.tensor_id]
            info = bufs.get(tensor.buffer_addr)
            if info is None:
                info = _BufInfo(tensor.buffer_addr, tensor.dtype, tensor.buffer_numel, buffer_name(tensor.buffer_addr))
                bufs[tensor.buffer_addr] = info
            info.readers.append((task.task_id, pos))
    for info in bufs.values():
        if info.dtype not in DTYPE_BYTES:
            raise _fail(
                graph, f"buffer {info.addr:#x} has dtype {info.dtype!r}, which the model does not know"
            )
        if info.numel < 1:
            raise _fail(graph, f"buffer {info.addr:#x} has buffer_numel {info.numel}")
    return bufs


def _infer_owners(graph: DepsGraph, bufs: dict[int, _BufInfo]) -> None:
    for i, e in enumerate(graph.edges):
        if e.source != "creator":
            continue
        tid = e.tensor_id
        if tid is None:
            succ = graph.task_by_id[e.succ]
            args = [a for a in succ.args if a.idx == e.arg]
            if not args or args[0].tensor_id is None:
                raise _fail(graph, f"edges[{i}]: creator row names no tensor and arg {e.arg} has none")
            tid = args[0].tensor_id
        addr = graph.tensors[tid].buffer_addr
        info = bufs.get(addr)
        if info is None:
            raise _fail(graph, f"edges[{i}]: creator row on buffer {addr:#x}, which no task argument names")
        if info.owner is not None and info.owner != e.pred:
            raise _fail(
                graph,
                f"edges[{i}]: buffer {addr:#x} has two creators, {TaskId.format(info.owner)} and "
                f"{TaskId.format(e.pred)}",
                "dep_gen assumes unique buffer addresses; a wrapped heap that reused an address cannot be rebuilt",
            )
        info.owner = e.pred


def _order_tasks(graph: DepsGraph) -> tuple[list[int], set[int]]:
    """The submit order of every task id, hidden allocs and placeholder allocs included; and the set of
    ids that are allocs (hidden or placeholder)."""
    recorded = [t.task_id for t in graph.tasks]
    hidden = set(graph.hidden_alloc_ids)
    known_by_ring: dict[int, set[int]] = defaultdict(set)
    for raw in (*recorded, *hidden):
        known_by_ring[TaskId.ring_of(raw)].add(TaskId.local_of(raw))
    allocs = set(hidden)
    for ring, locals_ in known_by_ring.items():
        for local in range(max(locals_) + 1):
            if local not in locals_:
                allocs.add(TaskId.raw_of(ring, local))  # a never-referenced local id: an unread alloc
    pending: dict[int, list[int]] = defaultdict(list)  # ring -> alloc locals not yet placed, ascending
    for raw in sorted(allocs, key=TaskId.sort_key):
        pending[TaskId.ring_of(raw)].append(TaskId.local_of(raw))
    consumers: dict[int, set[int]] = defaultdict(set)  # succ -> hidden preds
    for e in graph.edges:
        if e.pred in hidden:
            consumers[e.succ].add(e.pred)
    order: list[int] = []

    placed: dict[int, int] = defaultdict(int)  # ring -> how many of pending[ring] are placed

    def place_ring_upto(ring: int, local: int) -> None:
        """Place ring `ring`'s pending allocs with local id <= `local`, in local order."""
        row, i = pending[ring], placed[ring]
        while i < len(row) and row[i] <= local:
            order.append(TaskId.raw_of(ring, row[i]))
            i += 1
        placed[ring] = i

    for raw in recorded:
        for pred in sorted(consumers.get(raw, ()), key=TaskId.sort_key):
            place_ring_upto(TaskId.ring_of(pred), TaskId.local_of(pred))
        place_ring_upto(TaskId.ring_of(raw), TaskId.local_of(raw) - 1)
        order.append(raw)
    for ring in sorted(pending):
        place_ring_upto(ring, 1 << 32)
    next_local = [0] * NUM_RINGS
    for raw in order:
        ring, local = TaskId.ring_of(raw), TaskId.local_of(raw)
        if ring >= NUM_RINGS or local != next_local[ring]:
            raise _fail(
                graph,
                f"task {TaskId.format(raw)} comes where ring {ring} expects local id "
                f"{next_local[ring] if ring < NUM_RINGS else '?'}",
                "submit order must allocate each ring's local ids consecutively",
            )
        next_local[ring] += 1
    return order, allocs


class _Scopes:
    """Opens and closes scopes so that each task is submitted at the depth of its ring, in the right mode."""

    def __init__(self, prog: list[Op]) -> None:
        self.prog = prog
        self.modes: list[ScopeMode] = []  # depth 1..len

    @property
    def manual(self) -> bool:
        return ScopeMode.MANUAL in self.modes

    def _push(self, mode: ScopeMode) -> None:
        self.modes.append(mode)
        self.prog.append(ScopeBegin(mode))

    def _pop(self) -> None:
        self.modes.pop()
        self.prog.append(ScopeEnd())

    def goto(self, ring: int, manual: bool) -> None:
        depth = len(self.modes)
        if ring == NUM_RINGS - 1 and depth >= ring and self.manual == manual:
            return  # every depth >= 3 is ring 3
        if not manual:
            while len(self.modes) > ring or self.manual:
                self._pop()
            while len(self.modes) < ring:
                self._push(ScopeMode.AUTO)
            return
        while len(self.modes) > ring:
            self._pop()
        if self.manual:
            while len(self.modes) < ring:
                self._push(ScopeMode.MANUAL)  # never AUTO inside MANUAL
            return
        while len(self.modes) > ring - 1:
            self._pop()
        while len(self.modes) < ring - 1:
            self._push(ScopeMode.AUTO)
        self._push(ScopeMode.MANUAL)

    def close_all(self) -> None:
        while self.modes:
            self._pop()


def _output_specs(graph: DepsGraph, owner: int, slots: int, owned: list[_BufInfo]) -> list[OutputSpec]:
    """OUTPUT specs for `slots` output slots of `owner`, creating its `owned` buffers in address order."""
    if not slots and not owned:
        return []
    name = task_name(owner)
    owned = sorted(owned, key=lambda b: b.addr)
    if len(owned) > slots:
        raise _fail(
            graph,
            f"task {TaskId.format(owner)} is the creator of {len(owned)} buffers but has {slots} OUTPUT slots",
        )
    specs: list[OutputSpec] = []
    spare = slots - len(owned)

    def placeholder(nbytes: int) -> OutputSpec:
        return OutputSpec(f"{name}_out{len(specs)}_unread", (nbytes,), "UINT8")

    for i, b in enumerate(owned):
        specs.append(OutputSpec(b.name, (b.numel,), b.dtype))
        if i + 1 < len(owned) and spare > 0:
            gap = owned[i + 1].addr - (b.addr + b.numel * DTYPE_BYTES[b.dtype])
            if gap > 0 and gap % PLACEHOLDER_BYTES == 0:
                specs.append(placeholder(gap))
                spare -= 1
    while spare > 0:
        specs.append(placeholder(PLACEHOLDER_BYTES))
        spare -= 1
    return specs


def _region(graph: DepsGraph, arg: DepsArg, bufs: dict[int, _BufInfo], raw: int, pos: int) -> Region:
    assert arg.tensor_id is not None
    tensor = graph.tensors[arg.tensor_id]
    buf = bufs[tensor.buffer_addr]
    if not arg.shape or min(arg.shape) < 1 or len(arg.strides) != len(arg.shape):
        raise _fail(
            graph,
            f"task {TaskId.format(raw)} args[{pos}]: view shape {list(arg.shape)} / strides {list(arg.strides)} "
            "cannot be modelled",
        )
    if arg.dtype is not None and arg.dtype not in DTYPE_BYTES:
        raise _fail(graph, f"task {TaskId.format(raw)} args[{pos}]: dtype {arg.dtype!r} is unknown to the model")
    return Region(
        buffer=buf.name,
        shape=arg.shape,
        strides=arg.strides,
        offset=arg.start_offset,
        version=tensor.version,
        dtype=arg.dtype if arg.dtype is not None and arg.dtype != buf.dtype else None,
    )


def _check_creators(graph: DepsGraph, bufs: dict[int, _BufInfo], position: dict[int, int]) -> None:
    preds: dict[int, set[int]] = defaultdict(set)
    for e in graph.edges:
        preds[e.succ].add(e.pred)
    for b in bufs.values():
        if b.owner is None:
            continue
        for succ, pos in b.readers:
            task = graph.task_by_id[succ]
            if position[b.owner] >= position[succ]:
                raise _fail(
                    graph,
                    f"buffer {b.addr:#x} is read by {TaskId.format(succ)} before its creator "
                    f"{TaskId.format(b.owner)} is submitted",
                )
            if not task.manual_scope and b.owner not in preds[succ]:
                raise _fail(
                    graph,
                    f"{TaskId.format(succ)} args[{pos}] uses buffer {b.addr:#x} created by {TaskId.format(b.owner)} "
                    "but has no edge from it",
                    "an AUTO-scope submit always gets a creator edge from the owner of each non-OUTPUT arg",
                )


def scenario_from_deps(graph: DepsGraph, name: str, *, config: Config | None = None) -> Scenario:
    """Rebuild the scenario whose submits, rings/local ids and explicit/creator/TensorMap inputs are those
    recorded in `graph` (see the module docstring for what is inferred and how it is checked)."""
    bufs = _collect_buffers(graph)
    _infer_owners(graph, bufs)
    order, allocs = _order_tasks(graph)
    position = {raw: i for i, raw in enumerate(order)}
    _check_creators(graph, bufs, position)
    owned_by: dict[int, list[_BufInfo]] = defaultdict(list)
    for b in bufs.values():
        if b.owner is not None:
            owned_by[b.owner].append(b)
    explicit: dict[int, list[int]] = defaultdict(list)
    for i, e in enumerate(graph.edges):
        if e.source == "explicit":
            if e.pred not in position:
                raise _fail(graph, f"edges[{i}]: explicit pred {TaskId.format(e.pred)} is no task")
            if position[e.pred] >= position[e.succ]:
                raise _fail(
                    graph, f"edges[{i}]: explicit pred {TaskId.format(e.pred)} comes after its successor"
                )
            if e.pred not in explicit[e.succ]:
                explicit[e.succ].append(e.pred)

    # Alloc tasks take the mode of the next recorded task on their ring (else the previous one).
    manual_of: dict[int, bool] = {t.task_id: t.manual_scope for t in graph.tasks}
    by_ring: dict[int, list[int]] = defaultdict(list)
    for raw in order:
        by_ring[TaskId.ring_of(raw)].append(raw)
    for row in by_ring.values():
        next_flag: list[bool | None] = [None] * len(row)  # the flag of the next recorded task at or after i
        flag: bool | None = None
        for i in range(len(row) - 1, -1, -1):
            flag = manual_of.get(row[i], flag)
            next_flag[i] = flag
        previous: bool | None = None
        for i, raw in enumerate(row):
            known = manual_of.get(raw)
            if known is not None:
                previous = known
                continue
            after = next_flag[i]
            manual_of[raw] = after if after is not None else (previous if previous is not None else False)

    prog: list[Op] = []
    scopes = _Scopes(prog)
    created_externals = {b.addr for b in bufs.values() if b.owner is None}
    for raw in order:
        ring = TaskId.ring_of(raw)
        manual = manual_of[raw]
        if manual and ring == 0:
            raise _fail(
                graph,
                f"task {TaskId.format(raw)} is on ring 0 in a MANUAL scope",
                "ring 0 is the executor's AUTO root scope; a MANUAL scope is at depth >= 1",
            )
        scopes.goto(ring, manual)
        if raw in allocs:
            owned = owned_by.get(raw, [])
            specs = _output_specs(graph, raw, max(1, len(owned)), owned)
            prog.append(Alloc(task_name(raw), tuple(specs)))
            continue
        task: DepsTask = graph.task_by_id[raw]
        n_out = sum(1 for a in task.args if a.tag == "OUTPUT")
        out_specs = iter(_output_specs(graph, raw, n_out, owned_by.get(raw, [])))
        args: list[Arg] = []
        for pos, a in enumerate(task.args):
            if a.tag == "OUTPUT":
                args.append(Arg(Tag.OUTPUT, creates=next(out_specs)))
            else:
                args.append(Arg(_TAGS[a.tag], _region(graph, a, bufs, raw, pos)))
        deps = tuple(ExplicitDep(task_name(p), DepKind.WAIT_RETAIN) for p in explicit.get(raw, ()))
        prog.append(
            Submit(
                task_name(raw),
                task.kernel_ids,
                tuple(args),
                deps=deps,
                block_num=task.block_num,
                early_resolve=task.early_dispatch,
            )
        )
    scopes.close_all()
    externals = tuple(
        Buffer(b.name, b.dtype, b.numel, external=True)
        for b in sorted(bufs.values(), key=lambda b: b.addr)
        if b.addr in created_externals
    )
    n_hidden = len(graph.hidden_alloc_ids)
    scenario = Scenario(
        name=name,
        config=config or Config(),
        buffers=externals,
        program=tuple(prog),
        description=(
            f"rebuilt from {graph.source}: {len(graph.tasks)} recorded tasks, {n_hidden} hidden allocs, "
            f"{len(allocs) - n_hidden} placeholder allocs; buffer owners inferred from the creator rows"
        ),
    )
    return validate(scenario)


# --------------------------------------------------------------------------------------------------
# Comparing the model's derivation with a deps.json
# --------------------------------------------------------------------------------------------------

_OVERLAP_NAMES = {o: o.name.lower() for o in Overlap}  # Enum.name is a slow property on a hot path
RowKey = tuple[int, int, str, int, str | None]
"""One annotated row as (pred raw id, succ raw id, source, consumer arg, overlap "covered"/"other"/None)."""


def raw_task_ids(info: ProgramInfo) -> tuple[int, ...]:
    """Model task index -> the runtime's raw task id `(ring << 32) | local`."""
    return tuple(TaskId.raw_of(t.ring, t.local) for t in info.tasks)


def derived_unique_edges(
    info: ProgramInfo, rows: list[EdgeRow] | None = None, ids: tuple[int, ...] | None = None
) -> dict[tuple[int, int], frozenset[str]]:
    """(pred raw, succ raw) -> OR of the flags of every derived row (the runtime's fanin, dep_gen replay
    semantics), as flag names. `ids`: `raw_task_ids(info)`, if already computed."""
    ids = raw_task_ids(info) if ids is None else ids
    acc: dict[tuple[int, int], int] = {}
    for r in derive_all_edges(info) if rows is None else rows:
        key = (ids[r.pred], ids[r.succ])
        acc[key] = acc.get(key, 0) | r.flags
    return {k: flag_names(v) for k, v in acc.items()}


def dep_gen_rows(rows: list[EdgeRow]) -> list[EdgeRow]:
    """The rows dep_gen's annot pass writes for these derived rows (TRB/host/dep_gen_replay.cpp): per
    consumer, an explicit row per distinct pred; a creator row only if its pred has not yet appeared in
    this consumer's record (explicit, creator or TensorMap); every TensorMap row. `rows` must be in
    `derive_all_edges` order (per consumer: explicit, then per arg creator before lookups)."""
    out: list[EdgeRow] = []
    seen: dict[int, set[int]] = defaultdict(set)
    for r in rows:
        preds = seen[r.succ]
        first = r.pred not in preds
        preds.add(r.pred)
        if r.source == "tensormap" or first:
            out.append(r)
    return out


def row_multiset(
    info: ProgramInfo, rows: list[EdgeRow], sources: tuple[str, ...] | None = None, ids: tuple[int, ...] | None = None
) -> Counter[RowKey]:
    ids = raw_task_ids(info) if ids is None else ids
    return Counter(
        (ids[r.pred], ids[r.succ], r.source, r.arg, None if r.overlap is None else _OVERLAP_NAMES[r.overlap])
        for r in rows
        if sources is None or r.source in sources
    )


def trace_row_multiset(graph: DepsGraph, sources: tuple[str, ...] | None = None) -> Counter[RowKey]:
    return Counter(
        (e.pred, e.succ, e.source, e.arg, e.overlap)
        for e in graph.edges
        if sources is None or e.source in sources
    )


def derivation_mismatches(info: ProgramInfo, graph: DepsGraph, rows: list[EdgeRow] | None = None) -> list[str]:
    """Every difference between the model's derivation for `info` and the recorded `graph`: unique
    (pred, succ) with OR-ed flags, the TensorMap rows (pred, succ, arg, overlap) as a multiset, and every
    row as dep_gen would write it. Empty when they agree. `rows`: the derivation, if already computed in
    `derive_all_edges` order (default: `derive_all_edges(info)`)."""
    rows = derive_all_edges(info) if rows is None else rows
    problems: list[str] = []
    ids = raw_task_ids(info)
    model_unique = derived_unique_edges(info, rows, ids)
    real_unique = graph.unique_edges()
    differing = [k for k in model_unique.keys() | real_unique.keys() if model_unique.get(k) != real_unique.get(k)]
    for key in sorted(differing, key=lambda k: (TaskId.sort_key(k[0]), TaskId.sort_key(k[1]))):
        m, r = model_unique.get(key), real_unique.get(key)
        edge = f"{TaskId.format(key[0])}->{TaskId.format(key[1])}"
        problems.append(f"unique edge {edge}: model {sorted(m) if m else None}, trace {sorted(r) if r else None}")
    for label, model_rows, real_rows in (
        (
            "tensormap row",
            row_multiset(info, rows, ("tensormap",), ids),
            trace_row_multiset(graph, ("tensormap",)),
        ),
        ("dep_gen row", row_multiset(info, dep_gen_rows(rows), None, ids), trace_row_multiset(graph)),
    ):
        differing_rows = [row for row in model_rows.keys() | real_rows.keys() if model_rows[row] != real_rows[row]]
        for row in sorted(differing_rows, key=str):
            pred, succ, source, arg, overlap = row
            problems.append(
                f"{label} {TaskId.format(pred)}->{TaskId.format(succ)} {source} arg {arg} {overlap or ''}: "
                f"model x{model_rows[row]}, trace x{real_rows[row]}"
            )
    return problems
