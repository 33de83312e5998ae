"""host_build_graph's host-side graph construction (simpler @ 6ebaf7715): the whole graph before any device thread.

`submit_task_common` in runtime/orchestrator_core/pto_orchestrator.cpp: explicit dependencies first, then
`compute_task_fanin` (runtime/pto_dep_compute.h): for every non-OUTPUT argument the creator (owner) edge,
then for INPUT / INOUT (not manual_dep) a TensorMap lookup newest-first, INOUT + COVERED removing the
matched entry; then `register_task_outputs` inserts INOUT and OUTPUT_EXISTING arguments. Inside a MANUAL
scope only explicit dependencies count. `append_fanin_or_fail` deduplicates producers in discovery order
(the payload's fanin region; the device classifier scans it from the end). All tasks live in one ring and
nothing retires while the host builds, so every TensorMap entry stays valid. Hidden alloc tasks
(`alloc_tensors`) get no fanin and have their completion flag set on the host.

`get_tensor_data` / `set_tensor_data` run against the staged host view (docs/SCALAR_DATA_ACCESS.md): fine on
an external tensor no task writes; on a runtime-created buffer or a tensor a submitted task writes the
C++ cannot make progress (the device starts only after the host returns), so the port rejects it.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.errors import ScenarioError
from model.scenario import (
    DTYPE_BYTES,
    Alloc,
    Region,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    ScopeMode,
    Shape,
    Submit,
    Tag,
    TensorData,
    align_up,
)

NO_OVERLAP, COVERED, OTHER = 0, 1, 2
SHAPE_AIC, SHAPE_AIV, SHAPE_DUMMY = 0, 1, 3


@dataclass(frozen=True)
class HostGraph:
    """The prebuilt graph image the device attaches to (one ring, local id = program index)."""

    names: tuple[str, ...]
    shape: tuple[int, ...]  # SHAPE_AIC / SHAPE_AIV / SHAPE_DUMMY
    is_alloc: tuple[bool, ...]
    fanin: tuple[tuple[int, ...], ...]  # payload fanin region, discovery order, deduplicated


@dataclass(frozen=True)
class _Tensor:
    """What the TensorMap keeps of a ChipTensor view."""

    buffer: str
    start: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    dtype: str
    version: int
    storage_elems: int  # buffer.size / element size

    @property
    def extent(self) -> int:
        return 1 + sum((n - 1) * s for n, s in zip(self.shape, self.strides, strict=True))


def _overlap(inp: _Tensor, ent: _Tensor) -> int:
    """PTO2TensorMapEntry::check_overlap(input) (runtime/pto_tensormap.h)."""
    if inp.version > ent.version:
        return OTHER
    if not (inp.start + inp.extent > ent.start and ent.start + ent.extent > inp.start):
        return NO_OVERLAP  # L1: element ranges are disjoint
    nd = len(inp.strides)
    if inp.dtype != ent.dtype or nd != len(ent.strides) or nd == 0 or inp.strides != ent.strides:
        return OTHER
    st = inp.strides
    if st[-1] != 1 or any(st[i - 1] % st[i] for i in range(1, nd)) or inp.storage_elems % st[0]:
        return OTHER
    ref = [inp.storage_elems // st[0]] + [st[i - 1] // st[i] for i in range(1, nd)]
    in_off, ent_off = [], []
    in_rem, ent_rem = inp.start, ent.start
    for s in st:
        in_off.append(in_rem // s)
        ent_off.append(ent_rem // s)
        in_rem %= s
        ent_rem %= s
    if in_rem or ent_rem:
        return OTHER
    for i in range(nd):
        if in_off[i] + inp.shape[i] > ref[i] or ent_off[i] + ent.shape[i] > ref[i]:
            return OTHER
    contains = True
    for i in range(nd):
        a_lo, a_hi = in_off[i], in_off[i] + inp.shape[i]
        b_lo, b_hi = ent_off[i], ent_off[i] + ent.shape[i]
        if not (a_hi > b_lo and b_hi > a_lo):
            return NO_OVERLAP
        if not (a_lo <= b_lo and b_hi <= a_hi):
            contains = False
    return COVERED if contains else OTHER


def build_host_graph(scenario: Scenario) -> HostGraph:
    """Run the orchestration on the host: every task's fanin region, in the order the C++ fills it."""
    sizes: dict[str, tuple[str, int]] = {
        b.name: (b.dtype, b.numel * DTYPE_BYTES[b.dtype]) for b in scenario.buffers
    }
    owner: dict[str, int] = {}
    written: set[str] = set()
    entries: dict[str, list[tuple[int, _Tensor]]] = {}  # per buffer, oldest first (lookup walks newest-first)
    names: list[str] = []
    shapes: list[int] = []
    is_alloc: list[bool] = []
    fanins: list[tuple[int, ...]] = []
    index: dict[str, int] = {}
    modes: list[ScopeMode] = []
    out_align = scenario.config.constants.output_align

    def tensor(region: Region) -> _Tensor:
        buf_dtype, nbytes = sizes[region.buffer]
        dtype = region.dtype or buf_dtype
        return _Tensor(
            region.buffer,
            region.offset,
            region.shape,
            region.strides,
            dtype,
            region.version,
            nbytes // DTYPE_BYTES[dtype],
        )

    for i, op in enumerate(scenario.program):
        where = f"program[{i}]"
        if isinstance(op, ScopeBegin):
            modes.append(op.mode)
        elif isinstance(op, ScopeEnd):
            modes.pop()
        elif isinstance(op, TensorData):
            buf = op.region.buffer
            if buf in owner or buf in written:
                raise ScenarioError(
                    f"{'set' if op.write else 'get'}_tensor_data on {buf!r}, which a submitted task creates or writes",
                    where,
                    "host_build_graph runs the orchestration before the device starts (SCALAR_DATA_ACCESS.md)",
                )
        elif isinstance(op, Alloc):
            t = len(names)
            names.append(op.name)
            shapes.append(SHAPE_DUMMY)
            is_alloc.append(True)
            fanins.append(())
            index[op.name] = t
            for spec in op.outputs:
                owner[spec.name] = t
                sizes[spec.name] = (spec.dtype, align_up(spec.numel * DTYPE_BYTES[spec.dtype], out_align))
        elif isinstance(op, Submit):
            if op.block_num != 1 or op.shape is Shape.MIX:
                raise ScenarioError(
                    f"task {op.name!r} is {op.shape.value} x{op.block_num}",
                    where,
                    "the host_build_graph port runs single-block AIC, AIV and dummy tasks",
                )
            t = len(names)
            manual = ScopeMode.MANUAL in modes
            found: dict[int, None] = {}
            for dep in op.deps:
                found.setdefault(index[dep.task], None)
            if not manual:
                for arg in op.args:
                    if arg.tag is Tag.OUTPUT or arg.region is None:
                        continue
                    probe = tensor(arg.region)
                    creator = owner.get(probe.buffer)
                    if creator is not None:
                        found.setdefault(creator, None)
                    if arg.tag not in (Tag.INPUT, Tag.INOUT) or arg.manual_dep:
                        continue
                    chain = entries.get(probe.buffer, [])
                    for producer, ent in reversed(list(chain)):
                        status = _overlap(probe, ent)
                        if status == NO_OVERLAP:
                            continue
                        found.setdefault(producer, None)
                        if arg.tag is Tag.INOUT and status == COVERED:
                            chain.remove((producer, ent))
                for arg in op.args:
                    if (
                        arg.tag in (Tag.INOUT, Tag.OUTPUT_EXISTING)
                        and arg.region is not None
                        and not arg.manual_dep
                    ):
                        entries.setdefault(arg.region.buffer, []).append((t, tensor(arg.region)))
            for arg in op.args:
                if arg.tag in (Tag.INOUT, Tag.OUTPUT_EXISTING) and arg.region is not None:
                    written.add(arg.region.buffer)
                if arg.creates is not None:
                    owner[arg.creates.name] = t
                    nbytes = arg.creates.numel * DTYPE_BYTES[arg.creates.dtype]
                    sizes[arg.creates.name] = (arg.creates.dtype, align_up(nbytes, out_align))
            names.append(op.name)
            shapes.append({Shape.AIC: SHAPE_AIC, Shape.AIV: SHAPE_AIV, Shape.DUMMY: SHAPE_DUMMY}[op.shape])
            is_alloc.append(False)
            fanins.append(tuple(found))
            index[op.name] = t
    window = scenario.config.task_window[0]
    if len(names) > window:
        raise ScenarioError(
            f"the graph has {len(names)} tasks but the ring holds {window}",
            "config.task_window[0]",
            "host_build_graph keeps the whole graph resident (nothing is reclaimed mid-run); enlarge the window",
        )
    return HostGraph(tuple(names), tuple(shapes), tuple(is_alloc), tuple(fanins))
