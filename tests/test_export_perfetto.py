"""`ptocheck export perfetto`: Chrome trace events with every field their phase needs, the runtime's
swimlane layout, bars that match the artifact step for step, the violating step marked, dependency
arrows bound to slices, and one clear error for bad input."""

from __future__ import annotations

import itertools
import json
import random
import sys
import types
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import pytest

from fuzz.cli import main
from fuzz.exports.perfetto import STEP_US, to_chrome_trace
from fuzz.exports.timeline import model_path_timeline, port_run_timeline
from model.scenario import (
    Arg,
    Buffer,
    Config,
    OutputSpec,
    Region,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    Submit,
    Tag,
    validate,
)
from model.trb_model import A_COMPLETE, A_DISPATCH, TrbModel
from properties.artifacts import Artifact, Signature, dump_artifact, load_artifact
from runtime.core import Cite, Memory, Op, OpKind, ThreadBody

ROOT = Path(__file__).resolve().parent.parent
R7 = ROOT / "tests" / "regressions" / "f_model_r7.json"

# Chrome Trace Event Format (the JSON Perfetto imports): fields each phase used here must carry.
NEEDS = {
    "M": {"name", "ph", "pid", "args"},
    "X": {"name", "ph", "ts", "dur", "pid", "tid"},
    "i": {"name", "ph", "ts", "pid", "s"},
    "s": {"name", "ph", "ts", "pid", "tid", "id", "cat"},
    "f": {"name", "ph", "ts", "pid", "tid", "id", "cat"},
}
METADATA_NAMES = {"process_name", "process_sort_index", "thread_name", "thread_sort_index"}


def _mix_artifact(seed: int = 3) -> Artifact:
    """A seeded random walk of the model to the end: a 2-block AIC producer, a dummy, a 2-block MIX consumer."""
    x = Region("x", (16,), (1,))
    sc = validate(
        Scenario(
            "mixdemo",
            Config(task_window=(8,) * 4, heap_bytes=(8192,) * 4, dep_pool=(16,) * 4, scheduler_threads=2, clusters=2),
            (Buffer("x", "FLOAT32", 16, True),),
            (
                ScopeBegin(),
                Submit("p", (0, -1, -1), (Arg(Tag.INOUT, x),), block_num=2),
                Submit("d", (-1, -1, -1), (Arg(Tag.INOUT, x),)),
                Submit(
                    "m", (1, 2, 2), (Arg(Tag.INPUT, x), Arg(Tag.OUTPUT, creates=OutputSpec("o", (16,), "FLOAT32"))),
                    block_num=2,
                ),
                ScopeEnd(),
            ),
        )
    )
    model = TrbModel(sc)
    state = model.initial_states()[0]
    rng = random.Random(seed)
    actions = []
    while enabled := model.actions(state):
        act = enabled[rng.randrange(len(enabled))]
        actions.append(act)
        state = model.next_state(state, act)
    return Artifact(
        kind="model-path", scenario=sc, signature=Signature("tensormap_and_ringbuffer", "window_bound", "x"),
        message="demo", engine="random walk", seed=seed, bounds="complete", command="test",
        actions=tuple(actions), failing_step=len(actions) // 2,
    )


def _trace(a: Artifact) -> dict[str, Any]:
    tl = model_path_timeline(a.scenario, a.actions, property_id=a.signature.property_id, message=a.message,
                             failing_step=a.failing_step)
    return to_chrome_trace(tl, {"scenario": a.scenario.name})


def _lanes(doc: dict[str, Any]) -> dict[tuple[int, int], str]:
    return {(e["pid"], e["tid"]): e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "thread_name"}


@pytest.mark.parametrize("which", ["r7", "mix"])
def test_every_event_has_the_fields_its_phase_requires(which: str) -> None:
    doc = _trace(load_artifact(R7) if which == "r7" else _mix_artifact())
    json.dumps(doc)  # plain JSON
    lanes = _lanes(doc)
    for ev in doc["traceEvents"]:
        assert ev["ph"] in NEEDS, ev
        assert NEEDS[ev["ph"]] <= ev.keys(), ev
        if ev["ph"] == "M":
            assert ev["name"] in METADATA_NAMES
            if ev["name"].startswith("thread_"):
                assert "tid" in ev
        elif ev["ph"] == "i":
            assert ev["s"] in ("g", "p", "t") and (ev["s"] != "t" or "tid" in ev)
        else:
            assert isinstance(ev["ts"], int | float) and ev["ts"] >= 0
            assert (ev["pid"], ev["tid"]) in lanes or ev["ph"] == "i", ev  # every slice sits on a named lane
        if ev["ph"] == "X":
            assert ev["dur"] > 0


def test_lanes_follow_the_runtimes_swimlane_layout() -> None:
    doc = _trace(_mix_artifact())
    lanes = _lanes(doc)
    procs = {e["pid"]: e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "process_name"}
    assert procs == {1: "AICPU Orchestrator", 2: "AICPU Scheduler", 4: "Worker View"}
    assert sorted(lanes.values()) == sorted(["Orch_0", "Sched_0", "Sched_1", "AIC_0", "AIC_1", "AIV_2", "AIV_3",
                                             "AIV_4", "AIV_5"])
    assert lanes[(1, 4000)] == "Orch_0" and lanes[(2, 30010)] == "Sched_1" and lanes[(4, 10020)] == "AIV_2"


@pytest.mark.parametrize("seed", [3, 11])
def test_bars_match_the_artifact_step_for_step(seed: int) -> None:
    a = _mix_artifact(seed)
    doc = _trace(a)
    lanes = _lanes(doc)
    slices = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    by_step: dict[int, list[dict[str, Any]]] = {}
    for e in slices:
        if "step" in e["args"]:
            by_step.setdefault(e["args"]["step"], []).append(e)
    assert sorted(by_step) == list(range(1, len(a.actions) + 1))
    assert all(len(v) == 1 for v in by_step.values())
    for i, action in enumerate(a.actions, 1):
        ev = by_step[i][0]
        assert ev["ts"] == i * STEP_US
        assert lanes[(ev["pid"], ev["tid"])].startswith("Orch" if action[0] == 0 else "Sched")
    # kernel bars: one per subtask the path completed, from its dispatch step to its completion step
    kernels = [e for e in slices if e["cat"] == "kernel"]
    completes = [i for i, act in enumerate(a.actions, 1) if act[0] == A_COMPLETE]
    assert len(kernels) == len(completes) == 2 * 1 + 2 * 3  # p: 2 blocks x AIC; m: 2 blocks x (AIC, AIV0, AIV1)
    dispatch_steps = {i for i, act in enumerate(a.actions, 1) if act[0] == A_DISPATCH}
    for bar in kernels:
        start = bar["ts"] // STEP_US
        end = (bar["ts"] + bar["dur"]) // STEP_US
        assert start in dispatch_steps and end in completes
        core = lanes[(bar["pid"], bar["tid"])]
        assert core.startswith("AIC" if bar["name"].startswith("p ") else ("AIC", "AIV"))
    # one core never runs two bars at once
    per_core: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for bar in kernels:
        per_core.setdefault((bar["pid"], bar["tid"]), []).append((bar["ts"], bar["ts"] + bar["dur"]))
    for spans in per_core.values():
        spans.sort()
        assert all(b[0] >= a_[1] for a_, b in itertools.pairwise(spans))


def test_a_mix_block_lands_on_one_cluster_and_its_thread() -> None:
    a = _mix_artifact()
    doc = _trace(a)
    lanes = _lanes(doc)
    for ev in doc["traceEvents"]:
        if ev["ph"] == "X" and ev["name"].startswith("dispatch m "):
            cores = ev["name"].split("-> ")[1].split("+")
            aic = int(cores[0].split("_")[1])
            assert cores == [f"AIC_{aic}", f"AIV_{2 + 2 * aic}", f"AIV_{3 + 2 * aic}"]
            assert lanes[(ev["pid"], ev["tid"])] == f"Sched_{aic % 2}"


def test_the_violating_step_is_marked() -> None:
    a = load_artifact(R7)
    doc = _trace(a)
    marks = [e for e in doc["traceEvents"] if e["ph"] == "i"]
    assert {m["s"] for m in marks} == {"g", "t"}
    assert all(m["ts"] == 29 * STEP_US + STEP_US // 2 and "own_release_before_reuse" in m["name"] for m in marks)
    red = [e for e in doc["traceEvents"] if e.get("cname") == "terrible"]
    assert len(red) == 1 and red[0]["args"]["step"] == 29 and red[0]["name"].startswith("O scope_end")
    assert "INV-R7" in red[0]["args"]["violation"]


def test_dependency_arrows_bind_to_slices_on_their_lanes() -> None:
    doc = _trace(load_artifact(R7))
    edges = doc["otherData"]["dependency_edges"]
    assert [(e["pred"], e["succ"], e["flags"]) for e in edges] == [
        ("X0", "Y0", "WAIT+RETAIN"), ("X1", "Y1", "WAIT+RETAIN"), ("X2", "Y2", "WAIT+RETAIN"),
    ]
    flows: dict[int, dict[str, dict[str, Any]]] = {}
    for ev in doc["traceEvents"]:
        if ev["ph"] in "sf":
            flows.setdefault(ev["id"], {})[ev["ph"]] = ev
    # X2 was only being admitted and Y2 never submitted at the violation: no arrow for that pair
    assert len(flows) == 2 and all(set(pair) == {"s", "f"} for pair in flows.values())
    slices = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    for pair in flows.values():
        assert pair["s"]["ts"] < pair["f"]["ts"] and pair["f"].get("bp") == "e"
        for ev in pair.values():
            assert any(s["pid"] == ev["pid"] and s["tid"] == ev["tid"] and s["ts"] <= ev["ts"] < s["ts"] + s["dur"]
                       for s in slices), ev


def test_port_run_steps_sit_on_the_named_threads() -> None:
    tl = port_run_timeline(
        "toy", ["orchestrator", "sched0", "sched1", "AIC_0"], ["orchestrator", "scheduler", "scheduler", "core"],
        [(0, "store cur", "commit_task"), (1, "load cur", "advance"), (3, "write COND", "kernel"), (2, "cas", "x")],
        violation_step=3, violation_text="p: boom",
    )
    doc = to_chrome_trace(tl, {})
    lanes = _lanes(doc)
    assert lanes == {(1, 4000): "orchestrator", (2, 30000): "sched0", (2, 30010): "sched1", (4, 10000): "AIC_0"}
    xs = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert [lanes[(e["pid"], e["tid"])] for e in xs] == ["orchestrator", "sched0", "AIC_0", "sched1"]
    mark = next(e for e in doc["traceEvents"] if e["ph"] == "i" and e["s"] == "t")
    assert (mark["pid"], mark["tid"]) == (4, 10000)


def test_cli_writes_a_stable_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out1, out2 = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["export", "perfetto", str(R7), "-o", str(out1)]) == 0
    assert "violation at step 29" in capsys.readouterr().out
    assert main(["export", "perfetto", str(R7), "-o", str(out2)]) == 0
    assert out1.read_bytes() == out2.read_bytes()
    assert json.loads(out1.read_text(encoding="utf-8"))["otherData"]["signature"][1] == "own_release_before_reuse"


def _bad(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "bad.json"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t: t / "missing.json", "cannot read the artifact"),
        (lambda t: _bad(t, "{"), "not JSON"),
        (lambda t: _bad(t, json.dumps({"ptocheck_scenario": 1})), "not a ptocheck artifact"),
        (lambda t: _bad(t, R7.read_text(encoding="utf-8").replace("[\n   1,\n   0,\n   0\n  ]", "[\n   1,\n   5,\n   0\n  ]", 1)),
         "replay diverged"),
    ],
    ids=["missing", "not-json", "scenario-not-artifact", "diverged"],
)
def test_bad_artifacts_give_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, message: str
) -> None:
    assert main(["export", "perfetto", str(make(tmp_path)), "-o", str(tmp_path / "o.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ptocheck: error: ") and message in err


class _ToySystem:
    """Three threads of a pretend port: each takes two steps."""

    def __init__(self) -> None:
        self.mem = Memory()

    def _body(self, what: str) -> ThreadBody:
        for k in range(2):
            yield Op(OpKind.LOCAL, f"{what} {k}", Cite("toy.cpp", f"{what}_fn"))

    def threads(self) -> list[tuple[str, str, ThreadBody]]:
        return [("orch", "orchestrator", self._body("submit")), ("sched0", "scheduler", self._body("poll")),
                ("AIC_0", "core", self._body("run"))]

    def fingerprint(self) -> Hashable:
        return ()

    def work_left(self) -> str | None:
        return None


def _port_artifact(tmp_path: Path) -> Path:
    a = load_artifact(R7)
    port = Artifact(kind="port-run", scenario=a.scenario, signature=a.signature, message="m", engine="e", seed=1,
                    bounds="b", command="c", schedule="ptosched1:0.1.2.2.1.0", failing_step=4)
    path = tmp_path / "port.json"
    path.write_text(dump_artifact(port), encoding="utf-8")
    return path


def test_port_run_artifacts_need_the_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "runtime.trb", types.ModuleType("runtime.trb"))  # a build without the port
    assert main(["export", "perfetto", str(_port_artifact(tmp_path)), "-o", str(tmp_path / "o.json")]) == 2
    err = capsys.readouterr().err
    assert "step-level TRB port" in err and err.count("\n") == 1


def test_port_run_artifacts_replay_onto_the_ports_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("runtime.trb")
    fake.build_system = lambda scenario: _ToySystem()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "runtime.trb", fake)
    out = tmp_path / "o.json"
    assert main(["export", "perfetto", str(_port_artifact(tmp_path)), "-o", str(out)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    lanes = _lanes(doc)
    assert sorted(lanes.values()) == ["AIC_0", "orch", "sched0"]
    xs = sorted((e for e in doc["traceEvents"] if e["ph"] == "X"), key=lambda e: e["ts"])
    assert [(lanes[(e["pid"], e["tid"])], e["name"]) for e in xs] == [
        ("orch", "submit 0"), ("sched0", "poll 0"), ("AIC_0", "run 0"), ("AIC_0", "run 1"), ("sched0", "poll 1"),
        ("orch", "submit 1"),
    ]
    assert next(e for e in xs if e.get("cname"))["args"]["step"] == 4
