"""Task window, watermarks and slot generations of one ring (spec §1.3, §2.2 O2/O8, §2.12, §2.13;
INV-R1..R4, INV-R8, INV-G1; C++ `PTO2TaskAllocator::alloc/commit_task`, `prepare_task`,
`RingSchedState::advance_ring_pointers`, `append_fanin_or_fail`).

State at the C++ widths: `cur`/`la` are int32 (`current_task_index`, `last_task_alive`), a slot is
`id & (W-1)`, the descriptor array holds the int32 local id the generation check compares, the slot
state array holds `task_state` (0 PENDING, 1 COMPLETED, 2 CONSUMED; the zero-filled boot image reads as
PENDING). Two scheduler threads advance the watermark: read `la` under `advance_lock`, scan the
consumed prefix one id at a time, publish.

Granularity "cxx" keeps the C++ order: `commit_task` publishes `cur` inside `alloc`, `prepare_task`
then stores PENDING, and O8 writes the descriptor later still. Granularity "model" merges commit and
prepare, as the executable model does (`TrbModel._admit`).
"""

from __future__ import annotations

import z3  # type: ignore[import-untyped]

from properties.smt.core import (
    BV,
    Action,
    Arr,
    Bool,
    Expr,
    Invariant,
    Lemma,
    StepProperty,
    System,
    Vars,
    order_cases,
)

I32 = BV(32, signed=True)
U8 = BV(8)
INT32_MAX = 2**31 - 1
PENDING, COMPLETED, CONSUMED = 0, 1, 2
LOCK_FREE, LOCK_A, LOCK_B = 0, 1, 2

ASSUME_INT32 = "A-INT32: fewer than 2^31-1 tasks per ring per run (commit_task's local_task_id_++ is unchecked)"
ASSUME_ROUND0 = "A-ROUND0: the first run on a zero-filled shared-memory image (descriptor ids 0, state 0)"
ASSUME_SELF = (
    "A-SELF: the claimed id is not the previous occupant of the submitting task's own slot while that "
    "task's descriptor (O8) is unwritten (only a tensor used after its creator's scope can name it)"
)
ASSUME_PREPARED = "A-R8: commit and prepare are one step (the model's granularity; see INV-R8)"


def i32(v: int) -> Expr:
    return z3.BitVecVal(v, 32)


def u8(v: int) -> Expr:
    return z3.BitVecVal(v, 8)


def window_system(granularity: str = "model", mutant: str | None = None, assume_int32: bool = True) -> System:
    """The ring-window system. Mutants: M_ADVANCE_NO_LOCK (A01), M_COMPLETION_FLAG_NO_GENERATION (E01),
    M_SLOT_INDEX_BY_ID (A04), M_WINDOW_OFF_BY_ONE (admission admits cur - la == W)."""
    cxx = granularity == "cxx"
    fields = (
        ("cur", I32),
        ("la", I32),
        ("pp", Bool()),  # committed, prepare_task has not stored PENDING yet
        ("dp", Bool()),  # committed, descriptor (O8) not written yet
        ("gen", Arr(I32, I32)),  # descriptor task_id.local() per slot
        ("st", Arr(I32, U8)),  # task_state per slot
        ("done", Arr(I32, Bool())),  # ghost: this id completed
        ("cflag", Arr(I32, Bool())),  # per-slot "completed" flag (the E01 design), never reset
        ("cby", Arr(I32, I32)),  # its completed_by_task tag (the E01 fix)
        ("lock", U8),  # advance_lock owner
        ("phA", Bool()),
        ("phB", Bool()),
        ("lA", I32),
        ("lB", I32),
    )
    consts = (("W", I32),)

    def mask(c: Vars) -> Expr:
        return c["W"] - 1

    def slot(t: Expr, c: Vars) -> Expr:
        if mutant == "M_SLOT_INDEX_BY_ID":
            return t
        return t & mask(c)

    def const_facts(c: Vars) -> list[Expr]:
        w = c["W"]
        return [w >= 4, w <= 2**30, w & (w - 1) == 0]

    def init(s: Vars, c: Vars) -> Expr:
        return z3.And(
            s["cur"] == 0,
            s["la"] == 0,
            z3.Not(s["pp"]),
            z3.Not(s["dp"]),
            s["gen"] == z3.K(z3.BitVecSort(32), i32(0)),
            s["st"] == z3.K(z3.BitVecSort(32), u8(PENDING)),
            s["done"] == z3.K(z3.BitVecSort(32), z3.BoolVal(False)),
            s["cflag"] == z3.K(z3.BitVecSort(32), z3.BoolVal(False)),
            s["cby"] == z3.K(z3.BitVecSort(32), i32(0)),
            s["lock"] == LOCK_FREE,
            z3.Not(s["phA"]),
            z3.Not(s["phB"]),
            s["lA"] == 0,
            s["lB"] == 0,
        )

    def occupant(s: Vars, c: Vars, t: Expr) -> Expr:
        return z3.And(t >= 0, t >= s["cur"] - c["W"], t < s["cur"])

    def desc_current(s: Vars, t: Expr) -> Expr:
        return z3.Not(z3.And(s["dp"], t == s["cur"] - 1))

    def prepared(s: Vars, t: Expr) -> Expr:
        return z3.Not(z3.And(s["pp"], t == s["cur"] - 1))

    def admits(s: Vars, c: Vars) -> Expr:
        # PTO2TaskAllocator::alloc: local_task_id_ - last_alive + 1 < window_size_ (int32)
        if mutant == "M_WINDOW_OFF_BY_ONE":
            return s["cur"] - s["la"] + 1 <= c["W"]
        return s["cur"] - s["la"] + 1 < c["W"]

    def producer_completed(s: Vars, c: Vars, p: Expr) -> Expr:
        """The E01 fast-path question 'has producer p completed?' on the per-slot flag."""
        k = slot(p, c)
        if mutant == "M_COMPLETION_FLAG_NO_GENERATION":
            return s["cflag"][k]
        return z3.And(s["cflag"][k], s["cby"][k] == p)

    # ---------------------------------------------------------------- actions

    def commit(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        guard = [z3.Not(s["pp"]), z3.Not(s["dp"]), admits(s, c)]
        if assume_int32:
            guard.append(s["cur"] != INT32_MAX)
        upd = {"cur": s["cur"] + 1, "dp": z3.BoolVal(True)}
        if cxx:
            upd["pp"] = z3.BoolVal(True)  # task_state keeps the previous occupant's value until prepare
        else:
            upd["st"] = z3.Store(s["st"], slot(s["cur"], c), u8(PENDING))
        return z3.And(*guard), upd

    def prepare(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        return s["pp"], {"pp": z3.BoolVal(False), "st": z3.Store(s["st"], slot(s["cur"] - 1, c), u8(PENDING))}

    def write_desc(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        t = s["cur"] - 1
        return z3.And(s["dp"], z3.Not(s["pp"])), {"dp": z3.BoolVal(False), "gen": z3.Store(s["gen"], slot(t, c), t)}

    def live_published(s: Vars, x: Expr) -> Expr:
        return z3.And(s["la"] <= x, x < s["cur"], desc_current(s, x))

    def complete(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        x = p["x"]
        k = slot(x, c)
        guard = z3.And(live_published(s, x), s["st"][k] == PENDING)
        return guard, {
            "st": z3.Store(s["st"], k, u8(COMPLETED)),
            "done": z3.Store(s["done"], x, z3.BoolVal(True)),
            "cflag": z3.Store(s["cflag"], k, z3.BoolVal(True)),
            "cby": z3.Store(s["cby"], k, x),
        }

    def consume(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        x = p["x"]
        k = slot(x, c)
        return z3.And(live_published(s, x), s["st"][k] == COMPLETED), {"st": z3.Store(s["st"], k, u8(CONSUMED))}

    def adv_read(me: str) -> Action:
        ph, loc, mine = f"ph{me}", f"l{me}", LOCK_A if me == "A" else LOCK_B

        def eff(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
            upd: dict[str, Expr] = {ph: z3.BoolVal(True), loc: s["la"]}
            if mutant == "M_ADVANCE_NO_LOCK":
                return z3.Not(s[ph]), upd
            upd["lock"] = u8(mine)
            return z3.And(z3.Not(s[ph]), s["lock"] == LOCK_FREE), upd

        return Action(f"advance_read_{me}", eff, text="take advance_lock, read la (and cur)")

    def adv_scan(me: str) -> Action:
        ph, loc = f"ph{me}", f"l{me}"

        def eff(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
            guard = z3.And(s[ph], s[loc] < s["cur"], s["st"][slot(s[loc], c)] == CONSUMED)
            return guard, {loc: s[loc] + 1}

        return Action(f"advance_scan_{me}", eff, terms=lambda s, p, c: [s[loc]], text="one step of the scan")

    def adv_write(me: str) -> Action:
        ph, loc = f"ph{me}", f"l{me}"

        def eff(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
            upd: dict[str, Expr] = {ph: z3.BoolVal(False), "la": s[loc]}
            if mutant != "M_ADVANCE_NO_LOCK":
                upd["lock"] = u8(LOCK_FREE)
            return s[ph], upd

        return Action(f"advance_write_{me}", eff, terms=lambda s, p, c: [s[loc]], text="publish la, unlock")

    def observe(s: Vars, p: Vars, c: Vars) -> tuple[Expr, dict[str, Expr]]:
        return z3.BoolVal(True), {}

    x_param = (("x", I32),)
    actions = [
        Action("commit", commit, terms=lambda s, p, c: [s["cur"], s["cur"] - c["W"]], text="alloc: window check, commit_task"),
    ]
    if cxx:
        actions.append(Action("prepare", prepare, terms=lambda s, p, c: [s["cur"] - 1], text="prepare_task: PENDING"))
    actions += [
        Action("write_descriptor", write_desc, terms=lambda s, p, c: [s["cur"] - 1], text="O8: descriptor task_id"),
        Action("complete", complete, x_param, terms=lambda s, p, c: [p["x"]], text="on_task_complete marks COMPLETED"),
        Action("consume", consume, x_param, terms=lambda s, p, c: [p["x"]], text="check_and_handle_consumed"),
    ]
    for me in ("A", "B"):
        actions += [adv_read(me), adv_scan(me), adv_write(me)]
    def occupant_of(s: Vars, c: Vars, q: Expr) -> Expr:
        """The id that currently occupies q's slot: the largest id below cur congruent to q mod W."""
        return _occupant(s["cur"], q, c["W"])

    actions.append(
        Action(
            "claim_check",
            observe,
            (("p", I32),),
            terms=lambda s, p, c: [p["p"], slot(p["p"], c), occupant_of(s, c, p["p"])],
            text="a generation / completion query",
        )
    )

    # ---------------------------------------------------------------- invariants

    t_ = (I32,)
    invs = [
        Invariant(
            "window_bound",
            "INV-R1",
            "0 <= la <= cur and cur - la <= W - 1",
            lambda s, c: z3.And(s["la"] >= 0, s["la"] <= s["cur"], s["cur"] - s["la"] <= c["W"] - 1),
        ),
        Invariant(
            "pending_flags",
            "INV-R5",
            "a commit is prepared before its descriptor is written; nothing pending before the first commit",
            lambda s, c: z3.And(z3.Implies(s["pp"], s["dp"]), z3.Implies(s["dp"], s["cur"] >= 1))
            if cxx
            else z3.And(z3.Not(s["pp"]), z3.Implies(s["dp"], s["cur"] >= 1)),
        ),
        Invariant(
            "descriptor_generation",
            "INV-R4/INV-G1",
            "each slot's descriptor names its current occupant (the previous one until O8)",
            lambda s, c, t: z3.Implies(
                occupant(s, c, t),
                s["gen"][slot(t, c)]
                == z3.If(desc_current(s, t), t, z3.If(t >= c["W"], t - c["W"], i32(0))),
            ),
            t_,
            premises=("window_bound", "pending_flags", "unused_slots_boot", "slot_period"),
            # the new id, the ids it keeps, and the ids past it: three small checks instead of one
            cases=(("commit", order_cases("id", lambda s, p, c: s["cur"])),),
        ),
        Invariant(
            "unused_slots_boot",
            "§1.2",
            "slots no id has reached yet still hold the zero-filled boot image",
            lambda s, c, k: z3.Implies(
                z3.And(k >= 0, k < c["W"], k >= s["cur"]),
                z3.And(s["gen"][k] == 0, s["st"][k] == PENDING, z3.Not(s["cflag"][k])),
            ),
            t_,
        ),
        Invariant(
            "consumed_prefix",
            "INV-R3",
            "every occupant below la is CONSUMED",
            lambda s, c, t: z3.Implies(z3.And(occupant(s, c, t), t < s["la"]), s["st"][slot(t, c)] == CONSUMED),
            t_,
            role="claim" if cxx else "inductive",
            cases=(("commit", order_cases("id", lambda s, p, c: s["cur"])),),
        ),
        Invariant(
            "state_values",
            "§1.3",
            "task_state is PENDING, COMPLETED or CONSUMED; an unprepared slot still shows its old state",
            lambda s, c, t: z3.And(
                z3.ULE(s["st"][t], u8(CONSUMED)),
                z3.Implies(
                    z3.And(s["dp"], z3.Not(s["pp"]), t == s["cur"] - 1), s["st"][slot(t, c)] == PENDING
                ),
            ),
            t_,
        ),
        Invariant(
            "stale_state",
            "§1.3",
            "a committed, unprepared slot still shows its previous occupant's CONSUMED (or the boot PENDING)",
            lambda s, c: z3.Implies(
                s["pp"],
                s["st"][slot(s["cur"] - 1, c)] == z3.If(s["cur"] - 1 >= c["W"], u8(CONSUMED), u8(PENDING)),
            ),
            role="claim",
        ),
        Invariant(
            "completed_means_done",
            "INV-G1",
            "a prepared occupant whose state is past PENDING did complete",
            lambda s, c, t: z3.Implies(
                z3.And(occupant(s, c, t), prepared(s, t), s["st"][slot(t, c)] != PENDING), s["done"][t]
            ),
            t_,
            cases=(("complete", order_cases("id", lambda s, p, c: p["x"])),),
        ),
        Invariant(
            "completion_flag_tag",
            "INV-G1",
            "a set per-slot completion flag is tagged with an id of that slot that did complete",
            lambda s, c, k: z3.Implies(
                z3.And(k >= 0, k < c["W"], s["cflag"][k]),
                z3.And(s["done"][s["cby"][k]], s["cby"][k] & mask(c) == k, s["cby"][k] >= 0, s["cby"][k] < s["cur"]),
            ),
            t_,
        ),
    ]
    for me, mine in (("A", LOCK_A), ("B", LOCK_B)):
        ph, loc = f"ph{me}", f"l{me}"
        invs.append(
            Invariant(
                f"scan_{me}",
                "INV-R2",
                f"thread {me}'s scan position stays in [la, cur] while it holds advance_lock",
                lambda s, c, ph=ph, loc=loc: z3.Implies(s[ph], z3.And(s["la"] <= s[loc], s[loc] <= s["cur"])),
            )
        )
        invs.append(
            Invariant(
                f"scan_consumed_{me}",
                "INV-R3/R8",
                f"thread {me}'s scan has passed only prepared, CONSUMED ids",
                lambda s, c, t, ph=ph, loc=loc: z3.Implies(
                    z3.And(s[ph], s["la"] <= t, t < s[loc]),
                    z3.And(s["st"][slot(t, c)] == CONSUMED, prepared(s, t)),
                ),
                t_,
                role="claim" if cxx else "inductive",
            )
        )
        invs.append(
            Invariant(
                f"lock_{me}",
                "INV-R2",
                f"thread {me} scans exactly while it owns advance_lock",
                lambda s, c, ph=ph, mine=mine: s[ph] == (s["lock"] == mine),
            )
        )
    if mutant == "M_ADVANCE_NO_LOCK":
        invs = [i for i in invs if not i.name.startswith(("lock_", "scan_"))]
    invs.append(
        Invariant(
            "live_slots_distinct",
            "INV-R4",
            "live ids [la, cur) map to distinct slots",
            lambda s, c, t1, t2: z3.Implies(
                z3.And(s["la"] <= t1, t1 < s["cur"], s["la"] <= t2, t2 < s["cur"], t1 != t2),
                slot(t1, c) != slot(t2, c),
            ),
            (I32, I32),
            role="consequence",
            premises=("window_bound",),
        )
    )
    if cxx:
        invs.append(
            Invariant(
                "unprepared_not_reclaimed",
                "INV-R8",
                "la (and every scan in progress) stays below a committed id whose prepare has not run",
                lambda s, c: z3.Implies(
                    s["pp"],
                    z3.And(
                        s["la"] < s["cur"],
                        z3.Implies(s["phA"], s["lA"] < s["cur"]),
                        z3.Implies(s["phB"], s["lB"] < s["cur"]),
                    ),
                ),
                role="claim",
                premises=("window_bound", "scan_A", "scan_B", "successor_bound"),
            )
        )

    cxx_props = ("monotone_watermarks", "rebind_after_reclaim", "slot_index_in_window")
    props = [
        StepProperty(
            "monotone_watermarks",
            "INV-R2",
            "cur and la never decrease",
            lambda s, t, p, c: z3.And(t["cur"] >= s["cur"], t["la"] >= s["la"]),
        ),
        StepProperty(
            "rebind_after_reclaim",
            "INV-R4",
            "a slot is rebound to id n only after its previous occupant n - W is below la",
            lambda s, t, p, c: s["cur"] - c["W"] < s["la"],
            actions=("commit",),
        ),
        StepProperty(
            "slot_index_in_window",
            "INV-R4",
            "every slot index the runtime derives from an id lies in [0, W)",
            lambda s, t, p, c: z3.And(slot(p["x"], c) >= 0, slot(p["x"], c) < c["W"]),
            actions=("complete", "consume"),
        ),
        StepProperty(
            "generation_check",
            "INV-G1",
            "a claim on an allocated id p passes the generation+consumed check only if p is live",
            lambda s, t, p, c: z3.Implies(
                z3.And(
                    p["p"] >= 0,
                    p["p"] < s["cur"],
                    z3.Not(z3.And(s["dp"], slot(p["p"], c) == slot(s["cur"] - 1, c), p["p"] != s["cur"] - 1)),
                    s["gen"][slot(p["p"], c)] == p["p"],
                    s["st"][slot(p["p"], c)] != CONSUMED,
                ),
                z3.And(s["la"] <= p["p"], s["cur"] - c["W"] <= p["p"]),
            ),
            actions=("claim_check",),
        ),
        StepProperty(
            "generation_check_own_slot",
            "INV-G1",
            "as generation_check, also for the previous occupant of the submitting task's own slot",
            lambda s, t, p, c: z3.Implies(
                z3.And(
                    p["p"] >= 0,
                    p["p"] < s["cur"],
                    s["gen"][slot(p["p"], c)] == p["p"],
                    s["st"][slot(p["p"], c)] != CONSUMED,
                ),
                z3.And(s["la"] <= p["p"], s["cur"] - c["W"] <= p["p"]),
            ),
            actions=("claim_check",),
        ),
        StepProperty(
            "completion_flag_generation",
            "INV-G1",
            "the per-slot completion flag says 'p completed' only if p did complete",
            lambda s, t, p, c: z3.Implies(
                z3.And(p["p"] >= 0, p["p"] < s["cur"], producer_completed(s, c, p["p"])), s["done"][p["p"]]
            ),
            actions=("claim_check",),
        ),
    ]

    if not cxx:  # no commit is ever unprepared at the model's granularity: nothing to claim
        invs = [i for i in invs if i.name != "stale_state"]
    if cxx:
        props = [p for p in props if p.name in cxx_props]
        invs = [i for i in invs if i.name not in ("completed_means_done", "completion_flag_tag")]

    def pool(s: Vars, c: Vars) -> list[Expr]:
        return [s["cur"] - 1, s["la"], s["lA"], s["lB"]]

    def small(s: Vars, c: Vars) -> list[Expr]:
        return [c["W"] == 4, s["cur"] <= 9]

    assumptions = [ASSUME_ROUND0]
    if assume_int32:
        assumptions.insert(0, ASSUME_INT32)
    if not cxx:
        assumptions.append(ASSUME_PREPARED)
    name = "window" if not cxx else "window-cxx"
    if not assume_int32:
        name += "-int32"
    lemmas = [
        # A commit moves cur past every position at or below it without an int32 wrap (the guard
        # excludes INT32_MAX): the one arithmetic step of the watermark claims under commit.
        Lemma(
            "successor_bound",
            "int32 a <= b < INT32_MAX: a < b + 1",
            lambda c, a, b: z3.Implies(z3.And(a <= b, b != INT32_MAX), a < b + 1),
            (I32, I32),
            lambda s, p, c, pool: [(s["la"], s["cur"]), (s["lA"], s["cur"]), (s["lB"], s["cur"])],
            ("commit",),
        ),
    ]
    if mutant != "M_SLOT_INDEX_BY_ID":  # the slot lemmas state the masked slot the mutant drops
        lemmas += [
            # A commit binds cur to the slot cur - W vacated; stating the period once as arithmetic keeps
            # the commit checks from re-deriving it by bit-blasting (which made them seed-sensitive).
            Lemma(
                "slot_period",
                "W a power of two: (t - W) & (W - 1) == t & (W - 1)",
                lambda c, t: slot(t - c["W"], c) == slot(t, c),
                (I32,),
                lambda s, p, c, pool: [(s["cur"],)],
                ("commit",),
            ),
            # The occupant of an allocated id's slot shares its slot and lies in [cur - W, cur) at or
            # above it: the arithmetic half of the generation check, proved once on its own (in two
            # lemmas, each a small bit-vector check).
            Lemma(
                "slot_occupant",
                "W a power of two, 0 <= q < n: o = n-1 - ((n-1-q) & (W-1)) has o & (W-1) == q & (W-1)",
                lambda c, n, q: z3.Implies(
                    z3.And(q >= 0, q < n), slot(_occupant(n, q, c["W"]), c) == slot(q, c)
                ),
                (I32, I32),
                lambda s, p, c, pool: [(s["cur"], p["p"])],
                ("claim_check",),
            ),
            Lemma(
                "occupant_range",
                "W a power of two, 0 <= q < n: o = n-1 - ((n-1-q) & (W-1)) has max(q, n-W) <= o < n",
                lambda c, n, q: z3.Implies(
                    z3.And(q >= 0, q < n),
                    z3.And(
                        _occupant(n, q, c["W"]) < n,
                        _occupant(n, q, c["W"]) >= n - c["W"],
                        _occupant(n, q, c["W"]) >= q,
                    ),
                ),
                (I32, I32),
                lambda s, p, c, pool: [(s["cur"], p["p"])],
                ("claim_check",),
            ),
        ]
    return System(
        name=name,
        title="task window, watermark and slot generations (one ring)",
        fields=fields,
        consts=consts,
        const_facts=const_facts,
        init=init,
        actions=tuple(actions),
        invariants=tuple(invs),
        step_properties=tuple(props),
        assumptions=tuple(assumptions),
        pool=pool,
        mutant=mutant,
        small=small,
        witness_terms=lambda s, c: [i32(k) for k in range(-1, 10)],
        lemmas=tuple(lemmas),
    )


def _occupant(n: Expr, q: Expr, w: Expr) -> Expr:
    """The largest id below n congruent to q modulo the power of two w."""
    return n - 1 - ((n - 1 - q) & (w - 1))


def r8_schedule(window: int = 4) -> list[tuple[str, dict[str, int]]]:
    """A concrete schedule of the C++-granularity system from the initial state to the INV-R8 violation
    (F-SMT-R8-UNPREPARED-RECLAIM): tasks 0..W-1 run and are reclaimed one by one; task W is committed
    (its slot still CONSUMED from task 0); scheduler A advances over it; then prepare_task runs."""
    sched: list[tuple[str, dict[str, int]]] = []
    for i in range(window):
        sched += [
            ("commit", {}),
            ("prepare", {}),
            ("write_descriptor", {}),
            ("complete", {"x": i}),
            ("consume", {"x": i}),
            ("advance_read_A", {}),
            ("advance_scan_A", {}),
            ("advance_write_A", {}),
        ]
    sched += [("commit", {}), ("advance_read_A", {}), ("advance_scan_A", {}), ("advance_write_A", {}), ("prepare", {})]
    return sched
