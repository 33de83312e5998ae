"""The one counterexample format every engine prints: header, numbered step table, final state, replay.

Plain text with fixed-width columns and no timing or hash-dependent content, so golden tests can freeze it.
"""

from __future__ import annotations

from model.errors import ModelError
from model.explorer import Violation
from model.protocol import A, Model, S

INITIAL_ACTION = "(initial)"
CYCLE_MARK = "<- cycle starts"
COLUMN_GAP = "  "


def format_violation(
    model: Model[S, A],
    violation: Violation[S, A],
    *,
    engine: str,
    bounds: str,
    replay_command: str | None,
) -> str:
    """Render `violation` as plain text; the result ends with a newline."""
    path = violation.path
    if not path:
        raise ModelError(f"violation of {violation.property_name!r} has an empty path", "format_violation")
    cycle_start = violation.cycle_start
    if cycle_start is not None and not 0 <= cycle_start < len(path):
        raise ModelError(
            f"cycle_start {cycle_start} is outside the path of {len(path)} steps",
            f"violation of {violation.property_name!r}",
        )

    header = [
        ("property", violation.property_name),
        ("kind", violation.kind),
        ("spec", violation.spec or "-"),
        ("engine", engine),
        ("bounds", bounds),
    ]
    label_width = max(len(label) for label, _ in header) + 1
    lines = [f"{label + ':':<{label_width}} {value}" for label, value in header]
    lines.append("")

    steps = [str(step.number) for step in path]
    actions = [INITIAL_ACTION if step.action is None else model.format_action(step.action) for step in path]
    states = [model.format_state(step.state) for step in path]
    closing_action = ""
    if cycle_start is not None:
        closing_action = "" if violation.loop_action is None else model.format_action(violation.loop_action)

    step_width = max(len("step"), *(len(text) for text in steps))
    action_width = max(len("action"), len(closing_action), *(len(text) for text in actions))
    state_width = max(len("state"), *(len(text) for text in states))

    def row(step: str, action: str, state: str) -> str:
        return f"{step:>{step_width}}{COLUMN_GAP}{action:<{action_width}}{COLUMN_GAP}{state}".rstrip()

    lines.append(row("step", "action", "state"))
    lines.append(row("-" * step_width, "-" * action_width, "-" * state_width))
    for position, (step, action, state) in enumerate(zip(steps, actions, states, strict=True)):
        if position == cycle_start:
            state = f"{state:<{state_width}}{COLUMN_GAP}{CYCLE_MARK}"
        lines.append(row(step, action, state))
    if cycle_start is not None:
        lines.append(row("", closing_action, f"(back to step {path[cycle_start].number})"))
    lines.append("")
    lines.append(f"final state: {states[-1]}")
    if replay_command is not None:
        lines.append(f"replay: {replay_command}")
    return "\n".join(lines) + "\n"
