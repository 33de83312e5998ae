"""Properties of the aicpu_build_graph and host_build_graph ports, judged against what the program asked for.

The order a program asks for is runtime-independent: the explicit edges it adds (aicpu_build_graph's
`add_successor_conditional` / `add_dependency`, any runtime's `set_dependencies`) plus, on the runtimes with
a TensorMap (tensormap_and_ringbuffer, host_build_graph), the edges its tensor arguments imply when no
task ever retires (`model.dependencies.derive_all_edges`, dep_gen's semantics). The runtime's own graph
is never consulted, so a runtime that loses, adds late or double-counts an edge is judged by the same yardstick.

`KernelRunObserver` checks a port run step by step through the kernel ghost cells the ports keep
(`runtime.handshake_cores`): a kernel starts only when every requested predecessor's kernel has ended
(hidden alloc tasks count as ended: they complete on the orchestrator), no kernel starts twice, and at the
end of a finished run every kernel task ran exactly once (the exact completion count).
`kernel_order` is the cross-runtime view: the order between the kernel tasks the program names, with
hidden tasks (allocs, hubs) contracted away and transitive edges removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from model.dependencies import derive_all_edges
from model.program import ProgramInfo
from model.scenario import Alloc, Scenario, Submit
from runtime.core import Executor, Failure, Memory, Observer, StepRecord, System

RUNS_AFTER_PREDECESSORS = "kernel.runs_after_predecessors"
RUNS_AT_MOST_ONCE = "kernel.runs_at_most_once"
EXACT_COMPLETION = "kernel.every_task_ran_once"
KERNEL_ENDED = 2


class KernelTraced(Protocol):
    """What a port exposes for these properties (see runtime.handshake_cores)."""

    mem: Memory

    @property
    def task_names(self) -> tuple[str, ...]: ...

    @property
    def kernel_cells(self) -> int: ...

    @property
    def runs_cells(self) -> int: ...


def requested_predecessors(scenario: Scenario) -> tuple[tuple[int, ...], ...]:
    """For each task of `scenario.tasks()` (allocs included), the tasks it must wait for, by index."""
    tasks = scenario.tasks()
    if scenario.runtime in ("aicpu_build_graph", "aicpu_build_graph_v2"):
        index = {t.name: i for i, t in enumerate(tasks)}
        return tuple(
            tuple(dict.fromkeys(index[d.task] for d in t.deps)) if isinstance(t, Submit) else ()
            for t in tasks
        )
    preds: list[dict[int, None]] = [{} for _ in tasks]
    for row in derive_all_edges(ProgramInfo(scenario)):
        preds[row.succ][row.pred] = None
    return tuple(tuple(p) for p in preds)


class KernelRunObserver:
    """Checks `runs_after_predecessors` and `runs_at_most_once` at every kernel start, and the exact
    completion count at the end of a finished run."""

    def __init__(self, system: KernelTraced, scenario: Scenario) -> None:
        self.mem = system.mem
        self.kernel = system.kernel_cells
        self.runs = system.runs_cells
        tasks = scenario.tasks()
        self.names = tuple(t.name for t in tasks)
        self.is_alloc = tuple(isinstance(t, Alloc) for t in tasks)
        self.preds = tuple(
            tuple(p for p in ps if not self.is_alloc[p]) for ps in requested_predecessors(scenario)
        )
        self.n = len(tasks)

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        cells = self.mem.cells
        for cell in rec.op.writes:
            t = cell - self.kernel
            if not 0 <= t < self.n or cells[cell] != 1:
                continue
            if cells[self.runs + t] > 1:
                return Failure(RUNS_AT_MOST_ONCE, f"{self.names[t]} started a second time", rec.index)
            waiting = [self.names[p] for p in self.preds[t] if cells[self.kernel + p] != KERNEL_ENDED]
            if waiting:
                return Failure(
                    RUNS_AFTER_PREDECESSORS,
                    f"{self.names[t]} started before its predecessor(s) {', '.join(waiting)} ended",
                    rec.index,
                )
        return None

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        if outcome != "done":
            return None
        cells = self.mem.cells
        wrong = [
            f"{self.names[t]} x{cells[self.runs + t]}"
            for t in range(self.n)
            if not self.is_alloc[t] and cells[self.runs + t] != 1
        ]
        if wrong:
            return Failure(
                EXACT_COMPLETION, f"kernel run counts differ from 1: {', '.join(wrong[:6])}", ex.steps
            )
        return None


class KernelOrderObserver:
    """Checks an externally given order (pairs of task names, e.g. another runtime's `kernel_order`) at
    every kernel start of a port run."""

    def __init__(self, system: KernelTraced, order: Iterable[tuple[str, str]]) -> None:
        self.mem = system.mem
        self.kernel = system.kernel_cells
        self.names = system.task_names
        index = {name: i for i, name in enumerate(self.names)}
        preds: list[list[int]] = [[] for _ in self.names]
        for p, t in sorted(order):
            preds[index[t]].append(index[p])
        self.preds = tuple(tuple(p) for p in preds)

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        cells = self.mem.cells
        for cell in rec.op.writes:
            t = cell - self.kernel
            if 0 <= t < len(self.names) and cells[cell] == 1:
                waiting = [self.names[p] for p in self.preds[t] if cells[self.kernel + p] != KERNEL_ENDED]
                if waiting:
                    return Failure(
                        RUNS_AFTER_PREDECESSORS,
                        f"{self.names[t]} started before {', '.join(waiting)} ended (external order)",
                        rec.index,
                    )
        return None

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        return None


def kernel_observers(scenario: Scenario) -> Callable[[System], Sequence[Observer]]:
    """An observer factory for the search engines (one observer per fresh System)."""

    def make(system: System) -> Sequence[Observer]:
        return [KernelRunObserver(system, scenario)]  # type: ignore[arg-type]

    return make


# ------------------------------------------------------------------------------ cross-runtime order


def _closure(n: int, preds: Sequence[Iterable[int]]) -> list[set[int]]:
    """ancestors[t] for a DAG whose edges go from lower to higher program index."""
    ancestors: list[set[int]] = [set() for _ in range(n)]
    for t in range(n):
        for p in preds[t]:
            ancestors[t].add(p)
            ancestors[t] |= ancestors[p]
    return ancestors


def kernel_order(scenario: Scenario, names: Iterable[str] | None = None) -> frozenset[tuple[str, str]]:
    """The transitive reduction of the order the program asks for, restricted to the named tasks (default:
    every Submit except hidden helpers the caller leaves out), as (predecessor, successor) names."""
    tasks = scenario.tasks()
    keep = set(names) if names is not None else {t.name for t in tasks if isinstance(t, Submit)}
    ancestors = _closure(len(tasks), requested_predecessors(scenario))
    idx = [i for i, t in enumerate(tasks) if t.name in keep]
    closure = {(p, t) for t in idx for p in ancestors[t] if tasks[p].name in keep}
    reduced = set()
    for p, t in closure:
        if not any((p, m) in closure and (m, t) in closure for m in idx):
            reduced.add((tasks[p].name, tasks[t].name))
    return frozenset(reduced)
