"""AICore workers behind the per-core handshake of aicpu_build_graph v1, plus the kernel ghost cells.

The AICore side of `aicore_execute` (src/a2a3/runtime/aicpu_build_graph/aicore/aicore_executor.cpp @
dddb9a39f): a core polls its `Handshake` until `task_status == 1 && task != 0`, runs the kernel and writes
`task_status = 0`; `control == 1` makes it exit. The AICPU side (dispatch: `task` then `task_status = 1`;
completion: `task_status == 0 && task != 0`) belongs to each port's scheduler. The ports of
aicpu_build_graph v2 and host_build_graph use the same worker as their core abstraction (their register
protocols, DATA_MAIN_BASE/COND with a running and a pending slot, are not ported).

Ghost cells (not in the C++, read by the property observers): `kernel[t]` is 0 before task t's kernel
started, 1 while it runs, 2 once it ended; `runs[t]` counts its starts. They are written by the same
steps that start and end the kernel, so observers judge from the current state alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from runtime.core import Cite, Memory, Op, OpKind, Order, Static, ThreadBody
from runtime.data.hooks import KernelDataHooks

KERNEL_NOT_STARTED, KERNEL_RUNNING, KERNEL_ENDED = 0, 1, 2
AIC, AIV = 0, 1
CORE_TYPE_NAMES = ("AIC", "AIV")


class Cells(list[int], Static):
    """Memory cells a thread may keep in a local: `thread_position` skips Static values, and the cells are
    covered by the system's fingerprint anyway."""

    __slots__ = ()


def new_memory() -> Memory:
    """A `Memory` whose cell list threads can alias in a generator local (`cells = mem.cells`)."""
    mem = Memory()
    mem.cells = Cells()
    return mem


class HandshakeCores(Static):
    """`n_aic` AIC cores (ids 0..n_aic-1) then `n_aiv` AIV cores, each with task / task_status / control."""

    __slots__ = (
        "cite",
        "core_type",
        "data",
        "h_control",
        "h_status",
        "h_task",
        "kernel",
        "mem",
        "names",
        "ncores",
        "runs",
    )

    def __init__(self, mem: Memory, task_names: Sequence[str], n_aic: int, n_aiv: int, cite: Cite) -> None:
        self.mem = mem
        self.names = tuple(task_names)
        self.cite = cite
        self.ncores = n_aic + n_aiv
        self.core_type = tuple(AIC if c < n_aic else AIV for c in range(self.ncores))
        self.h_task = mem.alloc("hank.task", self.ncores)  # 0 = none, else task index + 1
        self.h_status = mem.alloc("hank.task_status", self.ncores)  # 1 busy, 0 idle / done
        self.h_control = mem.alloc("hank.control", self.ncores)  # 1 = quit
        self.kernel = mem.alloc("ghost.kernel", len(self.names))
        self.runs = mem.alloc("ghost.runs", len(self.names))
        self.data: KernelDataHooks | None = None  # the data oracle (runtime/data/buffers.py); None: no data

    def cores_of_type(self, core_type: int) -> tuple[int, ...]:
        return tuple(c for c in range(self.ncores) if self.core_type[c] == core_type)

    def idle(self, core: int) -> bool:
        cells = self.mem.cells
        return cells[self.h_status + core] == 0 and cells[self.h_task + core] == 0

    def finished(self, core: int) -> bool:
        cells = self.mem.cells
        return cells[self.h_status + core] == 0 and cells[self.h_task + core] != 0

    def body(self, core: int) -> ThreadBody:
        cells = self.mem.cells
        task_cell, status_cell, control_cell = self.h_task + core, self.h_status + core, self.h_control + core
        label = f"{CORE_TYPE_NAMES[self.core_type[core]]}{core}"

        def has_work() -> bool:
            return cells[control_cell] == 1 or (cells[status_cell] == 1 and cells[task_cell] != 0)

        while True:
            yield Op(
                OpKind.LOAD,
                f"{label}: poll handshake (task_status == 1 && task != 0, or control == 1)",
                self.cite,
                reads=(task_cell, status_cell, control_cell),
                order=Order.ACQUIRE,
                guard=has_work,
            )
            if cells[control_cell] == 1:
                return
            t = cells[task_cell] - 1
            yield Op(
                OpKind.CORE,
                f"{label}: kernel of {self.names[t]} starts",
                self.cite,
                reads=(task_cell,),
                writes=(self.kernel + t, self.runs + t),
            )
            cells[self.kernel + t] = KERNEL_RUNNING
            cells[self.runs + t] += 1
            if self.data is not None:
                self.data.on_kernel_start(core, self.names[t])
            yield Op(
                OpKind.CORE,
                f"{label}: kernel of {self.names[t]} ends; task_status = 0",
                self.cite,
                writes=(self.kernel + t, status_cell),
                order=Order.RELEASE,
            )
            cells[self.kernel + t] = KERNEL_ENDED
            cells[status_cell] = 0
            if self.data is not None:
                self.data.on_kernel_finish(core)
