"""What a device replay bundle will submit, decided once before any source is written.

Per task: its ring and local id (program order, ring = scope depth clamped to 3), its kernel ids, and
for kernel tasks the extra arguments the bundle appends after the scenario's own tensors:

- pad tensors, so every task that runs a given kernel binary has the same number of tensors (the
  kernel finds its ledger and scalars by position: tensors first, then scalars);
- the ledger: a NO_DEP view of one INT32 array with `block_num x 3` cells per kernel task (one per
  block and subtask slot AIC/AIV0/AIV1). NO_DEP skips the TensorMap (`TensorArgType::NO_DEP`,
  src/common/task_interface/tensor.h), so these arguments add no dependency edge;
- scalars: its active-slot mask with the number of checked producers, its spin count, and the ledger
  cells of up to `MAX_CHECKED_PRODUCERS` producers it must wait for.

A kernel adds 1 to its own cell, plus ORDER_FLAG when one of its producers' cells was still 0 when it
started. The golden expects exactly 1 in every active cell: 0 = a lost subtask, 2 = a subtask run twice,
>= ORDER_FLAG = a consumer started before a producer it waits on had finished.

The producers a task waits for come from the all-live dependency derivation (`derive_all_edges`): each
such edge is either wired at run time or its producer had already retired (so completed) before the
consumer's submit, so "every producer cell is non-zero when the consumer starts" holds on a correct run.
Dummy tasks have no kernel: a consumer of a dummy checks the dummy's own kernel producers instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from model.dependencies import derive_all_edges
from model.errors import PtocheckError
from model.program import ProgramInfo
from model.scenario import Alloc, Scenario, Shape, Submit

RUNTIME = "tensormap_and_ringbuffer"
MAX_TENSOR_ARGS = 32  # CORE_MAX_TENSOR_ARGS, src/common/task_interface/arg_direction.h
MAX_SCALAR_ARGS = 16  # CORE_MAX_SCALAR_ARGS, same file
OWN_SCALARS = 2  # active mask | producer count << 8, spin count
MAX_CHECKED_PRODUCERS = MAX_SCALAR_ARGS - OWN_SCALARS
MAX_SCHEDULER_THREADS = 3  # PLATFORM_MAX_AICPU_THREADS (4) minus the orchestrator thread
ORDER_FLAG = 1000
CELLS_PER_BLOCK = 3


class BundleError(PtocheckError):
    """A scenario the device bundle cannot express."""


@dataclass(frozen=True)
class TaskPlan:
    index: int
    name: str
    kind: str  # "kernel" | "dummy" | "alloc"
    ring: int
    local: int
    kernel_ids: tuple[int, int, int]
    mask: int  # active subtask slots: bit 0 AIC, bit 1 AIV0, bit 2 AIV1
    block_num: int
    data_tensors: int
    pad_tensors: int
    ledger_base: int  # first ledger cell, -1 without a ledger
    producers: tuple[int, ...]  # kernel producers whose cells this task checks
    unchecked_producers: tuple[int, ...]  # beyond MAX_CHECKED_PRODUCERS
    hold: int  # kernel duration in spin units

    @property
    def ledger_cells(self) -> int:
        return self.block_num * CELLS_PER_BLOCK if self.ledger_base >= 0 else 0

    @property
    def ledger_arg(self) -> int:
        """Index of the ledger among the task's tensors (-1 without a ledger)."""
        return self.data_tensors + self.pad_tensors if self.ledger_base >= 0 else -1


@dataclass(frozen=True)
class KernelPlan:
    func_id: int
    core_type: str  # "aic" | "aiv"
    tensors_before_ledger: int  # the kernel's ledger is tensor #this; scalars follow it


@dataclass(frozen=True)
class BundlePlan:
    scenario: Scenario
    tasks: tuple[TaskPlan, ...]
    kernels: tuple[KernelPlan, ...]
    ledger: bool
    ledger_cells: int
    hold_source: str
    notes: tuple[str, ...] = field(default=())

    def expected_ledger(self) -> list[int]:
        cells = [0] * self.ledger_cells
        for t in self.tasks:
            if t.ledger_base < 0:
                continue
            for b in range(t.block_num):
                for s in range(CELLS_PER_BLOCK):
                    if t.mask >> s & 1:
                        cells[t.ledger_base + b * CELLS_PER_BLOCK + s] = 1
        return cells

    def cell_owner(self, cell: int) -> tuple[str, int, str]:
        """(task name, block, slot name) of a ledger cell."""
        for t in self.tasks:
            if 0 <= t.ledger_base <= cell < t.ledger_base + t.ledger_cells:
                b, s = divmod(cell - t.ledger_base, CELLS_PER_BLOCK)
                return t.name, b, ("AIC", "AIV0", "AIV1")[s]
        raise BundleError(f"ledger cell {cell} belongs to no task", "bundle plan")


def _mask(kernel_ids: tuple[int, int, int]) -> int:
    return sum(1 << i for i, k in enumerate(kernel_ids) if k >= 0)


def plan_bundle(
    scenario: Scenario, holds: dict[int, int] | None = None, *, ledger: bool = True, hold_source: str | None = None
) -> BundlePlan:
    """Check that `scenario` fits the device and the public API, and lay out the extra arguments."""
    if scenario.runtime != RUNTIME:
        raise BundleError(
            f"scenario runtime is {scenario.runtime!r}; device bundles target {RUNTIME}",
            scenario.name,
            "export a tensormap_and_ringbuffer scenario",
        )
    cfg = scenario.config
    if not 1 <= cfg.scheduler_threads <= MAX_SCHEDULER_THREADS:
        raise BundleError(
            f"{cfg.scheduler_threads} scheduler threads cannot run on a2a3 (aicpu_thread_num <= 4: at most "
            f"{MAX_SCHEDULER_THREADS} schedulers plus the orchestrator)",
            f"{scenario.name}: config.scheduler_threads",
            "shrink the scenario to 1..3 scheduler threads",
        )
    info = ProgramInfo(scenario)
    ops = scenario.tasks()
    index_of = {op.name: i for i, op in enumerate(ops)}
    for i, op in enumerate(ops):
        if isinstance(op, Submit):
            for d in op.deps:
                if index_of[d.task] >= i:
                    raise BundleError(
                        f"task {op.name!r} depends explicitly on {d.task!r}, which is submitted at or after it",
                        f"{scenario.name}: task {op.name}",
                        "an orchestration can only name the task id of an earlier submit",
                    )
    # kernel binaries: one core type per func id; tasks sharing a binary share a tensor count
    core_type: dict[int, str] = {}
    for op in ops:
        if isinstance(op, Submit):
            for slot, k in enumerate(op.kernel_ids):
                if k < 0:
                    continue
                ctype = "aic" if slot == 0 else "aiv"
                if core_type.setdefault(k, ctype) != ctype:
                    raise BundleError(
                        f"kernel id {k} runs on both AIC and AIV",
                        f"{scenario.name}: task {op.name}",
                        "a func_id is compiled for one core type; give the AIC and AIV kernels distinct ids",
                    )
    group = {k: k for k in core_type}

    def find(k: int) -> int:
        while group[k] != k:
            group[k] = group[group[k]]
            k = group[k]
        return k

    for op in ops:
        if isinstance(op, Submit):
            active = [k for k in op.kernel_ids if k >= 0]
            for k in active[1:]:
                group[find(k)] = find(active[0])
    width: dict[int, int] = {}
    for op in ops:
        if isinstance(op, Submit) and op.shape is not Shape.DUMMY:
            root = find(next(k for k in op.kernel_ids if k >= 0))
            width[root] = max(width.get(root, 0), len(op.args))
    preds: dict[int, list[int]] = {}
    for row in derive_all_edges(info):
        lst = preds.setdefault(row.succ, [])
        if row.pred not in lst:
            lst.append(row.pred)
    kernel_tasks = {i for i, op in enumerate(ops) if isinstance(op, Submit) and op.shape is not Shape.DUMMY}
    memo: dict[int, tuple[int, ...]] = {}

    def kernel_producers(t: int) -> tuple[int, ...]:
        if t in memo:
            return memo[t]
        out: list[int] = []
        for p in preds.get(t, []):
            if p in kernel_tasks:
                via: tuple[int, ...] = (p,)
            elif isinstance(ops[p], Submit):
                via = kernel_producers(p)  # a dummy: what it waited for
            else:
                via = ()  # an alloc task is COMPLETED at submit
            out.extend(q for q in via if q not in out)
        memo[t] = tuple(out)
        return memo[t]

    tasks: list[TaskPlan] = []
    next_cell = 0
    notes: list[str] = []
    for i, op in enumerate(ops):
        ti = info.tasks[i]
        if isinstance(op, Alloc):
            tasks.append(TaskPlan(i, op.name, "alloc", ti.ring, ti.local, (-1, -1, -1), 0, 1, 0, 0, -1, (), (), 0))
            continue
        kind = "dummy" if op.shape is Shape.DUMMY else "kernel"
        pad = 0
        base = -1
        checked: tuple[int, ...] = ()
        unchecked: tuple[int, ...] = ()
        if kind == "kernel":
            root = find(next(k for k in op.kernel_ids if k >= 0))
            pad = width[root] - len(op.args) if ledger else 0
            total = len(op.args) + pad + (1 if ledger else 0)
            if total > MAX_TENSOR_ARGS:
                raise BundleError(
                    f"task {op.name!r} would take {total} tensors (max {MAX_TENSOR_ARGS})",
                    f"{scenario.name}: task {op.name}",
                    "export with --no-ledger, or give tasks of one kernel id fewer tensors",
                )
            if ledger:
                base = next_cell
                next_cell += op.block_num * CELLS_PER_BLOCK
                prods = kernel_producers(i)
                checked, unchecked = prods[:MAX_CHECKED_PRODUCERS], prods[MAX_CHECKED_PRODUCERS:]
                if unchecked:
                    notes.append(
                        f"task {op.name}: {len(unchecked)} of its {len(prods)} kernel producers are not "
                        f"order-checked (at most {MAX_CHECKED_PRODUCERS} scalars left)"
                    )
        elif len(op.args) > MAX_TENSOR_ARGS:
            raise BundleError(f"task {op.name!r} has {len(op.args)} tensors (max {MAX_TENSOR_ARGS})", op.name)
        tasks.append(
            TaskPlan(
                index=i,
                name=op.name,
                kind=kind,
                ring=ti.ring,
                local=ti.local,
                kernel_ids=op.kernel_ids,
                mask=_mask(op.kernel_ids),
                block_num=op.block_num,
                data_tensors=len(op.args),
                pad_tensors=pad,
                ledger_base=base,
                producers=checked,
                unchecked_producers=unchecked,
                hold=max(1, (holds or {}).get(i, 1)),
            )
        )
    kernels = tuple(
        KernelPlan(k, core_type[k], width.get(find(k), 0) if ledger else 0) for k in sorted(core_type)
    )
    if ledger and next_cell == 0:
        notes.append("no task runs a kernel: the ledger is empty and the golden checks only that the run ends")
    return BundlePlan(
        scenario=scenario,
        tasks=tuple(tasks),
        kernels=kernels,
        ledger=ledger,
        ledger_cells=max(next_cell, 1) if ledger else 0,
        hold_source=hold_source or ("uniform (no schedule given)" if holds is None else "the counterexample's schedule"),
        notes=tuple(notes),
    )


def holds_from_spans(spans: dict[int, tuple[int, int | None]], steps: int) -> dict[int, int]:
    """Kernel durations from a counterexample: the steps each task stayed on its core. A task still
    running when the violation happened gets twice its time so far (it must outlast the interleaving)."""
    out: dict[int, int] = {}
    for t, (start, end) in spans.items():
        out[t] = end - start + 1 if end is not None else 2 * (steps + 1 - start)
    return out
