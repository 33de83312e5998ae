"""The port's own reading of a scenario: what the orchestration program hands the runtime.

This is the C++ *program* side (the user's orchestration function), not the runtime: it turns the
scenario's instructions into the calls the orchestrator thread makes (scope begin/end, submit,
alloc_tensors, get/set_tensor_data) with the argument values a real program would pass (ChipTensor
views with owner ids and shapes; explicit dependency ids). Allocation order is program order and the
ring of a task is its scope depth clamped to 3 (`current_ring_id`), so every task's (ring, local id) is
known up front; that is what a forward explicit dependency (a scenario may name a later task) resolves
to. Buffer *addresses* of runtime-created outputs are run-time values and are recorded by the port when
the creating task is allocated.

Nothing here is shared with the reference model (model/program.py etc.): the port must read the
scenario on its own so a misreading cannot hide in both.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.errors import ScenarioError
from model.scenario import (
    DTYPE_BYTES,
    Alloc,
    DepKind,
    OutputSpec,
    Region,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    ScopeMode,
    Submit,
    Tag,
    TensorData,
    align_up,
)
from runtime.core import Static
from runtime.trb import consts as K

# Instruction kinds the orchestrator thread executes.
I_BEGIN, I_END, I_SUBMIT, I_ALLOC, I_TDATA = 0, 1, 2, 3, 4

EXTERNAL_ALIGN = 4096  # placement of host buffers (any non-overlapping placement outside the GM heap works)


@dataclass(frozen=True)
class TensorSpec(Static):
    """A ChipTensor as the program passes it, minus `buffer.addr` (resolved at run time by buffer index)."""

    buffer: int
    buffer_size: int  # buffer.size in bytes (create-info outputs: the 1024-aligned packed size)
    owner: int  # task index of the creating task (owner_task_id), or -1 for an external tensor
    start_offset: int
    version: int
    ndims: int
    dtype: str
    elem_size: int
    shapes: tuple[int, ...]
    strides: tuple[int, ...]
    is_contiguous: bool
    extent: int  # extent_elem()
    manual_dep: bool


@dataclass(frozen=True)
class BufferInfo(Static):
    name: str
    external: bool
    size: int  # buffer.size in bytes
    creator: int  # task index, or -1
    packed_offset: int  # offset inside the creator's packed output block
    ext_addr: int  # host address of an external buffer (0 for created ones)


@dataclass(frozen=True)
class ArgPlan(Static):
    tag: Tag
    tensor: TensorSpec | None  # None for OUTPUT
    out_buffer: int  # buffer index an OUTPUT creates, else -1


@dataclass(frozen=True)
class TaskPlan(Static):
    index: int
    name: str
    is_alloc: bool
    program_pos: int  # index into scenario.program
    ring: int
    local: int
    mask: int  # active mask after AIV1-only normalisation
    shape: int
    kernel_ids: tuple[int, int, int]
    block_num: int
    sync_start: bool  # requires_sync_start attribute (block_num > 1 and sync_start)
    total_subtasks: int
    output_size: int  # calculate_output_layout total (int32)
    args: tuple[ArgPlan, ...]
    deps: tuple[tuple[int, int], ...]  # (task index, DepFlags)
    outputs: tuple[int, ...]  # buffer indices this task creates
    max_edges: int  # upper bound of distinct fanin producers
    sync_start_invalid: bool = False  # sync_start with block_num above the core limit (submit's fatal 7)
    early: bool = False  # task_attrs.allow_early_resolve (submit flag; alloc_tensors sets it on its creator)


@dataclass(frozen=True)
class Instr(Static):
    kind: int
    mode: ScopeMode = ScopeMode.AUTO
    task: int = -1
    write: bool = False
    tensor: TensorSpec | None = None
    program_pos: int = -1


class NotPortedError(ScenarioError):
    """A scenario uses a runtime feature the step-level port does not cover yet."""


def _mask_of(kernel_ids: tuple[int, int, int]) -> int:
    m = 0
    if kernel_ids[0] >= 0:
        m |= K.MASK_AIC
    if kernel_ids[1] >= 0:
        m |= K.MASK_AIV0
    if kernel_ids[2] >= 0:
        m |= K.MASK_AIV1
    return m


def shape_of_mask(mask: int) -> int:
    """ActiveMask::to_shape."""
    m = mask & 7
    if m == 0:
        return K.SHAPE_DUMMY
    if bin(m).count("1") >= 2:
        return K.SHAPE_MIX
    if m & K.MASK_AIC:
        return K.SHAPE_AIC
    return K.SHAPE_AIV


def _row_major(shape: tuple[int, ...]) -> tuple[int, ...]:
    out = []
    acc = 1
    for n in reversed(shape):
        out.append(acc)
        acc *= n
    return tuple(reversed(out))


def _derived(shapes: tuple[int, ...], strides: tuple[int, ...]) -> tuple[bool, int]:
    """ChipTensor::refresh_derived: (is_contiguous, extent_elem_cache)."""
    e = 1
    expected = 1
    contig = True
    for i in range(len(shapes) - 1, -1, -1):
        if strides[i] != expected:
            contig = False
        if shapes[i] > 0:
            e += (shapes[i] - 1) * strides[i]
        expected *= shapes[i]
    return contig, e


class Plan:
    """Static facts the program side knows: tasks, rings, buffers, instructions."""

    def __init__(self, scenario: Scenario) -> None:
        if scenario.runtime != "tensormap_and_ringbuffer":
            raise ScenarioError(
                f"the TRB port runs tensormap_and_ringbuffer scenarios, not {scenario.runtime!r}", "runtime"
            )
        self.scenario = scenario
        cfg = scenario.config
        self.consts = cfg.constants
        self.windows = cfg.task_window
        self.heap_bytes = cfg.heap_bytes
        heap_total = sum(cfg.heap_bytes)
        ext_cursor = align_up(cfg.gm_heap_base + heap_total, 1 << 20)
        self.buffers: list[BufferInfo] = []
        self.buffer_index: dict[str, int] = {}
        for b in scenario.buffers:
            size = b.numel * DTYPE_BYTES[b.dtype]
            self.buffer_index[b.name] = len(self.buffers)
            self.buffers.append(BufferInfo(b.name, True, size, -1, 0, ext_cursor))
            ext_cursor += align_up(max(size, 1), EXTERNAL_ALIGN)
        self.buffer_dtype: dict[str, str] = {b.name: b.dtype for b in scenario.buffers}
        self.tasks: list[TaskPlan] = []
        self.instrs: list[Instr] = []
        self.task_index: dict[str, int] = {t.name: i for i, t in enumerate(scenario.tasks())}
        self.per_ring = [0, 0, 0, 0]
        self.task_at: dict[tuple[int, int], int] = {}
        self.max_depth = 0
        clusters = cfg.clusters
        self.total_cluster_count = clusters
        self.total_aiv_count = 2 * clusters
        registrations = 0  # registering args so far (bound for lookups)
        top = 0  # the executor's rt_scope_begin opened depth 0
        for pos, op in enumerate(scenario.program):
            if isinstance(op, ScopeBegin):
                top += 1
                self.max_depth = max(self.max_depth, top)
                self.instrs.append(Instr(I_BEGIN, mode=op.mode, program_pos=pos))
            elif isinstance(op, ScopeEnd):
                top -= 1
                self.instrs.append(Instr(I_END, program_pos=pos))
            elif isinstance(op, TensorData):
                spec = self._tensor(op.region, False, f"program[{pos}].region")
                self.instrs.append(Instr(I_TDATA, write=op.write, tensor=spec, program_pos=pos))
            elif isinstance(op, Submit | Alloc):
                ring = min(top, K.NUM_RINGS - 1)
                local = self.per_ring[ring]
                self.per_ring[ring] += 1
                idx = len(self.tasks)
                task = self._task(op, idx, pos, ring, local, registrations)
                registrations += sum(
                    1
                    for a in task.args
                    if a.tag in (Tag.INOUT, Tag.OUTPUT_EXISTING) and a.tensor is not None and not a.tensor.manual_dep
                )
                self.tasks.append(task)
                self.task_at[(ring, local)] = idx
                self.instrs.append(Instr(I_ALLOC if task.is_alloc else I_SUBMIT, task=idx, program_pos=pos))
        # Early dispatch and the sync_start drain are ported separately; a cohort whose producers may all be
        # flagged (alloc_tensors flags its creator) would take the early sync_start path (the
        # early_sync_start_queue, the gated drain, the rendezvous), which neither extension covers.
        cohort = next((t for t in self.tasks if t.sync_start), None)
        flagged = next((t for t in self.tasks if t.early), None)
        if cohort is not None and flagged is not None:
            raise NotPortedError(
                f"a schedulable sync_start cohort ({cohort.name}) in a program with an early-dispatch producer "
                f"({flagged.name}, {'alloc_tensors' if flagged.is_alloc else 'early_resolve'}) needs the early "
                "sync_start path (early_sync_start_queue, gated drain, rendezvous), which is not in the port",
                f"program[{cohort.program_pos}]",
                "drop early_resolve (and alloc_tensors) from the program, or the cohort's sync_start",
            )
        # Slots a run can touch: local ids 0..n_r-1 map to slots 0..min(W, n_r)-1.
        self.nslots = tuple(min(self.windows[r], self.per_ring[r]) for r in range(K.NUM_RINGS))
        self.total_slots = sum(self.nslots)
        cap = self.consts.fanin_inline_cap
        self.max_edges = max((t.max_edges for t in self.tasks), default=0)
        self.inline_cells = min(cap, self.max_edges)
        self.ring_max_wait_nodes = [0, 0, 0, 0]
        self.ring_max_spill = [0, 0, 0, 0]
        for t in self.tasks:
            self.ring_max_wait_nodes[t.ring] += t.max_edges
            self.ring_max_spill[t.ring] += max(0, t.max_edges - cap)

    # ------------------------------------------------------------------ tensors

    def _tensor(self, region: Region, manual_dep: bool, where: str) -> TensorSpec:
        b = self.buffer_index.get(region.buffer)
        if b is None:
            raise ScenarioError(f"unknown buffer {region.buffer!r}", where)
        info = self.buffers[b]
        dtype = region.dtype or self.buffer_dtype[region.buffer]
        shapes = tuple(region.shape)
        strides = tuple(region.strides)
        contig, extent_cache = _derived(shapes, strides)
        extent = 1
        if contig:
            for n in shapes:
                extent *= n
        else:
            extent = extent_cache
        return TensorSpec(
            buffer=b,
            buffer_size=info.size,
            owner=info.creator,
            start_offset=region.offset,
            version=region.version,
            ndims=len(shapes),
            dtype=dtype,
            elem_size=DTYPE_BYTES[dtype],
            shapes=shapes,
            strides=strides,
            is_contiguous=contig,
            extent=extent,
            manual_dep=manual_dep,
        )

    def _create(self, spec: OutputSpec, creator: int, offset: int) -> tuple[int, int]:
        nbytes = 1
        for n in spec.shape:
            nbytes *= n
        nbytes *= DTYPE_BYTES[spec.dtype]
        size = align_up(nbytes, self.consts.output_align)
        b = len(self.buffers)
        self.buffers.append(BufferInfo(spec.name, False, size, creator, offset, 0))
        self.buffer_index[spec.name] = b
        self.buffer_dtype[spec.name] = spec.dtype
        return b, size

    # ------------------------------------------------------------------ tasks

    def _task(self, op: Submit | Alloc, idx: int, pos: int, ring: int, local: int, registrations: int) -> TaskPlan:
        where = f"program[{pos}]"
        args: list[ArgPlan] = []
        outputs: list[int] = []
        offset = 0
        if isinstance(op, Alloc):
            for spec in op.outputs:
                b, size = self._create(spec, idx, offset)
                outputs.append(b)
                args.append(ArgPlan(Tag.OUTPUT, None, b))
                offset += size
            return TaskPlan(
                index=idx,
                name=op.name,
                is_alloc=True,
                program_pos=pos,
                ring=ring,
                local=local,
                mask=0,
                shape=K.SHAPE_DUMMY,
                kernel_ids=(-1, -1, -1),
                block_num=1,
                sync_start=False,
                total_subtasks=0,
                output_size=offset & 0xFFFFFFFF,
                args=tuple(args),
                deps=(),
                outputs=tuple(outputs),
                max_edges=0,
                early=True,
            )
        lookups = 0
        for j, a in enumerate(op.args):
            if a.tag is Tag.OUTPUT:
                assert a.creates is not None
                b, size = self._create(a.creates, idx, offset)
                outputs.append(b)
                args.append(ArgPlan(Tag.OUTPUT, None, b))
                offset += size
            else:
                assert a.region is not None
                tensor = self._tensor(a.region, a.manual_dep, f"{where}.args[{j}].region")
                args.append(ArgPlan(a.tag, tensor, -1))
                lookups += 1
                if a.tag in (Tag.INPUT, Tag.INOUT) and not a.manual_dep:
                    lookups += registrations
        deps = tuple(
            (self.task_index[d.task], K.DEP_WAIT if d.kind is DepKind.WAIT else K.DEP_WAIT | K.DEP_RETAIN)
            for d in op.deps
        )
        kids = op.kernel_ids
        mask = _mask_of(kids)
        if mask == K.MASK_AIV1:  # submit_task normalises an AIV1-only task to AIV0
            kids = (kids[0], kids[2], -1)
            mask = K.MASK_AIV0
        shape = shape_of_mask(mask)
        sync_start = False
        sync_start_invalid = False
        if op.block_num > 1 and op.sync_start:
            limit = self.total_aiv_count if shape == K.SHAPE_AIV else self.total_cluster_count
            sync_start_invalid = limit > 0 and op.block_num > limit
            sync_start = True
        popcount = bin(mask).count("1")
        return TaskPlan(
            index=idx,
            name=op.name,
            is_alloc=False,
            program_pos=pos,
            ring=ring,
            local=local,
            mask=mask,
            shape=shape,
            kernel_ids=(kids[0], kids[1], kids[2]),
            block_num=op.block_num,
            sync_start=sync_start,
            total_subtasks=op.block_num * popcount,
            output_size=offset & 0xFFFFFFFF,
            args=tuple(args),
            deps=deps,
            outputs=tuple(outputs),
            max_edges=len(deps) + lookups,
            sync_start_invalid=sync_start_invalid,
            early=op.early_resolve,
        )

    def describe(self, task: int) -> str:
        t = self.tasks[task]
        return f"{t.name}(r{t.ring}:{t.local})"
