"""The Vyukov bounded MPMC ready queue (spec §1.9, INV-P4; C++ `PTO2ReadyQueue::push_tagged`,
`pop_tagged`, and the batch forms, SCHED/pto_scheduler.h).

Positions `enqueue_pos` / `dequeue_pos` are uint64 and every slot's `sequence` is an int64, all kept
as 64-bit vectors so that position wrap-around is real. A push reserves position E when
`sequence[E & mask] == E` (CAS on enqueue_pos), then publishes `sequence = E + 1`; a pop reserves D when
`sequence[D & mask] == D + 1`, reads the entry, then releases `sequence = D + capacity`. Any number of
threads may sit between reserve and publish/release: those in-flight operations are per-slot states,
so the system covers every interleaving. The C++ `diff` is the signed difference of the two.

Per slot k, with q(k) the unique position in [D, D + capacity) that maps to k:
  q < E:  reserved for enqueue at q:  sequence in {q (unpublished), q + 1 (published)}
  q >= E: free for enqueue at q:      sequence in {q (released), q - capacity + 1 (its pop at q - capacity
          reserved, not yet released)}
"""

from __future__ import annotations

from collections.abc import Sequence

import z3  # type: ignore[import-untyped]

from properties.smt.core import BV, Action, Arr, Expr, Invariant, Lemma, StepProperty, System, Vars

U64 = BV(64)
READY_QUEUE_SIZE = 65536  # PTO2_READY_QUEUE_SIZE, compile-time (each of the 7 ready queues)


def queue_system(mutant: str | None = None, capacity: int = READY_QUEUE_SIZE) -> System:
    """Mutant M_QUEUE_PUSH_ACCEPTS_OLD_SEQUENCE: a push reserves its slot whenever `diff <= 0`
    (sequence not ahead of the position) instead of only when `diff == 0`."""
    fields = (("E", U64), ("D", U64), ("seq", Arr(U64, U64)))
    assert capacity >= 2 and capacity & (capacity - 1) == 0
    consts: tuple[tuple[str, BV], ...] = ()

    def cap_of(c: Vars) -> Expr:
        return z3.BitVecVal(capacity, 64)

    def mask(c: Vars) -> Expr:
        return z3.BitVecVal(capacity - 1, 64)

    def const_facts(c: Vars) -> list[Expr]:
        return []

    def init(s: Vars, c: Vars) -> Expr:
        if capacity <= 16:  # slots beyond the mask are never read; a finite store chain keeps BMC cheap
            seq = z3.K(z3.BitVecSort(64), z3.BitVecVal(0, 64))
            for i in range(capacity):
                seq = z3.Store(seq, z3.BitVecVal(i, 64), z3.BitVecVal(i, 64))
        else:
            k = z3.BitVec("k_init", 64)
            seq = z3.Lambda([k], k)  # sequence[i] = i
        return z3.And(s["E"] == 0, s["D"] == 0, s["seq"] == seq)

    def q_of(s: Vars, c: Vars, k: Expr) -> Expr:
        return s["D"] + ((k - s["D"]) & mask(c))

    def reserved(s: Vars, c: Vars, k: Expr) -> Expr:
        return z3.ULT((k - s["D"]) & mask(c), s["E"] - s["D"])

    def diff(s: Vars, pos: Expr, k: Expr) -> Expr:
        return s["seq"][k] - pos  # int64 sequence - int64(pos), read as signed

    def push_reserve(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        e = s["E"]
        d = diff(s, e, e & mask(c))
        ok = d <= 0 if mutant == "M_QUEUE_PUSH_ACCEPTS_OLD_SEQUENCE" else d == 0
        return ok, {"E": e + 1}

    def push_publish(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        k = p["k"]
        q = q_of(s, c, k)
        guard = z3.And(z3.ULE(k, mask(c)), reserved(s, c, k), s["seq"][k] == q)
        return guard, {"seq": z3.Store(s["seq"], k, q + 1)}

    def pop_reserve(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        dpos = s["D"]
        return diff(s, dpos + 1, dpos & mask(c)) == 0, {"D": dpos + 1}

    def pop_release(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        k = p["k"]
        q = q_of(s, c, k)
        guard = z3.And(z3.ULE(k, mask(c)), z3.Not(reserved(s, c, k)), s["seq"][k] == q - cap_of(c) + 1)
        return guard, {"seq": z3.Store(s["seq"], k, q)}

    def observe(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        return z3.BoolVal(True), {}

    k_param = (("k", U64),)
    actions = (
        Action("push_reserve", push_reserve, terms=lambda s, p, c: [s["E"] & mask(c)], text="CAS enqueue_pos"),
        Action("push_publish", push_publish, k_param, lambda s, p, c: [p["k"]], "store sequence = pos + 1"),
        Action("pop_reserve", pop_reserve, terms=lambda s, p, c: [s["D"] & mask(c)], text="CAS dequeue_pos"),
        Action("pop_release", pop_release, k_param, lambda s, p, c: [p["k"]], "store sequence = pos + capacity"),
        Action("push_attempt", observe, terms=lambda s, p, c: [s["E"] & mask(c)], text="a push reads its slot"),
    )

    invs = [
        Invariant(
            "positions",
            "INV-P4",
            "0 <= enqueue_pos - dequeue_pos <= capacity (modulo 2^64)",
            lambda s, c: z3.ULE(s["E"] - s["D"], cap_of(c)),
        ),
        Invariant(
            "sequence",
            "§1.9",
            "each slot's sequence is q or q+1 while reserved for enqueue at q, else q or q-capacity+1",
            lambda s, c, k: z3.Implies(
                z3.ULE(k, mask(c)),
                z3.If(
                    reserved(s, c, k),
                    z3.Or(s["seq"][k] == q_of(s, c, k), s["seq"][k] == q_of(s, c, k) + 1),
                    z3.Or(s["seq"][k] == q_of(s, c, k), s["seq"][k] == q_of(s, c, k) - cap_of(c) + 1),
                ),
            ),
            (U64,),
        ),
    ]

    def slot_e(s: Vars, c: Vars) -> Expr:
        return s["E"] & mask(c)

    props = [
        StepProperty(
            "push_overwrites_nothing",
            "INV-P4",
            "a push reserves a slot only after the entry it held was popped and its pop released it",
            lambda s, t, p, c: z3.And(
                z3.ULT(s["E"] - s["D"], cap_of(c)), s["seq"][slot_e(s, c)] == s["E"]
            ),
            actions=("push_reserve",),
        ),
        StepProperty(
            "pop_reads_published",
            "INV-P4",
            "a pop reserves only a published entry",
            lambda s, t, p, c: z3.And(z3.UGT(s["E"] - s["D"], 0), s["seq"][s["D"] & mask(c)] == s["D"] + 1),
            actions=("pop_reserve",),
        ),
        StepProperty(
            "full_means_capacity_in_use",
            "INV-P4",
            "a push returns 'full' (diff < 0) only when capacity positions are queued or still being popped",
            lambda s, t, p, c: z3.Implies(
                diff(s, s["E"], slot_e(s, c)) < 0,
                z3.Or(s["E"] - s["D"] == cap_of(c), s["seq"][slot_e(s, c)] == s["E"] - cap_of(c) + 1),
            ),
            actions=("push_attempt",),
        ),
    ]

    def pool(s: Vars, c: Vars) -> list[Expr]:
        return [s["E"] & mask(c), s["D"] & mask(c)]

    def at_slots(s: Vars, p: Vars, c: Vars, terms: Sequence[Expr]) -> list[tuple[Expr, ...]]:
        return [(s["E"], s["D"], k) for k in terms if k.sort() == z3.BitVecSort(64)]

    def pos_ok(e: Expr, d: Expr, c: Vars) -> Expr:
        return z3.ULE(e - d, cap_of(c))

    # The sequence invariant's consecution for the two position CASes: every slot but the one at the
    # moved position keeps its q and its reserved/free side. Proved once as 64-bit arithmetic, these
    # leave the step checks only the array case analysis (which made them seed-sensitive on their own).
    lemmas = (
        Lemma(
            "pop_moves_one_slot",
            "for k <= mask, k != D & mask, 0 < E - D <= capacity: D+1 leaves q(k) and reserved(k) unchanged",
            lambda c, e, d, k: z3.Implies(
                z3.And(z3.ULE(k, mask(c)), k != d & mask(c), z3.UGT(e - d, 0), pos_ok(e, d, c)),
                z3.And(
                    q_of({"D": d + 1}, c, k) == q_of({"D": d}, c, k),
                    reserved({"E": e, "D": d + 1}, c, k) == reserved({"E": e, "D": d}, c, k),
                ),
            ),
            (U64, U64, U64),
            at_slots,
            ("pop_reserve",),
        ),
        Lemma(
            "push_reserves_one_slot",
            "for k <= mask, E - D < capacity: after E+1, k is reserved iff it was or k == E & mask",
            lambda c, e, d, k: z3.Implies(
                z3.And(z3.ULE(k, mask(c)), z3.ULT(e - d, cap_of(c))),
                reserved({"E": e + 1, "D": d}, c, k) == z3.Or(reserved({"E": e, "D": d}, c, k), k == e & mask(c)),
            ),
            (U64, U64, U64),
            at_slots,
            ("push_reserve",),
        ),
    )

    def small(s: Vars, c: Vars) -> list[Expr]:
        return [z3.ULE(s["E"], 2 * capacity + 8)] if capacity <= 16 else []

    return System(
        name="ready-queue" if capacity == READY_QUEUE_SIZE else f"ready-queue-cap{capacity}",
        title="Vyukov MPMC ready queue: sequence invariant, no overwrite",
        fields=fields,
        consts=consts,
        const_facts=const_facts,
        init=init,
        actions=actions,
        invariants=tuple(invs),
        step_properties=tuple(props),
        assumptions=(f"capacity {capacity} (PTO2_READY_QUEUE_SIZE is a compile-time 65536)",),
        pool=pool,
        mutant=mutant,
        small=small,
        lemmas=lemmas,
    )
