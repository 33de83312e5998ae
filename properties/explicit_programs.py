"""Generated explicit-edge programs: task graphs as aicpu_build_graph expresses them, on every runtime.

aicpu_build_graph has no TensorMap: its orchestration plugin adds tasks and the edges between them
(`runtime.abg.program`: v1 `add_task` + `add_successor_conditional` + `publish_task`, v2 `add_dependency`
with a batch publish at scope end). `explicit_dep_scenarios` draws such programs:

* a random DAG over 2..max_tasks tasks, edges only to earlier tasks: a chain, a diamond, a fan-out, a
  fan-in or no skeleton, plus random extra edges (fan-in and fan-out either way), each task's edges added
  in a drawn order;
* publish groups: v1 tasks inside a scope bracket are published together at the bracket's end, a task
  outside any bracket right after its edges (immediate publish); v2 tasks are always in a scope, published
  at its end. Groups are drawn per task (stay, new group, outside), so edges from a task published
  earlier (possibly already finished: an edge added after its predecessor completed) are common;
* single-block AIC / AIV tasks running the data oracle's generic kernel on external buffers only (no
  hidden alloc tasks, no runtime-created outputs): task t writes its slice of `out` (OUTPUT_EXISTING,
  sometimes INOUT), reads the slices its predecessors wrote (an edge sometimes carries no data), sometimes
  its slice of the input `x`, and the tasks of one ancestry chain update an accumulator `acc` (INOUT).
  Every pair of conflicting accesses is ordered by the explicit edges, so the program has one output
  (the data oracle's golden) and the TensorMap of the other runtimes derives no edge the explicit edges
  do not already imply: the same kernel order on every runtime.

`explicit_program_on(scenario, runtime)` moves a program to another runtime: tensormap_and_ringbuffer and
host_build_graph run it unchanged (their explicit dependencies are WAIT + RETAIN, publish brackets are
AUTO scopes, on a configuration the program fits in); aicpu_build_graph_v2 wraps each task published
immediately in a scope of its own (the same call order: its edges, then its publish).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hypothesis import strategies as st

from model.scenario import (
    RUNTIMES,
    Arg,
    Buffer,
    Config,
    Expected,
    ExplicitDep,
    Op,
    Region,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    Submit,
    Tag,
    validate,
)
from runtime.abg.program import EDGE, PUBLISH, build_program

ABG_V1, ABG_V2 = "aicpu_build_graph", "aicpu_build_graph_v2"
ABG_RUNTIMES = (ABG_V1, ABG_V2)
TRB, HBG = "tensormap_and_ringbuffer", "host_build_graph"
SLICE = 4  # FLOAT32 elements each task writes
AIC_KERNEL, AIV_KERNEL = (0, -1, -1), (-1, 1, -1)
SKELETONS = ("random", "chain", "diamond", "fan-out", "fan-in")
STAY, NEW_GROUP, OUTSIDE = "stay", "new-group", "outside"
PROGRAM_CONFIG = Config(task_window=(16, 16, 16, 16), heap_bytes=(1024,) * 4, dep_pool=(64,) * 4)
"""Windows the generated programs fit in on tensormap_and_ringbuffer (at most 8 tasks, no created output)."""


@dataclass(frozen=True)
class ExplicitLimits:
    max_tasks: int = 6
    max_extra_deps: int = 2  # random edges per task beyond the skeleton's
    max_threads: int = 2  # scheduler threads; clusters are drawn >= threads (every thread owns cores of both types)
    max_clusters: int = 2
    sequential: bool = True  # v1 only: rarely PTO_AICPU_BUILD_GRAPH_BUILD_MODE=0 (build, then schedule)


def _skeleton(kind: str, n: int) -> list[list[int]]:
    preds: list[list[int]] = [[] for _ in range(n)]
    if kind == "chain":
        for t in range(1, n):
            preds[t] = [t - 1]
    elif kind == "diamond" and n >= 3:
        for t in range(1, n - 1):
            preds[t] = [0]
        preds[n - 1] = list(range(1, n - 1))
    elif kind == "fan-out":
        for t in range(1, n):
            preds[t] = [0]
    elif kind == "fan-in":
        preds[n - 1] = list(range(n - 1))
    return preds


def _ancestors(preds: list[list[int]]) -> list[set[int]]:
    out: list[set[int]] = []
    for ps in preds:
        anc: set[int] = set()
        for p in ps:
            anc |= {p} | out[p]
        out.append(anc)
    return out


def _slice(buffer: str, t: int) -> Region:
    return Region(buffer, (SLICE,), (1,), offset=t * SLICE)


@st.composite
def explicit_dep_scenarios(
    draw: st.DrawFn, runtime: str = ABG_V1, limits: ExplicitLimits = ExplicitLimits(), name: str = "generated_explicit"
) -> Scenario:
    """An explicit-edge program on `runtime` (aicpu_build_graph or _v2; see the module docstring)."""
    if runtime not in ABG_RUNTIMES:
        raise ValueError(f"explicit_dep_scenarios draws aicpu_build_graph programs, not {runtime!r}")
    v2 = runtime == ABG_V2
    n = draw(st.integers(2, limits.max_tasks))
    preds = _skeleton(draw(st.sampled_from(SKELETONS)), n)
    for t in range(1, n):
        for _ in range(draw(st.integers(0, min(t, limits.max_extra_deps)))):
            p = t - 1 - draw(st.integers(0, t - 1))  # recent tasks first (shrinks to the previous one)
            if p not in preds[t]:
                preds[t].append(p)
        preds[t] = list(draw(st.permutations(preds[t])))  # the order the edges are added in
    ancestors = _ancestors(preds)
    acc_chain: set[int] = set()
    if draw(st.booleans()):  # tasks of one ancestry chain update an accumulator, each after the previous
        last: int | None = None
        for t in range(n):
            if (last is None or last in ancestors[t]) and draw(st.booleans()):
                acc_chain.add(t)
                last = t
    program: list[Op] = []
    grouped = False
    for t in range(n):
        mode = draw(st.sampled_from((STAY, NEW_GROUP, OUTSIDE)))
        if v2 and (mode == OUTSIDE or not grouped):  # v2 submits only inside a scope
            mode = NEW_GROUP
        if mode == NEW_GROUP:
            if grouped:
                program.append(ScopeEnd())
            program.append(ScopeBegin())
            grouped = True
        elif mode == OUTSIDE and grouped:
            program.append(ScopeEnd())
            grouped = False
        args: list[Arg] = []
        if draw(st.integers(0, 2)) == 0:
            args.append(Arg(Tag.INPUT, _slice("x", t)))
        args += [Arg(Tag.INPUT, _slice("out", p)) for p in preds[t] if draw(st.integers(0, 3))]
        if t in acc_chain:
            args.append(Arg(Tag.INOUT, Region("acc", (SLICE,), (1,))))
        own = Tag.INOUT if draw(st.integers(0, 3)) == 0 else Tag.OUTPUT_EXISTING
        args.append(Arg(own, _slice("out", t)))
        kernel = draw(st.sampled_from((AIV_KERNEL, AIC_KERNEL)))
        deps = tuple(ExplicitDep(f"T{p}") for p in preds[t])
        program.append(Submit(f"T{t}", kernel, tuple(args), deps))
    if grouped:
        program.append(ScopeEnd())
    threads = draw(st.integers(1, limits.max_threads))
    clusters = draw(st.integers(min(threads, limits.max_clusters), limits.max_clusters))
    sequential = not v2 and limits.sequential and draw(st.integers(0, 7)) == 0
    buffers = [Buffer("x", "FLOAT32", n * SLICE, external=True), Buffer("out", "FLOAT32", n * SLICE, external=True)]
    if acc_chain:
        buffers.append(Buffer("acc", "FLOAT32", SLICE, external=True))
    config = replace(PROGRAM_CONFIG, scheduler_threads=threads, clusters=clusters, serial_orch_sched=sequential)
    shape = ", ".join(f"T{t}<-{'+'.join(f'T{p}' for p in preds[t])}" for t in range(n) if preds[t])
    return validate(
        Scenario(name, config, tuple(buffers), tuple(program), runtime=runtime,
                 description=f"generated explicit-edge program: {n} tasks; edges {shape or 'none'}")
    )


def explicit_program_on(scenario: Scenario, runtime: str) -> Scenario:
    """The same explicit-edge program on `runtime` (see the module docstring)."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}")
    if runtime == scenario.runtime:
        return scenario
    program: list[Op] = []
    depth = 0
    for op in scenario.program:
        depth += 1 if isinstance(op, ScopeBegin) else -1 if isinstance(op, ScopeEnd) else 0
        if runtime == ABG_V2 and isinstance(op, Submit) and depth == 0:
            program += [ScopeBegin(), op, ScopeEnd()]
        else:
            program.append(op)
    serial = scenario.config.serial_orch_sched and runtime == ABG_V1
    return validate(
        replace(
            scenario,
            name=f"{scenario.name}@{runtime}",
            runtime=runtime,
            program=tuple(program),
            config=replace(scenario.config, serial_orch_sched=serial),
            expected=Expected(),
        )
    )


def edges_added_after_publish(scenario: Scenario) -> int:
    """Edges whose predecessor is already published when the builder adds them (the predecessor may have
    finished by then: the case `add_successor_conditional` / `add_dependency` must check)."""
    version = 2 if scenario.runtime == ABG_V2 else 1
    published: set[int] = set()
    count = 0
    for call in build_program(scenario, version).calls:
        if call.kind == PUBLISH:
            published.add(call.task)
        elif call.kind == EDGE and call.pred in published:
            count += 1
    return count


def explicit_features(scenario: Scenario) -> frozenset[str]:
    """The shapes a generated program has (for feature-rate checks)."""
    tasks = [t for t in scenario.tasks() if isinstance(t, Submit)]
    fanout: dict[str, int] = {}
    for t in tasks:
        for d in t.deps:
            fanout[d.task] = fanout.get(d.task, 0) + 1
    out = set()
    if edges_added_after_publish(scenario):
        out.add("edge-after-publish")
    if any(len(t.deps) >= 2 for t in tasks):
        out.add("fan-in")
    if any(c >= 2 for c in fanout.values()):
        out.add("fan-out")
    if any(isinstance(op, ScopeBegin) for op in scenario.program):
        out.add("publish-group")
    depth = 0
    for op in scenario.program:
        depth += 1 if isinstance(op, ScopeBegin) else -1 if isinstance(op, ScopeEnd) else 0
        if isinstance(op, Submit) and depth == 0:
            out.add("immediate-publish")
    if any(b.name == "acc" for b in scenario.buffers):
        out.add("accumulator")
    if scenario.config.scheduler_threads >= 2:
        out.add("two-schedulers")
    return frozenset(out)
