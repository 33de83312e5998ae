"""Finding F-PORT-DEP-MARK-STALE-NEXT-RUN (properties/findings.py): slot states survive a relaunch, a hidden
alloc task never writes its dep_pool_mark, so in run 2 a reclaim through such a task's slot reads the pool
position its slot's last occupant reached in run 1 and moves the dep pool's tail past its top. The port shows
it (tests/regressions/dep_pool_stale_mark_next_run.json) and the reference model too
(tests/regressions/dep_pool_stale_mark_next_run_model.json)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fuzz.campaigns.known import KNOWN, NEW, classify
from fuzz.campaigns.targets import model_action_function
from model.trb_model import R_DTAIL, R_DTOP, R_LA, S_RINGS, S_ROUND, S_TASKS, T_DMARK, TrbModel
from properties.artifacts import Signature, load_artifact
from properties.refinement import check_refinement
from properties.replay import replay_model_artifact, replay_model_path, replay_port_artifact
from runtime.execution import run_once
from tests.conftest import artifact_replay

REGRESSIONS = Path(__file__).resolve().parent / "regressions"
ARTIFACT = REGRESSIONS / "dep_pool_stale_mark_next_run.json"
MODEL_ARTIFACT = REGRESSIONS / "dep_pool_stale_mark_next_run_model.json"
TRB = "tensormap_and_ringbuffer"
FINDING = "F-PORT-DEP-MARK-STALE-NEXT-RUN"
RING = 1  # the ring of every task (scope depth 1)


@pytest.mark.xfail(
    strict=True,
    reason=f"finding {FINDING} (properties/findings.py): a hidden alloc task's slot keeps the dep_pool_mark of "
    "the previous run, and reclaim moves the dep pool's tail past its top",
)
def test_the_dep_pool_tail_never_passes_its_top_in_a_later_run() -> None:
    assert not replay_port_artifact(load_artifact(ARTIFACT), "test").reproduced


def test_the_mechanism_is_the_previous_runs_mark_in_the_alloc_tasks_slot() -> None:
    """At the failing step: run 2, reclaim at la = 1 read the mark of the alloc task A (la - 1), which is the
    run-1 position of its slot's last occupant, beyond this run's top."""
    artifact, system, scheduler = artifact_replay(ARTIFACT)
    assert artifact.failing_step is not None
    run_once(system, scheduler, [], max_steps=artifact.failing_step + 1)
    s, c = system, system.c
    la, top, tail = c[s.R_LA + RING], c[s.DP_TOP + RING], c[s.DP_TAIL + RING]
    assert s.round == 1 and la == 1 and c[s.DP_LAST + RING] == la
    assert tail > top  # INV-P1 broken: more than the capacity looks free
    slot = {c[s.D_LOCAL + g]: g for g in range(s.n_slots) if s.slot_ring[g] == RING}
    assert s.plan.tasks[s.task_of_slot(slot[la - 1])].name == "A"
    assert s.p[s.S_MARK + slot[la - 1]] == tail


def test_the_model_reaches_the_same_state() -> None:
    """The reference model (alloc tasks keep their slot's mark, also across runs) breaks pool_bounds the same
    way: in run 2 at la = 1 the tail is A's inherited mark, beyond top."""
    artifact = load_artifact(MODEL_ARTIFACT)
    assert artifact.scenario == load_artifact(ARTIFACT).scenario
    assert replay_model_artifact(artifact, "test").reproduced
    model = TrbModel(artifact.scenario)
    last = replay_model_path(model, list(artifact.actions))[-1]
    ring = last[S_RINGS][RING]
    a = [t.name for t in model.info.tasks].index("A")
    assert last[S_ROUND] == 1 and ring[R_LA] == 1
    assert ring[R_DTAIL] == last[S_TASKS][a][T_DMARK] > ring[R_DTOP]


def test_refinement_follows_the_port_run_to_the_violation() -> None:
    _artifact, system, scheduler = artifact_replay(ARTIFACT)
    report, _result = check_refinement(system, scheduler, max_steps=len(scheduler.schedule))
    assert report.failure is None, report.failure
    assert report.by_kind.get("next-round") == 1


def test_the_signature_is_this_finding_only_for_relaunched_programs_with_alloc_tensors() -> None:
    port = load_artifact(ARTIFACT)
    signature = Signature(TRB, "pool_bounds", "PTO2DepListPool::ensure_space")
    assert classify(signature, (), port.scenario) == (KNOWN, FINDING)
    assert classify(signature, (), dataclasses.replace(port.scenario, runs=1)) == (NEW, None)
    model = load_artifact(MODEL_ARTIFACT)  # a model campaign blames the dep-pool wait step
    blamed = model_action_function(TrbModel(model.scenario), model.actions[-1])
    assert classify(Signature(TRB, "pool_bounds", blamed), (), model.scenario) == (KNOWN, FINDING)
