"""Paged-attention scenarios: the orchestration programs of the simpler paged-attention workloads, task by task.

Sources (hw-native-sys/simpler @ 6ebaf7715):

* `paged_attention(...)`: examples/a2a3/tensormap_and_ringbuffer/paged_attention/kernels/orchestration/
  paged_attention_orch.cpp (AUTO scopes), and with `manual_scope=True`
  examples/a2a3/tensormap_and_ringbuffer/paged_attention_manual_scope/kernels/orchestration/paged_attention_orch.cpp
  (one MANUAL scope per (batch, q tile), explicit `set_dependencies` / `add_dep` edges).
* `batched_paged_attention(...)`: tests/st/a2a3/tensormap_and_ringbuffer/batch_paged_attention/kernels/
  orchestration/paged_attention_orch.cpp (chunks of 16 batches, whole tensors, `out` with manual_dep).
* `spmd_paged_attention(...)`: tests/st/a2a3/tensormap_and_ringbuffer/spmd_paged_attention/kernels/
  orchestration/spmd_paged_attention_orch.cpp (one MIX task, block_num 24).

Inputs follow simpler_setup/goldens/paged_attention.py: query [B,H,D], key/value cache [NB,bs,1,D] with
NB = B * ceil(max(ctx)/bs), block_table [B, max_model_len//bs] INT32, context_lens [B] INT32, out [B,H,D]
FLOAT32. The orchestrations flatten them to 2-D (`make_tensor_external`): query/out [B*H, D],
key/value [NB*bs, D]. The golden's block table is random and unseeded; the `case_*` helpers use the tables
recovered from the real traces (notes/examples.md §1.1).

Task counts (`expected_task_count`): 4 * q_loop * sum_b ceil(ctx_b/bs) submits, plus B * q_loop hidden
alloc tasks (`alloc_tensors`), for both the AUTO and the MANUAL variant.
"""

from __future__ import annotations

from collections.abc import Sequence

from model.scenario import (
    Alloc,
    Arg,
    Buffer,
    Config,
    DepKind,
    Expected,
    ExplicitDep,
    FatalCode,
    Op,
    OutputSpec,
    Region,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    ScopeMode,
    Submit,
    Tag,
    TensorData,
    row_major_strides,
    validate,
)

# Kernel ids of the four incores (FUNC_QK_MATMUL, FUNC_SOFTMAX_PREPARE, FUNC_PV_MATMUL, FUNC_ONLINE_UPDATE).
FUNC_QK_MATMUL = 0
FUNC_SOFTMAX_PREPARE = 1
FUNC_PV_MATMUL = 2
FUNC_ONLINE_UPDATE = 3

SIM_CONFIG = Config(scheduler_threads=3, clusters=8)
"""The a2a3sim platform the traces were captured on: 3 scheduler threads + 1 orchestrator (aicpu_thread_num 4)
and block_dim 8 (8 clusters of AIC + 2 AIV = 24 AICore threads); every other knob at its default."""

# The tests' common "small" parameters (test_paged_attention.py CaseSmall1 .. CaseVarSeq4).
SMALL_HEADS = 16
SMALL_HEAD_DIM = 16
SMALL_BLOCK_SIZE = 16
SMALL_MAX_MODEL_LEN = 256

CASE_SMALL1_BLOCK_TABLE: tuple[tuple[int, ...], ...] = ((1, 1, 2),)
"""CaseSmall1 block table row b0 (the entries the program reads), recovered from the real trace."""

CASE_VAR_SEQ4_CONTEXT_LENS = (33, 64, 128, 15)
CASE_VAR_SEQ4_BLOCK_TABLE: tuple[tuple[int, ...], ...] = (
    (8, 7, 28),
    (11, 2, 30, 19),
    (19, 11, 9, 7, 22, 25, 14, 4),
    (9,),
)
"""CaseVarSeq4 block table of the AUTO-scope window-8 trace (pa_casevarseq4_window8)."""

CASE_VAR_SEQ4_MANUAL_BLOCK_TABLE: tuple[tuple[int, ...], ...] = (
    (31, 18, 23),
    (14, 8, 22, 5),
    (3, 12, 5, 17, 19, 8, 21, 11),
    (8,),
)
"""CaseVarSeq4 block table of the manual-scope trace (pa_manual_scope_casevarseq4)."""


# --------------------------------------------------------------------------------------------- helpers


def _ceil_div(a: int, b: int) -> int:
    return (a + b - 1) // b


def _full(buffer: str, shape: Sequence[int]) -> Region:
    """The whole tensor as passed without a view (row-major, offset 0)."""
    return Region(buffer, tuple(shape), row_major_strides(shape))


def _view(buffer: str, parent_shape: Sequence[int], shape: Sequence[int], offsets: Sequence[int]) -> Region:
    """`ChipTensor::view(shape, offsets)` of a row-major parent: start_offset += sum(off_i * stride_i),
    the parent's strides kept (TI/tensor.h)."""
    strides = row_major_strides(parent_shape)
    start = sum(o * s for o, s in zip(offsets, strides, strict=True))
    return Region(buffer, tuple(shape), strides, offset=start)


def _element(buffer: str, shape: Sequence[int], index: Sequence[int]) -> Region:
    """The single element `get_tensor_data(tensor, ndims, index)` reads."""
    strides = row_major_strides(shape)
    return Region(
        buffer, (1,) * len(shape), strides, offset=sum(i * s for i, s in zip(index, strides, strict=True))
    )


def _contexts(batch: int, context_lens: int | Sequence[int]) -> tuple[int, ...]:
    ctx = (context_lens,) * batch if isinstance(context_lens, int) else tuple(context_lens)
    if len(ctx) != batch:
        raise ValueError(f"context_lens has {len(ctx)} entries for batch {batch}")
    if any(c < 1 for c in ctx):
        raise ValueError("every context length must be >= 1 (the golden asserts it)")
    return ctx


def _q_tiling(num_heads: int, q_tile: int | None) -> tuple[int, int]:
    tile = min(num_heads, 128) if q_tile is None else q_tile
    if not 1 <= tile <= num_heads:
        raise ValueError(f"q_tile {tile} must be in 1..num_heads ({num_heads})")
    if num_heads % tile:
        # The C++ would view [q_tile, D] rows past the batch's heads (past the buffer for the last batch).
        raise ValueError(
            f"num_heads {num_heads} must be a multiple of q_tile {tile} (a ragged tile overruns query)"
        )
    return tile, _ceil_div(num_heads, tile)


def _block_table(
    ctx: Sequence[int], block_size: int, block_table: Sequence[Sequence[int]] | None, total_blocks: int
) -> tuple[tuple[int, ...], ...]:
    """The block table rows (at least the entries the program reads). Default: batch b's block bn is
    b * max_bn + bn, a valid, collision-free table (the golden's is random)."""
    nbns = [_ceil_div(c, block_size) for c in ctx]
    if block_table is None:
        max_bn = max(nbns)
        return tuple(tuple(b * max_bn + bn for bn in range(n)) for b, n in enumerate(nbns))
    rows = tuple(tuple(r) for r in block_table)
    if len(rows) != len(ctx):
        raise ValueError(f"block_table has {len(rows)} rows for batch {len(ctx)}")
    for b, (row, n) in enumerate(zip(rows, nbns, strict=True)):
        if len(row) < n:
            raise ValueError(f"block_table row {b} has {len(row)} entries, the program reads {n}")
        if any(not 0 <= blk < total_blocks for blk in row[:n]):
            raise ValueError(f"block_table row {b} names a block outside 0..{total_blocks - 1}")
    return rows


def _pa_buffers(
    batch: int,
    num_heads: int,
    head_dim: int,
    block_size: int,
    ctx: Sequence[int],
    dtype: str,
    blocks_per_req: int,
) -> tuple[tuple[Buffer, ...], dict[str, tuple[int, ...]]]:
    """The six external tensors, with the 2-D shapes the orchestrations give them."""
    total_blocks = batch * _ceil_div(max(ctx), block_size)
    shapes: dict[str, tuple[int, ...]] = {
        "query": (batch * num_heads, head_dim),
        "key_cache": (total_blocks * block_size, head_dim),
        "value_cache": (total_blocks * block_size, head_dim),
        "block_table": (batch, blocks_per_req),
        "context_lens": (batch,),
        "out": (batch * num_heads, head_dim),
    }
    dtypes = {
        "query": dtype,
        "key_cache": dtype,
        "value_cache": dtype,
        "block_table": "INT32",
        "context_lens": "INT32",
        "out": "FLOAT32",
    }
    buffers = tuple(Buffer(n, dtypes[n], _numel(s), external=True) for n, s in shapes.items())
    return buffers, shapes


def _numel(shape: Sequence[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def expected_task_count(
    batch: int,
    num_heads: int,
    block_size: int,
    context_lens: int | Sequence[int],
    *,
    q_tile: int | None = None,
    include_allocs: bool = True,
) -> int:
    """Tasks of `paged_attention(...)` (AUTO or MANUAL): 4 * q_loop * sum_b ceil(ctx_b/bs) submits (QK, SF,
    PV, UP per KV block), plus B * q_loop hidden alloc tasks when `include_allocs`."""
    ctx = _contexts(batch, context_lens)
    _, q_loop = _q_tiling(num_heads, q_tile)
    submits = 4 * q_loop * sum(_ceil_div(c, block_size) for c in ctx)
    return submits + (batch * q_loop if include_allocs else 0)


# ------------------------------------------------------------------------------------- paged attention


def paged_attention(
    batch: int,
    num_heads: int,
    head_dim: int,
    block_size: int,
    context_lens: int | Sequence[int],
    *,
    block_table: Sequence[Sequence[int]] | None = None,
    q_tile: int | None = None,
    dtype: str = "BFLOAT16",
    manual_scope: bool = False,
    max_model_len: int | None = None,
    config: Config | None = None,
    name: str | None = None,
    expected: Expected | None = None,
) -> Scenario:
    """The paged-attention orchestration (`paged_attention_orch.cpp`), or with `manual_scope=True` the
    manual-scope one (`paged_attention_manual_scope/.../paged_attention_orch.cpp`).

    AUTO: per batch b (after `get_tensor_data(context_lens, [b])` at depth 0) and q tile, one AUTO scope at
    depth 1 (ring 1) holding `alloc_tensors(oi [q_tile,D] F32, li_update [q_tile] F32, mi_update [q_tile] F32)`,
    then per KV block one AUTO scope at depth 2 (ring 2): `get_tensor_data(block_table, [b, bn])`,
    QK = aic(0, {IN qi, IN kj, OUT sij [q_tile,bs] F32}), SF = aiv(1, {IN sij[:, :valid_len], OUT pij [q_tile,bs]
    dt, OUT mi [q_tile] F32, OUT li [q_tile] F32}), PV = aic(2, {IN pij, IN vj, OUT oi_tmp [q_tile,D] F32}),
    UP = aiv(3, {IN mi, IN li, IN oi_tmp, INOUT mi_update, INOUT li_update, INOUT oi, INOUT out_view}).

    MANUAL: one MANUAL scope per (b, q tile) at depth 1 (ring 1) holding the alloc and every block's four
    tasks (no inner scope); SF depends on QK, PV on SF, UP on PV, on the previous UP and (last block only) on
    the alloc, all WAIT|RETAIN (`set_dependencies` / `add_dep`).

    `q_tile` defaults to the C++'s min(num_heads, 128); `max_model_len` sizes the block table
    ([B, max_model_len // bs]; default: just the blocks read). `block_table` rows must cover the blocks read;
    default: a synthetic collision-free table.
    """
    ctx = _contexts(batch, context_lens)
    tile, q_loop = _q_tiling(num_heads, q_tile)
    nbns = [_ceil_div(c, block_size) for c in ctx]
    total_blocks = batch * max(nbns)
    rows = _block_table(ctx, block_size, block_table, total_blocks)
    blocks_per_req = max_model_len // block_size if max_model_len is not None else max(len(r) for r in rows)
    if blocks_per_req < max(nbns):
        raise ValueError(
            f"max_model_len gives {blocks_per_req} blocks per request, the program reads {max(nbns)}"
        )
    buffers, shapes = _pa_buffers(batch, num_heads, head_dim, block_size, ctx, dtype, blocks_per_req)
    tile2d = (tile, head_dim)
    scalar = (tile,)
    sij_shape = (tile, block_size)
    wr = DepKind.WAIT_RETAIN

    prog: list[Op] = []
    for b in range(batch):
        prog.append(TensorData(False, _element("context_lens", shapes["context_lens"], (b,))))
        cur_seq = ctx[b]
        nbn = nbns[b]
        for q in range(q_loop):
            prog.append(ScopeBegin(ScopeMode.MANUAL if manual_scope else ScopeMode.AUTO))
            cur_offset = b * num_heads + q * tile
            qi = _view("query", shapes["query"], tile2d, (cur_offset, 0))
            out_view = _view("out", shapes["out"], tile2d, (cur_offset, 0))
            sfx = f"b{b}_q{q}"
            alloc = f"A_{sfx}"
            oi, li_update, mi_update = f"oi_{sfx}", f"li_update_{sfx}", f"mi_update_{sfx}"
            prog.append(
                Alloc(
                    alloc,
                    (
                        OutputSpec(oi, tile2d, "FLOAT32"),
                        OutputSpec(li_update, scalar, "FLOAT32"),
                        OutputSpec(mi_update, scalar, "FLOAT32"),
                    ),
                )
            )
            prev_up: str | None = None
            for bn in range(nbn):
                if not manual_scope:
                    prog.append(ScopeBegin(ScopeMode.AUTO))  # PTO2_SCOPE_GUARD()
                prog.append(TensorData(False, _element("block_table", shapes["block_table"], (b, bn))))
                blk = rows[b][bn]
                valid_len = min(block_size, cur_seq - bn * block_size)
                kv_shape = (block_size, head_dim)
                kj = _view("key_cache", shapes["key_cache"], kv_shape, (blk * block_size, 0))
                vj = _view("value_cache", shapes["value_cache"], kv_shape, (blk * block_size, 0))
                s = f"{sfx}_bn{bn}"
                qk, sf, pv, up = f"QK_{s}", f"SF_{s}", f"PV_{s}", f"UP_{s}"
                sij, pij, mi, li, oi_tmp = f"sij_{s}", f"pij_{s}", f"mi_{s}", f"li_{s}", f"oi_tmp_{s}"
                prog.append(
                    Submit(
                        qk,
                        (FUNC_QK_MATMUL, -1, -1),
                        (
                            Arg(Tag.INPUT, qi),
                            Arg(Tag.INPUT, kj),
                            Arg(Tag.OUTPUT, creates=OutputSpec(sij, sij_shape, "FLOAT32")),
                        ),
                    )
                )
                sij_valid = _view(sij, sij_shape, (tile, valid_len), (0, 0))
                prog.append(
                    Submit(
                        sf,
                        (-1, FUNC_SOFTMAX_PREPARE, -1),
                        (
                            Arg(Tag.INPUT, sij_valid),
                            Arg(Tag.OUTPUT, creates=OutputSpec(pij, sij_shape, dtype)),
                            Arg(Tag.OUTPUT, creates=OutputSpec(mi, scalar, "FLOAT32")),
                            Arg(Tag.OUTPUT, creates=OutputSpec(li, scalar, "FLOAT32")),
                        ),
                        deps=(ExplicitDep(qk, wr),) if manual_scope else (),
                    )
                )
                prog.append(
                    Submit(
                        pv,
                        (FUNC_PV_MATMUL, -1, -1),
                        (
                            Arg(Tag.INPUT, _full(pij, sij_shape)),
                            Arg(Tag.INPUT, vj),
                            Arg(Tag.OUTPUT, creates=OutputSpec(oi_tmp, tile2d, "FLOAT32")),
                        ),
                        deps=(ExplicitDep(sf, wr),) if manual_scope else (),
                    )
                )
                up_deps: list[ExplicitDep] = []
                if manual_scope:
                    up_deps.append(ExplicitDep(pv, wr))
                    if prev_up is not None:
                        up_deps.append(ExplicitDep(prev_up, wr))
                    if bn == nbn - 1:
                        up_deps.append(ExplicitDep(alloc, wr))
                prog.append(
                    Submit(
                        up,
                        (-1, FUNC_ONLINE_UPDATE, -1),
                        (
                            Arg(Tag.INPUT, _full(mi, scalar)),
                            Arg(Tag.INPUT, _full(li, scalar)),
                            Arg(Tag.INPUT, _full(oi_tmp, tile2d)),
                            Arg(Tag.INOUT, _full(mi_update, scalar)),
                            Arg(Tag.INOUT, _full(li_update, scalar)),
                            Arg(Tag.INOUT, _full(oi, tile2d)),
                            Arg(Tag.INOUT, out_view),
                        ),
                        deps=tuple(up_deps),
                    )
                )
                prev_up = up
                if not manual_scope:
                    prog.append(ScopeEnd())
            prog.append(ScopeEnd())
    variant = "paged_attention_manual_scope" if manual_scope else "paged_attention"
    scenario = Scenario(
        name=name or f"{variant}_b{batch}_h{num_heads}_d{head_dim}_bs{block_size}",
        config=config or SIM_CONFIG,
        buffers=buffers,
        program=tuple(prog),
        expected=expected or Expected(),
        description=(
            f"examples/a2a3/tensormap_and_ringbuffer/{variant}/kernels/orchestration/paged_attention_orch.cpp "
            f"@ simpler 6ebaf7715: batch={batch} heads={num_heads} head_dim={head_dim} block_size={block_size} "
            f"context_lens={list(ctx)} q_tile={tile} dtype={dtype}; "
            f"{expected_task_count(batch, num_heads, block_size, ctx, q_tile=tile)} tasks incl. {batch * q_loop} allocs"
        ),
    )
    return validate(scenario)


# ----------------------------------------------------------------------------- batched paged attention

IN_CORE_BATCH = 16


def batched_expected_task_count(
    batch: int,
    num_heads: int,
    block_size: int,
    context_lens: int | Sequence[int],
    *,
    include_allocs: bool = True,
) -> int:
    """Tasks of `batched_paged_attention(...)`: q_loop * num_chunks * 4 * max_bn submits plus
    q_loop * num_chunks allocs (every chunk runs max_bn blocks, whatever its own context lengths)."""
    ctx = _contexts(batch, context_lens)
    _, q_loop = _q_tiling(num_heads, None)
    chunks = _ceil_div(batch, IN_CORE_BATCH)
    max_bn = max(_ceil_div(c, block_size) for c in ctx)
    return q_loop * chunks * 4 * max_bn + (q_loop * chunks if include_allocs else 0)


def batched_paged_attention(
    batch: int,
    num_heads: int,
    head_dim: int,
    block_size: int,
    context_lens: int | Sequence[int],
    *,
    dtype: str = "BFLOAT16",
    max_model_len: int = SMALL_MAX_MODEL_LEN,
    config: Config | None = None,
    name: str | None = None,
) -> Scenario:
    """tests/st/a2a3/tensormap_and_ringbuffer/batch_paged_attention/kernels/orchestration/paged_attention_orch.cpp.

    B reads `get_tensor_data(context_lens, [b])` at depth 0 give max_bn; then per q tile and chunk of 16
    batches one AUTO scope at depth 1 (ring 1) with `alloc_tensors(oi_batch [cb*q_tile,D] F32,
    li_batch [cb*q_tile] F32, mi_batch [cb*q_tile] F32)` and per bn < max_bn one AUTO scope at depth 2 (ring 2):
    QK = aic(0, {IN query, IN key_cache, IN block_table, OUT sij [cb*q_tile,bs] F32}),
    SF = aiv(1, {IN sij, IN context_lens, OUT pij [cb*q_tile,bs] dt, OUT mij, OUT lij [cb*q_tile] F32}),
    PV = aic(2, {IN pij, IN value_cache, IN block_table, OUT oi_new [cb*q_tile,D] F32}),
    UP = aiv(3, {IN mij, IN lij, IN oi_new, INOUT mi_batch, INOUT li_batch, INOUT oi_batch, INOUT out}).
    Whole tensors, no views; `out` is made with manual_dep=true (no TensorMap lookup or insert)."""
    ctx = _contexts(batch, context_lens)
    tile, q_loop = _q_tiling(num_heads, None)
    max_bn = max(_ceil_div(c, block_size) for c in ctx)
    blocks_per_req = max_model_len // block_size
    buffers, shapes = _pa_buffers(batch, num_heads, head_dim, block_size, ctx, dtype, blocks_per_req)
    chunks = _ceil_div(batch, IN_CORE_BATCH)
    prog: list[Op] = [
        TensorData(False, _element("context_lens", shapes["context_lens"], (b,))) for b in range(batch)
    ]
    for q in range(q_loop):
        for c in range(chunks):
            cb = min(IN_CORE_BATCH, batch - c * IN_CORE_BATCH)
            rows = cb * tile
            sfx = f"q{q}_c{c}"
            prog.append(ScopeBegin())
            alloc = f"A_{sfx}"
            oi_b, li_b, mi_b = f"oi_batch_{sfx}", f"li_batch_{sfx}", f"mi_batch_{sfx}"
            prog.append(
                Alloc(
                    alloc,
                    (
                        OutputSpec(oi_b, (rows, head_dim), "FLOAT32"),
                        OutputSpec(li_b, (rows,), "FLOAT32"),
                        OutputSpec(mi_b, (rows,), "FLOAT32"),
                    ),
                )
            )
            sij_shape = (rows, block_size)
            for bn in range(max_bn):
                prog.append(ScopeBegin())
                s = f"{sfx}_bn{bn}"
                sij, pij, mij, lij, oi_new = f"sij_{s}", f"pij_{s}", f"mij_{s}", f"lij_{s}", f"oi_new_{s}"
                prog.append(
                    Submit(
                        f"QK_{s}",
                        (FUNC_QK_MATMUL, -1, -1),
                        (
                            Arg(Tag.INPUT, _full("query", shapes["query"])),
                            Arg(Tag.INPUT, _full("key_cache", shapes["key_cache"])),
                            Arg(Tag.INPUT, _full("block_table", shapes["block_table"])),
                            Arg(Tag.OUTPUT, creates=OutputSpec(sij, sij_shape, "FLOAT32")),
                        ),
                    )
                )
                prog.append(
                    Submit(
                        f"SF_{s}",
                        (-1, FUNC_SOFTMAX_PREPARE, -1),
                        (
                            Arg(Tag.INPUT, _full(sij, sij_shape)),
                            Arg(Tag.INPUT, _full("context_lens", shapes["context_lens"])),
                            Arg(Tag.OUTPUT, creates=OutputSpec(pij, sij_shape, dtype)),
                            Arg(Tag.OUTPUT, creates=OutputSpec(mij, (rows,), "FLOAT32")),
                            Arg(Tag.OUTPUT, creates=OutputSpec(lij, (rows,), "FLOAT32")),
                        ),
                    )
                )
                prog.append(
                    Submit(
                        f"PV_{s}",
                        (FUNC_PV_MATMUL, -1, -1),
                        (
                            Arg(Tag.INPUT, _full(pij, sij_shape)),
                            Arg(Tag.INPUT, _full("value_cache", shapes["value_cache"])),
                            Arg(Tag.INPUT, _full("block_table", shapes["block_table"])),
                            Arg(Tag.OUTPUT, creates=OutputSpec(oi_new, (rows, head_dim), "FLOAT32")),
                        ),
                    )
                )
                prog.append(
                    Submit(
                        f"UP_{s}",
                        (-1, FUNC_ONLINE_UPDATE, -1),
                        (
                            Arg(Tag.INPUT, _full(mij, (rows,))),
                            Arg(Tag.INPUT, _full(lij, (rows,))),
                            Arg(Tag.INPUT, _full(oi_new, (rows, head_dim))),
                            Arg(Tag.INOUT, _full(mi_b, (rows,))),
                            Arg(Tag.INOUT, _full(li_b, (rows,))),
                            Arg(Tag.INOUT, _full(oi_b, (rows, head_dim))),
                            Arg(Tag.INOUT, _full("out", shapes["out"]), manual_dep=True),
                        ),
                    )
                )
                prog.append(ScopeEnd())
            prog.append(ScopeEnd())
    scenario = Scenario(
        name=name or f"batch_paged_attention_b{batch}_h{num_heads}_d{head_dim}_bs{block_size}",
        config=config or SIM_CONFIG,
        buffers=buffers,
        program=tuple(prog),
        description=(
            "tests/st/a2a3/tensormap_and_ringbuffer/batch_paged_attention/kernels/orchestration/"
            f"paged_attention_orch.cpp @ simpler 6ebaf7715: batch={batch} heads={num_heads} head_dim={head_dim} "
            f"block_size={block_size} context_lens={list(ctx)} max_bn={max_bn}; "
            f"{batched_expected_task_count(batch, num_heads, block_size, ctx)} tasks incl. {q_loop * chunks} allocs"
        ),
    )
    return validate(scenario)


# -------------------------------------------------------------------------------- SPMD paged attention

SPMD_BLOCK_NUM = 24
_MAX_Q_TILE = 64
_HEAD_DIM = 128
_MAX_BLOCK_SIZE = 128
_FIFO_DEPTH = 2
FUNC_PA_AIC = 0
FUNC_PA_AIV = 1


def spmd_paged_attention(
    batch: int = 24,
    num_heads: int = 16,
    head_dim: int = 128,
    block_size: int = 128,
    context_lens: int | Sequence[int] = 8192,
    *,
    dtype: str = "BFLOAT16",
    max_model_len: int = 32768,
    config: Config | None = None,
    name: str | None = None,
) -> Scenario:
    """tests/st/a2a3/tensormap_and_ringbuffer/spmd_paged_attention/kernels/orchestration/spmd_paged_attention_orch.cpp.

    One AUTO scope at depth 1 (ring 1) with one MIX task (aic 0, aiv0 1, aiv1 1), block_num 24:
    {IN query, IN key_cache, IN value_cache, IN block_table, IN context_lens, INOUT out,
    OUT sij_fifo [393216] INT32, OUT pij_fifo [196608] INT32, OUT oi_fifo [393216] INT32} (GM FIFOs sized for
    24 blocks x 2 slots of the maximal tile). No `get_tensor_data`. Defaults: the test's SmallCase1
    (hardware only; a2a3 Config: 24 clusters)."""
    ctx = _contexts(batch, context_lens)
    blocks_per_req = max_model_len // block_size
    buffers, shapes = _pa_buffers(batch, num_heads, head_dim, block_size, ctx, dtype, blocks_per_req)
    sij_fifo = SPMD_BLOCK_NUM * _MAX_Q_TILE * _MAX_BLOCK_SIZE * 4 * _FIFO_DEPTH // 4
    pij_fifo = SPMD_BLOCK_NUM * _MAX_Q_TILE * _MAX_BLOCK_SIZE * 2 * _FIFO_DEPTH // 4
    oi_fifo = SPMD_BLOCK_NUM * _MAX_Q_TILE * _HEAD_DIM * 4 * _FIFO_DEPTH // 4
    task = Submit(
        "PA_MIX",
        (FUNC_PA_AIC, FUNC_PA_AIV, FUNC_PA_AIV),
        (
            Arg(Tag.INPUT, _full("query", shapes["query"])),
            Arg(Tag.INPUT, _full("key_cache", shapes["key_cache"])),
            Arg(Tag.INPUT, _full("value_cache", shapes["value_cache"])),
            Arg(Tag.INPUT, _full("block_table", shapes["block_table"])),
            Arg(Tag.INPUT, _full("context_lens", shapes["context_lens"])),
            Arg(Tag.INOUT, _full("out", shapes["out"])),
            Arg(Tag.OUTPUT, creates=OutputSpec("sij_fifo", (sij_fifo,), "INT32")),
            Arg(Tag.OUTPUT, creates=OutputSpec("pij_fifo", (pij_fifo,), "INT32")),
            Arg(Tag.OUTPUT, creates=OutputSpec("oi_fifo", (oi_fifo,), "INT32")),
        ),
        block_num=SPMD_BLOCK_NUM,
    )
    scenario = Scenario(
        name=name or f"spmd_paged_attention_b{batch}_h{num_heads}_d{head_dim}_bs{block_size}",
        config=config or Config(),
        buffers=buffers,
        program=(ScopeBegin(), task, ScopeEnd()),
        description=(
            "tests/st/a2a3/tensormap_and_ringbuffer/spmd_paged_attention/kernels/orchestration/"
            f"spmd_paged_attention_orch.cpp @ simpler 6ebaf7715: batch={batch} heads={num_heads} "
            f"head_dim={head_dim} block_size={block_size}; 1 MIX task, block_num {SPMD_BLOCK_NUM}"
        ),
    )
    return validate(scenario)


# ------------------------------------------------------------------------------------------ named cases


def case_small1() -> Scenario:
    """test_paged_attention.py CaseSmall1 (batch 1, ctx 33: 3 blocks), trace pa_casesmall1."""
    return paged_attention(
        1,
        SMALL_HEADS,
        SMALL_HEAD_DIM,
        SMALL_BLOCK_SIZE,
        (33,),
        block_table=CASE_SMALL1_BLOCK_TABLE,
        max_model_len=SMALL_MAX_MODEL_LEN,
        name="pa_case_small1",
    )


def case_var_seq4(window: int | None = None) -> Scenario:
    """test_paged_attention.py CaseVarSeq4 (ctx [33, 64, 128, 15]); `window` sets every ring's task window
    (PTO2_RING_TASK_WINDOW, as the window-8 trace pa_casevarseq4_window8 did)."""
    cfg = (
        SIM_CONFIG
        if window is None
        else Config(
            task_window=(window,) * 4,
            scheduler_threads=SIM_CONFIG.scheduler_threads,
            clusters=SIM_CONFIG.clusters,
        )
    )
    return paged_attention(
        4,
        SMALL_HEADS,
        SMALL_HEAD_DIM,
        SMALL_BLOCK_SIZE,
        CASE_VAR_SEQ4_CONTEXT_LENS,
        block_table=CASE_VAR_SEQ4_BLOCK_TABLE,
        max_model_len=SMALL_MAX_MODEL_LEN,
        config=cfg,
        name="pa_var_seq4" if window is None else f"pa_var_seq4_window{window}",
    )


def case_var_seq4_manual() -> Scenario:
    """test_paged_attention_manual_scope.py CaseVarSeq4, trace pa_manual_scope_casevarseq4."""
    return paged_attention(
        4,
        SMALL_HEADS,
        SMALL_HEAD_DIM,
        SMALL_BLOCK_SIZE,
        CASE_VAR_SEQ4_CONTEXT_LENS,
        block_table=CASE_VAR_SEQ4_MANUAL_BLOCK_TABLE,
        manual_scope=True,
        max_model_len=SMALL_MAX_MODEL_LEN,
        name="pa_var_seq4_manual",
    )


def _two_blocks_config(ring2_window: int) -> Config:
    return Config(
        task_window=(4, 4, ring2_window, 4),
        heap_bytes=(4096, 4096, 8192, 4096),
        dep_pool=(16, 16, 16, 16),
        scheduler_threads=2,
        clusters=2,
    )


def pa_two_blocks_default() -> Scenario:
    """The model-checking default: batch 1, 16 heads, head_dim 16, block 16, ctx 32 (2 KV blocks: 8 submits
    + 1 alloc); windows (4, 4, 8, 4), heaps 4096 / 4096 / 8192 / 4096 bytes (ring 1 holds the 3072-byte
    alloc; ring 2 holds one 5120-byte block at a time), dep pools 16, 2 scheduler threads, 2 clusters.
    Expected: complete."""
    return paged_attention(
        1,
        SMALL_HEADS,
        SMALL_HEAD_DIM,
        SMALL_BLOCK_SIZE,
        (32,),
        config=_two_blocks_config(8),
        name="pa_two_blocks",
        expected=Expected(),
    )


def pa_scope_deadlock() -> Scenario:
    """`pa_two_blocks_default` with ring 2's window at 4: a block's 4-task scope cannot fit a 4-slot window.
    Expected: fatal SCOPE_DEADLOCK."""
    return paged_attention(
        1,
        SMALL_HEADS,
        SMALL_HEAD_DIM,
        SMALL_BLOCK_SIZE,
        (32,),
        config=_two_blocks_config(4),
        name="pa_scope_deadlock",
        expected=Expected(FatalCode.SCOPE_DEADLOCK),
    )
