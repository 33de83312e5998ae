"""The TRB port's data path: real bytes in its heap rings, kernels run by its AICores.

`TrbSystem(scenario, data=True)` builds one `TrbDataPath`; the port calls the `DataHooks` methods from
the steps whose effect they are:
  * the descriptor step of a submit / alloc_tensors (`_write_descriptor`): the task's packed block is
    where the allocator put it; each argument is resolved to the address the program passes (`O_BUF`,
    the orchestrator's record of every buffer's address); alloc_tensors outputs (and a dummy task's
    outputs, which no kernel writes) are zero-filled so that reading them is defined;
  * the publication of last_task_alive (`_fx_scan` with sync_to_sm, the unlocked advance's write): the
    blocks of the tasks it passed are poisoned at once (`POISON_WORD`), the earliest moment the
    allocator may hand them out again; a new run poisons every block of the previous runs;
  * the AICore's ACK step: the kernel part reads its inputs (and the data path notes any poisoned
    element it saw); the FIN step: its outputs land. Reading and writing are two steps apart, so a
    producer that is early-reused or a consumer that runs early is visible in the values;
  * get/set_tensor_data after its waits: the orchestrator reads (recorded) or stores a fixed pattern.

Everything is a ghost of the port (not in the fingerprint): data never steers control flow here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from model.scenario import DTYPE_BYTES, Scenario, Tag, align_up, task_heap_request
from runtime.data import kernels as kn
from runtime.data.binding import DataProgram, TaskCall, Write, bind, compute, external_inputs
from runtime.data.memory import Array, ByteSpace, DataMemoryError, View, np_dtype, poison_index

if TYPE_CHECKING:
    from runtime.trb.state import TrbState

SEGMENT_SLACK = 4096  # views may reinterpret a created buffer with a wider dtype up to its 1024-aligned size


@dataclass
class PartRun:
    """One executed kernel part: what it read (and when), what it wrote (and when)."""

    run: int
    task: int
    part: int
    core: int
    start_step: int
    finish_step: int = -1
    writes: list[Write] = field(default_factory=list)
    poison_reads: list[tuple[int, int]] = field(default_factory=list)  # (arg, flat element)
    error: str = ""


@dataclass(frozen=True)
class BlockRecord:
    run: int
    task: int
    base: int
    end: int


class TrbDataPath:
    """Byte memory + kernels for one TrbSystem (see the module docstring)."""

    def __init__(self, port: TrbState, seed: int = 0, family: str | None = None) -> None:
        self.port = port
        scenario: Scenario = port.scenario
        self.scenario = scenario
        self.program: DataProgram = bind(scenario, family)
        self.seed = seed
        self.space = ByteSpace()
        plan = port.plan
        consts = scenario.config.constants
        need = [0, 0, 0, 0]
        for t in plan.tasks:
            need[t.ring] += task_heap_request(scenario.tasks()[t.index], consts)
        for r in range(4):
            if need[r]:  # only the bytes a run can reach (top never passes the sum of the ring's requests)
                self.space.add_segment(port.heap_base[r], min(port.heap_size[r], need[r] + SEGMENT_SLACK))
        reach = _external_reach(self.program, scenario)
        self.inputs = external_inputs(scenario, self.program, seed)
        for b in plan.buffers:
            if b.external:
                arr = self.space.add_segment(b.ext_addr, align_up(max(reach.get(b.name, 0), b.size, 1), 64))
                raw = np.ascontiguousarray(self.inputs[b.name]).view(np.uint8).reshape(-1)
                arr[: raw.size] = raw
        self.views: dict[tuple[int, int], tuple[View, ...]] = {}
        self.blocks: dict[tuple[int, int], BlockRecord] = {}
        self.live: dict[tuple[int, int], BlockRecord] = {}
        self.freed = [0, 0, 0, 0]
        self.inflight: dict[int, PartRun] = {}
        self.parts: dict[tuple[int, int], list[PartRun]] = {}
        self.tensor_reads: dict[tuple[int, int], Array] = {}
        self.anomalies: list[str] = []

    # ------------------------------------------------------------------ hooks

    def on_descriptor(self, task: int, base: int, end: int) -> None:
        port = self.port
        run = port.round
        call = self.program.calls[task]
        views = []
        for a in call.args:
            addr = port.p[port.O_BUF + port.plan.buffer_index[a.buffer]]
            views.append(View(addr, a.offset, a.shape, a.strides, a.dtype))
        self.views[(run, task)] = tuple(views)
        rec = BlockRecord(run, task, base, end)
        self.blocks[(run, task)] = rec
        if end > base:
            self.live[(run, task)] = rec
        if call.kernel in ("alloc", "none"):
            for a, v in zip(call.args, views, strict=True):
                if a.tag is Tag.OUTPUT:
                    lo, hi = v.byte_span()
                    self._guard(lambda lo=lo, hi=hi: self.space.fill_zero(lo, hi), f"initialising {call.name}")
                    self.space.log("init", lo, hi, run, task, call.name)

    def on_last_alive(self, ring: int, last_alive: int) -> None:
        port = self.port
        run = port.round
        upto = self.freed[ring]
        if last_alive <= upto:
            return
        for local in range(upto, last_alive):
            ti = port.plan.task_at.get((ring, local), -1)
            rec = self.live.pop((run, ti), None)
            if rec is not None:
                self._poison(rec, f"last_task_alive[{ring}] = {last_alive}")
        self.freed[ring] = last_alive

    def on_run_reset(self) -> None:
        for key in sorted(self.live):
            if key[0] < self.port.round:
                self._poison(self.live.pop(key), f"run {self.port.round} reset the heap rings")
        self.freed = [0, 0, 0, 0]

    def on_kernel_start(self, core: int, token: int) -> None:
        port = self.port
        run, task, block = port.ghost_token.get((core, token), (port.round, -1, 0))
        if task < 0:
            return
        call = self.program.calls[task]
        part = self._part(task, core, block)
        pr = PartRun(run, task, part, core, self.space.step)
        self.inflight[core] = pr
        self.parts.setdefault((run, task), []).append(pr)
        views = self.views.get((run, task))
        if views is None:
            pr.error = "the kernel ran before its task's descriptor was written"
            return

        def read(i: int) -> Array:
            values = self.space.read(views[i])
            hit = poison_index(values)
            if hit >= 0:
                pr.poison_reads.append((i, hit))
            return values

        try:
            with np.errstate(all="ignore"):
                pr.writes = compute(call, part, read) if part < call.parts else []
        except DataMemoryError as e:
            pr.error = e.what

    def on_kernel_finish(self, core: int, token: int) -> None:
        pr = self.inflight.pop(core, None)
        if pr is None:
            return
        pr.finish_step = self.space.step
        views = self.views.get((pr.run, pr.task))
        if views is None:
            return
        for w in pr.writes:
            v = views[w.arg]
            self._guard(lambda v=v, w=w: self.space.write(v, w.values, w.start), f"writing {self.program.calls[pr.task].name}")
            lo, hi = _write_span(v, w)
            self.space.log("write", lo, hi, pr.run, pr.task, self.program.calls[pr.task].name)

    def on_tensor_data(self, instr: int) -> None:
        port = self.port
        ins = port.plan.instrs[instr]
        call = self.program.tensor_data.get(ins.program_pos)
        if call is None or ins.tensor is None:
            return
        addr = port.p[port.O_BUF + ins.tensor.buffer]
        if addr == 0:
            return
        a = call.arg
        v = View(addr, a.offset, a.shape, a.strides, a.dtype)
        run = port.round
        if call.write:
            values = kn.tensor_data_values(call.program_pos, a.numel, np_dtype(a.dtype)).reshape(a.shape)
            self._guard(lambda: self.space.write(v, values), "set_tensor_data")
            lo, hi = v.byte_span()
            self.space.log("tensor-data", lo, hi, run, -1, f"set_tensor_data at program[{call.program_pos}]")
        else:
            try:
                self.tensor_reads[(run, call.program_pos)] = self.space.read(v)
            except DataMemoryError as e:
                self.anomalies.append(f"run {run}: get_tensor_data at program[{call.program_pos}]: {e.what}")

    # ------------------------------------------------------------------ helpers

    def _part(self, task: int, core: int, block: int) -> int:
        mask = self.port.plan.tasks[task].mask
        n = bin(mask).count("1")
        if n <= 1:
            return block
        clusters = self.port.clusters
        sub = 0 if core < clusters else 1 + (core - clusters) % 2
        rank = bin(mask & ((1 << sub) - 1)).count("1")
        return block * n + rank

    def _poison(self, rec: BlockRecord, why: str) -> None:
        self._guard(lambda: self.space.fill_poison(rec.base, rec.end), "poisoning a reclaimed block")
        name = self.program.calls[rec.task].name
        self.space.log("poison", rec.base, rec.end, rec.run, rec.task, f"{name}'s block reclaimed ({why})")

    def _guard(self, action: object, what: str) -> None:
        try:
            action()  # type: ignore[operator]
        except DataMemoryError as e:
            self.anomalies.append(f"{what}: {e.what}")

    # ------------------------------------------------------------------ results

    def external_contents(self) -> dict[str, Array]:
        """The host buffers' current contents (flat, their dtype)."""
        out: dict[str, Array] = {}
        for b in self.port.plan.buffers:
            if b.external:
                dt = np_dtype(self.port.plan.buffer_dtype[b.name])
                arr, off = self.space.locate(b.ext_addr, b.ext_addr + b.size)
                out[b.name] = np.array(arr[off : off + b.size].view(dt), copy=True)
        return out

    def external_span(self, name: str) -> tuple[int, str]:
        """Address and dtype of a host buffer."""
        plan = self.port.plan
        return plan.buffers[plan.buffer_index[name]].ext_addr, plan.buffer_dtype[name]

    def call(self, task: int) -> TaskCall:
        return self.program.calls[task]


def _write_span(v: View, w: Write) -> tuple[int, int]:
    if w.start == 0 and w.values.size == v.numel:
        return v.byte_span()
    esz = DTYPE_BYTES[v.dtype]
    idx = np.unravel_index(np.array([w.start, w.start + w.values.size - 1]), v.shape)
    first = v.offset + sum(int(i[0]) * s for i, s in zip(idx, v.strides, strict=True))
    last = v.offset + sum(int(i[1]) * s for i, s in zip(idx, v.strides, strict=True))
    return v.addr + first * esz, v.addr + (last + 1) * esz


def _external_reach(program: DataProgram, scenario: Scenario) -> dict[str, int]:
    """Bytes of each host buffer any view reaches (a view may use a wider dtype than its buffer)."""
    ext = {b.name for b in scenario.buffers}
    reach: dict[str, int] = {}
    refs = [a for c in program.calls.values() for a in c.args] + [t.arg for t in program.tensor_data.values()]
    for a in refs:
        if a.buffer in ext:
            reach[a.buffer] = max(reach.get(a.buffer, 0), a.byte_range()[1])
    return reach


__all__ = ["BlockRecord", "PartRun", "TrbDataPath"]
