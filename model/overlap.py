"""TensorMap region overlap: the model's statement of `check_overlap` (spec §2.6, §5, INV-T4).

NO_OVERLAP only for provably disjoint regions, COVERED only when the input provably contains the
entry's region, OTHER otherwise (a conservative dependency).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Overlap(enum.Enum):
    NO_OVERLAP = 0
    COVERED = 1
    OTHER = 2


@dataclass(frozen=True)
class View:
    """The TensorMap's copy of a tensor view: element offset, shape, element strides, dtype, version, and
    the element count of the underlying buffer (a runtime-created buffer is its 1024-byte-rounded size)."""

    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    dtype: str
    version: int
    buffer_numel: int

    def extent(self) -> int:
        """Elements from the first to one past the last touched element (`extent_elem_cache`)."""
        return 1 + sum((n - 1) * s for n, s in zip(self.shape, self.strides, strict=True))


def _intersect(a_lo: int, a_hi: int, b_lo: int, b_hi: int) -> bool:
    return a_hi > b_lo and b_hi > a_lo


def _decompose(view: View, ref: list[int]) -> list[int] | None:
    """Per-dimension coordinates of the view's start, if the offset splits exactly and every dimension
    stays inside the extent its outer stride allows; None otherwise."""
    coords = []
    rem = view.offset
    for s in view.strides:
        c, rem = divmod(rem, s)
        coords.append(c)
    if rem != 0:
        return None
    for i, c in enumerate(coords):
        if c + view.shape[i] > ref[i]:
            return None
    return coords


def check_overlap(input_view: View, entry_view: View) -> Overlap:
    """How the region a task reads or updates (`input_view`) relates to a registered writer's region.

    Mirrors `PTO2TensorMapEntry::check_overlap` (RT/pto_tensormap.h): version rule, L1 element ranges,
    L2 exact per-dimension test when both views share dtype, rank and row-major-decomposable strides,
    L3 conservative OTHER for everything else.
    """
    if input_view.version > entry_view.version:
        return Overlap.OTHER  # a newer version always depends conservatively
    t_lo = input_view.offset
    e_lo = entry_view.offset
    if not _intersect(t_lo, t_lo + input_view.extent(), e_lo, e_lo + entry_view.extent()):
        return Overlap.NO_OVERLAP  # L1
    strides = input_view.strides
    nd = len(strides)
    if (
        input_view.dtype != entry_view.dtype
        or nd != len(entry_view.strides)
        or strides != entry_view.strides
        or strides[-1] != 1
        or any(strides[i - 1] % strides[i] for i in range(1, nd))
        or input_view.buffer_numel % strides[0]
    ):
        return Overlap.OTHER  # L3
    ref = [input_view.buffer_numel // strides[0]] + [strides[i - 1] // strides[i] for i in range(1, nd)]
    a = _decompose(input_view, ref)
    b = _decompose(entry_view, ref)
    if a is None or b is None:
        return Overlap.OTHER
    covered = True
    for i in range(nd):
        a_lo, a_hi = a[i], a[i] + input_view.shape[i]
        b_lo, b_hi = b[i], b[i] + entry_view.shape[i]
        if not _intersect(a_lo, a_hi, b_lo, b_hi):
            return Overlap.NO_OVERLAP
        if not (a_lo <= b_lo and b_hi <= a_hi):
            covered = False
    return Overlap.COVERED if covered else Overlap.OTHER
