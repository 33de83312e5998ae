"""Exploration and schedule-search numbers for aicpu_build_graph (v1, v2) and host_build_graph.

    python benchmarks/bench_other_runtimes.py            # models, then PCT on the ports
    python benchmarks/bench_other_runtimes.py --dfs 300  # also a DFS of each port, 300 s each

Prints, per paged-attention size: the reference model's exhaustive exploration (states, transitions,
verdict), then a PCT search of each port (and optionally a preemption-bounded DFS). Bounded results say so.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from model.builders.pa_other_runtimes import SMALL_CHECK_CONFIG, abg_paged_attention, hbg_paged_attention
from model.explorer import explore
from model.scenario import Scenario
from properties.runtimes import model_for, observers_for, system_for
from runtime.search import SearchBounds, search


def _sizes() -> list[tuple[str, Scenario]]:
    out = []
    for batch, ctx, clusters in [(1, (32,), 1), (1, (48,), 1), (1, (64,), 1), (2, (32, 32), 1), (1, (32,), 2)]:
        cfg = replace(SMALL_CHECK_CONFIG, clusters=clusters, task_window=(64,) * 4)
        tag = f"b{batch} ctx{list(ctx)} clusters{clusters}"
        out.append((f"abg v1 {tag}", abg_paged_attention(batch, 16, 16, 16, ctx, config=cfg)))
        out.append((f"abg v2 {tag}", abg_paged_attention(batch, 16, 16, 16, ctx, version=2, config=cfg)))
        out.append((f"hbg    {tag}", hbg_paged_attention(batch, 16, 16, 16, ctx, config=cfg)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-states", type=int, default=3_000_000)
    parser.add_argument("--pct-runs", type=int, default=300)
    parser.add_argument("--dfs", type=float, default=0.0, help="seconds of DFS per port (0: skip)")
    args = parser.parse_args()
    print("== reference models (exhaustive BFS) ==")
    for label, scenario in _sizes():
        cpu = time.process_time()
        result = explore(model_for(scenario), max_states=args.max_states)
        cpu = time.process_time() - cpu
        print(f"{label}: {result.summary_line()} -> {result.verdict()} [{cpu:.1f}s cpu]")
    print("== step-level ports ==")
    for label, scenario in _sizes()[:3]:
        one = replace(scenario, config=replace(scenario.config, scheduler_threads=1))
        for engine, bounds in [
            ("pct", SearchBounds(runs=args.pct_runs, max_steps=50_000)),
            *([("dfs", SearchBounds(preemptions=2, max_seconds=args.dfs, max_steps=50_000))] if args.dfs else []),
        ]:
            for sched, s in (("2 schedulers", scenario), ("1 scheduler", one)):
                started, cpu = time.perf_counter(), time.process_time()
                report = search(lambda s=s: system_for(s), engine, seed=1, bounds=bounds, observers=observers_for(s))  # type: ignore[misc]
                wall, cpu = time.perf_counter() - started, time.process_time() - cpu
                print(f"{label} ({sched}) {engine}: {report.verdict()} [{wall:.1f}s wall, {cpu:.1f}s cpu]")
                for line in report.lines()[1:3]:
                    print("   " + line.strip()[:200])


if __name__ == "__main__":
    main()
