"""Hypothesis properties of the reference model over generated scenarios.

* Bounded exhaustive exploration of small generated scenarios violates no ALWAYS invariant except the
  registered findings (`properties/findings.py`): an unregistered violation fails with its step table
  and the scenario JSON; a registered one is reported as known (a Hypothesis event), never xfailed.
* Where the program alone decides the outcome (INV-S6 holds, no stale tensor, see
  `properties.sizing.static_outcome`), no other fatal is reachable within bounds and every run that
  ends, ends that way (flow-control progress).
* Hypothesis chooses the action at every step of a run (so it shrinks schedules too): the invariants hold
  on every state of larger generated and paged-attention scenarios.
* The TensorMap overlap test is sound against element sets (INV-T4).
* Shrinking yields small counterexamples (few tasks, few scopes).

Budgets are counts: examples (scaled by the Hypothesis profile), explored states, walk steps.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import currently_in_test_context, event, find, given, note, settings
from hypothesis import strategies as st

from model.explorer import ExploreResult, Step, Violation, explore
from model.overlap import Overlap, View, check_overlap
from model.protocol import Property, PropertyKind
from model.report import format_violation
from model.scenario import (
    Buffer,
    Constants,
    FatalCode,
    Op,
    Region,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    ScopeMode,
    Submit,
    dump_scenario,
    load_scenario,
)
from model.trb_model import S_FATAL, S_TASKS, T_EDGES, Action, State, TrbModel
from properties.artifacts import (
    FAILURE_DIR_ENV,
    Artifact,
    Signature,
    failure_dir,
    load_artifact,
    save_artifact,
)
from properties.features import region_elements
from properties.findings import (
    FINDINGS,
    Finding,
    load_model_artifact,
    model_property_finding,
    replay_model_path,
)
from properties.replay import replay_model_artifact
from properties.sizing import TENSORMAP, check_sizing, stale_tensor_uses, static_outcome
from properties.strategies import (
    SMALL_LIMITS,
    ProgramLimits,
    draw_action_index,
    paged_attention_scenarios,
    programs,
    region_pairs,
    scenarios,
)
from tests.conftest import REPO_ROOT, hypothesis_examples

STATE_BOUND = 5_000  # distinct states per bounded exploration
WALK_STEPS = 600  # actions per Hypothesis-scheduled run


class Restricted:
    """A model seen through a chosen list of properties (the explorer checks exactly those)."""

    def __init__(self, model: TrbModel, properties: Sequence[Property[State]]) -> None:
        self.model = model
        self._properties = list(properties)

    def initial_states(self) -> Sequence[State]:
        return self.model.initial_states()

    def actions(self, state: State) -> Sequence[Action]:
        return self.model.actions(state)

    def next_state(self, state: State, action: Action) -> State:
        return self.model.next_state(state, action)

    def properties(self) -> Sequence[Property[State]]:
        return self._properties

    def is_final(self, state: State) -> bool:
        return self.model.is_final(state)

    def format_action(self, action: Action) -> str:
        return self.model.format_action(action)

    def format_state(self, state: State) -> str:
        return self.model.format_state(state)


def _always(model: TrbModel) -> list[Property[State]]:
    return [p for p in model.properties() if p.kind is PropertyKind.ALWAYS]


def known_finding(scenario: Scenario, property_name: str) -> Finding | None:
    return model_property_finding(scenario, property_name)


def save_failure_artifact(
    scenario: Scenario,
    violation: Violation[Any, Any],
    engine: str,
    bounds: str,
    directory: Path | None = None,
) -> Path:
    """Write a `model-path` artifact that `ptocheck replay` re-executes strictly; returns its path."""
    # A fatal other than the decided one is a terminal state where the outcome property never held.
    prop = "expected_outcome" if violation.property_name == "no_unexpected_fatal" else violation.property_name
    extra: dict[str, Any] = {}
    if violation.cycle_start is not None and violation.loop_action is not None:
        extra = {"cycle_start": violation.cycle_start, "loop_action": list(violation.loop_action)}
    artifact = Artifact(
        kind="model-path",
        scenario=scenario,
        signature=Signature(scenario.runtime, prop, "reference model"),
        message=f"{violation.property_name} ({violation.kind}) violated",
        engine=engine,
        seed=None,
        bounds=bounds,
        command="pytest tests/test_model_properties.py",
        actions=tuple(step.action for step in violation.path[1:]),
        extra=extra,
    )
    digest = hashlib.sha256(dump_scenario(scenario).encode() + repr(artifact.actions).encode()).hexdigest()[
        :12
    ]
    path = (directory or failure_dir()) / f"{prop}-{digest}.json"
    save_artifact(path, artifact)
    return path


def _fail_unknown(
    scenario: Scenario, model: TrbModel, violations: Sequence[Violation[Any, Any]], engine: str, bounds: str
) -> None:
    """Report registered violations as known; fail on any other with its step table, the scenario and a
    saved artifact to replay."""
    unknown = []
    for violation in violations:
        finding = known_finding(scenario, violation.property_name)
        if finding is not None:
            if currently_in_test_context():
                event(f"known finding {finding.ident} ({violation.property_name})")
        else:
            unknown.append(violation)
    if unknown:
        parts = []
        for v in unknown:
            path = save_failure_artifact(scenario, v, engine, bounds)
            report = format_violation(
                model, v, engine=engine, bounds=bounds, replay_command=f"ptocheck replay {path}"
            )
            parts.append(report)
        pytest.fail(
            f"unregistered violation(s): {[v.property_name for v in unknown]}\n" + "\n".join(parts) + "\n"
            f"scenario (to keep it, save it under tests/regressions/):\n{dump_scenario(scenario)}"
        )


def _bounded(result: ExploreResult[Any, Any]) -> str:
    if currently_in_test_context():
        note(f"exploration: {result.summary_line()}")
    return result.bounds_text()


# ------------------------------------------------------------------------------ bounded exploration


@settings(max_examples=hypothesis_examples(30))
@given(scenarios(SMALL_LIMITS))
def test_bounded_exploration_violates_only_registered_findings(scenario: Scenario) -> None:
    model = TrbModel(scenario)
    result = explore(Restricted(model, _always(model)), max_states=STATE_BOUND, stop_at_first_violation=False)
    _fail_unknown(scenario, model, result.violations, "bounded BFS (reference model)", _bounded(result))


@settings(max_examples=hypothesis_examples(20))
@given(scenarios(SMALL_LIMITS, sizing="within"))
def test_flow_control_progress_where_the_sizing_rules_hold(scenario: Scenario) -> None:
    """INV-S6 is sufficient: where it holds the only reachable fatal is the one the program asks for,
    and every run that ends within the bounds ends with the expected outcome."""
    expected = static_outcome(scenario)
    if expected is None:  # INV-S6 fails (a window or scope rule) or a stale tensor: nothing promised
        event("outcome undecided: progress not asserted")
        return
    model = TrbModel(scenario)
    allowed = 0 if expected.fatal is None else int(expected.fatal)
    no_other_fatal: Property[State] = Property(
        "no_unexpected_fatal",
        PropertyKind.ALWAYS,
        lambda s: s[S_FATAL] in (0, allowed),
        "INV-S6",
        f"no fatal but {expected.label}",
    )
    outcome = [p for p in model.properties() if p.kind is PropertyKind.EVENTUALLY]
    result = explore(
        Restricted(model, [no_other_fatal, *outcome]), max_states=STATE_BOUND, stop_at_first_violation=False
    )
    _fail_unknown(scenario, model, result.violations, "bounded BFS (reference model)", _bounded(result))


# ------------------------------------------------------------------------------ Hypothesis-scheduled runs


def _scheduled_run(scenario: Scenario, data: st.DataObject) -> None:
    """One run whose every choice Hypothesis makes; ALWAYS invariants on every state, and the decided
    outcome when the run ends."""
    model = TrbModel(scenario)
    always = _always(model)
    state = model.initial_states()[0]
    path: list[tuple[Action, State]] = []
    hit_known = False
    for _step in range(WALK_STEPS):
        failing = [p for p in always if not p.holds(state)]
        if failing:
            violations = [Violation(p.name, "always", p.spec, _as_steps(model, path)) for p in failing]
            _fail_unknown(scenario, model, violations, "Hypothesis-scheduled run", f"steps={WALK_STEPS}")
            hit_known = True
            break  # past a registered violation the run shows nothing new
        enabled = model.actions(state)
        if not enabled:
            break
        action = enabled[draw_action_index(data, len(enabled))]
        state = model.next_state(state, action)
        path.append((action, state))
    if hit_known or model.actions(state):
        return
    expected = static_outcome(scenario)
    if expected is not None:
        reached = state[S_FATAL]
        ok = (
            reached == int(expected.fatal)
            if expected.fatal is not None
            else (not reached and model.is_final(state))
        )
        if not ok:
            got = FatalCode(reached).name if reached else "no fatal, not every task consumed"
            violation: Violation[Any, Any] = Violation(
                "expected_outcome", "eventually", "INV-E2", _as_steps(model, path)
            )
            _fail_unknown(scenario, model, [violation], "Hypothesis-scheduled run", f"ended: {got}")


def _as_steps(model: TrbModel, path: list[tuple[Action, State]]) -> tuple[Step[State, Action], ...]:
    first = model.initial_states()[0]
    return (Step(0, None, first), *(Step(i + 1, a, s) for i, (a, s) in enumerate(path)))


@settings(max_examples=hypothesis_examples(40))
@given(scenarios(), st.data())
def test_hypothesis_scheduled_runs_keep_the_invariants(scenario: Scenario, data: st.DataObject) -> None:
    _scheduled_run(scenario, data)


@settings(max_examples=hypothesis_examples(12))
@given(paged_attention_scenarios(max_batch=2, max_blocks=2), st.data())
def test_hypothesis_scheduled_paged_attention_runs_keep_the_invariants(
    scenario: Scenario, data: st.DataObject
) -> None:
    _scheduled_run(scenario, data)


# ------------------------------------------------------------------------------ overlap soundness


def _view(buffer: Buffer, region: Region) -> View:
    return View(
        region.offset,
        region.shape,
        region.strides,
        region.dtype or buffer.dtype,
        region.version,
        buffer.numel,
    )


@settings(max_examples=hypothesis_examples(150))
@given(region_pairs())
def test_overlap_classes_are_sound_against_element_sets(pair: tuple[Buffer, Region, Region]) -> None:
    """INV-T4: NO_OVERLAP only for disjoint element sets, COVERED only when the input contains the entry."""
    buffer, entry, lookup = pair
    got = check_overlap(_view(buffer, lookup), _view(buffer, entry))
    mine, theirs = region_elements(lookup), region_elements(entry)
    event(f"check_overlap: {got.name}")
    if got is Overlap.NO_OVERLAP:
        assert mine.isdisjoint(theirs)
    elif got is Overlap.COVERED:
        assert theirs <= mine


# ------------------------------------------------------------------------------ shrinking


def _ring3_spmd(program: tuple[tuple[Buffer, ...], tuple[Op, ...]]) -> bool:
    depth = 0
    for op in program[1]:
        depth += 1 if isinstance(op, ScopeBegin) else -1 if isinstance(op, ScopeEnd) else 0
        if isinstance(op, Submit) and depth >= 3 and op.block_num > 1:
            return True
    return False


SHRINK_LIMITS = ProgramLimits(
    max_tasks=3,
    max_args=1,
    max_external_buffers=1,
    max_deps=1,
    tensor_data=False,
    stale_tensor_uses=False,
    scope_overflow=False,
)


def test_shrinking_gives_a_small_program() -> None:
    """A counterexample needing an SPMD task on ring 3 shrinks to at most two one-argument tasks under
    at most four AUTO scopes (from up to 3 tasks, 3 scopes deep, MANUAL scopes, deps and loops)."""
    _externals, program = find(
        programs((4, 4, 4, 4), SHRINK_LIMITS),
        _ring3_spmd,
        settings=settings(max_examples=500, derandomize=True, database=None, deadline=None),
    )
    tasks = [op for op in program if isinstance(op, Submit)]
    scopes = [op for op in program if isinstance(op, ScopeBegin)]
    assert len(tasks) <= 2 and len(scopes) <= 4, program
    assert all(s.mode is ScopeMode.AUTO for s in scopes) and all(
        len(t.args) <= 1 and not t.deps for t in tasks
    )
    assert max(t.block_num for t in tasks) == 2


# ------------------------------------------------------------------------------ regressions found here

REGRESSIONS = REPO_ROOT / "tests" / "regressions"


def _terminal_states(model: TrbModel, scenario: Scenario) -> list[State]:
    out, seen, todo = [], set(), list(model.initial_states())
    while todo:
        state = todo.pop()
        if state in seen:
            continue
        seen.add(state)
        enabled = model.actions(state)
        if not enabled:
            out.append(state)
        todo.extend(model.next_state(state, a) for a in enabled)
    return out


def test_stale_owner_in_the_consumers_own_slot_makes_it_wait_for_itself() -> None:
    """FINDING (outside the documented tensor lifetime): a creator edge to a retired owner whose slot is
    the consumer's own passes the generation check (the descriptor names the owner until STEP 5) and
    links the consumer to itself; every run ends in SCHEDULER_TIMEOUT instead of completing."""
    scenario = load_scenario(REGRESSIONS / "stale_owner_own_slot.json")
    assert stale_tensor_uses(scenario) == ["t4"] and static_outcome(scenario) is None
    model = TrbModel(scenario)
    ends = _terminal_states(model, scenario)
    assert {s[S_FATAL] for s in ends} == {int(FatalCode.SCHEDULER_TIMEOUT)}
    t4 = next(t.index for t in model.info.tasks if t.name == "t4")
    assert all(t4 in {p for p, _f, _ph in s[S_TASKS][t4][T_EDGES]} for s in ends)


def test_tensormap_reserve_after_claims_needs_the_producers_counted() -> None:
    """Spec INV-S6 counts only scope-pinned tasks; the TensorMap reserve at O7 waits while the submit
    holds claims on its producers, so a pool the pinned count says is enough can overflow."""
    scenario = load_scenario(REGRESSIONS / "tensormap_reserve_holds_claims.json")
    assert TENSORMAP in check_sizing(scenario).failing_rules()
    model = TrbModel(scenario)
    fatals = {s[S_FATAL] for s in _terminal_states(model, scenario)}
    assert fatals == {0, int(FatalCode.TENSORMAP_OVERFLOW)}
    bigger = scenario.with_config(constants=Constants(tensormap_pool_size=2))
    assert check_sizing(bigger).inv_s6
    assert {s[S_FATAL] for s in _terminal_states(TrbModel(bigger), bigger)} == {0}


def test_a_failure_artifact_replays_strictly(tmp_path: Path) -> None:
    """The artifact an unregistered violation would save reproduces under `ptocheck replay`."""
    scenario = load_scenario(REGRESSIONS / "tensormap_reserve_holds_claims.json")
    model = TrbModel(scenario)
    outcome = [p for p in model.properties() if p.kind is PropertyKind.EVENTUALLY]
    (violation,) = explore(Restricted(model, outcome)).violations
    path = save_failure_artifact(scenario, violation, "bfs", "complete", tmp_path)
    replayed = replay_model_artifact(load_artifact(path), f"ptocheck replay {path}")
    assert replayed.reproduced and "TENSORMAP_OVERFLOW" in replayed.report


def test_unregistered_violations_fail_and_registered_ones_are_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAILURE_DIR_ENV, str(tmp_path))
    r7 = FINDINGS[0]
    scenario, actions, _ = load_model_artifact(REPO_ROOT / r7.artifact)
    model = TrbModel(scenario)
    states = replay_model_path(model, actions)
    path = (
        Step(0, None, states[0]),
        *(Step(i + 1, a, s) for i, (a, s) in enumerate(zip(actions, states[1:], strict=True))),
    )
    known = Violation(r7.property_name, "always", r7.spec, path)
    _fail_unknown(scenario, model, [known], "replay", "complete")  # registered: no failure
    unknown = Violation("retention", "always", "INV-L4", path)  # same path, a signature nobody registered
    with pytest.raises(
        pytest.fail.Exception, match=r"(?s)unregistered violation\(s\): \['retention'\].*ptocheck replay"
    ):
        _fail_unknown(scenario, model, [unknown], "replay", "complete")
    assert [p.name for p in tmp_path.iterdir()] == [next(tmp_path.iterdir()).name]  # one artifact saved
