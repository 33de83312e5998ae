"""Find and load the trace files of one runtime run, whichever are present.

A *run directory* is the runtime's ``output_prefix`` folder of one case: it holds any of ``deps.json``,
``chip_swimlane_records.json`` and ``scope_stats/scope_stats.jsonl``. A *capture folder* holds run
directories (one per test case) and usually the ``stderr.log`` of the whole command; giving a capture
folder checks each of its runs. The debug log is looked up beside the run files first, then in the parent
folder; a log shared by several runs is split per run (see :mod:`runtime.traces.debug_log`).

Missing files are not errors (a timing-only run has no deps.json): :attr:`RunTrace.missing` says which
are absent, and the checks say what that leaves unchecked.

Depends only on :mod:`model.errors` (and, through the deps.json reader, nothing else).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from model.errors import TraceError
from runtime.traces.common import TraceWarning
from runtime.traces.debug_log import DebugLog, LogRun, read_debug_log
from runtime.traces.deps_json import DepsGraph, read_deps_json
from runtime.traces.scope_stats import ScopeStats, read_scope_stats
from runtime.traces.swimlane import SwimlaneRecords, read_swimlane

__all__ = ["DEPS_FILE", "LOG_FILE", "SCOPE_STATS_FILE", "SWIMLANE_FILE", "RunTrace", "discover_runs", "load_run"]

DEPS_FILE = "deps.json"
SWIMLANE_FILE = "chip_swimlane_records.json"
SCOPE_STATS_FILE = "scope_stats/scope_stats.jsonl"
LOG_FILE = "stderr.log"
RUN_FILES = (DEPS_FILE, SWIMLANE_FILE, SCOPE_STATS_FILE)


@dataclass(frozen=True)
class RunTrace:
    path: Path
    deps: DepsGraph | None
    swimlane: SwimlaneRecords | None
    scope_stats: ScopeStats | None
    log: LogRun | None
    log_source: str | None
    warnings: tuple[TraceWarning, ...]
    missing: tuple[str, ...]  # names of the files (of RUN_FILES + LOG_FILE) that are absent

    @property
    def name(self) -> str:
        return self.path.name


def is_run_dir(path: Path) -> bool:
    return any((path / f).is_file() for f in RUN_FILES)


def discover_runs(paths: Iterable[Path]) -> list[Path]:
    """Each given path as a run directory, or the run directories directly inside it (name order)."""
    out: list[Path] = []
    for path in paths:
        if not path.is_dir():
            raise TraceError(
                "not a directory" if path.exists() else "no such directory",
                str(path),
                "give a run directory (with deps.json / chip_swimlane_records.json / scope_stats/) or a folder of them",
            )
        if is_run_dir(path):
            out.append(path)
            continue
        inner = sorted(p for p in path.iterdir() if p.is_dir() and is_run_dir(p))
        if not inner:
            raise TraceError(
                f"no run found: none of {', '.join(RUN_FILES)} is in it or in a folder directly inside it",
                str(path),
                "give the runtime's output folder of a run (its output_prefix)",
            )
        out.extend(inner)
    return out


def load_run(path: Path, log_cache: dict[Path, DebugLog] | None = None) -> RunTrace:
    """Read every trace file of the run at `path` that exists. Raises TraceError for a file that cannot be
    read; `log_cache` shares one parsed log among the runs of a capture folder."""
    missing: list[str] = []
    warnings: list[TraceWarning] = []
    deps = read_deps_json(path / DEPS_FILE) if (path / DEPS_FILE).is_file() else None
    if deps is None:
        missing.append(DEPS_FILE)
    swimlane = read_swimlane(path / SWIMLANE_FILE) if (path / SWIMLANE_FILE).is_file() else None
    if swimlane is None:
        missing.append(SWIMLANE_FILE)
    else:
        warnings.extend(swimlane.warnings)
    stats = read_scope_stats(path / SCOPE_STATS_FILE) if (path / SCOPE_STATS_FILE).is_file() else None
    if stats is None:
        missing.append(SCOPE_STATS_FILE)
    else:
        warnings.extend(stats.warnings)
    log: LogRun | None = None
    log_source: str | None = None
    for candidate in (path / LOG_FILE, path.parent / LOG_FILE):
        if not candidate.is_file():
            continue
        cache = log_cache if log_cache is not None else {}
        parsed = cache.get(candidate)
        if parsed is None:
            parsed = read_debug_log(candidate)
            cache[candidate] = parsed
        log = parsed.run_named(path.name)
        if log is None:
            warnings.append(
                TraceWarning(f"the log names no output of run {path.name!r}; it is not used for this run", str(candidate))
            )
        else:
            log_source = str(candidate)
            warnings.extend(log.warnings)
        break
    if log is None and log_source is None:
        missing.append(LOG_FILE)
    return RunTrace(
        path=path,
        deps=deps,
        swimlane=swimlane,
        scope_stats=stats,
        log=log,
        log_source=log_source,
        warnings=tuple(warnings),
        missing=tuple(missing),
    )
