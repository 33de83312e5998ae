"""runtime.traces.deps_json: the real dep_gen files parse and match their README / deps_viewer.txt;
malformed inputs are one TraceError naming the JSON location."""

from __future__ import annotations

import ast
import copy
import json
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from model.errors import TraceError
from runtime.traces.deps_json import (
    DepsGraph,
    DepsTask,
    TaskId,
    parse_deps_json,
    read_deps_json,
)

# --------------------------------------------------------------------------------- real-trace helpers

_README_ENTRY = re.compile(
    r"- `(?P<dir>[^`]+)/`:\s*\n\s*deps\.json: (?P<tasks>\d+) tasks "
    r"\(rings \[(?P<rings>[^\]]*)\], (?P<manual>\d+) manual-scope, (?P<spmd>\d+) SPMD block_num>1\), "
    r"(?P<tensors>\d+) tensors, (?P<annotated>\d+) annotated edges = (?P<unique>\d+) unique "
    r"\(pred,succ\) pairs; edge sources (?P<sources>\{[^}]*\})"
)


@dataclass(frozen=True)
class ReadmeCounts:
    tasks: int
    rings: list[int]
    manual: int
    spmd: int
    tensors: int
    annotated: int
    unique: int
    sources: dict[str, int]


def _readme_counts(trace_folder: Path) -> dict[str, ReadmeCounts]:
    """Case dir name -> the README "Contents" numbers for its deps.json."""
    text = (trace_folder / "README.md").read_text(encoding="utf-8")
    out: dict[str, ReadmeCounts] = {}
    for m in _README_ENTRY.finditer(text):
        rings = [int(x) for x in m["rings"].split(",") if x.strip()]
        out[m["dir"]] = ReadmeCounts(
            tasks=int(m["tasks"]),
            rings=rings,
            manual=int(m["manual"]),
            spmd=int(m["spmd"]),
            tensors=int(m["tensors"]),
            annotated=int(m["annotated"]),
            unique=int(m["unique"]),
            sources=ast.literal_eval(m["sources"]),
        )
    return out


_VIEWER_ID = r"(?:\((?P<{0}r>\d+), (?P<{0}l>\d+)\)|(?P<{0}n>\d+))"
_INDEX_LINE = re.compile(
    r"^TASK " + _VIEWER_ID.format("i") + r" kind=(?P<kind>\w+) func_id=(?P<func>none|\[[-0-9,]+\]) "
    r"fanin=(?P<fanin>\d+) fanout=(?P<fanout>\d+)$"
)
_DETAIL_HEAD = re.compile(r"^=== TASK " + _VIEWER_ID.format("i") + r" kind=\w+ func_id=\S+ ===$")
_PEER = re.compile(r"^  (?P<dir><-|->) " + _VIEWER_ID.format("i") + r"$")


def _viewer_raw(m: re.Match[str]) -> int:
    # "(ring, local)" when the file uses several rings; a bare "n" is a ring-0 id.
    if m["in"] is not None:
        return int(m["in"])
    return TaskId.of(int(m["ir"]), int(m["il"])).raw


@dataclass
class ViewerTask:
    raw: int
    kind: str
    func_id: tuple[int, ...] | None
    fanin: int
    fanout: int
    preds: list[int]
    succs: list[int]


@dataclass
class Viewer:
    summary: dict[str, str]
    index: list[ViewerTask]


def _parse_viewer(path: Path) -> Viewer:
    summary: dict[str, str] = {}
    index: dict[int, ViewerTask] = {}
    order: list[int] = []
    section = ""
    current: ViewerTask | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line in ("SUMMARY", "TASK INDEX"):
            section = line
            continue
        if section == "SUMMARY" and line.startswith("  ") and ":" in line:
            key, _, value = line.strip().partition(":")
            summary[key] = value.strip()
            continue
        m = _INDEX_LINE.match(line)
        if m:
            raw = _viewer_raw(m)
            func = None if m["func"] == "none" else tuple(int(x) for x in m["func"][1:-1].split(","))
            index[raw] = ViewerTask(raw, m["kind"], func, int(m["fanin"]), int(m["fanout"]), [], [])
            order.append(raw)
            continue
        m = _DETAIL_HEAD.match(line)
        if m:
            current = index[_viewer_raw(m)]
            continue
        m = _PEER.match(line)
        if m:
            assert current is not None, f"{path}: peer line before any TASK block: {line!r}"
            (current.preds if m["dir"] == "<-" else current.succs).append(_viewer_raw(m))
    return Viewer(summary, [index[r] for r in order])


def _real_files(traces_dir: Path) -> list[Path]:
    files = sorted(traces_dir.glob("*/*/deps.json"))
    assert files, f"no deps.json under {traces_dir}"
    return files


def _fmt_ids(ids: tuple[int, ...] | list[int]) -> list[str]:
    return [TaskId.format(x) for x in ids]


# ------------------------------------------------------------------------------------ real traces


@pytest.mark.traces
def test_all_real_files_parse_and_match_readme_counts(traces_dir: Path) -> None:
    files = _real_files(traces_dir)
    assert len(files) == 8, [str(f) for f in files]
    for f in files:
        g = read_deps_json(f)
        assert g.source == str(f)
        counts = _readme_counts(f.parent.parent).get(f.parent.name)
        assert counts is not None, f"{f.parent.parent}/README.md has no Contents line for {f.parent.name}"
        where = str(f)
        assert len(g.tasks) == counts.tasks, where
        assert sorted({t.ring for t in g.tasks}) == counts.rings, where
        assert sum(t.manual_scope for t in g.tasks) == counts.manual, where
        assert sum(t.block_num > 1 for t in g.tasks) == counts.spmd, where
        assert len(g.tensors) == counts.tensors, where
        assert len(g.edges) == counts.annotated, where
        assert len(g.unique_edges()) == counts.unique, where
        assert dict(Counter(e.source for e in g.edges)) == counts.sources, where


@pytest.mark.traces
def test_real_files_match_deps_viewer(traces_dir: Path) -> None:
    for f in _real_files(traces_dir):
        g = read_deps_json(f)
        v = _parse_viewer(f.parent / "deps_viewer.txt")
        where = str(f)
        # SUMMARY: the viewer counts hidden alloc tasks as tasks.
        assert int(v.summary["tasks"]) == len(g.nodes()), where
        assert int(v.summary["unique_task_edges"]) == len(g.unique_edges()), where
        assert int(v.summary["annotated_edges"]) == len(g.edges), where
        assert int(v.summary["tensors"]) == len(g.tensors), where
        # TASK INDEX: same nodes in the same (ring, local) order, same kinds, fanin/fanout, peers.
        assert [t.raw for t in v.index] == list(g.nodes()), where
        for vt in v.index:
            at = f"{where} {TaskId.format(vt.raw)}"
            if g.is_hidden(vt.raw):
                assert vt.kind == "alloc", at
                assert vt.func_id is None, at
            else:
                task = g.task_by_id[vt.raw]
                assert vt.kind == ("dummy" if task.shape == "DUMMY" else "submit"), at
                assert vt.func_id == (None if task.shape == "DUMMY" else task.kernel_ids), at
            assert vt.fanin == len(g.fanin(vt.raw)), at
            assert vt.fanout == len(g.fanout(vt.raw)), at
            assert sorted(vt.preds) == sorted(g.fanin(vt.raw)), at
            assert sorted(vt.succs) == sorted(g.fanout(vt.raw)), at


# Expected hidden alloc tasks per paged-attention trace folder (spec §1 "Observed gaps").
_PA_HIDDEN: dict[str, dict[str, Any]] = {
    "pa_casesmall1_all": {"hidden": ["r1t0"], "fanout": {"r1t0": 3}, "edges": {"creator": 3}},
    "pa_casevarseq4_window8_all": {
        "hidden": ["r1t0", "r1t1", "r1t2", "r1t3"],
        "fanout": {"r1t0": 3, "r1t1": 4, "r1t2": 8, "r1t3": 1},
        "edges": {"creator": 16},
    },
    # Manual scope: the compute tasks are on ring 1 too, so the allocs interleave with them, and the
    # alloc -> consumer dependency is an explicit edge (no creator/tensormap wiring in manual scope).
    "pa_manual_scope_casevarseq4_all": {
        "hidden": ["r1t0", "r1t13", "r1t30", "r1t63"],
        "fanout": {"r1t0": 1, "r1t13": 1, "r1t30": 1, "r1t63": 1},
        "edges": {"explicit": 4},
    },
}


@pytest.mark.traces
def test_hidden_alloc_tasks_in_paged_attention(traces_dir: Path) -> None:
    seen = set()
    for f in _real_files(traces_dir):
        folder = f.parent.parent.name
        g = read_deps_json(f)
        if not folder.startswith("pa_"):
            assert g.hidden_alloc_ids == (), f"{f}: unexpected hidden ids {_fmt_ids(g.hidden_alloc_ids)}"
            continue
        seen.add(folder)
        expected = _PA_HIDDEN[folder]
        hidden = set(g.hidden_alloc_ids)
        assert _fmt_ids(g.hidden_alloc_ids) == expected["hidden"], f
        assert all(TaskId.ring_of(h) == 1 for h in hidden), f
        # Hidden ids are only ever preds, never succs, and are not in tasks[].
        assert not any(e.succ in hidden for e in g.edges), f
        assert not hidden & {t.task_id for t in g.tasks}, f
        assert {TaskId.format(h): len(g.fanout(h)) for h in hidden} == expected["fanout"], f
        assert all(g.fanin(h) == () for h in hidden), f
        assert dict(Counter(e.source for e in g.edges if e.pred in hidden)) == expected["edges"], f
        if not any(t.manual_scope for t in g.tasks):
            # Auto scope: compute tasks are on ring 2, so ring 1 holds exactly the allocs.
            assert {n for n in g.nodes() if TaskId.ring_of(n) == 1} == hidden, f
        # Cross-check with deps_viewer.txt: exactly these are kind=alloc, with fanin 0 and that fanout.
        v = _parse_viewer(f.parent / "deps_viewer.txt")
        allocs = {vt.raw: vt for vt in v.index if vt.kind == "alloc"}
        assert set(allocs) == hidden, f
        for raw, vt in allocs.items():
            assert (vt.fanin, vt.fanout) == (0, expected["fanout"][TaskId.format(raw)]), f
    assert seen == set(_PA_HIDDEN)


@pytest.mark.traces
def test_real_file_details(traces_dir: Path) -> None:
    (small,) = traces_dir.glob("pa_casesmall1_all/*/deps.json")
    g = read_deps_json(small)
    first = g.tasks[0]
    assert (first.task_id, first.ring, first.local, first.tid.fmt()) == (8589934592, 2, 0, "r2t0")
    assert [t.shape for t in g.tasks[:4]] == ["AIC", "AIV", "AIC", "AIV"]
    out = first.args[2]
    assert (out.idx, out.tag, out.tensor_id, out.dtype, out.shape) == (2, "OUTPUT", None, None, ())
    inp = first.args[1]
    assert (inp.tag, inp.dtype, inp.shape, inp.start_offset, inp.strides) == (
        "INPUT",
        "BFLOAT16",
        (16, 16),
        256,
        (16, 1),
    )
    assert inp.tensor_id in g.tensors
    # A pair repeats once per matched arg: r2t3 -> r2t7 is 4 tensormap rows (one per INOUT slot of the
    # online-update task), projected to one unique pair with flags {wait} (tensormap rows never retain).
    pair = (TaskId.of(2, 3).raw, TaskId.of(2, 7).raw)
    rows = [e for e in g.edges if (e.pred, e.succ) == pair]
    assert [e.source for e in rows] == ["tensormap"] * 4
    assert len({e.arg for e in rows}) == 4
    assert g.unique_edges()[pair] == frozenset({"wait"})
    assert all(e.overlap == "covered" and e.producer_shape is not None for e in rows)
    creator = next(e for e in g.edges if e.pred == TaskId.of(1, 0).raw)
    assert creator.source == "creator" and creator.flags == frozenset({"wait", "retain"})
    assert g.unique_edges()[(creator.pred, creator.succ)] == creator.flags
    assert list(g.unique_edges()) == sorted(
        g.unique_edges(), key=lambda k: (TaskId.sort_key(k[0]), TaskId.sort_key(k[1]))
    )

    (vec,) = traces_dir.glob("vector_example_all/*/deps.json")
    gv = read_deps_json(vec)
    assert _fmt_ids([t.task_id for t in gv.tasks]) == ["t0", "r1t0", "r1t1", "r1t2", "r1t3"]
    assert any(a.tag == "OUTPUT_EXISTING" for t in gv.tasks for a in t.args)

    (dense,) = traces_dir.glob("dummy_task_all/*DenseFanoutFanin*/deps.json")
    gd = read_deps_json(dense)
    assert Counter(t.shape for t in gd.tasks) == {"DUMMY": 18, "AIC": 2}
    assert len(gd.fanout(gd.tasks[0].task_id)) == 19 and len(gd.fanin(gd.tasks[-1].task_id)) == 19


# ---------------------------------------------------------------------------------- synthetic doc

R1T0 = TaskId.of(1, 0).raw
R2 = [TaskId.of(2, i).raw for i in range(4)]


def _geom(tid: str) -> dict[str, Any]:
    return {"tensor_id": tid, "dtype": "FLOAT32", "shape": [16], "start_offset": "0", "strides": [1]}


def _doc() -> dict[str, Any]:
    """A small valid deps.json shaped like the real PA files (ring-2 tasks, a hidden r1t0 alloc pred)."""
    return {
        "tasks": [
            {
                "task_id": str(R2[0]),
                "scope": "auto",
                "early_dispatch": False,
                "kernel_ids": [0, -1, -1],
                "block_num": 1,
                "args": [{"idx": 0, "type": "INPUT", **_geom("11")}, {"idx": 1, "type": "OUTPUT"}],
            },
            {
                "task_id": str(R2[1]),
                "scope": "auto",
                "early_dispatch": True,
                "kernel_ids": [-1, 1, -1],
                "block_num": 2,
                "args": [{"idx": 0, "type": "INPUT", **_geom("12")}, {"idx": 1, "type": "INOUT", **_geom("13")}],
            },
            {
                "task_id": str(R2[2]),
                "scope": "manual",
                "early_dispatch": False,
                "kernel_ids": [-1, -1, -1],
                "block_num": 1,
                "args": [{"idx": 0, "type": "NO_DEP", **_geom("13")}],
            },
            {
                "task_id": str(R2[3]),
                "scope": "auto",
                "early_dispatch": False,
                "kernel_ids": [0, 1, 2],
                "block_num": 1,
                "args": [],
            },
        ],
        "tensors": [
            {"tensor_id": t, "buffer_addr": "4096", "version": v, "dtype": "FLOAT32", "buffer_numel": "16"}
            for v, t in enumerate(["11", "12", "13"])
        ],
        "edges": [
            {"pred": str(R1T0), "succ": str(R2[1]), "arg": 1, "source": "creator", "flags": ["wait", "retain"],
             "tensor_id": "13", "consumer_dtype": "FLOAT32", "consumer_shape": [16],
             "consumer_start_offset": "0", "consumer_strides": [1]},
            {"pred": str(R2[0]), "succ": str(R2[1]), "arg": 0, "source": "creator", "flags": ["retain"],
             "tensor_id": "12", "consumer_dtype": "FLOAT32", "consumer_shape": [16],
             "consumer_start_offset": "0", "consumer_strides": [1]},
            {"pred": str(R2[0]), "succ": str(R2[1]), "arg": 0, "source": "tensormap", "flags": ["wait"],
             "overlap": "other", "tensor_id": "12", "consumer_dtype": "FLOAT32", "consumer_shape": [16],
             "consumer_start_offset": "0", "consumer_strides": [1], "producer_shape": [32],
             "producer_start_offset": "16", "producer_strides": [1]},
            {"pred": str(R2[1]), "succ": str(R2[2]), "arg": -1, "source": "explicit", "flags": ["wait", "retain"]},
            {"pred": str(R2[2]), "succ": str(R2[3]), "arg": -1, "source": "explicit", "flags": []},
        ],
    }  # fmt: skip


def _parse(doc: Any) -> DepsGraph:
    return parse_deps_json(json.dumps(doc), source="deps.json")


def test_synthetic_doc_model() -> None:
    g = _parse(_doc())
    assert [t.task_id for t in g.tasks] == R2
    assert [t.shape for t in g.tasks] == ["AIC", "AIV", "DUMMY", "MIX"]
    assert [t.manual_scope for t in g.tasks] == [False, False, True, False]
    assert g.tasks[1].early_dispatch and g.tasks[1].block_num == 2
    assert g.tasks[2].args[0].tag == "NO_DEP"
    assert g.tensors[13].version == 2 and g.tensors[13].buffer_addr == 4096
    assert g.hidden_alloc_ids == (R1T0,)
    assert g.is_hidden(R1T0) and not g.is_hidden(R2[0])
    assert g.nodes() == (R1T0, *R2)
    assert g.unique_edges() == {
        (R1T0, R2[1]): frozenset({"wait", "retain"}),
        (R2[0], R2[1]): frozenset({"wait", "retain"}),
        (R2[1], R2[2]): frozenset({"wait", "retain"}),
        (R2[2], R2[3]): frozenset(),
    }
    assert g.fanin(R2[1]) == (R1T0, R2[0])
    assert g.fanin(R2[3]) == (R2[2],) and g.fanin(R2[3], "wait") == ()
    assert g.fanout(R2[0]) == (R2[1],) and g.fanout(R2[3]) == ()
    tm = g.edges[2]
    assert (tm.overlap, tm.producer_start_offset, tm.producer_shape) == ("other", 16, (32,))
    assert g.edges[3].tensor_id is None and g.edges[3].consumer_shape is None


def test_task_id_helpers() -> None:
    raw = (3 << 32) | 17
    assert (TaskId.ring_of(raw), TaskId.local_of(raw)) == (3, 17)
    assert TaskId(raw).fmt() == "r3t17" == str(TaskId.of(3, 17))
    assert TaskId.format(5) == "t5"
    assert TaskId.of(2, 0).raw == 8589934592
    assert DepsTask(0, False, False, (-1, -1, 4), 1, ()).shape == "AIV"


def test_unknown_extra_keys_are_ignored() -> None:
    doc = _doc()
    doc["future"] = {"x": 1}
    doc["tasks"][0]["new_field"] = [1, 2]
    doc["tasks"][0]["args"][0]["layout"] = "ND"
    doc["tensors"][0]["space"] = "GM"
    doc["edges"][0]["why"] = "because"
    assert _parse(doc) == _parse(_doc())


# ------------------------------------------------------------------------------------ malformed input

Mutator = Callable[[dict[str, Any]], Any]


def _set(path: str, value: Any) -> Mutator:
    def mutate(doc: dict[str, Any]) -> Any:
        *parents, last = _steps(path)
        node: Any = doc
        for step in parents:
            node = node[step]
        node[last] = value
        return doc

    return mutate


def _delete(path: str) -> Mutator:
    def mutate(doc: dict[str, Any]) -> Any:
        *parents, last = _steps(path)
        node: Any = doc
        for step in parents:
            node = node[step]
        del node[last]
        return doc

    return mutate


def _steps(path: str) -> list[str | int]:
    return [int(s) if s.isdigit() else s for s in re.findall(r"[^.\[\]]+", path)]


def _dup_task(doc: dict[str, Any]) -> Any:
    doc["tasks"].append(copy.deepcopy(doc["tasks"][1]))
    return doc


MALFORMED: list[tuple[str, Mutator, str, str]] = [
    # (case id, mutation of the valid doc, expected location, expected words in the message)
    ("not_object", lambda d: [d], "deps.json: top level", "expected a JSON object, got an array"),
    ("missing_edges", _delete("edges"), "deps.json: top level", "missing key 'edges'"),
    ("tasks_not_list", _set("tasks", {}), "deps.json: tasks", "expected a JSON array"),
    ("bad_uint64", _set("tasks[1].task_id", "12a"), "deps.json: tasks[1].task_id", "'12a' is not a decimal"),
    ("uint64_as_number", _set("tensors[0].buffer_addr", 4096), "deps.json: tensors[0].buffer_addr",
     "decimal string"),
    ("uint64_overflow", _set("edges[0].pred", str(1 << 64)), "deps.json: edges[0].pred", "out of the uint64"),
    ("negative_uint64", _set("tasks[0].args[0].start_offset", "-1"), "deps.json: tasks[0].args[0].start_offset",
     "not a decimal uint64"),
    ("unknown_arg_type", _set("tasks[1].args[1].type", "INOUTX"), "deps.json: tasks[1].args[1].type",
     "unknown value 'INOUTX'"),
    ("unknown_scope", _set("tasks[0].scope", "semi"), "deps.json: tasks[0].scope", "unknown value 'semi'"),
    ("unknown_source", _set("edges[3].source", "magic"), "deps.json: edges[3].source", "unknown value 'magic'"),
    ("unknown_flag", _set("edges[3].flags", ["wait", "hold"]), "deps.json: edges[3].flags[1]",
     "unknown edge flag 'hold'"),
    ("unknown_overlap", _set("edges[2].overlap", "partial"), "deps.json: edges[2].overlap",
     "unknown value 'partial'"),
    ("dangling_succ", _set("edges[1].succ", str(TaskId.of(2, 9).raw)), "deps.json: edges[1].succ",
     "r2t9 (8589934601) is not a task in tasks[]"),
    ("dangling_arg_tensor", _set("tasks[1].args[0].tensor_id", "99"), "deps.json: tasks[1].args[0].tensor_id",
     "tensor 99 is not in tensors[]"),
    ("dangling_edge_tensor", _set("edges[0].tensor_id", "99"), "deps.json: edges[0].tensor_id",
     "tensor 99 is not in tensors[]"),
    ("duplicate_task", _dup_task, "deps.json: tasks[4].task_id", "duplicate task id r2t1"),
    ("duplicate_tensor", _set("tensors[2].tensor_id", "11"), "deps.json: tensors[2].tensor_id",
     "duplicate tensor id 11"),
    ("missing_arg_geometry", _delete("tasks[0].args[0].strides"), "deps.json: tasks[0].args[0]",
     "missing key 'strides'"),
    ("bool_as_int", _set("tasks[0].block_num", True), "deps.json: tasks[0].block_num", "expected an integer"),
    ("string_as_bool", _set("tasks[0].early_dispatch", "false"), "deps.json: tasks[0].early_dispatch",
     "expected true or false"),
    ("kernel_ids_len", _set("tasks[0].kernel_ids", [0, -1]), "deps.json: tasks[0].kernel_ids",
     "expected 3 kernel ids"),
    ("shape_not_int", _set("tasks[0].args[0].shape", [16, "x"]), "deps.json: tasks[0].args[0].shape[1]",
     "expected an integer"),
    ("task_not_object", _set("tasks[2]", 7), "deps.json: tasks[2]", "expected a JSON object, got number 7"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "where", "words"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_is_one_trace_error(mutate: Mutator, where: str, words: str) -> None:
    text = json.dumps(mutate(_doc()))
    try:
        parse_deps_json(text, source="deps.json")
    except TraceError as err:
        message = str(err)
        assert message.startswith(where + ":"), message
        assert words in message, message
        assert err.hint, message
    except Exception as err:  # pragma: no cover - the failure we are guarding against
        pytest.fail(f"raised {type(err).__name__} instead of TraceError: {err}")
    else:
        pytest.fail("malformed input was accepted")


def test_not_json_gives_line_and_column() -> None:
    with pytest.raises(TraceError, match=r"^deps\.json: line 2 column 14: not valid JSON") as info:
        parse_deps_json('{"tasks": [],\n "tensors": [,]}', source="deps.json")
    assert "truncated" in info.value.hint


@pytest.mark.traces
def test_truncated_real_file(traces_dir: Path) -> None:
    for f in _real_files(traces_dir):
        text = f.read_text(encoding="utf-8")
        with pytest.raises(TraceError, match=r"^deps\.json: line 1 column \d+: not valid JSON"):
            parse_deps_json(text[: len(text) // 2], source="deps.json")


def test_read_errors_name_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "deps.json"
    with pytest.raises(TraceError, match=re.escape(str(missing))):
        read_deps_json(missing)
    with pytest.raises(TraceError, match=re.escape(str(tmp_path))):
        read_deps_json(tmp_path)  # a directory
    bad = tmp_path / "deps.json"
    bad.write_bytes(b'{"tasks": "\xff"}')
    with pytest.raises(TraceError, match=re.escape(str(bad)) + r": not UTF-8"):
        read_deps_json(bad)
    bad.write_text(json.dumps(_set("tasks[3].task_id", "x")(_doc())), encoding="utf-8")
    with pytest.raises(TraceError, match=re.escape(str(bad)) + r": tasks\[3\]\.task_id: 'x'"):
        read_deps_json(bad)


def _mutations(doc: Any, rng: random.Random) -> Any:
    """Replace one random node of ``doc`` by a value of a random JSON type."""
    doc = copy.deepcopy(doc)
    node: Any = doc
    for _ in range(rng.randint(0, 5)):
        children = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        children = [(k, v) for k, v in children if isinstance(v, dict | list) and v]
        if not children:
            break
        _, node = rng.choice(children)
    keys = list(node) if isinstance(node, dict) else list(range(len(node)))
    if not keys:
        return doc
    key = rng.choice(keys)
    choice = rng.randrange(7)
    if choice == 0 and isinstance(node, dict):
        del node[key]
    else:
        node[key] = [None, -1, 1.5, "zz", "18446744073709551616", [], {}][choice]
    return doc


def test_no_exception_other_than_trace_error() -> None:
    rng = random.Random(20261121)
    base = json.dumps(_doc())
    inputs: list[str] = [base[:cut] for cut in range(0, len(base), 7)]
    inputs += [json.dumps(_mutations(_doc(), rng)) for _ in range(600)]
    inputs += ["", "null", "[]", "1e999", '"x"', "[" * 100_000, '{"tasks": NaN}', "\ufeff{}"]
    accepted = 0
    for text in inputs:
        try:
            parse_deps_json(text, source="deps.json")
            accepted += 1
        except TraceError as err:
            assert str(err).startswith("deps.json"), str(err)
        except Exception as err:  # pragma: no cover - the failure we are guarding against
            pytest.fail(f"{type(err).__name__} instead of TraceError for {text[:120]!r}: {err}")
    assert accepted < len(inputs)


def _strict_only(text: str, monkeypatch: pytest.MonkeyPatch) -> DepsGraph | str:
    """`parse_deps_json` with every fast decoder switched off (each record goes the strict way)."""
    import runtime.traces.deps_json as deps_json

    with monkeypatch.context() as m:
        for name in ("_fast_tensor", "_fast_task", "_fast_edge"):
            m.setattr(deps_json, name, lambda *_args: None)
        return _outcome(text)


def _outcome(text: str) -> DepsGraph | str:
    try:
        return parse_deps_json(text, source="deps.json")
    except TraceError as err:
        return f"error: {err}"


def test_fast_decoders_agree_with_the_strict_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path accepts exactly what the strict one accepts and builds the same records; on anything
    else the strict path names the problem. Checked on valid, edge-case and randomly broken documents."""
    rng = random.Random(7)
    docs: list[Any] = [_doc()] + [_mutations(_doc(), rng) for _ in range(400)]
    odd_values: list[Any] = [None, True, 0, -1, 1.0, "", "+1", " 1", "1_0", "\u0663", "\uff11", "01",
                             "18446744073709551615", "18446744073709551616", [], {}, ["wait", "wait"], ["retain", "wait"]]
    for path in ("tasks[0].task_id", "tasks[0].args[0].start_offset", "tasks[0].args[0].idx", "tasks[0].scope",
                 "tasks[0].early_dispatch", "tasks[0].kernel_ids", "tasks[0].block_num", "tasks[0].args[0].shape",
                 "tensors[0].buffer_numel", "tensors[0].version", "edges[0].pred", "edges[0].flags",
                 "edges[2].overlap", "edges[2].producer_start_offset", "edges[2].producer_shape",
                 "edges[0].consumer_dtype", "edges[0].tensor_id", "edges[3].arg"):
        docs += [_set(path, value)(_doc()) for value in odd_values]
    fast_accepted = 0
    for doc in docs:
        text = json.dumps(doc)
        fast = _outcome(text)
        assert fast == _strict_only(text, monkeypatch), text[:200]
        fast_accepted += isinstance(fast, DepsGraph)
    assert 0 < fast_accepted < len(docs)  # both outcomes were exercised


@pytest.mark.traces
def test_fast_decoders_agree_on_the_real_files(traces_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for f in _real_files(traces_dir):
        text = f.read_text(encoding="utf-8")
        fast = _outcome(text)
        assert isinstance(fast, DepsGraph), fast
        assert fast == _strict_only(text, monkeypatch), f
