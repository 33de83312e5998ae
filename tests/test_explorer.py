"""The explorer on tiny models whose state counts, shortest counterexamples and fair cycles are known."""

from __future__ import annotations

import dataclasses
import itertools
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from model.errors import ModelError
from model.explorer import (
    PROGRESS_EVERY,
    REDUCTIONS,
    ExploreResult,
    Step,
    Violation,
    check_reduction_conditions,
    explore,
    supported_reduction,
)
from model.protocol import A, Model, Property, PropertyKind, S
from model.report import format_violation

ALWAYS = PropertyKind.ALWAYS
SOMETIMES = PropertyKind.SOMETIMES
EVENTUALLY = PropertyKind.EVENTUALLY

# ------------------------------------------------------------------------------------------ tiny models

Cell = tuple[int, int]


class Grid:
    """Two counters 0..n, each incrementable: (n+1)^2 states, 2n(n+1) transitions, depth 2n; (n, n) is final."""

    def __init__(self, n: int, properties: Sequence[Property[Cell]] = ()) -> None:
        self.n = n
        self._properties = list(properties)

    def initial_states(self) -> Sequence[Cell]:
        return [(0, 0)]

    def actions(self, state: Cell) -> Sequence[str]:
        a, b = state
        enabled = []
        if a < self.n:
            enabled.append("inc_a")
        if b < self.n:
            enabled.append("inc_b")
        return enabled

    def next_state(self, state: Cell, action: str) -> Cell:
        a, b = state
        return (a + 1, b) if action == "inc_a" else (a, b + 1)

    def properties(self) -> Sequence[Property[Cell]]:
        return self._properties

    def is_final(self, state: Cell) -> bool:
        return state == (self.n, self.n)

    def format_action(self, action: str) -> str:
        return action

    def format_state(self, state: Cell) -> str:
        return f"a={state[0]} b={state[1]}"


class Graph:
    """An explicit labelled graph over named states: `edges[state]` lists (action, successor) in order."""

    def __init__(
        self,
        initial: Sequence[str],
        edges: dict[str, list[tuple[str, str]]],
        final: Sequence[str] = (),
        properties: Sequence[Property[str]] = (),
    ) -> None:
        self._initial = list(initial)
        self._edges = edges
        self._final = set(final)
        self._properties = list(properties)

    def initial_states(self) -> Sequence[str]:
        return self._initial

    def actions(self, state: str) -> Sequence[str]:
        return [action for action, _ in self._edges.get(state, [])]

    def next_state(self, state: str, action: str) -> str:
        return dict(self._edges[state])[action]

    def properties(self) -> Sequence[Property[str]]:
        return self._properties

    def is_final(self, state: str) -> bool:
        return state in self._final

    def format_action(self, action: str) -> str:
        return action

    def format_state(self, state: str) -> str:
        return state


# Peterson state: (pc0, pc1, flag0, flag1, turn); pc 0 = idle, 1 = flag raised, 2 = waiting, 3 = critical.
Peterson = tuple[int, int, int, int, int]


class PetersonModel:
    """Two-process Peterson mutual exclusion; a blocked waiter spins (a self-loop of its own action).

    With `naive=True` the turn variable is ignored: both can raise their flags and spin forever.
    """

    def __init__(self, properties: Sequence[Property[Peterson]], naive: bool = False) -> None:
        self._properties = list(properties)
        self.naive = naive

    def initial_states(self) -> Sequence[Peterson]:
        return [(0, 0, 0, 0, 0)]

    def actions(self, state: Peterson) -> Sequence[int]:
        return [0, 1]

    def next_state(self, state: Peterson, action: int) -> Peterson:
        pcs, flags, turn = [state[0], state[1]], [state[2], state[3]], state[4]
        me, other = action, 1 - action
        pc = pcs[me]
        if pc == 0:
            flags[me] = 1
            pcs[me] = 1
        elif pc == 1:
            if not self.naive:
                turn = other
            pcs[me] = 2
        elif pc == 2:
            may_enter = flags[other] == 0 if self.naive else flags[other] == 0 or turn == me
            if may_enter:
                pcs[me] = 3
        else:
            flags[me] = 0
            pcs[me] = 0
        return (pcs[0], pcs[1], flags[0], flags[1], turn)

    def properties(self) -> Sequence[Property[Peterson]]:
        return self._properties

    def is_final(self, state: Peterson) -> bool:
        return False

    def format_action(self, action: int) -> str:
        return f"p{action}"

    def format_state(self, state: Peterson) -> str:
        return f"pc={state[0]}{state[1]} flag={state[2]}{state[3]} turn={state[4]}"


Tokens = frozenset[str]
TOKEN_NAMES = ("alpha", "beta", "gamma", "delta")


class TokenModel:
    """States are frozensets of strings, whose hash order changes with PYTHONHASHSEED."""

    def __init__(self, properties: Sequence[Property[Tokens]]) -> None:
        self._properties = list(properties)

    def initial_states(self) -> Sequence[Tokens]:
        return [frozenset()]

    def actions(self, state: Tokens) -> Sequence[str]:
        enabled = [f"take_{name}" for name in TOKEN_NAMES if name not in state]
        if len(state) >= 2:
            enabled.append("drop_all")
        return enabled

    def next_state(self, state: Tokens, action: str) -> Tokens:
        if action == "drop_all":
            return frozenset()
        return state | {action.removeprefix("take_")}

    def properties(self) -> Sequence[Property[Tokens]]:
        return self._properties

    def is_final(self, state: Tokens) -> bool:
        return False

    def format_action(self, action: str) -> str:
        return action

    def format_state(self, state: Tokens) -> str:
        return "{" + ",".join(sorted(state)) + "}"


def token_reports() -> str:
    """Every formatted result of the token model; run in subprocesses under different hash seeds."""
    model = TokenModel(
        [
            Property("fewer_than_three", ALWAYS, lambda s: len(s) < 3, spec="INV-T3"),
            Property("holds_omega", EVENTUALLY, lambda s: "omega" in s, spec="LIV-T1"),
            Property("has_gamma_delta", SOMETIMES, lambda s: {"gamma", "delta"} <= s),
        ]
    )
    result = explore(model, stop_at_first_violation=False)
    parts = [result.verdict(), f"{result.states} {result.transitions} {result.max_depth_reached}"]
    parts.append(repr(sorted(result.witnessed.items())))
    for violation in result.violations:
        parts.append(
            format_violation(
                model,
                violation,
                engine="explorer",
                bounds=result.bounds_text(),
                replay_command="replay tokens",
            )
        )
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------- helpers


def replay(model: Model[Any, Any], path: Sequence[Step[Any, Any]]) -> None:
    """Assert that `path` starts in an initial state and every step is an enabled action's successor."""
    assert path[0].number == 0
    assert path[0].action is None
    assert path[0].state in model.initial_states()
    for previous, step in itertools.pairwise(path):
        assert step.number == previous.number + 1
        assert step.action in model.actions(previous.state)
        assert model.next_state(previous.state, step.action) == step.state


def assert_weakly_fair_lasso(model: Model[Any, Any], violation: Violation[Any, Any]) -> None:
    """The lasso closes, and every action enabled in all cycle states is taken somewhere on the cycle."""
    replay(model, violation.path)
    start = violation.cycle_start
    assert start is not None
    last = violation.path[-1].state
    assert violation.loop_action in model.actions(last)
    assert model.next_state(last, violation.loop_action) == violation.path[start].state
    cycle_states = [step.state for step in violation.path[start:]]
    taken = {step.action for step in violation.path[start + 1 :]} | {violation.loop_action}
    continuously_enabled = set(model.actions(cycle_states[0]))
    for state in cycle_states:
        continuously_enabled &= set(model.actions(state))
    assert continuously_enabled <= taken


def without_time(result: ExploreResult[Any, Any]) -> ExploreResult[Any, Any]:
    return dataclasses.replace(result, seconds=0.0)


def brute_force_reachable(model: Model[S, A], candidates: Sequence[S]) -> set[S]:
    """Reachable states by fixed-point iteration over an enumerated candidate space (no BFS, no parents)."""
    reached = set(model.initial_states())
    while True:
        grown = {
            candidate
            for candidate in candidates
            if candidate in reached
            or any(model.next_state(s, a) == candidate for s in reached for a in model.actions(s))
        }
        if grown == reached:
            return reached
        reached = grown


def never(_: object) -> bool:
    return False


# ----------------------------------------------------------------------------------------- state counts


@pytest.mark.parametrize("n", [0, 1, 3, 7])
def test_grid_complete_counts_are_exact(n: int) -> None:
    result = explore(Grid(n))
    assert result.status == "complete"
    assert result.bounds == {}
    assert result.states == (n + 1) ** 2
    assert result.transitions == 2 * n * (n + 1)
    assert result.max_depth_reached == 2 * n
    assert result.violations == ()
    assert result.verdict() == f"complete: no violation ({(n + 1) ** 2} states)"
    assert "verified" not in result.verdict()


def test_state_bound_cuts_and_is_reported() -> None:
    result = explore(Grid(3), max_states=5)
    assert result.status == "bounded"
    assert result.bounds == {"states": 5}
    assert result.states == 5
    assert result.verdict() == "no violation within bounds(states=5)"
    assert result.bounds_text() == "bounded(states=5)"


def test_depth_bound_keeps_states_up_to_that_depth() -> None:
    result = explore(Grid(3), max_depth=2)
    assert result.status == "bounded"
    assert result.bounds == {"depth": 2}
    assert result.states == 6  # a + b <= 2
    assert result.max_depth_reached == 2
    assert result.transitions == 6  # edges between stored states only: 2 from depth 0, 4 from depth 1
    assert result.verdict() == "no violation within bounds(depth=2)"


def test_both_bounds_reported_when_both_cut() -> None:
    result = explore(Grid(5), max_depth=3, max_states=8)
    assert result.bounds == {"depth": 3, "states": 8}
    assert result.verdict() == "no violation within bounds(depth=3, states=8)"


def test_bounds_that_cut_nothing_leave_the_run_complete() -> None:
    # Diameter 6 and exactly 16 states: neither limit removes a state.
    result = explore(Grid(3), max_depth=6, max_states=16)
    assert result.status == "complete"
    assert result.bounds == {}
    assert result.states == 16


def test_misuse_is_rejected() -> None:
    with pytest.raises(ModelError):
        explore(Grid(1), max_depth=-1)
    with pytest.raises(ModelError):
        explore(Grid(1), max_states=0)
    with pytest.raises(ModelError, match="duplicate"):
        explore(Grid(1, [Property("p", ALWAYS, never), Property("p", SOMETIMES, never)]))
    with pytest.raises(ModelError, match="no initial state"):
        explore(Graph([], {}))


def test_progress_is_reported_every_so_many_states() -> None:
    calls: list[tuple[int, int]] = []
    result = explore(Grid(250), progress=lambda states, depth: calls.append((states, depth)))
    assert result.states == 251 * 251
    assert len(calls) == result.states // PROGRESS_EVERY
    assert all(states > PROGRESS_EVERY for states, _ in calls)


# ------------------------------------------------------------------------------------------------ always


def test_always_violation_is_shortest_and_replays() -> None:
    prop = Property[Cell]("not_two_two", ALWAYS, lambda s: s != (2, 2), spec="INV-G1")
    model = Grid(3, [prop])
    result = explore(model)
    assert len(result.violations) == 1
    violation = result.violations[0]
    assert (violation.property_name, violation.kind, violation.spec) == ("not_two_two", "always", "INV-G1")
    assert violation.depth == 4
    assert violation.cycle_start is None
    # BFS with actions in model order: the first discoverer of each state is its parent.
    assert [step.action for step in violation.path] == [None, "inc_a", "inc_a", "inc_b", "inc_b"]
    assert violation.path[-1].state == (2, 2)
    replay(model, violation.path)
    assert result.status == "bounded"
    assert result.stopped_at_violation
    assert result.verdict() == "violation: not_two_two (always, INV-G1), 4-step counterexample"


def test_bfs_prefers_the_short_route_listed_second() -> None:
    edges = {
        "s0": [("long", "l1"), ("short", "bad")],
        "l1": [("step", "l2")],
        "l2": [("step", "bad")],
    }
    model = Graph(
        ["s0"], edges, final=["bad"], properties=[Property("not_bad", ALWAYS, lambda s: s != "bad")]
    )
    violation = explore(model).violations[0]
    assert [step.state for step in violation.path] == ["s0", "bad"]


def test_violation_in_an_initial_state() -> None:
    model = Grid(2, [Property[Cell]("nonzero", ALWAYS, lambda s: s != (0, 0))])
    violation = explore(model).violations[0]
    assert violation.path == (Step(0, None, (0, 0)),)


def test_without_stopping_each_property_reports_its_own_shortest_violation() -> None:
    props = [
        Property[Cell]("a_below_3", ALWAYS, lambda s: s[0] < 3),
        Property[Cell]("b_below_1", ALWAYS, lambda s: s[1] < 1),
        Property[Cell]("sum_below_9", ALWAYS, lambda s: s[0] + s[1] < 9),
    ]
    model = Grid(3, props)
    result = explore(model, stop_at_first_violation=False)
    assert [v.property_name for v in result.violations] == ["b_below_1", "a_below_3"]
    assert [v.depth for v in result.violations] == [1, 3]
    for violation in result.violations:
        replay(model, violation.path)
    assert result.status == "complete"
    assert result.states == 16


# ---------------------------------------------------------------------------------------------- deadlock

DEADLOCK_EDGES = {
    "start": [("work", "busy"), ("halt", "stuck")],
    "busy": [("finish", "done")],
}


def test_deadlock_is_reported_with_its_path() -> None:
    model = Graph(["start"], DEADLOCK_EDGES, final=["done"])
    result = explore(model)
    assert len(result.violations) == 1
    violation = result.violations[0]
    assert violation.kind == "deadlock"
    assert [(step.action, step.state) for step in violation.path] == [(None, "start"), ("halt", "stuck")]
    replay(model, violation.path)


def test_final_states_without_actions_are_not_deadlocks() -> None:
    result = explore(Graph(["start"], DEADLOCK_EDGES, final=["done", "stuck"]))
    assert result.violations == ()
    assert result.status == "complete"
    assert (result.states, result.transitions) == (4, 3)


def test_deadlock_check_can_be_switched_off() -> None:
    result = explore(Graph(["start"], DEADLOCK_EDGES, final=["done"]), check_deadlock=False)
    assert result.violations == ()


# --------------------------------------------------------------------------------------------- sometimes


def test_sometimes_witnessed_and_unwitnessed() -> None:
    props = [
        Property[Cell]("corner", SOMETIMES, lambda s: s == (3, 3)),
        Property[Cell]("diagonal_one", SOMETIMES, lambda s: s == (1, 1)),
        Property[Cell]("overflow", SOMETIMES, lambda s: s[0] > 3),
    ]
    model = Grid(3, props)
    result = explore(model)
    assert result.witnessed == {"corner": 6, "diagonal_one": 2}
    assert result.unwitnessed == ("overflow",)
    replay(model, result.witness_paths["corner"])
    assert result.witness_paths["corner"][-1].state == (3, 3)
    assert result.verdict() == "complete: no violation (16 states); never witnessed: overflow"


def test_sometimes_unwitnessed_within_bounds_is_not_conclusive() -> None:
    props = [Property[Cell]("corner", SOMETIMES, lambda s: s == (3, 3))]
    result = explore(Grid(3, props), max_depth=4)
    assert result.unwitnessed == ("corner",)
    assert result.verdict() == "no violation within bounds(depth=4); not witnessed within bounds: corner"


# -------------------------------------------------------------------------------------------- eventually


def test_eventually_violated_by_a_terminal_state() -> None:
    edges = {"s0": [("left", "dead_end"), ("right", "goal")]}
    model = Graph(
        ["s0"],
        edges,
        final=["dead_end", "goal"],
        properties=[Property("reach_goal", EVENTUALLY, lambda s: s == "goal")],
    )
    result = explore(model)
    assert len(result.violations) == 1
    violation = result.violations[0]
    assert (violation.kind, violation.cycle_start) == ("eventually", None)
    assert [step.state for step in violation.path] == ["s0", "dead_end"]


def test_eventually_violated_by_a_fair_cycle() -> None:
    # "finish" is enabled in s1 but not in s2, so it is not continuously enabled on the s1 <-> s2 loop.
    edges = {
        "s0": [("go", "s1")],
        "s1": [("loop", "s2"), ("finish", "goal")],
        "s2": [("loop", "s1")],
    }
    model = Graph(
        ["s0"],
        edges,
        final=["goal"],
        properties=[Property("reach_goal", EVENTUALLY, lambda s: s == "goal", spec="LIV-1")],
    )
    result = explore(model)
    assert len(result.violations) == 1
    violation = result.violations[0]
    assert (violation.kind, violation.spec) == ("eventually", "LIV-1")
    assert [step.state for step in violation.path] == ["s0", "s1", "s2"]
    assert violation.cycle_start == 1
    assert violation.loop_action == "loop"
    assert_weakly_fair_lasso(model, violation)


def test_eventually_not_violated_by_an_unfair_spin() -> None:
    # Spinning forever would starve "exit", which stays enabled: weak fairness rules that run out.
    edges = {"s0": [("spin", "s0"), ("exit", "goal")]}
    model = Graph(
        ["s0"], edges, final=["goal"], properties=[Property("reach_goal", EVENTUALLY, lambda s: s == "goal")]
    )
    result = explore(model)
    assert result.violations == ()
    assert result.status == "complete"


def test_spin_with_an_exit_to_a_dead_end_is_a_terminal_violation() -> None:
    edges = {"s0": [("spin", "s0"), ("exit", "stop")]}
    model = Graph(["s0"], edges, final=["stop"], properties=[Property("reach_goal", EVENTUALLY, never)])
    violation = explore(model).violations[0]
    assert violation.cycle_start is None
    assert [step.state for step in violation.path] == ["s0", "stop"]


def test_lasso_takes_every_continuously_enabled_action() -> None:
    # The shortest cycle is the "y" self-loop on A, but "x" is enabled in A and would be starved:
    # the reported cycle must also take x (A -x-> B -x-> A).
    edges = {"A": [("x", "B"), ("y", "A")], "B": [("x", "A")]}
    model = Graph(["A"], edges, properties=[Property("never", EVENTUALLY, never)])
    violation = explore(model).violations[0]
    assert violation.cycle_start == 0
    assert_weakly_fair_lasso(model, violation)
    assert [step.action for step in violation.path] == [None, "y", "x"]
    assert violation.loop_action == "x"


def test_lasso_visits_a_state_that_disables_a_starved_action() -> None:
    # From A the shortest cycle is the "spin" self-loop, on which "leave" (enabled only in A) would be
    # continuously enabled and never taken; a fair cycle must pass through B, where "leave" is disabled.
    edges = {"A": [("spin", "A"), ("leave", "out"), ("to_b", "B")], "B": [("to_a", "A")], "out": []}
    model = Graph(
        ["A"], edges, final=["out"], properties=[Property("reach_out", EVENTUALLY, lambda s: s == "out")]
    )
    violation = explore(model).violations[0]
    assert_weakly_fair_lasso(model, violation)
    assert "B" in [step.state for step in violation.path]


def test_eventually_satisfied_once_is_satisfied_for_good() -> None:
    # Every run passes through "goal" first; the unfair-looking loop after it does not matter.
    edges = {"s0": [("go", "goal")], "goal": [("on", "s1")], "s1": [("loop", "s2")], "s2": [("loop", "s1")]}
    model = Graph(["s0"], edges, properties=[Property("reach_goal", EVENTUALLY, lambda s: s == "goal")])
    assert explore(model).violations == ()


def test_eventually_prefix_avoids_states_where_it_holds() -> None:
    # BFS reaches "t" first through "goal", but that run is satisfied; the violating run goes via "m".
    edges = {"s0": [("a", "goal"), ("c", "m")], "goal": [("b", "t")], "m": [("d", "t")]}
    model = Graph(
        ["s0"], edges, final=["t"], properties=[Property("reach_goal", EVENTUALLY, lambda s: s == "goal")]
    )
    violation = explore(model).violations[0]
    assert [(step.action, step.state) for step in violation.path] == [(None, "s0"), ("c", "m"), ("d", "t")]
    replay(model, violation.path)


def test_eventually_holding_on_all_paths() -> None:
    corner = Property[Cell]("reach_corner", EVENTUALLY, lambda s: s == (3, 3))
    result = explore(Grid(3, [corner]))
    assert result.violations == ()
    assert result.status == "complete"


def test_eventually_is_not_refuted_at_the_depth_frontier() -> None:
    # Frontier states have successors that were cut, so they are neither terminal nor on a cycle.
    corner = Property[Cell]("reach_corner", EVENTUALLY, lambda s: s == (3, 3))
    result = explore(Grid(3, [corner]), max_depth=3)
    assert result.violations == ()
    assert result.status == "bounded"


def test_liveness_and_safety_collected_together() -> None:
    edges = {"s0": [("go", "s1"), ("halt", "stuck")], "s1": [("back", "s0")]}
    props = [
        Property[str]("not_s1", ALWAYS, lambda s: s != "s1"),
        Property[str]("reach_goal", EVENTUALLY, never),
    ]
    result = explore(Graph(["s0"], edges, properties=props), stop_at_first_violation=False)
    assert [(v.property_name, v.kind) for v in result.violations] == [
        ("not_s1", "always"),
        ("deadlock", "deadlock"),
        ("reach_goal", "eventually"),
    ]
    # The shallowest failure wins: the SCC {s0, s1} is entered at depth 0, the dead end is at depth 1.
    assert result.violations[2].cycle_start == 0


def test_long_cycle_needs_no_recursion() -> None:
    # A ring far longer than Python's recursion limit: the SCC pass and the lasso must be iterative.
    size = 5 * sys.getrecursionlimit()
    edges = {f"r{i}": [("next", f"r{(i + 1) % size}")] for i in range(size)}
    model = Graph(["r0"], edges, properties=[Property("never", EVENTUALLY, never)])
    violation = explore(model).violations[0]
    assert violation.cycle_start == 0
    assert len(violation.path) == size
    assert_weakly_fair_lasso(model, violation)


# ----------------------------------------------------------------------------------------------- classic

PETERSON_PROPS = [
    Property[Peterson]("mutex", ALWAYS, lambda s: not (s[0] == 3 and s[1] == 3), spec="MUTEX"),
    Property[Peterson]("p0_critical", SOMETIMES, lambda s: s[0] == 3),
    Property[Peterson]("p0_enters", EVENTUALLY, lambda s: s[0] == 3, spec="STARVATION-FREE"),
]
PETERSON_CANDIDATES: list[Peterson] = [
    (pc0, pc1, flag0, flag1, turn)
    for pc0, pc1, flag0, flag1, turn in itertools.product(range(4), range(4), range(2), range(2), range(2))
]


def test_peterson_state_count_matches_brute_force() -> None:
    model = PetersonModel(PETERSON_PROPS)
    reachable = brute_force_reachable(model, PETERSON_CANDIDATES)
    result = explore(model)
    assert result.status == "complete"
    assert result.states == len(reachable)
    assert result.transitions == 2 * len(reachable)  # both processes can always take a step (maybe a spin)
    assert result.violations == ()
    assert result.unwitnessed == ()


def test_naive_flags_livelock_is_a_fair_cycle() -> None:
    model = PetersonModel(PETERSON_PROPS, naive=True)
    result = explore(model)
    assert len(result.violations) == 1
    violation = result.violations[0]
    assert violation.property_name == "p0_enters"
    assert_weakly_fair_lasso(model, violation)
    pc0, pc1, flag0, flag1, _ = violation.path[-1].state
    assert (pc0, pc1, flag0, flag1) == (2, 2, 1, 1)


# ------------------------------------------------------------------------------------------- determinism


def test_two_runs_are_identical() -> None:
    model = PetersonModel(PETERSON_PROPS, naive=True)
    first, second = explore(model), explore(model)
    assert without_time(first) == without_time(second)
    render = [
        format_violation(model, v, engine="explorer", bounds="complete", replay_command=None)
        for v in first.violations
    ]
    assert render == [
        format_violation(model, v, engine="explorer", bounds="complete", replay_command=None)
        for v in second.violations
    ]


def test_output_is_identical_across_hash_seeds() -> None:
    script = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('explorer_tests', {str(Path(__file__))!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "sys.stdout.write(module.token_reports())\n"
    )
    repo_root = Path(__file__).resolve().parent.parent
    outputs = []
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        completed = subprocess.run(
            [sys.executable, "-c", script],
            cwd=repo_root,
            env=env,
            capture_output=True,
            check=True,
            timeout=120,
        )
        outputs.append(completed.stdout)
    assert outputs[0] == outputs[1] == outputs[2]
    text = outputs[0].decode()
    assert text == token_reports()
    # The run found both kinds of counterexample, so the comparison covers the SCC/lasso code too.
    assert "<- cycle starts" in text
    assert "fewer_than_three" in text


# ------------------------------------------------------------------------------------------------ golden

GOLDEN_ALWAYS = """\
property: not_one_one
kind:     always
spec:     INV-G2
engine:   explorer
bounds:   bounded(stop=first-violation)

step  action     state
----  ---------  -------
   0  (initial)  a=0 b=0
   1  inc_a      a=1 b=0
   2  inc_b      a=1 b=1

final state: a=1 b=1
replay: ptocheck explore grid --n 2
"""

GOLDEN_LASSO = """\
property: reach_goal
kind:     eventually
spec:     LIV-1
engine:   explorer
bounds:   complete

step  action     state
----  ---------  -----
   0  (initial)  s0
   1  go         s1     <- cycle starts
   2  loop       s2
      loop       (back to step 1)

final state: s2
"""


def test_golden_always_report() -> None:
    model = Grid(2, [Property[Cell]("not_one_one", ALWAYS, lambda s: s != (1, 1), spec="INV-G2")])
    result = explore(model)
    text = format_violation(
        model,
        result.violations[0],
        engine="explorer",
        bounds=result.bounds_text(),
        replay_command="ptocheck explore grid --n 2",
    )
    assert text == GOLDEN_ALWAYS


def test_golden_lasso_report() -> None:
    edges = {
        "s0": [("go", "s1")],
        "s1": [("loop", "s2"), ("finish", "goal")],
        "s2": [("loop", "s1")],
    }
    model = Graph(
        ["s0"],
        edges,
        final=["goal"],
        properties=[Property("reach_goal", EVENTUALLY, lambda s: s == "goal", spec="LIV-1")],
    )
    result = explore(model)
    text = format_violation(
        model, result.violations[0], engine="explorer", bounds=result.bounds_text(), replay_command=None
    )
    assert text == GOLDEN_LASSO


def test_report_rejects_an_empty_path() -> None:
    empty: Violation[Cell, str] = Violation("p", "always", "", ())
    with pytest.raises(ModelError):
        format_violation(Grid(1), empty, engine="explorer", bounds="complete", replay_command=None)


# ------------------------------------------------------------------------------------------- reductions


class HookedGraph(Graph):
    """A Graph offering both reduction hooks: `safe[state]` lists safe actions, `canon` maps states."""

    def __init__(
        self,
        initial: Sequence[str],
        edges: dict[str, list[tuple[str, str]]],
        *,
        safe: dict[str, list[str]] | None = None,
        canon: dict[str, str] | None = None,
        final: Sequence[str] = (),
        properties: Sequence[Property[str]] = (),
    ) -> None:
        super().__init__(initial, edges, final, properties)
        self._safe = safe or {}
        self._canon = canon or {}

    def safe_actions(self, state: str, enabled: Sequence[str]) -> list[str]:
        return list(self._safe.get(state, []))

    def canonicalize(self, state: str) -> str:
        return self._canon.get(state, state)


SPIN = {"a": [("spin", "a"), ("go", "b")]}
"""`spin` is a legitimate safe action (it commutes with `go`, which is a sink), so without the cycle
proviso the reduced graph would spin on `a` forever and never reach `b`."""


def test_ample_cycle_proviso_expands_a_state_whose_safe_successor_is_not_new() -> None:
    reach_b = Property("reach_b", SOMETIMES, lambda s: s == "b")
    model = HookedGraph(["a"], SPIN, safe={"a": ["spin"]}, final=["b"], properties=[reach_b])
    result = explore(model, reduction="ample")
    assert result.complete and result.states == 2 and result.witnessed == {"reach_b": 1}
    assert result.reduction_stats == {"ample": 0, "proviso": 1}


def test_ample_refuses_eventually_on_a_reduced_graph_with_a_cycle() -> None:
    reach_b = Property("reach_b", EVENTUALLY, lambda s: s == "b")
    model = HookedGraph(["a"], SPIN, safe={"a": ["spin"]}, final=["b"], properties=[reach_b])
    assert not explore(model, reduction="none").violations  # the spin alone is not weakly fair
    with pytest.raises(ModelError, match="cycle"):
        explore(model, reduction="ample")


class IndependentCounters(Grid):
    """Grid whose `inc_a` steps are safe (nothing reads `a`); (n, n) is a deadlock, not final."""

    def safe_actions(self, state: Cell, enabled: Sequence[str]) -> list[str]:
        return ["inc_a"] if "inc_a" in enabled else []

    def is_final(self, state: Cell) -> bool:
        return False


def test_ample_keeps_deadlocks_violations_and_witnesses_with_fewer_states() -> None:
    props = [
        Property[Cell]("b_below_2", ALWAYS, lambda s: s[1] < 2),
        Property[Cell]("b_is_1", SOMETIMES, lambda s: s[1] == 1),
    ]
    full = explore(IndependentCounters(2, props), stop_at_first_violation=False)
    reduced = explore(IndependentCounters(2, props), stop_at_first_violation=False, reduction="ample")
    assert (full.states, reduced.states) == (9, 5)
    assert [v.property_name for v in full.violations] == [v.property_name for v in reduced.violations]
    assert [v.property_name for v in reduced.violations] == ["b_below_2", "deadlock"]
    assert set(full.witnessed) == set(reduced.witnessed) == {"b_is_1"}
    assert reduced.reduction == "ample" and reduced.reduction_stats == {"ample": 2, "proviso": 0}
    assert "reduction ample" in reduced.summary_line() and "reduction" not in full.summary_line()
    for violation in reduced.violations:
        replay(IndependentCounters(2, props), violation.path)
    check = check_reduction_conditions(IndependentCounters(2, props))
    assert check.complete and check.safe_checked == 6 and not check.problems


History = tuple[int, int, str]


class GridWithHistory:
    """Grid whose states also record the last action taken, which nothing ever reads."""

    def __init__(self, n: int, properties: Sequence[Property[History]] = (), forget_b: bool = False) -> None:
        self.n = n
        self._properties = list(properties)
        self.forget_b = forget_b  # a wrong canonicalization that also drops b

    def initial_states(self) -> Sequence[History]:
        return [(0, 0, "")]

    def actions(self, state: History) -> Sequence[str]:
        return Grid(self.n).actions(state[:2])

    def next_state(self, state: History, action: str) -> History:
        a, b = Grid(self.n).next_state(state[:2], action)
        return (a, b, action)

    def canonicalize(self, state: History) -> History:
        return (state[0], 0 if self.forget_b else state[1], "")

    def properties(self) -> Sequence[Property[History]]:
        return self._properties

    def is_final(self, state: History) -> bool:
        return state[:2] == (self.n, self.n)

    def format_action(self, action: str) -> str:
        return action

    def format_state(self, state: History) -> str:
        return f"a={state[0]} b={state[1]} last={state[2] or '-'}"


def test_canonical_explores_the_exact_quotient_with_the_same_shortest_counterexample() -> None:
    props = [Property[History]("not_two_one", ALWAYS, lambda s: s[:2] != (2, 1))]
    full = explore(GridWithHistory(3, props))
    reduced = explore(GridWithHistory(3, props), reduction="canonical")
    assert full.states > reduced.states
    assert full.violations[0].depth == reduced.violations[0].depth == 3
    path = [step.action for step in reduced.violations[0].path[1:]]
    state = GridWithHistory(3).initial_states()[0]
    for action in path:
        state = GridWithHistory(3).next_state(state, action)
    assert not props[0].holds(state)  # the action sequence replays on the real model
    complete = explore(GridWithHistory(3), reduction="canonical")
    assert complete.complete and complete.states == 16


def test_check_reduction_conditions_accepts_a_sound_hook_and_reports_unsound_ones() -> None:
    props = [Property[History]("b_small", ALWAYS, lambda s: s[1] < 2)]
    sound = check_reduction_conditions(GridWithHistory(2, props))
    assert sound.complete and sound.canonical_differs > 0 and not sound.problems
    wrong = check_reduction_conditions(GridWithHistory(2, props, forget_b=True))
    assert any("differs on the canonical form" in p for p in wrong.problems)
    assert any("enables different actions" in p for p in wrong.problems)
    not_b = Property("not_b", ALWAYS, lambda s: s != "b")
    visible = check_reduction_conditions(
        HookedGraph(["a"], {"a": [("x", "b")]}, safe={"a": ["x"]}, properties=[not_b])
    )
    assert visible.problems == ("state 0: safe action x changes property not_b",)
    racing = {"a": [("x", "b"), ("y", "c")], "b": [("y", "d")], "c": [("x", "e")]}
    conflict = check_reduction_conditions(HookedGraph(["a"], racing, safe={"a": ["x"]}))
    assert conflict.problems[0] == "state 0: safe action x does not commute with y"


def test_reduction_misuse_is_rejected() -> None:
    assert REDUCTIONS == ("none", "canonical", "ample", "canonical+ample")
    with pytest.raises(ModelError, match="unknown reduction"):
        explore(Grid(1), reduction="fast")
    with pytest.raises(ModelError, match=r"canonicalize.*'none'"):
        explore(Grid(1), reduction="canonical")
    with pytest.raises(ModelError, match="safe_actions"):
        explore(GridWithHistory(1), reduction="canonical+ample")
    assert supported_reduction(Grid(1)) == "none"
    assert supported_reduction(GridWithHistory(1)) == "canonical"
    assert supported_reduction(IndependentCounters(1)) == "ample"
    bogus = HookedGraph(["a"], {"a": [("x", "b"), ("y", "c")]}, safe={"a": ["z"]})
    with pytest.raises(ModelError, match="not enabled"):
        explore(bogus, reduction="ample")
