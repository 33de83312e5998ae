"""``ptocheck check-trace DIR...``: check real runtime runs against the model.

Each DIR is a run directory (the runtime's output folder of one case: deps.json, chip_swimlane_records.json,
scope_stats/, with stderr.log beside it or in its parent) or a folder of such run directories. For every
run it prints the verdict (conforms / violation / partial / error), each named check with its counts, the
violations with the observed records involved, and what could not be checked.

Exit code (the worst run decides, in this order): 1 some run violates a check; 2 some input cannot be read
(no such directory, no run in it, a malformed file); 3 partial: no violation, but some check could not run
or the input is known to be incomplete (a missing file, dropped records, a truncated file); 0 every run
conforms.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from model.errors import PtocheckError
from properties.conformance import ALL_CHECKS, DEFAULT_REPLAY_MAX_TASKS, RunReport, check_path
from properties.conformance.report import CONFORMS, ERROR, PARTIAL, VIOLATION
from runtime.traces.debug_log import DebugLog
from runtime.traces.run_dir import discover_runs

EXIT_CONFORMS, EXIT_VIOLATION, EXIT_BAD_INPUT, EXIT_PARTIAL = 0, 1, 2, 3
REPORT_FORMAT_VERSION = 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "check-trace",
        help="check real runtime runs (deps.json, swimlane, scope stats, debug log) against the model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dirs", nargs="+", metavar="DIR", help="a run directory or a folder of run directories")
    p.add_argument("--json", action="store_true", help="print one machine-readable JSON report")
    p.add_argument(
        "--no-replay",
        action="store_true",
        help="skip the replay through the model; the verdict is then at best partial",
    )
    p.add_argument(
        "--replay-max-tasks",
        type=int,
        default=0,
        metavar="N",
        help="skip the replay on runs of more than N tasks (default 0 = no limit; the replay is linear in the run)",
    )
    p.set_defaults(func=cmd_check_trace)


def exit_code(reports: list[RunReport]) -> int:
    verdicts = {r.verdict for r in reports}
    if VIOLATION in verdicts:
        return EXIT_VIOLATION
    if ERROR in verdicts:
        return EXIT_BAD_INPUT
    if PARTIAL in verdicts:
        return EXIT_PARTIAL
    return EXIT_CONFORMS


def run_reports(dirs: list[str], *, replay: bool, replay_max_tasks: int | None = DEFAULT_REPLAY_MAX_TASKS) -> list[RunReport]:
    reports: list[RunReport] = []
    cache: dict[Path, DebugLog] = {}
    for arg in dirs:
        try:
            runs = discover_runs([Path(arg)])
        except PtocheckError as exc:
            reports.append(RunReport(arg, ERROR, [], [], [], [], 0, error=exc.render()))
            continue
        reports.extend(
            check_path(run, replay=replay, log_cache=cache, replay_max_tasks=replay_max_tasks) for run in runs
        )
    return reports


def cmd_check_trace(args: argparse.Namespace) -> int:
    limit = args.replay_max_tasks if args.replay_max_tasks > 0 else None
    reports = run_reports(list(args.dirs), replay=not args.no_replay, replay_max_tasks=limit)
    code = exit_code(reports)
    counts = {v: sum(1 for r in reports if r.verdict == v) for v in (CONFORMS, VIOLATION, PARTIAL, ERROR)}
    if args.json:
        doc = {
            "ptocheck_check_trace": REPORT_FORMAT_VERSION,
            "checks": ALL_CHECKS,
            "runs": [r.to_json() for r in reports],
            "summary": counts,
            "exit_code": code,
        }
        print(json.dumps(doc, indent=1, sort_keys=True))
        return code
    for r in reports:
        print(r.render())
        if r.verdict == ERROR:
            print(f"ptocheck: error: {r.error}", file=sys.stderr)
    print(
        f"{len(reports)} run(s): {counts[CONFORMS]} conform, {counts[VIOLATION]} violation, "
        f"{counts[PARTIAL]} partial, {counts[ERROR]} unreadable (exit {code})"
    )
    return code
