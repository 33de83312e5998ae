"""The scenario format: one run (or several rounds) of the runtime, as a versioned JSON document.

A scenario is the one vocabulary every layer speaks: the configuration (ring sizes, pools, threads,
clusters, the C++ compile-time constants), how many rounds run on the same shared memory, the
orchestration program (scopes, submits with tagged tensor regions, hidden alloc tasks, explicit
dependencies, tensor-data waits), and the expected outcome.

Parsing is pure (`parse_scenario(text)`, `scenario_from_dict(doc)`); file I/O lives in `load_scenario`.
Anything that can never be a program is rejected with a `ScenarioError` naming the field. Programs the
runtime itself rejects at run time (AUTO inside MANUAL, ...) are valid scenarios whose expected outcome
is the runtime's fatal code.

Spec references: runtime-spec.md §1.1 (knobs and constants), §2.2 (submit), §2.5 (alloc / dummy),
§2.7 (scopes), §2.19 (explicit dependencies), §5 (argument tags).
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeAlias

from model.errors import ScenarioError

SCENARIO_FORMAT_VERSION = 1
NUM_RINGS = 4  # PTO2_MAX_RING_DEPTH
RUNTIMES = ("tensormap_and_ringbuffer", "aicpu_build_graph", "aicpu_build_graph_v2", "host_build_graph")
"""`aicpu_build_graph` is its first design (#36: fixed Task[] graph, add_task / add_successor_conditional /
publish_task under a graph mutex); `aicpu_build_graph_v2` its ring-buffer rewrite (#333: explicit
add_dependency, scope-end batch publish), which ran until the runtime's removal (#701)."""
MAX_TENSOR_DIMS = 5
INT32_MAX = 2**31 - 1

# Element sizes of the dtypes the runtime's DataType enum names (src/common/task_interface/data_type.h).
DTYPE_BYTES: dict[str, int] = {
    "FLOAT32": 4,
    "FLOAT16": 2,
    "BFLOAT16": 2,
    "INT32": 4,
    "UINT32": 4,
    "INT64": 8,
    "UINT64": 8,
    "INT16": 2,
    "UINT16": 2,
    "INT8": 1,
    "UINT8": 1,
    "BOOL": 1,
}


class Tag(enum.Enum):
    """`TensorArgType` (src/common/task_interface/tensor.h); spec §5."""

    INPUT = "INPUT"
    INOUT = "INOUT"
    OUTPUT = "OUTPUT"
    OUTPUT_EXISTING = "OUTPUT_EXISTING"
    NO_DEP = "NO_DEP"


class ScopeMode(enum.Enum):
    AUTO = "auto"
    MANUAL = "manual"


class DepKind(enum.Enum):
    """Explicit dependency kinds: `add_dep` / `set_dependencies` = WAIT|RETAIN, `add_dep_wait` = WAIT."""

    WAIT = "wait"
    WAIT_RETAIN = "wait_retain"


class Shape(enum.Enum):
    """`PTO2ResourceShape` derived from the active mask (`ActiveMask::to_shape`, RT/pto_submit_types.h)."""

    AIC = "AIC"
    AIV = "AIV"
    MIX = "MIX"
    DUMMY = "DUMMY"


class FatalCode(enum.IntEnum):
    """Orchestrator and scheduler error codes (TRB/common/pto_runtime_status.h; spec §2.15)."""

    SCOPE_DEADLOCK = 1
    HEAP_RING_DEADLOCK = 2
    FLOW_CONTROL_DEADLOCK = 3
    DEP_POOL_OVERFLOW = 4
    INVALID_ARGS = 5
    REQUIRE_SYNC_START_INVALID = 7
    TENSOR_WAIT_TIMEOUT = 8
    EXPLICIT_ORCH_FATAL = 9
    SCOPE_TASKS_OVERFLOW = 10
    TENSORMAP_OVERFLOW = 11
    SCHEDULER_TIMEOUT = 100


@dataclass(frozen=True)
class Constants:
    """C++ compile-time constants (RT/pto_runtime2_types.h unless noted), at their C++ defaults.

    A scenario may scale one down to keep a small run interesting; `scaled()` lists what differs, and
    every report and export must say so.
    """

    ready_queue_capacity: int = 65536  # PTO2_READY_QUEUE_SIZE (each of the 7 ready queues)
    early_dispatch_queue_capacity: int = 256  # PTO2_EARLY_DISPATCH_QUEUE_SIZE
    deferred_release_capacity: int = 256  # PTO2_DEFERRED_RELEASE_CAP (SCHED/scheduler_completion.cpp)
    tensormap_cleanup_interval: int = 64  # PTO2_TENSORMAP_CLEANUP_INTERVAL
    dep_pool_cleanup_interval: int = 64  # PTO2_DEP_POOL_CLEANUP_INTERVAL
    fanin_inline_cap: int = 64  # PTO2_FANIN_INLINE_CAP
    tensormap_pool_size: int = 65536  # PTO2_TENSORMAP_POOL_SIZE
    tensormap_num_buckets: int = 4096  # PTO2_TENSORMAP_NUM_BUCKETS
    max_scope_depth: int = 64  # PTO2_MAX_SCOPE_DEPTH
    heap_align: int = 64  # PTO2_ALIGN_SIZE (RT/pto_constants.h)
    output_align: int = 1024  # PTO2_PACKED_OUTPUT_ALIGN (RT/pto_constants.h)
    dummy_drain_batch: int = 8  # DUMMY_DRAIN_BATCH (SCHED/scheduler_dispatch.cpp)
    spin_poll_interval: int = 1024  # the 1024-spin fatal/structural poll gate of every orchestrator wait
    idle_fatal_check_interval: int = 1024  # FATAL_ERROR_CHECK_INTERVAL

    def scaled(self) -> dict[str, tuple[int, int]]:
        """Constants that differ from the C++ default: name -> (default, value)."""
        default = Constants()
        out: dict[str, tuple[int, int]] = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(default, f.name)
            if mine != theirs:
                out[f.name] = (theirs, mine)
        return out


# AicpuExecutor::run's startup abort paths (tensormap_and_ringbuffer, in the order the C++ reaches them):
# an environment fault no program can cause, so a scenario injects one by name (`Config.init_failure`)
INIT_FAILURES = (
    "thread_index_out_of_bounds", "invalid_callable_id", "callable_not_registered", "arg_count_below_expected",
    "prebuilt_arena_null", "sm_init_per_ring_failed", "runtime_reset_for_reuse_failed",
)


@dataclass(frozen=True)
class Config:
    """Per-ring sizing (runtime_maker.cpp `resolve_ring_config`), threads and clusters.

    `task_window[r]` is W_r (power of two >= 4), `heap_bytes[r]` is H_r, `dep_pool[r]` sizes both the
    dep-list pool and the fanin spill pool of ring r (`PTO2_RING_DEP_POOL`).
    """

    task_window: tuple[int, int, int, int] = (16384, 16384, 16384, 16384)
    heap_bytes: tuple[int, int, int, int] = (256 << 20, 256 << 20, 256 << 20, 256 << 20)
    dep_pool: tuple[int, int, int, int] = (16384, 16384, 16384, 16384)
    scheduler_threads: int = 3
    clusters: int = 24  # each cluster is {AIC, AIV0, AIV1}; cluster ci is owned by thread ci % threads
    gm_heap_base: int = 0x1_0000_0000  # base address of the single carved GM heap allocation
    serial_orch_sched: bool = False  # SIMPLER_TMR_SERIAL_ORCH_SCHED_ENABLE
    constants: Constants = field(default_factory=Constants)
    init_failure: str = ""  # one of INIT_FAILURES: the orchestrator's startup takes that abort path ("" = none)
    init_failure_run: int = 0  # ... in this run (0-based)
    # the machine the step-level port runs on: "sc" (every store visible at once) or "tso" (per-thread
    # store buffers, runtime/store_buffer.py); the reference model is sequentially consistent either way
    memory_model: str = "sc"

    def heap_base(self, ring: int) -> int:
        """Rings are carved consecutively from one GM heap: [H_0][H_1][H_2][H_3] (spec §1.10)."""
        return self.gm_heap_base + sum(self.heap_bytes[:ring])

    def cluster_owner(self, cluster: int) -> int:
        return cluster % self.scheduler_threads


@dataclass(frozen=True)
class Buffer:
    """A tensor buffer the program uses. External buffers come from the host; the others are created
    by an OUTPUT argument or an `alloc_tensors` output (their owner task is the creator)."""

    name: str
    dtype: str
    numel: int
    external: bool

    @property
    def nbytes(self) -> int:
        return self.numel * DTYPE_BYTES[self.dtype]


@dataclass(frozen=True)
class Region:
    """A view of a buffer: element offset, shape and element strides (row-major when not given)."""

    buffer: str
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    offset: int = 0
    version: int = 0
    dtype: str | None = None  # None: the buffer's dtype

    def max_element(self) -> int:
        """Largest element index the region touches (shape entries are >= 1)."""
        return self.offset + sum((n - 1) * s for n, s in zip(self.shape, self.strides, strict=True))


@dataclass(frozen=True)
class OutputSpec:
    """A `TensorCreateInfo`: the buffer an OUTPUT argument (or `alloc_tensors`) creates."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class Arg:
    tag: Tag
    region: Region | None = None  # every tag but OUTPUT
    creates: OutputSpec | None = None  # OUTPUT only
    manual_dep: bool = False


@dataclass(frozen=True)
class ExplicitDep:
    task: str
    kind: DepKind = DepKind.WAIT_RETAIN


@dataclass(frozen=True)
class ScopeBegin:
    mode: ScopeMode = ScopeMode.AUTO


@dataclass(frozen=True)
class ScopeEnd:
    pass


@dataclass(frozen=True)
class Submit:
    """`rt_submit_*_task` / `submit_dummy_task`. The shape follows from `kernel_ids` [aic, aiv0, aiv1]."""

    name: str
    kernel_ids: tuple[int, int, int]
    args: tuple[Arg, ...] = ()
    deps: tuple[ExplicitDep, ...] = ()
    block_num: int = 1
    sync_start: bool = False
    early_resolve: bool = False

    @property
    def shape(self) -> Shape:
        active = [k >= 0 for k in self.kernel_ids]
        n = sum(active)
        if n == 0:
            return Shape.DUMMY
        if n >= 2:
            return Shape.MIX
        return Shape.AIC if active[0] else Shape.AIV

    @property
    def subtasks_per_block(self) -> int:
        return sum(1 for k in self.kernel_ids if k >= 0)


@dataclass(frozen=True)
class Alloc:
    """`alloc_tensors(...)`: a hidden task, COMPLETED at submit, that owns heap buffers (spec §2.5)."""

    name: str
    outputs: tuple[OutputSpec, ...]


@dataclass(frozen=True)
class TensorData:
    """`get_tensor_data` (waits for the owner and the TensorMap writers) or `set_tensor_data`
    (also waits until their claimed consumers released); spec §2.13."""

    write: bool
    region: Region


Op: TypeAlias = ScopeBegin | ScopeEnd | Submit | Alloc | TensorData


@dataclass(frozen=True)
class Expected:
    """The outcome a correct runtime reaches: every task consumed, or the runtime's own fatal code."""

    fatal: FatalCode | None = None

    @property
    def label(self) -> str:
        return "complete" if self.fatal is None else f"fatal {self.fatal.name}({int(self.fatal)})"


@dataclass(frozen=True)
class Scenario:
    name: str
    config: Config
    buffers: tuple[Buffer, ...]  # external buffers only; created ones are derived (see `all_buffers`)
    program: tuple[Op, ...]
    runs: int = 1
    expected: Expected = field(default_factory=Expected)
    runtime: str = "tensormap_and_ringbuffer"
    description: str = ""

    def tasks(self) -> tuple[Submit | Alloc, ...]:
        return tuple(op for op in self.program if isinstance(op, Submit | Alloc))

    def all_buffers(self) -> dict[str, Buffer]:
        """External and created buffers by name, in declaration order."""
        out = {b.name: b for b in self.buffers}
        for op in self.program:
            for spec in _created_outputs(op):
                out[spec.name] = Buffer(spec.name, spec.dtype, spec.numel, external=False)
        return out

    def with_config(self, **changes: Any) -> Scenario:
        return replace(self, config=replace(self.config, **changes))


def _created_outputs(op: Op) -> tuple[OutputSpec, ...]:
    if isinstance(op, Alloc):
        return op.outputs
    if isinstance(op, Submit):
        return tuple(a.creates for a in op.args if a.creates is not None)
    return ()


def row_major_strides(shape: Sequence[int]) -> tuple[int, ...]:
    strides = []
    acc = 1
    for n in reversed(shape):
        strides.append(acc)
        acc *= n
    return tuple(reversed(strides))


def align_up(value: int, align: int) -> int:
    return (value + align - 1) // align * align


def output_bytes(spec: OutputSpec, constants: Constants) -> int:
    """Heap bytes one OUTPUT takes in its task's packed block: rounded to PTO2_PACKED_OUTPUT_ALIGN (O1)."""
    return align_up(spec.numel * DTYPE_BYTES[spec.dtype], constants.output_align)


def task_heap_request(task: Submit | Alloc, constants: Constants) -> int:
    """Total bytes a task asks the heap for (O1 layout, then `alloc`'s 64-byte rounding, §2.13)."""
    total = sum(output_bytes(spec, constants) for spec in _created_outputs(task))
    return align_up(total, constants.heap_align)


# --------------------------------------------------------------------------------------------------
# Validation: everything that can never be a program.
# --------------------------------------------------------------------------------------------------


def _validate_init_failure(scenario: Scenario) -> None:
    cfg = scenario.config
    if not cfg.init_failure:
        if cfg.init_failure_run:
            raise ScenarioError("init_failure_run is set without an init_failure", "config.init_failure_run")
        return
    if cfg.init_failure not in INIT_FAILURES:
        raise ScenarioError(f"unknown init_failure {cfg.init_failure!r}", "config.init_failure",
                            f"use one of {', '.join(INIT_FAILURES)}")
    if scenario.runtime != "tensormap_and_ringbuffer":
        raise ScenarioError(f"init_failure is injected only into tensormap_and_ringbuffer, not {scenario.runtime}",
                            "config.init_failure", "drop init_failure or use runtime tensormap_and_ringbuffer")
    if not 0 <= cfg.init_failure_run < scenario.runs:
        raise ScenarioError(f"init_failure_run {cfg.init_failure_run} is not a run of the scenario (runs = "
                            f"{scenario.runs})", "config.init_failure_run")
    if scenario.expected.fatal is not None:
        raise ScenarioError("a startup abort latches no fatal code: expect the outcome 'complete' (the runs "
                            "before the failing one complete; the failing run runs no task)", "expected")


MEMORY_MODELS = ("sc", "tso")


def _validate_memory_model(scenario: Scenario) -> None:
    model = scenario.config.memory_model
    if model not in MEMORY_MODELS:
        raise ScenarioError(f"unknown memory_model {model!r}", "config.memory_model",
                            f"use one of {', '.join(MEMORY_MODELS)}")
    if model != "sc" and scenario.runtime != "tensormap_and_ringbuffer":
        raise ScenarioError(f"memory_model {model!r} is implemented only for tensormap_and_ringbuffer's port, "
                            f"not {scenario.runtime}", "config.memory_model",
                            "drop memory_model or use runtime tensormap_and_ringbuffer")


def validate(scenario: Scenario) -> Scenario:
    """Check a scenario; raise ScenarioError naming the first bad field. Returns the scenario."""
    _validate_config(scenario.config)
    if scenario.runtime not in RUNTIMES:
        raise ScenarioError(f"unknown runtime {scenario.runtime!r}", "runtime", f"use one of {', '.join(RUNTIMES)}")
    if scenario.runs < 1:
        raise ScenarioError(f"runs must be >= 1, got {scenario.runs}", "runs")
    _validate_init_failure(scenario)
    _validate_memory_model(scenario)
    buffers: dict[str, Buffer] = {}
    for i, b in enumerate(scenario.buffers):
        where = f"buffers[{i}]"
        if not b.external:
            raise ScenarioError("declared buffers are external; created buffers come from OUTPUT args", where)
        _check_new_name(b.name, buffers, f"{where}.name")
        _check_dtype(b.dtype, f"{where}.dtype")
        if b.numel < 1:
            raise ScenarioError(f"numel must be >= 1, got {b.numel}", f"{where}.numel")
        buffers[b.name] = b
    task_names: set[str] = set()
    all_task_names = {t.name for t in scenario.tasks()}
    depth = 0
    open_scope_ops: list[int] = []
    for i, op in enumerate(scenario.program):
        where = f"program[{i}]"
        if isinstance(op, ScopeBegin):
            depth += 1
            open_scope_ops.append(i)
            if depth >= scenario.config.constants.max_scope_depth:
                raise ScenarioError(
                    f"scope depth {depth} reaches PTO2_MAX_SCOPE_DEPTH ({scenario.config.constants.max_scope_depth})",
                    where,
                    "the runtime asserts in begin_scope; nest fewer scopes",
                )
        elif isinstance(op, ScopeEnd):
            if depth == 0:
                raise ScenarioError("scope_end without a matching scope_begin", where)
            depth -= 1
            open_scope_ops.pop()
        elif isinstance(op, Submit | Alloc):
            if op.name in task_names:
                raise ScenarioError(f"duplicate task name {op.name!r}", f"{where}.name")
            task_names.add(op.name)
            if isinstance(op, Submit):
                _validate_submit(op, where, buffers, all_task_names)
            else:
                if not op.outputs:
                    raise ScenarioError("alloc needs at least one output", f"{where}.outputs")
            for j, spec in enumerate(_created_outputs(op)):
                _validate_output(spec, f"{where}.outputs[{j}]", buffers)
                buffers[spec.name] = Buffer(spec.name, spec.dtype, spec.numel, external=False)
        elif isinstance(op, TensorData):
            _validate_region(op.region, f"{where}.region", buffers)
        else:  # pragma: no cover - the Op union is closed
            raise ScenarioError(f"unknown op {op!r}", where)
    if open_scope_ops:
        raise ScenarioError(
            f"scope opened at program[{open_scope_ops[-1]}] is never closed", "program", "add a scope_end"
        )
    return scenario


def _validate_config(cfg: Config) -> None:
    for r in range(NUM_RINGS):
        w = cfg.task_window[r]
        if w < 4 or w > INT32_MAX or w & (w - 1):
            raise ScenarioError(
                f"task window {w} is not a power of two in [4, INT32_MAX]",
                f"config.task_window[{r}]",
                "the runtime validates PTO2_RING_TASK_WINDOW the same way (runtime_maker.cpp)",
            )
        if cfg.heap_bytes[r] < 1024:
            raise ScenarioError(f"heap of {cfg.heap_bytes[r]} bytes is below 1024", f"config.heap_bytes[{r}]")
        if not 4 <= cfg.dep_pool[r] <= INT32_MAX:
            raise ScenarioError(f"dep pool {cfg.dep_pool[r]} is outside [4, INT32_MAX]", f"config.dep_pool[{r}]")
    if not 1 <= cfg.scheduler_threads <= 3:
        raise ScenarioError(
            f"scheduler_threads must be 1..3 (aicpu_thread_num <= 4 incl. the orchestrator), got {cfg.scheduler_threads}",
            "config.scheduler_threads",
        )
    if not 1 <= cfg.clusters <= 24:
        raise ScenarioError(f"clusters must be 1..24 (a2a3), got {cfg.clusters}", "config.clusters")
    if cfg.gm_heap_base <= 0:
        raise ScenarioError("gm_heap_base must be a non-zero address", "config.gm_heap_base")
    for f in fields(cfg.constants):
        if getattr(cfg.constants, f.name) < 1:
            raise ScenarioError(f"constant must be >= 1, got {getattr(cfg.constants, f.name)}", f"config.constants.{f.name}")
    for name in ("heap_align", "output_align"):
        v = getattr(cfg.constants, name)
        if v & (v - 1):
            raise ScenarioError(f"{name} must be a power of two, got {v}", f"config.constants.{name}")


def _check_new_name(name: str, seen: Mapping[str, object], where: str) -> None:
    if not name or not isinstance(name, str):
        raise ScenarioError("name must be a non-empty string", where)
    if name in seen:
        raise ScenarioError(f"duplicate buffer name {name!r}", where)


def _check_dtype(dtype: str, where: str) -> None:
    if dtype not in DTYPE_BYTES:
        raise ScenarioError(f"unknown dtype {dtype!r}", where, f"use one of {', '.join(DTYPE_BYTES)}")


def _validate_output(spec: OutputSpec, where: str, buffers: Mapping[str, Buffer]) -> None:
    _check_new_name(spec.name, buffers, f"{where}.name")
    _check_dtype(spec.dtype, f"{where}.dtype")
    if not 1 <= len(spec.shape) <= MAX_TENSOR_DIMS or any(n < 1 for n in spec.shape):
        raise ScenarioError(f"output shape {list(spec.shape)} must have 1..5 dims, each >= 1", f"{where}.shape")


def _validate_region(region: Region, where: str, buffers: Mapping[str, Buffer]) -> None:
    if region.buffer not in buffers:
        raise ScenarioError(
            f"region refers to buffer {region.buffer!r}, which is not declared or not yet created",
            f"{where}.buffer",
            "declare external buffers under 'buffers'; created buffers exist only after their OUTPUT",
        )
    buf = buffers[region.buffer]
    ndims = len(region.shape)
    if not 1 <= ndims <= MAX_TENSOR_DIMS or any(n < 1 for n in region.shape):
        raise ScenarioError(f"region shape {list(region.shape)} must have 1..5 dims, each >= 1", f"{where}.shape")
    if len(region.strides) != ndims or any(s < 1 for s in region.strides):
        raise ScenarioError(
            f"strides {list(region.strides)} must be {ndims} positive integers", f"{where}.strides"
        )
    if region.offset < 0 or region.version < 0:
        raise ScenarioError("offset and version must be >= 0", where)
    if region.dtype is not None:
        _check_dtype(region.dtype, f"{where}.dtype")
    if region.max_element() >= buf.numel:
        raise ScenarioError(
            f"region reaches element {region.max_element()} but buffer {buf.name!r} has {buf.numel} elements",
            where,
        )


def _validate_submit(op: Submit, where: str, buffers: Mapping[str, Buffer], task_names: set[str]) -> None:
    if any(k < -1 for k in op.kernel_ids):
        raise ScenarioError("kernel ids are >= 0, or -1 for an unused subslot", f"{where}.kernel_ids")
    if op.block_num < 1 or op.block_num > 32767:
        raise ScenarioError(f"block_num must be 1..32767 (int16), got {op.block_num}", f"{where}.block_num")
    if op.shape is Shape.DUMMY and op.block_num != 1:
        raise ScenarioError("a dummy task has block_num 1", f"{where}.block_num")
    for j, arg in enumerate(op.args):
        aw = f"{where}.args[{j}]"
        if arg.tag is Tag.OUTPUT:
            if arg.creates is None or arg.region is not None:
                raise ScenarioError("an OUTPUT arg has 'creates' and no region", aw)
        else:
            if arg.region is None or arg.creates is not None:
                raise ScenarioError(f"a {arg.tag.value} arg has a region and no 'creates'", aw)
            _validate_region(arg.region, f"{aw}.region", buffers)
    for j, dep in enumerate(op.deps):
        if dep.task not in task_names:
            raise ScenarioError(f"explicit dependency on unknown task {dep.task!r}", f"{where}.deps[{j}].task")


# --------------------------------------------------------------------------------------------------
# JSON <-> dataclasses. The document is versioned by the "ptocheck_scenario" key.
# --------------------------------------------------------------------------------------------------

Json: TypeAlias = Any


def scenario_to_dict(s: Scenario) -> dict[str, Json]:
    cfg = s.config
    doc: dict[str, Json] = {
        "ptocheck_scenario": SCENARIO_FORMAT_VERSION,
        "name": s.name,
        "runtime": s.runtime,
        "description": s.description,
        "runs": s.runs,
        "config": {
            "task_window": list(cfg.task_window),
            "heap_bytes": list(cfg.heap_bytes),
            "dep_pool": list(cfg.dep_pool),
            "scheduler_threads": cfg.scheduler_threads,
            "clusters": cfg.clusters,
            "gm_heap_base": cfg.gm_heap_base,
            "serial_orch_sched": cfg.serial_orch_sched,
            "constants": {k: v for k, (_, v) in cfg.constants.scaled().items()},
            # written only when set, so every scenario without a startup failure keeps its exact text
            **({"init_failure": cfg.init_failure, "init_failure_run": cfg.init_failure_run} if cfg.init_failure else {}),
            **({"memory_model": cfg.memory_model} if cfg.memory_model != "sc" else {}),
        },
        "buffers": [{"name": b.name, "dtype": b.dtype, "numel": b.numel} for b in s.buffers],
        "program": [_op_to_dict(op) for op in s.program],
        "expected": {"outcome": "complete"}
        if s.expected.fatal is None
        else {"outcome": "fatal", "code": s.expected.fatal.name},
    }
    return doc


def dump_scenario(s: Scenario) -> str:
    """Canonical JSON text (stable key order, one op per line) for files and artifacts."""
    doc = scenario_to_dict(s)
    program = doc.pop("program")
    head = json.dumps(doc, indent=1)
    ops = ",\n  ".join(json.dumps(op, separators=(",", ":")) for op in program)
    return head[:-2] + ',\n "program": [\n  ' + ops + "\n ]\n}\n"


def _region_to_dict(r: Region) -> dict[str, Json]:
    d: dict[str, Json] = {"buffer": r.buffer, "shape": list(r.shape), "strides": list(r.strides)}
    if r.offset:
        d["offset"] = r.offset
    if r.version:
        d["version"] = r.version
    if r.dtype is not None:
        d["dtype"] = r.dtype
    return d


def _output_to_dict(o: OutputSpec) -> dict[str, Json]:
    return {"name": o.name, "shape": list(o.shape), "dtype": o.dtype}


def _op_to_dict(op: Op) -> dict[str, Json]:
    if isinstance(op, ScopeBegin):
        return {"op": "scope_begin", "mode": op.mode.value}
    if isinstance(op, ScopeEnd):
        return {"op": "scope_end"}
    if isinstance(op, Alloc):
        return {"op": "alloc", "name": op.name, "outputs": [_output_to_dict(o) for o in op.outputs]}
    if isinstance(op, TensorData):
        return {"op": "set_tensor_data" if op.write else "get_tensor_data", "region": _region_to_dict(op.region)}
    d: dict[str, Json] = {"op": "submit", "name": op.name, "kernel_ids": list(op.kernel_ids)}
    args = []
    for a in op.args:
        ad: dict[str, Json] = {"tag": a.tag.value}
        if a.creates is not None:
            ad["creates"] = _output_to_dict(a.creates)
        if a.region is not None:
            ad["region"] = _region_to_dict(a.region)
        if a.manual_dep:
            ad["manual_dep"] = True
        args.append(ad)
    d["args"] = args
    if op.deps:
        d["deps"] = [{"task": dep.task, "kind": dep.kind.value} for dep in op.deps]
    if op.block_num != 1:
        d["block_num"] = op.block_num
    if op.sync_start:
        d["sync_start"] = True
    if op.early_resolve:
        d["early_resolve"] = True
    return d


class _Reader:
    """Typed field access that names the JSON location of every problem."""

    def __init__(self, doc: Json, where: str) -> None:
        if not isinstance(doc, dict):
            raise ScenarioError(f"expected an object, got {type(doc).__name__}", where)
        self.doc: dict[str, Json] = doc
        self.where = where

    def at(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def has(self, key: str) -> bool:
        return key in self.doc

    def raw(self, key: str, default: Json = ...) -> Json:
        if key not in self.doc:
            if default is ...:
                raise ScenarioError(f"missing field {key!r}", self.at(key))
            return default
        return self.doc[key]

    def int_(self, key: str, default: Json = ...) -> int:
        v = self.raw(key, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise ScenarioError(f"expected an integer, got {v!r}", self.at(key))
        return v

    def bool_(self, key: str, default: Json = ...) -> bool:
        v = self.raw(key, default)
        if not isinstance(v, bool):
            raise ScenarioError(f"expected true/false, got {v!r}", self.at(key))
        return v

    def str_(self, key: str, default: Json = ...) -> str:
        v = self.raw(key, default)
        if not isinstance(v, str):
            raise ScenarioError(f"expected a string, got {v!r}", self.at(key))
        return v

    def ints(self, key: str, default: Json = ...) -> tuple[int, ...]:
        v = self.raw(key, default)
        if not isinstance(v, list) or any(isinstance(x, bool) or not isinstance(x, int) for x in v):
            raise ScenarioError(f"expected a list of integers, got {v!r}", self.at(key))
        return tuple(v)

    def list_(self, key: str, default: Json = ...) -> list[Json]:
        v = self.raw(key, default)
        if not isinstance(v, list):
            raise ScenarioError(f"expected a list, got {type(v).__name__}", self.at(key))
        return v

    def obj(self, key: str, default: Json = ...) -> _Reader:
        return _Reader(self.raw(key, default), self.at(key))

    def enum_(self, key: str, cls: type[enum.Enum], default: Json = ...) -> Any:
        v = self.raw(key, default)
        if isinstance(v, cls):
            return v
        try:
            return cls(v)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in cls)
            raise ScenarioError(f"unknown value {v!r}", self.at(key), f"use one of {allowed}") from None

    def unknown_keys(self, allowed: set[str]) -> None:
        extra = sorted(set(self.doc) - allowed)
        if extra:
            raise ScenarioError(f"unknown field(s) {extra}", self.where or "<document>", "check the spelling")


def _per_ring(r: _Reader, key: str, default: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    if not r.has(key):
        return default
    v = r.raw(key)
    if isinstance(v, int) and not isinstance(v, bool):
        return (v, v, v, v)  # a scalar is broadcast to every ring, as the runtime's env knob does
    vals = r.ints(key)
    if len(vals) != NUM_RINGS:
        raise ScenarioError(f"expected a scalar or {NUM_RINGS} per-ring values, got {len(vals)}", r.at(key))
    return (vals[0], vals[1], vals[2], vals[3])


def _config_from(r: _Reader) -> Config:
    r.unknown_keys(
        {"task_window", "heap_bytes", "dep_pool", "scheduler_threads", "clusters", "gm_heap_base",
         "serial_orch_sched", "constants", "init_failure", "init_failure_run", "memory_model"}
    )
    base = Config()
    consts = Constants()
    if r.has("constants"):
        cr = r.obj("constants")
        known = {f.name for f in fields(Constants)}
        cr.unknown_keys(known)
        consts = Constants(**{k: cr.int_(k) for k in cr.doc})
    return Config(
        task_window=_per_ring(r, "task_window", base.task_window),
        heap_bytes=_per_ring(r, "heap_bytes", base.heap_bytes),
        dep_pool=_per_ring(r, "dep_pool", base.dep_pool),
        scheduler_threads=r.int_("scheduler_threads", base.scheduler_threads),
        clusters=r.int_("clusters", base.clusters),
        gm_heap_base=r.int_("gm_heap_base", base.gm_heap_base),
        serial_orch_sched=r.bool_("serial_orch_sched", base.serial_orch_sched),
        constants=consts,
        init_failure=r.str_("init_failure", base.init_failure),
        init_failure_run=r.int_("init_failure_run", base.init_failure_run),
        memory_model=r.str_("memory_model", base.memory_model),
    )


def _region_from(r: _Reader) -> Region:
    r.unknown_keys({"buffer", "shape", "strides", "offset", "version", "dtype"})
    shape = r.ints("shape")
    strides = r.ints("strides") if r.has("strides") else row_major_strides(shape)
    return Region(
        buffer=r.str_("buffer"),
        shape=shape,
        strides=strides,
        offset=r.int_("offset", 0),
        version=r.int_("version", 0),
        dtype=r.str_("dtype") if r.has("dtype") else None,
    )


def _output_from(r: _Reader) -> OutputSpec:
    r.unknown_keys({"name", "shape", "dtype"})
    return OutputSpec(name=r.str_("name"), shape=r.ints("shape"), dtype=r.str_("dtype"))


def _op_from(r: _Reader) -> Op:
    kind = r.str_("op")
    if kind == "scope_begin":
        r.unknown_keys({"op", "mode"})
        return ScopeBegin(r.enum_("mode", ScopeMode, "auto"))
    if kind == "scope_end":
        r.unknown_keys({"op"})
        return ScopeEnd()
    if kind == "alloc":
        r.unknown_keys({"op", "name", "outputs"})
        outs = tuple(_output_from(_Reader(o, f"{r.at('outputs')}[{i}]")) for i, o in enumerate(r.list_("outputs")))
        return Alloc(name=r.str_("name"), outputs=outs)
    if kind in ("get_tensor_data", "set_tensor_data"):
        r.unknown_keys({"op", "region"})
        return TensorData(write=kind == "set_tensor_data", region=_region_from(r.obj("region")))
    if kind == "submit":
        r.unknown_keys({"op", "name", "kernel_ids", "args", "deps", "block_num", "sync_start", "early_resolve"})
        kids = r.ints("kernel_ids")
        if len(kids) != 3:
            raise ScenarioError("kernel_ids is [aic, aiv0, aiv1]", r.at("kernel_ids"))
        args = []
        for i, a in enumerate(r.list_("args", [])):
            ar = _Reader(a, f"{r.at('args')}[{i}]")
            ar.unknown_keys({"tag", "region", "creates", "manual_dep"})
            args.append(
                Arg(
                    tag=ar.enum_("tag", Tag),
                    region=_region_from(ar.obj("region")) if ar.has("region") else None,
                    creates=_output_from(ar.obj("creates")) if ar.has("creates") else None,
                    manual_dep=ar.bool_("manual_dep", False),
                )
            )
        deps = []
        for i, d in enumerate(r.list_("deps", [])):
            dr = _Reader(d, f"{r.at('deps')}[{i}]")
            dr.unknown_keys({"task", "kind"})
            deps.append(ExplicitDep(task=dr.str_("task"), kind=dr.enum_("kind", DepKind, "wait_retain")))
        return Submit(
            name=r.str_("name"),
            kernel_ids=(kids[0], kids[1], kids[2]),
            args=tuple(args),
            deps=tuple(deps),
            block_num=r.int_("block_num", 1),
            sync_start=r.bool_("sync_start", False),
            early_resolve=r.bool_("early_resolve", False),
        )
    raise ScenarioError(
        f"unknown op {kind!r}",
        r.at("op"),
        "use scope_begin, scope_end, submit, alloc, get_tensor_data or set_tensor_data",
    )


def scenario_from_dict(doc: Json) -> Scenario:
    r = _Reader(doc, "")
    version = r.int_("ptocheck_scenario")
    if version != SCENARIO_FORMAT_VERSION:
        raise ScenarioError(
            f"unsupported scenario format version {version}",
            "ptocheck_scenario",
            f"this ptocheck reads version {SCENARIO_FORMAT_VERSION}",
        )
    r.unknown_keys(
        {"ptocheck_scenario", "name", "runtime", "description", "runs", "config", "buffers", "program", "expected"}
    )
    buffers = []
    for i, b in enumerate(r.list_("buffers", [])):
        br = _Reader(b, f"buffers[{i}]")
        br.unknown_keys({"name", "dtype", "numel"})
        buffers.append(Buffer(br.str_("name"), br.str_("dtype"), br.int_("numel"), external=True))
    program = tuple(_op_from(_Reader(op, f"program[{i}]")) for i, op in enumerate(r.list_("program")))
    expected = Expected()
    if r.has("expected"):
        er = r.obj("expected")
        er.unknown_keys({"outcome", "code"})
        outcome = er.str_("outcome")
        if outcome == "fatal":
            code = er.str_("code")
            if code not in FatalCode.__members__:
                raise ScenarioError(
                    f"unknown fatal code {code!r}", er.at("code"), f"use one of {', '.join(FatalCode.__members__)}"
                )
            expected = Expected(FatalCode[code])
        elif outcome != "complete":
            raise ScenarioError(f"unknown outcome {outcome!r}", er.at("outcome"), "use 'complete' or 'fatal'")
    scenario = Scenario(
        name=r.str_("name"),
        config=_config_from(r.obj("config", {})),
        buffers=tuple(buffers),
        program=program,
        runs=r.int_("runs", 1),
        expected=expected,
        runtime=r.str_("runtime", "tensormap_and_ringbuffer"),
        description=r.str_("description", ""),
    )
    return validate(scenario)


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Parse scenario JSON text (pure). Errors name `source` and the field."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ScenarioError(f"not valid JSON: {e.msg}", f"{source}:{e.lineno}:{e.colno}") from None
    try:
        return scenario_from_dict(doc)
    except ScenarioError as e:
        raise ScenarioError(e.what, f"{source}: {e.where}" if e.where else source, e.hint) from None


def load_scenario(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ScenarioError(f"cannot read scenario file: {e.strerror}", str(path)) from None
    return parse_scenario(text, str(path))
