"""Replay of an observed run through the reference model (`model.trb_model.TrbModel`), in the observed order.

The scenario is the one rebuilt from deps.json (`properties.trace_scenario.scenario_from_deps`), laid out
in the observed submit order with the observed scope instances (scope-stats samples), on the run's ring
configuration and core count. The observed events become model actions:

==================  =====================================================================================
submit of task t    the orchestrator's steps up to and including t's submit (A_ORCH), at the end of its
                    submit record, or just before t's first dispatch if that came earlier (the C++ writes
                    the record after publishing) but never before the record began; without records,
                    lazily before t is first needed
dispatch            A_DISPATCH (task, core type) at the AICPU dispatch time; a *pending* dispatch (into the
                    slot of a busy core) when the core received it, which is when the model dispatches
completion          A_COMPLETE (task, core type) when the AICPU observed the FIN (for a subtask followed by a
                    pending one: no later than the core received that one; the core is serial)
dummy completion    A_DUMMY at its ``dummy_task`` record
==================  =====================================================================================

A task every WAIT producer of which allows early resolve may be staged on a core, gated, before it is
ready (early dispatch, not in the model): its dispatch is taken at its AICore start, after the doorbell.

Explicit dependencies are taken as WAIT-only: dep_gen writes ``add_dep_wait()`` as ``[wait, retain]`` too,
and the WAIT-only reading allows every behaviour the WAIT|RETAIN one allows, so it raises no false alarm.

Release, consumption and watermark advance are never observed: after every event the replay takes every
enabled A_NOTIFY / A_RELEASE / A_ADVANCE at once (eager closure). These only ever enable more, so the
closure refuses nothing the real run could have done; and after a submit the orchestrator's scope steps
run at once (a scope end only releases). The first observed event the model does not enable is reported
with the model's reason and the events before it.

Cost: everything here is linear in the run (events, layout, scope lookup, the model's static set-up). The
model runs in its in-place mode (``TrbModel(in_place=True)``: the per-task part of the state is one list
that each step updates where it stands, by the same transition code the explorer runs on tuples), so a model
step costs O(1) whatever the number of tasks; about 7 model steps per observed event (the orchestrator's
admit/collect/claim/register/wire steps of a submit, dispatch, completion, deferred-release steps).
`cross_check` runs the copying mode instead (`TrbModel.actions` needs it); tests compare the two.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from model.errors import PtocheckError
from model.program import I_ALLOC, I_BEGIN, I_END, I_SUBMIT, WAIT
from model.scenario import (
    NUM_RINGS,
    Alloc,
    Config,
    DepKind,
    ExplicitDep,
    FatalCode,
    Op,
    OutputSpec,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    ScopeMode,
    Shape,
    Submit,
    validate,
)
from model.trb_model import (
    A_ADVANCE,
    A_COMPLETE,
    A_DISPATCH,
    A_DUMMY,
    A_NOTIFY,
    A_RELEASE,
    C_AIC,
    C_AIV,
    COMPLETED,
    CONSUMED,
    F_READY,
    F_SELF_RELEASED,
    NONE,
    Q_DUMMY,
    QUEUE_OF_SHAPE,
    R_CUR,
    R_LA,
    S_CORES,
    S_FATAL,
    S_PC,
    S_READY,
    S_RINGS,
    S_TASKS,
    STATUS_CHAR,
    T_BDISP,
    T_EDGES,
    T_FANOUT,
    T_FCOUNT,
    T_FLAGS,
    T_FRC,
    T_NCUR,
    T_SDONE,
    T_ST,
    Action,
    Blocked,
    State,
    TrbModel,
)
from properties.conformance.timeline import Frame, TaskView, Timeline
from properties.trace_scenario import task_name
from runtime.traces.deps_json import TaskId
from runtime.traces.swimlane import Execution

__all__ = ["ReplayOutcome", "replay_run"]

SUBMIT, DISPATCH, COMPLETE, DUMMY_DONE = "submit", "dispatch", "complete", "dummy"
_PRIORITY = {COMPLETE: 1, DUMMY_DONE: 3, SUBMIT: 5, DISPATCH: 7}  # same cycle: completions first
END_OF_TIME = 1 << 62


@dataclass(slots=True)
class _Event:
    key: int  # 8 * cycle + priority
    seq: int
    kind: str
    task: int  # model task index
    ctype: int
    src: object  # the observed record(s): an Execution, a list of them (a MIX block), (phase, view), a view

    @property
    def ref(self) -> str:
        """The observed record(s), as the report names them (rendered only for a report)."""
        return _render_ref(self.src)


def _render_ref(src: object) -> str:
    if isinstance(src, str):
        return src
    if isinstance(src, Execution):
        return (
            f"chip_swimlane_records.json: aicore_tasks[{src.aicore_index}] ({TaskId.format(src.task_id)} on core "
            f"{src.core} reg {src.reg_task_id})"
        )
    if isinstance(src, list):
        return "; ".join(_render_ref(e) for e in src)
    if isinstance(src, tuple):
        p, view = src
        return f"chip_swimlane_records.json: aicpu_scheduler_phases[{p.thread}][{p.pos}] ({p.kind} {view.name})"
    assert isinstance(src, TaskView)
    if src.orch:
        return f"chip_swimlane_records.json: aicpu_orchestrator_phases[{src.orch[0].lane}][{src.orch[0].pos}] (submit {src.name})"
    return f"submit of {src.name} (no record: before its first use)"


@dataclass
class ReplayOutcome:
    ran: bool
    accepted: int = 0  # observed events the model allowed
    refused: str = ""  # the first event the model does not allow, with its reason
    context: list[str] = field(default_factory=list)  # the events before it and the model's view
    inconclusive: str = ""  # why a refusal may stem from an input the replay had to infer
    note: str = ""


def replay_run(tl: Timeline, *, cross_check: bool = False) -> ReplayOutcome:
    """Replay `tl` through the model. `cross_check` also compares every enabledness decision with
    `TrbModel.actions` (slow; for tests)."""
    why = _missing_inputs(tl)
    if why:
        return ReplayOutcome(False, note=why)
    assert tl.trace.deps is not None and tl.order is not None
    try:
        scenario = _layout(tl, tl.rebuilt_scenario(), _config(tl))
        # The replay advances one state linearly (it never branches), so the model updates it in place
        # (O(1) per step); the cross-check calls `actions`, which needs the copying mode.
        model = TrbModel(scenario, in_place=not cross_check)
    except PtocheckError as exc:
        return ReplayOutcome(False, note=f"no model scenario: {exc.render()}")
    return _Replayer(tl, model, cross_check).run()


def _missing_inputs(tl: Timeline) -> str:
    if tl.trace.deps is None:
        return "no deps.json: the program is unknown"
    if tl.trace.swimlane is None:
        return "no chip_swimlane_records.json: no observed order"
    if tl.order is None:
        return "submit order unknown"
    if any(v.kind == "unknown" for v in tl.tasks.values()):
        return "records name tasks that were never submitted (see exactly-once)"
    return ""


def _config(tl: Timeline) -> Config:
    base = Config()
    stats, log, sw = tl.trace.scope_stats, tl.trace.log, tl.trace.swimlane
    sizes = log.ring_sizes if log is not None else None
    heap = stats.heap_max if stats is not None else (sizes[1] if sizes is not None and len(sizes[1]) == NUM_RINGS else None)
    pool = stats.dep_pool_max if stats is not None else (sizes[2] if sizes is not None and len(sizes[2]) == NUM_RINGS else None)
    windows = tl.windows
    clusters = sw.metadata.aic_cores if sw is not None and sw.metadata.aic_cores else base.clusters
    owners = sw.metadata.core_to_thread if sw is not None else None
    threads = max(owners) + 1 if owners and max(owners) >= 0 else base.scheduler_threads

    def four(v: tuple[int, ...] | None, default: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        return (v[0], v[1], v[2], v[3]) if v is not None and len(v) == NUM_RINGS else default

    return Config(
        task_window=four(windows, base.task_window),
        heap_bytes=four(heap, base.heap_bytes),
        dep_pool=four(pool, base.dep_pool),
        scheduler_threads=threads,
        clusters=clusters,
    )


# ------------------------------------------------------------------------------------- the program


def _layout(tl: Timeline, base: Scenario, config: Config) -> Scenario:
    """`base`'s submits and allocs in the observed order, inside the observed scope instances, on the run's
    `config` (validated here: `base` was validated on the default configuration)."""
    assert tl.order is not None
    ops = {op.name: op for op in base.tasks()}
    manual = {t.task_id: t.manual_scope for t in tl.trace.deps.tasks} if tl.trace.deps is not None else {}

    def op_of(raw: int) -> Submit | Alloc:
        op = ops.get(task_name(raw))
        if op is None:  # an alloc nobody reads after the last recorded local id: a 1024-byte placeholder
            return Alloc(task_name(raw), (OutputSpec(f"{task_name(raw)}_out0_unread", (1024,), "UINT8"),))
        if isinstance(op, Submit) and op.deps:
            # dep_gen writes add_dep_wait() as [wait, retain] too: take the weaker WAIT-only reading, which
            # allows every behaviour the WAIT|RETAIN one does (its pin is released at wiring).
            return replace(op, deps=tuple(ExplicitDep(d.task, DepKind.WAIT) for d in op.deps))
        return op

    program: list[Op] = []
    if tl.has_scopes:
        modes = _frame_modes(tl.frames, manual)
        frame_of_sample = _frames_by_sample(tl.frames)
        k = 0
        samples = tl.samples
        for i, raw in enumerate(tl.order + [-1]):
            while k < len(samples) and samples[k].position == i:
                frame = frame_of_sample[k]
                if frame.depth > 0:
                    program.append(ScopeBegin(modes[frame.index]) if samples[k].sample.phase == "begin" else ScopeEnd())
                k += 1
            if raw >= 0:
                program.append(op_of(raw))
    else:
        program = _synthesized_scopes(tl.order, op_of, manual)
    scenario = Scenario(
        name=base.name,
        config=config,
        buffers=base.buffers,
        program=tuple(program),
        description=f"{base.description}; laid out in the observed submit order and scopes",
    )
    return validate(scenario)


def _frames_by_sample(frames: list[Frame]) -> dict[int, Frame]:
    """Sample index -> the frame it opens or closes (every placed sample does one of the two)."""
    out: dict[int, Frame] = {}
    for f in frames:
        out[f.begin] = f
        if f.end is not None:
            out[f.end] = f
    return out


def _frame_modes(frames: list[Frame], manual: dict[int, bool]) -> dict[int, ScopeMode]:
    """A frame is MANUAL inside a MANUAL one (AUTO in MANUAL is fatal) or when its own tasks were recorded
    in a manual scope; allocs carry no flag and follow their frame."""
    context: dict[int, bool] = {}
    out: dict[int, ScopeMode] = {}
    for f in frames:  # parents precede children
        inherited = context.get(f.parent, False)
        flags = {manual[t] for t in f.tasks if t in manual}
        if len(flags) > 1 or (inherited and flags == {False}):
            raise PtocheckError(
                f"scope at depth {f.depth} mixes tasks recorded in manual and auto scopes",
                "deps.json + scope_stats.jsonl",
                "the scope samples and deps.json come from different runs?",
            )
        context[f.index] = inherited or flags == {True}
        out[f.index] = ScopeMode.MANUAL if context[f.index] else ScopeMode.AUTO
    return out


def _synthesized_scopes(order: list[int], op_of: Callable[[int], Submit | Alloc], manual: dict[int, bool]) -> list[Op]:
    """No scope samples: every task gets scopes of its own down to its ring's depth, closed right after it
    (ring-0 tasks live in the root scope). Scopes are not recorded, and this is the most permissive layout:
    each scope releases its task as early as the runtime ever could, so it adds no refusal."""
    program: list[Op] = []
    for raw in order:
        ring = TaskId.ring_of(raw)
        for depth in range(1, ring + 1):
            innermost = depth == ring
            program.append(ScopeBegin(ScopeMode.MANUAL if innermost and manual.get(raw) else ScopeMode.AUTO))
        program.append(op_of(raw))
        program.extend(ScopeEnd() for _ in range(ring))
    return program


# ------------------------------------------------------------------------------------- the replay


class _Replayer:
    def __init__(self, tl: Timeline, model: TrbModel, cross_check: bool) -> None:
        self.tl = tl
        self.model = model
        self.info = model.info
        self.cross_check = cross_check
        self.index_of = {TaskId.raw_of(t.ring, t.local): t.index for t in self.info.tasks}
        self.pc_of = {
            instr.task: pc for pc, instr in enumerate(self.info.instrs) if instr.kind in (I_SUBMIT, I_ALLOC)
        }
        self.worklist: list[int] = []
        self.recent: deque[_Event] = deque(maxlen=3)  # the last accepted events (the refusal's context)
        self.rings = [(r, row) for r, row in enumerate(self.info.by_ring_local) if row]  # rings with tasks
        self.accepted = 0
        self.refs_log = "stderr.log"

    # -- events

    def _events(self) -> tuple[list[_Event], str]:
        tl = self.tl
        events: list[_Event] = []
        inconclusive = ""
        seq = 0
        first_activity: dict[int, int] = {}

        def add(cycle: int, kind: str, task: int, ctype: int, src: object) -> int:
            nonlocal seq
            key = 8 * cycle + _PRIORITY[kind]
            events.append(_Event(key, seq, kind, task, ctype, src))
            seq += 1
            return key

        per_core: dict[int, list[Execution]] = defaultdict(list)
        for e in tl.executions:
            per_core[e.core].append(e)
        pending_of: set[tuple[int, int]] = set()
        if tl.trace.log is not None:
            pending_of = {(d.core_id, d.reg_task_id) for d in tl.trace.log.dispatches if d.pending}
        mix_groups: dict[tuple[int, int, int], list[tuple[int, Execution]]] = defaultdict(list)
        by_log = tl.trace.log is not None and bool(tl.trace.log.dispatches)
        mix_seen: dict[tuple[int, int], int] = defaultdict(int)
        for core in sorted(per_core):
            rows = sorted(per_core[core], key=lambda e: (e.reg_task_id, e.aicore_index))
            disp: list[int] = []
            done: list[int] = []
            for i, e in enumerate(rows):
                prev = rows[i - 1] if i else None
                if by_log:
                    pending = (e.core, e.reg_task_id) in pending_of
                else:
                    pending = (
                        prev is not None and e.dispatch is not None and prev.finish is not None and e.dispatch < prev.finish
                    )
                if tl.tasks[e.task_id].stageable:
                    disp.append(e.start)  # possibly staged gated before ready: the model launches at the doorbell
                else:
                    disp.append(e.receive if pending or e.dispatch is None else e.dispatch)
                done.append(e.finish if e.finish is not None else e.end)
                if pending and i and disp[i] < done[i - 1]:
                    done[i - 1] = disp[i]  # the core was serial: the previous subtask was over by then
            for i, e in enumerate(rows):
                t = self.index_of[e.task_id]
                ctype = C_AIC if e.core_type == "aic" else C_AIV
                if self.info.tasks[t].shape is Shape.MIX:
                    cluster = tl.trace.swimlane.metadata.cluster_of(core) if tl.trace.swimlane is not None else core
                    occurrence = mix_seen[(t, core)]
                    mix_seen[(t, core)] += 1
                    mix_groups[(t, cluster, occurrence)].append((disp[i], e))
                else:
                    key = add(disp[i], DISPATCH, t, ctype, e)
                    first_activity[t] = min(first_activity.get(t, END_OF_TIME), key)
                add(max(done[i], disp[i]), COMPLETE, t, ctype, e)
        for (t, _cluster, _occ), members in sorted(mix_groups.items()):
            when = min(d for d, _ in members)
            key = add(when, DISPATCH, t, C_AIC, [e for _, e in members])
            first_activity[t] = min(first_activity.get(t, END_OF_TIME), key)
        for view in tl.tasks.values():
            for p in view.inline:
                if p.kind == "predicated_skip":
                    inconclusive = "a predicated task was skipped; the model has no dispatch predicates"
                    continue
                t = self.index_of[view.raw]
                key = add(p.start, DUMMY_DONE, t, 0, (p, view))
                first_activity[t] = min(first_activity.get(t, END_OF_TIME), key)
        for raw in tl.order or ():
            view = tl.tasks[raw]
            t = self.index_of[raw]
            own = 8 * view.submit_hi + _PRIORITY[SUBMIT] if view.submit_hi is not None else END_OF_TIME
            key = min(own, first_activity.get(t, END_OF_TIME) - 1)
            if view.submit_lo is not None:
                key = max(key, 8 * view.submit_lo)  # never before its submit began
            events.append(_Event(key, seq, SUBMIT, t, 0, view))
            seq += 1
        events.sort(key=lambda ev: ev.key)  # stable: equal keys stay in seq order
        return events, inconclusive

    # -- the loop

    def run(self) -> ReplayOutcome:
        events, inconclusive = self._events()
        state = self.model.initial_states()[0]
        for ev in events:
            state, refusal = self._apply(state, ev)
            if refusal:
                return self._refused(state, ev, refusal, inconclusive)
            self.accepted += 1
            self.recent.append(ev)
        state, refusal = self._finish(state)
        if refusal:
            end = _Event(END_OF_TIME, -1, "end", 0, 0, "end of the records")
            return self._refused(state, end, refusal, inconclusive)
        return ReplayOutcome(True, self.accepted)

    def _apply(self, state: State, ev: _Event) -> tuple[State, str]:
        if ev.kind == SUBMIT:
            return self._run_orchestrator(state, self.pc_of[ev.task])
        action: Action
        if ev.kind == DISPATCH:
            action = (A_DISPATCH, ev.task, ev.ctype)
        elif ev.kind == COMPLETE:
            action = (A_COMPLETE, ev.task, ev.ctype)
        else:
            action = (A_DUMMY, ev.task, 0)
        why = self._why_not(state, action)
        if self.cross_check:
            assert (why is None) == (action in self.model.actions(state)), (action, why)
        if why is not None:
            return state, why
        before = state[S_TASKS][ev.task][T_ST]
        state = self.model.next_state(state, action)
        if before < COMPLETED <= state[S_TASKS][ev.task][T_ST]:
            self.worklist.append(ev.task)
        return self._closure(state), ""

    def _run_orchestrator(self, state: State, target_pc: int) -> tuple[State, str]:
        """Run the orchestrator until the instruction at `target_pc` is done, then through the scope
        steps that follow it (they only open scopes or release)."""
        model = self.model
        while True:
            pc = state[S_PC]
            if pc > target_pc and self.info.instrs[pc].kind not in (I_BEGIN, I_END):
                return state, ""
            step = model.orchestrator_step(state)
            if step is None:  # at mark_done: every submit is behind
                return state, ""
            if isinstance(step, Blocked):
                if pc > target_pc:
                    return state, ""
                code = step.structural
                extra = f"; its detector latches {FatalCode(code).name}" if code else ""
                return state, f"the model's orchestrator is blocked: {step.reason}{extra} ({self._rings(state)})"
            if self.cross_check:
                assert step in model.actions(state)
            state = model.next_state(state, step)
            if state[S_FATAL]:
                return state, f"the model latches fatal {FatalCode(state[S_FATAL]).name} here ({self._rings(state)})"
            state = self._closure(state)

    def _closure(self, state: State) -> State:
        model, info = self.model, self.info
        while self.worklist:
            t = self.worklist.pop()
            if info.tasks[t].is_alloc:
                continue
            while True:
                tt = state[S_TASKS][t]
                if tt[T_ST] < COMPLETED:
                    break
                if tt[T_NCUR] < len(tt[T_FANOUT]):
                    action: Action = (A_NOTIFY, t, 0)
                elif not tt[T_FLAGS] & F_SELF_RELEASED:
                    action = (A_RELEASE, t, 0)
                else:
                    break
                if self.cross_check:
                    assert action in model.actions(state), action
                state = model.next_state(state, action)
        for r, row in self.rings:
            ring = state[S_RINGS][r]
            la = ring[R_LA]
            if la < ring[R_CUR] and state[S_TASKS][row[la]][T_ST] == CONSUMED:
                state = model.next_state(state, (A_ADVANCE, r, 0))
        return state

    def _finish(self, state: State) -> tuple[State, str]:
        state, refusal = self._run_orchestrator(state, len(self.info.instrs))
        if refusal:
            return state, refusal
        if self.model.is_final(state):
            return state, ""
        stuck = [
            f"{t.name}({STATUS_CHAR[state[S_TASKS][t.index][T_ST]]})"
            for t in self.info.tasks
            if state[S_TASKS][t.index][T_ST] != CONSUMED
        ]
        return state, (
            f"the records end but {len(stuck)} task(s) are not consumed in the model: {', '.join(stuck[:6])}"
            + (" ..." if len(stuck) > 6 else "")
        )

    # -- explanations

    def _why_not(self, state: State, action: Action) -> str | None:
        """None when `action` is enabled in `state` (the conditions of `TrbModel.actions`), else why not."""
        kind, t, ctype = action
        if state[S_FATAL]:
            return f"the model latched fatal {FatalCode(state[S_FATAL]).name}"
        info = self.info.tasks[t]
        ready, cores = state[S_READY], state[S_CORES]
        if kind == A_COMPLETE:
            if t in cores[ctype]:
                return None
            tt = state[S_TASKS][t]
            return (
                f"{info.name} is not running on an {'AIC' if ctype == C_AIC else 'AIV'} core in the model "
                f"({tt[T_BDISP]} block(s) dispatched, {tt[T_SDONE]} of {info.subtasks} subtask(s) done)"
            )
        q = QUEUE_OF_SHAPE[info.shape]
        if kind == A_DUMMY:
            return None if t in ready[Q_DUMMY] else self._not_ready(state, t)
        if t not in ready[q]:
            return self._not_ready(state, t)
        aic_cap, aiv_cap = self.model.core_capacity
        aic_busy, aiv_busy = len(cores[C_AIC]), len(cores[C_AIV])
        if info.shape is Shape.MIX:
            ok = ctype == C_AIC and aic_busy < aic_cap and aiv_busy + 2 <= aiv_cap
        elif info.shape is Shape.AIC:
            ok = ctype == C_AIC and aic_busy < aic_cap
        elif info.shape is Shape.AIV:
            ok = ctype == C_AIV and aiv_busy < aiv_cap
        else:
            ok = False
        if ok:
            return None
        if (info.shape is Shape.AIC and ctype != C_AIC) or (info.shape is Shape.AIV and ctype != C_AIV):
            return f"{info.name} is an {info.shape.value} task: the model never runs it on that core type"
        return f"no free core of its type in the model (AIC {aic_busy}/{aic_cap}, AIV {aiv_busy}/{aiv_cap} busy)"

    def _not_ready(self, state: State, t: int) -> str:
        info = self.info.tasks[t]
        tt = state[S_TASKS][t]
        st = tt[T_ST]
        if st == NONE:
            return f"{info.name} is not yet submitted in the model"
        if st >= COMPLETED:
            return f"{info.name} is already completed in the model"
        if tt[T_FLAGS] & F_READY:
            return f"every block of {info.name} was already dispatched ({tt[T_BDISP]} of {info.block_num})"
        waiting = [
            f"{self.info.tasks[p].name}({STATUS_CHAR[state[S_TASKS][p][T_ST]]})"
            for p, flags, _ph in tt[T_EDGES]
            if flags & WAIT and state[S_TASKS][p][T_ST] < COMPLETED
        ]
        return (
            f"{info.name} is not ready in the model: fanin {tt[T_FRC]}/{tt[T_FCOUNT]}"
            + (f", waiting for {', '.join(waiting[:4])}" if waiting else "")
        )

    def _rings(self, state: State) -> str:
        parts = []
        for r in range(NUM_RINGS):
            if self.info.tasks_per_ring[r]:
                ring = state[S_RINGS][r]
                parts.append(f"ring {r}: cur={ring[R_CUR]} la={ring[R_LA]} W={self.info.windows[r]}")
        return "; ".join(parts)

    def _refused(self, state: State, ev: _Event, reason: str, inconclusive: str) -> ReplayOutcome:
        if not inconclusive and "heap" in reason:
            inconclusive = "heap request sizes are inferred from deps.json (OUTPUT sizes are not recorded)"
        return ReplayOutcome(
            True,
            self.accepted,
            refused=f"event #{self.accepted + 1} ({ev.kind}: {ev.ref}): {reason}",
            context=[*(f"after {r.kind}: {r.ref}" for r in self.recent), f"model: {self._rings(state)}"],
            inconclusive=inconclusive,
        )

