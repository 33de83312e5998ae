"""Conformance-check throughput on a real capture and on 10x / 100x synthetic enlargements of it: events
checked per second (target >= 200,000) and how the time grows with the trace length (target: linearly).

An enlargement of factor k is k copies of the recorded run back to back in ONE run: every copy's task ids
continue each ring's local ids, its buffers (and host tensors) move to fresh addresses, its register ids
continue each core's, its cycles are shifted past the previous copy, and the scope samples, submit records
and debug-log lines follow; the executor's root scope spans the whole run. The result is a run the checker
must find conforming (it is checked below), k times longer than the real one.

Events = the records read: deps.json tasks and edge rows, AICore and AICPU rows, submit records,
dummy completions, scope samples, debug-log dispatch lines (the output says so too; deps.json tensors and
args and the other scheduler phase records are read and validated but not counted). Times are CPU seconds
(time.process_time) of one process, parse included: the box may be shared. Per stage (read, timeline,
scenario rebuild, each check, replay) and end to end (`check_path`, as `ptocheck check-trace` runs it).

The replay runs the model in place (`TrbModel(in_place=True)`, one per-task list updated where it stands),
so every model step is O(1) and the replay is linear like the rest; it is timed at every factor.
"json floor" is `json.loads` of deps.json and the swimlane file alone (no validation, no records built): a
lower bound on any reader of these files in CPython, shown for scale.
Not a test (tests never time): `python benchmarks/bench_conformance.py [--trace DIR] [--factors 1 10 100]`.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from properties.conformance import check_path
from properties.conformance.checks import Refs, observation_checks
from properties.conformance.replay import replay_run
from properties.conformance.report import CONFORMS
from properties.conformance.timeline import build_timeline
from runtime.traces.run_dir import SCOPE_STATS_FILE, discover_runs, load_run

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TRACE = REPO.parent / "shared" / "traces" / "pa_casevarseq4_window8_all"
ADDRESS_STRIDE = 1 << 36  # per copy; far above any buffer extent of the run
_OUTPUT_NAME = re.compile(r"/([^/\s]+)/(deps\.json|chip_swimlane_records\.json|scope_stats/scope_stats\.jsonl)")


def _ring(raw: int) -> int:
    return (raw >> 32) & 0xFF


def enlarge(src: Path, dst: Path, factor: int) -> Path:
    """Write `factor` back-to-back copies of the run at `src` as one run at `dst` (see the module doc)."""
    dst.mkdir(parents=True)
    deps = json.loads((src / "deps.json").read_text())
    sw = json.loads((src / "chip_swimlane_records.json").read_text())
    stats_lines = (src / SCOPE_STATS_FILE).read_text().splitlines()
    log_lines = (src.parent / "stderr.log").read_text().splitlines()

    ids = {int(t["task_id"]) for t in deps["tasks"]} | {int(e["pred"]) for e in deps["edges"]}
    ids |= {r["task_id"] for lane in sw["aicpu_orchestrator_phases"] for r in lane}
    per_ring: dict[int, int] = defaultdict(int)
    for raw in ids:
        per_ring[_ring(raw)] = max(per_ring[_ring(raw)], (raw & 0xFFFFFFFF) + 1)
    times = [r[3] for r in sw["aicore_tasks"]] + [r[4] for r in sw["aicore_tasks"]] + [r[3] for r in sw["aicpu_tasks"]]
    times += [r["end_cycles"] for lane in sw["aicpu_orchestrator_phases"] for r in lane]
    times += [r["end_cycles"] for lane in sw["aicpu_scheduler_phases"] for r in lane]
    span: int = max(times) - min(times) + 1000
    regs: dict[int, int] = defaultdict(int)
    for r in sw["aicore_tasks"]:
        regs[r[0]] = max(regs[r[0]], r[2])
    n_submits = sum(len(lane) for lane in sw["aicpu_orchestrator_phases"])
    tensor_ids: dict[tuple[str, int], str] = {}

    def task(raw: int, c: int) -> int:
        return raw + c * per_ring[_ring(raw)]

    def tensor(tid: str, c: int) -> str:
        key = (tid, c)
        if key not in tensor_ids:
            tensor_ids[key] = str(1_000_000_000 + len(tensor_ids))
        return tensor_ids[key]

    def at(cycles: int, c: int) -> int:
        return cycles + c * span

    # deps.json
    out: dict[str, list[dict[str, object]]] = {"tasks": [], "tensors": [], "edges": []}
    for c in range(factor):
        for t in deps["tasks"]:
            args = [dict(a, tensor_id=tensor(a["tensor_id"], c)) if "tensor_id" in a else a for a in t["args"]]
            out["tasks"].append(dict(t, task_id=str(task(int(t["task_id"]), c)), args=args))
        for t in deps["tensors"]:
            out["tensors"].append(
                dict(t, tensor_id=tensor(t["tensor_id"], c), buffer_addr=str(int(t["buffer_addr"]) + c * ADDRESS_STRIDE))
            )
        for e in deps["edges"]:
            row = dict(e, pred=str(task(int(e["pred"]), c)), succ=str(task(int(e["succ"]), c)))
            if "tensor_id" in e:
                row["tensor_id"] = tensor(e["tensor_id"], c)
            out["edges"].append(row)
    (dst / "deps.json").write_text(json.dumps(out))

    # chip_swimlane_records.json
    big = dict(sw, aicore_tasks=[], aicpu_tasks=[])
    big["aicpu_scheduler_phases"] = [[] for _ in sw["aicpu_scheduler_phases"]]
    big["aicpu_orchestrator_phases"] = [[] for _ in sw["aicpu_orchestrator_phases"]]
    for c in range(factor):
        for core, raw, reg, start, end, r2s in sw["aicore_tasks"]:
            big["aicore_tasks"].append([core, task(raw, c), reg + c * regs[core], at(start, c), at(end, c), r2s])
        for core, reg, disp, fin in sw["aicpu_tasks"]:
            big["aicpu_tasks"].append([core, reg + c * regs[core], at(disp, c), at(fin, c)])
        for lane_no, lane in enumerate(sw["aicpu_scheduler_phases"]):
            for r in lane:
                moved = dict(r, start_cycles=at(r["start_cycles"], c), end_cycles=at(r["end_cycles"], c))
                if "task_id" in r:
                    moved["task_id"] = task(r["task_id"], c)
                big["aicpu_scheduler_phases"][lane_no].append(moved)
        for lane_no, lane in enumerate(sw["aicpu_orchestrator_phases"]):
            for r in lane:
                big["aicpu_orchestrator_phases"][lane_no].append(
                    dict(r, submit_idx=r["submit_idx"] + c * n_submits, task_id=task(r["task_id"], c),
                         start_cycles=at(r["start_cycles"], c), end_cycles=at(r["end_cycles"], c))
                )
    big["aicore_tasks"].sort(key=lambda r: (r[0], r[2]))
    big["aicpu_tasks"].sort(key=lambda r: (r[0], r[1]))
    (dst / "chip_swimlane_records.json").write_text(json.dumps(big))

    # scope_stats.jsonl: the root scope opens in the first copy and closes in the last
    header = json.loads(stats_lines[0])
    samples = [json.loads(x) for x in stats_lines[1:]]
    heap_span: dict[int, int] = defaultdict(int)
    for s in samples:
        heap_span[s["ring"]] = max(heap_span[s["ring"]], s["heap_end"])
    lines_out = []
    for c in range(factor):
        for i, s in enumerate(samples):
            if (i == 0 and c > 0) or (i == len(samples) - 1 and c < factor - 1):
                continue
            r, n = s["ring"], per_ring[s["ring"]]
            lines_out.append(dict(
                s,
                task_window_start=s["task_window_start"] + c * n,
                task_window_end=s["task_window_end"] + c * n,
                heap_start=s["heap_start"] + c * heap_span[r],
                heap_end=s["heap_end"] + c * heap_span[r],
            ))
    header["total"] = len(lines_out)
    (dst / "scope_stats").mkdir()
    (dst / SCOPE_STATS_FILE).write_text("\n".join(json.dumps(x) for x in [header, *lines_out]) + "\n")

    # stderr.log: the run's own lines, with the dispatch and host-tensor lines of every copy
    log_out: list[str] = []
    name = dst.name
    for line in log_lines:
        if "prepare_subtask_to_core" in line and "Dispatched" in line:
            m = re.search(r"task (\d+) .* core_id=(\d+) reg_task_id=(\d+)", line)
            assert m is not None
            raw, core, reg = int(m.group(1)), int(m.group(2)), int(m.group(3))
            for c in range(factor):
                log_out.append(
                    line.replace(f"task {raw} ", f"task {task(raw, c)} ").replace(
                        f"reg_task_id={reg}", f"reg_task_id={reg + c * regs[core]}"
                    )
                )
        elif "ChipTensor " in line and " bytes at 0x" in line:
            m = re.search(r"bytes at 0x([0-9a-fA-F]+)", line)
            assert m is not None
            addr = int(m.group(1), 16)
            log_out.extend(line.replace(m.group(1), f"{addr + c * ADDRESS_STRIDE:x}") for c in range(factor))
        elif "PTO2 completed tasks" in line:
            log_out.append(re.sub(r"(\d+)/(\d+)", f"{len(ids) * factor}/{len(ids) * factor}", line))
        elif "reconcile" in line:
            continue  # counts differ; the enlarged run claims no collector totals
        else:
            log_out.append(_OUTPUT_NAME.sub(lambda m: f"/{name}/{m.group(2)}", line))
    (dst / "stderr.log").write_text("\n".join(log_out) + "\n")
    return dst


STAGES = ("read", "timeline", "rebuild", *(name for name, _fn in observation_checks()), "replay")


def measure(run: Path, replay: bool, repeat: int) -> tuple[dict[str, float], dict[str, float], int, int, str]:
    """CPU seconds of each stage on `run`, the best of `repeat` rounds, with the cyclic collector paused as
    `check-trace` does; then `check_path` end to end, without and with the replay (best of `repeat` rounds).
    Returns (stages, end_to_end, events, tasks, verdict)."""
    best: dict[str, float] = {}
    statuses: dict[str, str] = {}
    events = tasks = 0
    for round_no in range(repeat):
        gc.collect()
        gc.disable()
        try:
            times: dict[str, float] = {}
            t = time.process_time()
            json.loads((run / "deps.json").read_bytes())
            json.loads((run / "chip_swimlane_records.json").read_bytes())
            times["json floor"] = time.process_time() - t
            t = time.process_time()
            trace = load_run(run)
            times["read"] = time.process_time() - t
            t = time.process_time()
            tl = build_timeline(trace)
            times["timeline"] = time.process_time() - t
            t = time.process_time()
            tl.rebuilt_scenario()  # the edges check, the order inference and the replay share it
            times["rebuild"] = time.process_time() - t
            refs = Refs(tl)
            results = []
            for name, fn in observation_checks():
                t = time.process_time()
                results.append(fn(tl, refs))
                times[name] = time.process_time() - t
            outcome = None
            if replay:
                t = time.process_time()
                outcome = replay_run(tl)
                times["replay"] = time.process_time() - t
        finally:
            gc.enable()
        for stage, secs in times.items():
            best[stage] = min(best.get(stage, secs), secs)
        if round_no == 0:
            statuses = {r.name: r.status for r in results}
            if outcome is not None:
                statuses["model-replay"] = "pass" if outcome.ran and not outcome.refused else "refused"
            events, tasks = tl.events, len(trace.deps.tasks) if trace.deps is not None else 0
    end_to_end: dict[str, float] = {}
    for with_replay in (False, True) if replay else (False,):
        for _ in range(repeat):
            gc.collect()
            t = time.process_time()
            report = check_path(run, replay=with_replay, replay_max_tasks=None)
            secs = time.process_time() - t
            key = "with replay" if with_replay else "no replay"
            end_to_end[key] = min(end_to_end.get(key, secs), secs)
            if report.verdict != CONFORMS and with_replay:
                statuses["check_path"] = report.verdict
    bad = sorted(n for n, st in statuses.items() if st not in ("pass", CONFORMS))
    verdict = "all checks pass" if not bad else "NOT PASSING: " + ", ".join(bad)
    return best, end_to_end, events, tasks, verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trace", type=Path, default=DEFAULT_TRACE, help="a capture folder or run directory")
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--replay-max", type=int, default=1000, help="largest factor also timed with the model replay")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per factor; the best is shown")
    args = parser.parse_args()
    (src,) = discover_runs([args.trace])[:1]
    print(f"trace: {src}")
    print(f"CPU seconds (time.process_time) of one process, best of {args.repeat} rounds, file parsing included.")
    print("events = records read: deps.json tasks + deps.json edge rows + AICore rows + AICPU rows + orchestrator "
          "submit records + dummy/predicated-skip completion records + scope-stats samples + debug-log dispatch "
          "lines (scheduler phase records other than completions, deps.json tensors and args are not counted)")
    print("stages: read = the four readers; timeline = nodes, edges, order, scopes, derived times; rebuild = the "
          "scenario rebuilt from deps.json (shared by the edges check and the replay); then each check; replay = the "
          "model replay (its own layout and model included)")
    rows: list[tuple[int, int, int, dict[str, float], dict[str, float], str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in args.factors:
            run = enlarge(src, Path(tmp) / f"x{k}" / src.name, k) if k > 1 else src
            stages, e2e, events, tasks, verdict = measure(run, replay=k <= args.replay_max, repeat=args.repeat)
            rows.append((k, tasks, events, stages, e2e, verdict))
    short = {"exactly-once": "once", "core-serial": "core", "wait-order": "wait", "slot-reuse": "slot",
             "watermark": "wmark", "timeline": "tline", "rebuild": "rebld"}
    print()
    print("microseconds per event, per stage (flat columns = linear growth):")
    print(f"{'factor':>6} {'tasks':>6} {'events':>7} |" + "".join(f"{short.get(s, s):>8}" for s in STAGES))
    for k, tasks, events, stages, _e2e, _v in rows:
        cells = "".join(f"{stages[s] / events * 1e6:8.2f}" if s in stages else f"{'-':>8}" for s in STAGES)
        print(f"{k:>6} {tasks:>6} {events:>7} |{cells}")
    print()
    print("events checked per second (target >= 200,000):")
    print(f"{'factor':>6} | {'read':>9} {'timeline':>9} {'rebuild':>9} {'checks':>9} {'edges':>9} {'replay':>9} |"
          f" {'all but replay':>14} {'check_path no replay':>20} {'check_path + replay':>19} | {'json floor':>10} |"
          f" {'tasks/s':>8} | verdict")
    for k, tasks, events, stages, e2e, verdict in rows:
        checks = sum(stages[name] for name, _fn in observation_checks() if name != "edges")

        def rate(secs: float | None, n: int = events) -> str:
            return f"{n / secs:,.0f}" if secs else "-"

        no_replay = sum(v for s, v in stages.items() if s not in ("replay", "json floor"))
        print(f"{k:>6} | {rate(stages['read']):>9} {rate(stages['timeline']):>9} {rate(stages['rebuild']):>9} "
              f"{rate(checks):>9} {rate(stages['edges']):>9} {rate(stages.get('replay')):>9} | {rate(no_replay):>14} "
              f"{rate(e2e.get('no replay')):>20} {rate(e2e.get('with replay')):>19} | {rate(stages['json floor']):>10} |"
              f" {rate(e2e.get('with replay'), tasks):>8} | {verdict}")
    print()
    print("checks = wait-order + slot-reuse + window + watermark + exactly-once + core-serial; edges = the model's "
          "derivation compared with deps.json (after rebuild); check_path = what `ptocheck check-trace` runs per run; "
          "json floor = json.loads of deps.json + chip_swimlane_records.json alone (a bound on any reader); "
          "tasks/s = check_path + replay per task. A dispatch is counted up to three times as an event (AICore row, "
          "AICPU row, log line): per runtime event (submit, dispatch, completion) the rate is about 2.5x lower")


if __name__ == "__main__":
    main()
