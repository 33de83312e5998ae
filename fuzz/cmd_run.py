"""`ptocheck run SCENARIO`: one execution of the step-level TRB port under a chosen scheduler.

Prints the verdict: the outcome (done / deadlock / step-limit), the number of steps, the schedule in its
one-line replayable form, every thread's state when the run did not finish, and (with --trace) the
numbered step table with the C++ function of every step. Exit 0 when the run reached the scenario's
expected outcome, 1 when it did not (deadlock, livelock, wrong fatal), 2 on bad input.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from model.builders import BUILTIN_SCENARIOS
from model.errors import PtocheckError, ScenarioError
from model.scenario import Scenario, load_scenario
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
from runtime.trb.mutants import MUTANTS

EXIT_OK, EXIT_VIOLATION = 0, 1
SCHEDULERS = ("round-robin", "random", "pct")


def resolve_scenario(spec: str) -> Scenario:
    """A built-in scenario name or a scenario JSON file."""
    if spec in BUILTIN_SCENARIOS:
        return BUILTIN_SCENARIOS[spec]()
    path = Path(spec)
    if path.suffix == ".json" or path.exists():
        return load_scenario(path)
    known = ", ".join(sorted(BUILTIN_SCENARIOS))
    raise ScenarioError(f"no built-in scenario or file named {spec!r}", "scenario", f"built-ins: {known}")


def make_scheduler(name: str, seed: int, depth: int) -> tuple[Scheduler, str]:
    """The scheduler and a one-line description of what it guarantees."""
    if name == "round-robin":
        return RoundRobinScheduler(), "round-robin"
    if name == "random":
        rnd = RandomScheduler(seed)
        return rnd, f"random, seed {seed}"
    from runtime.pct import PCTScheduler  # the PCT engine is optional for this command's other modes

    return PCTScheduler(seed, depth=depth), f"pct, seed {seed}, depth {depth}"


def cmd_run(args: argparse.Namespace) -> int:
    scenario = resolve_scenario(args.scenario)
    mutants = tuple(args.mutant or ())
    if args.max_steps < 1:
        raise PtocheckError(f"--max-steps must be >= 1, got {args.max_steps}", "--max-steps")
    system = TrbSystem(scenario, mutants)
    if args.schedule:
        scheduler: Scheduler = ReplayScheduler(decode_schedule(args.schedule, "--schedule"), system.thread_names())
        desc = "strict replay of --schedule"
    else:
        scheduler, desc = make_scheduler(args.scheduler, args.seed, args.depth)
    scheduler.new_execution()
    result = run_once(system, scheduler, max_steps=args.max_steps, record_trace=args.trace)
    expected = scenario.expected.label
    reached = result.outcome == DONE
    print(f"scenario: {scenario.name} (runs={scenario.runs}, expected: {expected})")
    print(f"scheduler: {desc}" + (f"; {scheduler.bound_text()}" if hasattr(scheduler, "bound_text") else ""))
    if mutants:
        print("mutants: " + ", ".join(f"{m} ({MUTANTS[m].catalogue_id})" for m in mutants))
    code = system.fatal_code()
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
    p = sub.add_parser("run", help="run the step-level TRB port once under a scheduler and print the verdict")
    p.add_argument("scenario", help="a built-in scenario name or a scenario JSON file")
    p.add_argument("--scheduler", choices=SCHEDULERS, default="random", help="how threads are interleaved")
    p.add_argument("--seed", type=int, default=0, help="seed of the random / pct scheduler (default 0)")
    p.add_argument("--depth", type=int, default=3, help="PCT bug depth d (default 3)")
    p.add_argument(
        "--mutant",
        action="append",
        metavar="NAME",
        help="turn on a mutant switch (repeatable); see runtime/trb/mutants.py",
    )
    p.add_argument("--schedule", metavar="TEXT", help="replay this schedule (ptosched1:...) strictly instead")
    p.add_argument("--max-steps", type=int, default=400_000, help="livelock bound (default 400,000 steps)")
    p.add_argument("--trace", action="store_true", help="print every step with its C++ function")
    p.set_defaults(func=cmd_run)
