"""The observed run, reconstructed from whichever trace files are present (trace-formats §6).

* Nodes: deps.json tasks (kernel or dummy by ``kernel_ids``), the hidden ``alloc_tensors`` tasks that
  appear only as edge preds, and (cross-check) the orchestrator's submit records, which list allocs too.
* Submit order: the orchestrator records (``submit_idx``), else the order the scenario rebuilt from
  deps.json infers (allocs placed as late as possible).
* Per task: its submit window, its executions (AICore row joined to AICPU row on core and register task
  id, one per subtask), its inline completion (``dummy_task`` / ``predicated_skip`` record), its debug-log
  dispatch lines.
* Scope instances: the scope-stats samples merged into the submit order (a sample's ``task_window_end``
  is its ring's allocation count; a task's ring is its scope depth clamped to 3), which places every
  sample between two submits and every task in the frame that was innermost at its submit.

Derived times are *bounds* taken from what the records prove, never guesses:

* ``dispatch_hi``: by then the task had certainly been popped (earliest AICPU dispatch timestamp of its
  subtasks, which the C++ samples after the pop; for a dummy its ``dummy_task`` record). A task whose every
  WAIT producer allows early resolve may be staged, gated, before it is ready (early dispatch): for it the
  bound is the AICore start, which follows the doorbell.
* ``complete_lo``: not before then could it have completed (the FIN observation of its last required
  subtask, which precedes ``on_task_complete``; a dummy's record; an alloc's submit start).
* ``consume_lo``: not before then could it be CONSUMED (runtime-spec §2.11): the max of its own
  ``complete_lo``, the ``complete_lo`` of every RETAIN consumer (their release follows their completion),
  and the end of its scope (the ``end`` sample is taken before the scope releases its tasks). Release,
  consumption and watermark advance are never observed directly; this is their eager closure.

Explicit edges are written ``[wait, retain]`` by dep_gen even when the user asked for ``add_dep_wait``
(WAIT only): their RETAIN half is not trusted (:attr:`EdgeView.retain_trusted`), so no lifetime
obligation is derived from it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

from model.errors import PtocheckError
from model.scenario import Scenario
from properties.trace_scenario import scenario_from_deps
from runtime.traces.common import TraceWarning
from runtime.traces.debug_log import LogDispatch
from runtime.traces.deps_json import TaskId
from runtime.traces.run_dir import RunTrace
from runtime.traces.scope_stats import ScopeSample
from runtime.traces.swimlane import Execution, OrchRecord, SchedPhase, join_executions

__all__ = ["EdgeView", "Frame", "PlacedSample", "TaskView", "Timeline", "build_timeline"]

KERNEL, DUMMY, ALLOC, UNKNOWN = "kernel", "dummy", "alloc", "unknown"
NUM_RINGS = 4
INLINE_KINDS = ("dummy_task", "predicated_skip")


@dataclass(slots=True)
class TaskView:
    raw: int
    ring: int
    local: int
    kind: str = UNKNOWN
    shape: str | None = None  # AIC / AIV / MIX / DUMMY
    kernel_ids: tuple[int, int, int] | None = None
    per_block: int = 0  # active subslots of kernel_ids
    block_num: int | None = None
    manual: bool | None = None
    early: bool = False  # recorded with early_dispatch (allow_early_resolve): its consumers may be pre-staged
    stageable: bool = False  # every WAIT producer allows early resolve: it may sit gated on a core before ready
    in_deps: bool = False
    orch: list[OrchRecord] = field(default_factory=list)
    executions: list[Execution] = field(default_factory=list)
    inline: list[SchedPhase] = field(default_factory=list)  # dummy_task / predicated_skip records
    log_lines: list[LogDispatch] = field(default_factory=list)
    frame: int = -1  # scope instance (index into Timeline.frames), -1 unknown
    submit_lo: int | None = None
    submit_hi: int | None = None
    dispatch_hi: int | None = None
    complete_lo: int | None = None
    consume_lo: int | None = None

    @property
    def name(self) -> str:
        return TaskId.format(self.raw)

    @property
    def subtasks(self) -> int | None:
        """Subtask executions a kernel task needs: block_num x active subslots (None if unknown)."""
        if self.kind != KERNEL:
            return 0 if self.kind in (DUMMY, ALLOC) else None
        if self.block_num is None or self.kernel_ids is None:
            return None
        return self.block_num * self.per_block


class EdgeView(NamedTuple):
    pred: int
    succ: int
    wait: bool
    retain: bool
    retain_trusted: bool  # RETAIN from a creator row (explicit rows carry RETAIN even for add_dep_wait)
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PlacedSample:
    sample: ScopeSample
    position: int  # submits (in `Timeline.order`) that precede the sample
    time_lo: int | None  # end of the preceding submit (None: unknown or none)
    time_hi: int | None  # start of the following submit (None: unknown or none)


@dataclass(slots=True)
class Frame:
    index: int
    depth: int
    begin: int  # index into Timeline.samples
    end: int | None  # index into Timeline.samples, None if the file ends first
    parent: int  # -1 for the root
    release_lo: int | None = None  # the scope released its tasks not before this time
    tasks: list[int] = field(default_factory=list)  # raw ids submitted while it was innermost


@dataclass
class Timeline:
    trace: RunTrace
    tasks: dict[int, TaskView]
    order: list[int] | None
    order_source: str
    edges: list[EdgeView]
    windows: tuple[int, ...] | None
    windows_source: str
    samples: list[PlacedSample]
    frames: list[Frame]
    executions: list[Execution]
    warnings: list[TraceWarning]
    notes: list[str]  # what could not be reconstructed, and why
    events: int  # observations read (the unit of the throughput figure)
    _rebuilt: Scenario | PtocheckError | None = None  # scenario_from_deps(deps), shared by every user

    def rebuilt_scenario(self) -> Scenario:
        """The scenario rebuilt from deps.json with the default configuration (computed once per timeline:
        the order inference, the edges check and the replay all start from it). Raises its PtocheckError."""
        if self._rebuilt is None:
            assert self.trace.deps is not None
            try:
                self._rebuilt = scenario_from_deps(self.trace.deps, self.trace.name)
            except PtocheckError as exc:
                self._rebuilt = exc
        if isinstance(self._rebuilt, PtocheckError):
            raise self._rebuilt.with_traceback(None)  # each raise starts a fresh traceback
        return self._rebuilt

    def task(self, raw: int) -> TaskView:
        view = self.tasks.get(raw)
        if view is None:
            view = TaskView(raw, (raw >> 32) & 0xFF, raw & 0xFFFFFFFF)
            self.tasks[raw] = view
        return view

    @property
    def has_scopes(self) -> bool:
        return bool(self.frames)


def _set_kernels(view: TaskView, kernel_ids: tuple[int, int, int]) -> None:
    view.kernel_ids = kernel_ids
    view.shape = _shape(kernel_ids)
    view.per_block = (kernel_ids[0] >= 0) + (kernel_ids[1] >= 0) + (kernel_ids[2] >= 0)


def _shape(kernel_ids: tuple[int, int, int]) -> str:
    used = sum(1 for k in kernel_ids if k >= 0)
    if used == 0:
        return "DUMMY"
    if used >= 2:
        return "MIX"
    return "AIC" if kernel_ids[0] >= 0 else "AIV"


def build_timeline(trace: RunTrace) -> Timeline:
    warnings = list(trace.warnings)
    notes: list[str] = []
    tl = Timeline(trace, {}, None, "", [], None, "", [], [], [], warnings, notes, 0)
    if trace.log is None:
        notes.append("no debug log: dispatch lines (idle/pending, block indices, owning thread) not cross-checked")
    _read_nodes(tl)
    _read_edges(tl)
    _read_order(tl)
    _read_windows(tl)
    _place_samples(tl)
    _derive_times(tl)
    return tl


# ----------------------------------------------------------------------------------------- nodes


def _read_nodes(tl: Timeline) -> None:
    trace = tl.trace
    events = 0
    task = tl.task
    tasks = tl.tasks
    if trace.deps is not None:
        for t in trace.deps.tasks:
            view = task(t.task_id)
            view.in_deps = True
            _set_kernels(view, t.kernel_ids)
            view.kind = DUMMY if view.shape == "DUMMY" else KERNEL
            view.block_num = t.block_num
            view.manual = t.manual_scope
            view.early = t.early_dispatch
        for raw in trace.deps.hidden_alloc_ids:
            view = task(raw)
            view.kind = ALLOC
            view.early = True  # alloc_tensors sets allow_early_resolve (runtime-spec §2.5)
        events += len(trace.deps.tasks) + len(trace.deps.edges)
    sw = trace.swimlane
    if sw is not None:
        executions, join_warnings = join_executions(sw)
        tl.warnings.extend(join_warnings)
        tl.executions = executions
        for e in executions:
            (tasks.get(e.task_id) or task(e.task_id)).executions.append(e)
        for rec in sw.orch_records:
            (tasks.get(rec.task_id) or task(rec.task_id)).orch.append(rec)
        for ph in sw.sched_phases:
            if ph.kind in INLINE_KINDS and ph.task_id is not None:
                task(ph.task_id).inline.append(ph)
                events += 1
        events += len(sw.aicore) + len(sw.aicpu) + len(sw.orch_records)
    if trace.log is not None:
        for line in trace.log.dispatches:
            view = tasks.get(line.task_id) or task(line.task_id)
            view.log_lines.append(line)
            if view.kernel_ids is None:
                _set_kernels(view, line.kernel_ids)
                view.block_num = line.total_blocks
        events += len(trace.log.dispatches)
    if trace.scope_stats is not None:
        events += len(trace.scope_stats.samples)
    tl.events = events
    # Kinds of ids that deps.json does not describe.
    orch_known = sw is not None and sw.has_orch_records
    for view in tl.tasks.values():
        if view.kind != UNKNOWN:
            continue
        if trace.deps is not None:
            # Not a deps.json task: an alloc if the orchestrator submitted it and nothing ran it.
            if view.orch and not view.executions and not view.inline and not view.log_lines:
                view.kind = ALLOC
        elif view.executions or view.log_lines:
            view.kind = KERNEL
        elif view.inline and view.inline[0].kind == "dummy_task":
            view.kind = DUMMY
        elif view.orch and orch_known and sw is not None and sw.has_sched_phases:
            view.kind = ALLOC  # submitted, never executed, no dummy record although level >= 3 records them


# ----------------------------------------------------------------------------------------- edges


def _read_edges(tl: Timeline) -> None:
    deps = tl.trace.deps
    if deps is None:
        return
    bits: dict[tuple[int, int], int] = {}  # 1 wait, 2 retain, 4 retain from a non-explicit row
    sources: dict[tuple[int, int], str] = {}
    for e in deps.edges:
        key = (e.pred, e.succ)
        b = bits.get(key, 0)
        flags = e.flags
        if "wait" in flags:
            b |= 1
        if "retain" in flags:
            b |= 2 if e.source == "explicit" else 6
        bits[key] = b
        known = sources.get(key)
        if known is None:
            sources[key] = e.source
        elif e.source not in known.split(","):
            sources[key] = ",".join(sorted((*known.split(","), e.source)))
    # raw ids order as (ring, local) for every id the runtime makes (ring in bits 32-39, nothing above)
    tl.edges = [
        EdgeView(p, s, bool(b & 1), bool(b & 2), bool(b & 4), tuple(sources[(p, s)].split(",")))
        for (p, s), b in sorted(bits.items())
    ]


# ----------------------------------------------------------------------------------------- order


def _read_order(tl: Timeline) -> None:
    sw = tl.trace.swimlane
    if sw is not None and sw.has_orch_records and sw.orch_records:
        recs = sorted(sw.orch_records, key=lambda r: (r.submit_idx, r.lane, r.pos))
        seen: set[int] = set()
        order: list[int] = []
        for r in recs:
            if r.task_id not in seen:
                seen.add(r.task_id)
                order.append(r.task_id)
        tl.order = order
        tl.order_source = "orchestrator submit records"
        return
    deps = tl.trace.deps
    if deps is None:
        tl.notes.append("submit order unknown: no orchestrator records and no deps.json")
        return
    try:
        scenario = tl.rebuilt_scenario()
    except PtocheckError as exc:
        tl.notes.append(f"submit order unknown: the scenario cannot be rebuilt from deps.json ({exc.what})")
        return
    order = []
    for op in scenario.tasks():
        ring, local = op.name[1:].split("t")
        order.append(TaskId.raw_of(int(ring), int(local)))
    for raw in order:
        view = tl.task(raw)
        if view.kind == UNKNOWN:
            view.kind = ALLOC  # a placeholder alloc the rebuild inferred from a gap in local ids
    tl.order = order
    tl.order_source = "inferred from deps.json (no orchestrator records)"


# ----------------------------------------------------------------------------------------- config


def _read_windows(tl: Timeline) -> None:
    stats, log = tl.trace.scope_stats, tl.trace.log
    from_stats = stats.task_window_max if stats is not None else None
    from_log = log.ring_sizes[0] if log is not None and log.ring_sizes is not None else None
    if from_log is not None and len(from_log) != NUM_RINGS:
        tl.warnings.append(
            TraceWarning(f"'Ring buffer sizes' lists {len(from_log)} task windows, expected {NUM_RINGS}",
                         f"{tl.trace.log_source}:{log.ring_sizes_line if log else 0}")
        )
        from_log = None
    if from_stats is not None and from_log is not None and from_stats != from_log:
        tl.warnings.append(
            TraceWarning(
                f"task windows disagree: scope_stats says {list(from_stats)}, the log says {list(from_log)}; "
                "the scope_stats value is used",
                f"{stats.source if stats else ''}:1",
            )
        )
    if from_stats is not None:
        tl.windows, tl.windows_source = from_stats, "scope_stats task_window_max"
    elif from_log is not None:
        tl.windows, tl.windows_source = from_log, "log 'Ring buffer sizes'"
    else:
        tl.notes.append("task window sizes not recorded (no scope_stats, no debug log)")
    if tl.windows is not None and any(w < 1 or w & (w - 1) for w in tl.windows):
        tl.warnings.append(TraceWarning(f"task windows {list(tl.windows)} are not powers of two", tl.windows_source))
        tl.windows = None


# ----------------------------------------------------------------------------------------- scopes


def _place_samples(tl: Timeline) -> None:
    """Merge the scope-stats samples into the submit order (see the module docstring)."""
    stats = tl.trace.scope_stats
    if stats is None or not stats.samples:
        return
    if tl.order is None:
        tl.notes.append("scope instances unknown: the submit order is unknown")
        return
    order, samples = tl.order, stats.samples
    n, m = len(order), len(samples)
    rings = [(raw >> 32) & 0xFF for raw in order]
    count = [0] * 256
    stack: list[int] = []  # frame indices, root first
    frames: list[Frame] = []
    positions: list[int] = []
    frame_of: list[int] = [-1] * n
    i = k = 0
    while i < n or k < m:
        s = samples[k] if k < m else None
        can_sample = s is not None and _sample_fits(s, stack, frames, count)
        ring_i = rings[i] if i < n else -1
        can_submit = i < n and bool(stack) and min(len(stack) - 1, NUM_RINGS - 1) == ring_i
        if can_sample and s is not None and (not can_submit or s.ring == ring_i):
            if s.phase == "begin":
                frames.append(Frame(len(frames), s.depth, k, None, stack[-1] if stack else -1))
                stack.append(len(frames) - 1)
            else:
                frames[stack.pop()].end = k
            positions.append(i)
            k += 1
        elif can_submit:
            count[ring_i] += 1
            top = stack[-1]
            frame_of[i] = top
            frames[top].tasks.append(order[i])
            i += 1
        else:
            why = _why_sample_misfits(s, stack, frames, count) if s is not None else ""
            where = f"{stats.source}:{s.line}" if s is not None else stats.source
            task = TaskId.format(order[i]) if i < n else "none"
            tl.warnings.append(
                TraceWarning(
                    f"scope samples do not fit the submit order (next submit {task}, depth {len(stack) - 1}"
                    f"{'; ' + why if why else ''}): scope instances unknown",
                    where,
                )
            )
            return
    if stack:
        tl.warnings.append(TraceWarning(f"{len(stack)} scope(s) never end in the file (truncated?)", stats.source))
    tl.frames = frames
    submit_times = _submit_times(tl)
    for s, pos in zip(samples, positions, strict=True):
        lo = submit_times[pos - 1][1] if submit_times is not None and pos > 0 else None
        hi = submit_times[pos][0] if submit_times is not None and pos < n else None
        tl.samples.append(PlacedSample(s, pos, lo, hi))
    for idx, raw in enumerate(order):
        tl.tasks[raw].frame = frame_of[idx]
    for f in frames:
        if f.end is not None:
            f.release_lo = tl.samples[f.end].time_lo


def _sample_fits(s: ScopeSample, stack: list[int], frames: list[Frame], count: list[int]) -> bool:
    depth = s.depth
    if s.ring != (depth if depth < NUM_RINGS else NUM_RINGS - 1) or count[s.ring] != s.task_window_end:
        return False
    if s.phase == "begin":
        return len(stack) == depth
    return bool(stack) and frames[stack[-1]].depth == depth


def _why_sample_misfits(s: ScopeSample, stack: list[int], frames: list[Frame], count: list[int]) -> str:
    if s.ring != min(s.depth, NUM_RINGS - 1):
        return f"sample line {s.line} is on ring {s.ring} at depth {s.depth}"
    if count[s.ring] != s.task_window_end:
        return f"line {s.line} says ring {s.ring} allocated {s.task_window_end}, the submits {count[s.ring]}"
    if s.phase == "begin":
        return f"line {s.line} opens depth {s.depth}"
    return f"line {s.line} closes depth {s.depth}"


def _submit_times(tl: Timeline) -> list[tuple[int, int]] | None:
    if tl.order is None:
        return None
    out: list[tuple[int, int]] = []
    for raw in tl.order:
        orch = tl.tasks[raw].orch
        if not orch:
            return None
        out.append((orch[0].start, orch[0].end))
    return out


# ----------------------------------------------------------------------------------------- times


def _kth_smallest(values: list[int], k: int) -> int:
    return sorted(values)[k - 1]


def _mark_stageable(tl: Timeline) -> None:
    """Early dispatch (runtime-spec §2.18) stages a consumer, gated, on a core once every WAIT producer
    allows early resolve; the AICPU dispatch time of such a task may precede its producers' completion and
    only the doorbell (before the AICore start) waits for them."""
    gated: dict[int, bool] = {}
    for e in tl.edges:
        if e.wait:
            p = tl.tasks.get(e.pred)
            gated[e.succ] = gated.get(e.succ, True) and p is not None and p.early
    for raw, ok in gated.items():
        if ok:
            tl.tasks[raw].stageable = True


def _derive_times(tl: Timeline) -> None:
    _mark_stageable(tl)
    for view in tl.tasks.values():
        if view.orch:
            view.submit_lo, view.submit_hi = view.orch[0].start, view.orch[0].end
        if view.kind == ALLOC:
            view.complete_lo = view.submit_lo
            continue
        if view.inline:
            first = min(p.start for p in view.inline)
            view.dispatch_hi = first
            if not view.executions:
                view.complete_lo = first
                continue
        execs = view.executions
        if len(execs) == 1:  # the common case, without the general machinery
            e = execs[0]
            d = e.start if view.stageable else (e.dispatch if e.dispatch is not None else e.receive)
            view.dispatch_hi = d if view.dispatch_hi is None else min(view.dispatch_hi, d)
            need = view.subtasks
            if need is None or need == 1:
                view.complete_lo = e.finish if e.finish is not None else e.end
        elif execs:
            if view.stageable:
                dispatches = [e.start for e in execs]
            else:
                dispatches = [e.dispatch if e.dispatch is not None else e.receive for e in execs]
            view.dispatch_hi = min(dispatches) if view.dispatch_hi is None else min(view.dispatch_hi, *dispatches)
            finishes = [e.finish if e.finish is not None else e.end for e in execs]
            need = view.subtasks
            if need is None:
                view.complete_lo = max(finishes)
            elif 0 < need <= len(finishes):
                view.complete_lo = _kth_smallest(finishes, need)
    # Consumption: completion, every trusted RETAIN consumer's completion, the scope's release.
    retain_consumers: dict[int, list[int]] = defaultdict(list)
    for edge in tl.edges:
        if edge.retain_trusted:
            retain_consumers[edge.pred].append(edge.succ)
    for view in tl.tasks.values():
        if view.complete_lo is None:
            continue
        bound = view.complete_lo
        for c in retain_consumers.get(view.raw, ()):
            c_lo = tl.tasks[c].complete_lo if c in tl.tasks else None
            if c_lo is not None and c_lo > bound:
                bound = c_lo
        release = tl.frames[view.frame].release_lo if view.frame >= 0 else view.submit_hi
        if release is not None and release > bound:
            bound = release
        view.consume_lo = bound
