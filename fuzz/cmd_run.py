"""`ptocheck run SCENARIO`: one execution of a step-level port under a chosen scheduler.

The port is the scenario's runtime's (or `--runtime`'s: see fuzz/scenario_args.py), with its per-step
property checks on (`properties.runtimes.observers_for`). Prints the verdict: the outcome (done /
deadlock / step-limit / failure), the number of steps, the first violated property, the schedule in its
one-line replayable form, every thread's state when the run did not finish, and (with --trace) the
numbered step table with the C++ function of every step. Exit 0 when the run reached the scenario's
expected outcome with no property violated, 1 when it did not (violation, deadlock, livelock, wrong
fatal), 2 on bad input.
"""

from __future__ import annotations

import argparse

from fuzz.scenario_args import (
    add_memory_model_argument,
    add_runtime_argument,
    resolve_scenario,
    scaled_constants_text,
)
from model.errors import PtocheckError
from properties.runtimes import mutants_for, observers_for, system_for
from runtime.core import System
from runtime.execution import (
    DONE,
    RandomScheduler,
    ReplayScheduler,
    RoundRobinScheduler,
    Scheduler,
    decode_schedule,
    format_trace,
    run_once,
)
from runtime.trb import TrbSystem
from runtime.trb.mutants import MUTANTS as TRB_MUTANTS

EXIT_OK, EXIT_VIOLATION = 0, 1
SCHEDULERS = ("round-robin", "random", "pct")


def make_scheduler(name: str, seed: int, depth: int, steps_estimate: int = 100) -> tuple[Scheduler, str]:
    """The scheduler and a one-line description of what it guarantees."""
    if name == "round-robin":
        return RoundRobinScheduler(), "round-robin"
    if name == "random":
        rnd = RandomScheduler(seed)
        return rnd, f"random, seed {seed}"
    from runtime.pct import PCTScheduler  # the PCT engine is optional for this command's other modes

    return PCTScheduler(seed, depth=depth, steps_estimate=steps_estimate), f"pct, seed {seed}, depth {depth}"


def _mutant_label(runtime: str, name: str) -> str:
    """The catalogue id of a tensormap_and_ringbuffer mutant; what another runtime's mutant changes."""
    if runtime == "tensormap_and_ringbuffer":
        return TRB_MUTANTS[name].catalogue_id
    return mutants_for(runtime)[name]


def _calibrated_steps(system: System, max_steps: int) -> int:
    """PCT's k for this scenario: the length of a round-robin run (as `ptocheck search` calibrates it)."""
    probe = RoundRobinScheduler()
    probe.new_execution()
    return max(run_once(system, probe, max_steps=max_steps, record_trace=False).steps, 1)


def cmd_run(args: argparse.Namespace) -> int:
    scenario, _ = resolve_scenario(args.scenario, args.runtime, args.memory_model)
    mutants = tuple(args.mutant or ())
    if args.max_steps < 1:
        raise PtocheckError(f"--max-steps must be >= 1, got {args.max_steps}", "--max-steps")
    system = system_for(scenario, mutants)
    observers = observers_for(scenario)(system)
    if args.schedule:
        # thread names for divergence reports, from a throwaway instance (threads() is called once per system)
        names = [name for name, _, _ in system_for(scenario, mutants).threads()]
        scheduler: Scheduler = ReplayScheduler(decode_schedule(args.schedule, "--schedule"), names)
        desc = "strict replay of --schedule"
    else:
        k = _calibrated_steps(system_for(scenario, mutants), args.max_steps) if args.scheduler == "pct" else 100
        scheduler, desc = make_scheduler(args.scheduler, args.seed, args.depth, k)
    scheduler.new_execution()
    result = run_once(system, scheduler, observers, max_steps=args.max_steps, record_trace=args.trace)
    expected = scenario.expected.label
    cfg = scenario.config
    if cfg.init_failure:  # the outcome of an injected startup abort (runtime/trb/startup.py)
        before = f"runs 0..{cfg.init_failure_run - 1} complete, then " if cfg.init_failure_run else ""
        expected = f"{before}startup abort {cfg.init_failure} in run {cfg.init_failure_run}, every thread stopped"
    reached = result.outcome == DONE and result.failure is None
    print(f"scenario: {scenario.name} [{scenario.runtime}] (runs={scenario.runs}, expected: {expected})")
    if scaled := scaled_constants_text(scenario):
        print(f"scaled constants: {scaled}")
    print(f"scheduler: {desc}" + (f"; {scheduler.bound_text()}" if hasattr(scheduler, "bound_text") else ""))
    if mutants:
        print("mutants: " + ", ".join(f"{m} ({_mutant_label(scenario.runtime, m)})" for m in mutants))
    code = system.fatal_code() if isinstance(system, TrbSystem) else 0
    verdict = "expected outcome reached" if reached else "expected outcome NOT reached"
    print(f"outcome: {result.outcome} after {result.steps} steps ({result.preemptions} preemptions): {verdict}")
    if code:
        print(f"latched error code: {code}")
    if result.work_left:
        print(f"why: {result.work_left}")
    if result.failure is not None:
        print(f"failure: {result.failure.property_id}: {result.failure.message} (step {result.failure.step + 1})")
    if result.thread_states:
        print("thread states:")
        for line in result.thread_states:
            print(f"  {line}")
    print(f"schedule: {result.schedule_text()}")
    if args.trace:
        print("trace:")
        print(format_trace(result, system))
    return EXIT_OK if reached else EXIT_VIOLATION


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run a step-level port once under a scheduler and print the verdict")
    p.add_argument("scenario", help="a built-in scenario name or a scenario JSON file")
    p.add_argument("--scheduler", choices=SCHEDULERS, default="random", help="how threads are interleaved")
    p.add_argument("--seed", type=int, default=0, help="seed of the random / pct scheduler (default 0)")
    p.add_argument("--depth", type=int, default=3, help="PCT bug depth d (default 3)")
    p.add_argument(
        "--mutant",
        action="append",
        metavar="NAME",
        help="turn on a mutant switch (repeatable); `ptocheck mutants` lists them",
    )
    add_runtime_argument(p)
    add_memory_model_argument(p)
    p.add_argument("--schedule", metavar="TEXT", help="replay this schedule (ptosched1:...) strictly instead")
    p.add_argument("--max-steps", type=int, default=400_000, help="livelock bound (default 400,000 steps)")
    p.add_argument("--trace", action="store_true", help="print every step with its C++ function")
    p.set_defaults(func=cmd_run)
