"""`ptocheck refine SCENARIO`: one port run checked only for refinement of the reference model.

Prints the verdict (refines the model / the first step that maps to no enabled model action), the number
of non-stutter steps per model action kind (non-vacuity), and the schedule. `--mutant-table` prints which
mutants the refinement check alone catches (random seeds 1..8 on each mutant's scenarios). Exit 0 when the
run refines the model, 1 when it does not, 2 on bad input.
"""

from __future__ import annotations

import argparse

from fuzz.cmd_run import SCHEDULERS, make_scheduler
from fuzz.scenario_args import load_scenario_arg
from model.errors import PtocheckError
from properties.refinement import (
    check_refinement,
    format_mutant_table,
    known_finding,
    not_applicable,
    refinement_mutant_table,
)
from runtime.trb import TrbSystem

EXIT_OK, EXIT_VIOLATION = 0, 1


def cmd_refine(args: argparse.Namespace) -> int:
    if args.mutant_table:
        print(format_mutant_table(refinement_mutant_table()))
        return EXIT_OK
    if not args.scenario:
        raise PtocheckError("a scenario is required", "scenario", "pass a built-in name or a scenario JSON file")
    scenario, _ = load_scenario_arg(args.scenario)
    if scenario.runtime != "tensormap_and_ringbuffer":
        raise PtocheckError(f"refinement is checked for tensormap_and_ringbuffer, not {scenario.runtime}",
                            "scenario", "pick a TRB scenario")
    system = TrbSystem(scenario, tuple(args.mutant or ()))
    reason = not_applicable(system)
    if reason is not None:
        raise PtocheckError(f"refinement does not apply: {reason}", "scenario", "pick another scenario")
    scheduler, desc = make_scheduler(args.scheduler, args.seed, args.depth, 600)
    scheduler.new_execution()
    report, result = check_refinement(system, scheduler, args.max_steps)
    print(f"scenario: {scenario.name}; scheduler: {desc}" + (f"; mutants: {', '.join(args.mutant)}" if args.mutant else ""))
    print(f"outcome: {result.outcome} after {result.steps} steps")
    print(report.summary())
    if report.failure is not None:
        print(f"failure: {report.failure.message}")
        known = known_finding(system, report)
        if known is not None:
            print(f"known finding: {known}")
    print(f"schedule: {result.schedule_text()}")
    return EXIT_OK if report.failure is None else EXIT_VIOLATION


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("refine", help="check that one port run refines the reference model")
    p.add_argument("scenario", nargs="?", help="a built-in scenario name or a scenario JSON file")
    p.add_argument("--scheduler", choices=SCHEDULERS, default="random", help="how threads are interleaved")
    p.add_argument("--seed", type=int, default=0, help="seed of the random / pct scheduler (default 0)")
    p.add_argument("--depth", type=int, default=3, help="PCT bug depth d (default 3)")
    p.add_argument("--max-steps", type=int, default=200_000, help="step bound of the run")
    p.add_argument("--mutant", action="append", metavar="NAME", help="turn on a mutant switch (repeatable)")
    p.add_argument("--mutant-table", action="store_true", help="print which mutants refinement alone catches")
    p.set_defaults(func=cmd_refine)
