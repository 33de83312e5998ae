"""One dispatch point per runtime tag: the reference model, the step-level port, its mutants, its observers.

For the command line's `--runtime` (explore / run / fuzz / replay): `model_for(scenario)` is the
`Model` the explorer checks, `system_for(scenario, mutants)` builds one run of the step-level port, and
`observers_for(scenario)` the per-run property checkers of that port.

The tensormap_and_ringbuffer port is `runtime.trb.TrbSystem` with its `runtime.trb.MUTANTS`; the kernel
observers here apply to the other three ports (the TRB port has its own property checks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from model.abg_model import AbgModel
from model.errors import ScenarioError
from model.hbg_model import HbgModel
from model.scenario import RUNTIMES, Scenario
from model.trb_model import TrbModel
from properties.other_runtimes import kernel_observers
from properties.port_checks import port_observers
from runtime.abg import v1 as abg_v1
from runtime.abg import v2 as abg_v2
from runtime.core import Observer, System
from runtime.hbg import system as hbg
from runtime.trb import MUTANTS as TRB_MUTANTS
from runtime.trb import TrbSystem

TRB = "tensormap_and_ringbuffer"


def _check_runtime(scenario: Scenario) -> str:
    if scenario.runtime not in RUNTIMES:
        raise ScenarioError(
            f"unknown runtime {scenario.runtime!r}", "runtime", f"use one of {', '.join(RUNTIMES)}"
        )
    return scenario.runtime


def model_for(scenario: Scenario) -> Any:
    """The reference model of the scenario's runtime (a `model.protocol.Model`)."""
    runtime = _check_runtime(scenario)
    if scenario.config.init_failure:  # the models start with the runtime initialised
        raise ScenarioError(
            f"the reference model has no startup, so no startup abort path ({scenario.config.init_failure})",
            "config.init_failure", "check it on the port (ptocheck run / explore-port), or drop init_failure",
        )
    if runtime == TRB:
        return TrbModel(scenario)
    if runtime == "host_build_graph":
        return HbgModel(scenario)
    return AbgModel(scenario)


def mutants_for(runtime: str) -> Mapping[str, str]:
    """Mutant name -> what it changes, for the runtime's port."""
    if runtime == "aicpu_build_graph":
        return abg_v1.MUTANTS
    if runtime == "aicpu_build_graph_v2":
        return abg_v2.MUTANTS
    if runtime == "host_build_graph":
        return hbg.MUTANTS
    if runtime == TRB:
        return {name: m.description for name, m in TRB_MUTANTS.items()}
    raise ScenarioError(f"unknown runtime {runtime!r}", "runtime", f"use one of {', '.join(RUNTIMES)}")


def system_for(scenario: Scenario, mutants: Sequence[str] = ()) -> System:
    """One run of the scenario on its runtime's step-level port, with the named mutants switched on."""
    runtime = _check_runtime(scenario)
    known = mutants_for(runtime)
    unknown = sorted(set(mutants) - set(known))
    if unknown:
        raise ScenarioError(
            f"unknown mutant(s) {unknown} for {runtime}",
            "mutants",
            f"known: {', '.join(sorted(known)) or 'none'}",
        )
    if runtime == "aicpu_build_graph":
        return abg_v1.AbgV1System(scenario, mutants)
    if runtime == "aicpu_build_graph_v2":
        return abg_v2.AbgV2System(scenario, mutants)
    if runtime == "host_build_graph":
        return hbg.HbgSystem(scenario, mutants)
    return TrbSystem(scenario, mutants)


def observers_for(scenario: Scenario) -> Callable[[System], Sequence[Observer]]:
    """The per-run property observers of the scenario's port (an observer factory for the engines): the
    kernel-order observers of the aicpu_build_graph and host_build_graph ports, and the tensormap_and_ringbuffer
    port's own checks (`properties.port_checks.port_observers`)."""
    if _check_runtime(scenario) == TRB:
        return port_observers()
    return kernel_observers(scenario)
