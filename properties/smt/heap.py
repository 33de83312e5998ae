"""The heap ring of one ring (spec §2.13, INV-H1..H4; C++ `PTO2TaskAllocator::alloc`,
`update_heap_tail`, `try_bump_heap`, `commit_task`).

State at the C++ widths: `top`, `tail` are uint64 byte offsets, `cur`, `la`, `last_alive_seen_` and
`heap_rebase_anchor_task_id_` are int32, and the descriptors' `packed_buffer_base/end` are kept as
offsets per task id (arrays indexed by id). The allocator derives `tail` from the descriptor of the
youngest reclaimed task on every alloc, before it checks the window and bumps the heap; a refused
alloc still performs that derivation (`alloc_blocked`). `advance` is the schedulers' watermark move.

The invariants use arc arithmetic on [tail, top): `rank(x)` is the distance from `tail` to `x` in ring
order, so the live arc is ranks [0, rank(top)], buffers are ordered by task id along it, and a buffer
never straddles the end of the heap (its byte length equals its rank length). No quantified arrays of
intervals are needed: ids are quantified, and discharged by instantiation (see core).
"""

from __future__ import annotations

import z3  # type: ignore[import-untyped]

from properties.smt.core import (
    BV,
    Action,
    Arr,
    Expr,
    Invariant,
    StepProperty,
    System,
    UInt,
    Vars,
    order_cases,
)
from properties.smt.window import ASSUME_INT32, INT32_MAX

I32 = BV(32, signed=True)
U64 = UInt(64)
UINT64_LIMIT = 2**64
H_MAX = 2**62
REQUEST_MAX = 2**32
WITNESS_IDS = 6  # witness searches stay below this many tasks (ids -1..6 instantiated up front)

ASSUME_R8_HEAP = "A-R8: the descriptor (base/end) of every task below la is written (INV-R8 holds; see window-cxx)"
ASSUME_HEAP = "H in [1, 2^62], requests below 2^32 (an int32 layout total aligned to 64)"


def u64(v: int) -> Expr:
    return z3.IntVal(v)


def _ule(a: Expr, b: Expr) -> Expr:
    return a <= b


def _uge(a: Expr, b: Expr) -> Expr:
    return a >= b


def _ult(a: Expr, b: Expr) -> Expr:
    return a < b


def _ugt(a: Expr, b: Expr) -> Expr:
    return a > b


def heap_system(mutant: str | None = None) -> System:
    """Mutants: M_HEAP_TAIL_ABSOLUTE (B01), M_HEAP_GAP_NONSTRICT (B02), M_HEAP_WRAP_NONSTRICT (the wrap
    test `tail >= a`), M_HEAP_REBASE_NO_ANCHOR (update_heap_tail ignores the rebase anchor)."""
    fields = (
        ("cur", I32),
        ("la", I32),
        ("seen", I32),
        ("anchor", I32),
        ("top", U64),
        ("tail", U64),
        ("base", Arr(I32, U64)),
        ("end", Arr(I32, U64)),
    )
    consts = (("W", I32), ("H", U64), ("HB", U64))

    def const_facts(c: Vars) -> list[Expr]:
        w, h = c["W"], c["H"]
        return [w >= 4, w <= 2**30, w & (w - 1) == 0, h >= 1, h <= H_MAX, c["HB"] > 0, c["HB"] < H_MAX]

    def init(s: Vars, c: Vars) -> Expr:
        return z3.And(
            s["cur"] == 0, s["la"] == 0, s["seen"] == 0, s["anchor"] == -1, s["top"] == 0, s["tail"] == 0
        )

    def rank(x: Expr, tail: Expr, c: Vars) -> Expr:
        return z3.If(_uge(x, tail), x - tail, x + c["H"] - tail)

    def lo(s: Vars) -> Expr:
        return z3.If(s["anchor"] >= 0, s["anchor"], s["seen"])

    def derive_tail(s: Vars, c: Vars) -> tuple[Expr, Expr, Expr]:
        """update_heap_tail(la): (seen', anchor', tail')."""
        la = s["la"]
        fresh_la = la > s["seen"]
        keep = z3.And(s["anchor"] >= 0, la <= s["anchor"])
        if mutant == "M_HEAP_REBASE_NO_ANCHOR":
            keep = z3.BoolVal(False)
        end = s["end"][la - 1]
        derived = c["HB"] + end if mutant == "M_HEAP_TAIL_ABSOLUTE" else end
        seen = z3.If(fresh_la, la, s["seen"])
        anchor = z3.If(z3.And(fresh_la, z3.Not(keep)), z3.BitVecVal(-1, 32), s["anchor"])
        tail = z3.If(z3.And(fresh_la, z3.Not(keep)), derived, s["tail"])
        return seen, anchor, tail

    def bump(top: Expr, tail: Expr, a: Expr, c: Vars, local: Expr) -> tuple[Expr, Expr, Expr, Expr, Expr]:
        """try_bump_heap(a): (ok, base, top', tail', anchor_set)."""
        h = c["H"]
        at_end = _uge(h - top, a)
        wrap = _uge(tail, a) if mutant == "M_HEAP_WRAP_NONSTRICT" else _ugt(tail, a)
        gap = _uge(tail - top, a) if mutant == "M_HEAP_GAP_NONSTRICT" else _ugt(tail - top, a)
        rebase = z3.And(top == tail, _ule(a, h))
        above = _uge(top, tail)
        zero = a == 0
        ok = z3.Or(zero, z3.And(above, z3.Or(at_end, wrap, rebase)), z3.And(z3.Not(above), gap))
        base = z3.If(
            zero,
            top,
            z3.If(above, z3.If(at_end, top, u64(0)), top),
        )
        use_rebase = z3.And(z3.Not(zero), above, z3.Not(at_end), z3.Not(wrap), rebase)
        new_top = z3.If(zero, top, base + a)
        new_tail = z3.If(use_rebase, u64(0), tail)
        return ok, base, new_top, new_tail, use_rebase

    def window_ok(s: Vars, c: Vars) -> Expr:
        return z3.And(s["cur"] - s["la"] + 1 < c["W"], s["cur"] != INT32_MAX)

    def request_ok(p: Vars) -> Expr:
        return z3.And(p["a"] >= 0, p["a"] < REQUEST_MAX)

    def alloc(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        a = p["a"]
        seen, anchor, tail = derive_tail(s, c)
        ok, base, top, tail2, rebased = bump(s["top"], tail, a, c, s["cur"])
        cur = s["cur"]
        return z3.And(request_ok(p), window_ok(s, c), ok), {
            "seen": seen,
            "anchor": z3.If(rebased, cur, anchor),
            "tail": tail2,
            "top": top,
            "cur": cur + 1,
            "base": z3.Store(s["base"], cur, base),
            "end": z3.Store(s["end"], cur, base + a),
        }

    def alloc_blocked(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        a = p["a"]
        seen, anchor, tail = derive_tail(s, c)
        ok = bump(s["top"], tail, a, c, s["cur"])[0]
        return z3.And(request_ok(p), z3.Not(z3.And(window_ok(s, c), ok))), {"seen": seen, "anchor": anchor, "tail": tail}

    def advance(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        n = p["la"]
        return z3.And(s["la"] < n, n <= s["cur"]), {"la": n}

    a_param = (("a", U64),)

    def alloc_terms(s: Vars, p: Vars, c: Vars) -> list[Expr]:
        return [s["cur"], s["cur"] - 1, s["la"] - 1]

    actions = (
        Action("alloc", alloc, a_param, alloc_terms, "update_heap_tail(la), window check, try_bump_heap, commit"),
        Action("alloc_blocked", alloc_blocked, a_param, alloc_terms, "a refused alloc (its tail derivation stays)"),
        Action("advance", advance, (("la", I32),), lambda s, p, c: [p["la"] - 1], "la moves over a consumed prefix"),
    )

    t_ = (I32,)

    def in_arc(s: Vars, c: Vars, t: Expr) -> Expr:
        return z3.And(lo(s) <= t, t < s["cur"])

    invs = [
        Invariant(
            "heap_window",
            "INV-R1",
            "0 <= seen <= la <= cur, cur - la <= W - 1, and an anchor lies in [seen, cur)",
            lambda s, c: z3.And(
                s["seen"] >= 0,
                s["seen"] <= s["la"],
                s["la"] <= s["cur"],
                s["cur"] - s["la"] <= c["W"] - 1,
                z3.Or(s["anchor"] == -1, z3.And(s["seen"] <= s["anchor"], s["anchor"] < s["cur"])),
            ),
        ),
        Invariant(
            "cursors_in_heap",
            "INV-H1",
            "top and tail are offsets in [0, H]",
            lambda s, c: z3.And(s["top"] >= 0, _ule(s["top"], c["H"]), s["tail"] >= 0, _ule(s["tail"], c["H"])),
        ),
        Invariant(
            "tail_derivation",
            "INV-H3",
            "tail is the end offset of the youngest task the allocator saw reclaimed (0 initially / after a rebase)",
            lambda s, c: z3.If(
                z3.Or(s["anchor"] >= 0, s["seen"] == 0), s["tail"] == 0, s["tail"] == s["end"][s["seen"] - 1]
            ),
        ),
        Invariant(
            "buffers_on_live_arc",
            "INV-H1/H2",
            "each buffer of [lo, cur) lies on the arc [tail, top] without straddling the heap end",
            lambda s, c, t: z3.Implies(
                in_arc(s, c, t),
                z3.And(
                    s["base"][t] >= 0,
                    _ule(s["base"][t], s["end"][t]),
                    _ule(s["end"][t], c["H"]),
                    _ule(rank(s["base"][t], s["tail"], c), rank(s["end"][t], s["tail"], c)),
                    _ule(rank(s["end"][t], s["tail"], c), rank(s["top"], s["tail"], c)),
                    s["end"][t] - s["base"][t] == rank(s["end"][t], s["tail"], c) - rank(s["base"][t], s["tail"], c),
                ),
            ),
            t_,
            cases=(("alloc", order_cases("id", lambda s, p, c: s["cur"])),),
        ),
        Invariant(
            "buffers_in_id_order",
            "INV-H1",
            "along the arc, buffers follow task order",
            lambda s, c, t1, t2: z3.Implies(
                z3.And(in_arc(s, c, t1), in_arc(s, c, t2), t1 < t2),
                _ule(rank(s["end"][t1], s["tail"], c), rank(s["base"][t2], s["tail"], c)),
            ),
            (I32, I32),
            cases=(("alloc", order_cases("later id", lambda s, p, c: s["cur"], var=1)),),
        ),
        Invariant(
            "contiguous_placement",
            "INV-H1/H2",
            "each buffer starts where the previous one ended (tail for the first), or at 0 when it wrapped",
            lambda s, c, t: z3.Implies(
                in_arc(s, c, t),
                z3.Or(
                    s["base"][t] == z3.If(t == lo(s), s["tail"], s["end"][t - 1]),
                    z3.And(s["base"][t] == 0, _ult(s["base"][t], s["end"][t])),
                ),
            ),
            t_,
            cases=(("alloc", order_cases("id", lambda s, p, c: s["cur"])),),
        ),
        Invariant(
            "zero_ends_first",
            "INV-H2",
            "a buffer ending at offset 0 (zero-size, before the first byte was ever placed) has only such "
            "buffers before it, and then tail is 0",
            lambda s, c, t1, t2: z3.Implies(
                z3.And(in_arc(s, c, t1), in_arc(s, c, t2), t1 <= t2, s["end"][t2] == 0),
                z3.And(s["end"][t1] == 0, s["tail"] == 0),
            ),
            # implied by contiguous_placement along the chain of ids (an induction the instantiation
            # cannot do), so the independence check expects it to be implied

            (I32, I32),
            # the later id is older than the new buffer, the new buffer, or past it: three checks
            cases=(("alloc", order_cases("later id", lambda s, p, c: s["cur"], var=1)),),
        ),
        Invariant(
            "top_is_last_end",
            "INV-H2",
            "top is the end of the newest task; with nothing past the watermark it equals tail",
            lambda s, c: z3.If(s["cur"] > lo(s), s["end"][s["cur"] - 1] == s["top"], s["top"] == s["tail"]),
        ),
        Invariant(
            "pre_rebase_tasks_empty",
            "INV-H3",
            "tasks the rebase anchor hides ([seen, anchor)) own no bytes",
            lambda s, c, t: z3.Implies(
                z3.And(s["anchor"] >= 0, s["seen"] <= t, t < s["anchor"]),
                z3.And(s["base"][t] == s["end"][t], s["end"][t] >= 0, s["end"][t] <= c["H"]),
            ),
            t_,
            cases=(("alloc", order_cases("id", lambda s, p, c: s["cur"])),),
        ),
    ]

    def live(s: Vars, t: Expr) -> Expr:
        return z3.And(s["la"] <= t, t < s["cur"])

    def nonempty(s: Vars, t: Expr) -> Expr:
        return _ult(s["base"][t], s["end"][t])

    invs += [
        Invariant(
            "live_buffers_disjoint",
            "INV-H1",
            "live buffers are pairwise disjoint and inside [0, H)",
            lambda s, c, t1, t2: z3.And(
                z3.Implies(live(s, t1), z3.And(_ule(s["base"][t1], s["end"][t1]), _ule(s["end"][t1], c["H"]))),
                z3.Implies(
                    z3.And(live(s, t1), live(s, t2), t1 != t2, nonempty(s, t1), nonempty(s, t2)),
                    z3.Or(_ule(s["end"][t1], s["base"][t2]), _ule(s["end"][t2], s["base"][t1])),
                ),
            ),
            (I32, I32),
            role="consequence",
        ),
        Invariant(
            "top_eq_tail_iff_empty",
            "INV-H2",
            "top == tail exactly when no buffer past the allocator's watermark owns bytes",
            lambda s, c, t: z3.And(
                z3.Implies(z3.And(s["top"] == s["tail"], live(s, t)), z3.Not(nonempty(s, t))),
                z3.Implies(s["cur"] == s["seen"], s["top"] == s["tail"]),
            ),
            t_,
            role="consequence",
        ),
    ]

    def new_buffer_ok(s: Vars, t: Vars, p: Vars, c: Vars, x: Expr) -> Expr:
        b, e = t["base"][s["cur"]], t["end"][s["cur"]]
        return z3.And(
            _ule(b, e),
            _ule(e, c["H"]),
            z3.Implies(
                z3.And(live(s, x), nonempty(s, x), _ult(b, e)),
                z3.Or(_ule(s["end"][x], b), _ule(e, s["base"][x])),
            ),
        )

    def in_u64(*xs: Expr) -> Expr:
        return z3.And(*[z3.And(x >= 0, x < UINT64_LIMIT) for x in xs])

    def no_wrap(s: Vars, t: Vars, p: Vars, c: Vars) -> Expr:
        """Every uint64 intermediate of update_heap_tail and try_bump_heap stays in [0, 2^64), in the
        branch where the C++ computes it, so the integer encoding is the C++ modular arithmetic."""
        a, top = p["a"], s["top"]
        tail = derive_tail(s, c)[2]
        end = s["end"][s["la"] - 1]
        derived = c["HB"] + end if mutant == "M_HEAP_TAIL_ABSOLUTE" else end
        return z3.And(
            z3.Implies(
                z3.And(s["la"] > s["seen"], z3.Not(z3.And(s["anchor"] >= 0, s["la"] <= s["anchor"]))),
                in_u64(derived),
            ),
            z3.Implies(_uge(top, tail), in_u64(c["H"] - top, top + a)),
            z3.Implies(_ult(top, tail), in_u64(tail - top, top + a)),
        )

    props = [
        StepProperty(
            "uint64_no_wrap",
            "§1.4",
            "no uint64 heap expression wraps (the integer encoding equals the C++ arithmetic)",
            no_wrap,
            actions=("alloc", "alloc_blocked"),
        ),
        StepProperty(
            "new_buffer_fits",
            "INV-H1",
            "a new buffer lies in [0, H) and is disjoint from every live buffer",
            new_buffer_ok,
            actions=("alloc",),
            bound=t_,
        ),
        StepProperty(
            "tail_moves_forward",
            "INV-H3",
            "a derived tail lies on the old live arc (ring order), unless the ring was rebased",
            lambda s, t, p, c: z3.Or(
                t["tail"] == s["tail"],
                _ule(rank(t["tail"], s["tail"], c), rank(s["top"], s["tail"], c)),
                z3.And(t["tail"] == 0, t["anchor"] == s["cur"]),
            ),
            actions=("alloc", "alloc_blocked"),
        ),
        StepProperty(
            "empty_ring_never_refuses",
            "INV-H4",
            "with the window open, a request a <= H on an empty ring (top == tail) always succeeds",
            lambda s, t, p, c: z3.Not(
                z3.And(
                    s["cur"] - s["la"] + 1 < c["W"],
                    s["cur"] != INT32_MAX,
                    t["top"] == t["tail"],
                    _ule(p["a"], c["H"]),
                )
            ),
            actions=("alloc_blocked",),
        ),
    ]

    def pool(s: Vars, c: Vars) -> list[Expr]:
        return []

    def small(s: Vars, c: Vars) -> list[Expr]:
        return [c["W"] == 8, _ule(c["H"], 16), _ule(c["HB"], 16), s["cur"] <= 12, s["cur"] >= 0]

    return System(
        name="heap",
        title="heap ring: offsets, wrap, strict gaps, tail derivation, rebase anchor (one ring)",
        fields=fields,
        consts=consts,
        const_facts=const_facts,
        init=init,
        actions=actions,
        invariants=tuple(invs),
        step_properties=tuple(props),
        assumptions=(ASSUME_INT32, ASSUME_R8_HEAP, ASSUME_HEAP),
        pool=pool,
        mutant=mutant,
        small=small,
        tiny=lambda s, c: [*small(s, c), s["cur"] <= WITNESS_IDS],
        witness_terms=lambda s, c: [z3.BitVecVal(k, 32) for k in range(-1, WITNESS_IDS + 1)],
    )
