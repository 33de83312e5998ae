"""Registered findings about the real runtime: violations reported on a faithful model or port.

A finding is never fixed by bending the model; it is registered here with a signature, the C++
functions involved, a short explanation, and a replayable artifact (scenario + exact action path).
Random tests and campaigns fail on any signature not in this registry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.errors import PtocheckError
from model.scenario import Scenario, parse_scenario
from model.trb_model import TrbModel

ARTIFACT_FORMAT_VERSION = 1


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


def save_model_artifact(path: Path, scenario_json: str, actions: list[tuple[int, int, int]], finding: str) -> None:
    doc = {
        "ptocheck_artifact": ARTIFACT_FORMAT_VERSION,
        "kind": "model-path",
        "finding": finding,
        "scenario": json.loads(scenario_json),
        "actions": [list(a) for a in actions],
    }
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def load_model_artifact(path: Path) -> tuple[Scenario, list[tuple[int, int, int]], str]:
    try:
        doc: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise PtocheckError(f"cannot read artifact: {e}", str(path)) from None
    if not isinstance(doc, dict) or doc.get("ptocheck_artifact") != ARTIFACT_FORMAT_VERSION:
        raise PtocheckError("not a ptocheck artifact of a supported version", str(path))
    scenario = parse_scenario(json.dumps(doc["scenario"]), f"{path}: scenario")
    actions: list[tuple[int, int, int]] = [(int(a[0]), int(a[1]), int(a[2])) for a in doc["actions"]]
    return scenario, actions, str(doc["finding"])


def replay_model_path(model: TrbModel, actions: list[tuple[int, int, int]]) -> list[Any]:
    """Strict replay: every action must be enabled where the path says; returns the visited states."""
    state = model.initial_states()[0]
    states = [state]
    for step, action in enumerate(actions, 1):
        enabled = model.actions(state)
        if action not in enabled:
            raise PtocheckError(
                f"replay diverged: {model.format_action(action)} is not enabled",
                f"step {step}",
                "enabled: " + "; ".join(model.format_action(a) for a in enabled),
            )
        state = model.next_state(state, action)
        states.append(state)
    return states
