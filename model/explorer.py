"""Exhaustive breadth-first explorer over any `Model`.

BFS makes every counterexample a shortest one. Each reached state is checked against the ALWAYS and
SOMETIMES properties when it is first discovered; states with no enabled action are checked for deadlock
when they are expanded; EVENTUALLY properties are checked after the search, under weak fairness, on the
explored graph (terminal states and fair strongly connected components where the property never holds).

Storage: the states are kept in discovery order in one list that doubles as the BFS queue; a dict maps
each state object (exact, no fingerprint collisions) to its position, and two parallel arrays hold the
parent position (a compact `array`) and the action that discovered it. Integer positions keep the optional edge lists (only
built when there is an EVENTUALLY property) compact and make the SCC pass cheap.

Reductions (`explore(..., reduction=...)`, default "none"; the result names the one used). Both are exact
for everything the explorer checks: ALWAYS and SOMETIMES properties, deadlocks, and EVENTUALLY properties
under weak fairness. Each rests on a hook the model supplies, with the model's own soundness argument;
`check_reduction_conditions` verifies a hook's obligations on every state of an unreduced exploration.

* "canonical" (state compression): the model's `canonicalize(state)` clears fields no enabled action,
  no future transition and no property can read (dead or provably unconstraining bookkeeping). The
  explorer stores `canonicalize(s)` for every state it reaches. Obligations, for every reachable s and
  c = canonicalize(s): canonicalize(c) == c; actions(s) == actions(c); is_final and every property agree
  on s and c; and canonicalize(next_state(s, a)) == canonicalize(next_state(c, a)) for every enabled a.
  Then canonicalize is a bisimulation onto its image that preserves every property: the explored
  graph is the exact quotient, with the same verdicts, witnesses, deadlocks, fair cycles and shortest
  depths, and every reported action sequence replays on the real model.
* "ample" (partial-order reduction with singleton ample sets): the model's `safe_actions(state,
  enabled)` lists enabled actions each of which (i) commutes with every other action enabled then or
  later, until it is taken, and stays safe meanwhile; (ii) can be disabled by nothing except a "sink"
  (an action into a state with no enabled action, e.g. a fatal latch) that stays enabled after it and
  whose end state it leaves unchanged for every property and `is_final`; (iii) changes no property's
  value (invisible). The explorer then expands only the first safe action of a state. C0 (non-empty)
  holds by construction, C1 (independence) and C2 (invisibility) by (i)-(iii), and C3 (cycle proviso)
  is enforced here: a state whose ample successor is already stored at a depth <= its own is expanded
  in full, so every cycle of the reduced graph has a fully expanded state (on a cycle, the state
  expanded last found its successor on the cycle already stored, no deeper than itself). With C0-C3
  the reduced graph keeps every reachable violation of an ALWAYS property, every reachable SOMETIMES
  witness and every deadlock (Peled 1994; Clarke, Grumberg & Peled, "Model Checking", ch. 10: a path
  u.a.v of the full graph becomes a.u.v, a path u that never takes a becomes a.u, and by invisibility
  the states of the new path agree with the old ones on every property); a path that ends in a sink
  before a is taken becomes a.u.sink, whose end state agrees with the old one on every property and
  on `is_final`. Reduced paths are paths of the model, so counterexamples replay; they are shortest
  within the reduced graph only. EVENTUALLY properties under weak fairness: the reduction keeps an
  infinite path whenever the full graph has one (it is a.u... as above), so an acyclic reduced graph
  means an acyclic full graph, where every maximal run is finite and fairness is vacuous; a run that
  never satisfies the property and ends in a terminal state maps, by the rewriting above, to a reduced
  run that never satisfies it and ends in a terminal state. The explorer therefore decides EVENTUALLY
  properties under "ample" only on an acyclic reduced graph, and raises a `ModelError` otherwise.
* "canonical+ample": the ample reduction of the canonical quotient. One more obligation makes it sound:
  a state and its canonical form have the same safe actions; then every obligation of a safe action
  carries over to the quotient (its successors are the canonical forms of the real successors).
"""

from __future__ import annotations

import gc
import random
import sys
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, NamedTuple

from model.errors import ModelError
from model.protocol import A, Model, Property, PropertyKind, S

PROGRESS_EVERY = 50_000
"""The progress callback is called at most once per this many expanded states."""

NO_STATE = -1
"""Edge target of a successor that was not stored because a bound cut it off (and parent of a root)."""

ViolationKind = Literal["always", "eventually", "deadlock"]
Status = Literal["complete", "bounded"]

REDUCTIONS: tuple[str, ...] = ("none", "canonical", "ample", "canonical+ample")
"""The accepted values of `explore(..., reduction=...)`; see the module docstring."""


class Step(NamedTuple, Generic[S, A]):
    """One row of a path: its position from 0, the action that led here (None for an initial state), the state."""

    number: int
    action: A | None
    state: S


@dataclass(frozen=True)
class Violation(Generic[S, A]):
    """A property that fails, with a shortest path to the failure.

    For an EVENTUALLY violation on a cycle, `cycle_start` is the index in `path` where the cycle begins:
    taking `loop_action` from the last step's state leads back to `path[cycle_start].state`.
    """

    property_name: str
    kind: ViolationKind
    spec: str
    path: tuple[Step[S, A], ...]
    cycle_start: int | None = None
    loop_action: A | None = None

    @property
    def depth(self) -> int:
        """The number of actions on the path (the cycle counts for a lasso)."""
        return len(self.path) - 1


@dataclass(frozen=True)
class ExploreResult(Generic[S, A]):
    """What the search reached and found, and what it did not do (`status`, `bounds`)."""

    status: Status
    bounds: dict[str, int]
    states: int
    transitions: int
    max_depth_reached: int
    violations: tuple[Violation[S, A], ...]
    witnessed: dict[str, int]
    unwitnessed: tuple[str, ...]
    seconds: float
    stopped_at_violation: bool = False
    witness_paths: dict[str, tuple[Step[S, A], ...]] = field(default_factory=dict)
    reduction: str = "none"
    # "ample": states expanded through one safe action; "proviso": states expanded in full because their
    # safe successor was already stored no deeper than themselves (the cycle proviso C3).
    reduction_stats: dict[str, int] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def bounds_text(self) -> str:
        """`complete`, or `bounded(...)` naming each limit that cut the search."""
        if self.status == "complete":
            return "complete"
        parts = [f"{name}={limit}" for name, limit in self.bounds.items()]
        if self.stopped_at_violation:
            parts.append("stop=first-violation")
        return f"bounded({', '.join(parts)})"

    def verdict(self) -> str:
        """One short deterministic line; a bounded pass never claims more than the bounds."""
        if self.violations:
            first = self.violations[0]
            spec = f", {first.spec}" if first.spec else ""
            line = f"violation: {first.property_name} ({first.kind}{spec}), {first.depth}-step counterexample"
            if len(self.violations) > 1:
                line += f" (+{len(self.violations) - 1} more)"
            return line
        if self.status == "complete":
            line = f"complete: no violation ({self.states} states)"
            if self.unwitnessed:
                line += f"; never witnessed: {', '.join(self.unwitnessed)}"
            return line
        limits = ", ".join(f"{name}={limit}" for name, limit in self.bounds.items())
        line = f"no violation within bounds({limits})"
        if self.unwitnessed:
            line += f"; not witnessed within bounds: {', '.join(self.unwitnessed)}"
        return line

    def summary_line(self) -> str:
        total_sometimes = len(self.witnessed) + len(self.unwitnessed)
        reduction = "" if self.reduction == "none" else f", reduction {self.reduction}"
        return (
            f"{self.bounds_text()}: {self.states} states, {self.transitions} transitions, "
            f"max depth {self.max_depth_reached}, {len(self.violations)} violation(s), "
            f"{len(self.witnessed)}/{total_sometimes} sometimes witnessed{reduction}, {self.seconds:.2f}s"
        )


def explore(
    model: Model[S, A],
    *,
    max_depth: int | None = None,
    max_states: int | None = None,
    stop_at_first_violation: bool = True,
    check_deadlock: bool = True,
    progress: Callable[[int, int], None] | None = None,
    reduction: str = "none",
) -> ExploreResult[S, A]:
    """Explore every state reachable from `model.initial_states()` breadth-first.

    `max_depth` keeps states at most that many actions from an initial state; `max_states` caps the
    number of distinct states stored. A cut limit appears in `bounds` and makes the status "bounded".
    `progress(states, depth)` is called at most every `PROGRESS_EVERY` expanded states. `reduction` is
    one of `REDUCTIONS` (see the module docstring); `supported_reduction(model)` names the strongest one
    a model offers. Under a reduction, depths and bounds count steps of the reduced graph.
    """
    if max_depth is not None and max_depth < 0:
        raise ModelError(f"max_depth must be >= 0, got {max_depth}", "explore", "use None for no depth limit")
    if max_states is not None and max_states < 1:
        raise ModelError(
            f"max_states must be >= 1, got {max_states}", "explore", "use None for no state limit"
        )
    canonicalize, safe_actions = _reduction_hooks(model, reduction)
    started = time.perf_counter()
    search = _Search(
        model, max_depth, max_states, stop_at_first_violation, check_deadlock, progress, canonicalize, safe_actions
    )
    # The search allocates millions of acyclic tuples; the cyclic collector would rescan the growing
    # store again and again (about 15% of the time at a million states), so it pauses while we search.
    collecting = gc.isenabled()
    gc.disable()
    try:
        search.run()
    finally:
        if collecting:
            gc.enable()
    return search.result(time.perf_counter() - started, reduction)


CanonicalizeHook = Callable[[S], S]
SafeActionsHook = Callable[[S, Sequence[A]], Sequence[A]]


def supported_reduction(model: object) -> str:
    """The strongest entry of `REDUCTIONS` whose hooks `model` provides ("none" when it has neither)."""
    canonical = callable(getattr(model, "canonicalize", None))
    ample = callable(getattr(model, "safe_actions", None))
    if canonical and ample:
        return "canonical+ample"
    if canonical:
        return "canonical"
    return "ample" if ample else "none"


def _reduction_hooks(
    model: Model[S, A], reduction: str
) -> tuple[CanonicalizeHook[S] | None, SafeActionsHook[S, A] | None]:
    if reduction not in REDUCTIONS:
        raise ModelError(
            f"unknown reduction {reduction!r}", "explore(reduction=...)", f"use one of: {', '.join(REDUCTIONS)}"
        )
    canonicalize: CanonicalizeHook[S] | None = None
    safe_actions: SafeActionsHook[S, A] | None = None
    if "canonical" in reduction:
        canonicalize = getattr(model, "canonicalize", None)
        if not callable(canonicalize):
            raise ModelError(
                f"reduction {reduction!r} needs the model to define canonicalize(state)",
                f"explore({type(model).__name__})",
                f"this model supports reduction {supported_reduction(model)!r}",
            )
    if "ample" in reduction:
        safe_actions = getattr(model, "safe_actions", None)
        if not callable(safe_actions):
            raise ModelError(
                f"reduction {reduction!r} needs the model to define safe_actions(state, enabled)",
                f"explore({type(model).__name__})",
                f"this model supports reduction {supported_reduction(model)!r}",
            )
    return canonicalize, safe_actions


@dataclass(frozen=True)
class ReductionCheck:
    """What `check_reduction_conditions` examined and every obligation it found broken."""

    states: int  # distinct states of the breadth-first part
    complete: bool  # the breadth-first part reached every reachable state
    walk_states: int  # states visited by the random walks (with repeats)
    canonical_differs: int  # checked states whose canonical form is not the state itself
    safe_checked: int  # (state, safe action) pairs checked
    problems: tuple[str, ...]


def check_reduction_conditions(
    model: Model[S, A],
    *,
    max_states: int | None = None,
    random_walks: int = 0,
    seed: int = 0,
    max_problems: int = 10,
) -> ReductionCheck:
    """Verify the obligations of the model's reduction hooks (module docstring) on every state of an
    unreduced breadth-first exploration (up to `max_states` states), then on every state of
    `random_walks` seeded random runs to the end (deep states a bounded prefix does not reach).

    canonicalize: idempotent; same enabled actions, `is_final`, property values and (with both hooks) safe
    actions on s and its canonical form; canonical successors agree. safe_actions: each safe action is
    enabled and invisible (every property keeps its value), commutes with every other enabled action b
    (b stays enabled after it, the two orders reach the same state, and it stays safe after b), unless b
    is a sink (its successor has no enabled action) that stays enabled after the safe action and ends in
    a state with the same property values and `is_final`. Since a safe action stays safe until taken,
    checking every reachable state covers every path: a complete check without problems establishes the
    hooks' obligations for the model, and a bounded one for every state it checked.
    """
    checker = _ConditionChecker(model, max_problems)
    order: list[S] = list(dict.fromkeys(model.initial_states()))
    index = {state: i for i, state in enumerate(order)}
    cap = max_states if max_states is not None else sys.maxsize
    cut = False
    for sid, state in enumerate(order):
        for succ in checker.check(state, f"state {sid}"):
            if succ not in index:
                if len(order) >= cap:
                    cut = True
                    continue
                index[succ] = len(order)
                order.append(succ)
    rng = random.Random(seed)
    walk_states = 0
    for walk in range(random_walks):
        state = order[0]
        step = 0
        while True:
            successors = checker.check(state, f"walk {walk} step {step}")
            walk_states += 1
            if not successors:
                break
            state = successors[rng.randrange(len(successors))]
            step += 1
    return ReductionCheck(
        len(order), not cut, walk_states, checker.canonical_differs, checker.safe_checked, tuple(checker.problems)
    )


class _ConditionChecker(Generic[S, A]):
    def __init__(self, model: Model[S, A], max_problems: int) -> None:
        self.model = model
        self.canonicalize = getattr(model, "canonicalize", None)
        self.safe_actions = getattr(model, "safe_actions", None)
        self.holds = [(prop.name, prop.holds) for prop in model.properties()]
        self.max_problems = max_problems
        self.problems: list[str] = []
        self.canonical_differs = 0
        self.safe_checked = 0

    def _report(self, where: str, text: str) -> None:
        if len(self.problems) < self.max_problems:
            self.problems.append(f"{where}: {text}")

    def _differing(self, x: S, y: S) -> list[str]:
        return [name for name, holds in self.holds if holds(x) != holds(y)]

    def check(self, state: S, where: str) -> list[S]:
        """Check `state`; return its successors in enabled-action order."""
        model = self.model
        actions, next_state, fmt = model.actions, model.next_state, model.format_action
        enabled = list(actions(state))
        successors = [next_state(state, a) for a in enabled]
        canonicalize = self.canonicalize
        if callable(canonicalize):
            canon = canonicalize(state)
            if canon != state:
                self.canonical_differs += 1
            if canonicalize(canon) != canon:
                self._report(where, "canonicalize is not idempotent")
            if list(actions(canon)) != enabled:
                self._report(where, "the canonical form enables different actions")
            if model.is_final(canon) != model.is_final(state):
                self._report(where, "the canonical form differs in is_final")
            for name in self._differing(state, canon):
                self._report(where, f"property {name} differs on the canonical form")
            for a, succ in zip(enabled, successors, strict=True):
                if canonicalize(next_state(canon, a)) != canonicalize(succ):
                    self._report(where, f"{fmt(a)}: canonical successors differ")
            if callable(self.safe_actions) and list(self.safe_actions(canon, enabled)) != list(
                self.safe_actions(state, enabled)
            ):
                self._report(where, "the canonical form has different safe actions")
        safe_actions = self.safe_actions
        if callable(safe_actions):
            for a in safe_actions(state, enabled):
                self.safe_checked += 1
                if a not in enabled:
                    self._report(where, f"safe action {fmt(a)} is not enabled")
                    continue
                self._check_safe(state, where, a, enabled, successors)
        return successors

    def _check_safe(self, state: S, where: str, a: A, enabled: list[A], successors: list[S]) -> None:
        model = self.model
        actions, next_state, fmt = model.actions, model.next_state, model.format_action
        safe_actions = self.safe_actions
        assert callable(safe_actions)
        after_a = successors[enabled.index(a)]
        for name in self._differing(state, after_a):
            self._report(where, f"safe action {fmt(a)} changes property {name}")
        enabled_after_a = list(actions(after_a))
        for b, after_b in zip(enabled, successors, strict=True):
            if b == a:
                continue
            if b not in enabled_after_a:
                self._report(where, f"safe action {fmt(a)} disables {fmt(b)}")
                continue
            ab = next_state(after_a, b)
            enabled_after_b = list(actions(after_b))
            if a not in enabled_after_b:
                if enabled_after_b:
                    self._report(where, f"{fmt(b)} disables safe action {fmt(a)} without ending the run")
                elif model.is_final(ab) != model.is_final(after_b) or self._differing(ab, after_b):
                    self._report(where, f"sink {fmt(b)} ends differently after safe action {fmt(a)}")
                continue
            if next_state(after_b, a) != ab:
                self._report(where, f"safe action {fmt(a)} does not commute with {fmt(b)}")
            if a not in safe_actions(after_b, enabled_after_b):
                self._report(where, f"safe action {fmt(a)} is no longer safe after {fmt(b)}")


def _split_properties(
    properties: Sequence[Property[S]],
) -> tuple[list[Property[S]], list[Property[S]], list[Property[S]]]:
    always: list[Property[S]] = []
    sometimes: list[Property[S]] = []
    eventually: list[Property[S]] = []
    seen: set[str] = set()
    for prop in properties:
        if prop.name in seen:
            raise ModelError(
                f"duplicate property name {prop.name!r}", "model.properties()", "names must be unique"
            )
        seen.add(prop.name)
        if prop.kind is PropertyKind.ALWAYS:
            always.append(prop)
        elif prop.kind is PropertyKind.SOMETIMES:
            sometimes.append(prop)
        elif prop.kind is PropertyKind.EVENTUALLY:
            eventually.append(prop)
        else:
            raise ModelError(
                f"property {prop.name!r} has unknown kind {prop.kind!r}",
                "model.properties()",
                "use a PropertyKind member",
            )
    return always, sometimes, eventually


class _Search(Generic[S, A]):
    def __init__(
        self,
        model: Model[S, A],
        max_depth: int | None,
        max_states: int | None,
        stop_at_first_violation: bool,
        check_deadlock: bool,
        progress: Callable[[int, int], None] | None,
        canonicalize: CanonicalizeHook[S] | None = None,
        safe_actions: SafeActionsHook[S, A] | None = None,
    ) -> None:
        self._model = model
        self._canonicalize = canonicalize
        self._safe_actions = safe_actions
        self._ample_expansions = 0
        self._proviso_expansions = 0
        self._backward_edge = False  # an edge to a state stored no deeper than its source (may close a cycle)
        self._max_depth = max_depth
        self._max_states = max_states
        self._stop_first = stop_at_first_violation
        self._check_deadlock = check_deadlock
        self._progress = progress

        always, sometimes, eventually = _split_properties(model.properties())
        # Parallel lists: the hot loop iterates bare callables; the rare failure path looks up the Property.
        self._always = always
        self._always_holds = [prop.holds for prop in always]
        self._sometimes_pending = sometimes
        self._sometimes_holds = [prop.holds for prop in sometimes]
        self._sometimes_all = list(sometimes)
        self._eventually = eventually

        self._order: list[S] = []
        self._index: dict[S, int] = {}
        self._parent = array("q")  # 8 bytes per state instead of a list slot plus an int object
        self._via: list[A | None] = []

        # Compressed edge lists, edges of state i = positions edge_start[i] .. edge_start[i+1]-1.
        self._store_edges = bool(eventually)
        self._edge_start = array("q")
        self._edge_actions: list[A] = []
        self._edge_targets: list[int] = []

        self._violations: list[Violation[S, A]] = []
        self._witness: dict[str, int] = {}
        self._transitions = 0
        self._cut_depth = False
        self._cut_states = False
        self._stopped = False

    # ----------------------------------------------------------------------------------------- search

    def run(self) -> None:
        if self._add_initial_states():
            self._stopped = True
            return
        if self._bfs():
            self._stopped = True
            return
        if self._store_edges:
            self._edge_start.append(len(self._edge_targets))
            if self._safe_actions is not None and self._eventually and self._backward_edge:
                self._require_acyclic()
            for prop in self._eventually:
                violation = self._check_eventually(prop)
                if violation is not None:
                    self._violations.append(violation)
                    if self._stop_first:
                        return

    def _add_initial_states(self) -> bool:
        initial = self._model.initial_states()
        if not initial:
            raise ModelError("the model has no initial state", "model.initial_states()")
        cap = self._max_states if self._max_states is not None else sys.maxsize
        canonicalize = self._canonicalize
        for state in initial:
            if canonicalize is not None:
                state = canonicalize(state)
            if state in self._index:
                continue
            if len(self._order) >= cap:
                self._cut_states = True
                continue
            sid = len(self._order)
            self._index[state] = sid
            self._order.append(state)
            self._parent.append(NO_STATE)
            self._via.append(None)
            if any(not holds(state) for holds in self._always_holds) and self._on_always_failure(sid):
                return True
            if any(holds(state) for holds in self._sometimes_holds):
                self._on_witness(sid)
        return False

    def _bfs(self) -> bool:
        """The hot loop. Returns True when it stopped at a violation."""
        # Local aliases: attribute and global lookups dominate a loop this tight.
        actions = self._model.actions
        next_state = self._model.next_state
        is_final = self._model.is_final
        order = self._order
        order_append = order.append
        index = self._index
        index_get = index.get
        parent_append = self._parent.append
        via_append = self._via.append
        always_holds = self._always_holds  # mutated in place by the failure handler
        sometimes_holds = self._sometimes_holds  # mutated in place by the witness handler
        store_edges = self._store_edges
        edge_start_append = self._edge_start.append
        edge_actions_append = self._edge_actions.append
        edge_targets = self._edge_targets
        edge_targets_append = edge_targets.append
        check_deadlock = self._check_deadlock
        max_depth = self._max_depth
        cap = self._max_states if self._max_states is not None else sys.maxsize
        progress = self._progress
        next_report = PROGRESS_EVERY if progress is not None else sys.maxsize
        canonicalize = self._canonicalize
        safe_actions = self._safe_actions
        ample_expansions = 0
        proviso_expansions = 0
        backward_edge = False

        transitions = 0
        cut_depth = False
        cut_states = False
        n = len(order)
        depth = 0
        level_start = 0
        try:
            while level_start < n:
                # Every state of this depth is already stored, so the level is a fixed range.
                level_end = n
                frontier = max_depth is not None and depth >= max_depth
                for sid in range(level_start, level_end):
                    if sid >= next_report:
                        assert progress is not None
                        progress(n, depth)
                        next_report += PROGRESS_EVERY
                    state = order[sid]
                    enabled = actions(state)
                    if store_edges:
                        edge_start_append(len(edge_targets))
                    if not enabled:
                        if check_deadlock and not is_final(state):
                            check_deadlock = self._check_deadlock = False  # one deadlock is reported
                            if self._on_deadlock(sid):
                                return True
                        continue
                    ample_action: A | None = None
                    ample_succ: S = state  # the ample action's successor once it is computed
                    if safe_actions is not None and len(enabled) > 1:
                        safe = safe_actions(state, enabled)
                        if safe:
                            ample_action = safe[0]
                            if ample_action not in enabled:
                                raise ModelError(
                                    f"safe_actions returned {ample_action!r}, which is not enabled",
                                    f"state {sid}",
                                    "safe_actions must return a sub-list of the enabled actions",
                                )
                            ample_succ = next_state(state, ample_action)
                            if canonicalize is not None:
                                ample_succ = canonicalize(ample_succ)
                            known = index_get(ample_succ)
                            if known is not None and known < level_end:
                                proviso_expansions += 1  # C3: it may close a cycle, so expand in full
                            else:
                                ample_expansions += 1
                                enabled = [ample_action]
                    for action in enabled:
                        if action is ample_action:
                            succ = ample_succ
                        else:
                            succ = next_state(state, action)
                            if canonicalize is not None:
                                succ = canonicalize(succ)
                        target = index_get(succ)
                        if target is None:
                            if frontier or n >= cap:
                                if frontier:
                                    cut_depth = True
                                else:
                                    cut_states = True
                                if store_edges:
                                    edge_actions_append(action)
                                    edge_targets_append(NO_STATE)
                                continue
                            target = n
                            index[succ] = n
                            order_append(succ)
                            parent_append(sid)
                            via_append(action)
                            n += 1
                            for holds in always_holds:
                                if not holds(succ):
                                    if self._on_always_failure(target):
                                        transitions += 1
                                        return True
                                    break
                            for holds in sometimes_holds:
                                if holds(succ):
                                    self._on_witness(target)
                                    break
                        elif target < level_end:
                            backward_edge = True
                        transitions += 1
                        if store_edges:
                            edge_actions_append(action)
                            edge_targets_append(target)
                level_start = level_end
                depth += 1
            return False
        finally:
            self._transitions = transitions
            self._ample_expansions += ample_expansions
            self._proviso_expansions += proviso_expansions
            self._backward_edge = self._backward_edge or backward_edge
            self._cut_depth = self._cut_depth or cut_depth
            self._cut_states = self._cut_states or cut_states

    # ----------------------------------------------------------------------------- rare-path handlers

    def _on_always_failure(self, sid: int) -> bool:
        """Record the ALWAYS properties state `sid` violates; True when the search must stop."""
        state = self._order[sid]
        failing = [prop for prop in self._always if not prop.holds(state)]
        if self._stop_first:
            failing = failing[:1]
        path = self._path(sid)
        for prop in failing:
            self._violations.append(Violation(prop.name, "always", prop.spec, path))
        if self._stop_first:
            return True
        # Each property keeps only its first (shortest) counterexample, so stop checking it.
        failed = {prop.name for prop in failing}
        self._always = [prop for prop in self._always if prop.name not in failed]
        self._always_holds[:] = [prop.holds for prop in self._always]
        return False

    def _on_witness(self, sid: int) -> None:
        state = self._order[sid]
        still_pending: list[Property[S]] = []
        for prop in self._sometimes_pending:
            if prop.holds(state):
                self._witness[prop.name] = sid
            else:
                still_pending.append(prop)
        self._sometimes_pending = still_pending
        self._sometimes_holds[:] = [prop.holds for prop in still_pending]

    def _on_deadlock(self, sid: int) -> bool:
        self._violations.append(Violation("deadlock", "deadlock", "", self._path(sid)))
        return self._stop_first

    def _path_ids(self, sid: int) -> list[int]:
        parent = self._parent
        ids: list[int] = []
        while sid != NO_STATE:
            ids.append(sid)
            sid = parent[sid]
        ids.reverse()
        return ids

    def _path(self, sid: int) -> tuple[Step[S, A], ...]:
        order = self._order
        via = self._via
        return tuple(Step(i, via[x], order[x]) for i, x in enumerate(self._path_ids(sid)))

    # -------------------------------------------------------------------------------------- liveness

    def _require_acyclic(self) -> None:
        """Under the "ample" reduction an EVENTUALLY verdict needs an acyclic reduced graph (module doc)."""
        everything = bytearray(b"\x01") * len(self._order)
        for members in _nontrivial_sccs(everything, self._edge_start, self._edge_targets):
            raise ModelError(
                f"the reduced state graph has a cycle through {len(members)} state(s), so the 'ample' "
                "reduction cannot decide EVENTUALLY properties",
                f"explore({type(self._model).__name__}, reduction=...)",
                "explore with reduction 'canonical' or 'none'",
            )

    def _enabled(self, sid: int) -> list[A]:
        return self._edge_actions[self._edge_start[sid] : self._edge_start[sid + 1]]

    def _check_eventually(self, prop: Property[S]) -> Violation[S, A] | None:
        """The shallowest weakly fair run on which `prop` never holds, or None.

        A run that passed through a state where `prop` holds is satisfied for good, so only states
        reachable from an initial state through states where it is false can be on a violating run;
        a breadth-first pass over that subgraph gives each such state its shortest all-false prefix.
        """
        holds = prop.holds
        starts = self._edge_start
        actions = self._edge_actions
        targets = self._edge_targets
        parent = self._parent
        n = len(self._order)
        false_at = bytearray(0 if holds(state) else 1 for state in self._order)

        unseen = -2
        prefix_parent = array("q", [unseen]) * n
        prefix_edge = array("q", [unseen]) * n  # position of the edge that reached the state
        queue = [sid for sid in range(n) if parent[sid] == NO_STATE and false_at[sid]]
        for sid in queue:
            prefix_parent[sid] = NO_STATE
        for sid in queue:  # the list grows while iterated: a FIFO without deque overhead
            for pos in range(starts[sid], starts[sid + 1]):
                target = targets[pos]
                if target >= 0 and false_at[target] and prefix_parent[target] == unseen:
                    prefix_parent[target] = sid
                    prefix_edge[target] = pos
                    queue.append(target)
        candidate = bytearray(n)
        rank = array("q", [0]) * n  # BFS order in the all-false subgraph: lower rank = shorter prefix
        for position, sid in enumerate(queue):
            candidate[sid] = 1
            rank[sid] = position

        def prefix(sid: int) -> list[Step[S, A]]:
            chain: list[int] = []
            while sid != NO_STATE:
                chain.append(sid)
                sid = prefix_parent[sid]
            chain.reverse()
            return [
                Step(i, None if i == 0 else actions[prefix_edge[x]], self._order[x])
                for i, x in enumerate(chain)
            ]

        # A maximal run that ends in a state where the property is false.
        terminal = next((sid for sid in queue if starts[sid] == starts[sid + 1]), None)
        best_rank = rank[terminal] if terminal is not None else n
        best_entry: int | None = None
        best_members: list[int] = []
        for members in _nontrivial_sccs(candidate, starts, targets):
            entry = min(members, key=rank.__getitem__)
            if rank[entry] < best_rank and self._weakly_fair(members):
                best_rank, best_entry, best_members = rank[entry], entry, members

        if best_entry is not None:
            return self._lasso(prop, prefix(best_entry), best_entry, set(best_members))
        if terminal is not None:
            return Violation(prop.name, "eventually", prop.spec, tuple(prefix(terminal)))
        return None

    def _weakly_fair(self, members: list[int]) -> bool:
        """Can a weakly fair run stay in the SCC forever?

        It can iff every action enabled in all of its states has an edge with that label staying inside;
        otherwise that action is continuously enabled and every time it is taken the run leaves.
        """
        required = set(self._enabled(members[0]))
        for sid in members[1:]:
            if not required:
                return True
            required.intersection_update(self._enabled(sid))
        if not required:
            return True
        inside = set(members)
        starts = self._edge_start
        actions = self._edge_actions
        targets = self._edge_targets
        for sid in members:
            for pos in range(starts[sid], starts[sid + 1]):
                if targets[pos] in inside:
                    required.discard(actions[pos])
            if not required:
                return True
        return False

    def _inside_edges(self, sid: int, inside: set[int]) -> Iterator[tuple[A, int]]:
        starts = self._edge_start
        actions = self._edge_actions
        targets = self._edge_targets
        for pos in range(starts[sid], starts[sid + 1]):
            target = targets[pos]
            if target in inside:
                yield actions[pos], target

    def _shortest_inside(
        self, source: int, goal: Callable[[int], bool], inside: set[int]
    ) -> list[tuple[A, int]]:
        """Shortest non-empty path of (action, state) edges inside the SCC from `source` to a goal state."""
        came_from: dict[int, tuple[int, A]] = {}
        queue = [source]
        for sid in queue:  # the list grows while iterated: a FIFO without deque overhead
            for action, target in self._inside_edges(sid, inside):
                if goal(target):
                    edges = [(action, target)]
                    while sid != source:
                        previous, via = came_from[sid]
                        edges.append((via, sid))
                        sid = previous
                    edges.reverse()
                    return edges
                if target not in came_from and target != source:
                    came_from[target] = (sid, action)
                    queue.append(target)
        raise AssertionError("no path inside a strongly connected component")  # pragma: no cover

    def _lasso(
        self, prop: Property[S], prefix: list[Step[S, A]], entry: int, inside: set[int]
    ) -> Violation[S, A]:
        """A shortest prefix to `entry`, then a cycle through it that is itself weakly fair.

        Start with the shortest cycle through the entry; while some action is enabled in every state of
        the cycle but never taken on it, add a detour through the entry that either takes that action
        inside the SCC or visits a state where it is disabled. Each detour settles one action for good.
        """
        cycle = self._shortest_inside(entry, lambda sid: sid == entry, inside)
        inside_labels = {action for sid in inside for action, _ in self._inside_edges(sid, inside)}
        while True:
            visited = [entry, *(target for _, target in cycle)]
            taken = {action for action, _ in cycle}
            continuous = set(self._enabled(entry))
            for sid in visited:
                continuous.intersection_update(self._enabled(sid))
            # Deterministic choice: the entry state's action order, never set order.
            missing = [a for a in self._enabled(entry) if a in continuous and a not in taken]
            if not missing:
                break
            action = missing[0]
            if action in inside_labels:

                def has_edge(sid: int, action: A = action) -> bool:
                    return any(label == action for label, _ in self._inside_edges(sid, inside))

                to_source = [] if has_edge(entry) else self._shortest_inside(entry, has_edge, inside)
                source = to_source[-1][1] if to_source else entry
                target = next(t for label, t in self._inside_edges(source, inside) if label == action)
                detour = [*to_source, (action, target)]
            else:

                def disables(sid: int, action: A = action) -> bool:
                    return action not in self._enabled(sid)

                detour = self._shortest_inside(entry, disables, inside)
            end = detour[-1][1]
            if end != entry:
                detour += self._shortest_inside(end, lambda sid: sid == entry, inside)
            cycle += detour

        cycle_start = len(prefix) - 1
        for action, target in cycle[:-1]:
            prefix.append(Step(len(prefix), action, self._order[target]))
        return Violation(prop.name, "eventually", prop.spec, tuple(prefix), cycle_start, cycle[-1][0])

    # --------------------------------------------------------------------------------------- result

    def _depth(self, sid: int) -> int:
        return len(self._path_ids(sid)) - 1

    def result(self, seconds: float, reduction: str = "none") -> ExploreResult[S, A]:
        bounds: dict[str, int] = {}
        if self._cut_depth and self._max_depth is not None:
            bounds["depth"] = self._max_depth
        if self._cut_states and self._max_states is not None:
            bounds["states"] = self._max_states
        complete = not bounds and not self._stopped
        witnessed_ids = {
            prop.name: self._witness[prop.name] for prop in self._sometimes_all if prop.name in self._witness
        }
        return ExploreResult(
            status="complete" if complete else "bounded",
            bounds=bounds,
            states=len(self._order),
            transitions=self._transitions,
            max_depth_reached=self._depth(len(self._order) - 1),
            violations=tuple(self._violations),
            witnessed={name: self._depth(sid) for name, sid in witnessed_ids.items()},
            unwitnessed=tuple(prop.name for prop in self._sometimes_all if prop.name not in self._witness),
            seconds=seconds,
            stopped_at_violation=self._stopped,
            witness_paths={name: self._path(sid) for name, sid in witnessed_ids.items()},
            reduction=reduction,
            reduction_stats=(
                {"ample": self._ample_expansions, "proviso": self._proviso_expansions}
                if self._safe_actions is not None
                else {}
            ),
        )


def _nontrivial_sccs(member: bytearray, starts: array[int], targets: list[int]) -> Iterator[list[int]]:
    """Strongly connected components of the subgraph on `member` states that contain a cycle.

    Iterative Tarjan (models can be far deeper than Python's recursion limit). Roots are taken in id
    order and edges in stored order, so the output order is deterministic.
    """
    n = len(member)
    number = [-1] * n
    low = [0] * n
    on_stack = bytearray(n)
    stack: list[int] = []
    counter = 0
    for root in range(n):
        if not member[root] or number[root] != -1:
            continue
        number[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = 1
        work = [(root, starts[root])]
        while work:
            node, pos = work[-1]
            end = starts[node + 1]
            descended = False
            while pos < end:
                succ = targets[pos]
                pos += 1
                if succ < 0 or not member[succ]:
                    continue
                if number[succ] == -1:
                    work[-1] = (node, pos)
                    number[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack[succ] = 1
                    work.append((succ, starts[succ]))
                    descended = True
                    break
                if on_stack[succ] and number[succ] < low[node]:
                    low[node] = number[succ]
            if descended:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                if low[node] < low[parent]:
                    low[parent] = low[node]
            if low[node] == number[node]:
                members: list[int] = []
                while True:
                    popped = stack.pop()
                    on_stack[popped] = 0
                    members.append(popped)
                    if popped == node:
                        break
                if len(members) > 1 or any(targets[p] == node for p in range(starts[node], starts[node + 1])):
                    yield members
