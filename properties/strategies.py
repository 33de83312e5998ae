"""Hypothesis strategies for scenarios, tiny configurations and schedules.

Everything generated is a valid `Scenario` by construction (`validate` accepts it; nothing is filtered):

* `scenarios(...)`: random orchestration programs. Nested AUTO and MANUAL scopes up to depth 5 (so
  ring 3 holds several depths), AIC / AIV / MIX / DUMMY submits with every tag, regions that are
  disjoint, equal, covering, partially overlapping, strided or transposed views of small 2-D buffers,
  tensor versions, external and runtime-created tensors, explicit WAIT and WAIT+RETAIN dependencies,
  hidden alloc tasks, get/set_tensor_data, SPMD `block_num > 1`; on a tiny configuration. With
  `ProgramLimits(early_resolve=True)` some submits are flagged `allow_early_resolve` (early dispatch).
* `ProgramBuilder`: the same program draws, one op at a time (for state machines whose rules build the
  program: properties.program_machine).
* `paged_attention_scenarios(...)`: the paged-attention family (AUTO, MANUAL, batched) with variable
  per-batch context lengths, ragged last blocks and block tables longer than a batch's length (the
  batched variant runs every batch for the longest one's block count).
* Configurations: task windows in {4, 8, 16}, dep pools of 4-16, 1-3 scheduler threads, deferred-release
  capacity 1-4, small heaps with mixed request sizes, and scaled-down constants (ready-queue capacity,
  cleanup intervals, fanin inline cap, output alignment, TensorMap pool) which `Constants.scaled()`
  records. The resources are drawn from the program's own needs (`properties.sizing.requirements`):
  `sizing="within"` satisfies every INV-S6 condition, `"outside"` breaks at least one resource rule,
  `"any"` mixes both. `properties.sizing.check_sizing` says which rules hold, so properties that rely on
  them are asserted only there.
* `expected` is the outcome the program alone decides (`properties.sizing.static_outcome`): complete, or
  an immediate fatal the program asks for; where it is undecided the scenario says complete and its
  description says "outcome undecided" (`outcome_is_decided` tells).
* `HypothesisScheduler` / `draw_action_index`: Hypothesis chooses at every scheduling point, so it
  shrinks schedules too (towards staying on the current thread / the first enabled action).

Shrinking moves towards fewer ops, shallower scopes, AUTO scopes, whole-buffer INPUTs, block_num 1,
default constants and the simplest shapes, so counterexamples come out small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from hypothesis import strategies as st

from model.builders.paged_attention import batched_paged_attention, paged_attention
from model.program import ProgramInfo
from model.scenario import (
    DTYPE_BYTES,
    INIT_FAILURES,
    NUM_RINGS,
    Alloc,
    Arg,
    Buffer,
    Config,
    Constants,
    DepKind,
    Expected,
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
    TensorData,
    row_major_strides,
    validate,
)
from properties.sizing import Requirements, check_sizing, requirements, static_outcome, submit_needs

Sizing = Literal["any", "within", "outside"]
WINDOWS = (4, 8, 16)
_WINDOW_WEIGHTS = (4, 4, 4, 8, 16)  # small windows make slot reuse and full rings common
MAX_SCOPE_DEPTH = 5
UNDECIDED = "outcome undecided"

# Same-size reinterpretations for views whose dtype differs from their buffer's (L3 in check_overlap).
_SAME_SIZE_DTYPES: dict[int, tuple[str, ...]] = {
    1: ("INT8", "UINT8", "BOOL"),
    2: ("FLOAT16", "BFLOAT16", "INT16", "UINT16"),
    4: ("FLOAT32", "INT32", "UINT32"),
    8: ("INT64", "UINT64"),
}


@dataclass(frozen=True)
class ProgramLimits:
    """What `scenarios` may generate. The defaults produce every feature; tests narrow them for cost."""

    max_tasks: int = 12
    max_depth: int = MAX_SCOPE_DEPTH
    max_external_buffers: int = 3
    max_args: int = 4
    max_deps: int = 2
    max_block_num: int = 4
    manual_scopes: bool = True
    auto_in_manual: bool = True  # AUTO inside MANUAL: the runtime's own INVALID_ARGS fatal
    scope_overflow: bool = True  # frames reaching W - 1 tasks: the runtime's own SCOPE_DEADLOCK
    tensor_data: bool = True
    multi_round: bool = True
    stale_tensor_uses: bool = True  # rarely view a created tensor after its creator's scope ended
    max_clusters: int = 2
    window_choices: tuple[int, ...] = _WINDOW_WEIGHTS
    # early dispatch: flag about half the compute submits allow_early_resolve and make SPMD more likely (a
    # flagged producer with more blocks than cores is what catalogue I01 needs); off by default, so the
    # default choice sequence (and every recorded generator seed) is unchanged
    early_resolve: bool = False


DEFAULT_LIMITS = ProgramLimits()
SMALL_LIMITS = ProgramLimits(
    max_tasks=6, max_external_buffers=2, max_args=3, max_block_num=2, multi_round=False, max_clusters=1
)
"""Programs small enough for a bounded exhaustive exploration per example (with W = 4, six tasks on one
ring already reuse slots)."""


# ------------------------------------------------------------------------------------- schedules


def _one_in(draw: st.DrawFn, n: int) -> bool:
    """True with probability about 1/n; shrinks to False (rare features shrink away)."""
    return draw(st.integers(0, n - 1)) == n - 1


def draw_action_index(data: st.DataObject, enabled: int, label: str = "action") -> int:
    """Hypothesis picks one of `enabled` choices; shrinking moves towards choice 0."""
    if enabled <= 1:
        return 0
    return data.draw(st.integers(0, enabled - 1), label=label)


@dataclass
class HypothesisScheduler:
    """A `runtime.execution.Scheduler` whose every choice is drawn from Hypothesis (one run).

    Choice 0 is "stay on the current thread", so shrinking removes preemptions; the other threads follow
    in ascending order. Reusable by any engine that asks a scheduler at each scheduling point.
    """

    data: st.DataObject
    name: str = "hypothesis"
    _runs: int = field(default=0, init=False)

    def new_execution(self) -> bool:
        self._runs += 1
        return self._runs == 1

    def choose(self, choices: Sequence[int], current: int | None, step: int) -> int:
        ordered = list(choices)
        if current is not None and current in ordered:
            ordered.remove(current)
            ordered.insert(0, current)
        return ordered[draw_action_index(self.data, len(ordered), label=f"step {step}")]


# ------------------------------------------------------------------------------------- constants


@st.composite
def constants(draw: st.DrawFn) -> Constants:
    """C++ constants, some scaled down so small runs reach their boundaries (`Constants.scaled()` lists them).

    The deferred-release capacity is always 1-4. The ready-queue capacity and the TensorMap pool are set
    later from the program's needs (see `scenarios`)."""
    default = Constants()
    return Constants(
        deferred_release_capacity=draw(st.integers(1, 4)),
        tensormap_cleanup_interval=draw(st.sampled_from((default.tensormap_cleanup_interval, 1, 2, 4))),
        dep_pool_cleanup_interval=draw(st.sampled_from((default.dep_pool_cleanup_interval, 1, 2, 4))),
        fanin_inline_cap=draw(st.sampled_from((default.fanin_inline_cap, 1, 2))),
        output_align=draw(st.sampled_from((default.output_align, 256, 64))),
    )


# ------------------------------------------------------------------------------------- programs


@dataclass
class _Frame:
    mode: ScopeMode
    count: int = 0  # tasks submitted in this frame


@dataclass
class _Buf:
    name: str
    rows: int
    cols: int
    dtype: str
    external: bool
    frame: _Frame | None = None  # the scope frame that created it (None: external, always valid)
    regions: list[Region] = field(default_factory=list)  # views used so far (for equal / re-versioned views)

    @property
    def numel(self) -> int:
        return self.rows * self.cols


@dataclass
class _ProgramState:
    windows: tuple[int, int, int, int]
    limits: ProgramLimits
    buffers: list[_Buf] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    frames: list[_Frame] = field(default_factory=lambda: [_Frame(ScopeMode.AUTO)])
    next_buffer: int = 0

    @property
    def depth(self) -> int:
        return len(self.frames) - 1

    @property
    def in_manual(self) -> bool:
        return any(f.mode is ScopeMode.MANUAL for f in self.frames)

    def frame_full(self) -> bool:
        ring = min(self.depth, NUM_RINGS - 1)
        return self.frames[-1].count >= self.windows[ring] - 1

    def pick_buffer(self, draw: st.DrawFn) -> _Buf:
        """A buffer to view: one whose creator's scope is still open (the documented lifetime of a task's
        output tensors), newest first; rarely, when allowed, a stale one whose creator's scope has ended."""
        live = [b for b in self.buffers if b.frame is None or any(b.frame is f for f in self.frames)]
        stale = [b for b in self.buffers if b not in live]
        pool = stale if stale and self.limits.stale_tensor_uses and _one_in(draw, 30) else live
        return pool[len(pool) - 1 - draw(st.integers(0, len(pool) - 1))]

    def new_buffer_name(self) -> str:
        self.next_buffer += 1
        return f"b{self.next_buffer - 1}"


_DIMS = (1, 2, 4, 8)
_BIG_COLS = (16, 64, 256)  # created buffers only: larger outputs make mixed heap request sizes
_DTYPES = ("FLOAT32", "FLOAT32", "FLOAT16", "INT8", "INT64")


def _dims(draw: st.DrawFn, big: bool) -> tuple[int, int]:
    rows = draw(st.sampled_from(_DIMS))
    cols = draw(st.sampled_from(_DIMS + _BIG_COLS if big else _DIMS))
    return rows, cols


def _region(draw: st.DrawFn, buf: _Buf) -> Region:
    """A view of `buf`, seen as rows x cols: whole, row band, tile, flat range, stepped, transposed, or a
    view used before (equal regions), possibly at a newer version."""
    kinds = ["whole", "rows", "tile", "flat", "step", "transpose"]
    if buf.regions:
        kinds.insert(1, "reuse")
    kind = draw(st.sampled_from(kinds))
    rows, cols = buf.rows, buf.cols
    if kind == "reuse":
        region = buf.regions[len(buf.regions) - 1 - draw(st.integers(0, len(buf.regions) - 1))]
        if _one_in(draw, 4):
            region = replace(region, version=region.version + 1)
        return region
    if kind == "whole":
        shape: tuple[int, ...] = (cols,) if rows == 1 else (rows, cols)
        region = Region(buf.name, shape, row_major_strides(shape))
    elif kind in ("rows", "tile", "transpose"):
        r0 = draw(st.integers(0, rows - 1))
        nr = draw(st.integers(1, rows - r0))
        c0, nc = 0, cols
        if kind != "rows":
            c0 = draw(st.integers(0, cols - 1))
            nc = draw(st.integers(1, cols - c0))
        if kind == "transpose":
            region = Region(buf.name, (nc, nr), (1, cols), offset=r0 * cols + c0)
        else:
            region = Region(buf.name, (nr, nc), (cols, 1), offset=r0 * cols + c0)
    elif kind == "flat":
        start = draw(st.integers(0, buf.numel - 1))
        n = draw(st.integers(1, buf.numel - start))
        region = Region(buf.name, (n,), (1,), offset=start)
    else:  # step: every s-th element
        s = draw(st.sampled_from((2, max(2, cols))))
        start = draw(st.integers(0, min(s, buf.numel) - 1))
        n = draw(st.integers(1, (buf.numel - 1 - start) // s + 1))
        region = Region(buf.name, (n,), (s,), offset=start)
    decoration = draw(st.integers(0, 19))  # one draw for the rare decorations; 0 (none) is simplest
    if decoration >= 17:
        region = replace(region, version=decoration - 16)
    elif decoration == 16:
        size = DTYPE_BYTES[buf.dtype]
        others = tuple(d for d in _SAME_SIZE_DTYPES[size] if d != buf.dtype)
        region = replace(region, dtype=draw(st.sampled_from(others)))
    return region


@st.composite
def region_pairs(draw: st.DrawFn) -> tuple[Buffer, Region, Region]:
    """A small 2-D buffer and two views of it, drawn as the program generator draws them (the second
    view may reuse the first, possibly at a newer version)."""
    rows, cols = _dims(draw, False)
    buf = _Buf("x", rows, cols, draw(st.sampled_from(_DTYPES)), external=True)
    first = _use(buf, _region(draw, buf))
    second = _region(draw, buf)
    return Buffer(buf.name, buf.dtype, buf.numel, external=True), first, second


def _use(buf: _Buf, region: Region) -> Region:
    if region not in buf.regions:
        buf.regions.append(region)
    return region


def _output(draw: st.DrawFn, state: _ProgramState, created: list[_Buf]) -> OutputSpec:
    """A new runtime-created buffer; it joins `created` (usable from the next op on, as in validation)."""
    rows, cols = _dims(draw, True)
    dtype = draw(st.sampled_from(_DTYPES))
    name = state.new_buffer_name()
    created.append(_Buf(name, rows, cols, dtype, external=False, frame=state.frames[-1]))
    return OutputSpec(name, (cols,) if rows == 1 else (rows, cols), dtype)


def _kernel_table() -> tuple[tuple[int, int, int], ...]:
    """Kernel id triples [aic, aiv0, aiv1], simplest first; repeated entries weight the shapes."""
    aiv = [(-1, k, -1) for k in range(4)]
    aic = [(k, -1, -1) for k in range(4)]
    mix = [(0, 1, -1), (0, 1, 1), (-1, 2, 3), (3, -1, 2), (1, 2, 3)]
    dummy = [(-1, -1, -1)] * 4
    aiv1_only = [(-1, -1, 1)]  # normalised to AIV by the runtime
    return (*aiv, *aic, *mix, *dummy, *aiv1_only)


_KERNELS = _kernel_table()
# (tag, manual_dep), simplest first; repeats weight the choice; manual_dep is rare.
_TAGS: tuple[tuple[Tag, bool], ...] = (
    (Tag.INPUT, False),
    (Tag.OUTPUT, False),
    (Tag.INOUT, False),
    (Tag.INPUT, False),
    (Tag.OUTPUT_EXISTING, False),
    (Tag.NO_DEP, False),
    (Tag.INOUT, False),
    (Tag.OUTPUT, False),
    (Tag.INPUT, True),
    (Tag.INOUT, True),
)


def _submit(draw: st.DrawFn, state: _ProgramState, produce: bool = False) -> Submit:
    """A submit; `produce` guarantees at least one OUTPUT (heap allocation)."""
    limits = state.limits
    name = f"t{len(state.tasks)}"
    kernel_ids = draw(st.sampled_from(_KERNELS))
    dummy = kernel_ids == (-1, -1, -1)
    block_num = 1
    if not dummy and limits.max_block_num > 1 and _one_in(draw, 2 if limits.early_resolve else 4):
        block_num = draw(st.integers(2, limits.max_block_num))
    early = not dummy and limits.early_resolve and draw(st.booleans())
    args: list[Arg] = []
    created: list[_Buf] = []
    for _ in range(draw(st.integers(0 if dummy else 1, limits.max_args))):
        tag, manual_dep = draw(st.sampled_from(_TAGS))
        if tag is Tag.OUTPUT:
            args.append(Arg(Tag.OUTPUT, creates=_output(draw, state, created)))
            continue
        buf = state.pick_buffer(draw)
        region = _use(buf, _region(draw, buf))
        args.append(Arg(tag, region, manual_dep=manual_dep))
    if produce and all(a.tag is not Tag.OUTPUT for a in args):
        args.append(Arg(Tag.OUTPUT, creates=_output(draw, state, created)))
    deps: list[ExplicitDep] = []
    if state.tasks:
        wanted = draw(st.integers(1 if state.in_manual else 0, limits.max_deps))
        for _ in range(wanted):
            producer = state.tasks[len(state.tasks) - 1 - draw(st.integers(0, len(state.tasks) - 1))]
            if all(d.task != producer for d in deps):
                kind = draw(st.sampled_from((DepKind.WAIT_RETAIN, DepKind.WAIT)))
                deps.append(ExplicitDep(producer, kind))
    state.buffers.extend(created)
    return Submit(name, kernel_ids, tuple(args), tuple(deps), block_num=block_num, early_resolve=early)


def _alloc(draw: st.DrawFn, state: _ProgramState) -> Alloc:
    created: list[_Buf] = []
    outputs = tuple(_output(draw, state, created) for _ in range(draw(st.integers(1, 3))))
    state.buffers.extend(created)
    return Alloc(f"t{len(state.tasks)}", outputs)


_OP_KINDS = (
    "submit",
    "scope",
    "submit",
    "end",
    "loop",
    "submit",
    "alloc",
    "end",
    "scope",
    "loop",
    "tensor_data",
    "deep",
    "overflow",
)


def _overflow(draw: st.DrawFn, state: _ProgramState) -> bool:
    """Rarely submit into a full frame anyway: the runtime's own SCOPE_DEADLOCK fatal."""
    return state.limits.scope_overflow and _one_in(draw, 6)


def _scope_mode(draw: st.DrawFn, state: _ProgramState) -> ScopeMode:
    limits = state.limits
    if state.in_manual:
        # AUTO inside MANUAL is the runtime's own INVALID_ARGS fatal: rare, and only when allowed.
        return ScopeMode.AUTO if limits.auto_in_manual and _one_in(draw, 5) else ScopeMode.MANUAL
    return ScopeMode.MANUAL if limits.manual_scopes and _one_in(draw, 4) else ScopeMode.AUTO


def _open(state: _ProgramState, mode: ScopeMode) -> None:
    state.frames.append(_Frame(mode))
    state.ops.append(ScopeBegin(mode))


def _close(state: _ProgramState) -> None:
    state.frames.pop()
    state.ops.append(ScopeEnd())


def _add_task(draw: st.DrawFn, state: _ProgramState, alloc: bool, produce: bool = False) -> None:
    task: Submit | Alloc = _alloc(draw, state) if alloc else _submit(draw, state, produce)
    state.ops.append(task)
    state.tasks.append(task.name)
    state.frames[-1].count += 1


def _loop(draw: st.DrawFn, state: _ProgramState, target: int) -> None:
    """A loop of sibling scopes, like the block loops of real orchestrations: many tasks on one ring
    (slot reuse, heap wrap) with each iteration's tasks drawn afresh."""
    mode = _scope_mode(draw, state)
    body = draw(st.integers(1, 4))
    for _ in range(draw(st.integers(1, 6))):
        if len(state.tasks) >= target:
            return
        _open(state, mode)
        for i in range(body):
            if len(state.tasks) >= target or (state.frame_full() and not _overflow(draw, state)):
                break
            # Each iteration's first task allocates heap, as a block loop's producers do: heap traffic
            # on one ring beyond its size makes wraps, exact fits and rebases.
            _add_task(draw, state, alloc=_one_in(draw, 4), produce=i == 0)
        _close(state)


@st.composite
def _step(draw: st.DrawFn, state: _ProgramState, kinds: tuple[str, ...], target: int) -> None:
    """One step of the program (an op, or a whole loop), drawn in its own span so that shrinking can
    delete it as a unit."""
    kind = draw(st.sampled_from(kinds))
    if kind in ("submit", "alloc") and state.frame_full() and not _overflow(draw, state):
        kind = "end" if state.depth > 0 else "scope"
    if kind == "overflow":
        # Fill the current frame to W - 1 tasks and submit one more: the runtime's SCOPE_DEADLOCK.
        room = state.windows[min(state.depth, NUM_RINGS - 1)] - 1 - state.frames[-1].count
        if _overflow(draw, state) and room + 1 <= target - len(state.tasks):
            for _ in range(room + 1):
                _add_task(draw, state, alloc=False)
        return
    if kind == "deep":
        for _ in range(max(0, min(3, state.limits.max_depth) - state.depth)):
            _open(state, _scope_mode(draw, state))  # down to ring 3 in one step
        return
    if kind in ("scope", "loop") and state.depth >= state.limits.max_depth:
        return
    if kind == "scope":
        _open(state, _scope_mode(draw, state))
    elif kind == "loop":
        _loop(draw, state, target)
    elif kind == "end":
        if state.depth > 0:
            _close(state)
    elif kind == "tensor_data":
        if state.limits.tensor_data:
            buf = state.pick_buffer(draw)
            state.ops.append(TensorData(_one_in(draw, 4), _use(buf, _region(draw, buf))))
    else:
        _add_task(draw, state, alloc=kind == "alloc")


def _externals(draw: st.DrawFn, state: _ProgramState) -> tuple[Buffer, ...]:
    """The program's external (host) buffers: 1..limits.max_external_buffers small 2-D buffers."""
    for i in range(draw(st.integers(1, state.limits.max_external_buffers))):
        rows, cols = _dims(draw, False)
        state.buffers.append(_Buf(f"x{i}", rows, cols, draw(st.sampled_from(_DTYPES)), external=True))
    return tuple(Buffer(b.name, b.dtype, b.numel, external=True) for b in state.buffers)


@st.composite
def programs(
    draw: st.DrawFn, windows: tuple[int, int, int, int], limits: ProgramLimits = DEFAULT_LIMITS
) -> tuple[tuple[Buffer, ...], tuple[Op, ...]]:
    """(external buffers, program) with at most `limits.max_tasks` tasks; scopes are balanced."""
    state = _ProgramState(windows, limits)
    externals = _externals(draw, state)
    target = limits.max_tasks
    budget = 4 * target + 8  # bounds the steps whatever the draws
    # A "more" draw before every step, as Hypothesis's own lists do: shrinking stops the program early
    # or deletes a step (flag and span) without disturbing the steps after it.
    first = True
    while len(state.tasks) < target and budget > 0 and (first or draw(st.integers(0, 11)) != 0):
        first = False
        budget -= 1
        draw(_step(state, _OP_KINDS, target))
    state.ops.extend(ScopeEnd() for _ in range(state.depth))
    return externals, tuple(state.ops)


class ProgramBuilder:
    """A program built one op at a time from the draws `programs` makes for that op (for state machines
    whose rules submit tasks and open and close scopes): each op keeps the program valid; `program()` closes
    the scopes still open. `draw` is any draw function (a rule's `st.data().draw`)."""

    def __init__(self, draw: st.DrawFn, windows: tuple[int, int, int, int], limits: ProgramLimits = DEFAULT_LIMITS) -> None:
        self._state = _ProgramState(windows, limits)
        self.externals = _externals(draw, self._state)

    @property
    def limits(self) -> ProgramLimits:
        return self._state.limits

    @property
    def depth(self) -> int:
        return self._state.depth

    @property
    def task_count(self) -> int:
        return len(self._state.tasks)

    def can_open_scope(self) -> bool:
        return self._state.depth < self._state.limits.max_depth

    def can_add_task(self) -> bool:
        return len(self._state.tasks) < self._state.limits.max_tasks

    def open_scope(self, draw: st.DrawFn) -> ScopeMode:
        """Open a scope (MANUAL sometimes; AUTO inside MANUAL rarely, the runtime's INVALID_ARGS)."""
        assert self.can_open_scope()
        mode = _scope_mode(draw, self._state)
        _open(self._state, mode)
        return mode

    def close_scope(self) -> None:
        assert self._state.depth > 0
        _close(self._state)

    def add_task(self, draw: st.DrawFn, alloc: bool) -> Submit | Alloc | None:
        """A submit (or a hidden alloc task); None when the current frame is full (W - 1 tasks) and the draw
        does not ask for the overflow (the runtime's SCOPE_DEADLOCK)."""
        assert self.can_add_task()
        state = self._state
        if state.frame_full() and not _overflow(draw, state):
            return None
        _add_task(draw, state, alloc)
        task = state.ops[-1]
        assert isinstance(task, Submit | Alloc)
        return task

    def replace_last_task(self, task: Submit) -> None:
        """Swap the op just added for `task` (same name, same created buffers: only its kernels may differ)."""
        last = self._state.ops[-1]
        assert isinstance(last, Submit) and last.name == task.name and last.args == task.args
        self._state.ops[-1] = task

    def tensor_data(self, draw: st.DrawFn) -> TensorData | None:
        """get/set_tensor_data on a view of a live buffer (None when the limits exclude them)."""
        state = self._state
        if not state.limits.tensor_data:
            return None
        buf = state.pick_buffer(draw)
        op = TensorData(_one_in(draw, 4), _use(buf, _region(draw, buf)))
        state.ops.append(op)
        return op

    def program(self) -> tuple[Op, ...]:
        """The ops so far, with every open scope closed."""
        return (*self._state.ops, *(ScopeEnd() for _ in range(self._state.depth)))


# ------------------------------------------------------------------------------------- configurations


@st.composite
def windows(draw: st.DrawFn, choices: tuple[int, ...] = _WINDOW_WEIGHTS) -> tuple[int, int, int, int]:
    w = [draw(st.sampled_from(choices)) for _ in range(NUM_RINGS)]
    return (w[0], w[1], w[2], w[3])


@st.composite
def _resources(draw: st.DrawFn, scenario: Scenario, sizing: Sizing, need: Requirements) -> Scenario:
    """Heaps, dep pools, TensorMap pool and ready-queue capacity drawn from the program's needs.

    within: each resource at its need (at least the format's minimum) plus a small slack, so the run is
    tight (wraps, exact fits, rebases, reclaim throttling) yet INV-S6 holds. outside: at least one
    resource the program can exceed is set below its need."""
    cfg = scenario.config
    consts = cfg.constants
    heap_slack = (0, 0, 64, 1024)
    heaps = [max(1024, need.heap_bytes[r]) + draw(st.sampled_from(heap_slack)) for r in range(NUM_RINGS)]
    deps = [max(4, need.dep_pool[r]) + draw(st.integers(0, 4)) for r in range(NUM_RINGS)]
    deps = [min(d, max(16, need.dep_pool[r])) for r, d in enumerate(deps)]
    tmap = consts.tensormap_pool_size
    if draw(st.booleans()):
        tmap = max(1, need.tensormap_pool) + draw(st.integers(0, 2))
    ready = consts.ready_queue_capacity
    if draw(st.booleans()):
        ready = need.ready_queue + draw(st.integers(0, 2))
    if sizing == "any":
        sizing = "outside" if _one_in(draw, 4) else "within"
    if sizing == "outside":
        # Every resource that can be set below its need (the format's minima permitting) is a candidate.
        candidates: list[tuple[str, int]] = [("ready", 0)] if need.ready_queue > 1 else []
        candidates += [("heap", r) for r in range(NUM_RINGS) if need.heap_bytes[r] > 1024]
        candidates += [("dep", r) for r in range(NUM_RINGS) if need.dep_pool[r] > 4]
        if need.tensormap_pool > 1:
            candidates.append(("tensormap", 0))
        if candidates:
            what, r = draw(st.sampled_from(candidates))
            if what == "heap":
                heaps[r] = draw(st.integers(1024, need.heap_bytes[r] - 1))
            elif what == "dep":
                deps[r] = draw(st.integers(4, need.dep_pool[r] - 1))
            elif what == "tensormap":
                tmap = draw(st.integers(1, need.tensormap_pool - 1))
            else:
                ready = draw(st.integers(1, need.ready_queue - 1))
    constants_ = replace(consts, tensormap_pool_size=tmap, ready_queue_capacity=ready)
    config = replace(
        cfg,
        heap_bytes=(heaps[0], heaps[1], heaps[2], heaps[3]),
        dep_pool=(deps[0], deps[1], deps[2], deps[3]),
        constants=constants_,
    )
    return replace(scenario, config=config)


def sized_for_program(draw: st.DrawFn, scenario: Scenario, sizing: Sizing) -> Scenario:
    """Draw the resources for `scenario`'s program, then record the outcome it decides."""
    info = ProgramInfo(scenario)
    needs = submit_needs(scenario, info)
    scenario = draw(_resources(scenario, sizing, requirements(scenario, needs)))
    report = check_sizing(scenario, needs)
    outcome = static_outcome(scenario, report, info)
    scaled = scenario.config.constants.scaled()
    notes = [report.describe()]
    if scaled:
        notes.append("scaled constants: " + ", ".join(f"{k}={v} (C++ {d})" for k, (d, v) in scaled.items()))
    if outcome is None:
        notes.insert(0, f"{UNDECIDED} (expected says complete but is not asserted)")
    desc = "; ".join(notes)
    return validate(replace(scenario, expected=outcome or Expected(), description=desc))


def outcome_is_decided(scenario: Scenario) -> bool:
    """True when the scenario's `expected` is what every run must reach (see `static_outcome`)."""
    return static_outcome(scenario) is not None


@st.composite
def scenarios(
    draw: st.DrawFn, limits: ProgramLimits = DEFAULT_LIMITS, sizing: Sizing = "any", name: str = "generated"
) -> Scenario:
    """A random valid scenario on a tiny configuration (see the module docstring)."""
    w = draw(windows(limits.window_choices))
    consts = draw(constants())
    externals, program = draw(programs(w, limits))
    config = Config(
        task_window=w,
        heap_bytes=(1024, 1024, 1024, 1024),
        dep_pool=(16, 16, 16, 16),
        scheduler_threads=draw(st.integers(1, 3)),
        clusters=draw(st.integers(1, limits.max_clusters)),
        serial_orch_sched=_one_in(draw, 10),
        constants=consts,
    )
    runs = 2 if limits.multi_round and _one_in(draw, 6) else 1
    scenario = Scenario(name, config, externals, program, runs=runs)
    return sized_for_program(draw, scenario, sizing)


@st.composite
def startup_failure_scenarios(
    draw: st.DrawFn, limits: ProgramLimits = DEFAULT_LIMITS, sizing: Sizing = "within"
) -> Scenario:
    """A generated scenario (`scenarios`) whose orchestrator takes an injected startup abort path
    (`Config.init_failure`, model.scenario.INIT_FAILURES) in one of its runs. The runs before it execute
    the program, so only programs whose outcome is every task consumed are drawn. (A separate strategy:
    `scenarios` draws exactly what it drew before, so generator seeds keep naming the same programs.)"""
    scenario = draw(scenarios(limits, sizing).filter(lambda s: s.expected.fatal is None))
    failure = draw(st.sampled_from(INIT_FAILURES))
    # as often after a complete run (deinit re-armed the executor) as in the first run, when the program
    # decides that its runs complete: not an empty program (it never ends its run: finding
    # F-PORT-EMPTY-PROGRAM-HANG), not serial orchestration (its flow-control waits may end in a fatal)
    run = 0
    decided = outcome_is_decided(scenario) and not scenario.config.serial_orch_sched
    if scenario.tasks() and decided and draw(st.booleans()):
        scenario = replace(scenario, runs=max(scenario.runs, 2))
        run = draw(st.integers(1, scenario.runs - 1))
    return validate(replace(scenario.with_config(init_failure=failure, init_failure_run=run),
                            name=f"{scenario.name}+{failure}@{run}"))


# ------------------------------------------------------------------------------------- paged attention

PA_HEADS = 16
PA_HEAD_DIM = 16
PA_BLOCK_SIZE = 16


@st.composite
def paged_attention_scenarios(
    draw: st.DrawFn, max_batch: int = 2, max_blocks: int = 3, sizing: Sizing = "any"
) -> Scenario:
    """The paged-attention family on a tiny configuration: AUTO, MANUAL or batched; per-batch context
    lengths 1..max_blocks*16 (ragged last blocks); a random valid block table, sometimes with entries
    past every batch's length (max_model_len > needed). The batched variant runs each batch for the
    longest batch's block count, so short batches get blocks past their length."""
    variant = draw(st.sampled_from(("auto", "manual", "batched")))
    batch = draw(st.integers(1, max_batch))
    ctx = [draw(st.integers(1, max_blocks * PA_BLOCK_SIZE)) for _ in range(batch)]
    nbns = [-(-c // PA_BLOCK_SIZE) for c in ctx]
    total_blocks = batch * max(nbns)
    extra = draw(st.integers(0, 2))
    blocks_per_req = max(nbns) + extra
    table = [[draw(st.integers(0, total_blocks - 1)) for _ in range(blocks_per_req)] for _ in range(batch)]
    w = draw(windows())
    if not _one_in(draw, 5):  # usually windows the program fits in; else anything (SCOPE_DEADLOCK)
        if variant == "manual":
            w = (w[0], 16, w[2], w[3])  # one MANUAL frame holds the alloc and 4 tasks per block
        else:
            w = (w[0], w[1], draw(st.sampled_from((8, 16))), w[3])  # a block's 4-task scope on ring 2
    config = Config(
        task_window=w,
        scheduler_threads=draw(st.integers(1, 3)),
        clusters=draw(st.integers(1, 2)),
        constants=draw(constants()),
    )
    max_model_len = blocks_per_req * PA_BLOCK_SIZE
    name = f"pa_{variant}_gen"
    if variant == "batched":
        scenario = batched_paged_attention(
            batch,
            PA_HEADS,
            PA_HEAD_DIM,
            PA_BLOCK_SIZE,
            ctx,
            max_model_len=max_model_len,
            config=config,
            name=name,
        )
    else:
        scenario = paged_attention(
            batch,
            PA_HEADS,
            PA_HEAD_DIM,
            PA_BLOCK_SIZE,
            ctx,
            block_table=table,
            q_tile=draw(st.sampled_from((PA_HEADS, PA_HEADS // 2))),
            manual_scope=variant == "manual",
            max_model_len=max_model_len,
            config=config,
            name=name,
        )
    return sized_for_program(draw, scenario, sizing)


# ------------------------------------------------------------------------------------- sync_start cohorts

_COHORT_KERNELS = ((0, 1, 1), (0, 1, -1), (-1, 2, 3), (1, -1, -1), (-1, 1, -1))


@st.composite
def sync_cohort_scenarios(draw: st.DrawFn, sizing: Sizing = "within", name: str = "generated_cohort") -> Scenario:
    """The sync_start drain's family (catalogue J04): 2-3 schedulers, 2-4 clusters, a sync_start cohort S
    whose block_num is at or just below its shape's core limit, independent holder tasks (any shape) that
    occupy cores, and optionally a producer Q that S waits for (then the holders are submitted after S, so
    S turns ready while they run). Task names and buffers are fixed; everything else is drawn."""
    threads = draw(st.integers(2, 3))
    clusters = draw(st.integers(threads, 4))
    kernels = draw(st.sampled_from(_COHORT_KERNELS))
    mask_bits = sum(1 for k in kernels if k >= 0)
    limit = 2 * clusters if mask_bits == 1 and kernels[0] < 0 else clusters
    block_num = draw(st.integers(max(2, limit - 1), limit))
    holders = draw(st.integers(1, 5))
    gated = draw(st.booleans())

    def out(buf: str) -> Arg:
        return Arg(Tag.OUTPUT, creates=OutputSpec(buf, (16,), "FLOAT32"))

    holder_ops: list[Op] = [
        Submit(f"H{i}", draw(st.sampled_from(_COHORT_KERNELS)), (out(f"h{i}"),)) for i in range(holders)
    ]
    program: list[Op] = []
    if gated:
        program.append(Submit("Q", draw(st.sampled_from(_COHORT_KERNELS)), (out("q"),)))
        program.append(Submit("S", kernels, (Arg(Tag.INPUT, Region("q", (16,), (1,))), out("s")),
                              block_num=block_num, sync_start=True))
        program += holder_ops
    else:
        program += holder_ops
        program.append(Submit("S", kernels, (out("s"),), block_num=block_num, sync_start=True))
    config = Config(task_window=(16, 16, 16, 16), heap_bytes=(1024, 1024, 1024, 1024), dep_pool=(16, 16, 16, 16),
                    scheduler_threads=threads, clusters=clusters)
    return sized_for_program(draw, Scenario(name, config, (), tuple(program)), sizing)
