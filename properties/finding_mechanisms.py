"""Which mechanism a failing run shows, for registered findings whose signatures coincide.

A signature (runtime, property, blamed C++ function) does not always tell two findings apart: a submit that
waits for the dep-list pool until the 500 ms backstop latches DEP_POOL_OVERFLOW in `ensure_space` in both
F-PORT-DEP-RECLAIM-ALLOC-MARK and F-PORT-TMAP-STALE-ALIAS, on programs both scopes contain. A finding may then
name a predicate here (`Finding.explains`) that replays the failing artifact and looks at the state where the
run stopped. Each predicate answers only for the artifact kinds it understands (port runs, model paths of
tensormap_and_ringbuffer) and says False otherwise, so an unexplained failure is reported as new.
"""

from __future__ import annotations

from typing import Any

from model.dependencies import derive_all_edges
from model.program import ProgramInfo
from model.trb_model import R_LA, S_PC, S_RINGS, S_TASKS, T_EDGES, TrbModel
from properties.artifacts import Artifact
from runtime.core import Op
from runtime.execution import ReplayScheduler, decode_schedule, run_once
from runtime.trb import TrbSystem

TRB = "tensormap_and_ringbuffer"


def _static_producers(info: ProgramInfo, task: int) -> set[int]:
    """Every producer a submit of `task` can name without address aliasing: the no-retirement derivation
    (explicit, creator and same-buffer TensorMap edges) is a superset of what any run derives."""
    return {row.pred for row in derive_all_edges(info) if row.succ == task}


def _port_submit(artifact: Artifact) -> tuple[TrbSystem, list[Op], int] | None:
    """For a port run: the port after the recorded schedule, the orchestrator's ops in order, and the plan
    index of the task it was submitting (-1: none yet)."""
    if artifact.kind != "port-run" or artifact.scenario.runtime != TRB or not artifact.schedule:
        return None
    schedule = decode_schedule(artifact.schedule, "artifact")
    system = TrbSystem(artifact.scenario, tuple(artifact.mutants))
    scheduler = ReplayScheduler(schedule, system.thread_names())
    scheduler.new_execution()
    result = run_once(system, scheduler, [], max_steps=len(schedule), record_trace=True)
    return system, [rec.op for rec in result.trace if rec.tid == 0], system.ghost_submitting


def _model_submit(artifact: Artifact) -> tuple[TrbModel, Any, int] | None:
    """For a model path: the model, the state the path ends in, and the task at the orchestrator's program
    counter (-1: none)."""
    if artifact.kind != "model-path" or artifact.scenario.runtime != TRB:
        return None
    model = TrbModel(artifact.scenario)
    state = model.initial_states()[0]
    for action in artifact.actions:
        state = model.next_state(state, action)
    return model, state, model.info.instrs[state[S_PC]].task


def holds_alias_claim(artifact: Artifact) -> bool:
    """F-PORT-TMAP-STALE-ALIAS: where the run stopped, the submit in progress holds a claim on a producer no
    edge of the program names (so the claim came from a TensorMap entry met at a reused address)."""
    port = _port_submit(artifact)
    if port is not None:
        system, orch_ops, task = port
        if task < 0:
            return False
        since = max((i for i, op in enumerate(orch_ops) if op.cite.function == "prepare_task"), default=-1)
        fanout_counts = range(system.S_FC, system.S_FC + system.n_slots)
        claimed = {  # a claim is the fanout_count++ of the producer's slot
            system.task_of_slot(cell - system.S_FC)
            for op in orch_ops[since + 1 :]
            if op.cite.function == "append_fanin_or_fail"
            for cell in op.writes
            if cell in fanout_counts
        }
        names = [t.name for t in system.plan.tasks]
        info = ProgramInfo(artifact.scenario)
        index = {t.name: t.index for t in info.tasks}
        static = _static_producers(info, index[names[task]])
        return any(p >= 0 and index[names[p]] not in static for p in claimed)
    model_end = _model_submit(artifact)
    if model_end is None or model_end[2] < 0:
        return False
    model, state, task = model_end
    static = _static_producers(model.info, task)
    return any(edge[0] != task and edge[0] not in static for edge in state[S_TASKS][task][T_EDGES])


def la_stops_after_an_alloc_task(artifact: Artifact) -> bool:
    """F-PORT-DEP-RECLAIM-ALLOC-MARK: where the run stopped, the ring of the submit in progress has its
    last_task_alive right after a hidden alloc task (whose dep_pool_mark reclaim reads and alloc_tensors
    never writes)."""
    port = _port_submit(artifact)
    if port is not None:
        system, _ops, task = port
        if task < 0:
            return False
        ring = system.plan.tasks[task].ring
        before = system.plan.task_at.get((ring, system.c[system.R_LA + ring] - 1), -1)
        return before >= 0 and system.plan.tasks[before].is_alloc
    model_end = _model_submit(artifact)
    if model_end is None or model_end[2] < 0:
        return False
    model, state, task = model_end
    ring = model.info.tasks[task].ring
    la = state[S_RINGS][ring][R_LA]
    return any(t.is_alloc for t in model.info.tasks if t.ring == ring and t.local == la - 1)
