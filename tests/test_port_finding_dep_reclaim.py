"""Finding F-PORT-DEP-RECLAIM-ALLOC-MARK (properties/findings.py): the dep pool's reclaim reads the mark of
task la-1, which a hidden alloc task never sets, and spends its cleanup turn anyway; a submit that has
already claimed the task at la then cannot get the entries the consumed tasks freed. The port shows it
(tests/regressions/dep_pool_alloc_mark.json) and the reference model does too
(tests/regressions/dep_pool_alloc_mark_model.json: the port run's abstract views followed on the model)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fuzz.campaigns.known import KNOWN, NEW, classify
from fuzz.campaigns.targets import model_action_function
from model.scenario import (
    Alloc,
    Config,
    Constants,
    ExplicitDep,
    FatalCode,
    OutputSpec,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    Submit,
    validate,
)
from model.trb_model import (
    COMPLETED,
    NONE,
    P_DEP_WAIT,
    R_DLAST,
    R_DTAIL,
    R_LA,
    S_FATAL,
    S_PC,
    S_PHASE,
    S_RINGS,
    S_ROUND,
    S_TASKS,
    T_DMARK,
    T_EDGES,
    T_ST,
    WAIT,
    State,
    TrbModel,
)
from properties.artifacts import Signature, load_artifact
from properties.refinement import check_refinement
from properties.replay import replay_model_artifact, replay_model_path, replay_port_artifact
from runtime.execution import run_once
from tests.conftest import artifact_replay

ARTIFACT = Path(__file__).resolve().parent / "regressions" / "dep_pool_alloc_mark.json"
MODEL_ARTIFACT = Path(__file__).resolve().parent / "regressions" / "dep_pool_alloc_mark_model.json"
TRB = "tensormap_and_ringbuffer"
RING = 2  # the ring of the blocked submit (the program's third scope level)


@pytest.mark.xfail(
    strict=True,
    reason="finding F-PORT-DEP-RECLAIM-ALLOC-MARK (properties/findings.py): DepListPool::reclaim reads the "
    "dep_pool_mark of task la-1, which alloc_tensors never sets, and still sets last_reclaimed = la",
)
def test_the_dep_pool_is_reclaimed_when_consumed_tasks_freed_it() -> None:
    assert not replay_port_artifact(load_artifact(ARTIFACT), "test").reproduced


def test_the_mechanism_is_the_alloc_tasks_mark() -> None:
    """At the fatal: the pool is full, la - 1 is the hidden alloc task with mark 0, reclaim already spent its
    turn at this la, and the task before it has a mark that would have freed entries."""
    artifact, system, scheduler = artifact_replay(ARTIFACT)
    run_once(system, scheduler, [], max_steps=len(scheduler.schedule))
    s, c = system, system.c
    la, top, tail = c[s.R_LA + RING], c[s.DP_TOP + RING], c[s.DP_TAIL + RING]
    assert top - tail == s.dep_cap[RING]  # full
    assert c[s.DP_LAST + RING] == la  # reclaim ran at this la and cannot run again before la + interval
    slot = {c[s.D_LOCAL + g]: g for g in range(s.n_slots) if s.slot_ring[g] == RING}
    alloc_name = s.plan.tasks[s.task_of_slot(slot[la - 1])].name
    assert isinstance(next(op for op in artifact.scenario.program if getattr(op, "name", "") == alloc_name), Alloc)
    assert s.p[s.S_MARK + slot[la - 1]] == 0
    assert s.p[s.S_MARK + slot[la - 2]] > tail  # the consumed task before it had freed entries


def test_the_signature_is_this_finding_only_for_programs_with_alloc_tensors() -> None:
    signature = Signature(TRB, "run.unexpected_fatal.DEP_POOL_OVERFLOW", "PTO2DepListPool::ensure_space")
    scenario = load_artifact(ARTIFACT).scenario
    assert classify(signature, (), scenario) == (KNOWN, "F-PORT-DEP-RECLAIM-ALLOC-MARK")
    without_alloc = scenario.__class__(
        scenario.name, scenario.config, scenario.buffers,
        tuple(op for op in scenario.program if not isinstance(op, Alloc)),
    )
    assert classify(signature, (), without_alloc) == (NEW, None)


def test_the_model_campaign_signature_is_this_finding() -> None:
    """A model campaign reports the run as expected_outcome (INV-E2) blamed on the fatal's detector."""
    artifact = load_artifact(MODEL_ARTIFACT)
    blamed = model_action_function(TrbModel(artifact.scenario), artifact.actions[-1])
    signature = Signature(TRB, "expected_outcome", blamed)
    assert classify(signature, (), artifact.scenario) == (KNOWN, "F-PORT-DEP-RECLAIM-ALLOC-MARK")


# ---------------------------------------------------------------------- the reference model agrees


def _model_path_states() -> tuple[TrbModel, list[State]]:
    artifact = load_artifact(MODEL_ARTIFACT)
    model = TrbModel(artifact.scenario)
    return model, replay_model_path(model, list(artifact.actions))


def test_the_model_reaches_the_fatal_on_the_finding_scenario() -> None:
    """The model path (the port run's views followed on the model) ends in the same latch: expected_outcome
    (INV-E2) fails, and at the latch ring 2 has spent its reclaim at la = 3 on t4's mark 0."""
    artifact = load_artifact(MODEL_ARTIFACT)
    assert artifact.scenario == load_artifact(ARTIFACT).scenario
    assert replay_model_artifact(artifact, "test").reproduced
    model, states = _model_path_states()
    last = states[-1]
    assert last[S_FATAL] == FatalCode.DEP_POOL_OVERFLOW
    names = [t.name for t in model.info.tasks]
    ring = last[S_RINGS][RING]
    tasks = last[S_TASKS]
    assert ring[R_LA] == ring[R_DLAST] == 3  # reclaim ran at la = 3 ...
    assert tasks[names.index("t4")][T_DMARK] == 0  # ... on the hidden alloc task's mark
    assert tasks[names.index("t3")][T_DMARK] > ring[R_DTAIL]  # the consumed task before it had freed entries


def test_sometimes_a_submit_waits_for_the_dep_pool_after_its_producers_completed() -> None:
    """Witness of the branch-(c) commitment (submit_task_common decides once; ensure_space then waits on
    last_task_alive alone): on the model path t7 is still in the dep-pool wait with every WAIT producer
    COMPLETED, the state the model used to leave through branch (b)."""
    model, states = _model_path_states()
    t7 = [t.name for t in model.info.tasks].index("t7")
    waiting = [
        st for st in states
        if st[S_PHASE] == P_DEP_WAIT and model.info.instrs[st[S_PC]].task == t7
        and all(st[S_TASKS][p][T_ST] >= COMPLETED for p, f, _ph in st[S_TASKS][t7][T_EDGES] if f & WAIT)
    ]
    assert waiting


def test_refinement_follows_the_port_run_to_the_latch() -> None:
    """The model and the port agree on the artifact: every port step up to the fatal is a model step, and
    the latch is the model's DEP_POOL_OVERFLOW backstop."""
    _artifact, system, scheduler = artifact_replay(ARTIFACT)
    report, _result = check_refinement(system, scheduler, max_steps=len(scheduler.schedule))
    assert report.failure is None, report.failure
    assert report.by_kind.get("fatal") == 1


def _reuse_program(runs: int) -> Scenario:
    """Ring 1 (scope depth 1) with W = 4: A (alloc_tensors, local 0) | X0 Y0 | X1 Y1 | X2 Y2, Y_k waiting on X_k and Y_k-1.
    Slot 0 holds A, then Y1 (local 4); five WAIT links exceed the pool of 4, so the ring's marks are read."""
    prog: list[object] = [ScopeBegin(), Alloc("A", (OutputSpec("a", (16,), "FLOAT32"),)), ScopeEnd()]
    for k in range(3):
        deps = (ExplicitDep(f"X{k}"),) + ((ExplicitDep(f"Y{k - 1}"),) if k else ())
        prog += [ScopeBegin(), Submit(f"X{k}", (-1, 0, -1)), Submit(f"Y{k}", (-1, 1, -1), deps=deps), ScopeEnd()]
    cfg = Config(task_window=(4, 4, 4, 4), heap_bytes=(4096,) * 4, dep_pool=(4,) * 4, scheduler_threads=1, clusters=1,
                 constants=Constants(dep_pool_cleanup_interval=1))
    return validate(Scenario("alloc_reuse", cfg, (), tuple(prog), runs=runs))  # type: ignore[arg-type]


def _walk(model: TrbModel, until: Callable[[State], bool]) -> State:
    """Orchestrator first, else the first scheduler action, until `until(state)`."""
    state = model.initial_states()[0]
    for _ in range(2000):
        if until(state):
            return state
        acts = model.actions(state)
        assert acts, model.format_state(state)
        state = model.next_state(state, acts[0])
    raise AssertionError("walk did not reach the wanted state")


def test_a_hidden_alloc_task_keeps_the_mark_its_slot_held() -> None:
    """alloc_tensors never calls mark_dep_pool_position and reset_for_reuse keeps dep_pool_mark: the model's
    alloc task carries its slot's mark, here (run 2, slot 0) the mark Y1 left in run 1."""
    model = TrbModel(_reuse_program(runs=2))
    names = [t.name for t in model.info.tasks]
    a, y1 = names.index("A"), names.index("Y1")
    end_of_run_1 = _walk(model, lambda st: st[S_ROUND] == 1)
    assert not model._dep_pool_slack[model.info.tasks[a].ring]  # the ring's marks are read (K2 keeps them)
    left = _walk(model, lambda st: st[S_ROUND] == 0 and st[S_TASKS][y1][T_ST] != NONE and st[S_PC] > 0
                 and model.info.instrs[st[S_PC]].task != y1)[S_TASKS][y1][T_DMARK]
    assert left > 0
    assert end_of_run_1[S_TASKS][a][T_DMARK] == left  # carried into the relaunch, before A is admitted
    admitted = _walk(model, lambda st: st[S_ROUND] == 1 and st[S_TASKS][a][T_ST] != NONE)
    assert admitted[S_TASKS][a][T_DMARK] == left
    first_run = _walk(model, lambda st: st[S_TASKS][a][T_ST] != NONE)
    assert first_run[S_TASKS][a][T_DMARK] == 0  # a slot never used since boot
