"""Each conformance check on a mutated copy of a real capture: the mutation is flagged by exactly that check
(the model replay, which also refuses most of them, then reports its first refused event as context:
status "subsumed"); one mutation only the model can see is flagged by the replay alone. Malformed or
truncated copies give an error naming the file and position, or "partial" with a warning.

Each mutation is picked by a rule on the original trace (documented per test), not by hand."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from properties.conformance import check_path
from properties.conformance.report import ERROR, PARTIAL, SUBSUMED, VIOLATION, RunReport
from properties.conformance.timeline import KERNEL, Timeline, build_timeline
from runtime.traces.run_dir import discover_runs, load_run

pytestmark = pytest.mark.traces

WINDOW8 = "pa_casevarseq4_window8_all"
SMALL = "pa_casesmall1_all"
DUMMY = "dummy_task_all"


def _copy(traces_dir: Path, capture: str, tmp_path: Path, case: str = "") -> Path:
    """A private copy of one run of `capture` (and the capture's shared stderr.log)."""
    runs = [p for p in discover_runs([traces_dir / capture]) if case in p.name]
    src = runs[0]
    dst = tmp_path / capture / src.name
    shutil.copytree(src, dst)
    shutil.copy(src.parent / "stderr.log", dst.parent / "stderr.log")
    return dst


def _timeline(run: Path) -> Timeline:
    return build_timeline(load_run(run))


def _edit_json(path: Path, edit: object) -> None:
    doc = json.loads(path.read_text())
    edit(doc)  # type: ignore[operator]
    path.write_text(json.dumps(doc))


def _edit_samples(run: Path, edit: object) -> None:
    path = run / "scope_stats" / "scope_stats.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    edit(lines)  # type: ignore[operator]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")


def _flagged_by_exactly(report: RunReport, check: str) -> None:
    assert report.verdict == VIOLATION, report.render()
    assert report.violated == [check], report.render()
    replay = next(c for c in report.checks if c.name == "model-replay")
    assert replay.status in ("pass", SUBSUMED), report.render()


# ------------------------------------------------------------------------------------------ wait-order


def test_consumer_dispatched_before_its_producer_finished(traces_dir: Path, tmp_path: Path) -> None:
    """Rule: the first WAIT edge between kernel tasks whose consumer's execution is the first on its core
    or follows one that finished before the new dispatch time (so the core's own order stays intact); the
    consumer's AICPU dispatch moves to one cycle before the producer's FIN was observed."""
    run = _copy(traces_dir, WINDOW8, tmp_path)
    tl = _timeline(run)
    by_core: dict[int, list[int]] = {}
    for e in tl.executions:
        by_core.setdefault(e.core, []).append(e.reg_task_id)
    chosen = None
    for edge in tl.edges:
        p, c = tl.tasks[edge.pred], tl.tasks[edge.succ]
        if not edge.wait or p.kind != KERNEL or c.kind != KERNEL or p.complete_lo is None:
            continue
        e = c.executions[0]
        new = p.complete_lo - 1
        before = [x for x in tl.executions if x.core == e.core and x.reg_task_id < e.reg_task_id]
        if all(x.finish is not None and x.finish <= new for x in before):
            chosen = (e, new)
            break
    assert chosen is not None
    e, new = chosen

    def edit(doc: dict[str, list[list[int]]]) -> None:
        assert e.aicpu_index is not None
        doc["aicpu_tasks"][e.aicpu_index][2] = new

    _edit_json(run / "chip_swimlane_records.json", edit)
    report = check_path(run)
    _flagged_by_exactly(report, "wait-order")
    replay = next(c for c in report.checks if c.name == "model-replay")
    assert replay.status == SUBSUMED and "not ready in the model" in replay.violations[0].message


# ----------------------------------------------------------------------------------------------- edges


def test_an_edge_removed_from_deps_json(traces_dir: Path, tmp_path: Path) -> None:
    """Rule: the first TensorMap row (in window-8 every TensorMap pair also has other rows, so the row
    multiset, not the pair set, shows it)."""
    run = _copy(traces_dir, WINDOW8, tmp_path)
    _edit_json(run / "deps.json", lambda doc: doc["edges"].pop(next(i for i, e in enumerate(doc["edges"]) if e["source"] == "tensormap")))
    report = check_path(run)
    _flagged_by_exactly(report, "edges")
    edges = next(c for c in report.checks if c.name == "edges")
    assert any("tensormap row" in v.message and "model x1, trace x0" in v.message for v in edges.violations)


def _creator_rows(traces_dir: Path, capture: str) -> list[int]:
    (run,) = discover_runs([traces_dir / capture])
    doc = json.loads((run / "deps.json").read_text())
    return [i for i, e in enumerate(doc["edges"]) if e["source"] == "creator"]


@pytest.mark.parametrize("capture", [SMALL, WINDOW8])
def test_creator_edges_removed(traces_dir: Path, tmp_path: Path, capture: str) -> None:
    """Every creator row removed in turn: the rebuild takes buffer owners from these rows, so a removed row
    is found either because the recorded rows then contradict the wiring rules, or by the heap-address
    cross-check (the log's host tensors tell runtime-created buffers apart). Whatever is found is found
    by `edges` alone; the count found is pinned so a weaker check shows."""
    rows = _creator_rows(traces_dir, capture)[:12]  # the first three blocks of paged attention
    run = _copy(traces_dir, capture, tmp_path)
    original = (run / "deps.json").read_text()
    found = 0
    for k in rows:
        doc = json.loads(original)
        doc["edges"].pop(k)
        (run / "deps.json").write_text(json.dumps(doc))
        report = check_path(run, replay=False)
        if report.violated:
            assert report.violated == ["edges"], report.render()
            found += 1
    assert (found, len(rows)) == {SMALL: (7, 12), WINDOW8: (7, 12)}[capture]


# ------------------------------------------------------------------------------------------ slot-reuse


def test_a_slot_reused_before_its_occupant_was_consumed(traces_dir: Path, tmp_path: Path) -> None:
    """Rule (window-8 trace): the first ring-2 task x whose slot predecessor x-8 could not be consumed
    before the submit of x-1 began; x-1's submit is cut to its first cycle and x's submit moved right
    after it: the orchestrator 'did not wait' and x reused the slot early."""
    run = _copy(traces_dir, WINDOW8, tmp_path)
    tl = _timeline(run)
    by = {(v.ring, v.local): v for v in tl.tasks.values()}
    x = next(
        by[(2, loc)]
        for loc in range(8, 64)
        if (c := by[(2, loc - 8)].consume_lo) is not None and (s := by[(2, loc - 1)].submit_lo) is not None and c > s + 3
    )
    prev = by[(2, x.local - 1)]
    start = prev.orch[0].start

    def edit(doc: dict[str, list[list[dict[str, int]]]]) -> None:
        lane = doc["aicpu_orchestrator_phases"][0]
        lane[prev.orch[0].pos]["end_cycles"] = start + 1
        lane[x.orch[0].pos]["start_cycles"] = start + 2
        lane[x.orch[0].pos]["end_cycles"] = start + 3

    _edit_json(run / "chip_swimlane_records.json", edit)
    report = check_path(run)
    _flagged_by_exactly(report, "slot-reuse")
    assert f"{x.name} was allocated into slot {x.local % 8} of ring 2" in report.render()


# ---------------------------------------------------------------------------------------------- window


def test_a_window_overflow(traces_dir: Path, tmp_path: Path) -> None:
    """Rule: the first sample whose ring had allocated at least W tasks past the previous sample's
    watermark; its watermark is lowered to that previous value (still monotone): W tasks live."""
    run = _copy(traces_dir, WINDOW8, tmp_path)

    def edit(lines: list[dict[str, object]]) -> None:
        last: dict[object, int] = {}
        for rec in lines[1:]:
            ring = rec["ring"]
            if ring in last and int(rec["task_window_end"]) - last[ring] >= 8:  # type: ignore[call-overload]
                rec["task_window_start"] = last[ring]
                return
            last[ring] = int(rec["task_window_start"])  # type: ignore[call-overload]
        raise AssertionError("no candidate sample")

    _edit_samples(run, edit)
    report = check_path(run)
    _flagged_by_exactly(report, "window")
    assert "had 8 tasks live" in report.render()


# ------------------------------------------------------------------------------------------- watermark


def test_a_non_monotone_watermark(traces_dir: Path, tmp_path: Path) -> None:
    """Rule: the first sample whose ring's previous sample had la >= 1 and that can take la-1 without
    exceeding the window; its watermark is set one below the previous one."""
    run = _copy(traces_dir, WINDOW8, tmp_path)

    def edit(lines: list[dict[str, object]]) -> None:
        last: dict[object, int] = {}
        for rec in lines[1:]:
            ring = rec["ring"]
            if last.get(ring, 0) >= 1 and int(rec["task_window_end"]) - (last[ring] - 1) <= 7:  # type: ignore[call-overload]
                rec["task_window_start"] = last[ring] - 1
                return
            last[ring] = int(rec["task_window_start"])  # type: ignore[call-overload]
        raise AssertionError("no candidate sample")

    _edit_samples(run, edit)
    report = check_path(run)
    _flagged_by_exactly(report, "watermark")
    assert "the watermark went back" in report.render()


# ---------------------------------------------------------------------------------------- exactly-once


def test_a_duplicated_completion(traces_dir: Path, tmp_path: Path) -> None:
    """Rule: the last execution record in the file runs again on the same core, after everything else
    there, under the next register id (an AICore row and an AICPU row)."""
    run = _copy(traces_dir, WINDOW8, tmp_path)

    def edit(doc: dict[str, list[list[int]]]) -> None:
        core, task, reg = doc["aicore_tasks"][-1][:3]
        last_finish = max(r[3] for r in doc["aicpu_tasks"] if r[0] == core)
        doc["aicore_tasks"].append([core, task, reg + 1, last_finish + 20, last_finish + 30, 5])
        doc["aicpu_tasks"].append([core, reg + 1, last_finish + 10, last_finish + 40])

    _edit_json(run / "chip_swimlane_records.json", edit)
    report = check_path(run)
    _flagged_by_exactly(report, "exactly-once")
    text = report.render()
    assert "ran 2 subtask(s)" in text and "has no dispatch line in the log" in text


def test_a_dummy_completed_twice(traces_dir: Path, tmp_path: Path) -> None:
    run = _copy(traces_dir, DUMMY, tmp_path, "LongDummyChain")

    def edit(doc: dict[str, list[list[dict[str, object]]]]) -> None:
        lane = doc["aicpu_scheduler_phases"][0]
        dummy = next(r for r in lane if r["kind"] == "dummy_task")
        lane.append(dict(dummy, start_cycles=lane[-1]["end_cycles"], end_cycles=lane[-1]["end_cycles"]))

    _edit_json(run / "chip_swimlane_records.json", edit)
    report = check_path(run)
    _flagged_by_exactly(report, "exactly-once")
    assert "was completed 2 times" in report.render()


# ---------------------------------------------------------------------------------------- core-serial


def test_two_executions_overlapping_on_one_core(traces_dir: Path, tmp_path: Path) -> None:
    """Rule: the first core with two records; the second one's AICore window starts before the first ended
    (receive and start moved; AICPU times untouched)."""
    run = _copy(traces_dir, WINDOW8, tmp_path)

    def edit(doc: dict[str, list[list[int]]]) -> None:
        rows = doc["aicore_tasks"]
        i = next(k for k in range(1, len(rows)) if rows[k][0] == rows[k - 1][0])
        rows[i][3] = rows[i - 1][4] - 1  # start before the previous end
        rows[i][5] = 0

    _edit_json(run / "chip_swimlane_records.json", edit)
    report = check_path(run)
    _flagged_by_exactly(report, "core-serial")
    assert "two executions overlap" in report.render()


# -------------------------------------------------------------------------------------------- replay


def test_only_the_model_sees_a_dispatch_before_its_submit(traces_dir: Path, tmp_path: Path) -> None:
    """Rule (SingleDummyAutoDep): its first task has no producer and is the first on its core; its AICPU
    dispatch moves to one cycle before its submit record began. No observation rule orders a dispatch
    after its own submit; the model does."""
    run = _copy(traces_dir, DUMMY, tmp_path, "SingleDummyAutoDep")
    tl = _timeline(run)
    first = tl.tasks[tl.order[0]] if tl.order else None
    assert first is not None and first.kind == KERNEL and first.submit_lo is not None
    assert not any(e.succ == first.raw for e in tl.edges)
    (e,) = first.executions

    def edit(doc: dict[str, list[list[int]]]) -> None:
        assert e.aicpu_index is not None and first.submit_lo is not None
        doc["aicpu_tasks"][e.aicpu_index][2] = first.submit_lo - 1

    _edit_json(run / "chip_swimlane_records.json", edit)
    report = check_path(run)
    assert report.verdict == VIOLATION and report.violated == ["model-replay"], report.render()
    replay = next(c for c in report.checks if c.name == "model-replay")
    assert "event #1 (dispatch" in replay.violations[0].message
    assert "t0 is not yet submitted in the model" in replay.violations[0].message


# --------------------------------------------------------------------------------- malformed input


def test_truncated_swimlane_is_an_error_naming_file_and_position(traces_dir: Path, tmp_path: Path) -> None:
    run = _copy(traces_dir, SMALL, tmp_path)
    path = run / "chip_swimlane_records.json"
    path.write_text(path.read_text()[:3000])
    report = check_path(run)
    assert report.verdict == ERROR and "chip_swimlane_records.json: line" in report.error and "column" in report.error


def test_broken_scope_stats_line_is_an_error_naming_the_line(traces_dir: Path, tmp_path: Path) -> None:
    run = _copy(traces_dir, SMALL, tmp_path)
    path = run / "scope_stats" / "scope_stats.jsonl"
    lines = path.read_text().splitlines()
    lines[4] = lines[4][:30]
    path.write_text("\n".join(lines) + "\n")
    report = check_path(run)
    assert report.verdict == ERROR and "scope_stats.jsonl:5 column" in report.error


def test_truncated_scope_stats_file_lowers_the_verdict_to_partial(traces_dir: Path, tmp_path: Path) -> None:
    run = _copy(traces_dir, SMALL, tmp_path)
    path = run / "scope_stats" / "scope_stats.jsonl"
    path.write_text("\n".join(path.read_text().splitlines()[:-3]) + "\n")
    report = check_path(run)
    assert report.verdict == PARTIAL, report.render()
    assert any("truncated" in w for w in report.warnings)


def test_dropped_records_in_the_log_lower_the_verdict_to_partial(traces_dir: Path, tmp_path: Path) -> None:
    run = _copy(traces_dir, SMALL, tmp_path)
    log = run.parent / "stderr.log"
    log.write_text(log.read_text().replace("PERF counts match (collected=12, dropped=0", "PERF counts match (collected=12, dropped=3"))
    report = check_path(run)
    assert report.verdict == PARTIAL and any("dropped=3" in w for w in report.warnings), report.render()


def test_unknown_scope_stats_version_is_an_error(traces_dir: Path, tmp_path: Path) -> None:
    run = _copy(traces_dir, SMALL, tmp_path)
    _edit_samples(run, lambda lines: lines[0].update(version=9))
    report = check_path(run)
    assert report.verdict == ERROR and "unknown schema version 9" in report.error
