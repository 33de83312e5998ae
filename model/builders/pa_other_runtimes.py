"""Paged attention on the other runtimes: the task graph each runtime's own example builds.

One task per block stage (QK, SF, PV, UP per KV block), all heads of a batch fused into one q tile
(q_tile = min(num_heads, 128): 16 heads x head_dim 16 gives 16x16 tiles), the UP chain of a (batch, q tile)
serialising the online updates. Task names match `paged_attention(...)` (`QK_b{b}_q{q}_bn{bn}`, ...), so the
three runtimes can be compared on the kernel tasks the program asked for.

Sources (hw-native-sys/simpler):

* `abg_paged_attention(version=1)`: tests/device_tests/a2a3/aicpu_build_graph/paged_attention/kernels/
  orchestration/paged_attention_orch.cpp @ dddb9a39f (the last commit of the first aicpu_build_graph). Per
  KV block: add_task QK, SF, PV; add_successor_conditional QK->SF, SF->PV; publish QK, SF, PV; add_task UP;
  add_successor_conditional PV->UP and (bn > 0) UP_prev->UP; publish UP. No hidden tasks: intermediates
  and accumulators are `device_malloc`ed by the builder (external buffers here). Per-block intermediates
  are indexed `b * max_num_blocks + bn` (shared by every head tile of a batch, as in the C++).
  The scenario's scope brackets mark publish groups: the tasks inside are published together at the
  bracket's end (that runtime has no scopes); a task outside a bracket is published right after its edges.
* `abg_paged_attention(version=2)`: tests/st/a2a3/aicpu_build_graph/paged_attention/kernels/orchestration/
  paged_attention_orch.cpp @ d7ed5302b (the last commit before the runtime's removal, #701). One PTO2_SCOPE
  per (batch, q tile): a hub task (AIV kernel FUNC_AIV_HUB = 5) creates the accumulators; per block QK, SF
  (dep QK), PV (dep SF), UP (deps SF, PV, previous UP or the hub). Tasks are published at scope end.
* `hbg_paged_attention(...)`: tests/st/a2a3/host_build_graph/paged_attention/kernels/orchestration/
  paged_attention_orch.cpp @ 6ebaf7715, the same program as tensormap_and_ringbuffer's example (alloc_tensors,
  TensorMap dependencies), run by the host before the device starts.

Task counts: version 1 has batch x q_loop x blocks x 4 tasks (`abg_expected_task_count`); version 2 adds one
hub per (batch, q tile); host_build_graph has tensormap_and_ringbuffer's count (4 per block + 1 alloc per tile).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from model.builders.paged_attention import (
    FUNC_ONLINE_UPDATE,
    FUNC_PV_MATMUL,
    FUNC_QK_MATMUL,
    FUNC_SOFTMAX_PREPARE,
    SMALL_BLOCK_SIZE,
    SMALL_HEAD_DIM,
    SMALL_HEADS,
    paged_attention,
)
from model.scenario import (
    Arg,
    Buffer,
    Config,
    DepKind,
    Expected,
    ExplicitDep,
    Op,
    OutputSpec,
    Region,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    Submit,
    Tag,
    row_major_strides,
    validate,
)

FUNC_AIV_HUB = 5  # v2 example's hub kernel: zero-initialises the accumulators

ABG_V1_SOURCE = (
    "tests/device_tests/a2a3/aicpu_build_graph/paged_attention/kernels/orchestration/paged_attention_orch.cpp"
    " @ simpler dddb9a39f"
)
ABG_V2_SOURCE = "tests/st/a2a3/aicpu_build_graph/paged_attention/kernels/orchestration/paged_attention_orch.cpp @ simpler d7ed5302b"
HBG_SOURCE = "tests/st/a2a3/host_build_graph/paged_attention/kernels/orchestration/paged_attention_orch.cpp @ simpler 6ebaf7715"

ABG_CONFIG = Config(scheduler_threads=3, clusters=24)
"""The v1 example's kernel_config.py: aicpu_thread_num 4 (1 builder + 3 schedulers), block_dim 24."""

SMALL_CHECK_CONFIG = Config(task_window=(16, 16, 16, 16), scheduler_threads=2, clusters=1)
"""Model-checking size: 2 scheduler threads, one cluster (1 AIC + 2 AIV cores)."""


def _ceil_div(a: int, b: int) -> int:
    return (a + b - 1) // b


def _contexts(batch: int, context_lens: int | Sequence[int]) -> tuple[int, ...]:
    ctx = (context_lens,) * batch if isinstance(context_lens, int) else tuple(context_lens)
    if len(ctx) != batch or any(c < 1 for c in ctx):
        raise ValueError(f"context_lens {context_lens!r} must give one length >= 1 per batch ({batch})")
    return ctx


def _tiling(num_heads: int) -> tuple[int, int]:
    tile = min(num_heads, 128)
    return tile, _ceil_div(num_heads, tile)


def abg_expected_task_count(
    batch: int, num_heads: int, block_size: int, context_lens: int | Sequence[int], *, version: int = 1
) -> int:
    """4 tasks per (batch, q tile, KV block); version 2 adds one hub task per (batch, q tile)."""
    ctx = _contexts(batch, context_lens)
    _, q_loop = _tiling(num_heads)
    kernel = 4 * q_loop * sum(_ceil_div(c, block_size) for c in ctx)
    return kernel + (batch * q_loop if version == 2 else 0)


def _full(buffer: str, shape: Sequence[int]) -> Region:
    return Region(buffer, tuple(shape), row_major_strides(shape))


def _rows(buffer: str, parent: Sequence[int], rows: int, first_row: int) -> Region:
    strides = row_major_strides(parent)
    return Region(buffer, (rows, *parent[1:]), strides, offset=first_row * strides[0])


def abg_paged_attention(
    batch: int,
    num_heads: int,
    head_dim: int,
    block_size: int,
    context_lens: int | Sequence[int],
    *,
    version: int = 1,
    block_table: Sequence[Sequence[int]] | None = None,
    dtype: str = "BFLOAT16",
    config: Config | None = None,
    name: str | None = None,
) -> Scenario:
    """The aicpu_build_graph paged-attention builder program (see the module docstring)."""
    if version not in (1, 2):
        raise ValueError(f"aicpu_build_graph version must be 1 or 2, got {version}")
    ctx = _contexts(batch, context_lens)
    tile, q_loop = _tiling(num_heads)
    nbns = [_ceil_div(c, block_size) for c in ctx]
    max_bn = max(nbns)
    total_blocks = batch * max_bn
    rows = (
        tuple(tuple(b * max_bn + bn for bn in range(n)) for b, n in enumerate(nbns))
        if block_table is None
        else tuple(tuple(r) for r in block_table)
    )
    q_shape = (batch * num_heads, head_dim)
    kv_shape = (total_blocks * block_size, head_dim)
    buffers: list[Buffer] = [
        Buffer("query", dtype, q_shape[0] * head_dim, external=True),
        Buffer("key_cache", dtype, kv_shape[0] * head_dim, external=True),
        Buffer("value_cache", dtype, kv_shape[0] * head_dim, external=True),
        Buffer("block_table", "INT32", batch * max_bn, external=True),
        Buffer("context_lens", "INT32", batch, external=True),
        Buffer("out", "FLOAT32", q_shape[0] * head_dim, external=True),
    ]
    tile2d, scalar, sij_shape = (tile, head_dim), (tile,), (tile, block_size)
    if version == 1:
        # dev_*_arr[b * max_num_blocks + bn] and the per-(batch, head tile) accumulators: device_malloc'd.
        for b in range(batch):
            for bn in range(max_bn):
                i = b * max_bn + bn
                buffers += [
                    Buffer(f"sij_{i}", "FLOAT32", tile * block_size, external=True),
                    Buffer(f"pij_{i}", dtype, tile * block_size, external=True),
                    Buffer(f"mij_{i}", "FLOAT32", tile, external=True),
                    Buffer(f"lij_{i}", "FLOAT32", tile, external=True),
                    Buffer(f"oi_new_{i}", "FLOAT32", tile * head_dim, external=True),
                ]
            for q in range(q_loop):
                a = b * q_loop + q
                buffers += [
                    Buffer(f"mi_{a}", "FLOAT32", tile, external=True),
                    Buffer(f"li_{a}", "FLOAT32", tile, external=True),
                    Buffer(f"oi_{a}", "FLOAT32", tile * head_dim, external=True),
                ]
    wr = DepKind.WAIT_RETAIN
    prog: list[Op] = []
    for b in range(batch):
        for q in range(q_loop):
            sfx = f"b{b}_q{q}"
            first_row = b * num_heads + q * tile
            qi = _rows("query", q_shape, tile, first_row)
            out_view = _rows("out", q_shape, tile, first_row)
            prev_up: str | None = None
            if version == 2:
                prog.append(ScopeBegin())
                hub = f"HUB_{sfx}"
                oi, li_up, mi_up = f"oi_{sfx}", f"li_update_{sfx}", f"mi_update_{sfx}"
                prog.append(
                    Submit(
                        hub,
                        (-1, FUNC_AIV_HUB, -1),
                        (
                            Arg(Tag.OUTPUT, creates=OutputSpec(oi, tile2d, "FLOAT32")),
                            Arg(Tag.OUTPUT, creates=OutputSpec(li_up, scalar, "FLOAT32")),
                            Arg(Tag.OUTPUT, creates=OutputSpec(mi_up, scalar, "FLOAT32")),
                        ),
                    )
                )
                prev_up = hub
            else:
                a = b * q_loop + q
                oi, li_up, mi_up = f"oi_{a}", f"li_{a}", f"mi_{a}"
            for bn in range(nbns[b]):
                s = f"{sfx}_bn{bn}"
                qk, sf, pv, up = f"QK_{s}", f"SF_{s}", f"PV_{s}", f"UP_{s}"
                blk = rows[b][bn]
                kj = _rows("key_cache", kv_shape, block_size, blk * block_size)
                vj = _rows("value_cache", kv_shape, block_size, blk * block_size)
                if version == 1:
                    i = b * max_bn + bn
                    sij, pij, mij, lij, oi_new = f"sij_{i}", f"pij_{i}", f"mij_{i}", f"lij_{i}", f"oi_new_{i}"
                    prog.append(ScopeBegin())  # publish group: QK, SF, PV are published after their edges
                    qk_out = Arg(Tag.OUTPUT_EXISTING, _full(sij, sij_shape))
                    sf_outs: tuple[Arg, ...] = (
                        Arg(Tag.OUTPUT_EXISTING, _full(pij, sij_shape)),
                        Arg(Tag.OUTPUT_EXISTING, _full(mij, scalar)),
                        Arg(Tag.OUTPUT_EXISTING, _full(lij, scalar)),
                    )
                    pv_out = Arg(Tag.OUTPUT_EXISTING, _full(oi_new, tile2d))
                else:
                    sij, pij, mij, lij, oi_new = f"sij_{s}", f"pij_{s}", f"mi_{s}", f"li_{s}", f"oi_tmp_{s}"
                    qk_out = Arg(Tag.OUTPUT, creates=OutputSpec(sij, sij_shape, "FLOAT32"))
                    sf_outs = (
                        Arg(Tag.OUTPUT, creates=OutputSpec(pij, sij_shape, dtype)),
                        Arg(Tag.OUTPUT, creates=OutputSpec(mij, scalar, "FLOAT32")),
                        Arg(Tag.OUTPUT, creates=OutputSpec(lij, scalar, "FLOAT32")),
                    )
                    pv_out = Arg(Tag.OUTPUT, creates=OutputSpec(oi_new, tile2d, "FLOAT32"))
                prog.append(
                    Submit(qk, (FUNC_QK_MATMUL, -1, -1), (Arg(Tag.INPUT, qi), Arg(Tag.INPUT, kj), qk_out))
                )
                prog.append(
                    Submit(
                        sf,
                        (-1, FUNC_SOFTMAX_PREPARE, -1),
                        (Arg(Tag.INPUT, _full(sij, sij_shape)), *sf_outs),
                        deps=(ExplicitDep(qk, wr),),
                    )
                )
                prog.append(
                    Submit(
                        pv,
                        (FUNC_PV_MATMUL, -1, -1),
                        (Arg(Tag.INPUT, _full(pij, sij_shape)), Arg(Tag.INPUT, vj), pv_out),
                        deps=(ExplicitDep(sf, wr),),
                    )
                )
                if version == 1:
                    prog.append(ScopeEnd())
                    up_deps = [ExplicitDep(pv, wr)] + ([ExplicitDep(prev_up, wr)] if prev_up else [])
                else:
                    assert prev_up is not None
                    up_deps = [ExplicitDep(sf, wr), ExplicitDep(pv, wr), ExplicitDep(prev_up, wr)]
                prog.append(
                    Submit(
                        up,
                        (-1, FUNC_ONLINE_UPDATE, -1),
                        (
                            Arg(Tag.INPUT, _full(mij, scalar)),
                            Arg(Tag.INPUT, _full(lij, scalar)),
                            Arg(Tag.INPUT, _full(oi_new, tile2d)),
                            Arg(Tag.INOUT, _full(mi_up, scalar)),
                            Arg(Tag.INOUT, _full(li_up, scalar)),
                            Arg(Tag.INOUT, _full(oi, tile2d)),
                            Arg(Tag.INOUT, out_view),
                        ),
                        deps=tuple(up_deps),
                    )
                )
                prev_up = up
            if version == 2:
                prog.append(ScopeEnd())
    count = abg_expected_task_count(batch, num_heads, block_size, ctx, version=version)
    scenario = Scenario(
        name=name or f"abg{version}_paged_attention_b{batch}_h{num_heads}_d{head_dim}_bs{block_size}",
        config=config or ABG_CONFIG,
        buffers=tuple(buffers),
        program=tuple(prog),
        runtime="aicpu_build_graph" if version == 1 else "aicpu_build_graph_v2",
        description=(
            f"{ABG_V1_SOURCE if version == 1 else ABG_V2_SOURCE}: batch={batch} heads={num_heads} "
            f"head_dim={head_dim} block_size={block_size} context_lens={list(ctx)} q_tile={tile}; {count} tasks"
        ),
    )
    return validate(scenario)


def hbg_paged_attention(
    batch: int,
    num_heads: int,
    head_dim: int,
    block_size: int,
    context_lens: int | Sequence[int],
    *,
    config: Config | None = None,
    name: str | None = None,
    expected: Expected | None = None,
) -> Scenario:
    """host_build_graph's paged attention: tensormap_and_ringbuffer's program, run by the host."""
    base = paged_attention(
        batch, num_heads, head_dim, block_size, context_lens, config=config, expected=expected
    )
    return validate(
        replace(
            base,
            name=name or f"hbg_paged_attention_b{batch}_h{num_heads}_d{head_dim}_bs{block_size}",
            runtime="host_build_graph",
            description=HBG_SOURCE + base.description[base.description.index(":") :],
        )
    )


# ------------------------------------------------------------------------------------------ named cases


def abg_pa_two_blocks() -> Scenario:
    """batch 1, 16 heads, head_dim 16, block 16, ctx 32: 2 KV blocks, 8 tasks; 2 schedulers, 1 cluster."""
    return abg_paged_attention(
        1,
        SMALL_HEADS,
        SMALL_HEAD_DIM,
        SMALL_BLOCK_SIZE,
        (32,),
        config=SMALL_CHECK_CONFIG,
        name="abg_pa_two_blocks",
    )


def abg_pa_two_blocks_sequential() -> Scenario:
    """`abg_pa_two_blocks` with PTO_AICPU_BUILD_GRAPH_BUILD_MODE=0 (build, then schedule): the
    `serial_orch_sched` knob, the same meaning as on tensormap_and_ringbuffer."""
    return replace(
        abg_pa_two_blocks(),
        name="abg_pa_two_blocks_sequential",
        config=replace(SMALL_CHECK_CONFIG, serial_orch_sched=True),
    )


def abg2_pa_two_blocks() -> Scenario:
    """The v2 program at the same size: 1 hub + 8 tasks in one scope."""
    return abg_paged_attention(
        1,
        SMALL_HEADS,
        SMALL_HEAD_DIM,
        SMALL_BLOCK_SIZE,
        (32,),
        version=2,
        config=SMALL_CHECK_CONFIG,
        name="abg2_pa_two_blocks",
    )


def abg_pa_var_seq4() -> Scenario:
    """CaseVarSeq4 sizes (ctx [33, 64, 128, 15]) on aicpu_build_graph v1 with the example's config."""
    return abg_paged_attention(
        4, SMALL_HEADS, SMALL_HEAD_DIM, SMALL_BLOCK_SIZE, (33, 64, 128, 15), name="abg_pa_var_seq4"
    )


def hbg_pa_two_blocks() -> Scenario:
    """tensormap_and_ringbuffer's pa_two_blocks program on host_build_graph (one 16-slot ring)."""
    return hbg_paged_attention(
        1,
        SMALL_HEADS,
        SMALL_HEAD_DIM,
        SMALL_BLOCK_SIZE,
        (32,),
        config=SMALL_CHECK_CONFIG,
        name="hbg_pa_two_blocks",
    )


def hbg_pa_var_seq4() -> Scenario:
    """CaseVarSeq4 sizes on host_build_graph (the simulator config: 3 schedulers, 8 clusters)."""
    return hbg_paged_attention(
        4, SMALL_HEADS, SMALL_HEAD_DIM, SMALL_BLOCK_SIZE, (33, 64, 128, 15), name="hbg_pa_var_seq4"
    )
