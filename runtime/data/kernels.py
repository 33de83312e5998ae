"""The incore kernels the data oracle runs, on numpy arrays (no memory, no runtime state).

Paged attention (examples/a2a3/tensormap_and_ringbuffer/paged_attention/kernels and the batched variant
tests/st/a2a3/tensormap_and_ringbuffer/batch_paged_attention/kernels, simpler @ 6ebaf7715): bfloat16
operands (ml_dtypes), float32 accumulation, pij truncated to bfloat16 before its row sum (as the AIV
kernel's TCVT does), and the batched softmax-prepare's empty-block case (a block past the batch's
context length writes mij = -1e30, lij = 0, pij = 0, so the online update never computes
exp(-inf - -inf)). The vector example's kernel_add / kernel_add_scalar / kernel_mul. And a generic
kernel for random scenarios: every output element is a fixed function of the task id, the part
(block x subtask) and the bytes of everything the task read, so each output has exactly one correct value.
"""

from __future__ import annotations

import hashlib
from typing import Any

import ml_dtypes
import numpy as np
import numpy.typing as npt

F32 = np.float32
BF16 = np.dtype(ml_dtypes.bfloat16)
NEG_LARGE = np.float32(-1e30)  # aiv_softmax_prepare.cpp (batched): "-1e30 instead of -inf to avoid NaN"

Array = npt.NDArray[Any]


# ------------------------------------------------------------------------------------ paged attention


def qk_matmul(qi: Array, kj: Array) -> Array:
    """aic_qk_matmul: sij[M, N] = qi[M, K] @ kj[N, K]^T, bf16 operands, f32 accumulator."""
    out: Array = np.matmul(qi.astype(F32), kj.astype(F32).T).astype(F32)
    return out


def softmax_prepare(sij: Array, block_size: int, scale: float = 1.0) -> tuple[Array, Array, Array]:
    """aiv_softmax_prepare on the valid columns `sij[M, valid_len]`: columns [valid_len, block_size) are
    padded with -inf (TFILLPAD_INPLACE), then scale, row max, exp, pij -> bf16, row sum of the bf16 pij.
    valid_len 0 (a block entirely past the context, batched kernel only): mij = -1e30, lij = 0, pij = 0.
    Returns (pij bf16 [M, block_size], mij f32 [M], lij f32 [M])."""
    rows, valid = sij.shape
    if valid == 0:
        return (
            np.zeros((rows, block_size), dtype=BF16),
            np.full(rows, NEG_LARGE, dtype=F32),
            np.zeros(rows, dtype=F32),
        )
    padded = np.full((rows, block_size), -np.inf, dtype=F32)
    padded[:, :valid] = sij.astype(F32)
    scaled = padded * F32(scale)
    mij = scaled.max(axis=1).astype(F32)
    pij = np.exp(scaled - mij[:, None]).astype(F32).astype(BF16)
    lij = pij.astype(F32).sum(axis=1, dtype=F32)
    return pij, mij, lij


def pv_matmul(pij: Array, vj: Array) -> Array:
    """aic_pv_matmul: oi_new[M, N] = pij[M, K] @ vj[K, N], bf16 operands, f32 accumulator."""
    out: Array = np.matmul(pij.astype(F32), vj.astype(F32)).astype(F32)
    return out


def online_update(
    mij: Array,
    lij: Array,
    oi_new: Array,
    mi: Array | None,
    li: Array | None,
    oi: Array | None,
    is_first: bool,
    is_last: bool,
) -> tuple[Array, Array, Array | None, Array | None]:
    """aiv_online_update: returns (mi', li', oi' or None when not stored, out or None).

    is_first: mi' = mij, li' = lij, oi' = oi_new (stored), out = oi_new / lij when is_last.
    Otherwise mi' = max(mi, mij), alpha = exp(mi - mi'), beta = exp(mij - mi'), li' = alpha li + beta lij,
    o = alpha oi + beta oi_new; stored as oi' unless is_last, which stores only out = o / li'."""
    mij, lij, oi_new = mij.astype(F32), lij.astype(F32), oi_new.astype(F32)
    if is_first:
        out = (oi_new / lij[:, None]).astype(F32) if is_last else None
        return mij.copy(), lij.copy(), oi_new.copy(), out
    assert mi is not None and li is not None and oi is not None
    mi, li, oi = mi.astype(F32), li.astype(F32), oi.astype(F32)
    mi_new = np.maximum(mi, mij)
    alpha = np.exp(mi - mi_new).astype(F32)
    beta = np.exp(mij - mi_new).astype(F32)
    li_new = (alpha * li + beta * lij).astype(F32)
    o = (oi * alpha[:, None] + oi_new * beta[:, None]).astype(F32)
    if is_last:
        return mi_new, li_new, None, (o / li_new[:, None]).astype(F32)
    return mi_new, li_new, o, None


def valid_length(context_len: int, block_idx: int, block_size: int) -> int:
    """The batched softmax-prepare's valid_len: min(N, ctx - bn*N), 0 when the block starts past ctx."""
    start = block_idx * block_size
    if start >= context_len:
        return 0
    return min(block_size, context_len - start)


# ------------------------------------------------------------------------------------ vector example


def vector_add(a: Array, b: Array) -> Array:
    """kernel_add: out = a + b (FLOAT32)."""
    return (a.astype(F32) + b.astype(F32)).astype(F32)


def vector_add_scalar(a: Array, scalar: float) -> Array:
    """kernel_add_scalar: out = a + scalar (FLOAT32)."""
    return (a.astype(F32) + F32(scalar)).astype(F32)


def vector_mul(a: Array, b: Array) -> Array:
    """kernel_mul: out = a * b (FLOAT32)."""
    return (a.astype(F32) * b.astype(F32)).astype(F32)


# ------------------------------------------------------------------------------------ generic kernel

_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_FLOAT_KINDS = "f"


def input_digest(task: int, part: int, inputs: list[bytes]) -> bytes:
    """The 16-byte digest of everything a generic kernel part read (task id and part included)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"ptocheck-generic:{task}:{part}:{len(inputs)}".encode())
    for chunk in inputs:
        h.update(len(chunk).to_bytes(8, "little"))
        h.update(chunk)
    return h.digest()


def generic_values(digest: bytes, arg: int, start: int, count: int, dtype: np.dtype[np.generic]) -> Array:
    """Values a generic kernel writes to elements [start, start + count) of its output `arg`: small
    integers (exact in every dtype, never NaN, never the poison pattern) mixed from the digest."""
    seed = np.uint64(int.from_bytes(hashlib.blake2b(digest + arg.to_bytes(4, "little"), digest_size=8).digest(), "little"))
    idx = np.arange(start, start + count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        mixed = (idx + seed) * _GOLDEN_GAMMA
        mixed ^= mixed >> np.uint64(29)
        mixed *= _GOLDEN_GAMMA
    small = (mixed >> np.uint64(56)).astype(np.int64)  # 0..255
    if dtype == np.dtype(np.bool_):
        return (small & 1).astype(np.bool_)
    if dtype.kind in _FLOAT_KINDS or dtype == BF16:
        return (small - 128).astype(F32).astype(dtype)
    if dtype.kind == "u":
        return small.astype(dtype)
    return (small - 128).astype(dtype)


def tensor_data_values(program_pos: int, count: int, dtype: np.dtype[np.generic]) -> Array:
    """What `set_tensor_data` at program position `program_pos` stores (a fixed function of the position)."""
    digest = hashlib.blake2b(f"ptocheck-set-tensor-data:{program_pos}".encode(), digest_size=16).digest()
    return generic_values(digest, 0, 0, count, dtype)


__all__ = [
    "BF16",
    "F32",
    "NEG_LARGE",
    "generic_values",
    "input_digest",
    "online_update",
    "pv_matmul",
    "qk_matmul",
    "softmax_prepare",
    "tensor_data_values",
    "valid_length",
    "vector_add",
    "vector_add_scalar",
    "vector_mul",
]
