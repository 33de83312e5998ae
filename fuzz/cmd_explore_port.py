"""`ptocheck explore --target port SCENARIO...`: the exhaustive DFS (runtime/dfs.py) over the step-level port.

`explore` explores the reference model by default (`--target model`, fuzz/cli.py). With `--target port` it
runs the stateful, preemption-bounded DFS with sleep sets on the scenario's step-level port, with the port's
per-step property checks on (`properties.runtimes.observers_for`), iterating the bound 0, 1, ... up to
`--preemptions` so that a search cut by `--max-states` or `--max-cpu-seconds` still certifies the bounds it
finished. It prints one verdict per scenario: "complete" only when no bound cut anything, else
"no violation within bounded(...)" with every bound named; a failure prints its property, how the run
ended, whether it is a registered finding (properties/findings.py) or new, and the one-line schedule with
the `ptocheck run ... --schedule` command that replays it. Exit 1 on a new failure, 0 otherwise, 2 on bad
input.

This module adds the option to the `explore` parser that fuzz/cli.py builds (commands register in name
order, so `explore` exists when this module's `register` runs) and dispatches to the model explorer
unchanged for `--target model`.
"""

from __future__ import annotations

import argparse

from fuzz.campaigns.known import KNOWN, classify_search_failure
from fuzz.scenario_args import add_memory_model_argument, default_scenarios, resolve_scenario
from model.errors import PtocheckError
from properties.runtimes import observers_for, system_for
from runtime.core import System
from runtime.dfs import DfsEngine
from runtime.execution import FAILURE

EXIT_OK, EXIT_VIOLATION = 0, 1
TARGETS = ("model", "port")


def cmd_explore_port(args: argparse.Namespace) -> int:
    if args.preemptions < 0:
        raise PtocheckError(f"--preemptions must be >= 0, got {args.preemptions}", "--preemptions")
    if args.max_cpu_seconds is not None and args.max_cpu_seconds <= 0:
        raise PtocheckError(f"--max-cpu-seconds must be > 0, got {args.max_cpu_seconds}", "--max-cpu-seconds")
    if args.json:
        raise PtocheckError("--json is not supported with --target port", "--json", "drop --json")
    names, skipped = (args.scenarios, []) if args.scenarios else default_scenarios(args.runtime)
    for name in skipped:
        print(f"{name}: skipped (no {args.runtime} variant of this default scenario)")
    # bad input is rejected before any work
    resolved = [resolve_scenario(n, args.runtime, args.memory_model) for n in names]
    worst = EXIT_OK
    for scenario, handle in resolved:
        system_for(scenario)  # rejects a scenario the port cannot run, before the search starts

        def factory(scenario: object = scenario) -> System:
            return system_for(scenario)  # type: ignore[arg-type]

        result = DfsEngine(
            factory,
            preemption_bound=args.preemptions,
            iterative=True,
            observers=observers_for(scenario),
            max_states=args.max_states or None,
            max_cpu_seconds=args.max_cpu_seconds,
            stop_at_first_failure=True,
        ).run()
        print(f"{scenario.name} [{scenario.runtime}] target port: {result.verdict()}")
        finished = "none" if result.completed_bound is None else f"0..{result.completed_bound}"
        print(f"  preemption bound {args.preemptions} (iterative); bounds finished: {finished}")
        print(f"  {result.summary_line()}")
        for outcome, count in result.end_outcomes.items():
            print(f"  {count:>8} execution(s) ended {outcome}")
        for failure in result.failures:
            found = classify_search_failure(scenario, factory, failure)
            label = f"registered finding {found.finding}" if found.kind == KNOWN else "NEW"
            if found.by_fatal is not None:
                label += f" (the run's {found.by_fatal.property_id} in {found.by_fatal.cxx_function})"
            ended = "a property failed" if failure.outcome == FAILURE else failure.outcome
            print(f"  {label}: {failure.property_id} ({ended}) at step {failure.step + 1} in "
                  f"{found.function or '?'}: {failure.message}")
            print(f"    replay: ptocheck run {handle} --schedule {failure.schedule_text()}")
            if found.kind != KNOWN:
                worst = EXIT_VIOLATION
    return worst


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    explore = sub.choices.get("explore")
    if explore is None:  # fuzz/cli.py did not define `explore`: nothing to extend
        return
    model_explore = explore.get_default("func")
    explore.add_argument(
        "--target",
        choices=TARGETS,
        default="model",
        help="what to explore: the reference model (default) or the step-level port (exhaustive DFS)",
    )
    explore.add_argument(
        "--preemptions", type=int, default=2, help="--target port: the preemption bound (default 2)"
    )
    explore.add_argument(
        "--max-cpu-seconds", type=float, default=None, help="--target port: cut the search after this much CPU time"
    )
    add_memory_model_argument(explore)

    def dispatch(args: argparse.Namespace) -> int:
        if args.target == "port":
            return cmd_explore_port(args)
        if args.memory_model not in (None, "sc"):
            raise PtocheckError(f"--memory-model {args.memory_model} needs --target port", "--memory-model",
                                "the reference model is sequentially consistent; explore the port under tso")
        code: int = model_explore(args)
        return code

    explore.set_defaults(func=dispatch)
