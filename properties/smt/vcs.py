"""Verification conditions of a system, their expected outcomes, and how one is run into a table row.

For every inductive invariant: initiation, and consecution for each action separately. For every
claim: the same, assuming the inductive invariants and itself. For every consequence: implication.
For every step property: one check per action it covers. Sanity checks guard against proofs that
cannot fail: each action must be satisfiable together with the invariant (its witness re-checked on
the concrete state against the full quantified invariant), and each inductive invariant must not
follow from the other ones (no lemma restates its goal).

A row's `expect` is "proved" unless the suite says otherwise (a registered finding, a refuted spec
claim, a mutant); `ok` says whether the result is what the suite expects. Unknown is never ok.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from properties.smt import core
from properties.smt.core import Context, Counterexample, Expr, Query, Sort, System

PROVED, COUNTEREXAMPLE, UNKNOWN, WITNESSED, VACUOUS = "Proved", "Counterexample", "Unknown", "Witnessed", "Vacuous"


@dataclass(frozen=True)
class Expectation:
    result: str  # PROVED, COUNTEREXAMPLE or WITNESSED
    finding: str | None = None  # registered finding id, when a counterexample is a finding
    note: str = ""


@dataclass(frozen=True)
class VC:
    system: System
    goal: str  # invariant / property name
    spec: str
    method: str
    kind: str  # init | step | claim-init | claim-step | implies | lemma | cover | step-property | nonvacuous | independent
    action: str | None
    build: Callable[[], Query]
    expect: Expectation = Expectation(PROVED)
    bound: tuple[Sort, ...] = ()
    make_goal: Callable[[Context], list[Expr]] | None = None  # for checks that share a context
    premises: tuple[str, ...] | None = None  # the hypotheses a step check assumes (None: all)

    @property
    def group(self) -> tuple[str, str | None, tuple[str, ...] | None] | None:
        if self.make_goal is None:
            return None
        return ("init", None, None) if self.kind == "init" else ("step", self.action, self.premises)

    @property
    def label(self) -> str:
        return f"{self.system.name}: {self.goal}"


@dataclass
class Row:
    section: str
    invariant: str
    spec: str
    method: str
    result: str
    seconds: float
    rlimit: int
    expect: Expectation
    assumptions: tuple[str, ...] = ()
    detail: str = ""
    counterexample: Counterexample | None = None
    replay: str = ""
    extra: dict[str, object] = field(default_factory=dict)
    system: str = ""
    replay_failed: bool = False  # a counterexample that the executable model does not reproduce

    @property
    def ok(self) -> bool:
        return self.result == self.expect.result and self.result != UNKNOWN and not self.replay_failed


def enumerate_vcs(system: System, overrides: dict[tuple[str, str | None], Expectation] | None = None) -> list[VC]:
    over = overrides or {}
    out: list[VC] = []

    def add(
        goal: str,
        spec: str,
        method: str,
        kind: str,
        action: str | None,
        build: Callable[[], Query],
        bound: tuple[Sort, ...] = (),
        make_goal: Callable[[Context], list[Expr]] | None = None,
        premises: tuple[str, ...] | None = None,
    ) -> None:
        expect = Expectation(PROVED) if kind == "cover" else over.get((goal, action), Expectation(PROVED))
        out.append(VC(system, goal, spec, method, kind, action, build, expect, bound, make_goal, premises))

    for inv in system.invariants:
        if inv.role == "consequence":
            add(inv.name, inv.spec, "implication", "implies", None, partial(core.implication_query, system, inv))
            continue
        add(
            inv.name,
            inv.spec,
            "induction: init",
            "init",
            None,
            partial(core.init_query, system, inv),
            inv.bound,
            partial(_init_goal, inv),
        )
        splits = dict(inv.cases)
        for a in system.actions:
            if a.name in splits:
                _add_cases(add, system, inv, a, splits[a.name])
                continue
            add(
                inv.name,
                inv.spec,
                f"induction: {a.name}",
                "step",
                a.name,
                partial(core.consecution_query, system, a, inv),
                inv.bound,
                partial(_consecution_goal, system, inv),
                inv.assumes(),
            )
    for lem in system.lemmas:
        add(lem.name, "lemma", "arithmetic lemma", "lemma", None, partial(core.lemma_query, system, lem))
    for prop in system.step_properties:
        for a in system.actions:
            if prop.actions is not None and a.name not in prop.actions:
                continue
            add(
                prop.name,
                prop.spec,
                f"step property: {a.name}",
                "step",
                a.name,
                partial(core.step_property_query, system, a, prop),
                prop.bound,
                partial(_step_property_goal, prop),
                prop.assumes(),
            )
    return out


def _add_cases(add: Callable[..., None], system: System, inv: core.Invariant, a: core.Action, cases: core.Cases) -> None:
    """One check per case of the split (sharing the action's context), and one that the cases cover."""
    for label, cond in cases:
        add(
            inv.name,
            inv.spec,
            f"induction: {a.name} [case {label}]",
            "step",
            a.name,
            partial(core.case_query, system, a, inv, cond),
            inv.bound,
            partial(_case_goal, system, inv, cond),
            inv.assumes(),
        )
    add(
        inv.name,
        "case split",
        f"induction: {a.name} [the {len(cases)} cases cover every state]",
        "cover",
        a.name,
        partial(core.cover_query, system, a, inv.bound, cases),
    )


def _case_goal(system: System, inv: core.Invariant, cond: Callable[..., Expr], ctx: Context) -> list[Expr]:
    return [*core.consecution_goal(system, ctx, inv), core.case_condition(ctx, cond, inv.bound)]


def _init_goal(inv: core.Invariant, ctx: Context) -> list[Expr]:
    return core.init_goal(ctx, inv)


def _consecution_goal(system: System, inv: core.Invariant, ctx: Context) -> list[Expr]:
    return core.consecution_goal(system, ctx, inv)


def _step_property_goal(prop: core.StepProperty, ctx: Context) -> list[Expr]:
    return core.step_property_goal(ctx, prop)


def run_vcs(
    vcs: list[VC], section: str = "proof", rlimit: int = core.DEFAULT_RLIMIT, seed: int = core.DEFAULT_SEED
) -> list[Row]:
    """Run the checks in order. Checks of one group (initiation, or one action's steps) share the
    built context (the same hypotheses and relation); each (action, invariant) pair is still its own
    check, in a fresh solver (z3's incremental mode is slower here), with its own result and time."""
    rows: dict[int, Row] = {}
    groups: dict[tuple[object, ...], list[int]] = {}
    for i, vc in enumerate(vcs):
        key = vc.group
        if key is None:
            rows[i] = run_vc(vc, section, rlimit, seed)
        else:
            groups.setdefault((id(vc.system), *key), []).append(i)
    for members in groups.values():
        first = vcs[members[0]]
        bounds = [vcs[i].bound for i in members]
        if first.kind == "init":
            ctx = core.init_context(first.system, bounds)
        else:
            assert first.action is not None
            ctx = core.step_context(first.system, first.system.action(first.action), bounds, first.premises)
        for i in members:
            vc = vcs[i]
            assert vc.make_goal is not None
            q = core.with_goal(ctx, vc.make_goal(ctx))
            rows[i] = row_from(vc, q, core.run_query(q.formulas, rlimit, seed), section, rlimit, seed)
    return [rows[i] for i in range(len(vcs))]


def row_from(vc: VC, q: Query, outcome: core.Outcome, section: str, rlimit: int, seed: int) -> Row:
    row = Row(section, vc.label, vc.spec, vc.method, UNKNOWN, outcome.seconds, outcome.rlimit_used, vc.expect, vc.system.assumptions)
    row.system = vc.system.name
    if outcome.status == "unsat":
        row.result = PROVED
    elif outcome.status == "sat":
        row.result = COUNTEREXAMPLE
        model = _smaller(vc, q, rlimit, seed) or outcome.model
        row.counterexample = core.decode(vc.system, q, model, vc.label, vc.action)
    else:
        row.detail = outcome.reason
    return row


def sanity_vcs(system: System) -> list[VC]:
    out: list[VC] = []
    for a in system.actions:
        out.append(
            VC(
                system,
                f"{a.name} is enabled under the invariant",
                "non-vacuity",
                "sanity: satisfiable step",
                "nonvacuous",
                a.name,
                partial(core.nonvacuity_query, system, a),
                Expectation(WITNESSED),
            )
        )
    for inv in system.invariants:
        if not inv.inductive:
            continue
        out.append(
            VC(
                system,
                f"{inv.name} is not implied by the other lemmas",
                "non-restatement",
                "sanity: independent lemma",
                "independent",
                None,
                partial(core.independence_query, system, inv),
                Expectation(WITNESSED),
            )
        )
    return out


WITNESS_REFINEMENTS = 30
"""How often a witness search may add the instance its last candidate violated before giving up."""

NONVACUITY_DEPTH = 8
"""Non-vacuity witnesses are reachable: a path from an initial state of at most this many steps that
ends with the action (so they satisfy every invariant without further checking)."""

WITNESS_STORES = 6
"""A witness's arrays are a default plus this many stored entries, so that checking the quantified
invariants on it is a finite case analysis and the lazy instantiation converges."""


def _find_witness(vc: VC, q: Query, rlimit: int, seed: int) -> tuple[core.Outcome, str]:
    """A SAT model whose concrete pre-state satisfies the full (quantified) invariants the check needs
    (and, for independence, violates the goal). Candidates that violate an invariant at some bound
    value get that instance added to the query, and the search goes on (lazy instantiation)."""
    system = vc.system
    goal_name = vc.goal.split(" is not implied")[0]
    bounds = system.tiny or system.small
    formulas = [*q.formulas, *bounds(q.pre, q.consts), *core.finite_support(system, q.pre, WITNESS_STORES)]
    # Up-front instances at the arrays' store indices and the system's small ids: the candidate then
    # rarely violates an invariant, so the number of refinements (and the time) barely depends on the
    # seed. They are instances of invariants the witness must satisfy anyway (never of an independence
    # goal), and the candidate is still checked against the full quantified invariants below.
    eager = core._dedupe(system.witness_terms(q.pre, q.consts))
    assumed = [inv.name for inv in system.invariants if inv.inductive and not (vc.kind == "independent" and inv.name == goal_name)]
    formulas += core.hypotheses(system, q.pre, q.consts, eager, only=assumed)
    total = core.Outcome("sat", 0.0, 0)
    for _ in range(WITNESS_REFINEMENTS):
        outcome = core.run_query(formulas, rlimit, seed)
        total.seconds += outcome.seconds
        total.rlimit_used += outcome.rlimit_used
        if outcome.status != "sat":
            total.status, total.reason = outcome.status, outcome.reason
            return total, ""
        refined = False
        for inv in system.invariants:
            if not inv.inductive:
                continue
            bad = core.violation_on_model(inv, q, outcome.model, "pre", rlimit)
            if vc.kind == "independent" and inv.name == goal_name:
                if bad is None:
                    return total, f"the candidate satisfies {inv.name}: no independence shown"
                continue
            if bad is not None:
                if not bad:
                    return total, f"cannot decide {inv.name} on the candidate"
                formulas.append(inv.body(q.pre, q.consts, *bad))
                refined = True
        if not refined:
            total.model = outcome.model
            return total, ""
    return total, f"no validated witness after {WITNESS_REFINEMENTS} refinements"


def run_vc(vc: VC, section: str = "proof", rlimit: int = core.DEFAULT_RLIMIT, seed: int = core.DEFAULT_SEED) -> Row:
    if vc.kind not in ("nonvacuous", "independent"):
        q = vc.build()
        return row_from(vc, q, core.run_query(q.formulas, rlimit, seed), section, rlimit, seed)
    detail = ""
    if vc.kind == "nonvacuous" and vc.action in vc.system.witness_schedules:
        consts, schedule = vc.system.witness_schedules[vc.action]
        started = time.process_time()
        try:
            core.run_schedule(vc.system, consts, [*schedule, (vc.action, {})])
            outcome = core.Outcome("sat", time.process_time() - started, 0)
            detail = f"reachable witness: a concrete schedule of {len(schedule)} steps, then {vc.action}"
        except ValueError as e:
            outcome = core.Outcome("unknown", time.process_time() - started, 0)
            detail = f"witness schedule failed: {e}"
    elif vc.kind == "nonvacuous":
        assert vc.action is not None
        outcome, path, _ = core.bmc_witness(vc.system, vc.system.action(vc.action), NONVACUITY_DEPTH, rlimit, seed)
        if outcome.status == "sat":
            detail = "reachable witness: " + " -> ".join(str(name) for name, _, _ in path)
        elif outcome.status == "unsat":
            # Not reachable that soon (e.g. the 64-task reclaim throttle): a state that satisfies the
            # full invariant (checked on the concrete candidate) and enables the action will do.
            outcome, problem = _find_witness(vc, vc.build(), rlimit, seed)
            detail = f"no path of at most {NONVACUITY_DEPTH} steps; invariant-satisfying witness"
            if problem:
                outcome.status, detail = "unknown", problem
    else:
        outcome, problem = _find_witness(vc, vc.build(), rlimit, seed)
        if problem:
            outcome.status, detail = "unknown", problem
    row = Row(section, vc.label, vc.spec, vc.method, UNKNOWN, outcome.seconds, outcome.rlimit_used, vc.expect, vc.system.assumptions)
    row.system = vc.system.name
    row.detail = detail or outcome.reason
    if outcome.status == "sat":
        row.result = WITNESSED
    elif outcome.status == "unsat":
        row.result = VACUOUS
    return row


def _smaller(vc: VC, q: Query, rlimit: int, seed: int) -> object | None:
    """The same query under the system's 'small values' constraints (replayable), if still SAT."""
    extra = vc.system.small(q.pre, q.consts)
    if q.post is not None:
        extra = extra + vc.system.small(q.post, q.consts)
    if not extra:
        return None
    outcome = core.run_query([*q.formulas, *extra], rlimit, seed)
    return outcome.model if outcome.status == "sat" else None
