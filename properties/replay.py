"""Strict replay of artifacts: re-execute exactly what was recorded, and say whether it still fails.

Strict means every recorded choice must be available where the artifact says; a divergence is an error
that names the step and what was available instead (never a silent re-search).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from model.errors import PtocheckError
from model.explorer import Step, Violation
from model.protocol import PropertyKind
from model.report import format_violation
from model.trb_model import TrbModel
from properties.artifacts import Artifact


@dataclass(frozen=True)
class ReplayOutcome:
    reproduced: bool  # the recorded property fails again at the recorded point
    report: str


def replay_model_path(model: TrbModel, actions: list[tuple[int, int, int]]) -> list[Any]:
    """Every action must be enabled where the path says; returns the visited states."""
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


def replay_model_artifact(artifact: Artifact, replay_command: str) -> ReplayOutcome:
    """Replay a `model-path` artifact on the reference model and check its property at the last state."""
    model = TrbModel(artifact.scenario)
    states = replay_model_path(model, list(artifact.actions))
    wanted = artifact.signature.property_id
    prop = next((p for p in model.properties() if p.name == wanted), None)
    if prop is None:
        known = ", ".join(p.name for p in model.properties())
        raise PtocheckError(f"the model has no property {wanted!r}", "artifact signature", f"known: {known}")
    if prop.kind is not PropertyKind.ALWAYS:
        raise PtocheckError(
            f"property {wanted!r} is {prop.kind.value}; model-path replay checks 'always' properties",
            "artifact signature",
            "re-run the explorer on the artifact's scenario",
        )
    first_bad = next((i for i, s in enumerate(states) if not prop.holds(s)), None)
    path = tuple(Step(i, None if i == 0 else artifact.actions[i - 1], s) for i, s in enumerate(states))
    if first_bad is None:
        return ReplayOutcome(False, f"{wanted} holds on every state of the recorded path: the failure no longer reproduces\n")
    violation: Violation[Any, Any] = Violation(wanted, "always", prop.spec, path[: first_bad + 1])
    report = format_violation(
        model, violation, engine=f"strict replay ({artifact.engine})", bounds=artifact.bounds, replay_command=replay_command
    )
    return ReplayOutcome(True, report)
