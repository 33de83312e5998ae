"""model.builders: every built-in scenario is valid, round-trips through JSON, has the documented task count,
and -- for every workload with a real trace -- submits exactly the recorded tasks (kernels, block_num,
argument tags and views, ring/local ids) and derives exactly the recorded edges."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.builders import BUILTIN_SCENARIOS, DEFAULT_EXPLORE_SCENARIOS
from model.builders.dummy_tasks import TASK_COUNTS
from model.builders.paged_attention import (
    CASE_VAR_SEQ4_CONTEXT_LENS,
    batched_expected_task_count,
    batched_paged_attention,
    case_small1,
    case_var_seq4,
    case_var_seq4_manual,
    expected_task_count,
    pa_scope_deadlock,
    pa_two_blocks_default,
    paged_attention,
    spmd_paged_attention,
)
from model.builders.vector_example import TASK_COUNT as VECTOR_TASK_COUNT
from model.dependencies import derive_all_edges
from model.program import ProgramInfo
from model.scenario import (
    Alloc,
    FatalCode,
    ScopeBegin,
    ScopeEnd,
    ScopeMode,
    Shape,
    Submit,
    Tag,
    TensorData,
    dump_scenario,
    parse_scenario,
    validate,
)
from properties.trace_scenario import derivation_mismatches, derived_unique_edges, raw_task_ids
from runtime.traces.deps_json import DepsGraph, TaskId, read_deps_json

# ------------------------------------------------------------------------------------ every builder


@pytest.mark.parametrize("name", sorted(BUILTIN_SCENARIOS))
def test_builtin_validates_and_round_trips(name: str) -> None:
    scenario = BUILTIN_SCENARIOS[name]()
    assert scenario.name == name
    assert validate(scenario) is scenario
    text = dump_scenario(scenario)
    assert parse_scenario(text) == scenario
    assert dump_scenario(parse_scenario(text)) == text
    assert scenario.description


def test_registry() -> None:
    assert set(DEFAULT_EXPLORE_SCENARIOS) <= set(BUILTIN_SCENARIOS)
    assert DEFAULT_EXPLORE_SCENARIOS == ("pa_two_blocks", "pa_scope_deadlock")
    for name in (
        "pa_case_small1",
        "pa_var_seq4",
        "pa_var_seq4_window8",
        "pa_var_seq4_manual",
        "pa_batched",
        "pa_spmd",
        "vector_example",
        "dummy_single_auto_dep",
        "dummy_long_chain",
        "dummy_explicit_barrier",
        "dummy_dense_fanout_fanin",
        "pa_two_blocks",
        "pa_scope_deadlock",
    ):
        assert name in BUILTIN_SCENARIOS


# ----------------------------------------------------------------------------------------- task counts


def _counts(scenario_tasks: tuple[Submit | Alloc, ...]) -> tuple[int, int]:
    return (
        sum(isinstance(t, Submit) for t in scenario_tasks),
        sum(isinstance(t, Alloc) for t in scenario_tasks),
    )


@pytest.mark.parametrize(
    ("batch", "heads", "bs", "ctx", "q_tile"),
    [
        (1, 16, 16, (33,), None),
        (4, 16, 16, CASE_VAR_SEQ4_CONTEXT_LENS, None),
        (2, 16, 16, (33, 17), None),
        (1, 16, 16, (32,), None),
        (2, 8, 16, (16, 40), 4),  # q_loop 2
        (3, 6, 8, (1, 8, 9), 3),  # q_loop 2
    ],
)
@pytest.mark.parametrize("manual", [False, True])
def test_paged_attention_task_count(
    batch: int, heads: int, bs: int, ctx: tuple[int, ...], q_tile: int | None, manual: bool
) -> None:
    s = paged_attention(batch, heads, 16, bs, ctx, q_tile=q_tile, manual_scope=manual)
    q_loop = -(-heads // (q_tile or min(heads, 128)))
    blocks = sum(-(-c // bs) for c in ctx)
    assert _counts(s.tasks()) == (4 * q_loop * blocks, batch * q_loop)
    assert len(s.tasks()) == expected_task_count(batch, heads, bs, ctx, q_tile=q_tile)
    assert (
        expected_task_count(batch, heads, bs, ctx, q_tile=q_tile, include_allocs=False) == 4 * q_loop * blocks
    )
    info = ProgramInfo(s)
    if manual:
        assert info.tasks_per_ring == (0, len(s.tasks()), 0, 0)
        assert all(t.manual for t in info.tasks)
    else:
        assert info.tasks_per_ring == (0, batch * q_loop, 4 * q_loop * blocks, 0)


def test_ragged_q_tile_is_rejected() -> None:
    with pytest.raises(ValueError, match="multiple of q_tile"):
        paged_attention(1, 4, 16, 16, (16,), q_tile=3)


def test_documented_counts_of_the_cases() -> None:
    assert _counts(case_small1().tasks()) == (12, 1)
    assert _counts(case_var_seq4().tasks()) == (64, 4)
    assert _counts(case_var_seq4(window=8).tasks()) == (64, 4)
    assert _counts(case_var_seq4_manual().tasks()) == (64, 4)
    assert _counts(pa_two_blocks_default().tasks()) == (8, 1)
    assert expected_task_count(1, 16, 16, (33,)) == 13
    assert expected_task_count(4, 16, 16, CASE_VAR_SEQ4_CONTEXT_LENS) == 68


@pytest.mark.parametrize(
    ("batch", "ctx", "submits", "allocs"),
    [
        (1, (33,), 12, 1),
        (1, (31,), 8, 1),
        (2, (33, 17), 12, 1),
        (4, CASE_VAR_SEQ4_CONTEXT_LENS, 32, 1),
        (17, 20, 16, 2),
    ],
)
def test_batched_task_count(batch: int, ctx: int | tuple[int, ...], submits: int, allocs: int) -> None:
    s = batched_paged_attention(batch, 16, 16, 16, ctx)
    assert _counts(s.tasks()) == (submits, allocs)
    assert batched_expected_task_count(batch, 16, 16, ctx) == submits + allocs


def test_batched_edges() -> None:
    """Per chunk: 5 creator rows per block, 3 covered TensorMap rows UP_{bn-1} -> UP_bn (args 3-5); `out` has
    manual_dep (never looked up nor registered), whole-tensor inputs never hit the TensorMap."""
    s = batched_paged_attention(4, 16, 16, 16, CASE_VAR_SEQ4_CONTEXT_LENS)
    info = ProgramInfo(s)
    rows = derive_all_edges(info)
    creator = [r for r in rows if r.source == "creator"]
    tm = [r for r in rows if r.source == "tensormap"]
    max_bn = 8
    # QK->SF, SF->PV, SF->UP x2 (mij, lij), PV->UP, A->UP x3 (every row, before dep_gen's suppression)
    assert len(creator) == 8 * max_bn
    assert len(tm) == 3 * (max_bn - 1)
    assert {r.arg for r in tm} == {3, 4, 5}
    assert all(r.overlap is not None and r.overlap.name == "COVERED" for r in tm)
    ups = [t for t in info.tasks if t.name.startswith("UP_")]
    assert all(t.registrations == (3, 4, 5) for t in ups)


def test_spmd() -> None:
    s = spmd_paged_attention()
    (task,) = s.tasks()
    assert isinstance(task, Submit)
    assert task.kernel_ids == (0, 1, 1) and task.shape is Shape.MIX and task.block_num == 24
    info = ProgramInfo(s)
    (t,) = info.tasks
    assert (t.ring, t.local, t.subtasks) == (1, 0, 72)
    assert t.heap_request == 1572864 + 786432 + 1572864
    assert t.registrations == (5,)  # out (INOUT)
    assert derive_all_edges(info) == []


def test_small_counts() -> None:
    assert len(BUILTIN_SCENARIOS["vector_example"]().tasks()) == VECTOR_TASK_COUNT == 5
    for case_id, name in enumerate(
        ("dummy_single_auto_dep", "dummy_long_chain", "dummy_explicit_barrier", "dummy_dense_fanout_fanin"), 1
    ):
        assert len(BUILTIN_SCENARIOS[name]().tasks()) == TASK_COUNTS[case_id]


# ----------------------------------------------------------------------------- model-checking defaults


def test_two_blocks_defaults() -> None:
    s = pa_two_blocks_default()
    cfg = s.config
    assert cfg.task_window == (4, 4, 8, 4)
    assert cfg.heap_bytes == (4096, 4096, 8192, 4096)
    assert cfg.dep_pool == (16, 16, 16, 16)
    assert (cfg.scheduler_threads, cfg.clusters) == (2, 2)
    assert s.expected.fatal is None
    info = ProgramInfo(s)
    assert info.tasks_per_ring == (0, 1, 8, 0)
    heap = {t.name.split("_")[0]: t.heap_request for t in info.tasks}
    assert heap == {"A": 3072, "QK": 1024, "SF": 3072, "PV": 1024, "UP": 0}
    # each KV block is a 4-task AUTO scope at depth 2
    depth, sizes, cur = 0, [], 0
    for op in s.program:
        if isinstance(op, ScopeBegin):
            depth += 1
            cur = 0
        elif isinstance(op, ScopeEnd):
            if depth == 2:
                sizes.append(cur)
            depth -= 1
        elif isinstance(op, Submit):
            cur += 1
    assert sizes == [4, 4]

    d = pa_scope_deadlock()
    assert d.expected.fatal is FatalCode.SCOPE_DEADLOCK
    assert d.config.task_window == (4, 4, 4, 4)
    assert d.program == s.program


# -------------------------------------------------------------------------------- against real traces

TRACED: dict[str, str] = {
    "pa_case_small1": "pa_casesmall1_all/*/deps.json",
    "pa_var_seq4_window8": "pa_casevarseq4_window8_all/*/deps.json",
    "pa_var_seq4_manual": "pa_manual_scope_casevarseq4_all/*/deps.json",
    "vector_example": "vector_example_all/*/deps.json",
    "dummy_single_auto_dep": "dummy_task_all/*SingleDummyAutoDep*/deps.json",
    "dummy_long_chain": "dummy_task_all/*LongDummyChain*/deps.json",
    "dummy_explicit_barrier": "dummy_task_all/*DummyExplicitDepBarrier*/deps.json",
    "dummy_dense_fanout_fanin": "dummy_task_all/*DenseFanoutFanin*/deps.json",
}


def _trace(traces_dir: Path, pattern: str) -> DepsGraph:
    (path,) = traces_dir.glob(pattern)
    return read_deps_json(path)


@pytest.mark.traces
@pytest.mark.parametrize("name", sorted(TRACED))
def test_builder_matches_trace(name: str, traces_dir: Path) -> None:
    scenario = BUILTIN_SCENARIOS[name]()
    graph = _trace(traces_dir, TRACED[name])
    info = ProgramInfo(scenario)
    ids = raw_task_ids(info)
    buffers = scenario.all_buffers()

    submits = [(t, op) for t, op in zip(info.tasks, scenario.tasks(), strict=True) if isinstance(op, Submit)]
    assert len(submits) == len(graph.tasks)
    addr_of: dict[str, int] = {}
    name_of: dict[int, str] = {}
    for (t, op), real in zip(submits, graph.tasks, strict=True):
        where = f"{op.name} vs {TaskId.format(real.task_id)}"
        assert ids[t.index] == real.task_id, where
        assert op.kernel_ids == real.kernel_ids, where
        assert op.block_num == real.block_num, where
        assert t.manual == real.manual_scope, where
        assert op.early_resolve == real.early_dispatch, where
        assert [a.tag.value for a in op.args] == [a.tag for a in real.args], where
        assert [a.idx for a in real.args] == list(range(len(op.args))), where
        for arg, rarg in zip(op.args, real.args, strict=True):
            if arg.tag is Tag.OUTPUT:
                continue
            region = arg.region
            assert region is not None and rarg.tensor_id is not None
            buf = buffers[region.buffer]
            assert (region.dtype or buf.dtype) == rarg.dtype, where
            assert region.shape == rarg.shape, where
            assert region.offset == rarg.start_offset, where
            assert region.strides == rarg.strides, where
            tensor = graph.tensors[rarg.tensor_id]
            assert region.version == tensor.version, where
            # One builder buffer <-> one recorded buffer address, of the recorded (aligned) size.
            assert addr_of.setdefault(region.buffer, tensor.buffer_addr) == tensor.buffer_addr, where
            assert name_of.setdefault(tensor.buffer_addr, region.buffer) == region.buffer, where
            view = info.tasks[t.index].args[op.args.index(arg)].view
            assert view is not None and view.buffer_numel == tensor.buffer_numel, where
    allocs = {ids[t.index] for t in info.tasks if t.is_alloc}
    assert set(graph.hidden_alloc_ids) <= allocs

    assert derived_unique_edges(info) == graph.unique_edges()
    assert derivation_mismatches(info, graph) == []


def test_window8_only_changes_the_config() -> None:
    plain, w8 = case_var_seq4(), case_var_seq4(window=8)
    assert plain.program == w8.program and plain.buffers == w8.buffers
    assert w8.config.task_window == (8, 8, 8, 8)


def test_manual_scope_structure() -> None:
    s = case_var_seq4_manual()
    scopes = [op for op in s.program if isinstance(op, ScopeBegin)]
    assert len(scopes) == 4 and all(op.mode is ScopeMode.MANUAL for op in scopes)
    reads = [op for op in s.program if isinstance(op, TensorData)]
    assert len(reads) == 4 + sum(-(-c // 16) for c in CASE_VAR_SEQ4_CONTEXT_LENS)
    rows = derive_all_edges(ProgramInfo(s))
    assert len(rows) == 64 and all(r.source == "explicit" for r in rows)
