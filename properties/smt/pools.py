"""Linear-counter pools of one ring: the dep-list pool and the fanin spill pool (spec §1.4, §1.5,
§2.13; INV-P1, INV-P2; C++ `PTO2DepListPool::alloc/reclaim/ensure_space`, `PTO2FaninPool::alloc/reclaim`).

Both pools keep int32 linear counters `top` and `tail` (starting at 1) and place entry `i` at physical
index `i % capacity`. Tasks are committed in id order; each task's wiring allocates its entries, then
records the pool top (`dep_pool_mark`, or the end of its spill range). The dep-list pool reclaims up to
the mark of the youngest reclaimed task (`la - 1`), only once `la` moved 64 past the last reclaim; the
spill pool reclaims up to the range end of any reclaimed task it scans. A ghost array records the task
that owns each linear entry: an entry is live while its task is not reclaimed (`owner >= la`).
"""

from __future__ import annotations

import z3  # type: ignore[import-untyped]

from properties.smt.core import BV, Action, Arr, Bool, Expr, Invariant, Lemma, StepProperty, System, Vars
from properties.smt.window import ASSUME_INT32, INT32_MAX

I32 = BV(32, signed=True)
CLEANUP_INTERVAL = 64  # PTO2_DEP_POOL_CLEANUP_INTERVAL

ASSUME_POOL_COUNTER = "A-POOL32: fewer than 2^31-1 entries allocated per pool per run (int32 linear top/tail)"
ASSUME_TRAVERSAL = (
    "A-TRAVERSE: a producer's fanout walk is past a node before that node's consumer is reclaimed "
    "(on_task_complete reads node->next after notifying the node's consumer)"
)


def pool_system(kind: str = "dep", mutant: str | None = None, assume_pool32: bool = True) -> System:
    """kind "dep" (PTO2DepListPool) or "spill" (PTO2FaninPool). Mutants: M_DEPPOOL_SILENT_WRAP (C01:
    alloc without the capacity check), M_DEPPOOL_RECLAIM_OWN_MARK (reclaim to the mark of la, not la-1)."""
    fields = (
        ("cur", I32),
        ("la", I32),
        ("wiring", Bool()),  # task cur-1 is allocating its entries; its mark is not recorded yet
        ("top", I32),
        ("tail", I32),
        ("lrec", I32),  # last_reclaimed (dep-list pool)
        ("mark", Arr(I32, I32)),  # per task: pool top after its wiring
        ("own", Arr(I32, I32)),  # ghost: task owning each linear entry
    )
    consts = (("C", I32), ("W", I32))

    def const_facts(c: Vars) -> list[Expr]:
        w = c["W"]
        return [c["C"] >= 4, c["C"] <= INT32_MAX, w >= 4, w <= 2**30, w & (w - 1) == 0]

    def init(s: Vars, c: Vars) -> Expr:
        return z3.And(s["cur"] == 0, s["la"] == 0, z3.Not(s["wiring"]), s["top"] == 1, s["tail"] == 1, s["lrec"] == 0)

    def marked(s: Vars, t: Expr) -> Expr:
        """Tasks whose mark is recorded: [0, cur), except the one being wired."""
        return z3.And(t >= 0, t < s["cur"], z3.Not(z3.And(s["wiring"], t == s["cur"] - 1)))

    def commit(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        guard = z3.And(z3.Not(s["wiring"]), s["cur"] - s["la"] + 1 < c["W"], s["cur"] != INT32_MAX)
        return guard, {"cur": s["cur"] + 1, "wiring": z3.BoolVal(True)}

    def alloc(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        guard = [s["wiring"]]
        if assume_pool32:
            guard.append(s["top"] != INT32_MAX)
        if mutant != "M_DEPPOOL_SILENT_WRAP":
            guard.append(s["top"] - s["tail"] < c["C"])  # alloc(): used >= capacity is fatal
        return z3.And(*guard), {"top": s["top"] + 1, "own": z3.Store(s["own"], s["top"], s["cur"] - 1)}

    def finish(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        return s["wiring"], {"wiring": z3.BoolVal(False), "mark": z3.Store(s["mark"], s["cur"] - 1, s["top"])}

    def advance(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        n = p["la"]
        last = z3.If(s["wiring"], s["cur"] - 1, s["cur"])
        return z3.And(s["la"] < n, n <= last), {"la": n}

    def tail_moves(s: Vars, p: Vars, c: Vars) -> Expr:
        """Does reclaim move tail (to the mark it reads)?"""
        if kind == "spill":
            return s["mark"][p["t"]] > s["tail"]
        m = s["mark"][s["la"] if mutant == "M_DEPPOOL_RECLAIM_OWN_MARK" else s["la"] - 1]
        return z3.And(m > 0, m > s["tail"])

    def reclaim_dep(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        la = s["la"]
        which = la if mutant == "M_DEPPOOL_RECLAIM_OWN_MARK" else la - 1
        m = s["mark"][which]
        guard = z3.And(la >= s["lrec"] + CLEANUP_INTERVAL, la > 0)
        new_tail = z3.If(tail_moves(s, p, c), m, s["tail"])
        return guard, {"tail": new_tail, "lrec": la}

    def reclaim_spill(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        t = p["t"]
        m = s["mark"][t]
        return z3.And(t >= 0, t < s["la"]), {"tail": z3.If(tail_moves(s, p, c), m, s["tail"])}

    actions = [
        Action("commit", commit, text="a task is committed; its wiring starts"),
        Action("alloc", alloc, terms=lambda s, p, c: [s["top"], s["cur"] - 1], text="alloc()/prepend one entry"),
        Action("finish_wiring", finish, terms=lambda s, p, c: [s["cur"] - 1], text="record the mark"),
        Action("advance", advance, (("la", I32),), lambda s, p, c: [p["la"] - 1], "la moves over reclaimed tasks"),
    ]
    if kind == "dep":
        actions.append(
            Action("reclaim", reclaim_dep, terms=lambda s, p, c: [s["la"] - 1, s["la"]], text="DepListPool::reclaim")
        )
    else:
        actions.append(Action("reclaim", reclaim_spill, (("t", I32),), lambda s, p, c: [p["t"]], "FaninPool::reclaim"))

    t_ = (I32,)
    invs = [
        Invariant(
            "pool_bounds",
            "INV-P1",
            "1 <= tail <= top and top - tail <= capacity",
            lambda s, c: z3.And(s["tail"] >= 1, s["tail"] <= s["top"], s["top"] - s["tail"] <= c["C"]),
            premises=("task_order", "marks_bounded"),
            # reclaim's two branches, each its own check
            cases=(
                (
                    "reclaim",
                    (
                        ("tail moves", tail_moves),
                        ("tail stays", lambda s, p, c: z3.Not(tail_moves(s, p, c))),
                    ),
                ),
            ),
        ),
        Invariant(
            "task_order",
            "INV-R1",
            "0 <= la <= cur, the task being wired is not reclaimed, and la never passes an unmarked task",
            lambda s, c: z3.And(
                s["la"] >= 0,
                s["la"] <= s["cur"],
                s["cur"] - s["la"] <= c["W"] - 1,
                s["lrec"] <= s["la"],
                s["lrec"] >= 0,
                z3.Implies(s["wiring"], z3.And(s["la"] < s["cur"], s["cur"] >= 1)),
            ),
            premises=("span_shrinks",),  # scalar counters only: inductive on its own (with that lemma)
        ),
        Invariant(
            "marks_bounded",
            "INV-P1",
            "a recorded mark lies in [1, top]",
            lambda s, c, t: z3.Implies(marked(s, t), z3.And(s["mark"][t] >= 1, s["mark"][t] <= s["top"])),
            t_,
        ),
        Invariant(
            "entries_owned_in_order",
            "INV-P1",
            "entries below a task's mark belong to it or older tasks; entries at or above it to younger ones",
            lambda s, c, i, t: z3.Implies(
                z3.And(i >= 1, i < s["top"], marked(s, t)),
                z3.And(
                    z3.Implies(i < s["mark"][t], s["own"][i] <= t),
                    z3.Implies(i >= s["mark"][t], s["own"][i] > t),
                ),
            ),
            (I32, I32),
        ),
        Invariant(
            "entries_owned_by_tasks",
            "INV-P1",
            "every allocated entry belongs to a committed task",
            lambda s, c, i: z3.Implies(z3.And(i >= 1, i < s["top"]), z3.And(s["own"][i] >= 0, s["own"][i] < s["cur"])),
            t_,
        ),
        Invariant(
            "live_entries_not_reclaimed",
            "INV-P1/P2",
            "an entry whose task is not reclaimed lies in [tail, top)",
            lambda s, c, i: z3.Implies(z3.And(i >= 1, i < s["top"], s["own"][i] >= s["la"]), s["tail"] <= i),
            t_,
        ),
        Invariant(
            "live_entries_within_capacity",
            "INV-P1",
            "two entries in [tail, top) are fewer than capacity apart (so, by the modular index lemma, "
            "they occupy distinct physical indices linear % capacity)",
            lambda s, c, i, j: z3.Implies(
                z3.And(s["tail"] <= i, i < j, j < s["top"]), z3.And(j - i > 0, j - i < c["C"])
            ),
            (I32, I32),
            role="consequence",
            premises=("pool_bounds",),
        ),
    ]

    props = [
        StepProperty(
            "alloc_overwrites_no_live_entry",
            "INV-P1",
            "the entry an alloc writes is fewer than capacity past every live entry (so, by the modular "
            "index lemma, its physical index top % capacity holds no live entry)",
            lambda s, t, p, c, i: z3.Implies(
                z3.And(i >= 1, i < s["top"], s["own"][i] >= s["la"]), z3.And(s["top"] - i > 0, s["top"] - i < c["C"])
            ),
            actions=("alloc",),
            bound=t_,
        ),
    ]

    def small(s: Vars, c: Vars) -> list[Expr]:
        return [c["C"] <= 6, c["W"] <= 8, s["cur"] <= 100, s["cur"] >= 0, s["top"] <= 12]

    def tiny(s: Vars, c: Vars) -> list[Expr]:
        return [*small(s, c), s["cur"] <= 6, s["top"] <= 8]

    # reclaim needs la >= 64 (the cleanup interval): reach it by committing, wiring and reclaiming 64 tasks
    witness: list[tuple[str, dict[str, int]]] = []
    for i in range(CLEANUP_INTERVAL):
        witness += [("commit", {}), ("alloc", {}), ("finish_wiring", {}), ("advance", {"la": i + 1})]
    return System(
        name=f"{kind}-pool" + ("" if assume_pool32 else "-pool32"),
        title=f"{'dep-list' if kind == 'dep' else 'fanin spill'} pool: linear counters, marks, reclamation",
        fields=fields,
        consts=consts,
        const_facts=const_facts,
        init=init,
        actions=tuple(actions),
        invariants=tuple(invs),
        step_properties=tuple(props),
        assumptions=(ASSUME_INT32, ASSUME_POOL_COUNTER, ASSUME_TRAVERSAL) if assume_pool32 else (ASSUME_INT32, ASSUME_TRAVERSAL),
        mutant=mutant,
        small=small,
        tiny=tiny,
        witness_terms=lambda s, c: [z3.BitVecVal(k, 32) for k in range(-1, 9)],  # the ids and entries tiny allows
        witness_schedules={"reclaim": ({"C": 100, "W": 4}, witness)} if kind == "dep" else {},
        lemmas=(
            # Moving la up to n <= cur shrinks the window cur - la without an int32 wrap.
            Lemma(
                "span_shrinks",
                "int32 0 <= a <= m <= b: 0 <= b - m <= b - a",
                lambda c, a, m, b: z3.Implies(
                    z3.And(a >= 0, a <= m, m <= b), z3.And(b - m >= 0, b - m <= b - a)
                ),
                (I32, I32, I32),
                lambda s, p, c, pool: [(s["la"], p["la"], s["cur"])],
                ("advance",),
            ),
            # Two entries inside [a, b) with a >= 1 are less than b - a apart, with no int32 wrap: the
            # bit-level half of live_entries_within_capacity, proved once on its own.
            Lemma(
                "span_within_range",
                "int32 1 <= a <= i < j < b: 0 < j - i < b - a",
                lambda c, a, i, j, b: z3.Implies(
                    z3.And(a >= 1, a <= i, i < j, j < b), z3.And(j - i > 0, j - i < b - a)
                ),
                (I32, I32, I32, I32),
                lambda s, p, c, pool: [(s["tail"], p["x_0"], p["x_1"], s["top"])],
                (),
                consequences=("live_entries_within_capacity",),
            ),
        ),
    )


def modular_index_lemma() -> list[Expr]:
    """Negation of: for 0 <= i < j with j - i < C, i % C != j % C (C++ `%` on non-negative int32 values is
    Euclidean, so it is encoded by quotient/remainder witnesses; nonlinear integer arithmetic)."""
    i, j, cap, q1, q2, r = z3.Ints("i j C q1 q2 r")
    return [
        cap >= 4,
        cap <= INT32_MAX,
        i >= 0,
        i < j,
        j <= INT32_MAX,
        j - i < cap,
        i == q1 * cap + r,
        j == q2 * cap + r,
        r >= 0,
        r < cap,
    ]
