"""The named observation checks of a real run against the runtime's rules (runtime-spec §2.10-§2.12, §3).

Each check reads its own part of the records, so a corrupted record is blamed on the rule it breaks:

==============  ===========================================================================================
edges           deps.json's edge rows equal the model's own derivation from the recorded arguments (INV-F5)
wait-order      every WAIT producer completed before its consumer was dispatched (INV-F4)
slot-reuse      a task's slot is reused, and the watermark passes it, only after the task was consumed:
                completed, every (creator) RETAIN consumer finished, its scope ended (INV-R3/R4, INV-L4)
window          per ring never more than W-1 tasks live: ``cur - la <= W - 1`` at every watermark sample (INV-R1)
watermark       per ring the watermark samples are monotone (``la`` and ``cur`` never decrease, ``la <= cur``)
                (INV-R2)
exactly-once    each task submitted once in the recorded order; each subtask (each block of SPMD / MIX)
                dispatched and completed exactly once; dummies completed once inline; the files agree (INV-D3)
core-serial     per core executions never overlap; at most one pending prefetch; per-subtask times ordered;
                subtasks on cores of their type, owned by the thread that logged them (INV-D1/D2)
==============  ===========================================================================================

Every comparison uses bounds the records prove (see :mod:`properties.conformance.timeline`), so a
violation is a fact about the run, never a guess; an obligation whose records are absent is counted as
"unjudged" instead.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable

from model.errors import PtocheckError
from model.program import ProgramInfo
from properties.conformance.derivation import derive_all_edges_by_buffer
from properties.conformance.report import CheckResult
from properties.conformance.timeline import (
    ALLOC,
    DUMMY,
    KERNEL,
    UNKNOWN,
    EdgeView,
    PlacedSample,
    TaskView,
    Timeline,
)
from properties.trace_scenario import derivation_mismatches
from runtime.traces.debug_log import LogDispatch
from runtime.traces.deps_json import TaskId
from runtime.traces.run_dir import DEPS_FILE, SCOPE_STATS_FILE, SWIMLANE_FILE
from runtime.traces.swimlane import Execution, OrchRecord, SchedPhase

__all__ = ["CHECKS", "Refs", "observation_checks"]

CHECKS: dict[str, str] = {
    "edges": "deps.json's edges equal the model's derivation from the recorded arguments",
    "wait-order": "every WAIT producer completed before its consumer was dispatched",
    "slot-reuse": "a slot is reused, and the watermark passes a task, only after it was consumed",
    "window": "per ring never more than W-1 tasks live at any watermark sample",
    "watermark": "per ring the watermark samples are monotone and la <= cur",
    "exactly-once": "each task submitted once; each subtask dispatched and completed exactly once",
    "core-serial": "per core no overlapping executions, at most one pending prefetch, ordered times",
}
SUBSLOT_CORE = {"aic": "aic", "aiv0": "aiv", "aiv1": "aiv"}


class Refs:
    """Names of observed records, as the report prints them (file, position, what it says)."""

    def __init__(self, tl: Timeline) -> None:
        source = tl.trace.log_source
        inside = source is None or source.startswith(str(tl.trace.path) + "/")
        self.log = "stderr.log" if inside else "../stderr.log"

    @staticmethod
    def execution(e: Execution) -> str:
        times = f"receive {e.receive} start {e.start} end {e.end}"
        if e.dispatch is not None:
            times = f"dispatch {e.dispatch} {times} finish {e.finish}"
        pos = f"aicore_tasks[{e.aicore_index}]" + (f"+aicpu_tasks[{e.aicpu_index}]" if e.aicpu_index is not None else "")
        return f"{SWIMLANE_FILE}: {pos}: {TaskId.format(e.task_id)} on {e.core_type} core {e.core} reg {e.reg_task_id}: {times}"

    @staticmethod
    def orch(r: OrchRecord) -> str:
        return (
            f"{SWIMLANE_FILE}: aicpu_orchestrator_phases[{r.lane}][{r.pos}]: submit_idx {r.submit_idx} "
            f"{TaskId.format(r.task_id)} cycles {r.start}..{r.end}"
        )

    @staticmethod
    def inline(p: SchedPhase) -> str:
        return (
            f"{SWIMLANE_FILE}: aicpu_scheduler_phases[{p.thread}][{p.pos}]: {p.kind} "
            f"{TaskId.format(p.task_id or 0)} at {p.start}"
        )

    @staticmethod
    def sample(ps: PlacedSample) -> str:
        s = ps.sample
        when = f" (between cycles {ps.time_lo} and {ps.time_hi})" if ps.time_lo is not None or ps.time_hi is not None else ""
        return (
            f"{SCOPE_STATS_FILE}:{s.line}: {s.phase} {s.site} depth {s.depth} ring {s.ring}: "
            f"la={s.task_window_start} cur={s.task_window_end}{when}"
        )

    def line(self, d: LogDispatch) -> str:
        return (
            f"{self.log}:{d.line}: thread {d.thread} dispatched {'pending' if d.pending else 'idle'} {d.subslot} "
            f"{TaskId.format(d.task_id)} block {d.block_idx}/{d.total_blocks} core {d.core_id} reg {d.reg_task_id}"
        )

    @staticmethod
    def edge(pred: int, succ: int, flags: str, sources: tuple[str, ...]) -> str:
        return f"{DEPS_FILE}: edge {TaskId.format(pred)} -> {TaskId.format(succ)} [{flags}] ({', '.join(sources)})"

    def completion(self, v: TaskView) -> str:
        """The record that proves `v`'s earliest possible completion."""
        if v.kind == ALLOC and v.orch:
            return self.orch(v.orch[0]) + " (alloc: completed inside its submit)"
        if v.inline and not v.executions:
            return self.inline(min(v.inline, key=lambda p: p.start))
        cands = [e for e in v.executions if (e.finish if e.finish is not None else e.end) == v.complete_lo]
        return self.execution(cands[0]) if cands else f"{TaskId.format(v.raw)} completion"

    def dispatch(self, v: TaskView) -> str:
        if v.inline and (not v.executions or min(p.start for p in v.inline) == v.dispatch_hi):
            return self.inline(min(v.inline, key=lambda p: p.start))
        cands = [e for e in v.executions if (e.dispatch if e.dispatch is not None else e.receive) == v.dispatch_hi]
        return self.execution(cands[0]) if cands else f"{TaskId.format(v.raw)} dispatch"


def _result(name: str) -> CheckResult:
    return CheckResult(name, CHECKS[name])


# ------------------------------------------------------------------------------------------- edges


def check_edges(tl: Timeline, refs: Refs) -> CheckResult:
    res = _result("edges")
    deps = tl.trace.deps
    if deps is None:
        return res.not_run(f"no {DEPS_FILE}")
    try:
        info = ProgramInfo(tl.rebuilt_scenario())
    except PtocheckError as exc:
        # The recorded arguments and edges contradict the runtime's own wiring rules (e.g. a reader of an
        # owned buffer without an edge from its creator): that is a disagreement about the edge set.
        res.checked = 1
        res.add(f"the recorded edges contradict the runtime's rules: {exc.what}", [f"{DEPS_FILE}: {exc.where}"])
        return res
    problems = derivation_mismatches(info, deps, derive_all_edges_by_buffer(info))
    res.checked = len(deps.unique_edges()) + len(deps.edges)
    for p in problems:
        res.add(f"model derivation differs: {p}", [f"{DEPS_FILE}: edges[]"])
    _check_creators_against_heap(tl, res, refs)
    return res


def _check_creators_against_heap(tl: Timeline, res: CheckResult, refs: Refs) -> None:
    """The rebuilt scenario takes buffer owners from the creator rows, so the derivation cannot find a
    creator row missing. Independently of those rows: a buffer outside every host tensor the log lists was
    created by the runtime in a ring heap, where (without a heap wrap) allocation addresses ascend with
    the local id. So a created buffer lying between two buffers of known owners O1 < O2 of one ring was
    created by a task of that ring in [O1, O2] with OUTPUT slots (O1 itself when O1 = O2), and every
    AUTO-scope reader must have one of those among its preds (the runtime's creator step; dep_gen drops a
    creator row only when the owner already appears for that reader)."""
    deps, log, stats = tl.trace.deps, tl.trace.log, tl.trace.scope_stats
    if deps is None or log is None or not log.host_tensors or stats is None:
        res.note = "creator rows: consistency only; the heap cross-check needs the debug log host tensors and scope_stats"
        return
    allocated: dict[int, int] = defaultdict(int)
    for s in stats.samples:
        allocated[s.ring] = max(allocated[s.ring], s.heap_end)
    if any(allocated[r] > stats.heap_max[r] for r in allocated):
        res.note = "a ring heap wrapped (addresses are reused): creator rows are checked for consistency only"
        return
    hosts = sorted(log.host_tensors)
    host_starts = [a for a, _n in hosts]
    owner: dict[int, int] = {}
    for e in deps.edges:
        if e.source == "creator" and e.tensor_id is not None:
            owner[deps.tensors[e.tensor_id].buffer_addr] = e.pred
    owned = sorted(owner.items())
    owned_addrs = [a for a, _o in owned]
    makers = {t.task_id for t in deps.tasks if any(a.tag == "OUTPUT" for a in t.args)} | set(deps.hidden_alloc_ids)
    by_ring: dict[int, list[int]] = defaultdict(list)
    for raw in sorted(makers):
        by_ring[TaskId.ring_of(raw)].append(raw)
    preds: dict[int, set[int]] = defaultdict(set)
    for e in deps.edges:
        preds[e.succ].add(e.pred)
    for ti, task in enumerate(deps.tasks):
        if task.manual_scope:
            continue
        for ai, arg in enumerate(task.args):
            if arg.tensor_id is None:
                continue
            addr = deps.tensors[arg.tensor_id].buffer_addr
            i = bisect_right(host_starts, addr) - 1
            if i >= 0 and addr < hosts[i][0] + max(hosts[i][1], 1):
                continue  # a host tensor
            candidates = _owner_candidates(addr, owner, owned, owned_addrs, by_ring)
            if candidates is None:
                res.unjudged += 1
                continue
            res.checked += 1
            if not candidates & preds[task.task_id]:
                names = ", ".join(TaskId.format(c) for c in sorted(candidates, key=TaskId.sort_key)[:4])
                res.add(
                    f"{TaskId.format(task.task_id)} reads buffer {addr:#x}, which the runtime created (it is no host "
                    f"tensor) by one of {names}, but has no edge from any of them: its creator edge is missing",
                    [f"{DEPS_FILE}: tasks[{ti}].args[{ai}]", f"{refs.log}: the run's ChipTensor lines"],
                )


def _owner_candidates(
    addr: int,
    owner: dict[int, int],
    owned: list[tuple[int, int]],
    owned_addrs: list[int],
    by_ring: dict[int, list[int]],
) -> set[int] | None:
    if addr in owner:
        return {owner[addr]}
    i = bisect_right(owned_addrs, addr)
    if i == 0 or i == len(owned):
        return None
    lo, hi = owned[i - 1][1], owned[i][1]
    if lo == hi:
        return {lo}
    ring = TaskId.ring_of(lo)
    if TaskId.ring_of(hi) != ring or TaskId.local_of(lo) > TaskId.local_of(hi):
        return None
    row = by_ring[ring]  # raw ids of the ring, ascending
    return set(row[bisect_left(row, lo) : bisect_right(row, hi)])


# -------------------------------------------------------------------------------------- wait-order


def check_wait_order(tl: Timeline, refs: Refs) -> CheckResult:
    res = _result("wait-order")
    if not tl.edges:
        return res.not_run(f"no {DEPS_FILE}" if tl.trace.deps is None else "no WAIT edges")
    if tl.trace.swimlane is None:
        return res.not_run(f"no {SWIMLANE_FILE}: dispatch and completion times unknown")
    tasks = tl.tasks
    for e in tl.edges:
        if not e.wait:
            continue
        p, c = tasks[e.pred], tasks[e.succ]
        if p.complete_lo is None or c.dispatch_hi is None:
            res.unjudged += 1
            continue
        res.checked += 1
        if c.dispatch_hi < p.complete_lo:
            res.add(
                f"{c.name} was dispatched at cycle {c.dispatch_hi}, before its WAIT producer {p.name} "
                f"could have completed (cycle {p.complete_lo})",
                [refs.edge(e.pred, e.succ, "wait" + (",retain" if e.retain else ""), e.sources),
                 refs.completion(p), refs.dispatch(c)],
            )
    return res


# -------------------------------------------------------------------------------------- slot-reuse


def check_slot_reuse(tl: Timeline, refs: Refs) -> CheckResult:
    res = _result("slot-reuse")
    if tl.windows is None:
        return res.not_run("task window sizes not recorded")
    if tl.trace.swimlane is None:
        return res.not_run(f"no {SWIMLANE_FILE}: completion times unknown")
    by_ring: dict[tuple[int, int], TaskView] = {(v.ring, v.local): v for v in tl.tasks.values()}
    retained: dict[int, list[EdgeView]] = defaultdict(list)
    for edge in tl.edges:
        if edge.retain_trusted:
            retained[edge.pred].append(edge)
    # (a) reallocation of a slot: (r, l) reuses the slot of (r, l - W_r).
    for v in tl.tasks.values():
        w = tl.windows[v.ring] if v.ring < len(tl.windows) else 0
        if w <= 0 or v.local < w or v.submit_hi is None:
            continue
        prev = by_ring.get((v.ring, v.local - w))
        if prev is None or prev.consume_lo is None:
            res.unjudged += 1
            continue
        res.checked += 1
        if prev.consume_lo > v.submit_hi:
            res.add(
                f"{v.name} was allocated into slot {v.local & (w - 1)} of ring {v.ring} (submit ended at cycle "
                f"{v.submit_hi}) while its previous occupant {prev.name} could not be consumed before cycle "
                f"{prev.consume_lo}",
                [refs.orch(v.orch[0]), *_consume_evidence(tl, prev, refs, retained)],
            )
    # (b) every watermark sample: la passed only consumed tasks (each task checked at the first sample passing it).
    passed = [0] * 4
    for ps in tl.samples:
        s = ps.sample
        la = s.task_window_start
        if la <= passed[s.ring]:
            continue
        lo, passed[s.ring] = passed[s.ring], la
        for local in range(lo, la):
            u = by_ring.get((s.ring, local))
            if u is None or u.consume_lo is None or ps.time_hi is None:
                res.unjudged += 1
                continue
            res.checked += 1
            if u.consume_lo > ps.time_hi:
                res.add(
                    f"the watermark of ring {s.ring} had passed {u.name} (la={la}) by cycle {ps.time_hi}, but "
                    f"{u.name} could not be consumed before cycle {u.consume_lo}",
                    [refs.sample(ps), *_consume_evidence(tl, u, refs, retained)],
                )
    if res.checked == res.unjudged == 0:
        res.note = "vacuous here: no slot was reused and no watermark sample passed a task"
    return res


def _consume_evidence(tl: Timeline, v: TaskView, refs: Refs, retained: dict[int, list[EdgeView]]) -> list[str]:
    """The record that sets `v`'s consumption bound: its own completion, a RETAIN consumer's, or its scope end."""
    assert v.consume_lo is not None
    if v.complete_lo == v.consume_lo:
        return [refs.completion(v)]
    for e in retained.get(v.raw, ()):
        c = tl.tasks[e.succ]
        if c.complete_lo == v.consume_lo:
            return [refs.edge(e.pred, e.succ, "wait,retain" if e.wait else "retain", e.sources), refs.completion(c)]
    if v.frame >= 0:
        end = tl.frames[v.frame].end
        if end is not None:
            return [refs.sample(tl.samples[end]) + " (its scope ends here)"]
    return [f"{v.name}: its scope ends after its submit"]


# ------------------------------------------------------------------------------------------ window


def check_window(tl: Timeline, refs: Refs) -> CheckResult:
    res = _result("window")
    if tl.trace.scope_stats is None and (tl.trace.log is None or not tl.trace.log.ring_totals):
        return res.not_run("no watermark samples (no scope_stats, no mark_done line)")
    if tl.windows is None:
        return res.not_run("task window sizes not recorded")
    stats = tl.trace.scope_stats
    placed = tl.samples or [PlacedSample(s, -1, None, None) for s in (stats.samples if stats is not None else ())]
    for ps in placed:
        s = ps.sample
        w = tl.windows[s.ring]
        res.checked += 1
        live = s.task_window_end - s.task_window_start
        if live > w - 1:
            res.add(
                f"ring {s.ring} had {live} tasks live (cur={s.task_window_end}, la={s.task_window_start}) with a "
                f"window of {w}: at most {w - 1} may be",
                [refs.sample(ps)],
            )
    log = tl.trace.log
    if log is not None:
        for ring, active in sorted(log.ring_totals.items()):
            if ring >= len(tl.windows):
                continue
            res.checked += 1
            if active > tl.windows[ring] - 1:
                res.add(
                    f"at mark_done ring {ring} had {active} tasks live with a window of {tl.windows[ring]}",
                    [f"{refs.log}: mark_done ring {ring}: total_tasks={active} (= cur - la)"],
                )
    return res


# --------------------------------------------------------------------------------------- watermark


def check_watermark(tl: Timeline, refs: Refs) -> CheckResult:
    res = _result("watermark")
    stats = tl.trace.scope_stats
    if stats is None:
        return res.not_run("no scope_stats samples")
    last: dict[int, PlacedSample] = {}
    placed = tl.samples or [PlacedSample(s, -1, None, None) for s in stats.samples]
    for ps in placed:
        s = ps.sample
        res.checked += 1
        if s.task_window_start > s.task_window_end:
            res.add(f"ring {s.ring}: la={s.task_window_start} is ahead of cur={s.task_window_end}", [refs.sample(ps)])
        prev = last.get(s.ring)
        if prev is not None:
            p = prev.sample
            if s.task_window_start < p.task_window_start:
                res.add(
                    f"ring {s.ring}: the watermark went back from la={p.task_window_start} to la={s.task_window_start}",
                    [refs.sample(prev), refs.sample(ps)],
                )
            if s.task_window_end < p.task_window_end:
                res.add(
                    f"ring {s.ring}: the allocation count went back from cur={p.task_window_end} to cur={s.task_window_end}",
                    [refs.sample(prev), refs.sample(ps)],
                )
        last[s.ring] = ps
    log = tl.trace.log
    if log is not None and log.ring_totals:
        per_ring: dict[int, int] = defaultdict(int)
        for v in tl.tasks.values():
            if v.kind != UNKNOWN:
                per_ring[v.ring] += 1
        for ring, active in sorted(log.ring_totals.items()):
            res.checked += 1
            la_final = per_ring[ring] - active
            prev = last.get(ring)
            if la_final < 0 or (prev is not None and la_final < prev.sample.task_window_start):
                res.add(
                    f"ring {ring}: mark_done reports {active} live of {per_ring[ring]} tasks (la={la_final}), behind "
                    "the last sample" if la_final >= 0 else f"ring {ring}: mark_done reports more live tasks than exist",
                    [f"{refs.log}: mark_done ring {ring}: total_tasks={active}"] + ([refs.sample(prev)] if prev else []),
                )
    return res


# ------------------------------------------------------------------------------------ exactly-once


def check_exactly_once(tl: Timeline, refs: Refs) -> CheckResult:
    res = _result("exactly-once")
    sw, log, deps = tl.trace.swimlane, tl.trace.log, tl.trace.deps
    if sw is None and log is None:
        return res.not_run(f"no {SWIMLANE_FILE} and no debug log")
    known = deps is not None or (sw is not None and sw.has_orch_records)
    _check_keys_unique(tl, res, refs)
    _check_submits(tl, res, refs)
    for v in tl.tasks.values():
        res.checked += 1
        if v.kind == UNKNOWN and known:
            evidence = [refs.execution(e) for e in v.executions[:2]] + [refs.inline(p) for p in v.inline[:2]]
            evidence += [refs.line(d) for d in v.log_lines[:2]]
            res.add(f"{v.name} ran but was never submitted", evidence)
            continue
        if v.kind == ALLOC:
            extra = [refs.execution(e) for e in v.executions[:2]] + [refs.inline(p) for p in v.inline[:2]]
            if extra:
                res.add(f"alloc task {v.name} (completed at submit) was also executed or completed by a scheduler", extra)
            continue
        if v.kind == DUMMY:
            if sw is not None and sw.has_sched_phases and len(v.inline) != 1:
                res.add(
                    f"dummy task {v.name} was completed {len(v.inline)} times (exactly once expected)",
                    [refs.inline(p) for p in v.inline[:3]] or [f"{SWIMLANE_FILE}: no dummy_task record for {v.name}"],
                )
            if v.executions:
                res.add(f"dummy task {v.name} ran on a core", [refs.execution(e) for e in v.executions[:2]])
            continue
        if v.kind == KERNEL:
            if not v.inline and sw is not None and v.block_num is not None and v.kernel_ids is not None and (
                len(v.executions) == v.block_num * v.per_block
            ):
                if sw.has_aicpu and any(e.finish is None for e in v.executions):
                    res.unjudged += 1  # a lost AICPU row (already a warning): completion not observed
                continue  # the common case: every subtask ran once
            _check_kernel_counts(tl, v, res, refs)
    _check_log_join(tl, res, refs)
    if log is not None and log.completed is not None:
        res.checked += 1
        done, total = log.completed
        n = sum(1 for v in tl.tasks.values() if v.kind != UNKNOWN)
        if done != total or (known and total != n):
            res.add(
                f"the scheduler reports {done}/{total} tasks completed; the records hold {n} tasks",
                [f"{refs.log}: PTO2 completed tasks {done}/{total}"],
            )
    return res


def _check_keys_unique(tl: Timeline, res: CheckResult, refs: Refs) -> None:
    sw = tl.trace.swimlane
    if sw is None:
        return
    for label, rows in (("aicore_tasks", sw.aicore), ("aicpu_tasks", sw.aicpu)):
        first: dict[tuple[int, int], int] = {}
        for row in rows:
            key = (row.core, row.reg_task_id)
            res.checked += 1
            if key in first:
                res.add(
                    f"core {key[0]} register task id {key[1]} appears twice in {label}: one dispatch, two records",
                    [f"{SWIMLANE_FILE}: {label}[{first[key]}]", f"{SWIMLANE_FILE}: {label}[{row.pos}]"],
                )
            else:
                first[key] = row.pos


def _check_kernel_counts(tl: Timeline, v: TaskView, res: CheckResult, refs: Refs) -> None:
    skipped = [p for p in v.inline if p.kind == "predicated_skip"]
    if skipped and not v.executions and len(skipped) == 1:
        return  # predicate false at the ready point: completed inline instead of dispatched
    if v.inline:
        res.add(
            f"kernel task {v.name} has {len(v.inline)} inline completion record(s) besides {len(v.executions)} execution(s)",
            [refs.inline(p) for p in v.inline[:2]],
        )
    need = v.subtasks
    sw = tl.trace.swimlane
    if sw is None or need is None:
        return
    if len(v.executions) != need:
        what = "never ran" if not v.executions else f"ran {len(v.executions)} subtask(s)"
        res.add(
            f"{v.name} {what}; block_num {v.block_num} x {need // max(v.block_num or 1, 1)} subslot(s) = {need} expected",
            [refs.execution(e) for e in v.executions[:4]] or [f"{SWIMLANE_FILE}: no aicore_tasks row for {v.name}"],
        )
        return
    if sw.has_aicpu and any(e.finish is None for e in v.executions):
        res.unjudged += 1  # a lost AICPU row (already a warning): completion not observed


def _check_submits(tl: Timeline, res: CheckResult, refs: Refs) -> None:
    sw = tl.trace.swimlane
    if sw is None or not sw.has_orch_records:
        return
    recs = sorted(sw.orch_records, key=lambda r: (r.submit_idx, r.lane, r.pos))
    for i, r in enumerate(recs):
        res.checked += 1
        if r.submit_idx != i:
            res.add(f"submit_idx {r.submit_idx} where {i} was expected (a submit is missing or repeated)", [refs.orch(r)])
            break
        if r.end < r.start:
            res.add("a submit window ends before it starts", [refs.orch(r)])
        if i and r.start < recs[i - 1].end:
            res.add("two submit windows of the one orchestrator thread overlap", [refs.orch(recs[i - 1]), refs.orch(r)])
    for v in tl.tasks.values():
        if len(v.orch) > 1:
            res.add(f"{v.name} was submitted {len(v.orch)} times", [refs.orch(r) for r in v.orch[:3]])
        elif not v.orch and v.kind in (KERNEL, DUMMY, ALLOC) and v.in_deps:
            res.add(f"{v.name} is in {DEPS_FILE} but has no submit record", [f"{DEPS_FILE}: task {v.name}"])
    order = tl.order or []
    next_local = [0] * 4
    for raw in order:
        ring, local = TaskId.ring_of(raw), TaskId.local_of(raw)
        if ring < 4 and local != next_local[ring]:
            rec = tl.tasks[raw].orch
            res.add(
                f"ring {ring} allocated local id {local} where {next_local[ring]} was next",
                [refs.orch(rec[0])] if rec else [],
            )
            next_local[ring] = local
        if ring < 4:
            next_local[ring] += 1
    deps = tl.trace.deps
    if deps is not None:
        recorded = [raw for raw in order if tl.tasks[raw].in_deps]
        expected = [t.task_id for t in deps.tasks]
        if recorded != expected:
            at = next((i for i, (a, b) in enumerate(zip(recorded, expected, strict=False)) if a != b), min(len(recorded), len(expected)))
            res.add(
                f"the submit records and {DEPS_FILE} disagree on the submit order at task {at} of {DEPS_FILE}",
                [f"{DEPS_FILE}: tasks[{at}]"] + ([refs.orch(tl.tasks[recorded[at]].orch[0])] if at < len(recorded) else []),
            )


def _check_log_join(tl: Timeline, res: CheckResult, refs: Refs) -> None:
    log, sw = tl.trace.log, tl.trace.swimlane
    if log is None:
        return
    by_key: dict[tuple[int, int], list[Execution]] = defaultdict(list)
    for e in tl.executions:
        by_key[(e.core, e.reg_task_id)].append(e)
    seen: set[tuple[int, int]] = set()
    if sw is not None and tl.executions and not log.dispatches:
        res.note = "the debug log has no dispatch lines (not a --log-level debug run?): not joined"
        tl.notes.append("debug-log dispatch lines: none in the log, so the swimlane rows are not cross-checked")
        return
    blocks: dict[tuple[int, str], list[LogDispatch]] = defaultdict(list)
    for d in log.dispatches:
        res.checked += 1
        blocks[(d.task_id, d.subslot)].append(d)
        v = tl.tasks[d.task_id]
        if v.kernel_ids is not None and v.kernel_ids != d.kernel_ids:
            res.add(f"the log dispatches {v.name} with kernel ids {list(d.kernel_ids)}, recorded {list(v.kernel_ids)}", [refs.line(d)])
        if sw is None:
            continue
        key = (d.core_id, d.reg_task_id)
        if key in seen:
            res.add("the log dispatches one core/register id twice", [refs.line(d)])
            continue
        seen.add(key)
        match = by_key.get(key)
        if not match:
            res.add(f"the log dispatches {v.name} but no execution record has core {key[0]} reg {key[1]}", [refs.line(d)])
        elif match[0].task_id != d.task_id:
            res.add(
                f"the log dispatches {v.name} where the swimlane records {TaskId.format(match[0].task_id)}",
                [refs.line(d), refs.execution(match[0])],
            )
    if sw is not None:
        for key, execs in by_key.items():  # file order
            if key not in seen:
                res.add("an execution record has no dispatch line in the log", [refs.execution(execs[0])])
    for (raw, subslot), lines in blocks.items():  # log order
        v = tl.tasks[raw]
        expected_n = v.block_num if v.block_num is not None else lines[0].total_blocks
        if len(lines) == 1 == expected_n and lines[0].block_idx == 0 and lines[0].total_blocks == 1:
            continue  # the common single-block case
        got = sorted(d.block_idx for d in lines)
        if got != list(range(expected_n)) or any(d.total_blocks != expected_n for d in lines):
            res.add(
                f"{v.name} {subslot}: blocks {got} dispatched, blocks 0..{expected_n - 1} exactly once expected",
                [refs.line(d) for d in lines[:4]],
            )


# ------------------------------------------------------------------------------------- core-serial


def check_core_serial(tl: Timeline, refs: Refs) -> CheckResult:
    res = _result("core-serial")
    sw = tl.trace.swimlane
    if sw is None:
        return res.not_run(f"no {SWIMLANE_FILE}")
    log_of: dict[tuple[int, int], LogDispatch] = {}
    if tl.trace.log is not None:
        for line in tl.trace.log.dispatches:
            log_of.setdefault((line.core_id, line.reg_task_id), line)
    per_core: dict[int, list[Execution]] = defaultdict(list)
    for e in tl.executions:
        per_core[e.core].append(e)
    owners = sw.metadata.core_to_thread
    for core in sorted(per_core):
        rows = sorted(per_core[core], key=lambda e: (e.reg_task_id, e.aicore_index))
        prev: Execution | None = None
        prev2: Execution | None = None
        for e in rows:
            if prev is not None and e.reg_task_id == prev.reg_task_id:
                continue  # a duplicated record: exactly-once reports it
            res.checked += 1
            _row_sanity(tl, e, res, refs)
            d = log_of.get((e.core, e.reg_task_id))
            if d is not None:
                if SUBSLOT_CORE[d.subslot] != e.core_type:
                    res.add(f"{d.subslot} subtask of {TaskId.format(e.task_id)} ran on an {e.core_type} core", [refs.line(d), refs.execution(e)])
                if owners is not None and owners[e.core] >= 0 and owners[e.core] != d.thread:
                    res.add(
                        f"thread {d.thread} dispatched to core {e.core}, which thread {owners[e.core]} owns",
                        [refs.line(d), f"{SWIMLANE_FILE}: metadata.core_to_thread[{e.core}]"],
                    )
            if prev is not None:
                if e.receive < prev.end:
                    res.add(
                        f"core {core} started {TaskId.format(e.task_id)} (cycle {e.receive}) before it ended "
                        f"{TaskId.format(prev.task_id)} (cycle {prev.end}): two executions overlap",
                        [refs.execution(prev), refs.execution(e)],
                    )
                if e.dispatch is not None and prev.finish is not None:
                    pending = e.dispatch < prev.finish
                    if d is not None and d.pending != pending and e.dispatch != prev.finish:
                        said = "pending" if d.pending else "idle"
                        res.add(
                            f"the log says {said} dispatch of {TaskId.format(e.task_id)} to core {core}, but the previous "
                            f"subtask's completion was observed {'after' if pending else 'before'} it",
                            [refs.line(d), refs.execution(prev), refs.execution(e)],
                        )
                    if pending and prev2 is not None and prev2.finish is not None and e.dispatch < prev2.finish:
                        res.add(
                            f"core {core} held two pending subtasks: {TaskId.format(e.task_id)} was dispatched before "
                            f"the completion of {TaskId.format(prev2.task_id)} two dispatches earlier was observed",
                            [refs.execution(prev2), refs.execution(prev), refs.execution(e)],
                        )
            elif d is not None and d.pending:
                res.add(f"the log says pending dispatch to idle core {core} (its first subtask)", [refs.line(d)])
            prev2, prev = prev, e
    return res


def _row_sanity(tl: Timeline, e: Execution, res: CheckResult, refs: Refs) -> None:
    if (
        e.start <= e.end
        and (e.dispatch is None or e.dispatch <= e.receive)
        and (e.finish is None or e.end <= e.finish)
    ):
        v = tl.tasks.get(e.task_id)
        ids = v.kernel_ids if v is not None and v.kind == KERNEL else None
        if ids is None or (ids[0] >= 0 if e.core_type == "aic" else (ids[1] >= 0 or ids[2] >= 0)):
            return  # the common case
    problems = []
    if e.end < e.start:
        problems.append("ends before it starts")
    if e.dispatch is not None and e.dispatch > e.receive:
        problems.append("was received by the core before the AICPU dispatched it")
    if e.finish is not None and e.finish < e.end:
        problems.append("was observed finished before the core finished it")
    v = tl.tasks.get(e.task_id)
    if v is not None and v.kernel_ids is not None and v.kind == KERNEL:
        aic, aiv0, aiv1 = (k >= 0 for k in v.kernel_ids)
        if (e.core_type == "aic" and not aic) or (e.core_type == "aiv" and not (aiv0 or aiv1)):
            problems.append(f"ran on an {e.core_type} core, but its kernel ids {list(v.kernel_ids)} use none")
    for p in problems:
        res.add(f"{TaskId.format(e.task_id)} {p}", [refs.execution(e)])


# ------------------------------------------------------------------------------------------- all


def observation_checks() -> list[tuple[str, Callable[[Timeline, Refs], CheckResult]]]:
    return [
        ("edges", check_edges),
        ("wait-order", check_wait_order),
        ("slot-reuse", check_slot_reuse),
        ("window", check_window),
        ("watermark", check_watermark),
        ("exactly-once", check_exactly_once),
        ("core-serial", check_core_serial),
    ]
