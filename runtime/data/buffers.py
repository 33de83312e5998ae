"""A data path for ports that model no heap (aicpu_build_graph v1/v2, host_build_graph): every buffer its
own bytes, kernels run by the port's AICore worker (`runtime.handshake_cores.HandshakeCores`).

Attach one to a built system before its first step: `attach_buffer_data(system)` sets
`system.cores.data`; the worker then reads a task's inputs at its "kernel starts" step and writes its
outputs at its "kernel ends" step. Those ports abstract SPMD blocks (one kernel run per task), so every
part of a generic multi-part task runs inside that one kernel run. Runtime-created buffers start zeroed
(the golden zero-fills them at alloc_tensors, which comes first in every program), so one run per
scenario is supported; a second run would see the first run's created buffers.

With the same seed the inputs equal those of `TrbSystem(scenario, data=True)` tensor for tensor (they are
generated per buffer name), so the three runtimes' results can be compared with one golden.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from model.scenario import Scenario, align_up
from runtime.data.binding import DataProgram, TaskCall, bind, compute, external_inputs
from runtime.data.memory import Array, ByteSpace, View, np_dtype, poison_index
from runtime.data.trb_path import PartRun

BUFFER_STRIDE = 1 << 36  # synthetic address of buffer i: (i + 1) << 36


class BufferDataPath:
    """Byte memory (one segment per buffer) and kernels for a heap-less port."""

    def __init__(self, scenario: Scenario, seed: int = 0, family: str | None = None) -> None:
        if scenario.runs != 1:
            raise ValueError("the buffer data path supports one run per scenario")
        self.scenario = scenario
        self.program: DataProgram = bind(scenario, family)
        self.seed = seed
        self.space = ByteSpace()
        self.inputs = external_inputs(scenario, self.program, seed)
        self.addr: dict[str, int] = {}
        self.dtype: dict[str, str] = {}
        self.size: dict[str, int] = {}
        for i, (name, buf) in enumerate(scenario.all_buffers().items()):
            base = (i + 1) * BUFFER_STRIDE
            self.addr[name], self.dtype[name], self.size[name] = base, buf.dtype, buf.nbytes
            arr = self.space.add_segment(base, align_up(buf.nbytes, 1024) + 4096)
            if buf.external:
                raw = np.ascontiguousarray(self.inputs[name]).view(np.uint8).reshape(-1)
                arr[: raw.size] = raw
        self.task_index = {t.name: i for i, t in enumerate(scenario.tasks())}
        self.views: dict[tuple[int, int], tuple[View, ...]] = {
            (0, ti): tuple(View(self.addr[a.buffer], a.offset, a.shape, a.strides, a.dtype) for a in call.args)
            for ti, call in self.program.calls.items()
        }
        self.inflight: dict[int, list[PartRun]] = {}
        self.parts: dict[tuple[int, int], list[PartRun]] = {}
        self.tensor_reads: dict[tuple[int, int], Array] = {}
        self.anomalies: list[str] = []

    # ------------------------------------------------------------------ hooks (HandshakeCores)

    def on_kernel_start(self, core: int, task_name: str) -> None:
        ti = self.task_index.get(task_name, -1)
        if ti < 0:
            self.anomalies.append(f"core {core} ran {task_name!r}, which the scenario does not have")
            return
        call = self.program.calls[ti]
        views = self.views[(0, ti)]
        runs: list[PartRun] = []
        for part in range(call.parts):
            pr = PartRun(0, ti, part, core, self.space.step)

            def read(i: int, pr: PartRun = pr) -> Array:
                values = self.space.read(views[i])
                hit = poison_index(values)
                if hit >= 0:
                    pr.poison_reads.append((i, hit))
                return values

            with np.errstate(all="ignore"):
                pr.writes = compute(call, part, read)
            runs.append(pr)
            self.parts.setdefault((0, ti), []).append(pr)
        self.inflight[core] = runs

    def on_kernel_finish(self, core: int) -> None:
        for pr in self.inflight.pop(core, []):
            pr.finish_step = self.space.step
            views = self.views[(0, pr.task)]
            for w in pr.writes:
                self.space.write(views[w.arg], w.values, w.start)
                lo, hi = views[w.arg].byte_span()
                self.space.log("write", lo, hi, 0, pr.task, self.program.calls[pr.task].name)

    # ------------------------------------------------------------------ results

    def external_contents(self) -> dict[str, Array]:
        out: dict[str, Array] = {}
        for b in self.scenario.buffers:
            arr, off = self.space.locate(self.addr[b.name], self.addr[b.name] + b.nbytes)
            out[b.name] = np.array(arr[off : off + b.nbytes].view(np_dtype(b.dtype)), copy=True)
        return out

    def external_span(self, name: str) -> tuple[int, str]:
        """Address and dtype of a host buffer."""
        return self.addr[name], self.dtype[name]

    def call(self, task: int) -> TaskCall:
        return self.program.calls[task]


def attach_buffer_data(system: Any, seed: int = 0, family: str | None = None) -> BufferDataPath:
    """Give an aicpu_build_graph / host_build_graph port (anything with `scenario` and `cores`) a data path."""
    path = BufferDataPath(system.scenario, seed, family)
    system.cores.data = path
    return path


__all__ = ["BUFFER_STRIDE", "BufferDataPath", "attach_buffer_data"]
