"""Same seed -> the same schedule and byte-identical trace text, in one process and across processes
with different PYTHONHASHSEED (so no result depends on set iteration order or str hashing)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from model.builders import BUILTIN_SCENARIOS
from runtime.core import System
from runtime.dfs import DfsEngine
from runtime.execution import RandomScheduler, RunResult, Scheduler, format_trace, run_once
from runtime.pct import PCTScheduler
from runtime.toys import CheckThenUse, SpinHandoff, ToyAssertions
from tests.conftest import REPO_ROOT


def _traced(
    factory: Callable[[], System], scheduler: Scheduler, max_steps: int = 1000
) -> tuple[str, RunResult]:
    """The last run of `scheduler` on fresh systems: its trace text and result."""
    text, result = "", None
    while scheduler.new_execution():
        system = factory()
        result = run_once(system, scheduler, [ToyAssertions()], max_steps=max_steps)
        text = format_trace(result, system)
    assert result is not None
    return text, result


def _trb_system() -> System:
    from runtime.trb import TrbSystem

    return TrbSystem(BUILTIN_SCENARIOS["pa_two_blocks"]())


def determinism_report() -> str:
    """Everything a seed decides, as text: traces and schedules of PCT and random runs, and what an
    exhaustive DFS explores and finds (counts and failing schedules, not its wall-clock time)."""
    lines: list[str] = []
    toys: list[tuple[str, Callable[[], System]]] = [
        ("check-then-use", lambda: CheckThenUse(8)),
        ("racy-handoff", lambda: SpinHandoff(2, producers=2, racy=True)),
    ]
    for name, factory in toys:
        for scheduler in (
            PCTScheduler(seed=17, depth=3, runs=7, steps_estimate=20),
            RandomScheduler(seed=17, runs=7),
        ):
            text, result = _traced(factory, scheduler)
            lines += [f"== {name} {scheduler.name}: {result.outcome} {result.schedule_text()}", text]
        result_dfs = DfsEngine(
            factory, preemption_bound=2, observers=[ToyAssertions()], stop_at_first_failure=False
        ).run()
        lines.append(
            f"== {name} dfs: {result_dfs.states} states {result_dfs.nodes} nodes {result_dfs.executions} executions "
            f"{result_dfs.transitions} transitions {result_dfs.replayed_steps} replayed"
        )
        lines += [failure.line() for failure in result_dfs.failures]
    for scheduler in (PCTScheduler(seed=17, depth=3, runs=1, steps_estimate=600), RandomScheduler(seed=17)):
        text, result = _traced(_trb_system, scheduler, max_steps=3000)
        lines += [f"== trb pa_two_blocks {scheduler.name}: {result.outcome} {result.schedule_text()}", text]
    return "\n".join(lines) + "\n"


def test_same_seed_same_trace_and_schedule_in_one_process() -> None:
    first = _traced(lambda: CheckThenUse(8), PCTScheduler(seed=3, depth=3, runs=5, steps_estimate=20))
    again = _traced(lambda: CheckThenUse(8), PCTScheduler(seed=3, depth=3, runs=5, steps_estimate=20))
    other = _traced(lambda: CheckThenUse(8), PCTScheduler(seed=4, depth=3, runs=5, steps_estimate=20))
    assert first[0] == again[0] and first[1].schedule == again[1].schedule
    assert (first[0], first[1].schedule) != (other[0], other[1].schedule)
    assert first[0].splitlines()[0] == "     1  clearer    store progress+1 [rlx]  toy"


def test_same_seed_same_bytes_across_processes_and_hash_seeds() -> None:
    outputs = []
    for hash_seed in ("0", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, tests.test_determinism as t; sys.stdout.write(t.determinism_report())",
            ],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            check=True,
        )
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].decode() == determinism_report()
    assert outputs[0].count(b"\n== ") == 7 and b"== trb pa_two_blocks random: " in outputs[0]
