"""Everything `ptocheck prove` checks, as table rows with expected outcomes.

Sections:
  proof    every (action, invariant) pair of every system, step properties, consequences
  sanity   non-vacuity (a reachable or invariant-satisfying step of every action) and independence
           (no lemma is implied by the others: a lemma that restates its goal would make it trivial)
  limit    the widths the C++ does not guard: without the assumption, the counterexample (registered)
  mutant   negative controls mirroring the bug catalogue: each must be refuted, decoded and replayed
  bound    deadlock freedom: the scope-check/window lemma, the exact minimal window and heap of a shape

A row is ok when its result is the expected one; Unknown is never ok. Registered findings and refuted
spec claims are expected counterexamples, printed as such.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from model.builders import BUILTIN_SCENARIOS
from properties.smt import core, deadlock
from properties.smt.core import System
from properties.smt.heap import heap_system
from properties.smt.pools import modular_index_lemma, pool_system
from properties.smt.ready_queue import queue_system
from properties.smt.refcount import fanin_system, fanout_system
from properties.smt.vcs import (
    COUNTEREXAMPLE,
    PROVED,
    UNKNOWN,
    VACUOUS,
    WITNESSED,
    Expectation,
    Row,
    enumerate_vcs,
    row_from,
    run_vc,
    run_vcs,
    sanity_vcs,
)
from properties.smt.window import window_system

SECTIONS = ("proof", "sanity", "limit", "mutant", "bound")

F_R8 = "F-SMT-R8-UNPREPARED-RECLAIM"
F_OWN_SLOT = "F-SMT-G1-OWN-SLOT"
F_INT32 = "F-LIMIT-INT32-TASK-ID"
F_CLAIM31 = "F-LIMIT-CLAIM31"
F_POOL32 = "F-LIMIT-POOL-COUNTER"

BOUND_SCENARIO = "pa_two_blocks"
BOUND_RING = 2


def proof_systems() -> list[tuple[System, dict[tuple[str, str | None], Expectation]]]:
    r8 = Expectation(COUNTEREXAMPLE, F_R8, "advance passes a committed slot before prepare_task stores PENDING")
    own = Expectation(COUNTEREXAMPLE, F_OWN_SLOT, "the check is blind to the submitting task's own slot until O8")
    return [
        (window_system("model"), {("generation_check_own_slot", "claim_check"): own}),
        (
            window_system("cxx"),
            {
                **{("unprepared_not_reclaimed", f"advance_scan_{t}"): r8 for t in "AB"},
                **{(f"scan_consumed_{t}", f"advance_scan_{t}"): r8 for t in "AB"},
            },
        ),
        (heap_system(), {}),
        (pool_system("dep"), {}),
        (pool_system("spill"), {}),
        (queue_system(), {}),
        (fanin_system(), {}),
        (fanout_system(), {}),
    ]


def sanity_systems() -> list[System]:
    return [
        window_system("model"),
        window_system("cxx"),
        heap_system(),
        pool_system("dep"),
        pool_system("spill"),
        queue_system(capacity=4),  # witnesses need finitely many slots
        fanin_system(),
        fanout_system(),
    ]


SANITY_EXPECT = {
    # implied by contiguous_placement along the id chain (an induction the instantiation cannot do)
    "heap: zero_ends_first is not implied by the other lemmas": Expectation(VACUOUS, None, "chain-induction helper"),
}

# (label, system factory, goal, action, finding)
LIMITS: list[tuple[str, Callable[[], System], str, str | None, str]] = [
    ("int32 task ids", lambda: window_system("model", assume_int32=False), "window_bound", "commit", F_INT32),
    ("31-bit claim counts", lambda: fanout_system(assume_claim31=False), "balanced_iff_all_released", None, F_CLAIM31),
    ("int32 pool counters", lambda: pool_system("dep", assume_pool32=False), "pool_bounds", "alloc", F_POOL32),
]

# (catalogue id, mutant, system factory, goal, action)
MUTANTS: list[tuple[str, str, Callable[[], System], str, str | None]] = [
    ("B01", "M_HEAP_TAIL_ABSOLUTE", lambda: heap_system("M_HEAP_TAIL_ABSOLUTE"), "new_buffer_fits", "alloc"),
    ("B02", "M_HEAP_GAP_NONSTRICT", lambda: heap_system("M_HEAP_GAP_NONSTRICT"), "buffers_on_live_arc", "alloc"),
    ("B02'", "M_HEAP_WRAP_NONSTRICT", lambda: heap_system("M_HEAP_WRAP_NONSTRICT"), "buffers_on_live_arc", "alloc"),
    ("#1514", "M_HEAP_REBASE_NO_ANCHOR", lambda: heap_system("M_HEAP_REBASE_NO_ANCHOR"), "new_buffer_fits", "alloc"),
    ("C01", "M_DEPPOOL_SILENT_WRAP", lambda: pool_system("dep", "M_DEPPOOL_SILENT_WRAP"), "alloc_overwrites_no_live_entry", "alloc"),
    ("C01'", "M_DEPPOOL_RECLAIM_OWN_MARK", lambda: pool_system("dep", "M_DEPPOOL_RECLAIM_OWN_MARK"), "live_entries_not_reclaimed", "reclaim"),
    ("E01", "M_COMPLETION_FLAG_NO_GENERATION", lambda: window_system("model", "M_COMPLETION_FLAG_NO_GENERATION"), "completion_flag_generation", "claim_check"),
    ("A01", "M_ADVANCE_NO_LOCK", lambda: window_system("model", "M_ADVANCE_NO_LOCK"), "monotone_watermarks", "advance_write_A"),
    ("A01b", "M_CLAIM_OUTSIDE_LOCK", lambda: fanout_system("M_CLAIM_OUTSIDE_LOCK"), "consumed_once_all_released", "release"),
    ("A04", "M_SLOT_INDEX_BY_ID", lambda: window_system("model", "M_SLOT_INDEX_BY_ID"), "slot_index_in_window", "complete"),
    ("D01", "M_COMPLETED_EQ_NOT_GE", lambda: fanin_system("M_COMPLETED_EQ_NOT_GE"), "ready_when_all_arrived", None),
    ("R1", "M_WINDOW_OFF_BY_ONE", lambda: window_system("model", "M_WINDOW_OFF_BY_ONE"), "window_bound", "commit"),
    ("P4", "M_QUEUE_PUSH_ACCEPTS_OLD_SEQUENCE", lambda: queue_system("M_QUEUE_PUSH_ACCEPTS_OLD_SEQUENCE", capacity=4), "push_overwrites_nothing", "push_reserve"),
]


@dataclass(frozen=True)
class Options:
    sections: tuple[str, ...] = SECTIONS
    rlimit: int = core.DEFAULT_RLIMIT
    seed: int = core.DEFAULT_SEED
    systems: tuple[str, ...] = ()  # restrict the proof/sanity sections to these system names


def _wanted(system: System, opts: Options) -> bool:
    return not opts.systems or system.name in opts.systems


def proof_rows(opts: Options) -> Iterator[Row]:
    for system, over in proof_systems():
        if _wanted(system, opts):
            yield from run_vcs(enumerate_vcs(system, over), "proof", opts.rlimit, opts.seed)
    if not opts.systems or "dep-pool" in opts.systems or "spill-pool" in opts.systems:
        out = core.run_query(modular_index_lemma(), opts.rlimit, opts.seed)
        yield Row(
            "proof",
            "pools: modular index lemma",
            "INV-P1",
            "arithmetic lemma (nonlinear integers)",
            {"unsat": PROVED, "sat": COUNTEREXAMPLE}.get(out.status, UNKNOWN),
            out.seconds,
            out.rlimit_used,
            Expectation(PROVED),
            ("entries fewer than capacity apart map to distinct linear % capacity",),
        )


def sanity_rows(opts: Options) -> Iterator[Row]:
    for system in sanity_systems():
        if not _wanted(system, opts) and system.name not in ("ready-queue-cap4",):
            continue
        if opts.systems and system.name == "ready-queue-cap4" and "ready-queue" not in opts.systems:
            continue
        for vc in sanity_vcs(system):
            row = run_vc(vc, "sanity", opts.rlimit, opts.seed)
            if row.invariant in SANITY_EXPECT:
                row.expect = SANITY_EXPECT[row.invariant]
            yield row


def _unsplit(system: System, goal: str) -> System:
    """The system with `goal` checked whole (no case split): a limit or mutant row is one check, the
    one the split proves in parts for the faithful system."""
    invs = tuple(dataclasses.replace(i, cases=()) if i.name == goal else i for i in system.invariants)
    return dataclasses.replace(system, invariants=invs)


def _single(system: System, goal: str, action: str | None, expect: Expectation, section: str, opts: Options) -> Row:
    system = _unsplit(system, goal)
    vcs = [v for v in enumerate_vcs(system) if v.goal == goal and v.action == action]
    if len(vcs) != 1:
        raise KeyError(f"{system.name}: no single check {goal} / {action}")
    vc = vcs[0]
    row = run_vc(vc, section, opts.rlimit, opts.seed)
    row.expect = expect
    return row


def limit_rows(opts: Options) -> Iterator[Row]:
    for label, factory, goal, action, finding in LIMITS:
        row = _single(factory(), goal, action, Expectation(COUNTEREXAMPLE, finding, label), "limit", opts)
        row.invariant = f"{row.invariant} (without the {label} assumption)"
        yield row


# Counterexamples that must be model states to be replayed: values the encoding leaves free but the
# model cannot hold (scheduler A's la snapshot is an id in [0, cur]); P4's mutant also overwrites a
# slot whose pop is reserved but not released, a state the model's atomic pop never shows, so its
# counterexample is asked for on a full queue (replay_p4 explains the other case if it is ever given).
REPLAYABLE: dict[str, Callable[[core.Vars, core.Vars], list[core.Expr]]] = {
    "A01": lambda s, c: [s["lA"] >= 0, s["lA"] <= s["cur"], s["lB"] >= 0, s["lB"] <= s["cur"]],
    "P4": lambda s, c: [s["E"] - s["D"] == 4],  # capacity 4: every position in [D, E) queued
}


def _single_replayable(system: System, ident: str, goal: str, action: str | None, expect: Expectation, opts: Options) -> Row:
    extra = REPLAYABLE.get(ident)
    if extra is None:
        return _single(system, goal, action, expect, "mutant", opts)
    vc = next(v for v in enumerate_vcs(_unsplit(system, goal)) if v.goal == goal and v.action == action)
    q = vc.build()
    q = core.Query([*q.formulas, *extra(q.pre, q.consts)], q.consts, q.pre, q.post, q.params, q.bound, q.pool)
    row = row_from(vc, q, core.run_query(q.formulas, opts.rlimit, opts.seed), "mutant", opts.rlimit, opts.seed)
    row.expect = expect
    return row


def mutant_rows(opts: Options) -> Iterator[Row]:
    from properties.smt.replay import (
        ReplayReport,
        dep_pool_model_reclaim,
        heap_model_step,
        window_commit_model_step,
    )
    from properties.smt.replay_mutants import REPLAYS, ReplayUnsupported, replay_p4

    for ident, name, factory, goal, action in MUTANTS:
        system = factory()
        row = _single_replayable(system, ident, goal, action, Expectation(COUNTEREXAMPLE, None, f"{ident} {name}"), opts)
        row.invariant = f"{ident} {name}: {goal}"
        ce = row.counterexample
        if ce is not None and (ident in REPLAYS or ident == "P4"):
            try:
                replayed = REPLAYS[ident](ce) if ident in REPLAYS else replay_p4(ce, 4)
                row.replay = replayed.line()
                row.extra["replay"] = replayed
                row.replay_failed = not replayed.consistent
            except ReplayUnsupported as e:
                row.replay = f"not replayable on the model: {e}"
                row.replay_failed = not e.granularity
        elif ce is not None:
            if system.name == "heap":
                report = heap_model_step(ce)
                row.replay = report.line()
                row.extra["replay"] = report
            elif system.name == "window" and ce.action == "commit":
                report = window_commit_model_step(ce)
                row.replay = report.line()
                row.extra["replay"] = report
            elif system.name == "dep-pool" and ce.action == "reclaim":
                report = dep_pool_model_reclaim(ce)
                row.replay = report.line()
                row.extra["replay"] = report
            else:
                row.replay = "no replay for this counterexample"
            replay = row.extra.get("replay")
            row.replay_failed = not isinstance(replay, ReplayReport) or not replay.refutes_mutant
        yield row


def bound_rows(opts: Options) -> Iterator[Row]:
    out = core.run_query(deadlock.window_vc(), opts.rlimit, opts.seed)
    yield Row(
        "bound",
        "INV-S6(1): scope check => window check once la reaches the frame start",
        "INV-S3/S6",
        "implication (int32, every W)",
        {"unsat": PROVED, "sat": COUNTEREXAMPLE}.get(out.status, UNKNOWN),
        out.seconds,
        out.rlimit_used,
        Expectation(PROVED),
    )
    scenario = BUILTIN_SCENARIOS[BOUND_SCENARIO]()
    w_min, most = deadlock.minimal_window(scenario, BOUND_RING)
    yield Row(
        "bound",
        f"minimal window, {BOUND_SCENARIO} ring {BOUND_RING}",
        "INV-S3",
        "scope shape",
        PROVED,
        0.0,
        0,
        Expectation(PROVED),
        detail=f"W = {w_min} (largest frame count before a submit {most}); W = {w_min // 2} is SCOPE_DEADLOCK",
        extra={"minimal_window": w_min},
    )
    tasks = deadlock.ring_tasks(scenario, BOUND_RING)
    window = scenario.config.task_window[BOUND_RING]
    started = time.process_time()
    bound = deadlock.minimal_heap(tasks, window, opts.rlimit, opts.seed)
    yield Row(
        "bound",
        f"minimal heap, {BOUND_SCENARIO} ring {BOUND_RING} (W = {window})",
        "INV-S6",
        f"BMC {len(tasks)} allocs, every la timing",
        PROVED,
        time.process_time() - started,
        0,
        Expectation(PROVED),
        detail=f"no heap >= {bound.minimal} B deadlocks; spec's safe bound sum+3*a_max = {bound.spec_bound} B",
        extra={"minimal_heap": bound.minimal, "bound": bound},
    )
    if bound.schedule is not None:
        yield Row(
            "bound",
            f"heap {bound.minimal - 1} B deadlocks, {BOUND_SCENARIO} ring {BOUND_RING}",
            "INV-S6",
            "BMC counterexample, replayed on the model's allocator",
            COUNTEREXAMPLE,
            0.0,
            0,
            Expectation(COUNTEREXAMPLE, None, "one below the bound"),
            detail=bound.schedule.describe(tasks),
            extra={"schedule": bound.schedule},
        )


def rows(opts: Options) -> Iterator[Row]:
    producers = {"proof": proof_rows, "sanity": sanity_rows, "limit": limit_rows, "mutant": mutant_rows, "bound": bound_rows}
    for section in SECTIONS:
        if section in opts.sections:
            yield from producers[section](opts)


ASSUMPTION_TEXT: dict[str, tuple[str, ...]] = {}


def all_assumptions() -> dict[str, tuple[str, ...]]:
    return {s.name: s.assumptions for s, _ in proof_systems()}


__all__ = ["SECTIONS", "WITNESSED", "Options", "Row", "all_assumptions", "rows"]
