"""Explorer throughput and reductions on the reference model, one core (not a test: tests never time).

For each scenario: one line per reduction with distinct states, transitions, wall and CPU seconds,
distinct states per minute (issue target: >= 500,000 on the paged-attention scenario) and the result
(`complete` or `bounded(...)`). The unreduced search is cut at `--max-states`; reduced searches run
to completion unless `--max-states-reduced` says otherwise. `--check` also verifies the reduction
hooks' obligations on a breadth-first prefix and on seeded random runs of each scenario.
"""

from __future__ import annotations

import argparse
import resource
import time

from model.builders import BUILTIN_SCENARIOS
from model.explorer import REDUCTIONS, check_reduction_conditions, explore
from model.trb_model import TrbModel


def _line(name: str, reduction: str, max_states: int | None) -> str:
    model = TrbModel(BUILTIN_SCENARIOS[name]())
    wall, cpu = time.perf_counter(), time.process_time()
    result = explore(model, max_states=max_states, reduction=reduction)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rate = result.states / cpu * 60 if cpu > 0 else float("inf")
    return (
        f"{name:18s} {reduction:16s} {result.states:>9,d} states {result.transitions:>10,d} transitions "
        f"{wall:7.1f}s wall {cpu:7.1f}s cpu {rate:>11,.0f} states/min  {result.verdict()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-states", type=int, default=1_000_000, help="bound of the unreduced search")
    parser.add_argument("--max-states-reduced", type=int, default=0, help="bound of reduced searches (0 = none)")
    parser.add_argument(
        "--reductions", default="none,canonical+ample", help=f"comma-separated, from: {', '.join(REDUCTIONS)}"
    )
    parser.add_argument("--check", action="store_true", help="verify the reduction obligations too")
    parser.add_argument("--check-states", type=int, default=100_000)
    parser.add_argument("--check-walks", type=int, default=1_000)
    parser.add_argument("scenarios", nargs="*", default=["pa_two_blocks", "pa_scope_deadlock"])
    args = parser.parse_args()
    for name in args.scenarios:
        for reduction in args.reductions.split(","):
            bound = args.max_states if reduction == "none" else (args.max_states_reduced or None)
            print(_line(name, reduction, bound), flush=True)
        if args.check:
            cpu = time.process_time()
            check = check_reduction_conditions(
                TrbModel(BUILTIN_SCENARIOS[name]()),
                max_states=args.check_states,
                random_walks=args.check_walks,
                seed=1,
            )
            print(
                f"{name:18s} obligations: {check.states:,d} BFS states ({'complete' if check.complete else 'prefix'})"
                f" + {check.walk_states:,d} random-walk states, {check.canonical_differs:,d} non-canonical,"
                f" {check.safe_checked:,d} safe steps checked, {len(check.problems)} problem(s)"
                f" {time.process_time() - cpu:.1f}s cpu",
                flush=True,
            )
            for problem in check.problems:
                print(f"  {problem}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
