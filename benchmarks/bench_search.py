"""Schedule-search throughput on one core: executor steps per second, PCT runs per second, DFS distinct
states per minute (toys, and the TRB port on a built-in scenario when it is importable).

Not a test (tests never time). Examples:
    python benchmarks/bench_search.py --seconds 60 --bounds 0,1,2
    python benchmarks/bench_search.py --issue-target --cpu-seconds 300   # issue 3's DFS target (see below)

`--issue-target` runs exactly issue 3's DFS requirement and nothing else: exhaustive stateful DFS (sleep
sets, known successors) with preemption bound 2, iterative (bounds 0, 1, 2 in turn, so a cut run still
certifies the bounds it finished), on pa_two_blocks (W = 8 on ring 2, 4 elsewhere; one orchestrator, two
scheduler threads), one core, cut at `--cpu-seconds` of process time (the target is 300). It prints the
states, executions, CPU time, and how every execution ended (the target: every one "done", i.e. all tasks
consumed, or a registered finding), then the verdict line.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from model.builders import BUILTIN_SCENARIOS
from runtime.core import Executor, Failure, StepRecord, System
from runtime.dfs import CHECK_EVERY, DfsEngine, DfsResult
from runtime.execution import RandomScheduler, run_once
from runtime.pct import PCTScheduler
from runtime.toys import CheckThenUse, Grid, SpinHandoff


class TouchEveryStep:
    """A per-step observer that reads the memory cells the step wrote (the floor of any real check)."""

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        cells = ex.system.mem.cells
        for cell in rec.op.writes:
            if cells[cell] < -(1 << 62):
                return Failure("bench.never", "unreachable", rec.index)
        return None

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        return None


def executor_rate(factory: Callable[[], System], seconds: float, observe: bool) -> tuple[float, str]:
    scheduler = RandomScheduler(seed=1, runs=1 << 30)
    observers = [TouchEveryStep()] if observe else []
    steps = runs = 0
    outcomes: dict[str, int] = {}
    started = time.process_time()
    while time.process_time() - started < seconds and scheduler.new_execution():
        result = run_once(factory(), scheduler, observers, record_trace=False)
        steps += result.steps
        runs += 1
        outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
    elapsed = time.process_time() - started
    return (
        steps / elapsed,
        f"{runs} runs, {steps / max(runs, 1):.0f} steps/run, outcomes {sorted(outcomes.items())}",
    )


def pct_rate(factory: Callable[[], System], seconds: float, steps_estimate: int) -> tuple[float, str]:
    scheduler = PCTScheduler(seed=1, depth=3, runs=1 << 30, steps_estimate=steps_estimate)
    runs = 0
    outcomes: dict[str, int] = {}
    started = time.process_time()
    while time.process_time() - started < seconds and scheduler.new_execution():
        result = run_once(factory(), scheduler, record_trace=False, max_steps=20 * steps_estimate)
        runs += 1
        outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
    elapsed = time.process_time() - started
    return runs / elapsed, f"outcomes {sorted(outcomes.items())}; {scheduler.bound_text()}"


def dfs_line(name: str, factory: Callable[[], System], bound: int | None, seconds: float) -> str:
    result: DfsResult = DfsEngine(
        factory, preemption_bound=bound, max_seconds=seconds, stop_at_first_failure=False
    ).run()
    cpu = result.stats["cpu_seconds"]
    rate = result.states / cpu * 60
    replay = result.stats["replay_cpu_seconds"] / cpu
    keys = result.stats["state_key_cpu_seconds"] / cpu
    failures = (
        f", {result.failures_total} failing ends (first: {result.failures[0].line()[:120]})"
        if result.failures
        else ""
    )
    return (
        f"  {name:30s} P={bound!s:4s} {rate:>12,.0f} states/CPU-min  {result.bounds_text()}\n"
        f"  {'':30s}        {result.nodes} nodes, {result.executions} executions, {result.transitions} steps "
        f"explored + {result.replayed_steps} replayed in {result.restores} restores (avg depth "
        f"{result.replayed_steps / max(result.restores, 1):.0f}); time: {replay:.0%} replay, {keys:.0%} state keys; "
        f"pruned {result.sleep_pruned} sleep / {result.bound_pruned} bound, {result.revisits} revisits{failures}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="budget per DFS measurement")
    parser.add_argument("--rate-seconds", type=float, default=5.0, help="budget per throughput measurement")
    parser.add_argument("--bounds", default="0,1,2", help="preemption bounds for the TRB DFS runs")
    parser.add_argument("--scenario", default="pa_two_blocks", choices=sorted(BUILTIN_SCENARIOS))
    parser.add_argument("--issue-target", action="store_true", help="only issue 3's DFS target (see the docstring)")
    parser.add_argument("--preemptions", type=int, default=2, help="--issue-target: the preemption bound")
    parser.add_argument("--cpu-seconds", type=float, default=300.0, help="--issue-target: process-time budget")
    args = parser.parse_args()
    if args.issue_target:
        issue_target(args.scenario, args.preemptions, args.cpu_seconds)
        return
    bounds = [int(b) for b in args.bounds.split(",") if b]

    def trb() -> System:
        from runtime.trb import TrbSystem

        return TrbSystem(BUILTIN_SCENARIOS[args.scenario]())

    toys: list[tuple[str, Callable[[], System]]] = [
        ("toy spin-handoff(20 items)", lambda: SpinHandoff(20, producers=2)),
        ("toy check-then-use(50)", lambda: CheckThenUse(50)),
    ]
    targets = [*toys, (f"trb {args.scenario}", trb)]

    print("executor steps per CPU-second (random scheduler, no trace; 'checked' adds a per-step observer)")
    for name, factory in targets:
        try:
            bare, detail = executor_rate(factory, args.rate_seconds, observe=False)
            checked, _ = executor_rate(factory, args.rate_seconds, observe=True)
            print(f"  {name:30s} {bare:>10,.0f} steps/s  {checked:>10,.0f} steps/s checked  ({detail})")
        except Exception as err:  # the port may be mid-change; report and go on
            print(f"  {name:30s} unavailable: {type(err).__name__}: {err}")

    print("PCT runs per CPU-second (depth 3)")
    for name, factory in targets:
        try:
            probe = run_once(factory(), _first_run(), record_trace=False)
            rate, detail = pct_rate(factory, args.rate_seconds, max(probe.steps, 1))
            print(f"  {name:30s} {rate:>10,.1f} runs/s  ({detail})")
        except Exception as err:
            print(f"  {name:30s} unavailable: {type(err).__name__}: {err}")

    print(
        f"DFS distinct states per CPU-minute (stateful, sleep sets, known successors; {args.seconds:.0f}s wall budget each)"
    )
    print(dfs_line("toy grid(3 threads x 8 steps)", lambda: Grid(3, 8), None, args.seconds))
    print(
        dfs_line(
            "toy spin-handoff(3, 2 racy)", lambda: SpinHandoff(3, producers=2, racy=True), 2, args.seconds
        )
    )
    for bound in bounds:
        try:
            print(dfs_line(f"trb {args.scenario}", trb, bound, args.seconds))
        except Exception as err:
            print(f"  trb {args.scenario} P={bound}: unavailable: {type(err).__name__}: {err}")


def issue_target(scenario: str, preemptions: int, cpu_seconds: float) -> None:
    from properties.findings import FINDINGS
    from runtime.trb import TrbSystem

    built = BUILTIN_SCENARIOS[scenario]()

    def progress(result: DfsResult) -> None:
        if result.transitions % (CHECK_EVERY * 200) < CHECK_EVERY:
            print(f"  ... {result.states} states, {result.executions} executions, "
                  f"{result.stats['cpu_seconds']:.0f} CPU-s", flush=True)

    print(f"issue 3 DFS target: {scenario}, preemption bound {preemptions} (iterative 0..{preemptions}), "
          f"stateful + sleep sets, one core, budget {cpu_seconds:.0f} CPU-s (target: complete in 300)")
    result = DfsEngine(
        lambda: TrbSystem(built),
        preemption_bound=preemptions,
        iterative=True,
        stop_at_first_failure=False,
        max_cpu_seconds=cpu_seconds,
        progress=progress,
    ).run()
    cpu = result.stats["cpu_seconds"]
    finished = "none" if result.completed_bound is None else str(result.completed_bound)
    print(f"states:      {result.states}")
    print(f"executions:  {result.executions}")
    print(f"CPU time:    {cpu:.1f} s ({result.stats['replay_cpu_seconds'] / max(cpu, 1e-9):.0%} replaying "
          f"prefixes to backtrack, {result.stats['state_key_cpu_seconds'] / max(cpu, 1e-9):.0%} state keys)")
    print(f"bounds finished: {finished} (of 0..{preemptions})")
    print("how the executions ended:")
    for outcome, count in result.end_outcomes.items():
        print(f"  {count:>8}  {outcome}")
    registered = {f.property_name for f in FINDINGS}
    for failure in result.failures:
        known = " (registered finding)" if failure.property_id in registered else ""
        print(f"  failure{known}: {failure.line()[:240]}")
    print(f"  {result.summary_line()}")
    print(f"verdict: {result.verdict()}")


def _first_run() -> RandomScheduler:
    scheduler = RandomScheduler(seed=0)
    scheduler.new_execution()
    return scheduler


if __name__ == "__main__":
    main()
