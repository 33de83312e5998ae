"""Tie the SMT encodings back to the executable model (`model.trb_model`).

* `simulate_ring_heap`: a deadlock schedule from `deadlock.minimal_heap`, replayed with the model's own
  allocator functions (`_update_heap_tail`, `_try_bump_heap`).
* `heap_model_step`: a decoded heap counterexample (pre-state + alloc) is turned into a real `TrbModel`
  state of a synthetic one-ring program (each task in its own scope on ring 1, outputs sized to the
  counterexample's buffers, offsets scaled so the heap is at least the 1024 bytes a scenario needs) and
  the model takes the step; its successor is compared with the encoding's and the violated property is
  evaluated independently, in Python, on both.
* `dep_pool_model_reclaim`: the model's `_reclaim_dep_pool` on a decoded dep-pool state.
* `generation_model_check`: the model's `_gone` (generation + consumed check) on a decoded window state.
* `differential_heap`: concrete model steps fed through the SMT relation (pre-state and parameters
  fixed), comparing the encoding's successor with the model's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import z3  # type: ignore[import-untyped]

from model import trb_model as m
from model.scenario import (
    Arg,
    Config,
    Constants,
    OutputSpec,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    Submit,
    Tag,
    validate,
)
from properties.smt import core
from properties.smt.core import Counterexample, System

RING = 1  # the synthetic programs put every task in its own depth-1 scope: ring 1


# ------------------------------------------------------------------------------------------ shims


class _Info:
    def task_at(self, ring: int, local: int) -> int:
        return local


class _Shim:
    """What `_update_heap_tail` reads of a model: `info.task_at` (identity: task index = local id)."""

    info = _Info()


def _task_with_end(end: int, base: int = 0) -> tuple[Any, ...]:
    t = list(m.EMPTY_TASK)
    t[m.T_HBASE], t[m.T_HEND] = base, end
    return tuple(t)


def _ring(cur: int, la: int, top: int, tail: int, seen: int, anchor: int) -> tuple[Any, ...]:
    r = list(m.EMPTY_RING)
    r[m.R_CUR], r[m.R_LA], r[m.R_TOP], r[m.R_TAIL], r[m.R_SEEN], r[m.R_ANCHOR] = cur, la, top, tail, seen, anchor
    return tuple(r)


# ------------------------------------------------------------------------------------------ deadlock


@dataclass
class RingHeapRun:
    stuck: int | None
    ends: list[int] = field(default_factory=list)


def simulate_ring_heap(tasks: list[Any], observed_la: list[int], heap: int, window: int) -> RingHeapRun:
    """Allocate `tasks` (deadlock.RingTask) in order with the model's allocator, task j observing
    `observed_la[j]`; the first task that fails there and also with `la` at its pin is stuck."""
    ring = _ring(0, 0, 0, 0, 0, -1)
    descs: list[tuple[Any, ...]] = []
    ends: list[int] = []
    prev = 0
    for j, t in enumerate(tasks):
        wanted = [observed_la[j]] if j < len(observed_la) else []
        candidates = [la for la in (*wanted, t.pin) if prev <= la <= t.pin]  # la is monotone, stops at the pin
        for la in candidates:
            probe = m._set(ring, m.R_LA, la)
            probe = m._update_heap_tail(_Shim(), probe, RING, descs)  # type: ignore[arg-type]
            placed = m._try_bump_heap(probe, t.size, heap, j) if j - la + 1 < window else None
            if placed is not None:
                prev = la
                break
        else:
            return RingHeapRun(j, ends)
        new_ring, base, end, _ = placed
        ring = m._set(new_ring, m.R_CUR, j + 1)
        descs.append(_task_with_end(end, base))
        ends.append(end)
    return RingHeapRun(None, ends)


# ------------------------------------------------------------------------------------------ heap


@dataclass
class ReplayReport:
    """What replaying a counterexample on the executable model showed."""

    model_step: str  # "taken", "refused" or "unsupported: why"
    model_successor: dict[str, Any] | None
    encoding_successor: dict[str, Any] | None
    property_on_model: bool | None
    property_on_encoding: bool | None
    agrees: bool | None  # the model's successor equals the encoding's (None: not comparable)
    scale: int = 1

    @property
    def refutes_mutant(self) -> bool:
        """The mutant's successor violates the property, and the model refuses the step or keeps it."""
        if self.property_on_encoding is not False:
            return False
        return self.model_step == "refused" or (self.model_step == "taken" and self.property_on_model is True)

    def line(self) -> str:
        if self.model_step == "refused":
            parts = ["the model refuses this step (the correct allocator blocks here)"]
            if self.property_on_encoding is not None:
                parts.append(f"property on the encoding's successor: {'holds' if self.property_on_encoding else 'violated'}")
            return "; ".join(parts)
        parts = [f"model step {self.model_step}"]
        if self.agrees is not None:
            parts.append("model successor = encoding successor" if self.agrees else "model successor differs")
        if self.property_on_encoding is not None:
            parts.append(f"property on encoding successor: {'holds' if self.property_on_encoding else 'violated'}")
        if self.property_on_model is not None:
            parts.append(f"on model successor: {'holds' if self.property_on_model else 'violated'}")
        return "; ".join(parts)


def heap_scenario(sizes: list[int], window: int, heap: int) -> Scenario:
    """One task per depth-1 scope (ring 1), task i asking exactly sizes[i] bytes of the heap."""
    program: list[Any] = []
    for i, size in enumerate(sizes):
        args = (Arg(Tag.OUTPUT, creates=OutputSpec(f"o{i}", (size,), "INT8")),) if size > 0 else ()
        program += [ScopeBegin(), Submit(f"t{i}", (-1, 0, -1), args), ScopeEnd()]
    cfg = Config(
        task_window=(4, window, 4, 4),
        heap_bytes=(1024, heap, 1024, 1024),
        dep_pool=(16, 16, 16, 16),
        scheduler_threads=1,
        clusters=1,
        constants=Constants(output_align=1, heap_align=1),
    )
    return validate(Scenario("smt-heap-replay", cfg, (), tuple(program)))


def _live_buffers(cur: int, la: int, base: dict[int, int], end: dict[int, int]) -> list[tuple[int, int]]:
    return [(base[t], end[t]) for t in range(la, cur) if base.get(t, 0) < end.get(t, 0)]


def heap_state_ok(state: dict[str, Any], heap: int) -> bool:
    """INV-H1/H2 evaluated directly on a concrete state: live buffers inside [0, H) and pairwise
    disjoint; top == tail only when every live buffer past the allocator's watermark is empty."""
    cur, la = state["cur"], state["la"]
    bufs = _live_buffers(cur, la, state["base"], state["end"])
    if any(not (0 <= b < e <= heap) for b, e in bufs):
        return False
    for i, (b1, e1) in enumerate(bufs):
        for b2, e2 in bufs[i + 1 :]:
            if b1 < e2 and b2 < e1:
                return False
    seen_bufs = _live_buffers(cur, state["seen"], state["base"], state["end"])
    return not (state["top"] == state["tail"] and seen_bufs)


def heap_model_step(ce: Counterexample, next_alloc: int | None = None) -> ReplayReport:
    """Replay a decoded heap counterexample's `alloc` on a real TrbModel state."""
    pre, post = ce.pre, ce.post
    if ce.action != "alloc" or post is None:
        return ReplayReport(f"unsupported: action {ce.action}", None, None, None, None, None)
    heap, window = int(ce.consts["H"]), int(ce.consts["W"])
    cur, la, seen = pre["cur"], pre["la"], pre["seen"]
    if not (0 <= la <= cur <= 32 and window <= 64 and 0 < heap <= 1 << 20):
        return ReplayReport("unsupported: counterexample values too large for a concrete program", None, None, None, None, None)
    scale = max(1, -(-1024 // heap))
    base = {t: pre["base"].get(t, 0) for t in range(cur)}
    end = {t: pre["end"].get(t, 0) for t in range(cur)}
    a = int(ce.params["a"])
    sizes = [max(0, end[t] - base[t]) for t in range(cur)] + [a]
    scenario = heap_scenario([s * scale for s in sizes], window, heap * scale)
    model = m.TrbModel(scenario)
    info = model.info
    tasks: list[tuple[Any, ...]] = [m.EMPTY_TASK for _ in range(model.ntasks)]
    for t in range(cur):
        st = m.CONSUMED if t < la else m.PENDING
        row = list(m.EMPTY_TASK)
        row[m.T_ST], row[m.T_HBASE], row[m.T_HEND] = st, base[t] * scale, end[t] * scale
        row[m.T_RSCOPE] = 1
        tasks[t] = tuple(row)
    rings = [m.EMPTY_RING] * 4
    rings[RING] = _ring(cur, la, pre["top"] * scale, pre["tail"] * scale, seen, pre["anchor"])
    pc = next(i for i, ins in enumerate(info.instrs) if ins.task == cur and ins.kind != 1)
    state = model._fresh_round(0)
    state = state[: m.S_PC] + (pc, m.P_START) + state[m.S_PC + 2 : m.S_RINGS] + (tuple(rings), tuple(tasks)) + state[m.S_TASKS + 1 :]
    action, nxt = model._orch_step(state)
    encoding_after = {k: post[k] for k in ("cur", "la", "seen", "anchor", "top", "tail")}
    enc_state = {**encoding_after, "base": dict(post["base"]), "end": dict(post["end"])}
    enc_state["base"].update({t: base[t] for t in range(cur)})
    enc_state["end"].update({t: end[t] for t in range(cur)})
    prop_enc = heap_state_ok(enc_state, heap)
    if nxt is None or isinstance(action, m.Blocked):
        return ReplayReport("refused", None, encoding_after, None, prop_enc, False, scale)
    ring = nxt[m.S_RINGS][RING]
    new_task = nxt[m.S_TASKS][cur]
    model_after = {
        "cur": ring[m.R_CUR],
        "la": ring[m.R_LA],
        "seen": ring[m.R_SEEN],
        "anchor": ring[m.R_ANCHOR],
        "top": ring[m.R_TOP] // scale,
        "tail": ring[m.R_TAIL] // scale,
    }
    mod_state = {**model_after, "base": {**base, cur: new_task[m.T_HBASE] // scale}, "end": {**end, cur: new_task[m.T_HEND] // scale}}
    agrees = model_after == encoding_after and (
        post["base"].get(cur) == new_task[m.T_HBASE] // scale and post["end"].get(cur) == new_task[m.T_HEND] // scale
    )
    return ReplayReport("taken", model_after, encoding_after, heap_state_ok(mod_state, heap), prop_enc, agrees, scale)


def window_commit_model_step(ce: Counterexample) -> ReplayReport:
    """Replay a decoded window counterexample's `commit` as a real admission of a zero-size task."""
    pre, post = ce.pre, ce.post
    if ce.action != "commit" or post is None:
        return ReplayReport(f"unsupported: action {ce.action}", None, None, None, None, None)
    cur, la, window = pre["cur"], pre["la"], int(ce.consts["W"])
    heap_pre = {"cur": cur, "la": la, "seen": la, "anchor": -1, "top": 0, "tail": 0, "base": {}, "end": {}}
    heap_post = {"cur": post["cur"], "la": post["la"], "seen": la, "anchor": -1, "top": 0, "tail": 0, "base": {cur: 0}, "end": {cur: 0}}
    fake = Counterexample(ce.system, ce.vc, "alloc", {"W": window, "H": 1024, "HB": 1}, heap_pre, heap_post, {"a": 0}, {})
    report = heap_model_step(fake)

    def r1(st: dict[str, Any]) -> bool:
        return bool(0 <= st["la"] <= st["cur"] and st["cur"] - st["la"] <= window - 1)

    report.property_on_encoding = r1(post)
    if report.model_successor is not None:
        report.property_on_model = r1(report.model_successor)
        report.agrees = report.model_successor["cur"] == post["cur"] and report.model_successor["la"] == post["la"]
    return report


# ------------------------------------------------------------------------------------------ differential


@dataclass
class DifferentialResult:
    steps: int
    allocs: int
    advances: int
    mismatches: list[str]


def _smt_heap_post(system: System, action: str, pre: dict[str, Any], params: dict[str, int], consts: dict[str, int]) -> dict[str, Any] | None:
    """The encoding's successor of a concrete pre-state, or None if the action is disabled there."""
    a = system.action(action)
    c = core.make_vars(system.consts, "")
    s, t = core.make_vars(system.fields, "@0"), core.make_vars(system.fields, "@1")
    p = core.make_vars(a.params, "@p")
    fix = [c[k] == v for k, v in consts.items()]
    for k in ("cur", "la", "seen", "anchor", "top", "tail"):
        fix.append(s[k] == pre[k])
    for k in ("base", "end"):
        for idx, v in pre[k].items():
            fix.append(s[k][z3.BitVecVal(idx, 32)] == v)
    fix += [p[k] == v for k, v in params.items()]
    out = core.run_query([*fix, system.relation(a, s, t, p, c)])
    if out.status != "sat":
        return None
    mdl = out.model
    res: dict[str, Any] = {k: core.value_of(mdl, t[k], dict(system.fields)[k]) for k in ("cur", "la", "seen", "anchor", "top", "tail")}
    cur = pre["cur"]
    res["new_base"] = core.value_of(mdl, t["base"][z3.BitVecVal(cur, 32)], core.UInt(64))
    res["new_end"] = core.value_of(mdl, t["end"][z3.BitVecVal(cur, 32)], core.UInt(64))
    return res


def differential_heap(
    scenario: Scenario, ring: int, steps: int, seed: int, system: System | None = None
) -> DifferentialResult:
    """Random walk of the executable model; every admission of a task on `ring` and every watermark
    advance of `ring` is fed through the heap encoding (`system`, default the real one) and the
    successors compared."""
    from properties.smt.heap import heap_system

    system = system or heap_system()
    model = m.TrbModel(scenario)
    rng = random.Random(seed)
    state = model.initial_states()[0]
    consts = {"W": scenario.config.task_window[ring], "H": scenario.config.heap_bytes[ring], "HB": scenario.config.heap_base(ring)}
    mismatches: list[str] = []
    allocs = advances = 0
    by_local = model.info.by_ring_local[ring]
    for step in range(steps):
        acts = model.actions(state)
        if not acts:
            break
        act = acts[rng.randrange(len(acts))]
        ring_before = state[m.S_RINGS][ring]
        tasks = state[m.S_TASKS]
        nxt = model.next_state(state, act)
        ring_after = nxt[m.S_RINGS][ring]
        pre = {
            "cur": ring_before[m.R_CUR],
            "la": ring_before[m.R_LA],
            "seen": ring_before[m.R_SEEN],
            "anchor": ring_before[m.R_ANCHOR],
            "top": ring_before[m.R_TOP],
            "tail": ring_before[m.R_TAIL],
            "base": {loc: tasks[by_local[loc]][m.T_HBASE] for loc in range(ring_before[m.R_CUR])},
            "end": {loc: tasks[by_local[loc]][m.T_HEND] for loc in range(ring_before[m.R_CUR])},
        }
        if ring_after[m.R_CUR] == ring_before[m.R_CUR] + 1:  # an admission on this ring
            allocs += 1
            request = model.info.tasks[by_local[ring_before[m.R_CUR]]].heap_request
            got = _smt_heap_post(system, "alloc", pre, {"a": request}, consts)
            new = nxt[m.S_TASKS][by_local[ring_before[m.R_CUR]]]
            want = {
                "cur": ring_after[m.R_CUR],
                "la": ring_after[m.R_LA],
                "seen": ring_after[m.R_SEEN],
                "anchor": ring_after[m.R_ANCHOR],
                "top": ring_after[m.R_TOP],
                "tail": ring_after[m.R_TAIL],
                "new_base": new[m.T_HBASE],
                "new_end": new[m.T_HEND],
            }
            if got != want:
                mismatches.append(f"step {step} {model.format_action(act)}: encoding {got} != model {want}")
        elif ring_after[m.R_LA] != ring_before[m.R_LA]:
            advances += 1
            got = _smt_heap_post(system, "advance", pre, {"la": ring_after[m.R_LA]}, consts)
            if got is None or got["la"] != ring_after[m.R_LA] or got["top"] != ring_after[m.R_TOP]:
                mismatches.append(f"step {step} {model.format_action(act)}: advance to {ring_after[m.R_LA]} not matched")
        state = nxt
    return DifferentialResult(step + 1 if steps else 0, allocs, advances, mismatches)


# ------------------------------------------------------------------------------------------ pools, window


def dep_pool_model_reclaim(ce: Counterexample) -> ReplayReport:
    """The model's `_reclaim_dep_pool` on a decoded dep-pool pre-state (action `reclaim`)."""
    pre, post = ce.pre, ce.post
    if ce.action != "reclaim" or post is None:
        return ReplayReport(f"unsupported: action {ce.action}", None, None, None, None, None)
    la = pre["la"]
    if not 0 < la <= 4096:
        return ReplayReport("unsupported: la out of the replayable range", None, None, None, None, None)

    class Info:
        def task_at(self, ring: int, local: int) -> int:
            return local

    class Consts:
        dep_pool_cleanup_interval = 64

    class Shim:
        info = Info()
        consts = Consts()

    marks = pre["mark"]
    tasks = []
    for t in range(la + 1):
        row = list(m.EMPTY_TASK)
        row[m.T_DMARK] = marks.get(t, 0)
        tasks.append(tuple(row))
    ring = list(m.EMPTY_RING)
    ring[m.R_LA], ring[m.R_DTOP], ring[m.R_DTAIL], ring[m.R_DLAST] = la, pre["top"], pre["tail"], pre["lrec"]
    after = m.TrbModel._reclaim_dep_pool(Shim(), tuple(ring), RING, tasks)  # type: ignore[arg-type]
    model_after = {"tail": after[m.R_DTAIL], "lrec": after[m.R_DLAST]}
    enc_after = {"tail": post["tail"], "lrec": post["lrec"]}
    own = pre["own"]

    def live_kept(tail: int) -> bool:
        return all(not (1 <= i < pre["top"] and own.get(i, -1) >= la) or tail <= i for i in own)

    return ReplayReport(
        "taken", model_after, enc_after, live_kept(model_after["tail"]), live_kept(enc_after["tail"]), model_after == enc_after
    )
