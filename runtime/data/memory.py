"""Byte-carrying memory for the data oracle: address segments backed by numpy byte arrays, strided views
of them in a scenario dtype, the poison pattern, and a log of who wrote or reclaimed which bytes when.

Addresses are the port's own (heap ring r at `Config.heap_base(r)`, host buffers at the plan's external
addresses): a view is resolved against whichever segment holds its address, so a kernel touches exactly
the bytes the runtime's allocator handed out.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from model.errors import PtocheckError
from model.scenario import DTYPE_BYTES
from runtime.data.kernels import BF16

Array = npt.NDArray[Any]

POISON_WORD = 0x7FC27FC2
"""A reclaimed region is filled with this 32-bit word: a quiet NaN read as float32 (payload 0x427FC2), and
each 16-bit half (0x7FC2) is a NaN as bfloat16 and as float16, so any dtype reading it sees NaN or a
recognisable integer (2143453122 / 0x7FC2)."""
POISON_BYTES = POISON_WORD.to_bytes(4, "little")

NP_DTYPES: dict[str, np.dtype[np.generic]] = {
    "FLOAT32": np.dtype(np.float32),
    "FLOAT16": np.dtype(np.float16),
    "BFLOAT16": BF16,
    "INT32": np.dtype(np.int32),
    "UINT32": np.dtype(np.uint32),
    "INT64": np.dtype(np.int64),
    "UINT64": np.dtype(np.uint64),
    "INT16": np.dtype(np.int16),
    "UINT16": np.dtype(np.uint16),
    "INT8": np.dtype(np.int8),
    "UINT8": np.dtype(np.uint8),
    "BOOL": np.dtype(np.bool_),
}


class DataMemoryError(PtocheckError):
    """A kernel addressed bytes no segment holds (the port handed out an address outside every heap)."""


@dataclass(frozen=True, slots=True)
class View:
    """A tensor view at a resolved address: element offset, shape and element strides in `dtype`."""

    addr: int  # byte address of the buffer's element 0
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    dtype: str

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def byte_span(self) -> tuple[int, int]:
        """[lo, hi) byte addresses the view can touch."""
        esz = DTYPE_BYTES[self.dtype]
        last = self.offset + sum((n - 1) * s for n, s in zip(self.shape, self.strides, strict=True))
        return self.addr + self.offset * esz, self.addr + (last + 1) * esz


@dataclass(frozen=True, slots=True)
class MemEvent:
    """Something that changed bytes [lo, hi): a kernel write, an initialisation, or a reclamation."""

    step: int  # executor step (-1 when no observer stamped steps)
    kind: str  # "write" | "init" | "poison" | "tensor-data"
    lo: int
    hi: int
    run: int
    task: int  # writing task (or the task whose block was reclaimed), -1 for none
    detail: str = ""


def poison_index(values: Array) -> int:
    """Flat index of the first element whose bits are the poison pattern (per element size), or -1."""
    flat = np.ascontiguousarray(values).reshape(-1)
    size = flat.dtype.itemsize
    if size == 4:
        hits = np.flatnonzero(flat.view(np.uint32) == POISON_WORD)
    elif size == 2:
        hits = np.flatnonzero(flat.view(np.uint16) == POISON_WORD & 0xFFFF)
    elif size == 8:
        hits = np.flatnonzero(flat.view(np.uint64) == (POISON_WORD << 32 | POISON_WORD))
    else:  # 1-byte elements: a poisoned word shows as its 4-byte sequence
        raw = flat.view(np.uint8)
        if raw.size < 4:
            return -1
        hits = np.flatnonzero(
            (raw[:-3] == POISON_BYTES[0]) & (raw[1:-2] == POISON_BYTES[1])
            & (raw[2:-1] == POISON_BYTES[2]) & (raw[3:] == POISON_BYTES[3])
        )
    return int(hits[0]) if hits.size else -1


class ByteSpace:
    """Non-overlapping address segments, each a numpy uint8 array."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._arrays: list[npt.NDArray[np.uint8]] = []
        self.events: list[MemEvent] = []
        self.step = 0  # stamped by an observer after every executor step

    def add_segment(self, start: int, size: int) -> npt.NDArray[np.uint8]:
        arr = np.zeros(max(size, 1), dtype=np.uint8)
        i = bisect.bisect_left(self._starts, start)
        self._starts.insert(i, start)
        self._arrays.insert(i, arr)
        return arr

    def locate(self, lo: int, hi: int) -> tuple[npt.NDArray[np.uint8], int]:
        """The segment holding [lo, hi) and lo's offset in it."""
        i = bisect.bisect_right(self._starts, lo) - 1
        if i >= 0:
            arr = self._arrays[i]
            off = lo - self._starts[i]
            if hi - self._starts[i] <= arr.size:
                return arr, off
        raise DataMemoryError(
            f"bytes [{lo:#x}, {hi:#x}) are outside every data segment",
            "data oracle",
            "the port handed a kernel an address outside the heap rings and the host buffers",
        )

    def view(self, v: View) -> Array:
        """A writable numpy view of `v` on the backing bytes."""
        lo, hi = v.byte_span()
        arr, off = self.locate(lo, hi)
        dt = NP_DTYPES[v.dtype]
        esz = dt.itemsize
        return np.ndarray(v.shape, dtype=dt, buffer=arr, offset=off, strides=tuple(s * esz for s in v.strides))

    def read(self, v: View) -> Array:
        return np.array(self.view(v), copy=True)

    def write(self, v: View, values: Array, start: int = 0) -> None:
        """Store `values` (the view's shape, or a flat run of elements from row-major index `start`)."""
        target = self.view(v)
        if start == 0 and values.shape == target.shape:
            target[...] = values
            return
        flat = values.reshape(-1)
        idx = np.unravel_index(np.arange(start, start + flat.size), target.shape)
        target[idx] = flat

    def fill_poison(self, lo: int, hi: int) -> None:
        if hi <= lo:
            return
        arr, off = self.locate(lo, hi)
        n = hi - lo
        words = (n + 3) // 4
        pattern = np.frombuffer(POISON_BYTES * words, dtype=np.uint8)[:n]
        arr[off : off + n] = pattern

    def fill_zero(self, lo: int, hi: int) -> None:
        if hi <= lo:
            return
        arr, off = self.locate(lo, hi)
        arr[off : off + hi - lo] = 0

    def log(self, kind: str, lo: int, hi: int, run: int, task: int, detail: str = "") -> None:
        self.events.append(MemEvent(self.step, kind, lo, hi, run, task, detail))

    def events_over(self, lo: int, hi: int, before_step: int | None = None) -> list[MemEvent]:
        """Events that touched [lo, hi), oldest first (optionally only those before a step)."""
        return [
            e for e in self.events
            if e.lo < hi and lo < e.hi and (before_step is None or e.step < 0 or e.step <= before_step)
        ]


def np_dtype(name: str) -> np.dtype[np.generic]:
    return NP_DTYPES[name]


def as_bytes(values: Array) -> bytes:
    return np.ascontiguousarray(values).tobytes()


def shape_numel(shape: Sequence[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


__all__ = [
    "POISON_WORD",
    "ByteSpace",
    "DataMemoryError",
    "MemEvent",
    "View",
    "as_bytes",
    "np_dtype",
    "poison_index",
    "shape_numel",
]
