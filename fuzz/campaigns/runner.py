"""Running a campaign: lanes in worker processes, a live progress line, persistent statistics, a summary.

Lane w of a campaign draws iterations (master seed, w, k) for k = 0, 1, ...; the statistics file keeps
each lane's next k per master seed, so a campaign started again with the same seed (or none: the last
one) resumes where it stopped, with the coverage counts, corpus and findings it had. With one worker
the lane runs in this process; with more, each lane is a spawned process that reports through a queue.
Statistics are written every second and at the end; artifacts are written by the lanes the moment a
failure is found. Duplicates (same signature and mutants) keep one artifact, the smallest seen, and a
count.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from fuzz.campaigns.catalogue import Campaign, get_campaign
from fuzz.campaigns.coverage import CATEGORIES, CoverageMap, as_plain, universe_gaps
from fuzz.campaigns.engine import FindingReport, Lane, Progress
from fuzz.campaigns.known import KNOWN, MUTANT, NEW
from fuzz.campaigns.other import TRB, campaign_on, check_runtime_mutants
from fuzz.campaigns.targets import DFS, DFS_MAX_PREEMPTIONS
from fuzz.corpus import Corpus
from model.errors import PtocheckError
from properties.artifacts import parse_artifact

STATS_EVERY = 1.0  # seconds between statistics writes
PROGRESS_TTY_EVERY = 0.5
PROGRESS_LOG_EVERY = 10.0  # when stderr is not a terminal: one line this often


@dataclass
class FuzzOptions:
    campaign: str = "default"
    seed: int | None = None
    workers: int = 1
    budget_seconds: float | None = None
    iterations: int | None = None
    corpus: Path = Path(".ptocheck") / "corpus"
    database: str | None = None
    mutants: tuple[str, ...] = ()
    runtime: str | None = None  # None: tensormap_and_ringbuffer (fuzz.campaigns.other for the others)
    stop_on_failure: bool = False
    fresh: bool = False
    command: str = ""  # recorded in every artifact; "{seed}" is replaced by the master seed
    progress: TextIO | None = None


@dataclass
class FindingSummary:
    key: str
    signature: list[str]
    mutants: list[str]
    classification: str
    finding: str | None
    message: str
    path: str
    count: int
    session_count: int
    first_seconds: float | None  # seconds into this session when it was first seen (None: earlier session)


@dataclass
class FuzzSummary:
    campaign: str
    seed: int
    workers: int
    resumed: bool
    interrupted: bool
    seconds: float
    iterations: int
    executions: int
    states: int
    steps: int
    invalid: int
    corpus_added: int
    coverage: dict[str, int]
    coverage_new: int
    gaps: dict[str, list[str]]
    findings: list[FindingSummary]
    errors: list[dict[str, Any]]
    bounds: str
    stats_path: str
    lanes: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    states_noun: str = "model states"

    @property
    def new_findings(self) -> list[FindingSummary]:
        return [f for f in self.findings if f.classification == NEW and f.session_count]

    @property
    def exit_code(self) -> int:
        if self.errors or self.new_findings:
            return 1
        if any(f.classification == MUTANT and f.session_count for f in self.findings):
            return 1
        return 0

    @property
    def rate(self) -> float:
        return self.executions / self.seconds if self.seconds > 0 else 0.0


def states_noun(campaign: Campaign) -> str:
    """What the campaign's state count counts: the model explorer's states, the port DFS's, or both."""
    model = any(a.target == "model" for a in campaign.arms)
    dfs = any(DFS in a.schedulers for a in campaign.arms)
    if model and dfs:
        return "states (model BFS + port DFS)"
    return "port DFS states" if dfs else "model states"


def parse_budget(text: str) -> float:
    """`90`, `90s`, `10m`, `1h`, `1h30m` -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    bad = PtocheckError(f"cannot read the budget {text!r}", "--budget", "write it as 90s, 10m, 1h or 1h30m")
    total, number, parts = 0.0, "", 0
    for ch in text.strip().lower():
        if ch.isdigit() or ch == ".":
            number += ch
        elif ch in units and number:
            total += _number(number, bad) * units[ch]
            number, parts = "", parts + 1
        else:
            raise bad
    if number:
        total += _number(number, bad)
        parts += 1
    if not parts:
        raise bad
    if total <= 0:
        raise PtocheckError(f"the budget must be positive, got {text!r}", "--budget", "write it as 90s, 10m or 1h")
    return total


def _number(text: str, bad: PtocheckError) -> float:
    try:
        return float(text)
    except ValueError:
        raise bad from None


# ------------------------------------------------------------------------------------ aggregation


class Aggregator:
    """Receives lane reports, keeps the campaign statistics and prints progress (in the main process)."""

    def __init__(self, campaign: Campaign, options: FuzzOptions, corpus: Corpus, seed: int, stats: dict[str, Any] | None):
        self.campaign = campaign
        self.options = options
        self.corpus = corpus
        self.seed = seed
        self.resumed = stats is not None and str(seed) in stats.get("lanes", {})
        self.stats: dict[str, Any] = stats or {
            "campaign": campaign.name,
            "lanes": {},
            "totals": {"iterations": 0, "executions": 0, "states": 0, "steps": 0, "invalid": 0, "seconds": 0.0},
            "coverage": {},
            "witness_names": [],
            "findings": {},
            "errors": {},
            "sessions": [],
        }
        self.stats["seed"] = seed
        self.coverage = CoverageMap(self.stats["coverage"])
        self.coverage_at_start = len(self.coverage)
        self.started = time.monotonic()
        self.session = {"iterations": 0, "executions": 0, "states": 0, "steps": 0, "invalid": 0, "corpus_added": 0}
        self.session_counts: dict[str, int] = {}
        self.first_seen: dict[str, float] = {}
        self.session_errors: list[dict[str, Any]] = []
        self.session_warnings: list[str] = []
        self.stop_requested = False
        self._last_stats = 0.0
        self._last_progress = 0.0
        self._tty = bool(options.progress is not None and getattr(options.progress, "isatty", lambda: False)())
        self._deadline = None if options.budget_seconds is None else self.started + options.budget_seconds
        self._has_model = any(a.target == "model" for a in campaign.arms)

    def lane_start(self, lane: int) -> int:
        return int(self.stats["lanes"].get(str(self.seed), {}).get(str(lane), 0))

    # ------------------------------------------------------------------ Sink

    def progress(self, report: Progress) -> None:
        lanes = self.stats["lanes"].setdefault(str(self.seed), {})
        lanes[str(report.lane)] = max(int(lanes.get(str(report.lane), 0)), report.next_iteration)
        totals = self.stats["totals"]
        for k in ("iterations", "executions", "states", "steps", "invalid"):
            totals[k] += getattr(report, k)
            self.session[k] += getattr(report, k)
        self.session["corpus_added"] += report.corpus_added
        self.coverage.merge(report.coverage)
        for w in report.witness_names:
            if w not in self.stats["witness_names"]:
                self.stats["witness_names"].append(w)
        self.tick()

    def finding(self, report: FindingReport) -> None:
        entry = self.stats["findings"].get(report.key)
        if entry is None:
            entry = self.stats["findings"][report.key] = {
                "signature": report.signature,
                "mutants": report.mutants,
                "class": report.classification,
                "finding": report.finding,
                "message": report.message,
                "artifact": report.path,
                "size": report.size,
                "count": 0,
                "first": {"seed": self.seed, "lane": report.lane, "iteration": report.iteration},
            }
            self.first_seen[report.key] = time.monotonic() - self.started
        elif report.key not in self.first_seen:
            self.first_seen[report.key] = time.monotonic() - self.started
        entry["count"] += 1
        self.session_counts[report.key] = self.session_counts.get(report.key, 0) + 1
        if not report.created and report.size < entry.get("size", report.size):
            # a smaller duplicate replaces the artifact on disk (same signature and mutants)
            artifact = parse_artifact(_json(report.artifact), report.path)
            self.corpus.replace_artifact(Path(entry["artifact"]), artifact)
            entry["size"] = report.size
            entry["message"] = report.message
        if self.options.stop_on_failure and (not self.options.mutants or report.classification == MUTANT):
            self.stop_requested = True  # with mutants on, only a failure the mutants cause stops the campaign
        self.write_stats()
        self.tick(force=True)

    def error(self, lane: int, iteration: int, path: str, created: bool, text: str) -> None:
        entry = self.stats["errors"].setdefault(path, {"error": text, "count": 0})
        entry["count"] += 1
        self.session_errors.append({"lane": lane, "iteration": iteration, "path": path, "error": text})
        self.write_stats()

    def warning(self, lane: int, text: str) -> None:
        """Said at once on the progress stream and again in the summary; each distinct text once."""
        if text in self.session_warnings:
            return
        self.session_warnings.append(text)
        self.stats.setdefault("warnings", []).append({"seed": self.seed, "lane": lane, "warning": text})
        self.write_stats()
        if self.options.progress is not None:
            below = "\n" if self._tty else ""  # below the progress line that \r keeps rewriting
            self.options.progress.write(f"{below}[fuzz {self.campaign.name}] WARNING: {text}\n")
            self.options.progress.flush()

    def should_stop(self) -> bool:
        if self._deadline is not None and time.monotonic() >= self._deadline:
            return True
        return self.stop_requested

    # ------------------------------------------------------------------ progress and statistics

    def tick(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_stats >= STATS_EVERY:
            self.write_stats()
        every = PROGRESS_TTY_EVERY if self._tty else PROGRESS_LOG_EVERY
        if self.options.progress is not None and (force or now - self._last_progress >= every):
            self._last_progress = now
            end = "\r" if self._tty else "\n"
            self.options.progress.write(self.progress_line() + end)
            self.options.progress.flush()

    def progress_line(self) -> str:
        elapsed = time.monotonic() - self.started
        s = self.session
        rate = s["executions"] / elapsed if elapsed > 0 else 0.0
        counts = self.session_counts
        new = sum(1 for k in counts if self.stats["findings"][k]["class"] == NEW)
        known = sum(1 for k in counts if self.stats["findings"][k]["class"] == KNOWN)
        mutant = sum(1 for k in counts if self.stats["findings"][k]["class"] == MUTANT)
        dups = sum(counts.values()) - len(counts)
        left = ""
        if self._deadline is not None:
            left = f"  {max(0.0, self._deadline - time.monotonic()):.0f}s left"
        elif self.options.iterations is not None:
            left = f"  {max(0, self.options.iterations - s['iterations'])} iterations left"
        states = f"  {s['states']:,} {states_noun(self.campaign)}" if s["states"] else ""
        found = f"findings {new} new, {known} known" + (f", {mutant} mutant" if mutant else "") + f" (+{dups} dup)"
        return (
            f"[fuzz {self.campaign.name}] {elapsed:6.1f}s  {s['executions']:,} exec ({rate:.1f}/s){states}  "
            f"coverage {len(self.coverage)} (+{len(self.coverage) - self.coverage_at_start})  "
            f"corpus +{s['corpus_added']}  {found}{left}"
        )

    def write_stats(self) -> None:
        self._last_stats = time.monotonic()
        self.stats["coverage"] = as_plain(self.coverage.counts)
        self.corpus.save_stats(self.campaign.name, self.stats)

    def finish(self, interrupted: bool) -> FuzzSummary:
        seconds = time.monotonic() - self.started
        totals = self.stats["totals"]
        totals["seconds"] = round(float(totals["seconds"]) + seconds, 3)
        self.stats["sessions"].append(
            {
                "seed": self.seed,
                "workers": self.options.workers,
                "budget_seconds": self.options.budget_seconds,
                "iterations_budget": self.options.iterations,
                "mutants": list(self.options.mutants),
                "iterations": self.session["iterations"],
                "executions": self.session["executions"],
                "seconds": round(seconds, 3),
                "interrupted": interrupted,
            }
        )
        self.write_stats()
        if self.options.progress is not None and self._tty:
            self.options.progress.write("\n")
        findings = []
        for key, e in sorted(self.stats["findings"].items(), key=lambda kv: (kv[1]["class"], kv[0])):
            findings.append(
                FindingSummary(
                    key=key,
                    signature=e["signature"],
                    mutants=e["mutants"],
                    classification=e["class"],
                    finding=e["finding"],
                    message=e["message"],
                    path=e["artifact"],
                    count=e["count"],
                    session_count=self.session_counts.get(key, 0),
                    first_seconds=self.first_seen.get(key),
                )
            )
        s = self.session
        parts = [f"executions={s['executions']}", f"seconds={seconds:.1f}"]
        if self.campaign.arms and any(a.target == "model" for a in self.campaign.arms):
            parts.append(f"model_states_per_scenario={self.campaign.model_max_states}")
        if any(a.target == "port" for a in self.campaign.arms):
            parts.append(f"port_max_steps=min({self.campaign.port_max_steps}, 10000+1000*tasks*runs)")
        if any(DFS in a.schedulers for a in self.campaign.arms):
            parts.append(f"dfs_states_per_scenario={self.campaign.dfs_max_states}, dfs_preemptions<={DFS_MAX_PREEMPTIONS}")
        return FuzzSummary(
            campaign=self.campaign.name,
            seed=self.seed,
            workers=self.options.workers,
            resumed=self.resumed,
            interrupted=interrupted,
            seconds=seconds,
            iterations=s["iterations"],
            executions=s["executions"],
            states=s["states"],
            steps=s["steps"],
            invalid=s["invalid"],
            corpus_added=s["corpus_added"],
            coverage=dict(self.coverage.counts),
            coverage_new=len(self.coverage) - self.coverage_at_start,
            gaps=universe_gaps(self.coverage.counts, self.stats["witness_names"]) if self._has_model else {},
            findings=findings,
            errors=self.session_errors,
            bounds=f"bounded({', '.join(parts)})",
            stats_path=str(self.corpus.stats_path(self.campaign.name)),
            lanes=dict(self.stats["lanes"].get(str(self.seed), {})),
            warnings=list(self.session_warnings),
            states_noun=states_noun(self.campaign),
        )


def _json(doc: dict[str, Any]) -> str:
    import json

    return json.dumps(doc)


# ------------------------------------------------------------------------------------------ workers


class _QueueSink:
    """A lane's sink in a worker process: reports go to the main process through a queue."""

    def __init__(self, q: Any, stop: Any, parent: int) -> None:
        self.q = q
        self.stop = stop
        self.parent = parent

    def progress(self, report: Progress) -> None:
        self.q.put(("progress", asdict(report)))

    def finding(self, report: FindingReport) -> None:
        self.q.put(("finding", asdict(report)))

    def error(self, lane: int, iteration: int, path: str, created: bool, text: str) -> None:
        self.q.put(("error", (lane, iteration, path, created, text)))

    def warning(self, lane: int, text: str) -> None:
        self.q.put(("warning", (lane, text)))

    def should_stop(self) -> bool:
        return bool(self.stop.is_set()) or os.getppid() != self.parent


def _worker(args: dict[str, Any], q: Any, stop: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides when to stop
    try:
        campaign = _resolve_campaign(args["campaign"], args["runtime"], tuple(args["mutants"]))
        corpus = Corpus(Path(args["corpus"]), args["database"], campaign_started=True)
        sink = _QueueSink(q, stop, args["parent"])
        lane = Lane(
            campaign,
            args["lane"],
            args["seed"],
            corpus,
            sink,
            mutants=tuple(args["mutants"]),
            start_iteration=args["start"],
            coverage=args["coverage"],
            command=args["command"],
        )
        lane.run(args["iterations"], args["deadline"])
    except BaseException as e:  # reported, never silent
        q.put(("crash", (args["lane"], f"{type(e).__name__}: {e}")))
    finally:
        q.put(("done", args["lane"]))


def _lane_quota(total: int | None, workers: int, lane: int) -> int | None:
    if total is None:
        return None
    return total // workers + (1 if lane < total % workers else 0)


def _resolve_campaign(name: str, runtime: str | None, mutants: tuple[str, ...]) -> Campaign:
    """The named campaign on `runtime` (checked against its mutants), port arms only when mutants are on."""
    campaign = get_campaign(name)
    if runtime is not None and runtime != campaign.runtime:
        campaign = campaign_on(campaign, runtime)
    if mutants:
        if campaign.runtime == TRB:
            from runtime.trb.mutants import check_mutants

            check_mutants(mutants)
        else:
            check_runtime_mutants(campaign.runtime, mutants)
        campaign = campaign.port_only()
    return campaign


def run_campaign(options: FuzzOptions) -> FuzzSummary:
    """Run (or resume) a campaign until its budget is spent, it is stopped, or it is interrupted."""
    campaign = _resolve_campaign(options.campaign, options.runtime, options.mutants)
    if options.workers < 1:
        raise PtocheckError(f"--workers must be >= 1, got {options.workers}", "--workers", "pass 1 or more")
    if options.iterations is not None and options.iterations < 1:
        raise PtocheckError(f"--iterations must be >= 1, got {options.iterations}", "--iterations", "pass 1 or more")
    if options.budget_seconds is None and options.iterations is None:
        raise PtocheckError("a campaign needs a budget", "ptocheck fuzz", "pass --budget (e.g. 10m) or --iterations")
    corpus = Corpus(options.corpus, options.database)
    _ = corpus.db  # a database that cannot be opened is bad input: say so before any work
    stats = None if options.fresh else corpus.load_stats(campaign.name)
    seed = options.seed
    if seed is None:
        seed = int(stats["seed"]) if stats is not None else int.from_bytes(os.urandom(4), "big")
    options.command = options.command.replace("{seed}", str(seed))
    agg = Aggregator(campaign, options, corpus, seed, stats)
    if options.progress is not None:
        resumed = " (resumed)" if agg.resumed else ""
        options.progress.write(
            f"[fuzz {campaign.name}] seed {seed}{resumed}, {options.workers} worker(s), corpus {options.corpus}\n"
        )
    deadline = None if options.budget_seconds is None else time.monotonic() + options.budget_seconds
    interrupted = False
    try:
        if options.workers == 1:
            lane = Lane(
                campaign,
                0,
                seed,
                corpus,
                agg,
                mutants=options.mutants,
                start_iteration=agg.lane_start(0),
                coverage=dict(agg.coverage.counts),
                command=options.command,
            )
            lane.run(options.iterations, deadline)
        else:
            _run_workers(campaign, options, agg, seed, deadline)
    except KeyboardInterrupt:
        interrupted = True
    return agg.finish(interrupted)


def _run_workers(campaign: Campaign, options: FuzzOptions, agg: Aggregator, seed: int, deadline: float | None) -> None:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    stop = ctx.Event()
    procs = []
    # The deadline is this process's time.monotonic() value: CLOCK_MONOTONIC is system-wide on Linux
    # and macOS, so the workers compare their own clock against it.
    for lane in range(options.workers):
        args = {
            "campaign": options.campaign,
            "lane": lane,
            "seed": seed,
            "corpus": str(options.corpus),
            "database": options.database,
            "mutants": list(options.mutants),
            "runtime": options.runtime,
            "start": agg.lane_start(lane),
            "coverage": dict(agg.coverage.counts),
            "command": options.command,
            "iterations": _lane_quota(options.iterations, options.workers, lane),
            "deadline": deadline,
            "parent": os.getpid(),
        }
        p = ctx.Process(target=_worker, args=(args, q, stop), daemon=True)
        p.start()
        procs.append(p)
    running = set(range(options.workers))
    crashes: list[str] = []
    try:
        while running:
            if agg.should_stop():
                stop.set()
            try:
                kind, payload = q.get(timeout=0.2)
            except queue.Empty:
                if not any(p.is_alive() for p in procs):
                    break
                agg.tick()
                continue
            if kind == "progress":
                agg.progress(Progress(**payload))
            elif kind == "finding":
                agg.finding(FindingReport(**payload))
            elif kind == "error":
                agg.error(*payload)
            elif kind == "warning":
                agg.warning(*payload)
            elif kind == "crash":
                crashes.append(f"lane {payload[0]}: {payload[1]}")
            elif kind == "done":
                running.discard(int(payload))
    except KeyboardInterrupt:
        stop.set()
        _drain(q, agg, procs)
        raise
    finally:
        stop.set()
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
    if crashes:
        raise PtocheckError("a campaign worker stopped: " + "; ".join(crashes), "ptocheck fuzz", "report this")


def _drain(q: Any, agg: Aggregator, procs: list[Any]) -> None:
    """After an interrupt: collect what the workers still report for a moment (their artifacts are on disk)."""
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        try:
            kind, payload = q.get(timeout=0.1)
        except queue.Empty:
            if not any(p.is_alive() for p in procs):
                return
            continue
        if kind == "progress":
            agg.progress(Progress(**payload))
        elif kind == "finding":
            agg.finding(FindingReport(**payload))
        elif kind == "warning":
            agg.warning(*payload)


# ------------------------------------------------------------------------------------------ summary


def format_summary(s: FuzzSummary) -> str:
    lines = []
    state = " (interrupted)" if s.interrupted else ""
    resumed = ", resumed" if s.resumed else ""
    lines.append(f"campaign {s.campaign}: seed {s.seed}, {s.workers} worker(s){resumed}{state}")
    model_states = f", {s.states:,} {s.states_noun}" if s.states else ""
    port_steps = f", {s.steps:,} port steps" if s.steps else ""
    lines.append(
        f"  {s.iterations:,} inputs ({s.invalid} invalid), {s.executions:,} executions in {s.seconds:.1f}s "
        f"({s.rate:.1f}/s){model_states}{port_steps}"
    )
    by_cat: dict[str, int] = {}
    for feature in s.coverage:
        c = feature.split(":", 1)[0]
        by_cat[c] = by_cat.get(c, 0) + 1
    lines.append(f"  coverage: {len(s.coverage)} features (+{s.coverage_new} this session), corpus +{s.corpus_added} inputs")
    for c in sorted(by_cat, key=lambda c: (list(CATEGORIES).index(c) if c in CATEGORIES else len(CATEGORIES), c)):
        lines.append(f"    {CATEGORIES.get(c, c)}: {by_cat[c]}")
    for c, missing in sorted(s.gaps.items()):
        shown = ", ".join(m.split(":", 1)[1] for m in missing[:8]) + (" ..." if len(missing) > 8 else "")
        lines.append(f"    never reached ({CATEGORIES.get(c, c)}): {shown}")
    if not s.findings:
        lines.append(f"  no failure within {s.bounds}")
    else:
        lines.append(f"  findings ({len(s.findings)} distinct, duplicates merged):")
        for f in s.findings:
            label = f.classification if f.finding is None else f"known {f.finding}"
            if f.mutants:
                label = "mutant " + ",".join(f.mutants)
            first = f", first after {f.first_seconds:.1f}s" if f.first_seconds is not None else ""
            lines.append(
                f"    [{label}] {' / '.join(f.signature[1:])}: {f.count}x ({f.session_count} this session{first})"
            )
            lines.append(f"      {f.message}")
            lines.append(f"      replay: ptocheck replay {f.path}")
        if not s.new_findings:
            lines.append(f"  no unregistered failure within {s.bounds}")
    for w in s.warnings:
        lines.append(f"  WARNING: {w}")
    for e in s.errors:
        lines.append(f"  INTERNAL ERROR (lane {e['lane']}, iteration {e['iteration']}): {e['error']}  [{e['path']}]")
    lines.append(f"  statistics: {s.stats_path}")
    return "\n".join(lines) + "\n"


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


__all__ = ["FuzzOptions", "FuzzSummary", "default_workers", "format_summary", "parse_budget", "run_campaign"]
