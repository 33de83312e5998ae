"""Conformance of real runtime runs to the model: read whichever trace files a run left, reconstruct what
happened (:mod:`.timeline`), run the named observation checks (:mod:`.checks`) and replay the observed
order through the reference model (:mod:`.replay`).

A replay refusal counts as the ``model-replay`` violation only when no observation check is violated;
otherwise it is kept as context of those violations (status ``subsumed``), so that a broken record is
blamed on the one rule it breaks.
"""

from __future__ import annotations

import gc
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from model.errors import PtocheckError
from properties.conformance.checks import CHECKS, Refs, observation_checks
from properties.conformance.replay import ReplayOutcome, replay_run
from properties.conformance.report import (
    CONFORMS,
    ERROR,
    INCONCLUSIVE,
    NOT_RUN,
    PARTIAL,
    SUBSUMED,
    VIOLATED,
    VIOLATION,
    CheckResult,
    RunReport,
    Violation,
)
from properties.conformance.timeline import Timeline, build_timeline
from runtime.traces.debug_log import DebugLog
from runtime.traces.run_dir import RunTrace, load_run

__all__ = [
    "ALL_CHECKS",
    "DEFAULT_REPLAY_MAX_TASKS",
    "REPLAY",
    "CheckResult",
    "RunReport",
    "Timeline",
    "Violation",
    "build_timeline",
    "check_path",
    "check_run",
    "check_timeline",
]

REPLAY = "model-replay"
ALL_CHECKS: dict[str, str] = {
    **CHECKS,
    REPLAY: "the observed order, replayed through the reference model, is a behaviour the model allows",
}


# No limit: the replay updates the model's state in place (O(1) per model step), so it is linear in the run
# like every other check (benchmarks/bench_conformance.py). A limit can still be asked for.
DEFAULT_REPLAY_MAX_TASKS: int | None = None


def check_run(
    trace: RunTrace, *, replay: bool = True, cross_check: bool = False, replay_max_tasks: int | None = None
) -> RunReport:
    return check_timeline(build_timeline(trace), replay=replay, cross_check=cross_check, replay_max_tasks=replay_max_tasks)


def check_timeline(
    tl: Timeline,
    *,
    replay: bool = True,
    cross_check: bool = False,
    skip: Collection[str] = (),
    replay_max_tasks: int | None = None,
) -> RunReport:
    """Run every check on `tl` (those named in `skip` are reported as not run). The replay is skipped,
    with a note, on runs of more than `replay_max_tasks` tasks (None: no limit)."""
    refs = Refs(tl)
    results = [
        CheckResult(name, ALL_CHECKS[name]).not_run("skipped on request") if name in skip else fn(tl, refs)
        for name, fn in observation_checks()
    ]
    if replay and REPLAY not in skip and replay_max_tasks is not None and len(tl.tasks) > replay_max_tasks:
        results.append(
            CheckResult(REPLAY, ALL_CHECKS[REPLAY]).not_run(
                f"{len(tl.tasks)} tasks > --replay-max-tasks {replay_max_tasks} (skipped on request)"
            )
        )
    else:
        results.append(_replay_result(tl, results, replay and REPLAY not in skip, cross_check))
    warnings = [w.render() for w in tl.warnings]
    if any(r.status == VIOLATED for r in results):
        verdict = VIOLATION
    elif warnings or tl.notes or tl.trace.missing or any(r.status in (NOT_RUN, INCONCLUSIVE) for r in results):
        verdict = PARTIAL
    else:
        verdict = CONFORMS
    return RunReport(
        run=str(tl.trace.path),
        verdict=verdict,
        checks=results,
        warnings=warnings,
        notes=list(tl.notes),
        missing=list(tl.trace.missing),
        events=tl.events,
    )


def _replay_result(tl: Timeline, direct: list[CheckResult], enabled: bool, cross_check: bool) -> CheckResult:
    res = CheckResult(REPLAY, ALL_CHECKS[REPLAY])
    if not enabled:
        return res.not_run("skipped on request (--no-replay)")
    outcome: ReplayOutcome = replay_run(tl, cross_check=cross_check)
    if not outcome.ran:
        return res.not_run(outcome.note)
    res.checked = outcome.accepted
    if not outcome.refused:
        return res
    res.add(outcome.refused, outcome.context)
    explained = [r.name for r in direct if r.status == VIOLATED]
    if explained:
        res.status = SUBSUMED
        res.note = f"the first refused event follows from the {', '.join(explained)} violation(s)"
    elif outcome.inconclusive:
        res.status = INCONCLUSIVE
        res.note = outcome.inconclusive
    return res


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The readers and checks build many small acyclic objects; the cyclic collector only slows them down."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def check_path(
    path: Path,
    *,
    replay: bool = True,
    log_cache: dict[Path, DebugLog] | None = None,
    replay_max_tasks: int | None = DEFAULT_REPLAY_MAX_TASKS,
) -> RunReport:
    """Load and check one run directory; a file that cannot be read gives an ``error`` report."""
    with _collector_paused():
        try:
            trace = load_run(path, log_cache)
        except PtocheckError as exc:
            return RunReport(str(path), ERROR, [], [], [], [], 0, error=exc.render())
        return check_run(trace, replay=replay, replay_max_tasks=replay_max_tasks)
