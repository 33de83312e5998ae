"""Step-level TRB port throughput, one core: executor steps per second and runs per second.

Target: >= 100,000 steps/s on paged attention WITH per-step checking. `--check` runs every run with the
properties layer's per-step checks on (`properties.port_checks.port_observers()`: the spec §3 invariants,
incremental on each step's writes, plus the event and end-of-run properties); without it the script runs
without observers and with one no-op observer (the harness's own per-observer cost). Prints one line per
(scenario, scheduler, observers); rates are per CPU-second (process time), so other load on the machine
does not distort them. Not a test (tests never time).

    python benchmarks/bench_port.py                      # pa_two_blocks and pa_var_seq4
    python benchmarks/bench_port.py --runs 50 pa_two_blocks
    python benchmarks/bench_port.py --runs 40 --check    # with per-step checking (the issue's target)
    python benchmarks/bench_port.py --runs 40 --check --memory-model tso pa_two_blocks   # on store buffers
"""

from __future__ import annotations

import argparse
import time

from model.builders import BUILTIN_SCENARIOS
from properties.port_checks import port_observers
from runtime.core import Executor, Failure, Observer, StepRecord
from runtime.execution import RandomScheduler, RoundRobinScheduler, Scheduler, run_once
from runtime.trb import TrbSystem


class NoOpObserver:
    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        return None

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        return None


def bench(name: str, runs: int, scheduler: str, observers: str, memory_model: str = "sc") -> str:
    """`observers`: "none", "noop" (one no-op observer) or "checks" (the port's per-step checks)."""
    scenario = BUILTIN_SCENARIOS[name]().with_config(memory_model=memory_model)
    checks = port_observers()
    steps = 0
    run_seconds = 0.0
    outcomes: dict[str, int] = {}
    started = time.process_time()
    for seed in range(runs):
        system = TrbSystem(scenario)
        sched: Scheduler = RoundRobinScheduler() if scheduler == "round-robin" else RandomScheduler(seed)
        sched.new_execution()
        obs: list[Observer] = (
            list(checks(system)) if observers == "checks" else [NoOpObserver()] if observers == "noop" else []
        )
        t0 = time.process_time()
        result = run_once(system, sched, observers=obs, record_trace=False)
        run_seconds += time.process_time() - t0
        steps += result.steps
        outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
    total = time.process_time() - started
    threads = len(TrbSystem(scenario).thread_names())
    return (
        f"{name + ('@' + memory_model if memory_model != 'sc' else ''):22s} {scheduler:11s} observers={observers:6s} threads={threads:3d}  runs={runs:4d}  "
        f"steps/run={steps // runs:6d}  {steps / run_seconds:>9,.0f} steps/s  {runs / total:>7,.1f} runs/s "
        f"(incl. building the system)  outcomes {sorted(outcomes.items())}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--check", action="store_true", help="only the runs with per-step checking on")
    parser.add_argument("--memory-model", choices=("sc", "tso"), default="sc",
                        help="tso: the store-buffer mode (runtime/store_buffer.py; full guard scans, no incremental "
                        "runnable set)")
    parser.add_argument("scenarios", nargs="*", default=["pa_two_blocks", "pa_var_seq4"])
    args = parser.parse_args()
    for name in args.scenarios:
        for scheduler in ("round-robin", "random"):
            for observers in ("checks",) if args.check else ("none", "noop", "checks"):
                runs = args.runs if scheduler == "random" else max(1, args.runs // 4)
                print(bench(name, runs, scheduler, observers, args.memory_model))


if __name__ == "__main__":
    main()
