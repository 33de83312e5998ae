"""Replay the negative controls' decoded counterexamples on the executable model (`model.trb_model`).

A mutant changes one comparison or one guard of an encoding. Its counterexample is replayed twice on
the model's own code, at the decoded pre-state: once as the model is (the correct runtime), and once
with the same mutation expressed at the arithmetic level (the one value the mutant computes
differently, fed to the model's functions). The replay is consistent when the mutated replay's outcome
equals the encoding's decoded successor (else the encoding is wrong: a failure), the mutated outcome
violates the property, and the correct model's outcome keeps it.

What each replay runs of the model:
  E01  `ProgramInfo.slot` and the model's per-task status (its completion record carries the
       generation); mutated: the per-slot flag, set by any completed occupant of the slot.
  A04  `ProgramInfo.slot`; mutated: the id itself as the slot index.
  A01  `TrbModel._advance` (atomic under the lock); mutated: scheduler A's stale snapshot published.
  A01b `_release` / `_consumed_check` on a task tuple; correct: the claim's fanout_count++ is atomic
       with its liveness check (lands before the release); mutated: it lands after.
  D01  `TrbModel._wire_done` (W4 routing); correct: CONSUMED producers are counted as completed
       (`>= COMPLETED`); mutated: they are linked (`== COMPLETED`) and never notify again.
  C01  `TrbModel._publish` + `_dep_wait` (O11 capacity check) and `_wire` (prepend); mutated: `_wire` without the check.
  P4   `TrbModel._route_ready` on a full queue (drops); mutated: the push reserves the full slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import z3  # type: ignore[import-untyped]

from model import trb_model as m
from model.program import WAIT
from model.scenario import (
    Config,
    Constants,
    ExplicitDep,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    Submit,
    validate,
)
from properties.smt.core import BV, Arr, Bool, Counterexample, z3_sort

RING = 1  # every synthetic program below runs in one depth-1 scope: ring 1
MAX_TASKS = 64  # decoded states with more tasks than this are not turned into programs


@dataclass
class MutantReplay:
    """One negative control's counterexample, replayed on the model's code (see the module doc)."""

    ident: str
    model_outcome: Any  # the correct model's outcome at the decoded pre-state
    mutated_outcome: Any  # the model's code with the mutation at the arithmetic level
    encoding_outcome: Any  # the encoding's decoded successor (the same quantities)
    property_on_model: bool
    property_on_mutated: bool
    how: str

    @property
    def agrees(self) -> bool:
        return bool(self.mutated_outcome == self.encoding_outcome)

    @property
    def consistent(self) -> bool:
        return self.agrees and self.property_on_model and not self.property_on_mutated

    def line(self) -> str:
        verdict = "consistent" if self.consistent else "DISAGREES"
        return (
            f"replayed on the model ({self.how}): model {self.model_outcome}; with the mutation {self.mutated_outcome}"
            f" {'=' if self.agrees else '!='} encoding {self.encoding_outcome}; {verdict}"
        )


class ReplayUnsupported(ValueError):
    """The decoded values cannot be a model state. `granularity` marks the one explained case where
    the counterexample needs an intermediate state the model's coarser atomic step never exposes;
    anything else (e.g. values too large for a concrete program) is a failure of the replay."""

    def __init__(self, why: str, granularity: bool = False) -> None:
        super().__init__(why)
        self.granularity = granularity


def _read(ce: Counterexample, field: str, value: Any, index: int, which: str = "@0") -> Any:
    """An entry of an int32-indexed array field of the decoded state that `decode` did not list (read
    from the solver's model; the state's symbols are named `<field>@0` / `<field>@1`)."""
    arr = z3.Const(f"{field}{which}", z3_sort(Arr(BV(32, True), value)))
    v = ce.model.eval(arr[z3.BitVecVal(index, 32)], model_completion=True)
    if z3.is_true(v) or z3.is_false(v):
        return bool(z3.is_true(v))
    n = int(v.as_long())
    return n - (1 << 32) if n >= 1 << 31 else n


def _ring_program(n: int, window: int, deps: dict[int, tuple[int, ...]] | None = None, dep_pool: int = 16) -> Scenario:
    """`n` zero-size tasks in one depth-1 scope (ring 1) of task window `window`; task i waits on `deps[i]`."""
    deps = deps or {}
    program: list[Any] = [ScopeBegin()]
    for i in range(n):
        program.append(Submit(f"t{i}", (-1, 0, -1), (), tuple(ExplicitDep(f"t{d}") for d in deps.get(i, ()))))
    program.append(ScopeEnd())
    cfg = Config(
        task_window=(4, window, 4, 4),
        heap_bytes=(1024, 1024, 1024, 1024),
        dep_pool=(16, dep_pool, 16, 16),
        scheduler_threads=1,
        clusters=1,
        constants=Constants(output_align=1, heap_align=1),
    )
    return validate(Scenario("smt-mutant-replay", cfg, (), tuple(program)))


def _window_model(ce: Counterexample) -> tuple[m.TrbModel, int, int, int]:
    cur, la, window = int(ce.pre["cur"]), int(ce.pre["la"]), int(ce.consts["W"])
    if not (0 <= la <= cur <= MAX_TASKS and 4 <= window <= MAX_TASKS):
        raise ReplayUnsupported(f"cur {cur}, la {la}, W {window} is not a small concrete program")
    return m.TrbModel(_ring_program(max(cur, 1), window)), cur, la, window


# ------------------------------------------------------------------------------------------ window


def replay_e01(ce: Counterexample) -> MutantReplay:
    """claim_check asks 'has producer p completed?'. The model answers from p's own task record; the
    mutant from the slot's flag, which any completed occupant of p's slot set and nothing resets."""
    model, cur, _la, _w = _window_model(ce)
    p = int(ce.params["p"])
    if not 0 <= p < cur:
        raise ReplayUnsupported(f"producer {p} outside [0, cur)")
    done = {t: bool(_read(ce, "done", Bool(), t)) for t in range(cur)}
    status = {t: m.COMPLETED if done[t] else m.PENDING for t in range(cur)}
    slot_p = model.info.slot(model.info.task_at(RING, p))
    correct = status[p] >= m.COMPLETED
    mutated = any(status[t] >= m.COMPLETED for t in range(cur) if model.info.slot(model.info.task_at(RING, t)) == slot_p)
    encoded = bool(_read(ce, "cflag", Bool(), slot_p))
    return MutantReplay(
        "E01",
        {"completed": correct},
        {"completed": mutated},
        {"completed": encoded},
        (not correct) or done[p],
        (not mutated) or done[p],
        f"p={p}, slot {slot_p} by ProgramInfo.slot, statuses of ids 0..{cur - 1}",
    )


def replay_a04(ce: Counterexample) -> MutantReplay:
    """complete(x) indexes the slot array: the model by `local & mask`, the mutant by the id itself."""
    model, cur, la, window = _window_model(ce)
    x = int(ce.params["x"])
    if not la <= x < cur:
        raise ReplayUnsupported(f"task {x} is not live")
    correct = model.info.slot(model.info.task_at(RING, x))
    mutated = model.info.task_at(RING, x) if model.info.task_at(RING, x) == x else -1  # ring-local id = task index
    return MutantReplay(
        "A04",
        {"slot": correct},
        {"slot": mutated},
        {"slot": x},  # the encoding's mutated slot(x) is x
        0 <= correct < window,
        0 <= mutated < window,
        f"complete({x}) with W={window}",
    )


def replay_a01(ce: Counterexample) -> MutantReplay:
    """advance_write_A publishes la. The model advances atomically (`_advance`, from the current la
    over the CONSUMED prefix); without the lock, scheduler A publishes the la it read and scanned before
    scheduler B moved la on. Model tasks: every id below the decoded la is CONSUMED (la passed it)."""
    model, cur, la, _w = _window_model(ce)
    snapshot = int(ce.pre["lA"])
    if not 0 <= snapshot <= cur:
        raise ReplayUnsupported(f"scheduler A's snapshot {snapshot} is not an id in [0, cur]")
    state = model._fresh_round(0)
    tasks = list(state[m.S_TASKS])
    for t in range(cur):
        row = list(m.EMPTY_TASK)
        row[m.T_ST] = m.CONSUMED if t < la else m.PENDING
        tasks[model.info.task_at(RING, t)] = tuple(row)
    rings = list(state[m.S_RINGS])
    rings[RING] = m._set(m._set(m.EMPTY_RING, m.R_CUR, cur), m.R_LA, la)
    s = list(state)
    s[m.S_RINGS], s[m.S_TASKS] = tuple(rings), tuple(tasks)
    after = model._advance(tuple(s), RING)[m.S_RINGS][RING][m.R_LA]
    assert ce.post is not None
    return MutantReplay(
        "A01",
        {"la": after},
        {"la": snapshot},
        {"la": int(ce.post["la"])},
        after >= la,
        snapshot >= la,
        f"la={la}, cur={cur}, A's stale scan result {snapshot}",
    )


# ------------------------------------------------------------------------------------------ refcounts


def replay_a01b(ce: Counterexample) -> MutantReplay:
    """A release on a COMPLETED producer while a consumer has passed the liveness check of its claim
    but not yet incremented fanout_count. Model task tuple: T_FC claims made, T_RC releases made,
    T_RSCOPE the scope reference released (the encoding keeps the scope in bit 31 of both counters)."""
    pre = ce.pre
    if not pre["pend"] or pre["st"] != 1:
        raise ReplayUnsupported("no pending claim on a COMPLETED producer")
    row = list(m.EMPTY_TASK)
    row[m.T_ST], row[m.T_FC], row[m.T_RC], row[m.T_RSCOPE] = m.COMPLETED, int(pre["n"]), int(pre["r"]), int(bool(pre["sr"]))
    task: tuple[Any, ...] = tuple(row)
    # correct: the claim's increment is atomic with its check, so it precedes the release
    correct = m._release(m._set(task, m.T_FC, task[m.T_FC] + 1))
    mutated = m._release(task)  # the release falls between the check and the increment
    assert ce.post is not None

    def outcome(t: tuple[Any, ...]) -> dict[str, Any]:
        return {"consumed": t[m.T_ST] == m.CONSUMED, "releases": t[m.T_RC]}

    enc = {"consumed": ce.post["st"] == 2, "releases": int(ce.post["r"])}
    # the property: CONSUMED only after every claim (the pending one included) was released
    return MutantReplay(
        "A01b",
        outcome(correct),
        outcome(mutated),
        enc,
        correct[m.T_ST] != m.CONSUMED,
        mutated[m.T_ST] != m.CONSUMED,
        f"n={pre['n']} claims, r={pre['r']} releases, scope released {pre['sr']}, one claim pending",
    )


def replay_d01(ce: Counterexample) -> MutantReplay:
    """W4 of a consumer whose `lost` WAIT producers were CONSUMED at wiring time. `_wire_done` adds the
    completed count + 1 to fanin_refcount and routes when it reaches fanin_count. Correct: a CONSUMED
    producer counts as completed; mutated: it is linked into a list it never walks again."""
    pre, n = ce.pre, int(ce.consts["n"])
    lost, linked, notified = int(pre["lost"]), int(pre["linked"]), int(pre["notified"])
    if not (pre["w4"] and lost > 0 and notified == linked - lost and n <= MAX_TASKS):
        raise ReplayUnsupported("not a wired consumer whose lost producers are the only ones outstanding")
    model = m.TrbModel(_ring_program(n + 1, 64, {n: tuple(range(n))}))
    consumer = model.info.task_at(RING, n)

    def wire_done(completed: int) -> tuple[Any, ...]:
        s = list(model._fresh_round(0))
        tasks = list(s[m.S_TASKS])
        ct = m._set(m._set(m.EMPTY_TASK, m.T_ST, m.PENDING), m.T_FCOUNT, n + 1)
        tasks[consumer] = m._set(ct, m.T_FRC, notified)  # the notifications delivered before W4
        s[m.S_TASKS], s[m.S_AUX] = tuple(tasks), completed
        s[m.S_PC] = next(i for i, ins in enumerate(model.info.instrs) if ins.task == consumer and ins.kind != 1)
        return tuple(model._wire_done(s, consumer)[m.S_TASKS][consumer])

    counted = n - linked  # producers W2 counted as completed
    correct = wire_done(counted + lost)  # >= COMPLETED: the CONSUMED ones are counted too
    mutated = wire_done(counted)  # == COMPLETED: they were linked, and will never notify

    def outcome(t: tuple[Any, ...]) -> dict[str, Any]:
        return {"refcount": t[m.T_FRC], "routed": bool(t[m.T_FLAGS] & m.F_READY)}

    enc = {"refcount": int(pre["rc"]), "routed": bool(pre["claimed"])}
    return MutantReplay(
        "D01",
        outcome(correct),
        outcome(mutated),
        enc,
        bool(correct[m.T_FLAGS] & m.F_READY),  # every producer has completed: it must be ready
        bool(mutated[m.T_FLAGS] & m.F_READY),
        f"n={n} WAIT producers, {lost} CONSUMED at wiring, {notified} notified",
    )


# ------------------------------------------------------------------------------------------ pools


def replay_c01(ce: Counterexample) -> MutantReplay:
    """A dep-list entry allocated with the pool at capacity. The model's `_publish` runs the O11 check
    (after a reclaim that the decoded last-reclaim keeps idle); the mutant prepends regardless (`_wire`
    without the check), writing physical slot top % C, which a live entry in [tail, top) occupies."""
    pre, cap = ce.pre, int(ce.consts["C"])
    top, tail = int(pre["top"]), int(pre["tail"])
    if not (0 < cap <= 4096 and 1 <= tail <= top):
        raise ReplayUnsupported(f"pool C={cap}, top={top}, tail={tail} is not a small pool")
    model = m.TrbModel(_ring_program(2, 4, {1: (0,)}, dep_pool=cap))
    producer, consumer = model.info.task_at(RING, 0), model.info.task_at(RING, 1)
    s = list(model._fresh_round(0))
    tasks = list(s[m.S_TASKS])
    tasks[producer] = m._set(m.EMPTY_TASK, m.T_ST, m.PENDING)
    tasks[consumer] = m._set(m._set(m.EMPTY_TASK, m.T_ST, m.PENDING), m.T_EDGES, ((producer, WAIT, False),))
    ring = m._set(m._set(m._set(m.EMPTY_RING, m.R_CUR, 2), m.R_DTOP, top), m.R_DTAIL, tail)
    rings = list(s[m.S_RINGS])
    rings[RING] = ring  # la = 0 and last-reclaim 0: the 64-task cleanup interval keeps reclaim idle
    s[m.S_RINGS], s[m.S_TASKS] = tuple(rings), tuple(tasks)
    s[m.S_PC] = next(i for i, ins in enumerate(model.info.instrs) if ins.task == consumer and ins.kind != 1)
    action, nxt = model._publish(list(s), consumer, (m.A_ORCH, 0, 0))
    if nxt is not None and nxt[m.S_PHASE] == m.P_DEP_WAIT:  # branch (c) taken, pool short: ensure_space's spin
        action, nxt = model._dep_wait(list(nxt), consumer, (m.A_ORCH, 0, 0))
    correct: dict[str, Any] = {"blocked": nxt is None}
    _, wired = model._wire([*s[: m.S_PHASE], m.P_WIRE, 0, *s[m.S_FATAL : m.S_AUX], 0, *s[m.S_RINGS :]], consumer, (m.A_ORCH, 0, 0))
    new_top = wired[m.S_RINGS][RING][m.R_DTOP]
    written = (new_top - 1) % cap
    live = {i % cap for i in range(tail, top)}
    mutated = {"blocked": False, "top": new_top}
    assert ce.post is not None
    del action
    return MutantReplay(
        "C01",
        correct,
        mutated,
        {"blocked": False, "top": int(ce.post["top"])},
        correct["blocked"],
        written not in live,
        f"C={cap}, [tail, top) = [{tail}, {top}), entry written at physical {written}",
    )


def replay_p4(ce: Counterexample, capacity: int) -> MutantReplay:
    """A push that the mutant's `diff <= 0` lets reserve a slot. The model's ready queue is an atomic
    bounded multiset (`_route_ready`: queue unless `capacity` entries are queued, else drop), holding the
    E - D entries the decoded positions say are queued. Replayable when the queue is full (the slot
    holds the unconsumed entry of position E - capacity = D). The other way the mutant's check passes,
    a pop at E - capacity that has reserved its position but not yet released the slot, has no model
    counterpart: the model's pop is one step, so that state does not exist there (ReplayUnsupported)."""
    e, d = int(ce.pre["E"]), int(ce.pre["D"])
    queued = (e - d) % (1 << 64)
    seq_sort = z3.ArraySort(z3.BitVecSort(64), z3.BitVecSort(64))
    seq = int(ce.model.eval(z3.Const("seq@0", seq_sort)[z3.BitVecVal(e % capacity, 64)], model_completion=True).as_long())
    if queued != capacity:
        in_flight = seq == (e - capacity + 1) % (1 << 64)
        why = "a pop reserved but not released (the model's pop is atomic)" if in_flight else "an unexpected slot state"
        raise ReplayUnsupported(f"{queued} of {capacity} entries queued: the overwritten slot is {why}", in_flight)
    scenario = _ring_program(capacity + 1, 64).with_config(constants=Constants(output_align=1, heap_align=1, ready_queue_capacity=capacity))
    model = m.TrbModel(scenario)
    pusher = model.info.task_at(RING, capacity)
    shape_queue = m.QUEUE_OF_SHAPE[model.info.tasks[pusher].shape]
    ready: list[tuple[int, ...]] = [() for _ in model._fresh_round(0)[m.S_READY]]
    ready[shape_queue] = tuple(model.info.task_at(RING, i) for i in range(capacity))
    correct_ready = list(ready)
    routed = model._route_ready(m._set(m.EMPTY_TASK, m.T_ST, m.PENDING), pusher, correct_ready)
    correct = {"accepted": not routed[m.T_FLAGS] & m.F_DROPPED, "queued": len(correct_ready[shape_queue])}
    mutated = {"accepted": True, "queued": capacity}  # reserves slot E & mask, whose entry is unconsumed
    assert ce.post is not None
    enc = {"accepted": int(ce.post["E"]) == (e + 1) % (1 << 64), "queued": queued}
    return MutantReplay(
        "P4",
        correct,
        mutated,
        enc,
        not correct["accepted"],
        not mutated["accepted"],
        f"E={e}, D={d}: {queued} of {capacity} entries queued; slot {e % capacity} holds sequence {seq} (published)",
    )


REPLAYS = {"E01": replay_e01, "A04": replay_a04, "A01": replay_a01, "A01b": replay_a01b, "D01": replay_d01, "C01": replay_c01}
"""The replay of each caught mutant whose counterexample is not an alloc/commit/reclaim step (those
are replayed by `properties.smt.replay`); P4 is `replay_p4` (it needs the queue capacity)."""
