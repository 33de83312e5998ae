"""Finding F-PORT-DEP-RECLAIM-ALLOC-MARK (properties/findings.py): the dep pool's reclaim reads the mark of
task la-1, which a hidden alloc task never sets, and spends its cleanup turn anyway; a submit that has
already claimed the task at la then cannot get the entries the consumed tasks freed."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.campaigns.known import KNOWN, NEW, classify
from model.scenario import Alloc
from properties.artifacts import Signature, load_artifact
from properties.replay import port_system, replay_port_artifact
from runtime.execution import ReplayScheduler, decode_schedule, run_once

ARTIFACT = Path(__file__).resolve().parent / "regressions" / "dep_pool_alloc_mark.json"
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
    artifact = load_artifact(ARTIFACT)
    schedule = decode_schedule(artifact.schedule, "artifact")
    system = port_system(artifact.scenario, (), ())
    scheduler = ReplayScheduler(schedule, system.thread_names())
    scheduler.new_execution()
    run_once(system, scheduler, [], max_steps=len(schedule))
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
