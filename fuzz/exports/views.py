"""How a scenario `Region` becomes a `ChipTensor` view built only with the runtime's public view ops.

A region is (element offset, shape, element strides) over a flat buffer. The orchestration API builds
views from a base tensor with `reshape` (contiguous only, keeps the start offset), `view` (per-dimension
offsets into the current shape, keeps the strides) and `slice` (one dimension, optional step)
(src/common/task_interface/tensor.h @ 6ebaf7715, `ChipTensor::view/slice/reshape`). `plan_view` picks a
short chain of those ops and checks it by simulating them, including the bounds the C++ asserts, so a
chain that would not land exactly on the region is never emitted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from model.errors import PtocheckError
from model.scenario import row_major_strides


class ViewError(PtocheckError):
    """A region the public view ops cannot express."""


@dataclass(frozen=True)
class Reshape:
    shape: tuple[int, ...]
    manual_dep: bool = False


@dataclass(frozen=True)
class View:
    shape: tuple[int, ...]
    offsets: tuple[int, ...]
    manual_dep: bool = False


@dataclass(frozen=True)
class Slice:
    dim: int
    start: int
    end: int
    step: int = 1
    manual_dep: bool = False


ViewOp = Reshape | View | Slice


@dataclass(frozen=True)
class Geometry:
    """The part of a ChipTensor the view ops change: start offset, shapes, strides (all in elements)."""

    start: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    manual_dep: bool = False

    @property
    def contiguous(self) -> bool:
        return self.strides == row_major_strides(self.shape)

    @property
    def extent(self) -> int:
        return 1 + sum((n - 1) * s for n, s in zip(self.shape, self.strides, strict=True))


def apply_ops(base: Geometry, ops: tuple[ViewOp, ...], buffer_numel: int) -> Geometry:
    """Simulate the C++ view ops; raise ViewError where the C++ would assert."""
    g = base
    for op in ops:
        if isinstance(op, Reshape):
            if not g.contiguous:
                raise ViewError("reshape of a non-contiguous view", "view plan", "the C++ asserts is_contiguous")
            if math.prod(op.shape) != math.prod(g.shape):
                raise ViewError("reshape changes the element count", "view plan")
            g = Geometry(g.start, op.shape, row_major_strides(op.shape), op.manual_dep)
        elif isinstance(op, View):
            if len(op.shape) != len(g.shape) or len(op.offsets) != len(g.shape):
                raise ViewError("view rank differs from the tensor's", "view plan")
            if any(o + n > m for o, n, m in zip(op.offsets, op.shape, g.shape, strict=True)):
                raise ViewError("view leaves its parent's shape", "view plan", "ChipTensor::view debug_asserts this")
            start = g.start + sum(o * s for o, s in zip(op.offsets, g.strides, strict=True))
            g = Geometry(start, op.shape, g.strides, op.manual_dep)
        else:
            if not 0 <= op.dim < len(g.shape) or op.step < 1 or not op.start < op.end <= g.shape[op.dim]:
                raise ViewError("slice out of range", "view plan", "ChipTensor::slice debug_asserts this")
            shape = list(g.shape)
            strides = list(g.strides)
            start = g.start + op.start * strides[op.dim]
            shape[op.dim] = (op.end - op.start + op.step - 1) // op.step
            strides[op.dim] *= op.step
            g = Geometry(start, tuple(shape), tuple(strides), op.manual_dep)
        if g.start + g.extent > buffer_numel:
            raise ViewError("view reaches past its buffer", "view plan", "ChipTensor::assert_in_buffer_bounds")
    return g


def plan_view(
    base_shape: tuple[int, ...],
    numel: int,
    offset: int,
    shape: tuple[int, ...],
    strides: tuple[int, ...],
    manual_dep: bool,
    where: str,
) -> tuple[ViewOp, ...]:
    """Ops that turn a contiguous base tensor of `base_shape` (start 0, `numel` elements) into the region."""
    base = Geometry(0, base_shape, row_major_strides(base_shape))
    target = Geometry(offset, shape, strides, manual_dep)
    if (offset, shape, strides) == (0, base_shape, base.strides) and not manual_dep:
        return ()
    flat: tuple[ViewOp, ...] = () if base_shape == (numel,) else (Reshape((numel,)),)
    for candidate in _candidates(numel, offset, shape, strides, manual_dep):
        ops = flat + candidate
        try:
            got = apply_ops(base, ops, numel)
        except ViewError:
            continue
        if got == target:
            return ops
    raise ViewError(
        f"region offset {offset} shape {list(shape)} strides {list(strides)} cannot be built with "
        "ChipTensor::reshape/view/slice",
        where,
        "use row-major-nested strides (each stride a multiple of the next, the last 1) or a 1-D strided region",
    )


def _candidates(
    numel: int, offset: int, shape: tuple[int, ...], strides: tuple[int, ...], md: bool
) -> list[tuple[ViewOp, ...]]:
    k = len(shape)
    out: list[tuple[ViewOp, ...]] = []
    if offset == 0 and strides == row_major_strides(shape) and math.prod(shape) == numel:
        out.append((Reshape(shape, md),))  # the whole buffer in the region's shape
    if k == 1:
        if strides[0] == 1:
            out.append((View(shape, (offset,), md),))
        else:
            out.append((Slice(0, offset, offset + (shape[0] - 1) * strides[0] + 1, strides[0], md),))
        return out
    if strides[-1] != 1 or any(strides[i] % strides[i + 1] for i in range(k - 1)):
        return out
    inner = tuple(strides[i] // strides[i + 1] for i in range(k - 1))
    # (1) fold the whole buffer into rows of the region's pitch, then index into it
    rows = numel // strides[0]
    if rows >= 1:
        prefix: tuple[ViewOp, ...] = () if rows * strides[0] == numel else (Slice(0, 0, rows * strides[0]),)
        rem = offset
        offs = []
        for s in strides:
            offs.append(rem // s)
            rem %= s
        out.append((*prefix, Reshape((rows, *inner)), View(shape, tuple(offs), md)))
    # (2) cut the buffer at the region's start first (rows that do not line up with the buffer's start)
    rows = (numel - offset) // strides[0]
    if rows >= 1:
        cut = Slice(0, offset, offset + rows * strides[0])
        out.append((cut, Reshape((rows, *inner)), View(shape, (0,) * k, md)))
    return out
