"""Registered findings about the real runtime: violations reported on a faithful model or port.

A finding is never fixed by bending the model; it is registered here with a signature, the C++
functions involved, a short explanation, and a replayable artifact (scenario + exact action path).
Random tests and campaigns fail on any signature not in this registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from model.errors import PtocheckError
from model.scenario import Scenario
from properties.artifacts import load_artifact
from properties.replay import replay_model_path

__all__ = ["FINDINGS", "Finding", "load_model_artifact", "replay_model_path"]


@dataclass(frozen=True)
class Finding:
    ident: str
    runtime: str
    property_name: str
    spec: str
    cxx_functions: tuple[str, ...]
    explanation: str
    artifact: str  # path relative to the repository root

    @property
    def signature(self) -> tuple[str, str, str]:
        return (self.runtime, self.property_name, self.cxx_functions[0])


FINDINGS: tuple[Finding, ...] = (
    Finding(
        ident="F-MODEL-R7",
        runtime="tensormap_and_ringbuffer",
        property_name="own_release_before_reuse",
        spec="INV-R7",
        cxx_functions=(
            "PTO2SchedulerState::check_and_handle_consumed (SCHED/pto_scheduler.h)",
            "PTO2OrchestratorState::end_scope -> on_scope_end -> release_producer_scope",
            "SchedulerContext::resolve_and_dispatch deferred_release_slot_states (SCHED/scheduler_dispatch.cpp)",
            "PTO2SchedulerState::on_task_release (reads slot_state.payload)",
            "RingSchedState::advance_ring_pointers",
            "prepare_task / PTO2TaskAllocator::alloc (RT/pto_orchestrator.cpp)",
        ),
        explanation=(
            "check_and_handle_consumed flips COMPLETED->CONSUMED whenever rc == fc, with no term for the "
            "task's own deferred on_task_release. A task whose consumers and scope released it before its "
            "completing thread flushed its deferred list is consumed, la passes it, and the orchestrator "
            "rebinds the slot. The deferred entry is a slot pointer, so the later on_task_release walks the "
            "new occupant's payload fanin edges (releasing its RETAIN producers once too often) and runs the "
            "self check on the new occupant. INV-R7 is a design invariant the spec says the runtime relies on."
        ),
        artifact="tests/regressions/f_model_r7.json",
    ),
)


def load_model_artifact(path: Path) -> tuple[Scenario, list[tuple[int, int, int]], str]:
    """A `model-path` artifact's scenario, action path and finding id."""
    artifact = load_artifact(path)
    if artifact.kind != "model-path":
        raise PtocheckError(f"expected a model-path artifact, got {artifact.kind!r}", str(path), "replay it with `ptocheck replay`")
    return artifact.scenario, list(artifact.actions), artifact.finding or ""
