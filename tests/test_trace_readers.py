"""The readers of the runtime's swimlane records, scope-stats samples and debug log, and the run loader:
real captures read completely and consistently; malformed or truncated input is one TraceError naming the
file and position, or a warning (never a crash, never silence)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from model.errors import TraceError
from runtime.traces.debug_log import parse_debug_log
from runtime.traces.run_dir import discover_runs, load_run
from runtime.traces.scope_stats import parse_scope_stats
from runtime.traces.swimlane import join_executions, parse_swimlane

WINDOW8 = "pa_casevarseq4_window8_all"
DUMMY = "dummy_task_all"

# ------------------------------------------------------------------------------------- real captures


@pytest.mark.traces
def test_every_real_run_loads_with_all_files_and_no_warning(traces_dir: Path) -> None:
    runs = discover_runs(sorted(traces_dir.iterdir()))
    assert len(runs) == 8
    for path in runs:
        trace = load_run(path)
        assert trace.missing == (), path
        assert trace.warnings == (), path
        assert trace.deps is not None and trace.swimlane is not None and trace.scope_stats is not None
        assert trace.log is not None
        executions, problems = join_executions(trace.swimlane)
        assert problems == []
        assert len(executions) == len(trace.swimlane.aicore) == len(trace.swimlane.aicpu)
        # every debug-log dispatch line joins one execution with the same task id
        by_key = {(e.core, e.reg_task_id): e.task_id for e in executions}
        assert {(d.core_id, d.reg_task_id): d.task_id for d in trace.log.dispatches} == by_key


@pytest.mark.traces
def test_window8_capture_reads_as_documented(traces_dir: Path) -> None:
    (path,) = discover_runs([traces_dir / WINDOW8])
    trace = load_run(path)
    sw, stats, log = trace.swimlane, trace.scope_stats, trace.log
    assert sw is not None and stats is not None and log is not None
    assert sw.level == 4 and sw.metadata.num_cores == 24 and sw.metadata.aic_cores == 8
    assert sw.metadata.cluster_of(0) == 0 and sw.metadata.cluster_of(10) == 1 and sw.metadata.cluster_of(11) == 1
    assert len(sw.orch_records) == 68  # 64 kernels + 4 alloc_tensors
    assert [r.submit_idx for r in sw.orch_records] == list(range(68))
    assert stats.version == 6 and stats.task_window_max == (8, 8, 8, 8) and len(stats.samples) == 42
    assert stats.samples[0].site == "(unknown):0" and stats.samples[-1].phase == "end"
    assert log.ring_sizes is not None and log.ring_sizes[0] == (8, 8, 8, 8)
    assert log.completed == (68, 68)
    assert log.ring_totals == {1: 2, 2: 7}  # mark_done prints cur - la (active_count), not the totals
    assert len(log.dispatches) == 64 and not any(d.pending for d in log.dispatches)


@pytest.mark.traces
def test_a_log_shared_by_four_runs_is_split_per_run(traces_dir: Path) -> None:
    runs = discover_runs([traces_dir / DUMMY])
    assert len(runs) == 4
    cache: dict[Path, object] = {}
    counts = {}
    for path in runs:
        trace = load_run(path, cache)  # type: ignore[arg-type]
        assert trace.log is not None and trace.log.name == path.name
        counts[path.name.split("_")[1]] = len(trace.log.dispatches)
    assert len(cache) == 1  # parsed once
    assert sum(counts.values()) == 9  # README: "Dispatch lines in stderr.log: 9"
    assert counts["DummyExplicitDepBarrier"] == 3


# ------------------------------------------------------------------------------------- swimlane


def _swimlane(**overrides: object) -> str:
    doc: dict[str, object] = {
        "chip_swimlane_level": 4,
        "metadata": {"clock_freq_hz": 50000000, "num_cores": 3, "core_types": ["aic", "aiv", "aiv"],
                     "core_to_thread": [0, 0, 0]},
        "aicore_tasks": [[0, 5, 1, 100, 200, 3]],
        "aicpu_tasks": [[0, 1, 90, 210]],
        "aicpu_scheduler_phases": [[{"kind": "dummy_task", "start_cycles": 7, "end_cycles": 7, "task_id": 6}]],
        "aicpu_orchestrator_phases": [[{"submit_idx": 0, "task_id": 5, "start_cycles": 1, "end_cycles": 2}]],
    }
    doc.update(overrides)
    return json.dumps(doc)


def test_swimlane_parses_and_joins_on_core_and_register_id() -> None:
    sw = parse_swimlane(_swimlane(), "x.json")
    (e,) = join_executions(sw)[0]
    assert (e.task_id, e.dispatch, e.receive, e.start, e.end, e.finish, e.core_type) == (5, 90, 97, 100, 200, 210, "aic")
    assert sw.sched_phases[0].task_id == 6 and sw.orch_records[0].task_id == 5


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ('{"chip_swimlane_level": 4, "metadata": {', "x.json: line 1 column", "not valid JSON"),
        (_swimlane(chip_swimlane_level=7), "x.json: chip_swimlane_level", "unknown level 7"),
        (_swimlane(aicore_tasks=[[0, 5, 1, 100, 200]]), "x.json: aicore_tasks[0]", "expected 6 columns"),
        (_swimlane(aicpu_tasks=[[0, 1, -90, 210]]), "x.json: aicpu_tasks[0][2]", "non-negative integer"),
        (_swimlane(aicore_tasks=[[7, 5, 1, 100, 200, 3]]), "x.json: aicore_tasks[0][0]", "outside metadata.num_cores"),
        (_swimlane(aicpu_orchestrator_phases=[[{"submit_idx": 0, "task_id": 5}]]),
         "x.json: aicpu_orchestrator_phases[0][0]", "missing key 'start_cycles'"),
    ],
)
def test_malformed_swimlane_is_one_error_naming_the_position(text: str, where: str, what: str) -> None:
    with pytest.raises(TraceError) as info:
        parse_swimlane(text, "x.json")
    assert info.value.where.startswith(where) and what in info.value.what
    assert info.value.hint


_ODD_CELLS: list[object] = [0, 2, 3, -1, True, False, 1.0, None, "1", [], {}]


@pytest.mark.parametrize("key", ["aicore_tasks", "aicpu_tasks"])
def test_swimlane_bulk_row_check_agrees_with_the_strict_one(key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are validated in bulk (C-speed); anything that check does not accept goes the strict per-row
    way. Both ways must reach the same result on every odd cell, row shape and core id."""
    import runtime.traces.swimlane as swimlane

    def outcome(text: str, *, bulk: bool) -> object:
        with monkeypatch.context() as m:
            if not bulk:
                m.setattr(swimlane, "_well_formed", lambda *_args: False)
            try:
                return parse_swimlane(text, "x.json")
            except TraceError as err:
                return str(err)

    good = json.loads(_swimlane())[key][0]
    variants: list[object] = [[], [good, good], [good[:-1]], [[*good, 1]], good, [good, 5], [None]]
    for column in range(len(good)):
        for cell in _ODD_CELLS:
            row = list(good)
            row[column] = cell
            variants.append([good, row])
    accepted = 0
    for rows in variants:
        text = _swimlane(**{key: rows})
        bulk = outcome(text, bulk=True)
        assert bulk == outcome(text, bulk=False), rows
        accepted += not isinstance(bulk, str)
    assert 0 < accepted < len(variants)


def test_swimlane_missing_parts_and_lost_rows_are_warnings() -> None:
    doc = json.loads(_swimlane())
    del doc["aicpu_orchestrator_phases"]
    doc["aicpu_tasks"] = [[0, 9, 90, 210]]  # joins nothing
    sw = parse_swimlane(json.dumps(doc), "x.json")
    assert not sw.has_orch_records and any("submit times unknown" in w.what for w in sw.warnings)
    executions, warnings = join_executions(sw)
    assert executions[0].dispatch is None
    assert len(warnings) == 2 and "no AICPU row" in warnings[0].what and "no AICore row" in warnings[1].what


# ------------------------------------------------------------------------------------- scope stats

_HEADER = ('{"version": 6, "fatal": false, "dropped": 0, "total": 2, "task_window_max": [8, 8, 8, 8], '
           '"heap_max": [1024, 1024, 1024, 1024], "dep_pool_max": [16, 16, 16, 16], "tensormap_max": 64}')
_SAMPLE = ('{{"site": "(unknown):0", "phase": "{phase}", "depth": 0, "ring": 0, "task_window_start": 0, '
           '"task_window_end": {cur}, "heap_start": 0, "heap_end": 0, "dep_pool_start": 1, "dep_pool_end": 1, "tensormap": 0}}')


def _stats(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def test_scope_stats_parse() -> None:
    stats = parse_scope_stats(_stats(_HEADER, _SAMPLE.format(phase="begin", cur=0), _SAMPLE.format(phase="end", cur=3)))
    assert stats.warnings == () and [s.line for s in stats.samples] == [2, 3]
    assert stats.samples[1].task_window_end == 3


def test_scope_stats_broken_line_names_file_and_line() -> None:
    text = _stats(_HEADER, _SAMPLE.format(phase="begin", cur=0), '{"site": "a.cpp:1", "phase": "en')
    with pytest.raises(TraceError) as info:
        parse_scope_stats(text, "s.jsonl")
    assert info.value.where.startswith("s.jsonl:3") and "not valid JSON" in info.value.what


def test_scope_stats_unknown_version_is_an_error() -> None:
    with pytest.raises(TraceError, match="unknown schema version 7"):
        parse_scope_stats(_stats(_HEADER.replace('"version": 6', '"version": 7')))


def test_scope_stats_truncation_drops_and_fatal_are_warnings() -> None:
    truncated = parse_scope_stats(_stats(_HEADER, _SAMPLE.format(phase="begin", cur=0)))
    assert len(truncated.samples) == 1 and "truncated" in truncated.warnings[0].what
    dropped = parse_scope_stats(_stats(_HEADER.replace('"dropped": 0', '"dropped": 1'), _SAMPLE.format(phase="begin", cur=0)))
    assert len(dropped.warnings) == 1 and "dropped 1" in dropped.warnings[0].what
    fatal = parse_scope_stats(_stats(_HEADER.replace('"fatal": false', '"fatal": true'),
                                     _SAMPLE.format(phase="begin", cur=0), _SAMPLE.format(phase="end", cur=0)))
    assert "fatal" in fatal.warnings[0].what


def test_scope_stats_empty_file_is_an_error() -> None:
    with pytest.raises(TraceError, match="empty"):
        parse_scope_stats("", "s.jsonl")


# ------------------------------------------------------------------------------------- debug log

_DISPATCH = ("[DEBUG] prepare_subtask_to_core: [scheduler_dispatch.cpp:205] Thread 0: Dispatched {mode} aiv0 task "
             "{task} kernel_id=[-1,2,-1] block_idx=0/total_blocks=1 to core_offset=3 core_id=9 reg_task_id={reg}")


def test_debug_log_segments_by_the_output_paths_it_names() -> None:
    text = "\n".join([
        _DISPATCH.format(mode="idle", task=1, reg=1),
        "[INFO] export: File: <x>/outputs/RunA_1/chip_swimlane_records.json",
        "[INFO] Ring buffer sizes: task_window=[8, 8, 8, 8] heap=[1, 2, 3, 4] dep_pool=[5, 6, 7, 8]",
        _DISPATCH.format(mode="pending", task=2, reg=2),
        "[DEBUG] mark_done: [pto_orchestrator.cpp:1369] === [Orchestrator] ring 2: total_tasks=3 ===",
        "[INFO] dep_gen reconcile: counts match (collected=3, dropped=1, device_total=4, overflow=0)",
        "[INFO] dep_gen replay: wrote deps.json to <x>/outputs/RunB_2/deps.json (tasks=1)",
        "trailing line",
    ])
    log = parse_debug_log(text, "e.log")
    a, b = log.run_named("RunA_1"), log.run_named("RunB_2")
    assert a is not None and b is not None and log.run_named("RunC") is None
    assert [d.task_id for d in a.dispatches] == [1] and [d.task_id for d in b.dispatches] == [2]
    assert b.dispatches[0].pending and b.dispatches[0].line == 4 and b.ring_totals == {2: 3}
    assert b.ring_sizes == ((8, 8, 8, 8), (1, 2, 3, 4), (5, 6, 7, 8))
    assert len(b.warnings) == 1 and "dropped=1" in b.warnings[0].what and b.warnings[0].where == "e.log:6"


def test_debug_log_without_run_names_is_one_segment() -> None:
    log = parse_debug_log(_DISPATCH.format(mode="idle", task=1, reg=1))
    assert log.run_named("anything") is log.runs[0]


def test_debug_log_cut_dispatch_line_is_an_error() -> None:
    text = "ok\n" + _DISPATCH.format(mode="idle", task=1, reg=1)[:-14]
    with pytest.raises(TraceError) as info:
        parse_debug_log(text, "e.log")
    assert info.value.where == "e.log:2" and "does not parse" in info.value.what


# ------------------------------------------------------------------------------------- loader


def test_discover_runs_rejects_a_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="no such directory"):
        discover_runs([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(TraceError, match="no run found"):
        discover_runs([tmp_path / "empty"])


@pytest.mark.traces
def test_load_run_reports_missing_files_and_an_unrelated_log(traces_dir: Path, tmp_path: Path) -> None:
    (src,) = discover_runs([traces_dir / WINDOW8])
    run = tmp_path / "capture" / "OtherName_1"
    shutil.copytree(src, run)
    (run / "deps.json").unlink()
    shutil.copy(src.parent / "stderr.log", run.parent / "stderr.log")
    trace = load_run(run)
    assert trace.deps is None and "deps.json" in trace.missing
    assert trace.log is None and any("names no output of run 'OtherName_1'" in w.what for w in trace.warnings)


@pytest.mark.traces
def test_load_run_names_the_file_of_a_truncated_deps_json(traces_dir: Path, tmp_path: Path) -> None:
    (src,) = discover_runs([traces_dir / WINDOW8])
    run = tmp_path / "Run_1"
    shutil.copytree(src, run)
    text = (run / "deps.json").read_text()
    (run / "deps.json").write_text(text[: len(text) // 2])
    with pytest.raises(TraceError) as info:
        load_run(run)
    assert "deps.json: line 1 column" in info.value.where
