"""The correctness gate's numbers: wall and CPU time of `pytest -n auto -q`, how many tests it runs, how
many Hypothesis examples it executes, and how many step-level port steps and model states it checks.

    python benchmarks/bench_gate.py                 # pytest -n auto -q -p no:randomly
    python benchmarks/bench_gate.py -n 2            # a fixed worker count
    python benchmarks/bench_gate.py -- -m "not slow" tests/test_x.py   # extra pytest arguments

The script runs pytest once, with itself loaded as a pytest plugin (`-p bench_gate`) in every xdist
worker. The plugin counts, per worker, and writes to a stats folder:
  * Hypothesis test cases executed (every phase: reuse, generate, shrink), from the engine's own
    statistics of every @given run (`hypothesis.core.note_statistics`, what --hypothesis-show-statistics
    prints), including the examples drawn by tests that run a strategy themselves;
  * port steps: calls of `runtime.core.Executor.step` (every step a run or search executes with its
    observers; the DFS engine's unchecked prefix re-executions on backtrack are not counted);
  * model states: the `states` of every `model.explorer.explore` result.
The counters add one Python call per port step (a few percent of the port's time). CPU time is the
user + system time of pytest and all its workers (process time, as the other benchmarks report). Not a
test: tests never time; run it by hand, once (it occupies every core for the gate's duration).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

STATS_ENV = "PTOCHECK_GATE_STATS_DIR"
REPO = Path(__file__).resolve().parent.parent

# ------------------------------------------------------------------------------------------ plugin

_counts: Counter[str] = Counter()


def _install_counters() -> None:
    import hypothesis.core as hypothesis_core

    import model.explorer as explorer
    from runtime.core import Executor

    note = vars(hypothesis_core)["note_statistics"]  # core calls it through its module globals

    def counted_note(stats: Any) -> None:
        # the engine's own statistics of one @given run (also nested runs and find()): test cases per phase
        _counts["hypothesis_runs"] += 1
        for key, phase in stats.items():
            if key.endswith("-phase") and isinstance(phase, dict):
                for case in phase.get("test-cases", []):
                    _counts["hypothesis_examples"] += 1
                    _counts[f"hypothesis_{case.get('status', 'unknown')}"] += 1
        note(stats)

    vars(hypothesis_core)["note_statistics"] = counted_note

    step = Executor.step

    def counted_step(self: Executor, tid: int, fire_backstop: bool = False) -> Any:
        _counts["port_steps"] += 1
        return step(self, tid, fire_backstop)

    Executor.step = counted_step  # type: ignore[method-assign]

    explore = explorer.explore

    def counted_explore(*args: Any, **kwargs: Any) -> Any:
        result = explore(*args, **kwargs)
        _counts["model_states"] += result.states
        _counts["explorations"] += 1
        return result

    explorer.explore = counted_explore


def pytest_configure(config: Any) -> None:
    if os.environ.get(STATS_ENV):
        _install_counters()


def pytest_unconfigure(config: Any) -> None:
    folder = os.environ.get(STATS_ENV)
    if not folder:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    Path(folder, f"{worker}.json").write_text(json.dumps(dict(_counts), sort_keys=True), encoding="utf-8")


# ------------------------------------------------------------------------------------------ driver


def _summary_counts(output: str) -> dict[str, int]:
    """pytest's last line, e.g. '690 passed, 2 xfailed, 1 warning in 123.45s' -> {'passed': 690, ...}."""
    lines = [ln for ln in output.splitlines() if re.search(r"\d+ (passed|failed|error)", ln)]
    if not lines:
        return {}
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", lines[-1])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--workers", default="auto", help="pytest-xdist workers (default: auto)")
    parser.add_argument("--durations", type=int, default=10, help="show the N slowest tests (default 10)")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    stats = Path(tempfile.mkdtemp(prefix="ptocheck-gate-stats-"))
    env = dict(os.environ)
    env[STATS_ENV] = str(stats)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent), env.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "pytest", "-n", args.workers, "-q", "-p", "no:randomly", "-p", "bench_gate",
           f"--durations={args.durations}", *args.pytest_args]
    print("running:", " ".join(cmd[2:]), flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    output = proc.stdout + proc.stderr
    slowest = output[output.find("slowest"):].splitlines()[: args.durations + 1] if "slowest" in output else []
    totals: Counter[str] = Counter()
    workers = 0
    for path in sorted(stats.glob("*.json")):
        totals.update(json.loads(path.read_text(encoding="utf-8")))
        workers += 1
    shutil.rmtree(stats, ignore_errors=True)
    counts = _summary_counts(output)
    print(f"exit code: {proc.returncode}")
    print("tests: " + (", ".join(f"{n} {w}" for w, n in counts.items() if w not in ("in",)) or "summary line not found"))
    print(f"wall time: {wall:.1f} s; CPU time (pytest and its workers): {cpu:.1f} s; cores: {os.cpu_count()}")
    print(f"workers reporting counters: {workers}")
    print(
        f"hypothesis test cases executed: {totals['hypothesis_examples']} in {totals['hypothesis_runs']} runs "
        f"(valid {totals['hypothesis_valid']}, invalid {totals['hypothesis_invalid'] + totals['hypothesis_overrun']}, "
        f"interesting {totals['hypothesis_interesting']})"
    )
    print(f"port steps executed (Executor.step, DFS prefix replays excluded): {totals['port_steps']}")
    print(f"model states explored: {totals['model_states']} in {totals['explorations']} explorations")
    if slowest:
        print("\n".join(slowest))
    if proc.returncode not in (0,):
        print(output[-4000:])
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
