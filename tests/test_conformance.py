"""Conformance of real runs: every capture under ../shared/traces conforms (every check runs, the model
replays it, the enabledness shortcut agrees with `TrbModel.actions` at every step); missing files give
"partial" naming what was not checked; a small synthetic run shows that explicit edges (written
[wait, retain] even for add_dep_wait) raise no lifetime alarm while creator RETAIN edges do; the command
line's verdicts, exit codes and JSON report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fuzz.cli import main
from properties.conformance import ALL_CHECKS, check_path, check_run
from properties.conformance.report import CONFORMS, NOT_RUN, PARTIAL, PASS, VIOLATION
from runtime.traces.deps_json import TaskId
from runtime.traces.run_dir import discover_runs, load_run
from tests.conftest import TRACES_DIR


def _runs() -> list[object]:
    if not TRACES_DIR.is_dir():
        return [pytest.param(None, id="no-traces")]
    return [pytest.param(p, id=p.name) for p in discover_runs(sorted(TRACES_DIR.iterdir()))]


@pytest.fixture(params=_runs())
def real_run(request: pytest.FixtureRequest, traces_dir: Path) -> Path:
    if request.param is None:
        pytest.fail(f"no run directory under {traces_dir}")
    path: Path = request.param
    return path


@pytest.mark.traces
def test_every_real_run_conforms_with_every_check_run(real_run: Path) -> None:
    report = check_run(load_run(real_run), cross_check=True)
    assert report.verdict == CONFORMS, report.render()
    assert [c.name for c in report.checks] == list(ALL_CHECKS)
    assert all(c.status == PASS for c in report.checks)
    by_name = {c.name: c for c in report.checks}
    for name in ("edges", "wait-order", "window", "watermark", "exactly-once", "core-serial", "model-replay"):
        assert by_name[name].checked > 0, name
    assert report.events > 0 and report.warnings == [] and report.missing == []


@pytest.mark.traces
def test_window8_run_exercises_slot_reuse(traces_dir: Path) -> None:
    (path,) = discover_runs([traces_dir / "pa_casevarseq4_window8_all"])
    report = check_run(load_run(path))
    slot = next(c for c in report.checks if c.name == "slot-reuse")
    # 56 reallocated slots (ring 2: locals 8..63) and the watermark passing 58 tasks at placed samples
    assert slot.status == PASS and slot.checked >= 100


@pytest.mark.traces
@pytest.mark.parametrize(
    ("remove", "not_run"),
    [
        ("deps.json", {"edges", "wait-order", "model-replay"}),
        ("scope_stats", {"watermark"}),  # window still checks the log's mark_done live counts
        ("chip_swimlane_records.json", {"wait-order", "slot-reuse", "core-serial", "model-replay"}),
    ],
)
def test_missing_files_give_partial_and_say_what_was_not_checked(
    traces_dir: Path, tmp_path: Path, remove: str, not_run: set[str]
) -> None:
    (src,) = discover_runs([traces_dir / "pa_casevarseq4_window8_all"])
    run = tmp_path / src.name
    shutil.copytree(src, run)
    shutil.copy(src.parent / "stderr.log", tmp_path / "stderr.log")
    target = run / remove
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink()
    report = check_path(run)
    assert report.verdict == PARTIAL, report.render()
    statuses = {c.name: c.status for c in report.checks}
    assert {n for n, s in statuses.items() if s == NOT_RUN} == not_run
    assert all(s == PASS for n, s in statuses.items() if n not in not_run)
    assert report.missing == [remove if remove != "scope_stats" else "scope_stats/scope_stats.jsonl"]


# --------------------------------------------------------------------------- a synthetic run, ring 1, W = 4


def _write_run(run: Path, *, creator: bool) -> None:
    """Six AIV tasks on ring 1, each in its own depth-1 scope, task window 4. T2 depends on T0, through an
    explicit edge or by reading T0's output (a creator edge). T2 runs until cycle 200 while T4 reuses T0's
    slot at cycle 101: legal only if T2 does not RETAIN T0."""
    run.mkdir(parents=True)
    ids = [TaskId.of(1, i).raw for i in range(6)]
    tasks = []
    for i, raw in enumerate(ids):
        args: list[dict[str, object]] = [{"idx": 0, "type": "OUTPUT"}]
        if creator and i == 2:
            args.append({"idx": 1, "type": "INPUT", "tensor_id": "1001", "dtype": "FLOAT32", "shape": [256],
                         "start_offset": "0", "strides": [1]})
        tasks.append({"task_id": str(raw), "scope": "auto", "early_dispatch": False, "kernel_ids": [-1, 0, -1],
                      "block_num": 1, "args": args})
    if creator:
        tensors = [{"tensor_id": "1001", "buffer_addr": "4096", "version": 0, "dtype": "FLOAT32", "buffer_numel": "256"}]
        edges = [{"pred": str(ids[0]), "succ": str(ids[2]), "arg": 1, "source": "creator", "flags": ["wait", "retain"],
                  "tensor_id": "1001", "consumer_dtype": "FLOAT32", "consumer_shape": [256],
                  "consumer_start_offset": "0", "consumer_strides": [1]}]
    else:
        tensors = []
        edges = [{"pred": str(ids[0]), "succ": str(ids[2]), "arg": -1, "source": "explicit", "flags": ["wait", "retain"]}]
    (run / "deps.json").write_text(json.dumps({"tasks": tasks, "tensors": tensors, "edges": edges}))
    submits = [(1, 2), (3, 4), (5, 6), (40, 41), (100, 101), (201, 202)]
    # (core, dispatch, start, end, finish); receive = start - 1
    runs = [(8, 10, 12, 19, 20), (9, 11, 13, 29, 30), (10, 21, 23, 199, 200), (11, 42, 44, 49, 50),
            (12, 102, 104, 109, 110), (13, 203, 205, 209, 210)]
    sw = {
        "chip_swimlane_level": 4,
        "metadata": {"clock_freq_hz": 50000000, "num_cores": 24, "core_types": ["aic"] * 8 + ["aiv"] * 16,
                     "core_to_thread": [c % 3 for c in range(24)]},
        "aicore_tasks": [[c, ids[i], 1, s, e, 1] for i, (c, _d, s, e, _f) in enumerate(runs)],
        "aicpu_tasks": [[c, 1, d, f] for (c, d, _s, _e, f) in runs],
        "aicpu_scheduler_phases": [[], [], [], []],
        "aicpu_orchestrator_phases": [[{"submit_idx": i, "task_id": ids[i], "start_cycles": a, "end_cycles": b}
                                       for i, (a, b) in enumerate(submits)]],
    }
    (run / "chip_swimlane_records.json").write_text(json.dumps(sw))
    header = {"version": 6, "fatal": False, "dropped": 0, "total": 14, "task_window_max": [4, 4, 4, 4],
              "heap_max": [1 << 20] * 4, "dep_pool_max": [64] * 4, "tensormap_max": 64}

    def sample(phase: str, depth: int, la: int, cur: int) -> dict[str, object]:
        return {"site": "(unknown):0" if depth == 0 else "t.cpp:1", "phase": phase, "depth": depth, "ring": depth,
                "task_window_start": la, "task_window_end": cur, "heap_start": 0, "heap_end": 0,
                "dep_pool_start": 1, "dep_pool_end": 1, "tensormap": 0}

    # the watermark passes T0 and T1 between T3's and T4's submits, T2 after it completed (cycle 200)
    begin_la, end_la = [0, 0, 0, 0, 2, 3], [0, 0, 0, 2, 2, 3]
    lines = [sample("begin", 0, 0, 0)]
    for i in range(6):
        lines += [sample("begin", 1, begin_la[i], i), sample("end", 1, end_la[i], i + 1)]
    lines.append(sample("end", 0, 0, 0))
    (run / "scope_stats").mkdir()
    (run / "scope_stats" / "scope_stats.jsonl").write_text("\n".join(json.dumps(x) for x in [header, *lines]) + "\n")


def test_explicit_edges_raise_no_lifetime_alarm(tmp_path: Path) -> None:
    _write_run(tmp_path / "Explicit_1", creator=False)
    report = check_path(tmp_path / "Explicit_1")
    statuses = {c.name: c.status for c in report.checks}
    assert statuses["slot-reuse"] == PASS and statuses["model-replay"] == PASS, report.render()
    assert report.verdict == PARTIAL  # no debug log
    assert next(c for c in report.checks if c.name == "slot-reuse").checked >= 2


def test_creator_retain_edge_is_enforced(tmp_path: Path) -> None:
    _write_run(tmp_path / "Creator_1", creator=True)
    report = check_path(tmp_path / "Creator_1")
    assert report.verdict == VIOLATION and report.violated == ["slot-reuse"], report.render()
    text = report.render()
    assert "r1t4 was allocated into slot 0 of ring 1" in text and "r1t0 could not be consumed before cycle 200" in text
    assert "edge r1t0 -> r1t2 [wait,retain] (creator)" in text
    replay = next(c for c in report.checks if c.name == "model-replay")
    assert replay.status == "subsumed" and "blocked: task window full" in replay.violations[0].message


# --------------------------------------------------------------------------- command line


@pytest.mark.traces
def test_cli_conforms_on_the_real_traces(traces_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check-trace", str(traces_dir / "vector_example_all"), str(traces_dir / "pa_casesmall1_all")])
    out = capsys.readouterr().out
    assert code == 0
    assert "TestVectorExample_default_20261121_234253: CONFORMS" in out
    assert "model-replay  pass" in out and "2 run(s): 2 conform" in out


@pytest.mark.traces
def test_cli_json_report(traces_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check-trace", "--json", str(traces_dir / "vector_example_all")])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["exit_code"] == 0 and doc["ptocheck_check_trace"] == 1
    (run,) = doc["runs"]
    assert run["verdict"] == "conforms" and run["violated_checks"] == []
    assert [c["name"] for c in run["checks"]] == list(ALL_CHECKS)
    assert all(isinstance(c["checked"], int) for c in run["checks"])


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_run(tmp_path / "ok" / "Explicit_1", creator=False)
    _write_run(tmp_path / "bad" / "Creator_1", creator=True)
    assert main(["check-trace", str(tmp_path / "ok")]) == 3  # partial: no debug log
    assert main(["check-trace", str(tmp_path / "nowhere")]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert main(["check-trace", str(tmp_path / "ok"), str(tmp_path / "nowhere")]) == 2
    assert main(["check-trace", str(tmp_path / "bad"), str(tmp_path / "nowhere")]) == 1
    assert main(["check-trace", "--no-replay", str(tmp_path / "ok")]) == 3
    out = capsys.readouterr().out
    assert "skipped on request" in out


# --------------------------------------------------------------------------- the linear-time derivation


def test_derivation_by_buffer_equals_the_models_on_the_builtin_scenarios() -> None:
    from model.builders import BUILTIN_SCENARIOS
    from model.dependencies import derive_all_edges
    from model.program import ProgramInfo
    from properties.conformance.derivation import derive_all_edges_by_buffer

    for name, build in sorted(BUILTIN_SCENARIOS.items()):
        info = ProgramInfo(build())
        assert derive_all_edges_by_buffer(info) == derive_all_edges(info), name


@pytest.mark.traces
def test_derivation_by_buffer_equals_the_models_on_real_runs(real_run: Path) -> None:
    from model.dependencies import derive_all_edges
    from model.program import ProgramInfo
    from properties.conformance.derivation import derive_all_edges_by_buffer
    from properties.trace_scenario import scenario_from_deps

    deps = load_run(real_run).deps
    assert deps is not None
    info = ProgramInfo(scenario_from_deps(deps, real_run.name))
    assert derive_all_edges_by_buffer(info) == derive_all_edges(info)


def _max_links_by_definition(info: object, r: int) -> int:
    """`TrbModel._max_links` as its docstring defines it (quadratic: every earlier task is scanned)."""
    from model.program import ProgramInfo
    from model.scenario import Tag

    assert isinstance(info, ProgramInfo)
    total = 0
    for t in info.tasks:
        if t.ring != r or t.is_alloc:
            continue
        candidates = {dep for dep, _flags in t.explicit_deps}
        if not t.manual:
            candidates.update(a.owner for a in t.args if a.tag is not Tag.OUTPUT and a.owner >= 0)
            looked_up = {t.args[ai].buffer for ai in t.lookups}
            # a heap buffer may reuse the address of any buffer created on the same heap (TensorMap matches by address)
            heaps = {info.heap_ring(b) for b in looked_up} - {-1}
            candidates.update(
                p.index
                for p in info.tasks[: t.index]
                if any(p.args[ai].buffer in looked_up or info.heap_ring(p.args[ai].buffer) in heaps for ai in p.registrations)
            )
        total += len(candidates)
    return total


@pytest.mark.traces
def test_the_models_linear_link_bound_equals_its_definition(traces_dir: Path) -> None:
    """The replay builds a TrbModel of every run; its dep-pool bound is computed in one pass (linear), which
    must equal the definition, and stopping at the limit must not change the comparison with it."""
    from model.builders import BUILTIN_SCENARIOS
    from model.trb_model import TrbModel
    from properties.trace_scenario import scenario_from_deps

    scenarios = [build() for _name, build in sorted(BUILTIN_SCENARIOS.items())]
    for run in discover_runs(sorted(p for p in traces_dir.iterdir() if p.is_dir())):
        deps = load_run(run).deps
        assert deps is not None
        scenarios.append(scenario_from_deps(deps, run.name))
    nonzero = 0
    for scenario in scenarios:
        model = TrbModel(scenario)
        for r in range(4):
            expected = _max_links_by_definition(model.info, r)
            nonzero += expected > 0
            assert model._max_links(r) == expected, (scenario.name, r)
            for limit in (0, 1, 2, 5, expected - 1, expected):
                assert (model._max_links(r, limit) <= limit) == (expected <= limit), (scenario.name, r, limit)
    assert nonzero > 10


# --------------------------------------------------------------------------- the benchmark's enlargement


@pytest.mark.traces
def test_an_enlarged_real_run_conforms(traces_dir: Path, tmp_path: Path) -> None:
    """The benchmark's synthetic enlargement (3 back-to-back copies in one run) is a run the checker must
    accept; every check sees three times the obligations."""
    from benchmarks.bench_conformance import enlarge

    (src,) = discover_runs([traces_dir / "pa_casevarseq4_window8_all"])
    big = enlarge(src, tmp_path / "x3" / src.name, 3)
    report = check_path(big)
    single = check_path(src)
    assert report.verdict == CONFORMS, report.render()
    assert report.events == 3 * single.events - 4  # one root scope: 2 x 2 root samples fewer
    for mine, base in zip(report.checks, single.checks, strict=True):
        assert mine.status == PASS and mine.checked >= 3 * base.checked - 8, mine.name  # minus root samples


@pytest.mark.traces
def test_the_replay_is_skipped_above_the_task_limit(traces_dir: Path) -> None:
    (src,) = discover_runs([traces_dir / "pa_casevarseq4_window8_all"])
    report = check_path(src, replay_max_tasks=10)
    replay = next(c for c in report.checks if c.name == "model-replay")
    assert report.verdict == PARTIAL and replay.status == NOT_RUN and "68 tasks > --replay-max-tasks 10" in replay.note


# --------------------------------------------------------------------------- SPMD, MIX and dummy tasks


def _write_spmd_mix_run(run: Path, *, drop_block: bool = False, early: bool = False, staged_at: int = 30) -> None:
    """Ring 0: t0 an AIV task of two blocks (cores 8 and 10), t1 a MIX task (AIC + AIV0 of cluster 1:
    cores 1 and 10) after t0, t2 a dummy after t1; a debug log with every dispatch line."""
    run.mkdir(parents=True)
    kernels = [[-1, 0, -1], [1, 2, -1], [-1, -1, -1]]
    tasks = [{"task_id": str(i), "scope": "auto", "early_dispatch": early and i == 0, "kernel_ids": k,
              "block_num": 2 if i == 0 else 1, "args": []} for i, k in enumerate(kernels)]
    edges = [{"pred": str(p), "succ": str(p + 1), "arg": -1, "source": "explicit", "flags": ["wait", "retain"]}
             for p in (0, 1)]
    (run / "deps.json").write_text(json.dumps({"tasks": tasks, "tensors": [], "edges": edges}))
    # (core, task, reg, dispatch, start, end, finish)
    rows = [(8, 0, 1, 10, 12, 20, 21), (10, 0, 1, 10, 12, 22, 23), (1, 1, 1, staged_at, 32, 40, 41), (10, 1, 2, 30, 32, 42, 43)]
    sw = {
        "chip_swimlane_level": 4,
        "metadata": {"clock_freq_hz": 50000000, "num_cores": 24, "core_types": ["aic"] * 8 + ["aiv"] * 16,
                     "core_to_thread": [0] * 24},
        "aicore_tasks": [[c, t, r, s, e, 1] for c, t, r, _d, s, e, _f in sorted(rows)],
        "aicpu_tasks": [[c, r, d, f] for c, _t, r, d, _s, _e, f in sorted(rows)],
        "aicpu_scheduler_phases": [[{"kind": "dummy_task", "start_cycles": 50, "end_cycles": 50, "loop_iter": 3,
                                     "tasks_processed": 1, "task_id": 2}], [], [], []],
        "aicpu_orchestrator_phases": [[{"submit_idx": i, "task_id": i, "start_cycles": 2 * i + 1, "end_cycles": 2 * i + 2}
                                       for i in range(3)]],
    }
    (run / "chip_swimlane_records.json").write_text(json.dumps(sw))
    header = {"version": 6, "fatal": False, "dropped": 0, "total": 2, "task_window_max": [16384] * 4,
              "heap_max": [1 << 28] * 4, "dep_pool_max": [16384] * 4, "tensormap_max": 65536}
    samples = [{"site": "(unknown):0", "phase": p, "depth": 0, "ring": 0, "task_window_start": 0, "task_window_end": cur,
                "heap_start": 0, "heap_end": 0, "dep_pool_start": 1, "dep_pool_end": 1, "tensormap": 0}
               for p, cur in (("begin", 0), ("end", 3))]
    (run / "scope_stats").mkdir()
    (run / "scope_stats" / "scope_stats.jsonl").write_text("\n".join(json.dumps(x) for x in [header, *samples]) + "\n")
    line = ("[DEBUG] prepare_subtask_to_core: [scheduler_dispatch.cpp:205] Thread 0: Dispatched idle {slot} task {t} "
            "kernel_id=[{k}] block_idx={b}/total_blocks={n} to core_offset={c} core_id={c} reg_task_id={r}")
    dispatches = [("aiv0", 0, 0, 2, 8, 1), ("aiv0", 0, 1, 2, 10, 1), ("aic", 1, 0, 1, 1, 1), ("aiv0", 1, 0, 1, 10, 2)]
    if drop_block:
        dispatches.pop(1)
    log = [
        "[INFO] resolve_arena_sizing: Ring buffer sizes: task_window=[16384, 16384, 16384, 16384] "
        "heap=[268435456, 268435456, 268435456, 268435456] dep_pool=[16384, 16384, 16384, 16384]",
        *(line.format(slot=s, t=t, k=",".join(map(str, kernels[t])), b=b, n=n, c=c, r=r) for s, t, b, n, c, r in dispatches),
        "[INFO] handle_orchestrator_exit: Thread 0: PTO2 completed tasks 3/3",
        f"[INFO] dep_gen replay: wrote deps.json to <x>/outputs/{run.name}/deps.json (tasks=3)",
    ]
    (run / "stderr.log").write_text("\n".join(log) + "\n")


def test_spmd_mix_and_dummy_tasks_conform_and_replay(tmp_path: Path) -> None:
    _write_spmd_mix_run(tmp_path / "Spmd_1")
    report = check_run(load_run(tmp_path / "Spmd_1"), cross_check=True)
    assert report.verdict == CONFORMS, report.render()
    replay = next(c for c in report.checks if c.name == "model-replay")
    assert replay.checked == 3 + 3 + 4 + 1  # 3 submits, 3 dispatches (2 blocks + 1 MIX cluster), 4 completions, 1 dummy


def test_a_missing_spmd_block_dispatch_line_is_flagged(tmp_path: Path) -> None:
    _write_spmd_mix_run(tmp_path / "Spmd_1", drop_block=True)
    report = check_path(tmp_path / "Spmd_1")
    assert report.violated == ["exactly-once"], report.render()
    text = report.render()
    assert "t0 aiv0: blocks [0] dispatched, blocks 0..1 exactly once expected" in text
    assert "an execution record has no dispatch line in the log" in text


@pytest.mark.parametrize("early", [True, False])
def test_a_consumer_staged_before_its_early_resolve_producer_finished(tmp_path: Path, early: bool) -> None:
    """t1's AIC subtask is written to its core (cycle 15) before t0's last block finished (cycle 23) and
    starts at cycle 32. Legal only as early dispatch: when t0 allows early resolve, the staged consumer
    waits for the doorbell, so only the AICore start is bound by t0's completion."""
    _write_spmd_mix_run(tmp_path / "Spmd_1", early=early, staged_at=15)
    report = check_run(load_run(tmp_path / "Spmd_1"), cross_check=True)
    if early:
        assert report.verdict == CONFORMS, report.render()
    else:
        assert report.violated == ["wait-order"], report.render()
