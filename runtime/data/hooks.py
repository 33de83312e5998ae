"""The calls a port makes into its data path (kept apart so the port imports no numpy code when data is off)."""

from __future__ import annotations

from typing import Protocol


class DataHooks(Protocol):
    """What the TRB port tells the data oracle, at the step whose effect it is part of."""

    def on_descriptor(self, task: int, base: int, end: int) -> None:
        """The task's packed output block [base, end) is bound (its OUTPUT buffers' addresses are set)."""
        ...

    def on_last_alive(self, ring: int, last_alive: int) -> None:
        """last_task_alive of `ring` was published: the blocks of the tasks below it are reusable."""
        ...

    def on_run_reset(self) -> None:
        """A new run reset the allocators: every block of the previous runs is reusable."""
        ...

    def on_kernel_start(self, core: int, token: int) -> None:
        """An AICore acknowledged a dispatch: the kernel reads its inputs now."""
        ...

    def on_kernel_finish(self, core: int, token: int) -> None:
        """The AICore finished the kernel: its outputs land now."""
        ...

    def on_tensor_data(self, instr: int) -> None:
        """The orchestrator's get/set_tensor_data at instruction `instr` passed its waits."""
        ...


class KernelDataHooks(Protocol):
    """What a heap-less port's AICore worker tells the data oracle (runtime/data/buffers.py)."""

    def on_kernel_start(self, core: int, task_name: str) -> None: ...

    def on_kernel_finish(self, core: int) -> None: ...


__all__ = ["DataHooks", "KernelDataHooks"]
