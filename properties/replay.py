"""Strict replay of artifacts: re-execute exactly what was recorded, and say whether it still fails.

Strict means every recorded choice must be available where the artifact says; a divergence is an error
that names the step and what was available instead (never a silent re-search).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from model.errors import PtocheckError
from model.explorer import Step, Violation
from model.protocol import PropertyKind
from model.report import format_violation
from model.scenario import FatalCode, Scenario
from model.trb_model import TrbModel
from properties.artifacts import Artifact
from runtime.core import DAEMON_ROLES, Executor, Failure, Observer, StepRecord, System
from runtime.dfs import DEADLOCK_PROPERTY, STEP_LIMIT_PROPERTY
from runtime.execution import (
    FAILURE,
    STEP_LIMIT,
    ReplayScheduler,
    RunResult,
    Scheduler,
    decode_schedule,
    run_once,
)
from runtime.trb import TrbSystem


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


DEADLOCK = "deadlock"  # the explorer's name for "no enabled action in a non-final state"


def replay_model_artifact(artifact: Artifact, replay_command: str) -> ReplayOutcome:
    """Replay a `model-path` artifact on the reference model and check its property along the path.

    ALWAYS properties fail at the first state where they do not hold. `deadlock` fails when the last
    state has no enabled action and is not final. EVENTUALLY properties fail when they hold on no state
    of the path and the path ends in a terminal state, or (a lasso: `extra.cycle_start` and
    `extra.loop_action`) its loop action leads back to the cycle start and the cycle is weakly fair.
    """
    model = TrbModel(artifact.scenario)
    states = replay_model_path(model, list(artifact.actions))
    wanted = artifact.signature.property_id
    path = tuple(Step(i, None if i == 0 else artifact.actions[i - 1], s) for i, s in enumerate(states))
    if wanted == DEADLOCK:
        last = states[-1]
        if model.actions(last) or model.is_final(last):
            return ReplayOutcome(False, "the last state of the recorded path is not a deadlock: the failure no longer reproduces\n")
        violation: Violation[Any, Any] = Violation(DEADLOCK, "deadlock", "", path)
        return ReplayOutcome(True, _model_report(model, violation, artifact, replay_command))
    prop = next((p for p in model.properties() if p.name == wanted), None)
    if prop is None:
        known = ", ".join(p.name for p in model.properties())
        raise PtocheckError(f"the model has no property {wanted!r}", "artifact signature", f"known: {known}")
    if prop.kind is PropertyKind.EVENTUALLY:
        return _replay_eventually(model, prop.name, prop.holds, prop.spec, path, artifact, replay_command)
    if prop.kind is not PropertyKind.ALWAYS:
        raise PtocheckError(
            f"property {wanted!r} is {prop.kind.value}; model-path replay checks 'always', 'eventually' and deadlock",
            "artifact signature",
            "re-run the explorer on the artifact's scenario",
        )
    first_bad = next((i for i, s in enumerate(states) if not prop.holds(s)), None)
    if first_bad is None:
        return ReplayOutcome(False, f"{wanted} holds on every state of the recorded path: the failure no longer reproduces\n")
    violation = Violation(wanted, "always", prop.spec, path[: first_bad + 1])
    return ReplayOutcome(True, _model_report(model, violation, artifact, replay_command))


def _model_report(model: TrbModel, violation: Violation[Any, Any], artifact: Artifact, replay_command: str) -> str:
    return format_violation(
        model, violation, engine=f"strict replay ({artifact.engine})", bounds=artifact.bounds, replay_command=replay_command
    )


def _replay_eventually(
    model: TrbModel,
    name: str,
    holds: Callable[[Any], bool],
    spec: str,
    path: tuple[Step[Any, Any], ...],
    artifact: Artifact,
    replay_command: str,
) -> ReplayOutcome:
    gone = "the failure no longer reproduces"
    if any(holds(step.state) for step in path):
        return ReplayOutcome(False, f"{name} holds on a state of the recorded path: {gone}\n")
    extra = artifact.extra
    cycle_start, loop = extra.get("cycle_start"), extra.get("loop_action")
    last = path[-1].state
    if cycle_start is None:
        if model.actions(last):
            return ReplayOutcome(False, f"the recorded path does not end in a terminal state: {gone}\n")
        violation: Violation[Any, Any] = Violation(name, "eventually", spec, path)
        return ReplayOutcome(True, _model_report(model, violation, artifact, replay_command))
    if not isinstance(cycle_start, int) or not 0 <= cycle_start < len(path) or not isinstance(loop, list) or len(loop) != 3:
        raise PtocheckError(
            "extra.cycle_start / extra.loop_action do not describe a cycle of the path", "artifact extra", "re-save the artifact"
        )
    loop_action = (int(loop[0]), int(loop[1]), int(loop[2]))
    if loop_action not in model.actions(last) or model.next_state(last, loop_action) != path[cycle_start].state:
        return ReplayOutcome(False, f"the recorded loop action does not close the cycle: {gone}\n")
    cycle = path[cycle_start:]
    taken = {step.action for step in cycle[1:]} | {loop_action}
    continuous = set(model.actions(cycle[0].state))
    for step in cycle[1:]:
        continuous.intersection_update(model.actions(step.state))
    if not continuous <= taken:
        return ReplayOutcome(False, f"the recorded cycle is not weakly fair: {gone}\n")
    violation = Violation(name, "eventually", spec, path, cycle_start, loop_action)
    return ReplayOutcome(True, _model_report(model, violation, artifact, replay_command))


# ------------------------------------------------------------------------------------ port runs

PORT_RUNTIME = "tensormap_and_ringbuffer"
DEFAULT_PORT_MAX_STEPS = 200_000
RUN_DEADLOCK = DEADLOCK_PROPERTY
RUN_STEP_LIMIT = STEP_LIMIT_PROPERTY
RUN_ABORTED = "run.aborted"  # an always_assert of the C++ fired (the process would abort)
RUN_UNEXPECTED_FATAL = "run.unexpected_fatal"  # + ".<CODE>": a fatal other than the expected one was latched
RUN_FATAL_MISSING = "run.expected_fatal_missing"  # the scenario's expected fatal was never latched
RUN_TASK_LOST = "run.task_not_consumed"  # a clean run ended with a task never consumed
RUN_TASK_TWICE = "run.task_consumed_twice"  # a task was consumed more than once in one run
RUN_HOST_UNFINISHED = "run.host_unfinished"  # every thread ended but the host did not finish its runs
END_OF_RUN_PROPERTIES = (
    RUN_DEADLOCK,
    RUN_STEP_LIMIT,
    RUN_ABORTED,
    RUN_UNEXPECTED_FATAL,
    RUN_FATAL_MISSING,
    RUN_TASK_LOST,
    RUN_TASK_TWICE,
    RUN_HOST_UNFINISHED,
)
"""The checks every port run gets at its end (the scenario's outcome, INV-E2), whatever observers run."""
CONSUME_FUNCTION = "check_and_handle_consumed"  # where the C++ consumes a task (ghost counts are per run)

ObserverFactory = Callable[[System], Sequence[Observer]]


PORT_CHECKS = "port_checks"
DATA_ORACLE = "data_oracle"
REFINEMENT = "refinement"
OBSERVER_SETS = (PORT_CHECKS, DATA_ORACLE, REFINEMENT)
"""Named sets of per-step property observers a port run can be checked with. `port_checks` is the
"always" and "event" properties of properties.port_checks (the spec's invariants and event properties on
port memory, checked at the step that breaks them); the end of a run is judged by `judge_port_run`,
which knows whether the scenario's outcome may be asserted. `data_oracle` runs the kernels on real bytes
(properties.data_oracle; the system must carry data: build it with `port_system`). `refinement` is the
refinement check against the model and the model's ALWAYS properties on the states it matches
(properties.refinement.refinement_observers). An artifact records the
sets its run was checked with (`extra.observers`) and its replay uses exactly those."""


def port_system(
    scenario: Scenario, mutants: Sequence[str], observer_names: Sequence[str], *, accept_any_fatal: bool = False
) -> TrbSystem:
    """The TRB port for a run checked by `observer_names`: with the data path when the data oracle is one
    of them (inputs from data seed 0, so a replay sees the same bytes). `accept_any_fatal`: the run's goal
    admits any latched fatal (a program whose outcome is not asserted; see TrbSystem)."""
    return TrbSystem(scenario, tuple(mutants), data=DATA_ORACLE in observer_names, accept_any_fatal=accept_any_fatal)


def observer_factory(names: Sequence[str]) -> ObserverFactory | None:
    """The observers of the named sets (None for none): the hook through which per-step checks join
    campaigns, replays and minimisation."""
    factories: list[ObserverFactory] = []
    for name in names:
        if name == PORT_CHECKS:
            from properties.port_checks import PROPERTIES, port_observers

            per_step = frozenset(p.name for p in PROPERTIES if p.kind in ("always", "event"))
            factories.append(port_observers(per_step))
        elif name == DATA_ORACLE:
            from properties.data_oracle import data_observers

            factories.append(data_observers())
        elif name == REFINEMENT:
            from properties.refinement import refinement_observers

            factories.append(refinement_observers)
        else:
            raise PtocheckError(
                f"unknown observer set {name!r}", "observers", f"known: {', '.join(OBSERVER_SETS)}"
            )
    if not factories:
        return None

    def make(system: System) -> Sequence[Observer]:
        return [obs for f in factories for obs in f(system)]

    return make


def artifact_observers(artifact: Artifact) -> tuple[str, ...]:
    names = artifact.extra.get("observers", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise PtocheckError("extra.observers must be a list of observer-set names", "artifact extra", "re-save it")
    return tuple(names)


@dataclass(frozen=True)
class PortVerdict:
    """How a port run is judged: the failed property (None: passed), why, and the C++ function blamed."""

    property_id: str | None
    message: str = ""
    cxx_function: str = ""
    step: int | None = None

    @property
    def failed(self) -> bool:
        return self.property_id is not None


class _FatalWatch:
    """Remembers the step at which a fatal code was first latched (for the signature of a wrong fatal)."""

    def __init__(self, system: TrbSystem) -> None:
        self.system = system
        self.step: int | None = None
        self.function = ""

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        if self.step is None and self.system.fatal_code():
            self.step, self.function = rec.index, rec.op.cite.function
        return None

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        return None


@dataclass
class PortRun:
    system: TrbSystem
    result: RunResult
    verdict: PortVerdict
    thread_lines: list[str]


def run_port_system(
    system: TrbSystem,
    scheduler: Scheduler,
    *,
    observers: ObserverFactory | None = None,
    max_steps: int = DEFAULT_PORT_MAX_STEPS,
    outcome_asserted: bool = True,
) -> PortRun:
    """One run of `system` under `scheduler` (its `new_execution` already called), judged at its end."""
    watch = _FatalWatch(system)
    extra = list(observers(system)) if observers is not None else []
    holder: list[Executor] = []
    result = run_once(system, scheduler, [*extra, watch], max_steps=max_steps, record_trace=True, on_executor=holder.append)
    verdict = judge_port_run(system, result, holder[0], watch, outcome_asserted)
    return PortRun(system, result, verdict, holder[0].describe_threads())


def judge_port_run(
    system: TrbSystem, result: RunResult, ex: Executor, watch: _FatalWatch, outcome_asserted: bool
) -> PortVerdict:
    """The end-of-run checks. With `outcome_asserted` False (a scenario whose outcome its program does not
    decide) a latched fatal is accepted, and so are the tasks it left unconsumed."""
    trace = result.trace

    def function_at(step: int) -> str:
        return trace[step].op.cite.function if 0 <= step < len(trace) else ""

    last = len(trace) - 1
    if result.outcome == FAILURE and result.failure is not None:
        f = result.failure
        return PortVerdict(f.property_id, f.message, function_at(min(f.step, last)), f.step)
    if system.crash is not None:
        return PortVerdict(RUN_ABORTED, f"the runtime aborted: {system.crash}", function_at(last), last)
    if result.outcome == STEP_LIMIT:
        return PortVerdict(RUN_STEP_LIMIT, f"the run did not end within {result.steps} steps", function_at(last), last)
    waiting = [s for s in ex.slots if s.op is not None and s.role not in DAEMON_ROLES]  # a daemon never ends
    if waiting:
        first = waiting[0]
        assert first.op is not None
        why = f"; {result.work_left}" if result.work_left else ""
        return PortVerdict(
            RUN_DEADLOCK,
            f"no thread can run and {len(waiting)} have not finished; {first.name} waits at: {first.op.what}{why}",
            first.op.cite.function,
            len(trace),
        )
    tasks = system.plan.tasks
    for run in range(system.runs):
        for ti, task in enumerate(tasks):
            if system.ghost_consumed[run][ti] > 1:
                n = system.ghost_consumed[run][ti]
                return PortVerdict(RUN_TASK_TWICE, f"run {run}: task {task.name} consumed {n} times", CONSUME_FUNCTION, len(trace))
    code = system.fatal_code()
    expected = system.scenario.expected.fatal
    if outcome_asserted:
        if code and (expected is None or code != int(expected)):
            want = "every task consumed" if expected is None else f"{expected.name}({int(expected)})"
            return PortVerdict(
                f"{RUN_UNEXPECTED_FATAL}.{_code_label(code)}",
                f"fatal {_code_name(code)} latched at step {(watch.step or 0) + 1}; the scenario expects {want}",
                watch.function,
                watch.step,
            )
        if not code and expected is not None:
            orch = [rec for rec in trace if rec.tid == 0]
            return PortVerdict(
                RUN_FATAL_MISSING,
                f"the expected fatal {expected.name}({int(expected)}) was never latched",
                orch[-1].op.cite.function if orch else function_at(last),
                len(trace),
            )
    if not code:
        # an injected startup abort (config.init_failure) ends the runs: its run executes no task
        for run in range(system.cfg.init_failure_run if system.cfg.init_failure else system.runs):
            for ti, task in enumerate(tasks):
                if system.ghost_consumed[run][ti] == 0:
                    return PortVerdict(RUN_TASK_LOST, f"run {run}: task {task.name} never consumed", CONSUME_FUNCTION, len(trace))
    if not system.c[system.HOST_DONE]:
        return PortVerdict(RUN_HOST_UNFINISHED, "every thread ended but the host did not finish its runs", function_at(last), last)
    return PortVerdict(None)


def _code_label(code: int) -> str:
    try:
        return FatalCode(code).name
    except ValueError:
        return f"code{code}"


def _code_name(code: int) -> str:
    try:
        return f"{FatalCode(code).name}({code})"
    except ValueError:
        return f"code {code}"


def port_outcome_asserted(artifact: Artifact) -> bool:
    value = artifact.extra.get("outcome_asserted", True)
    return bool(value)


REPORT_TAIL_STEPS = 100
"""A port-run report shows at most this many trailing steps unless the full trace is asked for."""


def replay_port_artifact(artifact: Artifact, replay_command: str, *, full_trace: bool = False) -> ReplayOutcome:
    """Strict replay of a `port-run` artifact: every recorded thread must be runnable where the schedule says,
    and the run must end exactly where the schedule ends."""
    if artifact.scenario.runtime != PORT_RUNTIME:
        return _replay_other_port(artifact, replay_command)
    schedule = decode_schedule(artifact.schedule, "artifact schedule")
    system = port_system(artifact.scenario, artifact.mutants, artifact_observers(artifact))
    scheduler = ReplayScheduler(schedule, system.thread_names())
    scheduler.new_execution()
    run = run_port_system(
        system,
        scheduler,
        observers=observer_factory(artifact_observers(artifact)),
        # A step-limit failure is the run reaching the recorded limit; any other run must end by itself
        # where the schedule ends (one more step asks the replay scheduler, which reports the divergence).
        max_steps=len(schedule) + (0 if artifact.signature.property_id == RUN_STEP_LIMIT else 1),
        outcome_asserted=port_outcome_asserted(artifact),
    )
    if run.result.steps != len(schedule):
        raise PtocheckError(
            f"replay diverged: the run ended after {run.result.steps} steps, the schedule has {len(schedule)}",
            f"step {run.result.steps}",
            "the artifact was recorded against a different port or scenario; re-record it",
        )
    sig = artifact.signature
    verdict = run.verdict
    reproduced = verdict.property_id == sig.property_id and verdict.cxx_function == sig.cxx_function
    report = format_port_report(artifact, run, replay_command, full_trace=full_trace)
    if not reproduced:
        now = f"{verdict.property_id} in {verdict.cxx_function}" if verdict.failed else "the run passes every check"
        report += f"the recorded failure ({sig.property_id} in {sig.cxx_function}) no longer reproduces: {now}\n"
    return ReplayOutcome(reproduced, report)


def format_port_report(artifact: Artifact, run: PortRun, replay_command: str, *, full_trace: bool = False) -> str:
    """Header, numbered step table (thread, operation, memory order, C++ function), final state, replay line."""
    from runtime.execution import format_trace

    sc = artifact.scenario
    result, verdict = run.result, run.verdict
    header = [
        ("property", verdict.property_id or artifact.signature.property_id),
        ("kind", "port run"),
        ("signature", " / ".join(artifact.signature.as_list())),
        ("engine", f"strict replay ({artifact.engine})"),
        ("seed", "-" if artifact.seed is None else str(artifact.seed)),
        ("bounds", artifact.bounds or "-"),
        ("mutants", ", ".join(artifact.mutants) or "none"),
        (
            "scenario",
            f"{sc.name}: {len(sc.tasks())} tasks, runs={sc.runs}, {sc.config.scheduler_threads} scheduler thread(s), "
            f"{sc.config.clusters} cluster(s), expected {sc.expected.label}",
        ),
        ("schedule", f"{result.steps} steps, {result.preemptions} preemptions"),
    ]
    width = max(len(label) for label, _ in header) + 1
    lines = [f"{label + ':':<{width}} {value}" for label, value in header]
    lines.append("")
    limit = None if full_trace or len(result.trace) <= REPORT_TAIL_STEPS + 20 else REPORT_TAIL_STEPS
    if limit is not None:
        lines.append(f"  ... {len(result.trace) - limit} earlier steps omitted (ptocheck replay --full shows them)")
    lines.append(f"{'step':>6}  {'thread':<10} operation [order]  C++ function")
    lines.append(format_trace(result, run.system, limit))
    lines.append("")
    system = run.system
    code = system.fatal_code()
    lines.append(f"final state: outcome {result.outcome}; fatal code {_code_name(code) if code else 'none'}")
    for r in range(system.runs):
        row = " ".join(
            f"{task.name}:{system.ghost_consumed[r][ti]}" for ti, task in enumerate(system.plan.tasks)
        )
        lines.append(f"  run {r} consumed counts: {row}")
    for line in run.thread_lines:
        if not line.endswith(": finished"):
            lines.append(f"  {line}")
    if verdict.failed:
        lines.append(f"violation: {verdict.property_id}: {verdict.message}")
    lines.append(f"replay: {replay_command}")
    return "\n".join(lines) + "\n"


def _replay_other_port(artifact: Artifact, replay_command: str) -> ReplayOutcome:
    """Strict replay on the port of another runtime (properties.runtimes): the run must take exactly the
    recorded schedule; it reproduces when it ends with the recorded property (an observer's failure,
    run.deadlock or run.step_limit)."""
    from properties.runtimes import observers_for, system_for
    from runtime.execution import DEADLOCK, format_trace

    schedule = decode_schedule(artifact.schedule, "artifact schedule")
    system = system_for(artifact.scenario, artifact.mutants)
    scheduler = ReplayScheduler(schedule)
    scheduler.new_execution()
    step_limit = artifact.signature.property_id == RUN_STEP_LIMIT
    # the port's own observers, as `ptocheck run` and `ptocheck fuzz --runtime` check it: a recorded
    # observer failure ends the run at the step it was found
    observers = observers_for(artifact.scenario)(system)
    result = run_once(system, scheduler, observers, max_steps=len(schedule) + (0 if step_limit else 1))
    if result.steps != len(schedule):
        raise PtocheckError(
            f"replay diverged: the run ended after {result.steps} steps, the schedule has {len(schedule)}",
            f"step {result.steps}",
            "the artifact was recorded against a different port or scenario; re-record it",
        )
    if result.outcome == FAILURE and result.failure is not None:
        prop: str | None = result.failure.property_id
    else:
        prop = {DEADLOCK: RUN_DEADLOCK, STEP_LIMIT: RUN_STEP_LIMIT}.get(result.outcome)
    lines = [
        f"property: {artifact.signature.property_id}",
        "kind:     port run",
        f"signature: {' / '.join(artifact.signature.as_list())}",
        f"engine:   strict replay ({artifact.engine})",
        f"bounds:   {artifact.bounds or '-'}",
        f"mutants:  {', '.join(artifact.mutants) or 'none'}",
        "",
        format_trace(result, system),
        "",
        f"final state: outcome {result.outcome}" + (f"; {result.work_left}" if result.work_left else ""),
    ]
    lines += [f"  {line}" for line in result.thread_states if not line.endswith(": finished")]
    reproduced = prop == artifact.signature.property_id
    if not reproduced:
        lines.append(f"the recorded failure ({artifact.signature.property_id}) no longer reproduces: {prop or 'the run passes'}")
    lines.append(f"replay: {replay_command}")
    return ReplayOutcome(reproduced, "\n".join(lines) + "\n")
