"""Per-VC CPU time of the Z3 proofs, and their variation across solver seeds.

Runs every check of `ptocheck prove` (proof, sanity, limit, mutant and bound sections) once with seed 0,
prints the slowest, then re-runs every check that took over 1 s with 5 further seeds and prints its
min / max time and the max/min ratio (target: under 2x; every check under 10 s on one core).

    python benchmarks/bench_smt.py [--top N] [--seeds 1,2,3,4,5]
"""

from __future__ import annotations

import argparse
import time

from properties.smt import suite
from properties.smt.vcs import enumerate_vcs, run_vc, sanity_vcs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--seeds", default="1,2,3,4,5")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]

    vcs = []
    for system, over in suite.proof_systems():
        vcs += [("proof", v) for v in enumerate_vcs(system, over)]
    for system in suite.sanity_systems():
        vcs += [("sanity", v) for v in sanity_vcs(system)]
    started = time.process_time()
    timed = []
    for section, vc in vcs:
        row = run_vc(vc, section, seed=0)
        if row.invariant in suite.SANITY_EXPECT:
            row.expect = suite.SANITY_EXPECT[row.invariant]
        timed.append((row.seconds, section, vc, row))
    total = time.process_time() - started
    bad = [r for _, _, _, r in timed if not r.ok]
    print(f"{len(timed)} checks (proof + sanity), seed 0: {total:.1f}s CPU total, {len(bad)} not as expected")
    timed.sort(key=lambda x: -x[0])
    print(f"slowest {args.top}:")
    for seconds, _section, vc, row in timed[: args.top]:
        print(f"  {seconds:7.2f}s  rlimit {row.rlimit:>11,d}  {vc.label} / {vc.method}")
    slow = [(s, vc) for s, _, vc, _ in timed if s > 1.0]
    print(f"checks over 1 s: {len(slow)}; variation over seeds {seeds}:")
    worst_ratio = 1.0
    for _, vc in slow:
        times = []
        for seed in seeds:
            row = run_vc(vc, seed=seed)
            times.append(row.seconds)
        ratio = max(times) / max(min(times), 1e-6)
        worst_ratio = max(worst_ratio, ratio)
        print(f"  {vc.label} / {vc.method}: min {min(times):.2f}s max {max(times):.2f}s ratio {ratio:.2f}")
    print(f"max per-check time {timed[0][0]:.2f}s; worst seed ratio among checks over 1 s: {worst_ratio:.2f}")
    started = time.process_time()
    rows = list(suite.bound_rows(suite.Options()))
    print(f"bound section (minimal window and heap of pa_two_blocks ring 2): {time.process_time() - started:.2f}s CPU")
    for row in rows:
        print(f"  {row.invariant}: {row.result} {row.detail}")


if __name__ == "__main__":
    main()
