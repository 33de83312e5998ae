"""The proof engine: states at the C++ widths, actions as two-state relations, verification conditions.

A `System` is a transition system over named fields (bit-vectors at the C++ widths, booleans, arrays).
Each `Action` is a guard plus the fields it updates; every field it does not update is framed
explicitly (`t[f] == s[f]`), so an action can never leave a field unconstrained by accident.

Invariants may be universally quantified over ids or slots. They are discharged without quantifiers:
the goal's bound variables become fresh constants, and every quantified hypothesis is instantiated at
a finite pool of terms (the goal's constants, the terms the action touches, the system's anchors).
Dropping instances only weakens the hypotheses, so UNSAT still proves the goal; a SAT answer may be
spurious, which is why every counterexample is decoded and replayed on the executable model, and why
every non-vacuity witness is re-checked against the full (quantified) invariant on its concrete state.

Results: Proved (UNSAT), Counterexample (SAT), Unknown (resource limit: `rlimit`, never wall-clock).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import z3  # type: ignore[import-untyped]

Expr = Any  # a z3 expression (z3 ships no type information)
Vars = dict[str, Expr]

DEFAULT_RLIMIT = 40_000_000
"""Resource limit of one check (z3 `rlimit` units, deterministic; about 10-20 s of one core at worst)."""

DEFAULT_SEED = 0


# ------------------------------------------------------------------------------------------- sorts


@dataclass(frozen=True)
class BV:
    width: int
    signed: bool = False  # how values are decoded and compared in the C++ (int32 vs uint32)


@dataclass(frozen=True)
class Bool:
    pass


@dataclass(frozen=True)
class UInt:
    """An unsigned C++ integer of `width` bits, encoded as a mathematical integer. Only for fields whose
    every operation is proved to stay inside [0, 2^width) by a dedicated check (so the integer model
    and the C++ modular one agree); linear integer arithmetic is much cheaper than wide bit-blasting."""

    width: int


@dataclass(frozen=True)
class Arr:
    index: BV
    value: BV | Bool | UInt


Sort = BV | Bool | UInt | Arr


def z3_sort(sort: Sort) -> Any:
    if isinstance(sort, BV):
        return z3.BitVecSort(sort.width)
    if isinstance(sort, Bool):
        return z3.BoolSort()
    if isinstance(sort, UInt):
        return z3.IntSort()
    return z3.ArraySort(z3_sort(sort.index), z3_sort(sort.value))


def fresh(name: str, sort: Sort) -> Expr:
    return z3.Const(name, z3_sort(sort))


def make_vars(decls: Sequence[tuple[str, Sort]], suffix: str) -> Vars:
    return {name: fresh(f"{name}{suffix}", sort) for name, sort in decls}


# ------------------------------------------------------------------------------------------- systems


@dataclass(frozen=True)
class Action:
    """One atomic step: `effect(s, p, c) -> (guard, updates)`; fields not in `updates` are framed."""

    name: str
    effect: Callable[[Vars, Vars, Vars], tuple[Expr, dict[str, Expr]]]
    params: tuple[tuple[str, Sort], ...] = ()
    terms: Callable[[Vars, Vars, Vars], list[Expr]] = lambda s, p, c: []
    text: str = ""


Cases = tuple[tuple[str, Callable[..., Expr]], ...]
"""A case split of a step check: (label, condition(s, p, c, *xs)) pairs over the pre-state, the action's
parameters, the constants and the goal's bound variables. Each case is its own check (the goal under
that condition); one more check proves that the conditions cover every state (their disjunction is
valid), so the cases together prove exactly the unsplit check. Smaller checks, steadier solver times."""


def order_cases(name: str, term: Callable[[Vars, Vars, Vars], Expr], var: int = 0) -> Cases:
    """x < term, x == term, x > term for the goal's bound variable number `var` (signed bit-vectors)."""
    return (
        (f"{name} below", lambda s, p, c, *xs: xs[var] < term(s, p, c)),
        (f"{name} at", lambda s, p, c, *xs: xs[var] == term(s, p, c)),
        (f"{name} above", lambda s, p, c, *xs: xs[var] > term(s, p, c)),
    )


@dataclass(frozen=True)
class Invariant:
    """`body(s, c, *xs)` holds for every value of the bound variables `xs` (sorts `bound`).

    `role`: "inductive" (assumed by every step check, proved by initiation and consecution),
    "consequence" (proved by implication from the inductive ones, e.g. slot uniqueness from the window
    bound), or "claim" (proved by initiation and consecution, assuming the inductive ones and every
    claim, but never assumed by the inductive checks: a claim that fails cannot contaminate them; a
    claim whose only failing step is a known finding is shown to be inductive except through it)."""

    name: str
    spec: str
    text: str
    body: Callable[..., Expr]
    bound: tuple[Sort, ...] = ()
    role: str = "inductive"
    premises: tuple[str, ...] | None = None
    """The invariants (and arithmetic lemmas) its consecution or implication checks assume besides
    itself; None: all of them.
    Naming fewer only strengthens what a check proves (UNSAT from a subset of the hypotheses is UNSAT
    from all), and keeps the solver off facts the goal does not need (faster, steadier across seeds)."""
    cases: tuple[tuple[str, Cases], ...] = ()
    """(action name, case split) pairs: that action's consecution check runs once per case (see `Cases`)."""

    @property
    def inductive(self) -> bool:
        return self.role == "inductive"

    def assumes(self) -> tuple[str, ...] | None:
        """The invariant names a check of this goal assumes (itself included), None for all."""
        return None if self.premises is None else (*self.premises, self.name)


@dataclass(frozen=True)
class StepProperty:
    """`body(s, t, p, c, *xs)`: a property of every step of the listed actions (None = every action)."""

    name: str
    spec: str
    text: str
    body: Callable[..., Expr]
    actions: tuple[str, ...] | None = None
    bound: tuple[Sort, ...] = ()
    premises: tuple[str, ...] | None = None  # as Invariant.premises

    def assumes(self) -> tuple[str, ...] | None:
        return self.premises


@dataclass(frozen=True)
class Lemma:
    """A pure arithmetic fact `body(c, *xs)` over its bound variables (no state, no arrays), proved
    valid by its own check (under the constants' facts only), then assumed in the consecution checks of
    the listed actions at the argument tuples `uses(s, p, c, pool)` returns. It only restates
    arithmetic, never an invariant, so it cannot make a goal trivial; it splits one hard bit-vector
    check into a small arithmetic one and an array one that the solver decides quickly and stably."""

    name: str
    text: str
    body: Callable[..., Expr]
    bound: tuple[Sort, ...]
    uses: Callable[[Vars, Vars, Vars, Sequence[Expr]], list[tuple[Expr, ...]]]
    actions: tuple[str, ...]
    consequences: tuple[str, ...] = ()
    """Consequences whose implication checks also assume it; there `p` holds the goal's bound
    variables, named x_0, x_1, ..."""


@dataclass(frozen=True)
class System:
    name: str
    title: str
    fields: tuple[tuple[str, Sort], ...]
    consts: tuple[tuple[str, Sort], ...]
    const_facts: Callable[[Vars], list[Expr]]
    init: Callable[[Vars, Vars], Expr]
    actions: tuple[Action, ...]
    invariants: tuple[Invariant, ...]
    step_properties: tuple[StepProperty, ...] = ()
    assumptions: tuple[str, ...] = ()  # printed with every result of this system
    pool: Callable[[Vars, Vars], list[Expr]] = lambda s, c: []
    mutant: str | None = None
    small: Callable[[Vars, Vars], list[Expr]] = lambda s, c: []  # preferred small counterexamples
    tiny: Callable[[Vars, Vars], list[Expr]] | None = None  # witness search bounds (default: small)
    # terms at which a witness search instantiates the invariants up front (the ids and slots the tiny
    # bounds allow), so that its first candidate is usually valid (fewer, seed-independent refinements)
    witness_terms: Callable[[Vars, Vars], list[Expr]] = lambda s, c: []
    # concrete schedules that reach a state enabling an action, for actions no short path enables
    witness_schedules: dict[str, tuple[dict[str, int], list[tuple[str, dict[str, int]]]]] = field(default_factory=dict)
    lemmas: tuple[Lemma, ...] = ()

    def action(self, name: str) -> Action:
        for a in self.actions:
            if a.name == name:
                return a
        raise KeyError(name)

    def invariant(self, name: str) -> Invariant:
        for inv in self.invariants:
            if inv.name == name:
                return inv
        raise KeyError(name)

    def relation(self, a: Action, s: Vars, t: Vars, p: Vars, c: Vars) -> Expr:
        guard, updates = a.effect(s, p, c)
        unknown = set(updates) - {n for n, _ in self.fields}
        if unknown:
            raise KeyError(f"action {a.name} updates unknown fields {sorted(unknown)}")
        parts = [guard]
        for name, _ in self.fields:
            parts.append(t[name] == (updates[name] if name in updates else s[name]))
        return z3.And(*parts)


# ------------------------------------------------------------------------------------------- queries


@dataclass
class Query:
    """What one check asserts, plus the symbols a counterexample is decoded from."""

    formulas: list[Expr]
    consts: Vars
    pre: Vars
    post: Vars | None = None
    params: Vars = field(default_factory=dict)
    bound: Vars = field(default_factory=dict)
    pool: list[Expr] = field(default_factory=list)


@dataclass
class Outcome:
    status: str  # "unsat" | "sat" | "unknown"
    seconds: float
    rlimit_used: int
    model: Any = None
    reason: str = ""


def run_query(formulas: Sequence[Expr], rlimit: int = DEFAULT_RLIMIT, seed: int = DEFAULT_SEED) -> Outcome:
    solver = z3.Solver()
    solver.set("rlimit", rlimit)
    solver.set("random_seed", seed)
    solver.add(*formulas)
    before = _rlimit_count(solver.statistics())  # z3's counter is global; the limit is relative to it
    started = time.process_time()
    answer = solver.check()
    seconds = time.process_time() - started
    used = _rlimit_count(solver.statistics()) - before
    if answer == z3.unsat:
        return Outcome("unsat", seconds, used)
    if answer == z3.sat:
        return Outcome("sat", seconds, used, solver.model())
    return Outcome("unknown", seconds, used, reason=solver.reason_unknown())


def _rlimit_count(stats: Any) -> int:
    """z3's resource counter (global to the context, so callers take differences; 0 if absent)."""
    try:
        return int(stats.get_key_value("rlimit count"))
    except z3.Z3Exception:
        return 0


def _same_sort(term: Expr, sort: Sort) -> bool:
    return bool(term.sort() == z3_sort(sort))


def _dedupe(terms: Sequence[Expr]) -> list[Expr]:
    out: list[Expr] = []
    for t in terms:
        st = z3.simplify(t)
        if not any(st.eq(u) for u in out):
            out.append(st)
    return out


def instantiate(inv: Invariant, s: Vars, c: Vars, pool: Sequence[Expr]) -> list[Expr]:
    """The invariant on state `s`, with its bound variables instantiated at every fitting pool term."""
    if not inv.bound:
        return [inv.body(s, c)]
    choices = [[t for t in pool if _same_sort(t, b)] for b in inv.bound]
    return [inv.body(s, c, *combo) for combo in itertools.product(*choices)]


def hypotheses(
    system: System,
    s: Vars,
    c: Vars,
    pool: Sequence[Expr],
    only: Sequence[str] | None = None,
    also: Invariant | None = None,
) -> list[Expr]:
    """The inductive invariants (or `only` those named) on `s`, plus `also` (a claim's own hypothesis)."""
    out: list[Expr] = []
    for inv in system.invariants:
        chosen = inv.inductive and (only is None or inv.name in only)
        if chosen or inv is also:
            out.extend(instantiate(inv, s, c, pool))
    return out


def _bound_vars(sorts: Sequence[Sort], tag: str) -> list[Expr]:
    return [fresh(f"{tag}_{i}", b) for i, b in enumerate(sorts)]


@dataclass
class Context:
    """Shared part of a group of checks (one action's consecution checks, or initiation): the base
    formulas plus the goals' skolem constants, one per (position, sort) of their bound variables."""

    query: Query
    skolems: dict[tuple[int, Sort], Expr]

    def xs(self, sorts: Sequence[Sort]) -> list[Expr]:
        return [self.skolems[(i, b)] for i, b in enumerate(sorts)]


def _skolems(bounds: Sequence[Sequence[Sort]]) -> dict[tuple[int, Sort], Expr]:
    out: dict[tuple[int, Sort], Expr] = {}
    for sorts in bounds:
        for i, b in enumerate(sorts):
            out.setdefault((i, b), fresh(f"x{i}_{_sort_tag(b)}", b))
    return out


def _sort_tag(sort: Sort) -> str:
    if isinstance(sort, BV):
        return f"bv{sort.width}"
    return "int" if isinstance(sort, UInt) else "b"


def init_context(system: System, bounds: Sequence[Sequence[Sort]]) -> Context:
    c = make_vars(system.consts, "")
    s = make_vars(system.fields, "@0")
    sk = _skolems(bounds)
    q = Query([*system.const_facts(c), system.init(s, c)], c, s, bound=_named(list(sk.values())))
    return Context(q, sk)


def step_context(
    system: System, a: Action, bounds: Sequence[Sequence[Sort]], premises: Sequence[str] | None = None
) -> Context:
    """The pre-state hypotheses (the inductive invariants, or only `premises`), lemmas and relation."""
    c = make_vars(system.consts, "")
    s, t = make_vars(system.fields, "@0"), make_vars(system.fields, "@1")
    p = make_vars(a.params, "@p")
    sk = _skolems(bounds)
    pool = step_pool(system, a, s, p, c, list(sk.values()))
    hyps = hypotheses(system, s, c, pool, only=premises)
    base = [*system.const_facts(c), *hyps, *lemma_instances(system, a, s, p, c, pool, premises)]
    base.append(system.relation(a, s, t, p, c))
    return Context(Query(base, c, s, t, p, _named(list(sk.values())), pool), sk)


def lemma_instances(
    system: System, a: Action, s: Vars, p: Vars, c: Vars, pool: Sequence[Expr], premises: Sequence[str] | None = None
) -> list[Expr]:
    """The system's arithmetic lemmas that serve `a` (and that `premises` name, when given), at the
    argument tuples each lemma asks for."""
    return [
        lem.body(c, *args)
        for lem in system.lemmas
        if a.name in lem.actions and (premises is None or lem.name in premises)
        for args in lem.uses(s, p, c, pool)
    ]


def lemma_query(system: System, lem: Lemma) -> Query:
    """Validity of an arithmetic lemma: its negation, over fresh bound variables and the constants."""
    c = make_vars(system.consts, "")
    xs = _bound_vars(lem.bound, "x")
    s = make_vars(system.fields, "@0")  # unconstrained: only so that a counterexample decodes as usual
    return Query([*system.const_facts(c), z3.Not(lem.body(c, *xs))], c, s, bound=_named(xs))


def init_goal(ctx: Context, inv: Invariant) -> list[Expr]:
    q = ctx.query
    return [z3.Not(inv.body(q.pre, q.consts, *ctx.xs(inv.bound)))]


def consecution_goal(system: System, ctx: Context, inv: Invariant) -> list[Expr]:
    q = ctx.query
    assert q.post is not None
    own: list[Expr] = []
    if not inv.inductive:  # a claim assumes every claim (itself included) on top of the inductive set
        chosen = inv.assumes()
        for other in system.invariants:
            if other.role == "claim" and (chosen is None or other.name in chosen):
                own.extend(instantiate(other, q.pre, q.consts, q.pool))
    return [*own, z3.Not(inv.body(q.post, q.consts, *ctx.xs(inv.bound)))]


def step_property_goal(ctx: Context, prop: StepProperty) -> list[Expr]:
    q = ctx.query
    assert q.post is not None
    return [z3.Not(prop.body(q.pre, q.post, q.params, q.consts, *ctx.xs(prop.bound)))]


def with_goal(ctx: Context, goal: list[Expr]) -> Query:
    q = ctx.query
    return Query([*q.formulas, *goal], q.consts, q.pre, q.post, q.params, q.bound, q.pool)


def init_query(system: System, inv: Invariant) -> Query:
    ctx = init_context(system, [inv.bound])
    return with_goal(ctx, init_goal(ctx, inv))


def _named(xs: Sequence[Expr]) -> Vars:
    return {str(x): x for x in xs}


def step_pool(system: System, a: Action, s: Vars, p: Vars, c: Vars, extra: Sequence[Expr]) -> list[Expr]:
    return _dedupe([*extra, *a.terms(s, p, c), *system.pool(s, c)])


def consecution_query(system: System, a: Action, inv: Invariant) -> Query:
    ctx = step_context(system, a, [inv.bound], inv.assumes())
    return with_goal(ctx, consecution_goal(system, ctx, inv))


def case_query(system: System, a: Action, inv: Invariant, cond: Callable[..., Expr]) -> Query:
    """The consecution check of `inv` under `a`, restricted to the states where `cond` holds."""
    ctx = step_context(system, a, [inv.bound], inv.assumes())
    return with_goal(ctx, [*consecution_goal(system, ctx, inv), case_condition(ctx, cond, inv.bound)])


def case_condition(ctx: Context, cond: Callable[..., Expr], bound: Sequence[Sort]) -> Expr:
    q = ctx.query
    return cond(q.pre, q.params, q.consts, *ctx.xs(bound))


def cover_query(system: System, a: Action, bound: Sequence[Sort], cases: Cases) -> Query:
    """Some case of the split holds in every state (under the constants' facts): UNSAT of no case."""
    c = make_vars(system.consts, "")
    s = make_vars(system.fields, "@0")
    p = make_vars(a.params, "@p")
    xs = _bound_vars(bound, "x")
    none = z3.Not(z3.Or(*[cond(s, p, c, *xs) for _, cond in cases]))
    return Query([*system.const_facts(c), none], c, s, params=p, bound=_named(xs))


def step_property_query(system: System, a: Action, prop: StepProperty) -> Query:
    ctx = step_context(system, a, [prop.bound], prop.assumes())
    return with_goal(ctx, step_property_goal(ctx, prop))


def implication_query(system: System, goal: Invariant) -> Query:
    c = make_vars(system.consts, "")
    s = make_vars(system.fields, "@0")
    xs = _bound_vars(goal.bound, "x")
    pool = _dedupe([*xs, *system.pool(s, c)])
    hyps = hypotheses(system, s, c, pool, only=goal.premises)
    named = _named(xs)
    lemmas = [lem.body(c, *args) for lem in system.lemmas if goal.name in lem.consequences for args in lem.uses(s, named, c, pool)]
    formulas = [*system.const_facts(c), *hyps, *lemmas, z3.Not(goal.body(s, c, *xs))]
    return Query(formulas, c, s, bound=_named(xs), pool=pool)


def nonvacuity_query(system: System, a: Action) -> Query:
    c = make_vars(system.consts, "")
    s, t = make_vars(system.fields, "@0"), make_vars(system.fields, "@1")
    p = make_vars(a.params, "@p")
    pool = step_pool(system, a, s, p, c, [])
    formulas = [*system.const_facts(c), *hypotheses(system, s, c, pool), system.relation(a, s, t, p, c)]
    return Query(formulas, c, s, t, p, pool=pool)


def independence_query(system: System, goal: Invariant) -> Query:
    """The other invariants together with the negated goal: SAT means no lemma restates the goal."""
    c = make_vars(system.consts, "")
    s = make_vars(system.fields, "@0")
    xs = _bound_vars(goal.bound, "x")
    pool = _dedupe([*xs, *system.pool(s, c)])
    others = [inv.name for inv in system.invariants if inv.inductive and inv.name != goal.name]
    formulas = [*system.const_facts(c), *hypotheses(system, s, c, pool, only=others), z3.Not(goal.body(s, c, *xs))]
    return Query(formulas, c, s, bound=_named(xs), pool=pool)


def finite_support(system: System, s: Vars, stores: int) -> list[Expr]:
    """Each array field of `s` equals a constant array updated at `stores` symbolic indices."""
    out: list[Expr] = []
    for name, sort in system.fields:
        if not isinstance(sort, Arr):
            continue
        term = z3.K(z3_sort(sort.index), fresh(f"{name}_default", sort.value))
        for i in range(stores):
            term = z3.Store(term, fresh(f"{name}_i{i}", sort.index), fresh(f"{name}_v{i}", sort.value))
        out.append(s[name] == term)
    return out


def support_indices(system: System, stores: int) -> list[Expr]:
    """The symbolic store indices `finite_support` uses (where a finite-support array differs from its
    default), so that invariants can be instantiated where the arrays hold their interesting values."""
    return [
        fresh(f"{name}_i{i}", sort.index) for name, sort in system.fields if isinstance(sort, Arr) for i in range(stores)
    ]


def violation_on_model(
    inv: Invariant, q: Query, model: Any, which: str = "pre", rlimit: int = DEFAULT_RLIMIT
) -> list[Expr] | None:
    """None if the (possibly quantified) invariant holds on the concrete state the model assigns,
    otherwise values of its bound variables at which it fails (or [] when it has none).

    The state's symbols are replaced by their model values (arrays by their model functions), so the
    remaining query is over the bound variables only, and UNSAT of the negation is a real proof."""
    state = q.pre if which == "pre" else q.post
    assert state is not None
    xs = _bound_vars(inv.bound, "y")
    concrete_s = {k: model.eval(v, model_completion=True) for k, v in state.items()}
    concrete_c = {k: model.eval(v, model_completion=True) for k, v in q.consts.items()}
    outcome = run_query([z3.Not(inv.body(concrete_s, concrete_c, *xs))], rlimit)
    if outcome.status == "unsat":
        return None
    if outcome.status == "unknown":
        return []
    return [outcome.model.eval(x, model_completion=True) for x in xs]


def bmc_witness(
    system: System, action: Action, max_depth: int, rlimit: int = DEFAULT_RLIMIT, seed: int = DEFAULT_SEED
) -> tuple[Outcome, list[tuple[str | None, Vars, Vars]], Vars]:
    """A path from an initial state through at most `max_depth` steps of any action that ends with a
    step of `action` (bounded model checking). Returns the outcome and the path as
    (action name, its parameters, the state before it) rows, plus the constants."""
    c = make_vars(system.consts, "")
    states = [make_vars(system.fields, "@0")]
    solver = z3.Solver()
    solver.set("rlimit", rlimit)
    solver.set("random_seed", seed)
    solver.add(*system.const_facts(c), *system.small(states[0], c), system.init(states[0], c))
    choices: list[tuple[Expr, list[tuple[Action, Vars]]]] = []
    seconds = 0.0
    before = _rlimit_count(solver.statistics())
    used = 0
    for depth in range(max_depth + 1):
        s = states[-1]
        t = make_vars(system.fields, f"@{depth + 1}")
        p = make_vars(action.params, f"@p{depth}")
        solver.push()
        solver.add(system.relation(action, s, t, p, c))
        started = time.process_time()
        answer = solver.check()
        seconds += time.process_time() - started
        used = _rlimit_count(solver.statistics()) - before
        if answer == z3.sat:
            model = solver.model()
            path = _decode_path(model, choices, states)
            path.append((action.name, {k: model.eval(v, model_completion=True) for k, v in p.items()}, s))
            return Outcome("sat", seconds, used, model), path, c
        solver.pop()
        if answer == z3.unknown:
            return Outcome("unknown", seconds, used, reason=solver.reason_unknown()), [], c
        # no witness this deep: take one more step of any action
        which = z3.Int(f"step{depth}")
        options: list[tuple[Action, Vars]] = []
        disj = []
        for i, a in enumerate(system.actions):
            pa = make_vars(a.params, f"@q{depth}_{a.name}")
            options.append((a, pa))
            disj.append(z3.And(which == i, system.relation(a, s, t, pa, c)))
        solver.add(z3.Or(*disj))
        choices.append((which, options))
        states.append(t)
    return Outcome("unsat", seconds, used), [], c


def _decode_path(
    model: Any, choices: list[tuple[Expr, list[tuple[Action, Vars]]]], states: list[Vars]
) -> list[tuple[str | None, Vars, Vars]]:
    path: list[tuple[str | None, Vars, Vars]] = []
    for (which, options), s in zip(choices, states, strict=False):
        a, pa = options[model.eval(which, model_completion=True).as_long()]
        path.append((a.name, {k: model.eval(v, model_completion=True) for k, v in pa.items()}, s))
    return path


def run_schedule(
    system: System, consts: dict[str, int], schedule: Sequence[tuple[str, dict[str, int]]], rlimit: int = DEFAULT_RLIMIT
) -> list[Vars]:
    """Execute a concrete schedule from the initial state: each step's successor is computed by the
    solver from the action's relation with the previous concrete state fixed. Returns the concrete
    states (values as z3 terms). Raises ValueError naming the first step that is not enabled."""
    c = make_vars(system.consts, "")
    fix_c = [c[k] == v for k, v in consts.items()]
    s0 = make_vars(system.fields, "@0")
    out = run_query([*system.const_facts(c), *fix_c, system.init(s0, c)], rlimit)
    if out.status != "sat":
        raise ValueError("no initial state for these constants")
    state = {k: out.model.eval(v, model_completion=True) for k, v in s0.items()}
    cvals = {k: out.model.eval(v, model_completion=True) for k, v in c.items()}
    states = [state]
    for i, (name, params) in enumerate(schedule, 1):
        a = system.action(name)
        s, t = make_vars(system.fields, f"@s{i}"), make_vars(system.fields, f"@t{i}")
        p = make_vars(a.params, f"@p{i}")
        fix = [s[k] == v for k, v in state.items()] + [c[k] == v for k, v in cvals.items()]
        fix += [p[k] == v for k, v in params.items()]
        out = run_query([*fix, system.relation(a, s, t, p, c)], rlimit)
        if out.status != "sat":
            raise ValueError(f"step {i} ({name} {params}) is not enabled")
        state = {k: out.model.eval(v, model_completion=True) for k, v in t.items()}
        states.append(state)
    return states


def holds_on_state(system: System, inv: Invariant, state: Vars, consts: dict[str, int], rlimit: int = DEFAULT_RLIMIT) -> bool:
    """Does the (possibly quantified) invariant hold on a concrete state (values as z3 terms)?"""
    c = {k: z3.BitVecVal(v, z3_sort(sort).size()) if isinstance(sort, BV) else z3.IntVal(v) for (k, sort), v in zip(system.consts, [consts[k] for k, _ in system.consts], strict=True)}
    xs = _bound_vars(inv.bound, "y")
    return run_query([z3.Not(inv.body(state, c, *xs))], rlimit).status == "unsat"


# ------------------------------------------------------------------------------------------- decoding


def value_of(model: Any, expr: Expr, sort_hint: Sort | None = None) -> int | bool:
    v = model.eval(expr, model_completion=True)
    if z3.is_true(v):
        return True
    if z3.is_false(v):
        return False
    n = int(v.as_long())
    if isinstance(sort_hint, UInt):
        return n
    if isinstance(sort_hint, BV) and sort_hint.signed and n >= 1 << (sort_hint.width - 1):
        n -= 1 << sort_hint.width
    return n


def signed_value(n: int, width: int) -> int:
    return n - (1 << width) if n >= 1 << (width - 1) else n


@dataclass
class Counterexample:
    """A decoded SAT answer: constants, pre/post state fields, action parameters, bound variables.

    Scalar fields decode to ints (signed where the C++ field is signed) or bools; array fields decode to
    {index: value} over the indices `array_indices` names, plus the model itself for further reads."""

    system: str
    vc: str
    action: str | None
    consts: dict[str, int | bool]
    pre: dict[str, Any]
    post: dict[str, Any] | None
    params: dict[str, int | bool]
    bound: dict[str, int | bool]
    model: Any = None

    def to_json(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "vc": self.vc,
            "action": self.action,
            "consts": self.consts,
            "pre": _jsonable(self.pre),
            "post": _jsonable(self.post) if self.post is not None else None,
            "params": self.params,
            "bound": self.bound,
        }


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        out[k] = {str(i): x for i, x in sorted(v.items())} if isinstance(v, dict) else v
    return out


def decode(
    system: System,
    q: Query,
    model: Any,
    vc: str,
    action: str | None,
    array_indices: Callable[[dict[str, int | bool], dict[str, Any]], dict[str, list[int]]] | None = None,
) -> Counterexample:
    sorts = dict(system.fields)
    csorts = dict(system.consts)
    consts = {k: value_of(model, v, csorts[k]) for k, v in q.consts.items()}

    def scalars(state: Vars) -> dict[str, Any]:
        return {k: value_of(model, v, sorts[k]) for k, v in state.items() if not isinstance(sorts[k], Arr)}

    pre = scalars(q.pre)
    post = scalars(q.post) if q.post is not None else None
    wanted = array_indices(consts, pre) if array_indices else {}
    pool_vals = sorted({int(model.eval(t, model_completion=True).as_long()) for t in q.pool if z3.is_bv(t)})
    pool_vals = [signed_value(v, 32) if v >= 1 << 31 else v for v in pool_vals]
    for name, sort in system.fields:
        if not isinstance(sort, Arr):
            continue
        idx = sorted(set(wanted.get(name, [])) | {i for i in pool_vals if -(1 << 31) <= i < 1 << sort.index.width})
        for state, out in ((q.pre, pre), (q.post, post)):
            if state is None or out is None:
                continue
            arr = state[name]
            out[name] = {i: value_of(model, arr[z3.BitVecVal(i, sort.index.width)], sort.value) for i in idx}
    params_sorts = {}
    if action is not None:
        params_sorts = dict(system.action(action).params)
    params = {k: value_of(model, v, params_sorts.get(k)) for k, v in q.params.items()}
    bound = {k: value_of(model, v) for k, v in q.bound.items()}
    return Counterexample(system.name, vc, action, consts, pre, post, params, bound, model)
