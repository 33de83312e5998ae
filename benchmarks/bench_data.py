"""Cost of the data oracle: a data-carrying execution of paged attention vs a data-free one (CPU time).

Workload: paged attention, batch 4, 4 KV blocks per batch (context 64, block 16, 16 heads, head_dim 16;
64 kernel tasks + 4 hidden allocs), the a2a3sim configuration. Each seed runs the same random schedule
data-free, then with data (the data path never steers control flow, so the schedules are identical),
then data with the end-of-run golden comparison. Target (issue 8): data-carrying <= 3x data-free.

    python benchmarks/bench_data.py [--seeds N] [--mutant-column]

`--mutant-column` also prints, for every implemented mutant, whether the data check alone finds it.
"""

from __future__ import annotations

import argparse
import time

from model.builders.paged_attention import paged_attention
from properties.data_oracle import check_data, data_only_mutant_column, format_mutant_column
from runtime.execution import RandomScheduler, run_once
from runtime.trb import TrbSystem


def _run(scenario_data: bool, seed: int, check: bool) -> tuple[float, int, str]:
    scenario = paged_attention(4, 16, 16, 16, 64, name="pa_b4_4blocks")
    t0 = time.process_time()
    system = TrbSystem(scenario, data=scenario_data)
    sched = RandomScheduler(seed)
    sched.new_execution()
    result = run_once(system, sched, max_steps=1_000_000, record_trace=False)
    verdict = ""
    if check:
        verdict = check_data(system).summary()
    return time.process_time() - t0, result.steps, verdict or result.outcome


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--mutant-column", action="store_true")
    args = ap.parse_args()
    _run(True, 0, True)  # warm imports and caches
    free = data = checked = 0.0
    steps = 0
    last = ""
    for seed in range(args.seeds):
        t, n, _ = _run(False, seed, False)
        free += t
        steps += n
        t, _, _ = _run(True, seed, False)
        data += t
        t, _, last = _run(True, seed, True)
        checked += t
    k = args.seeds
    print(f"paged attention batch 4 x 4 blocks, {k} random schedules ({steps // k} steps on average), CPU time per run:")
    print(f"  data-free execution        {1000 * free / k:8.1f} ms")
    print(f"  data-carrying execution    {1000 * data / k:8.1f} ms   ratio {data / free:.2f}x (target <= 3x)")
    print(f"  data-carrying + golden     {1000 * checked / k:8.1f} ms   ratio {checked / free:.2f}x")
    print(f"  last verdict: {last}")
    if args.mutant_column:
        print()
        print(format_mutant_column(data_only_mutant_column()))


if __name__ == "__main__":
    main()
