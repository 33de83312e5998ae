"""Which features a scenario exercises: what the generators must keep producing.

`static_features` is a pure function of the scenario (scopes, shapes, tags, dependencies, how tensor
regions relate, sizing). The relation between two regions is decided by enumerating the element indices
each one covers (ground truth, not the runtime's overlap code). Features only visible in runs (slot
reuse, heap wrap, rebase, exact fits, a blocked orchestrator) come from `run_features`: a few
deterministic walks through the reference model, evaluating the model's own "sometimes" witnesses on
every visited state and classifying every heap allocation.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Iterator

from model.program import ProgramInfo
from model.protocol import PropertyKind
from model.scenario import (
    Alloc,
    DepKind,
    FatalCode,
    Region,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    ScopeMode,
    Shape,
    Submit,
    Tag,
    TensorData,
    row_major_strides,
)
from model.trb_model import (
    A_ORCH,
    F_WRAPPED,
    NONE,
    R_ANCHOR,
    S_FATAL,
    S_RINGS,
    S_TASKS,
    T_FLAGS,
    T_HBASE,
    T_HEND,
    T_ST,
    Action,
    Blocked,
    State,
    TrbModel,
)
from properties.sizing import check_sizing, stale_tensor_uses, static_outcome

_WRITERS = (Tag.INOUT, Tag.OUTPUT_EXISTING)
_READERS = (Tag.INPUT, Tag.INOUT)

# ------------------------------------------------------------------------------------- regions


def region_elements(region: Region) -> frozenset[int]:
    """Every element index the region touches (offset + sum of index * stride over its shape)."""
    axes = [range(0, n * s, s) for n, s in zip(region.shape, region.strides, strict=True)]
    return frozenset(region.offset + sum(p) for p in itertools.product(*axes))


def is_strided(region: Region) -> bool:
    """A layout other than row-major over its own shape (size-1 dimensions ignored)."""
    dims = [(n, s) for n, s in zip(region.shape, region.strides, strict=True) if n > 1]
    return [s for _, s in dims] != list(row_major_strides([n for n, _ in dims]))


def relation(a: Region, b: Region) -> str:
    """disjoint, equal, covering (one strictly contains the other) or partial, by element sets."""
    ea, eb = region_elements(a), region_elements(b)
    if ea.isdisjoint(eb):
        return "disjoint"
    if ea == eb:
        return "equal"
    if ea <= eb or eb <= ea:
        return "covering"
    return "partial"


def _writer_reader_pairs(scenario: Scenario) -> Iterator[tuple[Region, Region]]:
    """(registered writer region, later region looked up or written on the same buffer), across tasks."""
    writers: list[tuple[str, Region]] = []
    for op in scenario.program:
        if isinstance(op, TensorData):
            for _task, w in writers:
                if w.buffer == op.region.buffer:
                    yield w, op.region
            continue
        if not isinstance(op, Submit):
            continue
        for arg in op.args:
            if arg.region is None or (arg.tag not in _READERS and arg.tag not in _WRITERS):
                continue
            for task, w in writers:
                if task != op.name and w.buffer == arg.region.buffer:
                    yield w, arg.region
        writers.extend((op.name, a.region) for a in op.args if a.region is not None and a.tag in _WRITERS)


# ------------------------------------------------------------------------------------- static


def static_features(scenario: Scenario) -> frozenset[str]:
    """Features decided by the scenario text alone."""
    out: set[str] = set()
    depth = 0
    max_depth = 0
    modes: list[ScopeMode] = []
    external = {b.name for b in scenario.buffers}
    for op in scenario.program:
        if isinstance(op, ScopeBegin):
            if ScopeMode.MANUAL in modes:
                out.add("nested_manual" if op.mode is ScopeMode.MANUAL else "auto_in_manual")
            modes.append(op.mode)
            depth += 1
            max_depth = max(max_depth, depth)
            if op.mode is ScopeMode.MANUAL:
                out.add("manual_scope")
        elif isinstance(op, ScopeEnd):
            modes.pop()
            depth -= 1
        elif isinstance(op, TensorData):
            out.add("set_tensor_data" if op.write else "get_tensor_data")
        elif isinstance(op, Alloc):
            out.add("alloc_task")
        if isinstance(op, Submit | Alloc) and depth >= 3:
            out.add("ring3")
        if isinstance(op, Submit):
            out.add(f"shape_{op.shape.value.lower()}")
            if op.shape is Shape.DUMMY:
                out.add("dummy_task")
            if op.block_num > 1:
                out.add("spmd")
            for dep in op.deps:
                out.add("dep_wait" if dep.kind is DepKind.WAIT else "dep_wait_retain")
            for arg in op.args:
                out.add(f"tag_{arg.tag.value.lower()}")
                if arg.manual_dep:
                    out.add("manual_dep")
                if arg.region is not None:
                    out.add("external_tensor" if arg.region.buffer in external else "created_tensor_arg")
                    if arg.region.version > 0:
                        out.add("tensor_version")
                    if is_strided(arg.region):
                        out.add("strided_region")
    if max_depth >= 5:
        out.add("scope_depth_5")
    for w, r in _writer_reader_pairs(scenario):
        kind = relation(w, r)
        out.add(f"overlap_{kind}")
        if kind != "disjoint" and (is_strided(w) or is_strided(r)):
            out.add("overlap_strided")
    info = ProgramInfo(scenario)
    if any(n > w for n, w in zip(info.tasks_per_ring, scenario.config.task_window, strict=True)):
        out.add("more_tasks_than_window")
    if scenario.runs > 1:
        out.add("multi_round")
    if stale_tensor_uses(scenario):
        out.add("stale_tensor_use")
    if scenario.config.constants.scaled():
        out.add("scaled_constants")
    report = check_sizing(scenario)
    out.add("sizing_holds" if report.inv_s6 else "sizing_violated")
    if not report.inv_p4:
        out.add("ready_queue_undersized")
    outcome = static_outcome(scenario, report)
    if outcome is None:
        out.add("outcome_undecided")
    elif outcome.fatal is not None:
        out.add(f"expected_{outcome.fatal.name.lower()}")
    return frozenset(out)


# ------------------------------------------------------------------------------------- runs

POLICIES = ("first", "last", "random")
"""Walk policies: the first enabled action (orchestrator first), the last one (schedulers first, newest
task first), and a fixed-seed uniform choice."""

_RANDOM_POLICY_SEED = 20_251_122


def walk(model: TrbModel, policy: str, max_steps: int) -> Iterator[tuple[State, Action | None, State]]:
    """(state, action, successor) along one deterministic walk; the first yield is (s0, None, s0)."""
    rng = random.Random(_RANDOM_POLICY_SEED)
    state = model.initial_states()[0]
    yield state, None, state
    for _ in range(max_steps):
        enabled = model.actions(state)
        if not enabled:
            return
        if policy == "first":
            action = enabled[0]
        elif policy == "last":
            action = enabled[-1]
        else:
            action = enabled[rng.randrange(len(enabled))]
        nxt = model.next_state(state, action)
        yield state, action, nxt
        state = nxt


def _heap_events(model: TrbModel, before: State, after: State) -> Iterable[str]:
    """Classify the allocations an orchestrator step made: wrap with live data, rebase, exact end fit."""
    info = model.info
    for t, (old, new) in enumerate(zip(before[S_TASKS], after[S_TASKS], strict=True)):
        if old[T_ST] != NONE or new[T_ST] == NONE:
            continue
        task = info.tasks[t]
        if task.heap_request == 0:
            continue
        ring = after[S_RINGS][task.ring]
        if new[T_FLAGS] & F_WRAPPED:
            yield "heap_rebase" if ring[R_ANCHOR] == task.local else "heap_wrap_live"
        elif new[T_HEND] == info.heap_sizes[task.ring] and new[T_HBASE] > 0:
            yield "heap_exact_fit"


def run_features(
    scenario: Scenario, policies: Iterable[str] = POLICIES, max_steps: int = 3000
) -> frozenset[str]:
    """Features seen on deterministic walks through the reference model (not every run: a sample).

    `witness_<name>`: the model's sometimes-property <name> held on a visited state; `heap_*`: how an
    allocation was placed; `blocked_*`: why the orchestrator waited; `fatal_*` / `completed`: how the
    walk ended."""
    model = TrbModel(scenario)
    sometimes = [p for p in model.properties() if p.kind is PropertyKind.SOMETIMES]
    out: set[str] = set()
    for policy in policies:
        pending = [p for p in sometimes if f"witness_{p.name}" not in out]
        last = None
        for before, action, state in walk(model, policy, max_steps):
            last = state
            still = []
            for prop in pending:
                if prop.holds(state):
                    out.add(f"witness_{prop.name}")
                else:
                    still.append(prop)
            pending = still
            if action is not None and action[0] == A_ORCH:
                out.update(_heap_events(model, before, state))
            if not state[S_FATAL]:
                blocked = model.orchestrator_step(state)
                if isinstance(blocked, Blocked):
                    out.add("blocked_" + blocked.reason.replace(" ", "_").replace("-", "_").lower())
        if last is not None and last[S_FATAL]:
            out.add(f"fatal_{FatalCode(last[S_FATAL]).name.lower()}")
        elif last is not None and model.is_final(last):
            out.add("completed")
    return frozenset(out)


def scenario_features(scenario: Scenario, *, runs: bool = True) -> frozenset[str]:
    return static_features(scenario) | (run_features(scenario) if runs else frozenset())


# The hard cases issue 4 names, each with the feature(s) above that measure it; the gate's feature-floor
# test (tests/test_strategies.py) must hold a floor for every one, so none can stop being generated unseen.
ISSUE_FEATURES: dict[str, tuple[str, ...]] = {
    "covering overlap": ("overlap_covering",),
    "partial overlap": ("overlap_partial",),
    "strided overlap": ("overlap_strided",),
    "tensor versions": ("tensor_version",),
    "ring 3": ("ring3",),
    "manual scopes": ("manual_scope",),
    "SPMD": ("spmd",),
    "dummy tasks": ("dummy_task",),
    "alloc tasks": ("alloc_task",),
    "slot reuse (model run)": ("witness_slot_reuse",),
    "heap wrap (model run)": ("witness_heap_wrap", "heap_wrap_live"),
}
