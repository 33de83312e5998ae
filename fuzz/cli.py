"""The `ptocheck` command line.

Every user-facing error is a `PtocheckError`: printed as one line (what, where, what to do) with exit
code 2, never a traceback. A violation exits 1; a clean run exits 0.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from fuzz.scenario_args import add_runtime_argument, default_scenarios, load_scenario_arg, resolve_scenario
from model.builders import BUILTIN_SCENARIOS
from model.errors import PtocheckError
from model.explorer import REDUCTIONS, ExploreResult, explore, supported_reduction
from model.report import format_violation
from model.scenario import Scenario, dump_scenario
from properties.runtimes import model_for

EXIT_OK, EXIT_VIOLATION, EXIT_BAD_INPUT = 0, 1, 2
# Keeps the README's main job to a few minutes on one core; a cut run says "bounded(states=...)".
DEFAULT_MAX_STATES = 3_000_000


def _resolve(spec: str) -> tuple[Scenario, str]:
    """A built-in scenario name or a path to a scenario JSON file; returns it and how to name it again."""
    return load_scenario_arg(spec)


def _runtime_tag(scenario: Scenario) -> str:
    """` [runtime]` for a scenario of another runtime than tensormap_and_ringbuffer (whose lines stay as they were)."""
    return "" if scenario.runtime == "tensormap_and_ringbuffer" else f" [{scenario.runtime}]"


def _outcome_text(model: Any, result: ExploreResult[object, object]) -> str:
    expected = model.scenario.expected
    if result.violations:
        return "VIOLATION"
    if not result.complete:
        return f"no violation within bounds (expected outcome: {expected.label})"
    if expected.fatal is None:
        return f"every run ends with all {model.ntasks} tasks consumed"
    return f"every run ends in the expected {expected.label}"


def cmd_explore(args: argparse.Namespace) -> int:
    names, skipped = (args.scenarios, []) if args.scenarios else default_scenarios(args.runtime)
    for name in skipped:
        print(f"{name}: skipped (no {args.runtime} variant of this default scenario)")
    # reject bad input before any work starts
    resolved = [resolve_scenario(n, args.runtime) for n in names]
    worst = EXIT_OK
    for scenario, handle in resolved:
        model = model_for(scenario)
        reduction = supported_reduction(model) if args.reduction == "auto" else args.reduction
        started = time.perf_counter()
        result = explore(
            model, max_states=args.max_states or None, max_depth=args.max_depth, reduction=reduction
        )
        seconds = time.perf_counter() - started
        scaled = scenario.config.constants.scaled()
        line = {
            "scenario": scenario.name,
            "states": result.states,
            "transitions": result.transitions,
            "result": result.bounds_text(),
            "reduction": result.reduction,
            "seconds": round(seconds, 2),
            "runtime": scenario.runtime,
            "outcome": _outcome_text(model, result),
            "unwitnessed": list(result.unwitnessed),
            "scaled_constants": {k: {"default": d, "value": v} for k, (d, v) in scaled.items()},
            "violations": [v.property_name for v in result.violations],
        }
        if args.json:
            print(json.dumps(line, sort_keys=True))
        else:
            print(
                f"{scenario.name}{_runtime_tag(scenario)}: {result.states} states, {result.bounds_text()}, {seconds:.1f}s, "
                f"reduction {result.reduction}; {line['outcome']}"
            )
            if scaled:
                print("  scaled constants: " + ", ".join(f"{k}={v} (C++ {d})" for k, (d, v) in scaled.items()))
            if result.unwitnessed and result.complete:
                print("  never witnessed: " + ", ".join(result.unwitnessed))
        for violation in result.violations:
            worst = EXIT_VIOLATION
            if not args.json:
                print(
                    format_violation(
                        model,
                        violation,
                        engine=f"exhaustive BFS (reference model, reduction {result.reduction})",
                        bounds=result.bounds_text(),
                        replay_command=f"ptocheck explore {handle}"
                        + (f" --runtime {args.runtime}" if args.runtime and "--runtime" not in handle else ""),
                    )
                )
    return worst


def cmd_scenarios(args: argparse.Namespace) -> int:
    if args.name:
        scenario, _ = _resolve(args.name)
        sys.stdout.write(dump_scenario(scenario))
        return EXIT_OK
    for name in sorted(BUILTIN_SCENARIOS):
        s = BUILTIN_SCENARIOS[name]()
        print(f"{name:28s} {len(s.tasks()):4d} tasks  expected {s.expected.label}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ptocheck", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("explore", help="exhaustively explore the reference model on scenarios")
    p.add_argument("scenarios", nargs="*", help="built-in names or scenario JSON files (default: the built-in defaults)")
    p.add_argument(
        "--max-states",
        type=int,
        default=DEFAULT_MAX_STATES,
        help=f"stop after this many distinct states (default {DEFAULT_MAX_STATES:,}; 0 = no bound)",
    )
    p.add_argument("--max-depth", type=int, default=None, help="explore at most this many steps deep")
    p.add_argument(
        "--reduction",
        choices=("auto", *REDUCTIONS),
        default="auto",
        help="state-space reduction (exact for every checked property; see model/explorer.py); "
        "auto = the strongest the model offers, none = plain exhaustive search",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per scenario")
    add_runtime_argument(p)
    p.set_defaults(func=cmd_explore)
    p = sub.add_parser("scenarios", help="list the built-in scenarios, or print one as JSON")
    p.add_argument("name", nargs="?", help="a built-in name or a scenario file to print")
    p.set_defaults(func=cmd_scenarios)
    for module in _command_modules():
        module.register(sub)
    return parser


def _command_modules() -> list[ModuleType]:
    """Every `fuzz/cmd_*.py` contributes its subcommands through `register(subparsers)`, in name order."""
    import fuzz

    names = sorted(m.name for m in pkgutil.iter_modules(fuzz.__path__) if m.name.startswith("cmd_"))
    return [importlib.import_module(f"fuzz.{name}") for name in names]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except PtocheckError as e:
        print(f"ptocheck: error: {e.render()}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # the reader went away (e.g. `| head`): nothing left to say
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        print("ptocheck: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
