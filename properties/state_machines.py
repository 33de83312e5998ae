"""Hypothesis state machines over the TRB model and the step-level port.

`PortRefinementMachine` drives the port one step at a time: Hypothesis chooses which thread moves at every
scheduling point (so it shrinks schedules), on a scenario drawn from `properties.strategies` within the
runtime's sizing rules (INV-S6: every task must be consumed, so the end-of-run properties apply too). The
orchestrator thread's steps are the submits and scope begins/ends of the scenario's program, so choosing the
thread chooses when each of them happens. `properties.program_machine.ProgramBuildingMachine` is its sibling
whose rules build the program (submit, open and close scopes) before the same stepping runs it.

Both step the port through `CheckedPortRun`: every step runs the port's incremental per-step invariants
(`properties.port_checks.PortInvariants`), the refinement check (`properties.refinement.RefinementObserver`)
and the model's ALWAYS properties on the model states the step maps to (`RefinedModelProperties`); the
invariant after every rule asserts that none failed, except a failure the port's own records attribute to a
registered finding (then the example records it with `hypothesis.event` and stops stepping: a known finding
is a legitimate report, not a reason to fail every later example). A failure is saved as a `port-run`
artifact whose signature is what `ptocheck replay` judges on the recorded schedule.

`ModelMachine` exercises the model alone at high speed: a rule takes one enabled model action chosen by
Hypothesis; the invariant checks every ALWAYS property of `model.invariants` after each action.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from hypothesis import assume, event
from hypothesis import strategies as st
from hypothesis.control import current_build_context
from hypothesis.errors import InvalidArgument
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from model.errors import PtocheckError
from model.protocol import PropertyKind
from model.scenario import Scenario
from model.trb_model import State, TrbModel
from properties.artifacts import Artifact, Signature, dump_artifact, failure_dir, save_artifact
from properties.findings import matching_finding, model_property_finding
from properties.port_checks import PortInvariants
from properties.refinement import (
    MODEL_PROPERTY_PREFIX,
    RefinementObserver,
    known_finding,
    not_applicable,
    refinement_observers,
)
from properties.replay import (
    PORT_CHECKS,
    REFINEMENT,
    RUN_STEP_LIMIT,
    observer_factory,
    port_system,
    run_port_system,
)
from properties.strategies import SMALL_LIMITS, outcome_is_decided, scenarios
from runtime.core import Executor, Failure, Observer
from runtime.execution import DEADLOCK, DONE, ReplayScheduler, encode_schedule
from runtime.trb import TrbSystem

# thread choices are drawn from this range and taken modulo the runnable count; 0 = stay on the current
# thread, so shrinking removes preemptions
_CHOICE = st.integers(0, 7)


def known_port_finding(system: TrbSystem, failure: Failure, function: str) -> str | None:
    """The registered finding a port check's failure matches (the registry's own matching: runtime,
    property, blamed C++ function, scope), or None."""
    signature = Signature(system.scenario.runtime, failure.property_id, function)
    finding = matching_finding(signature, scenario=system.scenario)
    return finding.ident if finding is not None else None


MACHINE_OBSERVERS = (PORT_CHECKS, REFINEMENT)
"""The observer sets (properties.replay) a machine's saved artifact is replayed with."""
FINISH_MAX_STEPS = 20_000
"""`CheckedPortRun.finish` bound: a small program's round-robin run ends in a few hundred steps."""


def aiv_only_mix(system: TrbSystem) -> bool:
    """A MIX task with no AIC kernel: the model requires a free AIC to start its block, the port does not
    (model limitation L-MODEL-MIX-AIV-ONLY, tests/test_refinement.py's xfail; reported, not hidden)."""
    return any(t.mask and not t.mask & 1 and t.mask & (t.mask - 1) for t in system.plan.tasks)


class CheckedPortRun:
    """One port run stepped thread by thread, every step checked (see the module docstring); `engine` and
    `command` say in a saved artifact what produced it."""

    def __init__(self, system: TrbSystem, engine: str, command: str) -> None:
        self.system = system
        self.engine = engine
        self.command = command
        self.ex = Executor(system)
        self.port_checks = PortInvariants(system)
        self.refinement_checks: list[Observer] = refinement_observers(system)
        refinement = self.refinement_checks[0]
        assert isinstance(refinement, RefinementObserver)
        self.refinement = refinement
        # a scenario whose outcome its program does not decide: a latched fatal is not judged at the end
        self.outcome_asserted = outcome_is_decided(system.scenario)
        self.current: int | None = None
        self.failure: Failure | None = None
        self.failure_function = ""
        self.last_function = ""  # the C++ function of the last step taken
        self.stopped = False
        self.reported = False  # the failure was raised (teardown does not raise it again)
        self.taken_tids: list[int] = []  # the schedule so far, saved with a failure

    def can_step(self) -> bool:
        return not self.stopped and bool(self.ex.choices()[0])

    def step(self, choice: int) -> None:
        """Run the thread `choice` picks (0 = stay on the current thread, then the others in thread order,
        modulo their count); once nothing can move, judge the end of the run (once)."""
        if not self.can_step():
            self.run_ended()
            return
        choices, fire = self.ex.choices()
        ordered = list(choices)
        if self.current is not None and self.current in ordered:
            ordered.remove(self.current)
            ordered.insert(0, self.current)
        self._take(ordered[choice % len(ordered)], fire)

    def finish(self, max_steps: int = FINISH_MAX_STEPS) -> None:
        """Run to the end round-robin (the next runnable thread after the current one, a fair schedule
        that ends every correct run), checking every step; then judge the end of the run."""
        while self.can_step() and self.failure is None:
            if len(self.taken_tids) >= max_steps:
                self.stopped = True
                self.failure = Failure(RUN_STEP_LIMIT, f"the run did not end within {max_steps} steps", max_steps - 1)
                self.failure_function = self.last_function
                return
            choices, fire = self.ex.choices()
            after = [t for t in choices if self.current is None or t > self.current]
            self._take((after or choices)[0], fire)
        self.run_ended()

    def _take(self, tid: int, fire: bool) -> None:
        ex, system = self.ex, self.system
        rec = ex.step(tid, fire)
        self.last_function = rec.op.cite.function
        self.current = tid
        self.taken_tids.append(tid)
        failure = self.port_checks.on_step(ex, rec)
        known = known_port_finding(system, failure, rec.op.cite.function) if failure is not None else None
        for observer in self.refinement_checks:
            refined = observer.on_step(ex, rec)
            if refined is not None and failure is None:
                failure = refined
                known = self._known_refinement_finding(refined)
        if failure is None:
            return
        self.stopped = True
        if known is not None:
            event(f"known finding {known}")
            return
        self.failure = failure
        self.failure_function = rec.op.cite.function

    def _known_refinement_finding(self, failure: Failure) -> str | None:
        if failure.property_id.startswith(MODEL_PROPERTY_PREFIX):
            finding = model_property_finding(self.system.scenario, failure.property_id[len(MODEL_PROPERTY_PREFIX):])
            return finding.ident if finding is not None else None
        return known_finding(self.system, self.refinement.report)

    def run_ended(self) -> None:
        ex, system = self.ex, self.system
        if self.stopped:
            return
        self.stopped = True
        outcome = DONE if ex.finished() and system.work_left() is None else DEADLOCK
        if not self.outcome_asserted and system.fatal_code():
            event("run ended with a fatal the program does not decide (outcome not asserted)")
            return
        failure = self.port_checks.at_end(ex, outcome)
        self.failure_function = "end of run"
        if failure is None:
            event(f"run ended: {outcome}")
            return
        known = known_port_finding(system, failure, "end of run")
        if known is not None:
            event(f"known finding {known}")
            return
        self.failure = failure

    def raise_on_failure(self) -> None:
        """Raise the recorded failure (if any, once) with its saved artifact and replay command."""
        if self.failure is not None and not self.reported:
            self.reported = True
            f = self.failure
            head = f"{f.property_id} at step {f.step + 1}: {f.message}"
            if not _final_example():
                raise AssertionError(head)  # a shrinking attempt: the final example saves the artifact
            path = self.save_artifact(f)
            raise AssertionError(f"{head}\nartifact: {path}\nreplay: ptocheck replay {path}")

    def save_artifact(self, f: Failure) -> Path:
        """The failing run as a `port-run` artifact (scenario, mutants, exact schedule) under
        PTOCHECK_FAILURE_DIR, signed as `ptocheck replay` judges that schedule."""
        system = self.system
        artifact = Artifact(
            kind="port-run",
            scenario=system.scenario,
            signature=Signature(system.scenario.runtime, f.property_id, self.failure_function),
            message=f.message,
            engine=self.engine,
            seed=None,
            bounds=f"bounded(steps={len(self.taken_tids)})",
            command=self.command,
            schedule=encode_schedule(self.taken_tids),
            mutants=tuple(sorted(system.mutants)),
            failing_step=f.step,
            extra={"observers": list(MACHINE_OBSERVERS), "outcome_asserted": self.outcome_asserted},
        )
        artifact = _signed_as_replay_judges(artifact, self.taken_tids)
        digest = hashlib.sha256(dump_artifact(artifact).encode()).hexdigest()[:12]
        path = failure_dir() / f"state-machine-{f.property_id}-{digest}.json"
        save_artifact(path, artifact)
        return path


def _final_example() -> bool:
    """True outside Hypothesis and in the example Hypothesis reports (its final replay); False while it
    generates and shrinks, where saving an artifact (a checked re-run) per failing attempt costs most of
    the shrinking time. (`is_final` is what hypothesis.stateful itself reads to print the steps.)"""
    try:
        return bool(current_build_context().is_final)
    except InvalidArgument:
        return True


def _signed_as_replay_judges(artifact: Artifact, schedule: list[int]) -> Artifact:
    """`artifact` with the signature and failing step the replay's judge gives its schedule (the machine's
    end-of-run checks name properties as PortInvariants does; the replay names them as judge_port_run
    does). Unchanged when the replay does not fail there: `ptocheck replay` then reports the difference."""
    names = MACHINE_OBSERVERS
    system = port_system(artifact.scenario, artifact.mutants, names)
    scheduler = ReplayScheduler(schedule, system.thread_names())
    scheduler.new_execution()
    step_limit = artifact.signature.property_id == RUN_STEP_LIMIT
    try:
        run = run_port_system(
            system, scheduler, observers=observer_factory(names), max_steps=len(schedule) + (0 if step_limit else 1),
            outcome_asserted=bool(artifact.extra["outcome_asserted"]),
        )
    except PtocheckError:
        return artifact
    verdict = run.verdict
    if verdict.property_id is None:
        return artifact
    signature = Signature(artifact.signature.runtime, verdict.property_id, verdict.cxx_function)
    return replace(artifact, signature=signature, failing_step=verdict.step)


class PortRefinementMachine(RuleBasedStateMachine):
    """The port under a Hypothesis-chosen interleaving, checked step by step against the model."""

    def __init__(self) -> None:
        super().__init__()
        self.run: CheckedPortRun | None = None

    @initialize(scenario=scenarios(SMALL_LIMITS, sizing="within", name="state_machine"))
    def build(self, scenario: Scenario) -> None:
        system = TrbSystem(scenario)
        assume(not_applicable(system) is None)
        # a program with no task at all never terminates in the port (the schedulers idle forever after the
        # orchestrator finished; reported separately): the machine checks programs with work
        assume(len(system.plan.tasks) > 0)
        assume(not aiv_only_mix(system))
        self.run = CheckedPortRun(
            system, "Hypothesis PortRefinementMachine (Hypothesis chose every thread)",
            "pytest tests/test_state_machines.py",
        )

    @rule(choice=_CHOICE)
    def step_thread(self, choice: int) -> None:
        """Run the chosen thread's next step; once nothing can move, judge the end of the run (once)."""
        assert self.run is not None
        self.run.step(choice)

    @invariant()
    def port_invariants_and_refinement_hold(self) -> None:
        if self.run is not None:
            self.run.raise_on_failure()

    def teardown(self) -> None:
        if self.run is not None and self.run.refinement.report.non_stutter:
            event("the port made model-visible progress")


class ModelMachine(RuleBasedStateMachine):
    """The model alone: Hypothesis picks each enabled action; every ALWAYS property holds after each."""

    def __init__(self) -> None:
        super().__init__()
        self.trb_model: TrbModel | None = None
        self.model_state: State | None = None
        self.always: list[Any] = []
        self.taken = 0
        self.stopped = False

    @initialize(scenario=scenarios(SMALL_LIMITS, name="model_machine"))
    def build(self, scenario: Scenario) -> None:
        self.trb_model = TrbModel(scenario)
        self.model_state = self.trb_model.initial_states()[0]
        self.always = [p for p in self.trb_model.properties() if p.kind is PropertyKind.ALWAYS]

    def _enabled(self) -> bool:
        return (self.trb_model is not None and self.model_state is not None and not self.stopped
                and bool(self.trb_model.actions(self.model_state)))

    @rule(choice=st.integers(0, 63))
    def take_action(self, choice: int) -> None:
        """Take the chosen enabled action (nothing once no action is enabled: final, fatal, or stopped)."""
        if not self._enabled():
            return
        assert self.trb_model is not None and self.model_state is not None
        actions = self.trb_model.actions(self.model_state)
        self.model_state = self.trb_model.next_state(self.model_state, actions[choice % len(actions)])
        self.taken += 1

    @invariant()
    def model_properties_hold(self) -> None:
        if self.trb_model is None or self.model_state is None:
            return
        for prop in self.always:
            if not prop.holds(self.model_state):
                # a violation that is a registered finding about the runtime (e.g. INV-R7), in its scope
                finding = model_property_finding(self.trb_model.scenario, prop.name)
                if finding is not None:
                    event(f"known finding {finding.ident}")
                    self.stopped = True
                    return
                raise AssertionError(
                    f"{prop.name} ({prop.spec}) violated after {self.taken} actions: "
                    f"{self.trb_model.format_state(self.model_state)}"
                )

    def teardown(self) -> None:
        if self.trb_model is not None and self.model_state is not None and self.trb_model.is_final(self.model_state):
            event("the model reached a final state")


__all__ = ["CheckedPortRun", "ModelMachine", "PortRefinementMachine", "aiv_only_mix", "known_port_finding"]
