"""Static facts of a scenario's orchestration program, computed once before exploring.

Allocation order is program order and a task's ring is its scope depth (clamped to 3), so every task's
(ring, local id), its scope frame, the oldest open task the allocator's structural detector compares
against, and every overlap class between two tensor arguments are fixed before the run starts. The
model keeps only what really changes at run time in its states.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.overlap import Overlap, View, check_overlap
from model.scenario import (
    DTYPE_BYTES,
    NUM_RINGS,
    Alloc,
    DepKind,
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
    output_bytes,
    task_heap_request,
)

# Dependency flags (DepFlags, RT/pto_types.h).
WAIT = 1
RETAIN = 2

# Instruction kinds of the orchestrator's flattened program.
I_BEGIN = 0  # begin_scope
I_END = 1  # end_scope: release the scope reference of the frame's tasks, in submission order
I_SUBMIT = 2  # submit_task / submit_dummy_task
I_ALLOC = 3  # alloc_tensors (hidden task)
I_TDATA = 4  # get_tensor_data / set_tensor_data
I_DONE = 5  # mark_done after the executor's root scope end


@dataclass(frozen=True)
class ArgInfo:
    tag: Tag
    buffer: str | None  # None for OUTPUT
    view: View | None
    manual_dep: bool
    owner: int  # task index that created the buffer (creator edge), or -1 for external / OUTPUT


@dataclass(frozen=True)
class TaskInfo:
    index: int  # position among the program's tasks (submits and allocs), per round
    name: str
    is_alloc: bool
    shape: Shape
    ring: int
    local: int
    block_num: int
    subtasks: int  # total_required_subtasks = block_num x popcount(mask)
    heap_request: int  # bytes asked of the ring heap (0 for none)
    args: tuple[ArgInfo, ...]
    explicit_deps: tuple[tuple[int, int], ...]  # (task index, flags)
    manual: bool  # submitted inside a MANUAL scope: no creator / TensorMap edges (O6, O7 bypassed)
    frame_count_before: int  # tasks already in the innermost frame (check_scope_can_accept_task)
    scope_tasks_before: int  # scope_tasks_size before this task's push
    oldest_open: int  # task index of scope_tasks[scope_begins[ring]], or -1 (structural detector)
    registrations: tuple[int, ...]  # arg indices inserted into the TensorMap at O7
    lookups: tuple[int, ...]  # arg indices looked up at O6 step B


@dataclass(frozen=True)
class Instr:
    kind: int
    depth: int = 0
    mode: ScopeMode = ScopeMode.AUTO
    task: int = -1
    frame: tuple[int, ...] = ()  # I_END: the closed frame's task indices in submission order
    write: bool = False  # I_TDATA
    region_arg: ArgInfo | None = None  # I_TDATA
    auto_in_manual: bool = False  # I_BEGIN of an AUTO scope while a MANUAL one is open: fatal INVALID_ARGS


class ProgramInfo:
    """Everything static about one round of the program, plus cached overlap classes."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        cfg = scenario.config
        self.windows = cfg.task_window
        self.masks = tuple(w - 1 for w in cfg.task_window)
        self.heap_sizes = cfg.heap_bytes
        self.buffers = scenario.all_buffers()
        tasks: list[TaskInfo] = []
        instrs: list[Instr] = [Instr(I_BEGIN, depth=0)]  # the executor's root scope (spec §2.1 step 4)
        name_to_index = {t.name: i for i, t in enumerate(scenario.tasks())}
        owner_of: dict[str, int] = {}
        placement: dict[str, tuple[int, int]] = {}  # created buffer -> (creator, offset in its block)
        next_local = [0] * NUM_RINGS
        scope_tasks: list[int] = []
        scope_begins: list[int] = [0]  # depth 0 frame
        modes: list[ScopeMode] = [ScopeMode.AUTO]
        manual_begin_depth = 64
        for op in scenario.program:
            if isinstance(op, ScopeBegin):
                auto_in_manual = op.mode is ScopeMode.AUTO and manual_begin_depth < 64
                depth = len(scope_begins)
                instrs.append(Instr(I_BEGIN, depth=depth, mode=op.mode, auto_in_manual=auto_in_manual))
                scope_begins.append(len(scope_tasks))
                modes.append(op.mode)
                if op.mode is ScopeMode.MANUAL and manual_begin_depth == 64:
                    manual_begin_depth = depth
            elif isinstance(op, ScopeEnd):
                depth = len(scope_begins) - 1
                begin = scope_begins.pop()
                modes.pop()
                instrs.append(Instr(I_END, depth=depth, frame=tuple(scope_tasks[begin:])))
                del scope_tasks[begin:]
                if depth == manual_begin_depth:
                    manual_begin_depth = 64
            elif isinstance(op, Submit | Alloc):
                depth = len(scope_begins) - 1
                ring = min(depth, NUM_RINGS - 1)
                idx = len(tasks)
                local = next_local[ring]
                next_local[ring] += 1
                manual = manual_begin_depth < 64
                oldest_idx = scope_begins[ring] if ring < len(scope_begins) else len(scope_tasks)
                oldest_open = scope_tasks[oldest_idx] if oldest_idx < len(scope_tasks) else -1
                args: list[ArgInfo] = []
                deps: list[tuple[int, int]] = []
                if isinstance(op, Submit):
                    for a in op.args:
                        if a.region is None:
                            args.append(ArgInfo(a.tag, None, None, a.manual_dep, -1))
                        else:
                            args.append(
                                ArgInfo(
                                    a.tag,
                                    a.region.buffer,
                                    self._view(a.region),
                                    a.manual_dep,
                                    owner_of.get(a.region.buffer, -1),
                                )
                            )
                    for d in op.deps:
                        flags = WAIT | RETAIN if d.kind is DepKind.WAIT_RETAIN else WAIT
                        deps.append((name_to_index[d.task], flags))
                    shape = op.shape
                    block_num = op.block_num
                    subtasks = op.block_num * op.subtasks_per_block
                else:
                    shape = Shape.DUMMY
                    block_num = 1
                    subtasks = 0
                registrations = tuple(
                    i
                    for i, a in enumerate(args)
                    if not manual and not a.manual_dep and a.tag in (Tag.INOUT, Tag.OUTPUT_EXISTING)
                )
                lookups = tuple(
                    i for i, a in enumerate(args) if not manual and not a.manual_dep and a.tag in (Tag.INPUT, Tag.INOUT)
                )
                info = TaskInfo(
                    index=idx,
                    name=op.name,
                    is_alloc=isinstance(op, Alloc),
                    shape=shape,
                    ring=ring,
                    local=local,
                    block_num=block_num,
                    subtasks=subtasks,
                    heap_request=task_heap_request(op, cfg.constants),
                    args=tuple(args),
                    explicit_deps=tuple(deps),
                    manual=manual,
                    frame_count_before=len(scope_tasks) - scope_begins[-1],
                    scope_tasks_before=len(scope_tasks),
                    oldest_open=oldest_open,
                    registrations=registrations,
                    lookups=lookups,
                )
                tasks.append(info)
                scope_tasks.append(idx)
                instrs.append(Instr(I_ALLOC if info.is_alloc else I_SUBMIT, depth=depth, task=idx))
                created = op.outputs if isinstance(op, Alloc) else tuple(a.creates for a in op.args if a.creates)
                offset = 0  # the O1 packed layout: outputs in order, each rounded to PTO2_PACKED_OUTPUT_ALIGN
                for spec in created:
                    owner_of[spec.name] = idx
                    placement[spec.name] = (idx, offset)
                    offset += output_bytes(spec, cfg.constants)
            elif isinstance(op, TensorData):
                region_arg = ArgInfo(
                    Tag.INPUT, op.region.buffer, self._view(op.region), False, owner_of.get(op.region.buffer, -1)
                )
                instrs.append(Instr(I_TDATA, depth=len(scope_begins) - 1, write=op.write, region_arg=region_arg))
        instrs.append(Instr(I_END, depth=0, frame=tuple(scope_tasks)))  # rt_scope_end of the root scope
        instrs.append(Instr(I_DONE))
        self.tasks: tuple[TaskInfo, ...] = tuple(tasks)
        self.instrs: tuple[Instr, ...] = tuple(instrs)
        self.tasks_per_ring = tuple(next_local)
        self.by_ring_local: tuple[tuple[int, ...], ...] = tuple(
            tuple(t.index for t in tasks if t.ring == r) for r in range(NUM_RINGS)
        )
        self.scope_tasks_capacity = sum(cfg.task_window)
        # runtime-created buffers: where each lies in its creator's packed block (the heap base is run-time)
        self.placement: dict[str, tuple[int, int]] = placement
        self._overlap_cache: dict[tuple[int, int, int, int], Overlap] = {}

    def _view(self, region: Region) -> View:
        buf = self.buffers[region.buffer]
        dtype = region.dtype or buf.dtype
        nbytes = buf.numel * DTYPE_BYTES[buf.dtype]
        if not buf.external:  # a runtime-created buffer's size is its PTO2_PACKED_OUTPUT_ALIGN-rounded size
            nbytes = align_up(nbytes, self.scenario.config.constants.output_align)
        # The view's element count is in the view's own dtype (a region may reinterpret its buffer).
        return View(region.offset, region.shape, region.strides, dtype, region.version, nbytes // DTYPE_BYTES[dtype])

    def overlap(self, consumer: int, consumer_arg: int, producer: int, producer_arg: int) -> Overlap:
        """Overlap class of a consumer's argument against a registered producer argument (cached)."""
        key = (consumer, consumer_arg, producer, producer_arg)
        hit = self._overlap_cache.get(key)
        if hit is None:
            c = self.tasks[consumer].args[consumer_arg]
            p = self.tasks[producer].args[producer_arg]
            assert c.view is not None and p.view is not None
            hit = check_overlap(c.view, p.view) if c.buffer == p.buffer else Overlap.NO_OVERLAP
            self._overlap_cache[key] = hit
        return hit

    def region_overlap(self, arg: ArgInfo, producer: int, producer_arg: int, aliased: bool = False) -> Overlap:
        """Overlap class of a region (a tensor-data op's) against a registered producer argument; `aliased`:
        the two are different buffers at the same run-time address (see `alias_overlap`)."""
        p = self.tasks[producer].args[producer_arg]
        if (arg.buffer != p.buffer and not aliased) or arg.view is None or p.view is None:
            return Overlap.NO_OVERLAP
        return check_overlap(arg.view, p.view)

    def alias_overlap(self, consumer: int, consumer_arg: int, producer: int, producer_arg: int) -> Overlap:
        """Overlap class of a consumer's argument against a registered argument on ANOTHER buffer that has
        the same run-time address: the TensorMap matches entries by address (PTO2TensorMap::lookup compares
        buffer_addr), so a heap buffer reusing a dead one's bytes meets the dead one's entries, and
        check_overlap then compares the two views as if they were of one buffer."""
        c = self.tasks[consumer].args[consumer_arg]
        p = self.tasks[producer].args[producer_arg]
        assert c.view is not None and p.view is not None
        return check_overlap(c.view, p.view)

    def heap_ring(self, buffer: str | None) -> int:
        """The ring whose heap holds a runtime-created buffer (its creator's), or -1 (external / none)."""
        place = self.placement.get(buffer) if buffer is not None else None
        return -1 if place is None else self.tasks[place[0]].ring

    def slot(self, task: int) -> int:
        t = self.tasks[task]
        return t.local & self.masks[t.ring]

    def task_at(self, ring: int, local: int) -> int:
        """Task index of (ring, local) in this round, or -1 past the program's end."""
        row = self.by_ring_local[ring]
        return row[local] if 0 <= local < len(row) else -1

    def describe_task(self, task: int) -> str:
        t = self.tasks[task]
        return f"{t.name}(r{t.ring}t{t.local})"

