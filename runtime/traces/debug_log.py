"""Reader of the runtime's debug log (``stderr.log`` of a ``--log-level debug`` run).

Format: shared/spec/trace-formats.md §4. The lines read here:

* one dispatch line per subtask instance, in each scheduler thread's real dispatch order
  (``prepare_subtask_to_core``, ``scheduler_dispatch.cpp``)::

    Thread <t>: Dispatched <idle|pending> <aic|aiv0|aiv1> task <id> kernel_id=[a,b,c]
    block_idx=<i>/total_blocks=<n> to core_offset=<o> core_id=<c> reg_task_id=<r>

* ``Ring buffer sizes: task_window=[...] heap=[...] dep_pool=[...]`` (the run's ring configuration),
* ``=== [Orchestrator] ring <r>: total_tasks=<n> ===``: printed by ``mark_done`` from
  ``active_count()``, i.e. ``cur - la`` of the ring at that moment (not the ring's task total),
* ``PTO2 completed tasks <n>/<total>``,
* ``ChipTensor <i>: <n> bytes at 0x<addr>`` (``stage_device_args``): the run's host tensors; any other
  buffer a task names was created by the runtime (an OUTPUT or ``alloc_tensors``) in a ring heap,
* the collectors' ``reconcile`` lines (anything but ``counts match`` with ``dropped=0`` is a warning),
* paths ``.../<run>/deps.json`` (or the swimlane / scope-stats file) that the host prints when it writes a
  run's outputs: they split a log shared by several runs (one test file, several cases) into per-run
  segments. A run's segment ends at its last such line and starts after the previous run's last one.

A line that announces a dispatch but does not parse is a TraceError naming ``file:line``.

Depends only on :mod:`model.errors`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from model.errors import TraceError
from runtime.traces.common import TraceWarning, read_text

__all__ = ["DebugLog", "LogDispatch", "LogRun", "parse_debug_log", "read_debug_log"]

_HINT = "the debug log must come from a --log-level debug run of this runtime; is the line cut?"
_DISPATCH = re.compile(
    r"Thread (\d+): Dispatched (idle|pending) (aic|aiv0|aiv1) task (\d+) kernel_id=\[(-?\d+),(-?\d+),(-?\d+)\] "
    r"block_idx=(\d+)/total_blocks=(\d+) to core_offset=(\d+) core_id=(\d+) reg_task_id=(\d+)\s*$"
)
_RING_SIZES = re.compile(r"Ring buffer sizes: task_window=\[([\d, ]*)\] heap=\[([\d, ]*)\] dep_pool=\[([\d, ]*)\]")
_TOTAL = re.compile(r"\[Orchestrator\] ring (\d+): total_tasks=(\d+)")
_COMPLETED = re.compile(r"PTO2 completed tasks (\d+)/(\d+)")
_RECONCILE = re.compile(r"(ChipSwimlane|dep_gen|scope_stats) reconcile: (.*)$")
_MATCH_COUNTS = re.compile(r"counts match \(collected=(\d+), dropped=(\d+)")
_HOST_TENSOR = re.compile(r"ChipTensor (\d+): (\d+) bytes at 0x([0-9a-fA-F]+)")
_OUTPUT = re.compile(r"/([^/\s]+)/(?:deps\.json|chip_swimlane_records\.json|scope_stats/scope_stats\.jsonl)\b")


class LogDispatch(NamedTuple):
    line: int  # 1-based line number in the log
    thread: int
    pending: bool  # queued into the core's pending slot while it still ran its previous subtask
    subslot: str  # aic | aiv0 | aiv1
    task_id: int
    kernel_ids: tuple[int, int, int]
    block_idx: int
    total_blocks: int
    core_offset: int
    core_id: int
    reg_task_id: int


@dataclass
class LogRun:
    """The part of a log that belongs to one run (``name`` None: the log names no run)."""

    name: str | None
    first_line: int
    last_line: int
    dispatches: list[LogDispatch] = field(default_factory=list)
    ring_sizes: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None = None  # window, heap, dep_pool
    ring_sizes_line: int = 0
    ring_totals: dict[int, int] = field(default_factory=dict)
    completed: tuple[int, int] | None = None
    host_tensors: list[tuple[int, int]] = field(default_factory=list)  # (device address, bytes) the host staged
    warnings: list[TraceWarning] = field(default_factory=list)


@dataclass(frozen=True)
class DebugLog:
    source: str
    runs: tuple[LogRun, ...]

    def run_named(self, name: str) -> LogRun | None:
        """The segment of run `name`; the only segment when the log names no run at all."""
        for run in self.runs:
            if run.name == name:
                return run
        if len(self.runs) == 1 and self.runs[0].name is None:
            return self.runs[0]
        return None


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.replace(" ", "").split(",") if v)


def parse_debug_log(text: str, source: str = "<stderr.log>") -> DebugLog:
    lines = text.splitlines()
    # Run boundaries: the last line naming each run's output files.
    last_named: dict[str, int] = {}
    for i, line in enumerate(lines):
        if "/outputs/" in line or "deps.json" in line or "scope_stats.jsonl" in line or "swimlane" in line:
            for m in _OUTPUT.finditer(line):
                last_named[m.group(1)] = i
    bounds: list[tuple[str | None, int, int]] = []
    start = 0
    for named, last in sorted(last_named.items(), key=lambda kv: kv[1]):
        bounds.append((named, start, last))
        start = last + 1
    if not bounds:
        bounds.append((None, 0, len(lines) - 1))
    runs: list[LogRun] = []
    for name, first, last in bounds:
        run = LogRun(name, first + 1, last + 1)
        for i in range(first, last + 1):
            _read_line(run, lines[i], i + 1, source)
        runs.append(run)
    return DebugLog(source, tuple(runs))


def _read_line(run: LogRun, line: str, lineno: int, source: str) -> None:
    if "Dispatched " in line and "prepare_subtask_to_core" in line:
        m = _DISPATCH.search(line)
        if m is None:
            raise TraceError("a dispatch line that does not parse", f"{source}:{lineno}", _HINT)
        g = m.groups()
        run.dispatches.append(
            LogDispatch(
                lineno,
                int(g[0]),
                g[1] == "pending",
                g[2],
                int(g[3]),
                (int(g[4]), int(g[5]), int(g[6])),
                int(g[7]),
                int(g[8]),
                int(g[9]),
                int(g[10]),
                int(g[11]),
            )
        )
        return
    if "Ring buffer sizes" in line:
        m = _RING_SIZES.search(line)
        if m is None:
            raise TraceError("a 'Ring buffer sizes' line that does not parse", f"{source}:{lineno}", _HINT)
        run.ring_sizes = (_ints(m.group(1)), _ints(m.group(2)), _ints(m.group(3)))
        run.ring_sizes_line = lineno
        return
    if "ChipTensor " in line and " bytes at 0x" in line:
        m = _HOST_TENSOR.search(line)
        if m is not None:
            run.host_tensors.append((int(m.group(3), 16), int(m.group(2))))
        return
    if "total_tasks=" in line:
        m = _TOTAL.search(line)
        if m is not None:
            run.ring_totals[int(m.group(1))] = int(m.group(2))
        return
    if "PTO2 completed tasks" in line:
        m = _COMPLETED.search(line)
        if m is not None:
            run.completed = (int(m.group(1)), int(m.group(2)))
        return
    if " reconcile: " in line:
        m = _RECONCILE.search(line)
        if m is None:
            return
        counts = _MATCH_COUNTS.search(m.group(2))
        if counts is None or int(counts.group(2)) != 0:
            run.warnings.append(
                TraceWarning(f"{m.group(1)} collector: {m.group(2).strip()}", f"{source}:{lineno}")
            )


def read_debug_log(path: Path) -> DebugLog:
    return parse_debug_log(read_text(path, _HINT), str(path))
