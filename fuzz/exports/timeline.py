"""A counterexample as lanes and bars: the runtime's swimlane layout, filled from an artifact.

Lanes follow the runtime's own swimlane converter: one orchestrator thread, each scheduler thread, each
core (AIC_i, AIV_j). One step of the artifact is one time unit.

Model paths do not name threads or cores (the reference model abstracts them), so `model_path_timeline`
attributes them the way the runtime would, deterministically: a block goes to the lowest-numbered free
core of its type (a MIX block to one cluster when one has the cores free), a core belongs to the
scheduler thread that owns its cluster (`cluster % threads`), a completion, its notifications and the
task's deferred release run on the thread that owns the completing core, a dummy task runs on the
thread that made it ready, and a ring advance on the last scheduler thread that acted. Every timeline
says so in `attribution`.

Port-run schedules name their threads; `port_run_timeline` lays each executed step on its thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from model.dependencies import derive_all_edges
from model.errors import PtocheckError
from model.program import I_ALLOC, I_END, I_SUBMIT, RETAIN, WAIT
from model.protocol import PropertyKind
from model.scenario import Scenario, Shape, Submit
from model.trb_model import (
    A_ADVANCE,
    A_COMPLETE,
    A_DISPATCH,
    A_DUMMY,
    A_FATAL,
    A_NEXT_ROUND,
    A_NOTIFY,
    A_ORCH,
    A_RELEASE,
    C_AIC,
    F_READY,
    NONE,
    R_CUR,
    R_LA,
    S_RINGS,
    S_TASKS,
    T_BDISP,
    T_FLAGS,
    T_ST,
    TrbModel,
)
from properties.replay import replay_model_path

GROUP_ORCH, GROUP_SCHED, GROUP_CORE, GROUP_OTHER = "orchestrator", "scheduler", "core", "other"
MODEL_ATTRIBUTION = (
    "the reference model does not name threads or cores; ptocheck attributed them deterministically: "
    "lowest free core of the block's type (MIX: one cluster when possible), core -> scheduler thread "
    "cluster % threads, completion/notify/release on the completing core's thread, dummy on the thread "
    "that made it ready, ring advance on the last scheduler thread that acted"
)


@dataclass(frozen=True)
class Lane:
    key: str
    group: str
    name: str
    sort: int


@dataclass(frozen=True)
class Bar:
    """A slice on one lane over steps [start, end); `step` is the artifact step it stands for, if one."""

    lane: str
    start: int
    end: int
    name: str
    category: str
    step: int | None = None
    task: int | None = None
    args: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Edge:
    pred: int
    succ: int
    flags: int
    sources: tuple[str, ...]


@dataclass
class Timeline:
    title: str
    lanes: list[Lane]
    bars: list[Bar]
    steps: int
    violation_step: int | None
    violation_lane: str | None
    violation_text: str
    attribution: str
    task_names: list[str] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)  # the dependency edges involved in the violation
    # where a task's completion / first dispatch happened: task -> (lane, step)
    completed_at: dict[int, tuple[str, int]] = field(default_factory=dict)
    dispatched_at: dict[int, tuple[str, int]] = field(default_factory=dict)
    submitted_at: dict[int, tuple[str, int]] = field(default_factory=dict)
    # per task: first dispatch step and last completion step (None while running at the end)
    run_spans: dict[int, tuple[int, int | None]] = field(default_factory=dict)


def orch_lane() -> Lane:
    return Lane("orch", GROUP_ORCH, "Orch_0", 0)


def sched_lane(k: int) -> Lane:
    return Lane(f"sched{k}", GROUP_SCHED, f"Sched_{k}", k)


def core_lanes(clusters: int) -> list[Lane]:
    """AIC cores 0..C-1 (cluster c owns AIC c), AIV cores C..3C-1 (cluster c owns C+2c and C+2c+1)."""
    lanes = [Lane(f"core{c}", GROUP_CORE, f"AIC_{c}", c) for c in range(clusters)]
    lanes += [Lane(f"core{c}", GROUP_CORE, f"AIV_{c}", c) for c in range(clusters, 3 * clusters)]
    return lanes


def cluster_of(core: int, clusters: int) -> int:
    return core if core < clusters else (core - clusters) // 2


class _Cores:
    """Concrete core occupancy for the presentation (the model only counts busy cores per type)."""

    def __init__(self, clusters: int) -> None:
        self.clusters = clusters
        self.running: dict[int, tuple[int, int, int]] = {}  # core -> (task, block, dispatch step)

    def free(self, core: int) -> bool:
        return core not in self.running

    def pick(self, kernel_ids: tuple[int, int, int], shape: Shape) -> tuple[list[int], bool]:
        """Cores for one block; the flag says whether they all sit in one cluster."""
        c_n = self.clusters
        aic = list(range(c_n))
        aiv = list(range(c_n, 3 * c_n))
        if shape is Shape.AIC:
            return [next(c for c in aic if self.free(c))], True
        if shape is Shape.AIV:
            return [next(c for c in aiv if self.free(c))], True
        want_aic = kernel_ids[0] >= 0
        want = [i for i in (1, 2) if kernel_ids[i] >= 0]
        for cl in range(c_n):
            cores = ([cl] if want_aic else []) + [c_n + 2 * cl + (i - 1) for i in want]
            if all(self.free(c) for c in cores):
                return cores, True
        cores = [next(c for c in aic if self.free(c))] if want_aic else []
        free_aiv = [c for c in aiv if self.free(c)]
        return cores + free_aiv[: len(want)], False

    def oldest_running(self, task: int, ctype: int) -> int:
        c_n = self.clusters
        cands = [
            (step, core)
            for core, (t, _, step) in self.running.items()
            if t == task and ((core < c_n) == (ctype == C_AIC))
        ]
        return min(cands)[1]


def _action_task(model: TrbModel, action: tuple[int, int, int], before: Any) -> list[int]:
    """The tasks an action acts on (for choosing the dependency edges to draw)."""
    kind, a, _ = action
    info = model.info
    if kind == A_ORCH:
        instr = info.instrs[a]
        if instr.kind in (I_SUBMIT, I_ALLOC):
            return [instr.task]
        if instr.kind == I_END:
            cur = action[2] % 1000
            return [instr.frame[cur]] if cur < len(instr.frame) else list(instr.frame)
        return []
    if kind in (A_DISPATCH, A_COMPLETE, A_DUMMY, A_NOTIFY, A_RELEASE):
        return [a]
    if kind == A_ADVANCE:
        ring = before[S_RINGS][a]
        row = info.by_ring_local[a]
        return [row[i] for i in range(ring[R_LA], min(ring[R_CUR], len(row)))]
    return []


def violation_step_of(model: TrbModel, states: Sequence[Any], property_id: str, fallback: int | None) -> int:
    """First step whose state breaks the artifact's property (an 'always' one), else the recorded step."""
    prop = next((p for p in model.properties() if p.name == property_id), None)
    if prop is not None and prop.kind is PropertyKind.ALWAYS:
        bad = next((i for i, s in enumerate(states) if not prop.holds(s)), None)
        if bad is not None:
            return bad
    if fallback is not None and 0 <= fallback < len(states):
        return fallback
    return len(states) - 1


def model_path_timeline(
    scenario: Scenario,
    actions: Sequence[tuple[int, int, int]],
    *,
    property_id: str = "",
    message: str = "",
    failing_step: int | None = None,
) -> Timeline:
    """Lanes and bars of a model path (replayed strictly: a divergent path is an error)."""
    model = TrbModel(scenario)
    states = replay_model_path(model, list(actions))
    cfg = scenario.config
    info = model.info
    lanes = [orch_lane(), *(sched_lane(k) for k in range(cfg.scheduler_threads)), *core_lanes(cfg.clusters)]
    core_name = {int(lane.key[4:]): lane.name for lane in lanes if lane.group == GROUP_CORE}
    cores = _Cores(cfg.clusters)
    tl = Timeline(
        title=scenario.name,
        lanes=lanes,
        bars=[],
        steps=len(actions),
        violation_step=None,
        violation_lane=None,
        violation_text="",
        attribution=MODEL_ATTRIBUTION,
        task_names=[t.name for t in info.tasks],
    )
    completer: dict[int, int] = {}  # task -> scheduler thread that completed it
    ready_by: dict[int, int] = {}
    last_sched = 0
    orch_group: list[tuple[int, int, str]] = []  # (pc, step, label) of the current orchestrator instruction
    lane_of_step: dict[int, str] = {}

    def sched(k: int) -> str:
        return f"sched{k}"

    def flush_group() -> None:
        if not orch_group:
            return
        pc = orch_group[0][0]
        instr = info.instrs[pc]
        if instr.kind in (I_SUBMIT, I_ALLOC) and len(orch_group) > 1:
            name = ("alloc_tensors " if instr.kind == I_ALLOC else "submit ") + info.describe_task(instr.task)
            tl.bars.append(
                Bar("orch", orch_group[0][1], orch_group[-1][1] + 1, name, "orchestrator", None, instr.task)
            )
        orch_group.clear()

    for step, action in enumerate(actions, 1):
        before, after = states[step - 1], states[step]
        kind, a, b = action
        label = model.format_action(action)
        state_arg = (("state_after", model.format_state(after)),)
        if kind == A_ORCH:
            if orch_group and orch_group[0][0] != a:
                flush_group()
            orch_group.append((a, step, label))
            instr = info.instrs[a]
            task = instr.task if instr.kind in (I_SUBMIT, I_ALLOC) else None
            if task is not None:
                tl.submitted_at.setdefault(task, ("orch", step))
            tl.bars.append(Bar("orch", step, step + 1, label, "orchestrator", step, task, state_arg))
            lane_of_step[step] = "orch"
        elif kind == A_DISPATCH:
            t = a
            tinfo = info.tasks[t]
            op = scenario.tasks()[t]
            kids = op.kernel_ids if isinstance(op, Submit) else (-1, -1, -1)
            block = before[S_TASKS][t][T_BDISP]
            picked, one_cluster = cores.pick(kids, tinfo.shape)
            thread = cfg.cluster_owner(cluster_of(picked[0], cfg.clusters))
            for core in picked:
                cores.running[core] = (t, block, step)
            where = "+".join(core_name[c] for c in picked)
            extra = () if one_cluster else (("note", "cores from different clusters (no cluster had them free)"),)
            tl.bars.append(
                Bar(sched(thread), step, step + 1, f"dispatch {tinfo.name} block {block} -> {where}", "dispatch",
                    step, t, state_arg + extra)
            )
            tl.dispatched_at.setdefault(t, (sched(thread), step))
            tl.run_spans.setdefault(t, (step, None))
            lane_of_step[step] = sched(thread)
            last_sched = thread
        elif kind == A_COMPLETE:
            t = a
            core = cores.oldest_running(t, b)
            _, block, started = cores.running.pop(core)
            thread = cfg.cluster_owner(cluster_of(core, cfg.clusters))
            tl.bars.append(
                Bar(f"core{core}", started, step + 1, f"{info.tasks[t].name} b{block}", "kernel", None, t,
                    (("dispatched_at_step", str(started)), ("completed_at_step", str(step))))
            )
            tl.bars.append(Bar(sched(thread), step, step + 1, label + f" ({core_name[core]})", "complete", step, t,
                               state_arg))
            completer[t] = thread
            tl.completed_at[t] = (sched(thread), step)
            first = tl.run_spans.get(t, (step, None))[0]
            tl.run_spans[t] = (first, step)
            lane_of_step[step] = sched(thread)
            last_sched = thread
        elif kind in (A_DUMMY, A_NOTIFY, A_RELEASE, A_ADVANCE):
            if kind == A_DUMMY:
                thread = ready_by.get(a, 0)
                completer[a] = thread
                tl.completed_at[a] = (sched(thread), step)
                tl.dispatched_at.setdefault(a, (sched(thread), step))
            elif kind in (A_NOTIFY, A_RELEASE):
                thread = completer.get(a, last_sched)
            else:
                thread = last_sched
            tl.bars.append(Bar(sched(thread), step, step + 1, label, "scheduler", step,
                               a if kind != A_ADVANCE else None, state_arg))
            lane_of_step[step] = sched(thread)
            last_sched = thread
        elif kind == A_FATAL:
            lane = "orch" if a < 100 else sched(last_sched)
            tl.bars.append(Bar(lane, step, step + 1, label, "fatal", step, None, state_arg))
            lane_of_step[step] = lane
        elif kind == A_NEXT_ROUND:
            flush_group()
            cores.running.clear()
            tl.bars.append(Bar("orch", step, step + 1, label, "round", step, None, state_arg))
            lane_of_step[step] = "orch"
        # who made which task ready (dummy attribution)
        if kind != A_ORCH:
            for t, (tb, ta) in enumerate(zip(before[S_TASKS], after[S_TASKS], strict=True)):
                if ta[T_FLAGS] & F_READY and not tb[T_FLAGS] & F_READY:
                    ready_by[t] = last_sched
    flush_group()
    # still running at the end of the path: open bars up to the end
    for core, (t, block, started) in sorted(cores.running.items()):
        tl.bars.append(
            Bar(f"core{core}", started, len(actions) + 1, f"{info.tasks[t].name} b{block} (running)", "kernel",
                None, t, (("dispatched_at_step", str(started)), ("completed_at_step", "never (still running)")))
        )
    vstep = violation_step_of(model, states, property_id, failing_step)
    tl.violation_step = vstep
    tl.violation_lane = lane_of_step.get(vstep)
    tl.violation_text = f"{property_id}: {message}" if message else property_id
    if vstep >= 1:
        tl.edges = involved_edges(model, involved_tasks(model, actions[vstep - 1], states[vstep - 1], states[vstep]))
    return tl


def involved_tasks(model: TrbModel, action: tuple[int, int, int], before: Any, after: Any) -> list[int]:
    """The tasks a step acts on or changes, plus the earlier occupants of any slot it (re)binds."""
    info = model.info
    out = set(_action_task(model, action, before))
    for t, (tb, ta) in enumerate(zip(before[S_TASKS], after[S_TASKS], strict=True)):
        if tb != ta:
            out.add(t)
            if tb[T_ST] == NONE and ta[T_ST] != NONE:  # admitted: the slot's previous generations
                me = info.tasks[t]
                out.update(
                    o.index
                    for o in info.tasks
                    if o.ring == me.ring and o.local < me.local and info.slot(o.index) == info.slot(t)
                )
    return sorted(out)


def involved_edges(model: TrbModel, tasks: Sequence[int]) -> list[Edge]:
    """Dependency edges into and out of `tasks` (all-live derivation, every reason merged per pair)."""
    wanted = set(tasks)
    merged: dict[tuple[int, int], tuple[int, list[str]]] = {}
    for row in derive_all_edges(model.info):
        if row.pred in wanted or row.succ in wanted:
            flags, sources = merged.get((row.pred, row.succ), (0, []))
            if row.source not in sources:
                sources.append(row.source)
            merged[(row.pred, row.succ)] = (flags | row.flags, sources)
    return [Edge(p, s, f, tuple(src)) for (p, s), (f, src) in sorted(merged.items())]


def edge_flag_text(flags: int) -> str:
    return "+".join(n for bit, n in ((WAIT, "WAIT"), (RETAIN, "RETAIN")) if flags & bit) or "none"


def port_run_timeline(
    title: str,
    thread_names: Sequence[str],
    thread_roles: Sequence[str],
    steps: Sequence[tuple[int, str, str]],
    *,
    violation_step: int | None,
    violation_text: str,
) -> Timeline:
    """Lanes from the port's threads; `steps` are (thread id, operation, C++ function) per executed step."""
    lanes: list[Lane] = []
    counts = {GROUP_ORCH: 0, GROUP_SCHED: 0, GROUP_CORE: 0, GROUP_OTHER: 0}
    for tid, (name, role) in enumerate(zip(thread_names, thread_roles, strict=True)):
        text = f"{role} {name}".lower()
        if "orch" in text:
            group = GROUP_ORCH
        elif "sched" in text:
            group = GROUP_SCHED
        elif "core" in text or name.upper().startswith(("AIC", "AIV")):
            group = GROUP_CORE
        else:
            group = GROUP_OTHER
        lanes.append(Lane(f"t{tid}", group, name, counts[group]))
        counts[group] += 1
    if not lanes:
        raise PtocheckError("the port run has no threads", "port-run artifact", "re-record it")
    bars = []
    for i, (tid, what, function) in enumerate(steps, 1):
        if not 0 <= tid < len(lanes):
            raise PtocheckError(f"step {i} names thread {tid}, the run has {len(lanes)}", "port-run artifact")
        bars.append(Bar(f"t{tid}", i, i + 1, what, lanes[tid].group, i, None, (("cxx_function", function),)))
    vlane = f"t{steps[violation_step - 1][0]}" if violation_step and 0 < violation_step <= len(steps) else None
    return Timeline(
        title=title,
        lanes=lanes,
        bars=bars,
        steps=len(steps),
        violation_step=violation_step,
        violation_lane=vlane,
        violation_text=violation_text,
        attribution="threads as named by the port's schedule; dependency arrows are not drawn for port runs",
    )
