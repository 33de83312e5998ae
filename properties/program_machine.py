"""`ProgramBuildingMachine`: a Hypothesis state machine whose rules write the orchestration program and then
run it on the step-level port, checked against the model at every step.

Two phases. Building: `open_scope` (AUTO, MANUAL, rarely AUTO inside MANUAL: the runtime's INVALID_ARGS),
`close_scope`, `submit` (a compute or dummy task over the buffers declared so far: overlapping views,
explicit WAIT / WAIT+RETAIN dependencies, SPMD blocks, rarely a submit into a full frame: the runtime's
SCOPE_DEADLOCK), `alloc` (a hidden alloc task) and `access_tensor_data` append ops drawn by
`properties.strategies.ProgramBuilder` (the draws `programs` makes), so the program is valid by
construction; the invariant `program_so_far_is_valid` runs the scenario format's validator on it after
every rule. `step` is enabled once the program has a drawn number of tasks (1..max_tasks, shrinking to 1)
or after BUILD_BUDGET building rules: programs are not cut short by an early step, and a task rule that
swarm testing switched off cannot keep the run from starting.

Running: the first `step` closes the open scopes, draws the resources from the program's needs within the
sizing rules (INV-S6, so every task must be consumed), round-trips the scenario through the format's JSON
parser, and builds the port; from then on `step` runs one thread's step (0 = stay on the current thread,
so shrinking removes preemptions), checked by `properties.state_machines.CheckedPortRun` (the port's
per-step invariants, refinement of the model, the model's ALWAYS properties on the matched model states).
Teardown runs the rest of the program round-robin, still checked, and judges the end of the run.

The C++ orchestrator executes its program in order, and the port's plan is built from a complete scenario,
so the program is complete before the first step (the port cannot run an op not yet in the program).
Hypothesis's swarm testing may switch `step` off for a whole example: that example only builds a program
(the `program_so_far_is_valid` check still runs) and its teardown says so in an event.
"""

from __future__ import annotations

from dataclasses import replace
from typing import cast

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from model.scenario import Config, Scenario, Submit, dump_scenario, parse_scenario, validate
from properties.refinement import not_applicable
from properties.state_machines import CheckedPortRun, aiv_only_mix
from properties.strategies import (
    SMALL_LIMITS,
    ProgramBuilder,
    ProgramLimits,
    constants,
    sized_for_program,
    windows,
)
from runtime.trb import TrbSystem

# as PortRefinementMachine: drawn, then taken modulo the runnable count; 0 = stay on the current thread
_CHOICE = st.integers(0, 7)
SCENARIO_NAME = "program_machine"
BUILD_BUDGET = 4  # building rules after which the run may start whatever the task count


def _draw(data: st.DataObject) -> st.DrawFn:
    """A rule's data object as the draw function the strategies' building blocks take."""
    return cast(st.DrawFn, data.draw)


class ProgramBuildingMachine(RuleBasedStateMachine):
    """Rules build a program (submit, open/close scopes, tensor data), then step the port running it."""

    limits: ProgramLimits = SMALL_LIMITS
    mutants: tuple[str, ...] = ()  # planted bugs (runtime.trb.mutants) the port runs with

    def __init__(self) -> None:
        super().__init__()
        self.data: st.DataObject | None = None
        self.builder: ProgramBuilder | None = None
        self.config = Config()
        self.run: CheckedPortRun | None = None
        self.target_tasks = 1
        self.built = 0  # building rules run so far

    # ------------------------------------------------------------------ building

    @initialize(data=st.data())
    def configure(self, data: st.DataObject) -> None:
        """The configuration the resources do not depend on, the external buffers, and a first task (a
        program with no task never ends in the port: reported separately, so every program has work)."""
        self.data = data  # the first step draws the resources with it, once the program is known
        limits = self.limits
        w = data.draw(windows(limits.window_choices), label="task windows")
        self.config = Config(
            task_window=w,
            heap_bytes=(1024, 1024, 1024, 1024),
            dep_pool=(16, 16, 16, 16),
            scheduler_threads=data.draw(st.integers(1, 3), label="scheduler threads"),
            clusters=data.draw(st.integers(1, limits.max_clusters), label="clusters"),
            # serial_orch_sched stays off: the model has no serial mode (refinement.not_applicable)
            constants=data.draw(constants(), label="constants"),
        )
        self.builder = ProgramBuilder(_draw(data), w, limits)
        # the run starts once the program has this many tasks (or after BUILD_BUDGET building rules)
        self.target_tasks = data.draw(st.integers(1, limits.max_tasks), label="tasks before the run")
        self._add_task(data, alloc=False)

    def _building(self) -> bool:
        return self.run is None and self.builder is not None

    def _may_run(self) -> bool:
        """The run may start: the program has its drawn number of tasks, or no room for more, or the rules
        built for long enough (swarm testing may have switched the task rules off)."""
        builder = self.builder
        return self.run is not None or (
            builder is not None
            and (builder.task_count >= self.target_tasks or not builder.can_add_task() or self.built >= BUILD_BUDGET)
        )

    @precondition(lambda self: self._building() and self.builder.can_open_scope())
    @rule(data=st.data())
    def open_scope(self, data: st.DataObject) -> None:
        assert self.builder is not None
        self.built += 1
        self.builder.open_scope(_draw(data))

    @precondition(lambda self: self._building() and self.builder.depth > 0)
    @rule()
    def close_scope(self) -> None:
        assert self.builder is not None
        self.built += 1
        self.builder.close_scope()

    @precondition(lambda self: self._building() and self.builder.can_add_task())
    @rule(data=st.data())
    def submit(self, data: st.DataObject) -> None:
        """A compute or dummy task over the buffers declared so far (explicit dependencies, SPMD blocks)."""
        self._add_task(data, alloc=False)

    @precondition(lambda self: self._building() and self.builder.can_add_task())
    @rule(data=st.data())
    def alloc(self, data: st.DataObject) -> None:
        """A hidden alloc_tensors task creating 1-3 buffers (COMPLETED at submit)."""
        self._add_task(data, alloc=True)

    @precondition(lambda self: self._building())
    @rule(data=st.data())
    def access_tensor_data(self, data: st.DataObject) -> None:
        """get_tensor_data / set_tensor_data on a view of a live buffer."""
        assert self.builder is not None
        self.built += 1
        self.builder.tensor_data(_draw(data))

    def _add_task(self, data: st.DataObject, alloc: bool) -> None:
        assert self.builder is not None
        self.built += 1
        task = self.builder.add_task(_draw(data), alloc)
        if isinstance(task, Submit) and task.kernel_ids[0] < 0 and min(task.kernel_ids[1:]) >= 0:
            # an AIV0+AIV1 MIX task gets an AIC kernel: the model's L-MODEL-MIX-AIV-ONLY limitation (the
            # model wants a free AIC for any MIX block) would fail refinement on a correct port
            self.builder.replace_last_task(replace(task, kernel_ids=(0, *task.kernel_ids[1:])))

    def _scenario(self) -> Scenario:
        assert self.builder is not None
        return Scenario(SCENARIO_NAME, self.config, self.builder.externals, self.builder.program())

    @invariant()
    def program_so_far_is_valid(self) -> None:
        """The scenario format's validator accepts the program built so far (open scopes closed)."""
        if self._building():
            validate(self._scenario())

    # ------------------------------------------------------------------ running

    def _start(self) -> CheckedPortRun:
        """Close the open scopes, size the resources within the sizing rules, parse, build the port."""
        assert self.data is not None
        scenario = sized_for_program(_draw(self.data), self._scenario(), "within")
        parsed = parse_scenario(dump_scenario(scenario), "the machine's program")  # the format's own parser
        assert parsed == scenario, "the scenario does not survive its JSON round trip"
        system = TrbSystem(parsed, self.mutants)
        assert not_applicable(system) is None and not aiv_only_mix(system) and system.plan.tasks
        return CheckedPortRun(
            system, f"Hypothesis {type(self).__name__} (rules built the program, Hypothesis chose every thread)",
            "pytest tests/test_program_machine.py",
        )

    @precondition(lambda self: self._may_run())
    @rule()
    def step(self) -> None:
        """Run the next step of a thread Hypothesis chooses (the first step starts the run: building ends)."""
        assert self.data is not None
        if self.run is None:
            self.run = self._start()
        if self.run.can_step():
            self.run.step(self.data.draw(_CHOICE, label="thread"))
        else:
            self.run.run_ended()  # judged now: the invariant after this rule reports a failure at once

    @invariant()
    def port_invariants_and_refinement_hold(self) -> None:
        if self.run is not None:
            self.run.raise_on_failure()

    def teardown(self) -> None:
        run = self.run
        if run is None:
            event("the program was built but never run (no step rule)")
            return
        tasks = len(run.system.plan.tasks)
        event(f"program of {'1-2' if tasks <= 2 else '3-4' if tasks <= 4 else '5+'} tasks ran")
        run.finish()
        run.raise_on_failure()


__all__ = ["ProgramBuildingMachine"]
