"""Fuzz campaign benchmark: executions per second on 1 and 2 workers, replay time, time to find each mutant.

    python benchmarks/bench_fuzz.py [--rate-seconds 30] [--mutant-budget 120] [--mutant-iterations N]
                                    [--mutants M_A,M_B] [--seed 1]

* Rate: the default campaign from a fresh corpus for `--rate-seconds` wall-clock seconds, once with one
  worker and once with two, fixed seed. Prints executions, executions per wall second and per CPU second
  of the whole process tree (CPU seconds say what the code costs when the machine is shared).
* Replay: strict replay of every artifact in tests/regressions/ (and of one fresh port-run artifact if
  the mutant runs produced one), wall and CPU seconds each, and the slowest.
* Mutants: for every implemented mutant of runtime/trb/mutants.py, the default campaign with that
  mutant switched on, one worker, fixed seed, fresh corpus, stopping at the first failure of the
  mutant; prints the wall seconds into the campaign when it was found, the CPU seconds the campaign had
  used by then (the number that does not depend on what else the machine runs), the executions, and what
  found it (or "not found within the budget"). `--mutant-iterations N` makes the budget N inputs
  instead of wall seconds (the same inputs on any machine).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fuzz.campaigns import FuzzOptions, run_campaign  # noqa: E402
from properties.artifacts import load_artifact  # noqa: E402
from properties.replay import replay_model_artifact, replay_port_artifact  # noqa: E402
from runtime.trb.mutants import IMPLEMENTED, MUTANTS  # noqa: E402


def cpu_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def rate(workers: int, seconds: float, seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cpu0 = cpu_seconds()
        s = run_campaign(
            FuzzOptions(campaign="default", seed=seed, workers=workers, budget_seconds=seconds, corpus=Path(tmp))
        )
        cpu = cpu_seconds() - cpu0
    print(
        f"  {workers} worker(s): {s.executions} executions ({s.iterations} inputs) in {s.seconds:.1f}s wall = "
        f"{s.rate:.1f} exec/s wall, {s.executions / cpu if cpu else 0:.1f} exec/CPU-s ({cpu:.1f} CPU-s); "
        f"coverage {len(s.coverage)} features; {len(s.findings)} distinct failure(s)"
    )


def replay_times(extra: list[Path]) -> None:
    paths = sorted((ROOT / "tests" / "regressions").glob("*.json")) + extra
    slowest: tuple[float, str] = (0.0, "")
    for path in paths:
        try:
            artifact = load_artifact(path)
        except Exception as e:  # scenario files also live there
            what = "a scenario file" if '"ptocheck_scenario"' in path.read_text(encoding="utf-8") else "unreadable"
            print(f"  {path.name}: not an artifact, {what} ({type(e).__name__})")
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        if artifact.kind == "model-path":
            out = replay_model_artifact(artifact, "bench")
        else:
            out = replay_port_artifact(artifact, "bench")
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        slowest = max(slowest, (cpu, path.name))
        print(f"  {path.name}: {artifact.kind}, {dt:.3f}s wall, {cpu:.3f} CPU-s, reproduced={out.reproduced}")
    print(f"  slowest strict replay: {slowest[0]:.3f} CPU-s ({slowest[1]})")


def mutant_times(names: list[str], budget: float, iterations: int | None, seed: int) -> list[Path]:
    kept: list[Path] = []
    found_count, slowest = 0, 0.0
    keep_dir = Path(tempfile.mkdtemp(prefix="bench_fuzz_"))
    limit = f"{iterations} inputs" if iterations else f"{budget:.0f}s"
    for name in names:
        corpus = keep_dir / name
        cpu0 = time.process_time()  # one worker runs in this process
        s = run_campaign(
            FuzzOptions(
                campaign="default",
                seed=seed,
                workers=1,
                budget_seconds=None if iterations else budget,
                iterations=iterations,
                corpus=corpus,
                mutants=(name,),
                stop_on_failure=True,
            )
        )
        cpu = time.process_time() - cpu0
        found = [f for f in s.findings if f.session_count and f.classification == "mutant"]
        if not found:
            print(f"  {name:34s} not found within {limit} ({s.executions} executions, {cpu:.1f} CPU-s)")
            continue
        f = found[0]
        found_count, slowest = found_count + 1, max(slowest, cpu)
        print(
            f"  {name:34s} found after {f.first_seconds or 0:.1f}s wall, {cpu:.1f} CPU-s ({s.executions} executions, "
            f"{s.iterations} inputs): {f.signature[1]} in {f.signature[2]}"
        )
        kept.append(Path(f.path))
    print(f"  found {found_count} of {len(names)} within {limit} each; the slowest took {slowest:.1f} CPU-s")
    return kept


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate-seconds", type=float, default=30.0)
    ap.add_argument("--mutant-budget", type=float, default=120.0, help="wall seconds per mutant")
    ap.add_argument("--mutant-iterations", type=int, default=None, help="a budget of inputs per mutant instead")
    ap.add_argument("--mutants", default="", help="comma-separated subset (default: every implemented mutant)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip-rate", action="store_true")
    ap.add_argument("--skip-mutants", action="store_true")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    if not args.skip_rate:
        print(f"default campaign, seed {args.seed}, {args.rate_seconds:.0f}s each:")
        rate(1, args.rate_seconds, args.seed)
        rate(2, args.rate_seconds, args.seed)
    extra: list[Path] = []
    if not args.skip_mutants:
        names = [m for m in args.mutants.split(",") if m] or [m.name for m in MUTANTS.values() if m.status == IMPLEMENTED]
        limit = f"{args.mutant_iterations} inputs" if args.mutant_iterations else f"{args.mutant_budget:.0f}s"
        print(f"time to find each mutant (default campaign, 1 worker, seed {args.seed}, budget {limit}):")
        extra = mutant_times(names, args.mutant_budget, args.mutant_iterations, args.seed)[:1]
    print("strict replay:")
    replay_times(extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
