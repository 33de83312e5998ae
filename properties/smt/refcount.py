"""Readiness and lifetime counters of one task (spec §2.3, §2.4, §2.11; INV-F1, INV-F2, INV-L1..L3;
C++ `wire_fanin_task`, `release_fanin_and_check_ready`, `route_ready_once`, `append_fanin_or_fail`,
`release_producer(_scope)`, `check_and_handle_consumed`).

fanin: `fanin_count` (int32) is written once (W1) before any producer can reach the consumer; each
WAIT edge is then either linked into a live producer's fanout list (that producer's completion adds
+1) or counted as completed at wiring; W4 adds `completed + 1`. The scheduler side routes on `rc ==
fanin_count`, the orchestrator side on `rc >= fanin_count`, and READY_CLAIMED deduplicates. Every
interleaving of the +1 notifications with the rest of the wiring is a state of this system.

fanout: `fanout_count` and `fanout_refcount` are uint32 with bit 31 as the owning scope's reference
and bits 30..0 counting claims / releases. A claim happens under the producer's lock, only while it
is not CONSUMED; consumption is decided under the same lock by `rc == fc` on a COMPLETED task.
"""

from __future__ import annotations

import z3  # type: ignore[import-untyped]

from properties.smt.core import BV, Action, Bool, Expr, Invariant, StepProperty, System, Vars

I32 = BV(32, signed=True)
U32 = BV(32)
U8 = BV(8)
SCOPE_BIT = 0x80000000
CLAIM_MAX = SCOPE_BIT - 1  # the debug assert: claims stay below bit 31
FANIN_MAX = 2**30

ASSUME_CLAIM31 = "A-CLAIM31: fewer than 2^31-1 claims on one producer generation (guarded only by a debug assert)"
ASSUME_FANIN = "fanin edges per task below 2^30 (fanin_count = edges + 1 is an int32)"


def fanin_system(mutant: str | None = None) -> System:
    """Mutant M_COMPLETED_EQ_NOT_GE (D01): wiring links a producer that is already CONSUMED (it tested
    `== COMPLETED` instead of `>= COMPLETED`); that producer never walks its fanout list again."""
    fields = (
        ("fc", I32),  # fanin_count
        ("rc", I32),  # fanin_refcount
        ("w1", Bool()),  # W1 done
        ("w4", Bool()),  # W4 done
        ("decided", I32),  # WAIT edges wired so far
        ("linked", I32),  # of which linked into a live producer's list
        ("lost", I32),  # of which linked into a producer that will never notify (mutant only)
        ("notified", I32),  # +1 notifications delivered
        ("claimed", Bool()),  # READY_CLAIMED
        ("routed", I32),  # ghost: pushes to a ready queue
    )
    consts = (("n", I32),)

    def const_facts(c: Vars) -> list[Expr]:
        return [c["n"] >= 0, c["n"] < FANIN_MAX]

    def init(s: Vars, c: Vars) -> Expr:
        zero = [s[f] == 0 for f in ("fc", "rc", "decided", "linked", "lost", "notified", "routed")]
        return z3.And(*zero, z3.Not(s["w1"]), z3.Not(s["w4"]), z3.Not(s["claimed"]))

    def route(s: Vars, cond: Expr) -> dict[str, Expr]:
        fire = z3.And(cond, z3.Not(s["claimed"]))
        return {"claimed": z3.Or(s["claimed"], cond), "routed": z3.If(fire, s["routed"] + 1, s["routed"])}

    def w1(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        return z3.Not(s["w1"]), {"w1": z3.BoolVal(True), "fc": c["n"] + 1}

    def edge(s: Vars, c: Vars) -> Expr:
        return z3.And(s["w1"], z3.Not(s["w4"]), s["decided"] < c["n"])

    def link(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        return edge(s, c), {"decided": s["decided"] + 1, "linked": s["linked"] + 1}

    def count_completed(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        return edge(s, c), {"decided": s["decided"] + 1}

    def link_consumed(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        # the D01 mutant: a CONSUMED producer is linked as if it were still running
        return edge(s, c), {"decided": s["decided"] + 1, "linked": s["linked"] + 1, "lost": s["lost"] + 1}

    def notify(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        rc = s["rc"] + 1
        upd = {"rc": rc, "notified": s["notified"] + 1}
        upd.update(route(s, rc == s["fc"]))
        return s["notified"] < s["linked"] - s["lost"], upd

    def w4(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        rc = s["rc"] + (c["n"] - s["linked"]) + 1
        upd = {"rc": rc, "w4": z3.BoolVal(True)}
        upd.update(route(s, rc >= s["fc"]))
        return z3.And(s["w1"], z3.Not(s["w4"]), s["decided"] == c["n"]), upd

    actions = [
        Action("W1_fanin_count", w1, text="fanin_count = wfanin + 1, before any link"),
        Action("W2_link", link, text="under L(P): P live, prepend C to P's fanout list"),
        Action("W2_count_completed", count_completed, text="under L(P): P >= COMPLETED, count it"),
        Action("notify", notify, text="a linked producer completes: rc += 1, route on =="),
        Action("W4_add", w4, text="rc += completed + 1, route on >="),
    ]
    if mutant == "M_COMPLETED_EQ_NOT_GE":
        actions.append(Action("W2_link_consumed", link_consumed, text="mutant: links a CONSUMED producer"))

    def all_in(s: Vars, c: Vars) -> Expr:
        return z3.And(s["w4"], s["notified"] == s["linked"])

    invs = [
        Invariant(
            "wiring_counters",
            "INV-F1/F2",
            "0 <= notified <= linked <= decided <= n; no edge before W1; fanin_count = n + 1 once written",
            lambda s, c: z3.And(
                s["notified"] >= 0,
                s["notified"] <= s["linked"] - s["lost"],
                s["lost"] >= 0,
                s["lost"] <= s["linked"],
                s["lost"] == 0 if mutant != "M_COMPLETED_EQ_NOT_GE" else z3.BoolVal(True),
                s["linked"] <= s["decided"],
                s["decided"] <= c["n"],
                z3.Implies(z3.Not(s["w1"]), z3.And(s["decided"] == 0, s["fc"] == 0)),
                z3.Implies(s["w1"], s["fc"] == c["n"] + 1),
                z3.Implies(s["w4"], s["w1"]),
            ),
        ),
        Invariant(
            "refcount_sum",
            "INV-F2",
            "fanin_refcount = notifications + (completed_at_wiring + 1 once W4 ran)",
            lambda s, c: s["rc"] == s["notified"] + z3.If(s["w4"], c["n"] - s["linked"] + 1, z3.BitVecVal(0, 32)),
        ),
        Invariant(
            "routed_once",
            "INV-F2",
            "the consumer is routed at most once, and exactly when every increment has arrived",
            lambda s, c: z3.And(
                s["claimed"] == (s["routed"] == 1),
                s["routed"] == z3.If(all_in(s, c), z3.BitVecVal(1, 32), z3.BitVecVal(0, 32)),
            ),
        ),
        Invariant(
            "refcount_never_exceeds",
            "INV-F2",
            "fanin_refcount never exceeds fanin_count once written",
            lambda s, c: z3.Implies(s["w1"], s["rc"] <= s["fc"]),
            role="consequence",
        ),
        Invariant(
            "ready_when_all_arrived",
            "INV-F2/F3",
            "once W4 ran and every linked producer notified, the consumer has been routed",
            lambda s, c: z3.Implies(z3.And(s["w4"], s["notified"] == s["linked"] - s["lost"]), s["routed"] == 1),
            role="consequence",
        ),
    ]
    props = [
        StepProperty(
            "route_only_when_complete",
            "INV-F4",
            "a step that routes the consumer is one after which every increment has arrived",
            lambda s, t, p, c: z3.Implies(t["routed"] > s["routed"], all_in(t, c)),
        ),
    ]

    def small(s: Vars, c: Vars) -> list[Expr]:
        return [c["n"] <= 4]

    return System(
        name="fanin",
        title="fanin_refcount crosses fanin_count exactly once (one consumer)",
        fields=fields,
        consts=consts,
        const_facts=const_facts,
        init=init,
        actions=tuple(actions),
        invariants=tuple(invs),
        step_properties=tuple(props),
        assumptions=(ASSUME_FANIN,),
        mutant=mutant,
        small=small,
    )


def fanout_system(mutant: str | None = None, assume_claim31: bool = True) -> System:
    """Mutant M_CLAIM_OUTSIDE_LOCK (A01, second half): the liveness check and the fanout_count++ of a
    claim are separate steps, so a consume can fall between them."""
    fields = (
        ("fc", U32),  # fanout_count: bit 31 scope reference, low bits claims
        ("rc", U32),  # fanout_refcount: bit 31 scope released, low bits releases
        ("st", U8),  # task_state: 0 PENDING, 1 COMPLETED, 2 CONSUMED
        ("n", U32),  # ghost: claims made
        ("r", U32),  # ghost: claim releases made
        ("sr", Bool()),  # ghost: scope reference released
        ("consumed", U8),  # ghost: COMPLETED -> CONSUMED transitions
        ("pend", Bool()),  # mutant only: a checked claim whose increment has not happened
    )

    def init(s: Vars, c: Vars) -> Expr:
        return z3.And(
            s["fc"] == SCOPE_BIT, s["rc"] == 0, s["st"] == 0, s["n"] == 0, s["r"] == 0, z3.Not(s["sr"]),
            s["consumed"] == 0, z3.Not(s["pend"]),
        )

    def consumed_check(s: Vars, rc: Expr) -> dict[str, Expr]:
        fire = z3.And(s["st"] == 1, rc == s["fc"])
        return {"st": z3.If(fire, z3.BitVecVal(2, 8), s["st"]), "consumed": z3.If(fire, s["consumed"] + 1, s["consumed"])}

    def claim_room(s: Vars) -> Expr:
        return z3.ULT(s["n"], CLAIM_MAX) if assume_claim31 else z3.ULT(s["n"], 0xFFFFFFFF)

    def claim(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        return z3.And(s["st"] != 2, claim_room(s)), {"fc": s["fc"] + 1, "n": s["n"] + 1}

    def claim_check(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        return z3.And(s["st"] != 2, z3.Not(s["pend"]), claim_room(s)), {"pend": z3.BoolVal(True)}

    def claim_inc(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        return s["pend"], {"fc": s["fc"] + 1, "n": s["n"] + 1, "pend": z3.BoolVal(False)}

    def release(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        rc = s["rc"] + 1
        return z3.ULT(s["r"], s["n"]), {"rc": rc, "r": s["r"] + 1, **consumed_check(s, rc)}

    def scope_release(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        rc = s["rc"] + SCOPE_BIT
        return z3.Not(s["sr"]), {"rc": rc, "sr": z3.BoolVal(True), **consumed_check(s, rc)}

    def complete(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        return s["st"] == 0, {"st": z3.BitVecVal(1, 8)}

    def self_check(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        return z3.BoolVal(True), consumed_check(s, s["rc"])

    actions = []
    if mutant == "M_CLAIM_OUTSIDE_LOCK":
        actions += [Action("claim_check", claim_check), Action("claim_increment", claim_inc)]
    else:
        actions.append(Action("claim", claim, text="under L(P): not CONSUMED -> fanout_count++"))
    actions += [
        Action("release", release, text="release_producer: rc += 1, consumed check"),
        Action("scope_release", scope_release, text="release_producer_scope: rc += SCOPE_BIT, consumed check"),
        Action("complete", complete, text="mark_completed"),
        Action("self_check", self_check, text="check_and_handle_consumed"),
    ]

    invs = [
        Invariant(
            "counters_split",
            "INV-L1/L2",
            "fanout_count = SCOPE_BIT + claims, fanout_refcount = releases + SCOPE_BIT once the scope released",
            lambda s, c: z3.And(
                s["fc"] == SCOPE_BIT + s["n"],
                s["rc"] == s["r"] + z3.If(s["sr"], z3.BitVecVal(SCOPE_BIT, 32), z3.BitVecVal(0, 32)),
                z3.ULE(s["r"], s["n"]),
                z3.ULE(s["n"], CLAIM_MAX) if assume_claim31 else z3.BoolVal(True),
                z3.ULE(s["st"], 2),
                z3.Implies(s["pend"], s["st"] != 2) if mutant == "M_CLAIM_OUTSIDE_LOCK" else z3.Not(s["pend"]),
            ),
        ),
        Invariant(
            "consumed_once_all_released",
            "INV-L3/L4",
            "CONSUMED happens once, only after every claim and the scope reference were released",
            lambda s, c: z3.And(
                (s["st"] == 2) == (s["consumed"] == 1),
                z3.ULE(s["consumed"], 1),
                z3.Implies(s["st"] == 2, z3.And(s["r"] == s["n"], s["sr"], z3.Not(s["pend"]))),
            ),
        ),
        Invariant(
            "balanced_iff_all_released",
            "INV-L2",
            "rc == fc exactly when every claim and the scope reference have been released",
            lambda s, c: (s["rc"] == s["fc"]) == z3.And(s["r"] == s["n"], s["sr"]),
            role="consequence",
        ),
    ]
    props = [
        StepProperty(
            "no_claim_on_consumed",
            "INV-L1",
            "no claim lands on a CONSUMED producer",
            lambda s, t, p, c: z3.Implies(z3.UGT(t["n"], s["n"]), s["st"] != 2),
        ),
    ]

    def small(s: Vars, c: Vars) -> list[Expr]:
        return [z3.ULE(s["n"], 4)] if assume_claim31 else []

    name = "fanout" if assume_claim31 else "fanout-claim31"
    return System(
        name=name,
        title="fanout claims and releases balance; the scope reference is its own component",
        fields=fields,
        consts=(),
        const_facts=lambda c: [],
        init=init,
        actions=tuple(actions),
        invariants=tuple(invs),
        step_properties=tuple(props),
        assumptions=(ASSUME_CLAIM31,) if assume_claim31 else (),
        mutant=mutant,
        small=small,
    )
