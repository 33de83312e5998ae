"""Scenario families written for campaigns, beside the general generators of properties.strategies.

`tiled_scenarios`: tile-then-gather programs. Several tasks write tiles of one tensor (INOUT or
OUTPUT_EXISTING; row tiles, column tiles or overlapping bands), then readers take the whole tensor or a
span of tiles (INPUT, INOUT, or a get_tensor_data wait). This is how tiled kernels assemble one output
and hand it on, and it is where a TensorMap lookup returns many producers at once: every writer whose
tile overlaps the reader's region, each a WAIT edge the reader needs. The runtime's lookup result was a
fixed buffer of 16 producers until #669, so the writer count reaches past 16 (rarely: most draws stay
small and cheap). The general generators rarely make it: they draw each argument's buffer and view
independently, so live writers of one tensor overlapping a later reader's view are rare (the `port.lookup`
coverage of 400 port inputs of the default campaign without this family, seed 1: 9 executions with a
lookup returning 2 running producers, none with more).
"""

from __future__ import annotations

from hypothesis import strategies as st

from model.scenario import (
    Arg,
    Buffer,
    Config,
    Op,
    OutputSpec,
    Region,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    Submit,
    Tag,
    TensorData,
)
from properties.strategies import Sizing, constants, sized_for_program, windows

HISTORICAL_LOOKUP_CAP = 16  # PTO2LookupResult's stack buffer before #669 (catalogue G01)
MAX_TILED_WRITERS = HISTORICAL_LOOKUP_CAP + 1
_WRITER_KERNELS = ((-1, 0, -1), (0, -1, -1), (-1, 1, -1), (0, 1, -1))  # AIV, AIC, AIV, MIX
_LAYOUTS = ("rows", "columns", "overlapping")


def _tile(layout: str, i: int, writers: int, rows: int, cols: int) -> Region:
    """Writer i's tile of X (rows x cols elements, seen row-major)."""
    if layout == "columns":  # a column band: strided, the TensorMap's conservative overlap case
        width = cols // writers
        return Region("X", (rows, width), (cols, 1), offset=i * width)
    band = rows // writers
    height = band + (1 if layout == "overlapping" and i < writers - 1 else 0)  # shares a row with tile i+1
    return Region("X", (height, cols), (cols, 1), offset=i * band * cols)


def _span(layout: str, first: int, last: int, writers: int, rows: int, cols: int) -> Region:
    """The region covering tiles first..last (the whole of X when that is every tile)."""
    if first == 0 and last == writers - 1:
        return Region("X", (rows, cols), (cols, 1))
    if layout == "columns":
        width = cols // writers
        return Region("X", (rows, width * (last - first + 1)), (cols, 1), offset=first * width)
    band = rows // writers
    return Region("X", (band * (last - first + 1), cols), (cols, 1), offset=first * band * cols)


def _power_of_two_at_least(n: int) -> int:
    w = 4
    while w < n:
        w *= 2
    return w


@st.composite
def tiled_scenarios(
    draw: st.DrawFn, max_writers: int = MAX_TILED_WRITERS, sizing: Sizing = "any", name: str = "fuzz_tiled"
) -> Scenario:
    """A tile-then-gather program (see the module docstring) on a tiny configuration, sized like the
    general generators' programs (so its outcome is decided, or marked undecided, the same way)."""
    # Usually 2-4 writers (cheap); one draw in four anywhere up to past the historical lookup cap.
    writers = draw(st.integers(2, 4)) if draw(st.integers(0, 3)) else draw(st.integers(2, max_writers))
    layout = draw(st.sampled_from(_LAYOUTS))
    band = draw(st.sampled_from((1, 2)))
    rows, cols = (2, 4 * writers) if layout == "columns" else (band * writers, 4)
    x = Buffer("X", "FLOAT32", rows * cols, external=True)
    own_scopes = draw(st.booleans())  # each writer in its own scope (a block loop) or all in the outer one
    program: list[Op] = [ScopeBegin()]
    for i in range(writers):
        tag = draw(st.sampled_from((Tag.INOUT, Tag.OUTPUT_EXISTING)))
        task = Submit(f"W{i}", draw(st.sampled_from(_WRITER_KERNELS)), (Arg(tag, _tile(layout, i, writers, rows, cols)),))
        program += [ScopeBegin(), task, ScopeEnd()] if own_scopes else [task]
    if draw(st.integers(0, 3)) == 0:  # get_tensor_data of all of X: the lookup of wait_for_tensor_ready
        program.append(TensorData(False, Region("X", (rows, cols), (cols, 1))))
    readers = draw(st.integers(1, 3))
    for j in range(readers):
        first = draw(st.integers(0, writers - 1)) if draw(st.integers(0, 2)) == 0 else 0
        last = writers - 1 if first == 0 or draw(st.booleans()) else draw(st.integers(first, writers - 1))
        tag = draw(st.sampled_from((Tag.INPUT, Tag.INPUT, Tag.INOUT)))
        out = Arg(Tag.OUTPUT, creates=OutputSpec(f"r{j}", (cols,), "FLOAT32"))
        program.append(Submit(f"R{j}", (-1, 0, -1), (Arg(tag, _span(layout, first, last, writers, rows, cols)), out)))
    program.append(ScopeEnd())
    w = draw(windows())
    if draw(st.integers(0, 4)):  # usually windows the frames fit in; else whatever was drawn
        outer = readers + (0 if own_scopes else writers) + 2
        w = (w[0], max(w[1], _power_of_two_at_least(outer)), w[2], w[3])
    config = Config(
        task_window=w,
        heap_bytes=(1024, 1024, 1024, 1024),
        dep_pool=(16, 16, 16, 16),
        scheduler_threads=draw(st.integers(1, 3)),
        clusters=draw(st.integers(1, 2)),
        constants=draw(constants()),
    )
    return sized_for_program(draw, Scenario(name, config, (x,), tuple(program)), sizing)
