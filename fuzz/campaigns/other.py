"""Campaigns on the other runtimes' ports (`ptocheck fuzz --runtime R`): host_build_graph, aicpu_build_graph.

A campaign on runtime R keeps the named campaign's port arms whose scenario family exists on R
(fuzz/scenario_args.py says which workloads move): every generated tensormap_and_ringbuffer program runs
unchanged on host_build_graph (its expected outcome becomes "complete"), and the built-in family becomes
R's own built-in workloads. aicpu_build_graph builds its graph with explicit edges, so its built-ins and
the generated explicit-edge programs (family "explicit", drawn natively for each aicpu_build_graph version)
run there. Model arms are left out: the artifact replay of a model path checks the
tensormap_and_ringbuffer model only.

The port target runs `properties.runtimes.system_for` under the campaign's schedulers with the port's
observers (`observers_for`: kernel order, at most once, exact completion) and reports an observer's
failure, a deadlock or a step limit, as `port-run` artifacts that `ptocheck replay` re-executes on R's port.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from hypothesis import strategies as st

from fuzz.campaigns.catalogue import FAMILIES, PORT, Arm, Campaign, Family
from fuzz.campaigns.targets import (
    DFS,
    Context,
    Execution,
    Found,
    PortParams,
    _context_extra,
    derive_seed,
    make_port_scheduler,
    pct_steps_estimate,
    port_step_limit,
    scenario_size,
)
from model.builders import BUILTIN_SCENARIOS
from model.errors import PtocheckError, ScenarioError
from model.scenario import RUNTIMES, Expected, Scenario, validate
from properties.artifacts import Artifact, Signature
from properties.explicit_programs import ABG_RUNTIMES, explicit_dep_scenarios
from properties.replay import RUN_DEADLOCK, RUN_STEP_LIMIT
from properties.runtimes import mutants_for, observers_for, system_for
from runtime.core import Executor, Failure, Observer, StepRecord
from runtime.execution import DEADLOCK, FAILURE, STEP_LIMIT, RunResult, encode_schedule, run_once

TRB = "tensormap_and_ringbuffer"
HBG = "host_build_graph"
RETAGGABLE = ("small", "medium", "generated", "paged-attention", "explicit")
"""Families of generated tensormap_and_ringbuffer programs (they run unchanged on host_build_graph)."""


def retag_for_hbg(scenario: Scenario) -> Scenario:
    """A tensormap_and_ringbuffer program on host_build_graph (as fuzz/scenario_args.py moves it)."""
    return validate(replace(scenario, runtime=HBG, expected=Expected(), name=f"{scenario.name}@{HBG}"))


def _builtins_of(runtime: str) -> tuple[str, ...]:
    return tuple(sorted(n for n, f in BUILTIN_SCENARIOS.items() if f().runtime == runtime))


@cache
def family_on(name: str, runtime: str) -> Family | None:
    """The family `name` on `runtime`, or None when its scenarios do not run there."""
    base = FAMILIES[name]
    if runtime == TRB:
        return base
    if name == "builtin":
        names = _builtins_of(runtime)
        if not names:
            return None
        return Family(
            f"builtin@{runtime}",
            f"the built-in {runtime} scenarios",
            lambda: st.sampled_from(names).map(lambda n: BUILTIN_SCENARIOS[n]()),
            lambda sc: True,
        )
    if name == "explicit" and runtime in ABG_RUNTIMES:
        return Family(
            f"{name}@{runtime}",
            f"explicit-edge programs built natively by {runtime} (properties.explicit_programs)",
            lambda: explicit_dep_scenarios(runtime, name="fuzz_explicit"),
            lambda sc: True,
        )
    if runtime == HBG and name in RETAGGABLE:
        return Family(
            f"{name}@{runtime}",
            f"{base.description}, on {runtime} (those its port runs: single-block AIC, AIV and dummy tasks)",
            lambda: base.strategy().map(retag_for_hbg).filter(runs_on_port),
            lambda sc: True,
        )
    return None


def runs_on_port(scenario: Scenario) -> bool:
    """Can the scenario's runtime's port run it? (host_build_graph's port refuses multi-block and MIX
    tasks with a ScenarioError; such a draw is an invalid input, never an error of the campaign.)"""
    try:
        system_for(scenario)
    except ScenarioError:
        return False
    return True


def campaign_on(campaign: Campaign, runtime: str) -> Campaign:
    """The campaign's port arms whose family runs on `runtime` (see the module docstring)."""
    if runtime not in RUNTIMES:
        raise PtocheckError(f"unknown runtime {runtime!r}", "--runtime", f"use one of {', '.join(RUNTIMES)}")
    if runtime == TRB:
        return campaign
    arms = _arms_on(campaign, runtime)
    if not arms:
        from fuzz.campaigns.catalogue import CAMPAIGNS

        viable = [name for name, other in CAMPAIGNS.items() if _arms_on(other, runtime)]
        raise PtocheckError(
            f"campaign {campaign.name!r} has no port arm whose scenarios run on {runtime}",
            "--runtime",
            f"campaigns that run on {runtime}: {', '.join(viable)}",
        )
    return replace(campaign, name=f"{campaign.name}@{runtime}", arms=arms, runtime=runtime)


def _arms_on(campaign: Campaign, runtime: str) -> tuple[Arm, ...]:
    """Port arms whose family runs on `runtime` and that schedule runs one at a time (the DFS arms search
    the tensormap_and_ringbuffer port only)."""
    return tuple(
        a for a in campaign.arms
        if a.target == PORT and DFS not in a.schedulers and family_on(a.family, runtime) is not None
    )


def check_runtime_mutants(runtime: str, mutants: tuple[str, ...]) -> None:
    known = mutants_for(runtime)
    unknown = sorted(set(mutants) - set(known))
    if unknown:
        raise PtocheckError(
            f"unknown mutant(s) {', '.join(unknown)} for {runtime}", "--mutant", f"known: {', '.join(sorted(known))}"
        )


class FunctionCoverage:
    """An observer recording which C++ functions a run executed (`port.fn:` features); never fails."""

    def __init__(self) -> None:
        self.functions: set[str] = set()

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        self.functions.add(rec.op.cite.function)
        return None

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        return None


def verdict_of(result: RunResult) -> tuple[str, str, int] | None:
    """(property, C++ function, step) of a failed run, as the replay of another runtime's port judges it."""
    trace = result.trace

    def function_at(step: int) -> str:
        return trace[step].op.cite.function if 0 <= step < len(trace) else ""

    if result.outcome == FAILURE and result.failure is not None:
        f = result.failure
        return f.property_id, function_at(min(f.step, len(trace) - 1)), f.step
    if result.outcome == DEADLOCK:
        return RUN_DEADLOCK, function_at(len(trace) - 1), len(trace)
    if result.outcome == STEP_LIMIT:
        return RUN_STEP_LIMIT, function_at(len(trace) - 1), len(trace) - 1
    return None


class OtherPortTarget:
    """The port of another runtime under one scheduler, `runs` runs per scenario."""

    kind = "port"

    def __init__(self, runs: int, max_steps: int) -> None:
        self.runs = runs
        self.max_steps = max_steps

    def execute(self, scenario: Scenario, ctx: Context, params: PortParams, runs: int | None = None) -> Execution:
        ex = Execution()
        max_steps = port_step_limit(scenario, self.max_steps)
        k = pct_steps_estimate(scenario)
        runs = 1 if params.scheduler == "round-robin" else (runs or self.runs)
        for r in range(runs):
            run_seed = derive_seed(params.seed, r)
            scheduler, engine = make_port_scheduler(params, run_seed, k)
            system = system_for(scenario, ctx.mutants)
            coverage = FunctionCoverage()
            observers: list[Observer] = [coverage, *observers_for(scenario)(system)]
            result = run_once(system, scheduler, observers, max_steps=max_steps)
            ex.executions += 1
            ex.steps += result.steps
            ex.features |= {f"port.fn:{f}" for f in coverage.functions}
            ex.features.add(f"outcome:port-{result.outcome}")
            verdict = verdict_of(result)
            if verdict is None:
                continue
            prop, function, step = verdict
            extra = _context_extra(ctx)
            extra["scheduler"] = params.as_dict()
            message = result.failure.message if result.failure is not None else (result.work_left or result.outcome)
            art = Artifact(
                kind="port-run",
                scenario=scenario,
                signature=Signature(scenario.runtime, prop, function),
                message=message,
                engine=f"campaign {ctx.campaign}/{ctx.arm}: {engine}",
                seed=run_seed,
                bounds=f"bounded(runs=1, max_steps={max_steps})",
                command=ctx.command,
                schedule=encode_schedule(result.schedule),
                mutants=ctx.mutants,
                failing_step=step,
                extra=extra,
            )
            ex.found.append(Found(art, (*scenario_size(scenario), result.steps, result.preemptions)))
        return ex
