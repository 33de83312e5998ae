"""What a campaign executes: the reference model under bounded exploration, or the port under a scheduler.

A target takes one drawn scenario (and, for the port, scheduler parameters) and returns an `Execution`:
how many executions and states it took, the coverage features it reached, and every failure as a ready
artifact. Both targets judge with the properties the campaign names:

* model: every ALWAYS property of the reference model, deadlock, and the EVENTUALLY outcome property
  when the scenario's outcome is decided by its program (`outcome_asserted`);
* port: the end-of-run checks of `properties.replay` (deadlock, step limit, abort, wrong or missing
  fatal, tasks lost or consumed twice) plus the named per-step observer sets of the campaign
  (`properties.replay.observer_factory`; `port_checks` is properties.port_checks), which every
  artifact records so that its replay checks exactly the same properties.

The port runs under one single-run scheduler per run (random, PCT, round-robin), or, for the DFS arms,
under the stateful DFS of runtime/dfs.py, which visits every interleaving up to a preemption bound and a
state cap; the failing schedule it finds is replayed and judged exactly as a single run's would be, so its
artifact is an ordinary `port-run` artifact.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from hashlib import blake2b
from typing import Any

from fuzz.campaigns.coverage import CoveredModel, PortCoverage
from model.errors import PtocheckError
from model.explorer import Violation, explore
from model.program import I_ALLOC, I_BEGIN, I_DONE, I_END, I_TDATA
from model.protocol import PropertyKind
from model.scenario import FatalCode, Scenario
from model.trb_model import (
    A_ADVANCE,
    A_COMPLETE,
    A_DISPATCH,
    A_DUMMY,
    A_FATAL,
    A_NEXT_ROUND,
    A_NOTIFY,
    A_ORCH,
    A_RELEASE,
    P_CLAIM,
    P_COLLECT,
    P_DEP_WAIT,
    P_PUBLISH,
    P_REGISTER,
    P_START,
    Action,
    TrbModel,
)
from properties.artifacts import Artifact, Signature
from properties.replay import (
    DEFAULT_PORT_MAX_STEPS,
    PORT_RUNTIME,
    RUN_STEP_LIMIT,
    ObserverFactory,
    PortRun,
    observer_factory,
    port_system,
    run_port_system,
)
from runtime.core import Observer, System
from runtime.dfs import DfsEngine, FailedExecution
from runtime.execution import (
    RandomScheduler,
    ReplayDivergence,
    ReplayScheduler,
    RoundRobinScheduler,
    Scheduler,
    encode_schedule,
)
from runtime.pct import PCTScheduler
from runtime.trb import TrbSystem

MODEL_ENGINE = "bounded BFS (reference model)"
PORT_SCHEDULERS = ("random", "pct", "round-robin")
DFS = "dfs"
"""The port under runtime.dfs: every interleaving of the drawn program up to a preemption bound (the
drawn `depth`, at most DFS_MAX_PREEMPTIONS), cut at the campaign's `dfs_max_states`."""
DFS_MAX_PREEMPTIONS = 2


@dataclass(frozen=True)
class Context:
    """Where an execution comes from (goes into every artifact it produces)."""

    campaign: str
    arm: str
    command: str
    mutants: tuple[str, ...]
    lane: int
    iteration: int
    input_hex: str
    outcome_asserted: bool


@dataclass
class Found:
    """One failure: its artifact (with signature) and a size for keeping the smallest duplicate."""

    artifact: Artifact
    size: tuple[int, ...]

    @property
    def signature(self) -> Signature:
        return self.artifact.signature


@dataclass
class Execution:
    executions: int = 0
    states: int = 0
    steps: int = 0
    features: set[str] = field(default_factory=set)
    found: list[Found] = field(default_factory=list)
    witness_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class PortParams:
    """How the port target interleaves one scenario: scheduler kind, its seed, PCT depth."""

    scheduler: str
    seed: int
    depth: int = 2

    def as_dict(self) -> dict[str, Any]:
        return {"scheduler": self.scheduler, "seed": self.seed, "depth": self.depth}


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any parts (stable across runs and machines: no `hash()`)."""
    h = blake2b(digest_size=8)
    for p in parts:
        h.update(str(p).encode("utf-8"))
        h.update(b"/")
    return int.from_bytes(h.digest(), "big") >> 1


# ------------------------------------------------------------------------------------- model target

_SCHEDULER_FUNCTION = {
    A_DISPATCH: "SchedulerContext::dispatch_shape",
    A_COMPLETE: "on_subtask_complete",
    A_DUMMY: "SchedulerContext::complete_slot_task",
    A_NOTIFY: "release_fanin_and_check_ready",
    A_RELEASE: "on_task_release",
    A_ADVANCE: "advance_ring_pointers",
    A_FATAL: "orch_mark_fatal",
    A_NEXT_ROUND: "runtime_reset_for_reuse",
}
_SUBMIT_PHASE_FUNCTION = {
    P_START: "prepare_task",
    P_COLLECT: "compute_task_fanin",
    P_CLAIM: "append_fanin_or_fail",
    P_REGISTER: "register_task_outputs",
    P_PUBLISH: "submit_task_common",
    P_DEP_WAIT: "PTO2DepListPool::ensure_space",
}
# The detector a model fatal stands for, where the code names one (the port blames the latching function):
# DEP_POOL_OVERFLOW is latched by the dep-list pool's or the fanin spill pool's ensure_space.
_FATAL_FUNCTION = {
    int(FatalCode.DEP_POOL_OVERFLOW): "PTO2DepListPool::ensure_space / PTO2FaninPool::ensure_space",
    int(FatalCode.TENSORMAP_OVERFLOW): "ensure_tensormap_capacity",
}
_INSTR_FUNCTION = {
    I_BEGIN: "PTO2OrchestratorState::begin_scope",
    I_END: "PTO2OrchestratorState::end_scope",
    I_ALLOC: "PTO2OrchestratorState::alloc_tensors",
    I_TDATA: "wait_for_tensor_ready",
    I_DONE: "PTO2OrchestratorState::mark_done",
}


def model_action_function(model: TrbModel, action: Action | None) -> str:
    """The C++ function a model action stands for (spelled as the port's citations spell it)."""
    if action is None:
        return "(initial state)"
    kind, a, b = action
    if kind == A_FATAL and a in _FATAL_FUNCTION:
        return _FATAL_FUNCTION[a]
    if kind != A_ORCH:
        return _SCHEDULER_FUNCTION.get(kind, "?")
    instr = model.info.instrs[a]
    if instr.kind in _INSTR_FUNCTION:
        return _INSTR_FUNCTION[instr.kind]
    return _SUBMIT_PHASE_FUNCTION.get(b // 1000, "PTO2OrchestratorState::wire_fanin_task")


def model_violation_artifact(model: TrbModel, v: Violation[Any, Any], ctx: Context, bounds: str) -> Artifact:
    actions: tuple[Action, ...] = tuple(step.action for step in v.path[1:] if step.action is not None)
    blamed = v.loop_action if v.cycle_start is not None else (actions[-1] if actions else None)
    extra: dict[str, Any] = _context_extra(ctx)
    extra["property_kind"] = v.kind
    if v.cycle_start is not None:
        extra["cycle_start"] = v.cycle_start
        extra["loop_action"] = list(v.loop_action) if v.loop_action is not None else None
    spec = f" ({v.spec})" if v.spec else ""
    return Artifact(
        kind="model-path",
        scenario=model.scenario,
        signature=Signature(PORT_RUNTIME, v.property_name, model_action_function(model, blamed)),
        message=f"{v.kind} property {v.property_name}{spec} fails after {v.depth} steps",
        engine=f"campaign {ctx.campaign}/{ctx.arm}: {MODEL_ENGINE}",
        seed=None,
        bounds=bounds,
        command=ctx.command,
        actions=actions,
        failing_step=v.depth,
        extra=extra,
    )


def _context_extra(ctx: Context) -> dict[str, Any]:
    return {
        "campaign": ctx.campaign,
        "arm": ctx.arm,
        "lane": ctx.lane,
        "iteration": ctx.iteration,
        "input": ctx.input_hex,
        "outcome_asserted": ctx.outcome_asserted,
    }


def scenario_size(sc: Scenario) -> tuple[int, int]:
    return len(sc.tasks()), len(sc.program)


class ModelTarget:
    """Bounded breadth-first exploration of the reference model (shortest counterexamples)."""

    kind = "model"

    def __init__(self, max_states: int) -> None:
        self.max_states = max_states

    def execute(self, scenario: Scenario, ctx: Context) -> Execution:
        model = TrbModel(scenario)
        props = [p for p in model.properties() if ctx.outcome_asserted or p.kind is not PropertyKind.EVENTUALLY]
        covered = CoveredModel(model, props)
        result = explore(covered, max_states=self.max_states, stop_at_first_violation=True)
        ex = Execution(executions=1, states=result.states)
        ex.features = covered.features()
        ex.features.update(f"witness:{name}" for name in result.witnessed)
        ex.features.add(f"outcome:model-{result.status}")
        ex.witness_names = tuple(p.name for p in props if p.kind is PropertyKind.SOMETIMES)
        for v in result.violations:
            art = model_violation_artifact(model, v, ctx, result.bounds_text())
            ex.found.append(Found(art, (*scenario_size(scenario), v.depth)))
        return ex


# -------------------------------------------------------------------------------------- port target


class FairAfter:
    """PCT is unfair by design (the highest-priority runnable thread always runs), so a thread that polls
    without blocking would run forever and every such run would hit the step limit. After `horizon`
    steps (well past the PCT change points) the run continues under a seeded random choice, which is
    fair with probability 1, so a step-limit failure means a livelock, not starvation by the scheduler."""

    def __init__(self, inner: Scheduler, horizon: int, seed: int) -> None:
        self.inner = inner
        self.name = inner.name
        self.horizon = horizon
        self.rng = random.Random(seed)

    def new_execution(self) -> bool:
        return self.inner.new_execution()

    def choose(self, choices: Sequence[int], current: int | None, step: int) -> int:
        if step < self.horizon:
            return self.inner.choose(choices, current, step)
        return choices[self.rng.randrange(len(choices))] if len(choices) > 1 else choices[0]


def make_port_scheduler(params: PortParams, run_seed: int, steps_estimate: int) -> tuple[Scheduler, str]:
    """A scheduler for one run (its `new_execution` called) and the engine text that names it exactly."""
    if params.scheduler == "random":
        rnd = RandomScheduler(run_seed)
        rnd.new_execution()
        return rnd, f"random scheduler, run seed {rnd.run_seed} (master {run_seed})"
    if params.scheduler == "pct":
        pct = PCTScheduler(run_seed, depth=params.depth, runs=1, steps_estimate=steps_estimate)
        pct.new_execution()
        horizon = 4 * steps_estimate
        fair = FairAfter(pct, horizon, derive_seed("fair", run_seed))
        return fair, (
            f"PCT depth {params.depth}, k={steps_estimate}, run seed {pct.run_seed} (master {run_seed}), "
            f"random after step {horizon}"
        )
    if params.scheduler != "round-robin":  # the DFS is a search, not a scheduler of one run (PortTarget._search)
        raise PtocheckError(
            f"no single-run scheduler named {params.scheduler!r}", "scheduler", f"use one of {', '.join(PORT_SCHEDULERS)}"
        )
    rr = RoundRobinScheduler()
    rr.new_execution()
    return rr, "round-robin scheduler"


def pct_steps_estimate(scenario: Scenario) -> int:
    """PCT's k (steps of a run) from the program size: about 60 port steps per task plus start-up."""
    return 200 + 60 * len(scenario.tasks()) * scenario.runs


def port_step_limit(scenario: Scenario, cap: int = DEFAULT_PORT_MAX_STEPS) -> int:
    """The livelock bound of one port run: far above a normal run (about 60 steps per task plus
    start-up; backstop spins are blocked ops, not steps), capped by the campaign's limit."""
    return min(cap, 10_000 + 1_000 * len(scenario.tasks()) * scenario.runs)


class PortTarget:
    """The step-level port under one scheduler, `runs` runs per scenario (each with its own seed)."""

    kind = "port"

    def __init__(
        self,
        runs: int,
        max_steps: int = DEFAULT_PORT_MAX_STEPS,
        observers: tuple[str, ...] = (),
        dfs_max_states: int = 20_000,
    ) -> None:
        self.runs = runs
        self.max_steps = max_steps
        self.observer_names = observers
        self.observers = observer_factory(observers)
        self.dfs_max_states = dfs_max_states

    def execute(self, scenario: Scenario, ctx: Context, params: PortParams, runs: int | None = None) -> Execution:
        """`runs` (an arm's own count) replaces the campaign's runs per scenario."""
        if params.scheduler == DFS:
            return self._search(scenario, ctx, params)
        ex = Execution()
        max_steps = port_step_limit(scenario, self.max_steps)
        extra_observers = self.observers
        k = pct_steps_estimate(scenario)
        runs = 1 if params.scheduler == "round-robin" else (runs or self.runs)
        for r in range(runs):
            run_seed = derive_seed(params.seed, r)
            scheduler, engine = make_port_scheduler(params, run_seed, k)
            system = port_system(scenario, ctx.mutants, self.observer_names)
            coverage = PortCoverage(system)
            run = run_port_system(
                system,
                scheduler,
                observers=_with_coverage(coverage, extra_observers),
                max_steps=max_steps,
                outcome_asserted=ctx.outcome_asserted,
            )
            ex.executions += 1
            ex.steps += run.result.steps
            ex.features |= coverage.features()
            ex.features.add(f"outcome:port-{run.result.outcome}")
            if run.verdict.failed:
                found_ctx = ctx
                if ctx.mutants and fails_without_mutants(
                    scenario, run, extra_observers, ctx.outcome_asserted, self.observer_names
                ):
                    found_ctx = replace(ctx, mutants=())  # the unmutated port fails the same way
                ex.found.append(self._found(scenario, found_ctx, params, run, run_seed, engine, max_steps))
        return ex

    def _search(self, scenario: Scenario, ctx: Context, params: PortParams) -> Execution:
        """The drawn program under the exhaustive DFS, stopping at its first failure. The search judges
        every end by the system's goal (every task consumed, or the expected fatal; any latched fatal when
        the outcome is not asserted) and the per-step checks; its failing end is then replayed through the
        campaign's strict judgement (`run_port_system`), which names it and makes its artifact."""
        bound = min(params.depth, DFS_MAX_PREEMPTIONS)
        max_steps = port_step_limit(scenario, self.max_steps)
        extra_observers = self.observers
        coverage: list[PortCoverage] = []

        def observers(system: System) -> Sequence[Observer]:
            assert isinstance(system, TrbSystem)
            if coverage:
                coverage[0].attach(system)
            else:
                coverage.append(PortCoverage(system))
            return [coverage[0], *(extra_observers(system) if extra_observers is not None else ())]

        def factory() -> System:
            return port_system(scenario, ctx.mutants, self.observer_names, accept_any_fatal=not ctx.outcome_asserted)

        result = DfsEngine(
            factory,
            preemption_bound=bound,
            iterative=True,
            observers=observers,
            max_steps=max_steps,
            max_states=self.dfs_max_states,
            stop_at_first_failure=True,
        ).run()
        engine = f"DFS, preemption bound {bound} (iterative), {result.bounds_text()}"
        ex = Execution(executions=result.executions, states=result.states, steps=result.transitions)
        if coverage:
            ex.features = coverage[0].features()
        ex.features.update(f"outcome:port-dfs-{outcome.split(':')[0]}" for outcome in result.end_outcomes)
        finished = "none" if result.completed_bound is None else str(result.completed_bound)
        ex.features.add("outcome:port-dfs-complete" if result.complete else f"outcome:port-dfs-finished-bound-{finished}")
        for failure in result.failures:
            ex.found.append(self._judge_search_failure(scenario, ctx, params, failure, engine, max_steps))
        return ex

    def _judge_search_failure(
        self, scenario: Scenario, ctx: Context, params: PortParams, failure: FailedExecution, engine: str, max_steps: int
    ) -> Found:
        """Replay a search's failing schedule strictly and make its artifact."""
        system = port_system(scenario, ctx.mutants, self.observer_names)
        replay = ReplayScheduler(failure.schedule, system.thread_names())
        replay.new_execution()
        step_limit = failure.property_id == RUN_STEP_LIMIT
        run = run_port_system(
            system, replay, observers=self.observers, max_steps=len(failure.schedule) + (0 if step_limit else 1),
            outcome_asserted=ctx.outcome_asserted,
        )
        if not run.verdict.failed:  # both judge the same end; a disagreement is ptocheck's own bug
            raise PtocheckError(
                f"the DFS failed a run ({failure.property_id}: {failure.message}) that the strict end-of-run "
                "judgement accepts",
                f"{scenario.name}, schedule {failure.schedule_text()}",
                "report it: runtime/trb/system.py work_left and properties/replay.py judge_port_run disagree",
            )
        found_ctx = ctx
        if ctx.mutants and fails_without_mutants(scenario, run, self.observers, ctx.outcome_asserted, self.observer_names):
            found_ctx = replace(ctx, mutants=())
        return self._found(scenario, found_ctx, params, run, params.seed, engine, max_steps)

    def _found(
        self, scenario: Scenario, ctx: Context, params: PortParams, run: PortRun, run_seed: int, engine: str, max_steps: int
    ) -> Found:
        v = run.verdict
        assert v.property_id is not None
        extra = _context_extra(ctx)
        extra["scheduler"] = params.as_dict()
        extra["observers"] = list(self.observer_names)
        art = Artifact(
            kind="port-run",
            scenario=scenario,
            signature=Signature(PORT_RUNTIME, v.property_id, v.cxx_function),
            message=v.message,
            engine=f"campaign {ctx.campaign}/{ctx.arm}: {engine}",
            seed=run_seed,
            bounds=f"bounded(runs=1, max_steps={max_steps})",
            command=ctx.command,
            schedule=encode_schedule(run.result.schedule),
            mutants=ctx.mutants,
            failing_step=v.step,
            extra=extra,
        )
        return Found(art, (*scenario_size(scenario), run.result.steps, run.result.preemptions))


def fails_without_mutants(
    scenario: Scenario,
    run: PortRun,
    observers: ObserverFactory | None,
    outcome_asserted: bool,
    observer_names: tuple[str, ...] = (),
) -> bool:
    """Does the same schedule fail with the same signature when no mutant is switched on? Then the
    failure is not the mutant's (a detection is only credited to a mutant when the plain port differs)."""
    schedule = run.result.schedule
    system = port_system(scenario, (), observer_names)
    replay = ReplayScheduler(schedule, system.thread_names())
    replay.new_execution()
    step_limit = run.verdict.property_id == RUN_STEP_LIMIT
    try:
        base = run_port_system(
            system, replay, observers=observers, max_steps=len(schedule) + (0 if step_limit else 1),
            outcome_asserted=outcome_asserted,
        )
    except ReplayDivergence:
        return False
    same = (base.verdict.property_id, base.verdict.cxx_function) == (run.verdict.property_id, run.verdict.cxx_function)
    return same and base.result.steps == len(schedule)


def _with_coverage(coverage: PortCoverage, extra: ObserverFactory | None) -> ObserverFactory:
    def make(system: System) -> Sequence[Observer]:
        return [coverage, *(extra(system) if extra is not None else ())]

    return make

