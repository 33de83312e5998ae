"""Turning a command line's scenario argument and `--runtime` into a scenario (explore, run, fuzz, replay).

A scenario argument is a built-in name or a scenario JSON file. `--runtime R` asks for the same workload
on runtime R:
* a built-in workload that exists on several runtimes (`model.builders.RUNTIME_FAMILIES`) resolves to
  R's own built-in, whose task graph is the one R's example builds;
* any tensormap_and_ringbuffer program runs unchanged on host_build_graph (the host runs the same
  orchestration before the device starts); its expected outcome becomes "complete", since host_build_graph
  has no ring, heap or scope limits that could make it fatal (it is the baseline every program passes);
* anything else is refused with the variants that do exist.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from model.builders import BUILTIN_SCENARIOS, DEFAULT_EXPLORE_SCENARIOS, RUNTIME_FAMILIES, builtin_variant
from model.errors import ScenarioError
from model.scenario import MEMORY_MODELS, RUNTIMES, Expected, Scenario, load_scenario, validate
from properties.port_checks import on_memory_model

TRB = "tensormap_and_ringbuffer"
HBG = "host_build_graph"


def load_scenario_arg(spec: str) -> tuple[Scenario, str]:
    """A built-in scenario name or a scenario JSON file; returns it and how to name it again."""
    if spec in BUILTIN_SCENARIOS:
        return BUILTIN_SCENARIOS[spec](), spec
    path = Path(spec)
    if path.suffix == ".json" or path.exists():
        return load_scenario(path), str(path)
    known = ", ".join(sorted(BUILTIN_SCENARIOS))
    raise ScenarioError(f"no built-in scenario or file named {spec!r}", "scenario", f"built-ins: {known}")


def _variants_text() -> str:
    return "; ".join(", ".join(f"{rt}: {name}" for rt, name in family.items()) for family in RUNTIME_FAMILIES)


def resolve_scenario(spec: str, runtime: str | None = None, memory_model: str | None = None) -> tuple[Scenario, str]:
    """The scenario `spec` names, on `runtime` when one is given (see the module docstring), on the machine
    `memory_model` when one is given (config.memory_model; the handle then repeats the option)."""
    scenario, handle = _resolve_runtime(spec, runtime)
    if memory_model is None or memory_model == scenario.config.memory_model:
        return scenario, handle
    if memory_model not in MEMORY_MODELS:
        raise ScenarioError(f"unknown memory model {memory_model!r}", "--memory-model",
                            f"use one of {', '.join(MEMORY_MODELS)}")
    try:
        moved = on_memory_model(scenario, memory_model)
    except ScenarioError as err:
        raise ScenarioError(err.what, "--memory-model", err.hint) from None
    return moved, f"{handle} --memory-model {memory_model}"


def _resolve_runtime(spec: str, runtime: str | None) -> tuple[Scenario, str]:
    scenario, handle = load_scenario_arg(spec)
    if runtime is None or scenario.runtime == runtime:
        return scenario, handle
    if runtime not in RUNTIMES:
        raise ScenarioError(f"unknown runtime {runtime!r}", "--runtime", f"use one of {', '.join(RUNTIMES)}")
    if spec in BUILTIN_SCENARIOS:
        variant = builtin_variant(spec, runtime)
        if variant is not None:
            return BUILTIN_SCENARIOS[variant](), variant
    if runtime == HBG and scenario.runtime == TRB:
        retagged = replace(scenario, runtime=HBG, expected=Expected(), name=f"{scenario.name}@{HBG}")
        return validate(retagged), f"{handle} --runtime {HBG}"
    raise ScenarioError(
        f"{spec!r} is a {scenario.runtime} scenario with no {runtime} variant",
        "--runtime",
        f"a tensormap_and_ringbuffer program also runs on {HBG}; built-in variants: {_variants_text()}",
    )


def default_scenarios(runtime: str | None) -> tuple[list[str], list[str]]:
    """The default explore list on `runtime` (its variants of the default scenarios), and the defaults that
    have no variant on it (to be named as skipped, never dropped silently)."""
    if runtime is None or runtime == TRB:
        return list(DEFAULT_EXPLORE_SCENARIOS), []
    out: list[str] = []
    skipped: list[str] = []
    for name in DEFAULT_EXPLORE_SCENARIOS:
        variant = builtin_variant(name, runtime)
        if variant is not None:
            out.append(variant)
        elif runtime == HBG:
            out.append(name)  # re-tagged by resolve_scenario
        else:
            skipped.append(name)
    return out, skipped


def scaled_constants_text(scenario: Scenario) -> str:
    """The C++ compile-time constants `scenario` scales down, as `name=value (C++ default)`, or '' when it
    keeps every default: a run's report must say when it is not at the C++ values."""
    scaled = scenario.config.constants.scaled()
    return ", ".join(f"{name}={value} (C++ {default})" for name, (default, value) in scaled.items())


def add_memory_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--memory-model",
        choices=MEMORY_MODELS,
        default=None,
        help="the machine the port runs on (default: the scenario's config.memory_model, else sc): sc = every "
        "store visible at once; tso = per-thread store buffers for the orchestrator and scheduler threads "
        "(runtime/store_buffer.py)",
    )


def add_runtime_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default=None,
        help="run the workload on this runtime (default: the scenario's own); built-in workloads resolve to "
        "that runtime's variant, and a tensormap_and_ringbuffer program also runs on host_build_graph",
    )
