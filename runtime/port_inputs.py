"""The one up-front check every port makes of what it is asked to run."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from model.errors import ScenarioError
from model.scenario import Scenario


def check_port_inputs(scenario: Scenario, mutants: Sequence[str], runtime: str, known: Collection[str]) -> None:
    """Reject a scenario for another runtime and mutant names this port does not have."""
    unknown = sorted(set(mutants) - set(known))
    if unknown:
        raise ScenarioError(f"unknown {runtime} mutant(s) {unknown}", "mutants", f"known: {', '.join(sorted(known))}")
    if scenario.runtime != runtime:
        raise ScenarioError(f"runtime {scenario.runtime!r} is not {runtime}", "runtime")
