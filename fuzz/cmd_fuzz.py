"""`ptocheck fuzz`: run (or resume) a named campaign with a budget, workers and a persistent corpus."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from fuzz.campaigns import (
    CAMPAIGNS,
    FAMILIES,
    FuzzOptions,
    default_workers,
    format_summary,
    parse_budget,
    run_campaign,
)
from fuzz.corpus import DEFAULT_CORPUS
from model.scenario import RUNTIMES

EXIT_INTERRUPTED = 130


def _command(args: argparse.Namespace) -> str:
    """The command that reproduces this campaign (recorded in every artifact it writes); `{seed}` is
    filled in with the master seed once the campaign knows it."""
    parts = ["ptocheck", "fuzz", "--campaign", args.campaign, "--seed", "SEED"]
    if args.iterations is not None:
        parts += ["--iterations", str(args.iterations)]
    if args.budget is not None:
        parts += ["--budget", args.budget]
    parts += ["--workers", str(default_workers() if args.workers is None else args.workers), "--corpus", str(args.corpus)]
    if args.database:
        parts += ["--database", args.database]
    if args.runtime is not None:
        parts += ["--runtime", args.runtime]
    for m in args.mutant or ():
        parts += ["--mutant", m]
    return shlex.join(parts).replace("SEED", "{seed}", 1)


def list_campaigns() -> str:
    lines = []
    for c in CAMPAIGNS.values():
        lines.append(f"{c.name}: {c.description}")
        for a in c.arms:
            sched = f" x {'/'.join(a.schedulers)}" if a.schedulers else " x bounded BFS"
            lines.append(f"    arm {a.name} (weight {a.weight}): {a.target} on {a.family}{sched}")
    lines.append("families:")
    for f in FAMILIES.values():
        lines.append(f"    {f.name}: {f.description}")
    return "\n".join(lines) + "\n"


def cmd_fuzz(args: argparse.Namespace) -> int:
    if args.list:
        sys.stdout.write(list_campaigns())
        return 0
    budget = parse_budget(args.budget) if args.budget is not None else None
    iterations = args.iterations
    if budget is None and iterations is None:
        budget = parse_budget("10m")
        args.budget = "10m"
    workers = default_workers() if args.workers is None else args.workers
    options = FuzzOptions(
        campaign=args.campaign,
        seed=args.seed,
        workers=workers,
        budget_seconds=budget,
        iterations=iterations,
        corpus=Path(args.corpus),
        database=args.database,
        mutants=tuple(args.mutant or ()),
        runtime=args.runtime,
        stop_on_failure=args.stop_on_failure,
        fresh=args.fresh,
        progress=None if args.quiet else sys.stderr,
    )
    options.command = _command(args)
    summary = run_campaign(options)
    sys.stdout.write(format_summary(summary))
    if summary.interrupted:
        return EXIT_INTERRUPTED
    return summary.exit_code


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "fuzz",
        help="run a fuzz campaign (scenario family x scheduler family x properties) on a persistent corpus",
        description=(
            "Run or resume a named campaign. Every iteration's seed derives from the master seed; every "
            "failure becomes a versioned artifact under CORPUS/artifacts (duplicates merged and counted). "
            "Exit 0: no unregistered failure within the budget; 1: a new failure, a mutant found, or an "
            "internal error; 2: bad input."
        ),
    )
    p.add_argument("--campaign", default="default", choices=sorted(CAMPAIGNS), help="campaign name (default: default)")
    p.add_argument("--budget", default=None, help="wall-clock budget: 90s, 10m, 1h (default 10m unless --iterations)")
    p.add_argument("--iterations", type=int, default=None, help="stop after this many inputs (deterministic budget)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    p.add_argument("--seed", type=int, default=None, help="master seed (default: the campaign's last seed, else random)")
    p.add_argument("--corpus", default=str(DEFAULT_CORPUS), help=f"corpus directory (default {DEFAULT_CORPUS})")
    p.add_argument(
        "--database",
        default=None,
        help="Hypothesis example database for the inputs: a directory or redis://host:port/db (default CORPUS/hypothesis)",
    )
    p.add_argument("--mutant", action="append", metavar="NAME", help="switch a port mutant on (repeatable; port arms only)")
    p.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default=None,
        help="fuzz this runtime's port (default tensormap_and_ringbuffer): the campaign's port arms whose "
        "scenarios run there (generated programs also run on host_build_graph; aicpu_build_graph: built-ins)",
    )
    p.add_argument("--stop-on-failure", action="store_true", help="stop at the first failure")
    p.add_argument("--fresh", action="store_true", help="ignore the campaign's saved statistics (the corpus is kept)")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument("--list", action="store_true", help="list the campaigns and scenario families")
    p.set_defaults(func=cmd_fuzz)
