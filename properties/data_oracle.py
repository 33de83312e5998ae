"""The data oracle: the port's kernels compute on real bytes, and their results must match a golden.

Property `data_oracle` (kind "end"): in a run that completes, every kernel part the port executed wrote
exactly what the same part writes when the scenario is evaluated sequentially in program order (the
golden), every host buffer ends as in the golden, and every get_tensor_data read what the golden
read. Paged-attention and vector results compare with the runtime's own tolerance policy
(`torch.allclose`: |got - want| <= atol + rtol |want|; paged attention rtol = atol = 1e-3 from
examples/a2a3/tensormap_and_ringbuffer/paged_attention/test_paged_attention.py @ simpler 6ebaf7715,
the vector example SceneTestCase's 1e-5); the generic kernel compares bit for bit. For paged attention
the golden's `out` is also compared with direct attention over each batch's whole context in float64.

A mismatch names the first differing element (of the part that went wrong first in the run), the task
that wrote it, and the cause the byte log shows: the step at which an input's region was reclaimed
(poisoned) or overwritten by another task, or that the input was read before its producer's write
landed (a lost dependency).

The golden is defined only when the program orders every pair of conflicting accesses (the runtime's
guaranteed edges: explicit, creator and TensorMap, `model.dependencies.derive_all_edges`); a program
with a race of its own gets "not applicable" with the racing pair, never a pass. On the TRB port the
same holds for a program that lets a heap block be reclaimed under a task still to touch it (no RETAIN
keeps the creator's block alive, e.g. a MANUAL-scope reader without a dependency on the creator), or under
the orchestrator's own get/set_tensor_data after the creator's scope ended (`program_lifetime_gaps`).

Use: `check_data(system)` after a run of `TrbSystem(scenario, data=True)`; `DataObserver` /
`data_observers()` for searches and campaigns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from model.dependencies import EdgeRow, derive_all_edges
from model.overlap import Overlap
from model.program import I_ALLOC, I_END, I_SUBMIT, I_TDATA, RETAIN, WAIT, ProgramInfo
from model.scenario import DTYPE_BYTES, Alloc, Scenario, Submit, TensorData, align_up
from runtime.core import Executor, Failure, Observer, StepRecord, System
from runtime.data.binding import (
    FAMILY_BATCHED_PA,
    FAMILY_PA,
    ArgRef,
    DataProgram,
    Write,
    compute,
    external_inputs,
)
from runtime.data.buffers import BufferDataPath
from runtime.data.kernels import tensor_data_values
from runtime.data.memory import Array, ByteSpace, View, np_dtype
from runtime.data.trb_path import PartRun, TrbDataPath
from runtime.execution import DONE
from runtime.trb.system import TrbSystem

PROPERTY_ID = "data_oracle"
ATTENTION_RTOL = ATTENTION_ATOL = 1e-2
"""Direct float64 attention vs the online-softmax result: the kernels truncate pij to bfloat16 before
the PV matmul, which the runtime's golden reproduces and float64 attention does not; the tolerance is
the one simpler's paged-attention golden.py used before the SceneTestCase migration (RTOL = ATOL = 1e-2,
examples/a2a3/tensormap_and_ringbuffer/paged_attention/golden.py at 447ae3540^)."""


# ------------------------------------------------------------------------------------------ golden


@dataclass
class Golden:
    """The sequential evaluation: every part's writes, the host buffers at the end of each run, the
    values get_tensor_data read, and for every read argument the task that last wrote it."""

    writes: dict[tuple[int, int, int], list[Write]] = field(default_factory=dict)  # (run, task, part)
    externals: list[dict[str, Array]] = field(default_factory=list)  # per run
    tensor_reads: dict[tuple[int, int], Array] = field(default_factory=dict)  # (run, program pos)
    writers: dict[tuple[int, int, int], tuple[int, ...]] = field(default_factory=dict)  # (run, task, arg) -> tasks


def golden(scenario: Scenario, program: DataProgram, seed: int) -> Golden:
    """Evaluate the scenario in program order, one part after another (every buffer its own bytes)."""
    space = ByteSpace()
    addr: dict[str, int] = {}
    inputs = external_inputs(scenario, program, seed)
    for i, (name, buf) in enumerate(scenario.all_buffers().items()):
        base = (i + 1) << 36
        addr[name] = base
        arr = space.add_segment(base, align_up(buf.nbytes, 1024) + 4096)
        if buf.external:
            raw = np.ascontiguousarray(inputs[name]).view(np.uint8).reshape(-1)
            arr[: raw.size] = raw

    def view(a: ArgRef) -> View:
        return View(addr[a.buffer], a.offset, a.shape, a.strides, a.dtype)

    g = Golden()
    tasks = scenario.tasks()
    index = {t.name: i for i, t in enumerate(tasks)}
    for run in range(scenario.runs):
        for pos, op in enumerate(scenario.program):
            space.step += 1
            if isinstance(op, TensorData):
                tcall = program.tensor_data[pos]
                v = view(tcall.arg)
                if tcall.write:
                    values = tensor_data_values(pos, tcall.arg.numel, np_dtype(tcall.arg.dtype))
                    space.write(v, values.reshape(tcall.arg.shape))
                    space.log("tensor-data", *v.byte_span(), run, -1)
                else:
                    g.tensor_reads[(run, pos)] = space.read(v)
                continue
            if not isinstance(op, Submit | Alloc):
                continue
            ti = index[op.name]
            call = program.calls[ti]
            if call.kernel in ("alloc", "none"):
                for a in call.args:
                    if a.tag.value == "OUTPUT":
                        lo, hi = view(a).byte_span()
                        space.fill_zero(lo, hi)
                        space.log("init", lo, hi, run, ti)
                continue
            for i, a in enumerate(call.args):
                if a.reads:
                    lo, hi = view(a).byte_span()
                    g.writers[(run, ti, i)] = _visible_writers(space, lo, hi, run)
            for part in range(call.parts):
                with np.errstate(all="ignore"):
                    writes = compute(call, part, _reader(space, view, call.args))
                g.writes[(run, ti, part)] = writes
                for w in writes:
                    space.write(view(call.args[w.arg]), w.values, w.start)
                    space.log("write", *view(call.args[w.arg]).byte_span(), run, ti)
        g.externals.append(
            {b.name: np.array(space.read(View(addr[b.name], 0, (b.numel,), (1,), b.dtype)), copy=True)
             for b in scenario.buffers}
        )
    return g


def _visible_writers(space: ByteSpace, lo: int, hi: int, run: int) -> tuple[int, ...]:
    """Tasks whose writes of this run still show somewhere in [lo, hi) (newer writes hide older ones)."""
    covered: list[tuple[int, int]] = []
    out: list[int] = []
    for e in reversed(space.events_over(lo, hi)):
        if e.run != run:
            continue
        a, b = max(lo, e.lo), min(hi, e.hi)
        if not _covers(covered, a, b) and e.task >= 0 and e.task not in out:
            out.append(e.task)
        covered.append((a, b))
    return tuple(out)


def _covers(intervals: list[tuple[int, int]], lo: int, hi: int) -> bool:
    pos = lo
    for a, b in sorted(intervals):
        if a > pos:
            break
        pos = max(pos, b)
    return pos >= hi


def _reader(space: ByteSpace, view: Callable[[ArgRef], View], args: tuple[ArgRef, ...]) -> Callable[[int], Array]:
    def read(i: int) -> Array:
        return space.read(view(args[i]))

    return read


def direct_attention(program: DataProgram, inputs: dict[str, Array]) -> Array:
    """Attention of every (batch, head) over its whole context in float64: out [B*H, D]."""
    pa = program.pa
    assert pa is not None
    B, H, D, bs = pa.batch, pa.num_heads, pa.head_dim, pa.block_size
    q = inputs["query"].astype(np.float64).reshape(B, H, D)
    k = inputs["key_cache"].astype(np.float64).reshape(-1, D)
    v = inputs["value_cache"].astype(np.float64).reshape(-1, D)
    table = inputs["block_table"].reshape(B, -1)
    out = np.zeros((B, H, D))
    for b in range(B):
        ctx = pa.context_lens[b]
        rows = np.array([int(table[b, j // bs]) * bs + j % bs for j in range(ctx)])
        s = q[b] @ k[rows].T
        p = np.exp(s - s.max(axis=1, keepdims=True))
        out[b] = (p @ v[rows]) / p.sum(axis=1, keepdims=True)
    return out.reshape(B * H, D)


# ------------------------------------------------------------------------------------------ races


def program_races(scenario: Scenario, program: DataProgram) -> tuple[str, ...]:
    """Pairs of accesses the program does not order (so the golden would be one of several answers)."""
    info = ProgramInfo(scenario)
    tasks = scenario.tasks()
    n = len(tasks)
    rows = derive_all_edges(info)
    preds: list[set[int]] = [set() for _ in range(n)]
    for row in rows:
        if row.flags & WAIT and row.pred < row.succ:
            preds[row.succ].add(row.pred)
    before: list[set[int]] = []
    for t in range(n):
        s: set[int] = set()
        for p in preds[t]:
            s.add(p)
            s |= before[p]
        before.append(s)
    accesses: list[tuple[int, str, int, int, bool]] = []  # (task, buffer, lo, hi, writes)
    for ti in range(n):
        call = program.calls[ti]
        if call.kernel in ("alloc", "none"):
            continue  # their outputs are set by the orchestrator before any later task is submitted
        for a in call.args:
            lo, hi = a.byte_range()
            if a.reads or a.writes:
                accesses.append((ti, a.buffer, lo, hi, a.writes))
    out: list[str] = []
    for i, (t1, b1, lo1, hi1, w1) in enumerate(accesses):
        for t2, b2, lo2, hi2, w2 in accesses[i + 1:]:
            if b1 != b2 or not (w1 or w2) or hi1 <= lo2 or hi2 <= lo1:
                continue
            if t1 == t2:
                # two arguments of one task alias the same bytes: its parts (blocks x subtasks) run
                # concurrently, each reading at its start and writing at its finish, so with more than one
                # part the bytes depend on how the parts interleave
                if program.calls[t1].parts > 1:
                    out.append(f"{tasks[t1].name}: two arguments alias {b1} bytes [{max(lo1, lo2)}, "
                               f"{min(hi1, hi2)}) (one writes) and its {program.calls[t1].parts} parts run concurrently")
                continue
            first, second = min(t1, t2), max(t1, t2)
            if first not in before[second]:
                out.append(f"{tasks[first].name} and {tasks[second].name} both touch {b1} (one writes) with no dependency")
    out.extend(_tensor_data_races(scenario, program, info, before, _pinning_consumers(info, rows)))
    return tuple(dict.fromkeys(out))


def _pinning_consumers(info: ProgramInfo, rows: Sequence[EdgeRow]) -> list[set[int]]:
    """For each task W, the consumers whose RETAIN edge on W is certainly wired (submitted before W's
    scope reference is released), so W's fanout_refcount stays below fanout_count until they are released."""
    submitted_at: dict[int, int] = {}
    scope_end_at: dict[int, int] = {}
    for k, ins in enumerate(info.instrs):
        if ins.kind in (I_SUBMIT, I_ALLOC):
            submitted_at[ins.task] = k
        elif ins.kind == I_END:
            for t in ins.frame:
                scope_end_at.setdefault(t, k)
    out: list[set[int]] = [set() for _ in info.tasks]
    for row in rows:
        if row.flags & RETAIN and submitted_at[row.succ] < scope_end_at.get(row.pred, len(info.instrs)):
            out[row.pred].add(row.succ)
    return out


def _tensor_data_races(scenario: Scenario, program: DataProgram, info: ProgramInfo,
                       before: list[set[int]], pinning: list[set[int]]) -> list[str]:
    """get/set_tensor_data accesses no wait orders against a task's access of the same bytes.

    wait_for_tensor_ready (pto_runtime2.cpp @ simpler 6ebaf7715) waits only for the tensor's owner
    (creator) and the writers the TensorMap lookup finds; a manual_dep argument or a task of a MANUAL
    scope is never registered (register_task_outputs, pto_dep_compute.h), so such a writer is not
    waited for, however its bytes overlap the read. set_tensor_data also waits until those tasks'
    fanout_refcount reaches fanout_count, but a WAIT-only edge (TensorMap, add_dep_wait) releases its
    claim at wiring (wire_fanin_task, pto_orchestrator.cpp), so only RETAIN consumers are waited for."""
    tasks = scenario.tasks()
    tdata_args = [ins.region_arg for ins in info.instrs if ins.kind == I_TDATA]
    out: list[str] = []
    submitted = 0
    seen_tdata = 0
    for pos, op in enumerate(scenario.program):
        if isinstance(op, Submit | Alloc):
            submitted += 1
            continue
        if not isinstance(op, TensorData):
            continue
        t = program.tensor_data[pos]
        lo, hi = t.arg.byte_range()
        region_arg = tdata_args[seen_tdata]
        seen_tdata += 1
        assert region_arg is not None
        waited_for = {region_arg.owner} if region_arg.owner >= 0 else set()
        waited_for |= {
            ti for ti in range(submitted) for ai in info.tasks[ti].registrations
            if info.region_overlap(region_arg, ti, ai) is not Overlap.NO_OVERLAP
        }
        writers = waited_for
        for ti in range(submitted):
            for a in program.calls[ti].args:
                if a.buffer != t.arg.buffer or not (a.writes or t.write) or program.calls[ti].kernel in ("alloc", "none"):
                    continue
                alo, ahi = a.byte_range()
                if ahi <= lo or hi <= alo:
                    continue
                waited = ti in writers or any(ti in before[w] for w in writers)
                if t.write and not waited:
                    waited = any(ti in pinning[w] for w in writers)  # a RETAIN consumer of a waited task
                if not waited:
                    out.append(f"{'set' if t.write else 'get'}_tensor_data at program[{pos}] and {tasks[ti].name} "
                               f"both touch {t.arg.buffer} with no wait between them")
    return out


def program_lifetime_gaps(scenario: Scenario, program: DataProgram) -> tuple[str, ...]:
    """Accesses of a runtime-allocated buffer (a heap-ring block) that nothing keeps alive until the
    accessing task has finished, so the allocator may reclaim the block and hand it out under the task;
    and get/set_tensor_data accesses no open scope protects (`_tensor_data_lifetime_gaps`).

    A block of task C is handed out again only after last_task_alive of C's ring passes C, which needs
    C and every earlier task of that ring CONSUMED. So task T may touch C's buffer when some task E of
    C's ring with local id <= C's is RETAINed by T itself or by a task that waits (transitively) for T,
    through an edge wired while E is certainly alive: its holder is submitted before E's scope ends
    (the scope reference pins E until then; a dependency on a retired producer is skipped at submit).
    E = C is the creator edge or an explicit wait_retain on C; E earlier than C is the ring-prefix
    protection the paged-attention manual-scope example relies on (its last UP retains the alloc task,
    which precedes every SF whose mi/li the UPs read). WAIT-only chains order the accesses but do not
    extend a block's life, and inside a MANUAL scope the runtime adds no creator edge at all
    (compute_task_fanin returns at once, pto_dep_compute.h @ simpler 6ebaf7715)."""
    info = ProgramInfo(scenario)
    tasks = scenario.tasks()
    n = len(tasks)
    index = {t.name: i for i, t in enumerate(tasks)}
    creator: dict[str, int] = {}
    for op in scenario.program:
        if isinstance(op, Alloc):
            for o in op.outputs:
                creator[o.name] = index[op.name]
        elif isinstance(op, Submit):
            for sub_arg in op.args:
                if sub_arg.creates is not None:
                    creator[sub_arg.creates.name] = index[op.name]
    rows = derive_all_edges(info)
    preds: list[set[int]] = [set() for _ in range(n)]
    for row in rows:
        if row.flags & WAIT and row.pred < row.succ:
            preds[row.succ].add(row.pred)
    waits_for: list[set[int]] = []  # tasks each task transitively waits for
    for t in range(n):
        s: set[int] = set()
        for p in preds[t]:
            s.add(p)
            s |= waits_for[p]
        waits_for.append(s)
    submitted_at: dict[int, int] = {}
    scope_end_at: dict[int, int] = {}
    for k, ins in enumerate(info.instrs):
        if ins.kind in (I_SUBMIT, I_ALLOC):
            submitted_at[ins.task] = k
        elif ins.kind == I_END:
            for t in ins.frame:
                scope_end_at.setdefault(t, k)
    holders: list[list[int]] = [[] for _ in range(n)]  # E -> tasks holding a RETAIN edge on E wired while E lives
    for row in rows:
        if row.flags & RETAIN and submitted_at[row.succ] < scope_end_at.get(row.pred, len(info.instrs)):
            holders[row.pred].append(row.succ)

    def kept_alive(c: int, t: int) -> bool:
        ring, local = info.tasks[c].ring, info.tasks[c].local
        return any(
            r == t or t in waits_for[r]
            for e in range(n)
            if info.tasks[e].ring == ring and info.tasks[e].local <= local
            for r in holders[e]
        )

    out: list[str] = []
    for ti in range(n):
        call = program.calls[ti]
        if call.kernel in ("alloc", "none"):
            continue  # no kernel runs: nothing reads or writes the block
        for a in call.args:
            c = creator.get(a.buffer, -1)
            if c < 0 or c == ti or not (a.reads or a.writes) or kept_alive(c, ti):
                continue
            where = "inside a MANUAL scope (no creator edge) " if info.tasks[ti].manual else ""
            out.append(f"{tasks[ti].name} {'reads' if a.reads else 'writes'} {a.buffer} (created by {tasks[c].name}) "
                       f"{where}while nothing retains {tasks[c].name}'s heap block until {tasks[ti].name} completes")
    out.extend(_tensor_data_lifetime_gaps(scenario, info, submitted_at, scope_end_at))
    return tuple(dict.fromkeys(out))


def _tensor_data_lifetime_gaps(
    scenario: Scenario, info: ProgramInfo, submitted_at: dict[int, int], scope_end_at: dict[int, int]
) -> list[str]:
    """get/set_tensor_data of a runtime-created buffer after its creator C may no longer be pinned.

    The orchestrator's own access holds no reference: wait_for_tensor_ready (pto_runtime2.cpp @ simpler
    6ebaf7715) waits for the owner and the writers to complete, and their completion may be what lets C
    be consumed. So the block is certainly there only while the heap tail cannot pass it: while some task
    E of C's ring with local id <= C's is still pinned by its open scope (E = C: the access is inside C's
    scope). A RETAIN holder does not help, since nothing orders the access before the holder's completion."""
    tasks = scenario.tasks()
    out: list[str] = []
    tdata = [(k, ins) for k, ins in enumerate(info.instrs) if ins.kind == I_TDATA]
    positions = [pos for pos, op in enumerate(scenario.program) if isinstance(op, TensorData)]
    for pos, (k, ins) in zip(positions, tdata, strict=True):
        arg = ins.region_arg
        assert arg is not None
        c = arg.owner
        if c < 0:  # an external buffer: the host owns it
            continue
        ring, local = info.tasks[c].ring, info.tasks[c].local
        pinned = any(
            submitted_at[e] < k < scope_end_at.get(e, len(info.instrs))
            for e in range(len(info.tasks))
            if info.tasks[e].ring == ring and info.tasks[e].local <= local and e in submitted_at
        )
        if not pinned:
            what = "set" if ins.write else "get"
            out.append(f"{what}_tensor_data at program[{pos}] touches a buffer created by {tasks[c].name} after "
                       f"{tasks[c].name}'s scope ended, while no open scope pins {tasks[c].name}'s heap block")
    return out


# ------------------------------------------------------------------------------------------ comparison


class DataRun(Protocol):
    """What a port's data path exposes for the comparison (TrbDataPath, BufferDataPath)."""

    scenario: Scenario
    program: DataProgram
    seed: int
    space: ByteSpace
    parts: dict[tuple[int, int], list[PartRun]]
    views: dict[tuple[int, int], tuple[View, ...]]
    tensor_reads: dict[tuple[int, int], Array]
    anomalies: list[str]

    def external_contents(self) -> dict[str, Array]: ...

    def external_span(self, name: str) -> tuple[int, str]: ...


@dataclass(frozen=True)
class DataMismatch:
    run: int
    what: str  # "kernel part" | "host buffer" | "get_tensor_data" | "attention"
    task: str  # the task that wrote the element ("" when none)
    buffer: str
    element: tuple[int, ...]
    got: str
    expected: str
    step: int  # when the wrong value was written / read (-1 when unknown)
    cause: str

    def text(self) -> str:
        if self.what == "memory access":
            return f"run {self.run}: an access outside every heap ring and host buffer ({self.cause})"
        where = f"{self.buffer}{list(self.element)}"
        who = f" written by {self.task}" if self.task else ""
        at = f" at step {self.step}" if self.step >= 0 else ""
        return (f"run {self.run}: {self.what} {where}{who}{at} is {self.got}, the golden says {self.expected}"
                + (f"; {self.cause}" if self.cause else ""))


@dataclass(frozen=True)
class DataVerdict:
    family: str
    applicable: bool
    reason: str  # why not applicable, or the comparison policy
    compared: int  # kernel parts compared
    mismatches: tuple[DataMismatch, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def summary(self) -> str:
        if not self.applicable:
            return f"data check not applicable ({self.family}): {self.reason}"
        if self.ok:
            return f"data check: {self.compared} kernel parts and every host buffer match the golden ({self.reason})"
        more = f" (+{len(self.mismatches) - 1} more)" if len(self.mismatches) > 1 else ""
        return f"data mismatch ({self.family}): {self.mismatches[0].text()}{more}"


def _fmt(x: object) -> str:
    if isinstance(x, float | np.floating):
        v = float(x)
        if np.isnan(v):
            return f"NaN(bits {np.float32(v).view(np.uint32):#010x})" if isinstance(x, np.float32) else "NaN"
        return f"{v:.6g}"
    return str(x)


def _first_diff(got: Array, want: Array, program: DataProgram) -> int:
    """Flat index of the first element that differs (-1: none) under the family's policy."""
    g, w = np.ascontiguousarray(got).reshape(-1), np.ascontiguousarray(want).reshape(-1)
    if g.shape != w.shape:
        return 0
    if program.exact or w.dtype.kind not in "fV":  # integers compare exactly (bfloat16's kind is "V")
        bad = g.view(np.uint8).reshape(g.size, -1) != w.view(np.uint8).reshape(w.size, -1)
        hits = np.flatnonzero(bad.any(axis=1)) if g.size else np.array([], dtype=np.int64)
    else:
        gf, wf = g.astype(np.float64), w.astype(np.float64)
        with np.errstate(all="ignore"):
            close = np.isclose(gf, wf, rtol=program.rtol, atol=program.atol, equal_nan=False)
        hits = np.flatnonzero(~close)
    return int(hits[0]) if hits.size else -1


def check_data(system: TrbSystem, attention: bool = True) -> DataVerdict:
    """Compare a finished data-carrying run of `system` with the golden (a program that leaves a heap
    block unretained while a task touches it has no golden: not applicable, see program_lifetime_gaps)."""
    path = system.data
    if not isinstance(path, TrbDataPath):
        raise TypeError("check_data needs a TrbSystem built with data=True")
    aborted = bool(system.fatal_code()) or system.crash is not None
    return compare_with_golden(path, system.round, aborted, attention, heap_rings=True)


def check_buffer_data(path: BufferDataPath, attention: bool = True) -> DataVerdict:
    """Compare a finished run of a heap-less port (aicpu_build_graph, host_build_graph) with the golden."""
    return compare_with_golden(path, 0, False, attention)


def compare_with_golden(path: DataRun, last_run: int, aborted: bool, attention: bool = True,
                        heap_rings: bool = False) -> DataVerdict:
    """The property: every executed kernel part, the host buffers after `last_run`, and every
    get_tensor_data read against the golden (`aborted`: a fatal run, where unexecuted parts are expected;
    `heap_rings`: created buffers live in reclaimable heap blocks, so their lifetimes must be retained)."""
    scenario, program = path.scenario, path.program
    races = program_races(scenario, program)
    if not races and heap_rings:
        races = program_lifetime_gaps(scenario, program)
    if races:
        return DataVerdict(program.family, False, races[0], 0, ())
    gold = golden(scenario, program, path.seed)
    policy = "exact" if program.exact else f"rtol={program.rtol:g} atol={program.atol:g}"
    found: list[tuple[int, int, DataMismatch]] = []  # (step, task, mismatch)
    compared = 0
    for note in path.anomalies:  # a kernel or reclamation addressed bytes outside every heap ring and host buffer
        found.append((-1, -1, DataMismatch(last_run, "memory access", "", "-", (), "outside every heap ring and host buffer",
                                           "inside the ring the allocator serves", -1, note)))
    tasks = scenario.tasks()
    for (run, ti, part), want in sorted(gold.writes.items()):
        call = program.calls[ti]
        runs = [p for p in path.parts.get((run, ti), []) if p.part == part]
        if not runs:
            if run <= last_run and not aborted:
                found.append((1 << 62, ti, DataMismatch(run, "kernel part", call.name, call.args[want[0].arg].buffer if want else "-",
                                                        (), "never executed", f"part {part} executed", -1,
                                                        "the task completed without running this kernel part")))
            continue
        for pr in runs:
            compared += 1
            mm = _compare_part(path, gold, pr, want, program)
            if mm is not None:
                found.append((pr.start_step, ti, mm))
    for run in range(min(len(gold.externals), last_run + 1)):
        if run != last_run:
            continue  # host buffers are compared at the end of the last run
        got_ext = path.external_contents()
        for name, want_arr in gold.externals[run].items():
            i = _first_diff(got_ext[name], want_arr, program)
            if i >= 0:
                writer, step = _last_writer_of(path, name, i)
                found.append((1 << 61, len(tasks), DataMismatch(run, "host buffer", writer, name, (i,),
                                                                _fmt(got_ext[name][i]), _fmt(want_arr[i]), step, "")))
    for key, want_arr in gold.tensor_reads.items():
        got_arr = path.tensor_reads.get(key)
        if got_arr is None:
            continue
        i = _first_diff(got_arr, want_arr, program)
        if i >= 0:
            found.append((1 << 60, -1, DataMismatch(key[0], "get_tensor_data", "", f"program[{key[1]}]", (i,),
                                                    _fmt(got_arr.reshape(-1)[i]), _fmt(want_arr.reshape(-1)[i]), -1, "")))
    if attention and program.family in (FAMILY_PA, FAMILY_BATCHED_PA) and gold.externals:
        inputs = external_inputs(scenario, program, path.seed)
        ref = direct_attention(program, inputs).reshape(-1)
        got_out = gold.externals[-1]["out"].astype(np.float64)
        with np.errstate(all="ignore"):
            bad = np.flatnonzero(~np.isclose(got_out, ref, rtol=ATTENTION_RTOL, atol=ATTENTION_ATOL))
        if bad.size:
            i = int(bad[0])
            found.append((1 << 59, -1, DataMismatch(0, "attention", "", "out", (i,), _fmt(got_out[i]), _fmt(ref[i]), -1,
                                                    "the sequential online-softmax golden differs from float64 attention")))
    found.sort(key=lambda f: (f[0], f[1]))
    return DataVerdict(program.family, True, policy, compared, tuple(m for _s, _t, m in found))


def _compare_part(path: DataRun, gold: Golden, pr: PartRun, want: list[Write], program: DataProgram
                  ) -> DataMismatch | None:
    call = program.calls[pr.task]
    if pr.error:
        return DataMismatch(pr.run, "kernel part", call.name, "-", (), "no result", "a result", pr.start_step, pr.error)
    got = {(w.arg, w.start): w for w in pr.writes}
    for w in want:
        a = call.args[w.arg]
        gw = got.get((w.arg, w.start))
        if gw is None:
            return DataMismatch(pr.run, "kernel part", call.name, a.buffer, (), "not written", "written", pr.finish_step,
                                _cause(path, gold, pr))
        i = _first_diff(gw.values, w.values, program)
        if i >= 0:
            flat = w.start + i
            elem = tuple(int(x) for x in np.unravel_index(flat, a.shape)) if len(a.shape) > 1 else (flat,)
            return DataMismatch(pr.run, "kernel part", call.name + (f" (part {pr.part})" if call.parts > 1 else ""),
                                a.buffer, elem, _fmt(gw.values.reshape(-1)[i]), _fmt(w.values.reshape(-1)[i]),
                                pr.finish_step, _cause(path, gold, pr))
    return None


def _cause(path: DataRun, gold: Golden, pr: PartRun) -> str:
    """What the byte log says about the part's inputs: poisoned, overwritten, or read too early."""
    call = path.program.calls[pr.task]
    views = path.views.get((pr.run, pr.task), ())
    names = {i: t.name for i, t in enumerate(path.scenario.tasks())}
    poisoned = {arg for arg, _e in pr.poison_reads}
    for i, a in enumerate(call.args):
        if not a.reads or i >= len(views):
            continue
        lo, hi = views[i].byte_span()
        read_at = pr.start_step
        everything = [e for e in path.space.events_over(lo, hi) if e.run == pr.run]
        events = [e for e in everything if e.step < 0 or read_at < 0 or e.step <= read_at]
        if i in poisoned:
            poison = [e for e in events if e.kind == "poison"]
            if poison:
                e = poison[-1]
                return (f"input {a.buffer} (arg {i}) held poison when {call.name} read it at step {read_at}: "
                        f"reclaimed at step {e.step} ({e.detail})")
            return f"input {a.buffer} (arg {i}) held poison when {call.name} read it at step {read_at}"
        expected = gold.writers.get((pr.run, pr.task, i), ())
        for w in expected:
            landed = [e for e in everything if e.task == w and e.kind in ("write", "init")]
            if not any(e in events for e in landed):
                when = f"its write landed at step {landed[0].step}" if landed else "it never wrote"
                return (f"{call.name} read {a.buffer} (arg {i}) at step {read_at} before its producer "
                        f"{names[w]} finished ({when}): a lost dependency")
        mine = [k for k, e in enumerate(events) if e.task in expected]
        after = events[mine[-1] + 1:] if mine else events
        foreign = [e for e in after if e.kind in ("write", "poison", "tensor-data")
                   and e.task not in expected and (e.task != pr.task or e.kind == "poison")]
        if foreign:
            e = foreign[-1]
            if e.kind == "poison":
                return f"input {a.buffer} (arg {i}) was reclaimed at step {e.step} ({e.detail}) before {call.name} read it"
            who = names.get(e.task, e.detail)
            return (f"input {a.buffer} (arg {i}) was overwritten by {who} at step {e.step} before {call.name} read it "
                    f"at step {read_at}")
    return "no input anomaly in the byte log (a kernel ran with the wrong arguments or twice)"


def _last_writer_of(path: DataRun, buffer: str, element: int) -> tuple[str, int]:
    addr, dtype = path.external_span(buffer)
    esz = DTYPE_BYTES[dtype]
    lo = addr + element * esz
    events = path.space.events_over(lo, lo + esz)
    if not events:
        return "", -1
    e = events[-1]
    names = [t.name for t in path.scenario.tasks()]
    return (names[e.task] if 0 <= e.task < len(names) else e.detail), e.step


# ------------------------------------------------------------------------------------------ observer


class DataObserver:
    """Stamps the byte log with executor steps and checks the data at the end of a completed run."""

    def __init__(self, system: TrbSystem, attention: bool = True) -> None:
        if not isinstance(system.data, TrbDataPath):
            raise TypeError("the data oracle observes a TrbSystem built with data=True")
        self.system = system
        self.space = system.data.space
        self.attention = attention
        self.verdict: DataVerdict | None = None

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        self.space.step = rec.index + 1
        return None

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        s = self.system
        if outcome != DONE or s.fatal_code() or s.crash is not None or s.scenario.expected.fatal is not None:
            return None  # only a run that completed has outputs to compare
        self.verdict = check_data(s, self.attention)
        if self.verdict.ok:
            return None
        return Failure(PROPERTY_ID, self.verdict.summary(), ex.steps)


def data_observers(attention: bool = True) -> Callable[[System], Sequence[Observer]]:
    """Observer factory for `runtime.search.search` (systems must be `TrbSystem(..., data=True)`)."""

    def make(system: System) -> Sequence[Observer]:
        if not isinstance(system, TrbSystem):
            raise TypeError(f"the data oracle checks a TrbSystem, got {type(system).__name__}")
        return [DataObserver(system, attention)]

    return make


class BufferDataObserver:
    """The same property for the heap-less ports (aicpu_build_graph v1/v2, host_build_graph): build the
    system with `properties.runtimes.system_for`, then `attach_buffer_data(system)` before the run."""

    def __init__(self, system: System, attention: bool = True) -> None:
        path = getattr(getattr(system, "cores", None), "data", None)
        if not isinstance(path, BufferDataPath):
            raise TypeError("attach a BufferDataPath (runtime.data.buffers.attach_buffer_data) before the run")
        self.path = path
        self.attention = attention
        self.verdict: DataVerdict | None = None

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        self.path.space.step = rec.index + 1
        return None

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        if outcome != DONE or self.path.scenario.expected.fatal is not None:
            return None
        self.verdict = check_buffer_data(self.path, self.attention)
        return None if self.verdict.ok else Failure(PROPERTY_ID, self.verdict.summary(), ex.steps)


def data_system(scenario: Scenario, mutants: Sequence[str] = (), seed: int = 0) -> System:
    """A data-carrying port of the scenario's runtime (TRB: its heap rings; the others: per-buffer bytes)."""
    from properties.runtimes import system_for
    from runtime.data.buffers import attach_buffer_data

    if scenario.runtime == "tensormap_and_ringbuffer":
        system_for(scenario, mutants)  # the same validation of runtime and mutant names
        return TrbSystem(scenario, mutants, data=True, data_seed=seed)
    system = system_for(scenario, mutants)
    attach_buffer_data(system, seed)
    return system


def any_data_observers(attention: bool = True) -> Callable[[System], Sequence[Observer]]:
    """Observer factory for `data_system(...)` systems of any runtime."""

    def make(system: System) -> Sequence[Observer]:
        if isinstance(system, TrbSystem):
            return [DataObserver(system, attention)]
        return [BufferDataObserver(system, attention)]

    return make


def same_outputs(scenarios: Sequence[Scenario], seed: int = 0, schedule_seed: int = 0) -> dict[str, Array]:
    """Run each scenario (one per runtime, same program) once with data; the host buffer `out` of each
    (issue 9's differential check: compare them with each other and with the golden)."""
    from runtime.execution import RandomScheduler, run_once

    outs: dict[str, Array] = {}
    for sc in scenarios:
        system = data_system(sc, seed=seed)
        observers = any_data_observers()(system)
        sched = RandomScheduler(schedule_seed)
        sched.new_execution()
        result = run_once(system, sched, observers, max_steps=1_000_000, record_trace=False)
        if result.outcome != DONE:
            raise AssertionError(f"{sc.name} on {sc.runtime}: {result.outcome} {result.failure or result.work_left}")
        path = system.data if isinstance(system, TrbSystem) else system.cores.data  # type: ignore[attr-defined]
        assert isinstance(path, TrbDataPath | BufferDataPath)
        outs[f"{sc.runtime}:{sc.name}"] = path.external_contents()["out"]
    return outs


# ------------------------------------------------------------------------------------------ mutant column


@dataclass(frozen=True)
class DataMutantRow:
    mutant: str
    catalogue_id: str
    found: bool
    scenario: str  # where the data check found it (or the last scenario tried)
    executions: int
    message: str


def data_mutant_scenarios(mutant: str) -> tuple[Callable[[], Scenario], ...]:
    """The mutant's own search scenarios (properties.port_checks.MUTANT_CASES) plus data-rich ones:
    producer/reader pairs with slot and heap reuse, and two-block paged attention."""
    from model.builders.paged_attention import pa_two_blocks_default
    from properties.port_checks import MUTANT_CASES, retain_pairs

    own = tuple(f for c in MUTANT_CASES if c.mutant == mutant for f in c.scenarios)
    return own + (lambda: retain_pairs(4, 2, "retain_pairs_4"), pa_two_blocks_default)


def data_only_mutant_column(runs: int = 60, seed: int = 1, mutants: Sequence[str] | None = None,
                            max_steps: int = 20_000, engines: Sequence[str] = ("random", "pct")
                            ) -> list[DataMutantRow]:
    """For each mutant of runtime/trb/mutants.py: does the data check ALONE (no other invariant observer)
    find it with a search of `runs` executions per scenario and engine (random, then PCT depth 3)?
    Deadlocks and step limits are not data findings; mutants that are not "implemented" are listed as such."""
    from runtime.search import SearchBounds, search
    from runtime.trb.mutants import IMPLEMENTED, MUTANTS

    names = list(mutants) if mutants is not None else list(MUTANTS)
    rows: list[DataMutantRow] = []
    for m in names:
        row = DataMutantRow(m, MUTANTS[m].catalogue_id, False, "", 0, "")
        if MUTANTS[m].status != IMPLEMENTED:  # no behaviour to find in this port (see runtime/trb/mutants.py)
            rows.append(DataMutantRow(m, MUTANTS[m].catalogue_id, False, f"({MUTANTS[m].status})", 0, ""))
            continue
        total = 0
        for make in data_mutant_scenarios(m):
            sc = make()
            for engine in engines:
                report = search(_factory(sc, m), engine, seed,
                                SearchBounds(runs=runs, max_steps=max_steps, stop_at_first_failure=False),
                                data_observers())
                total += report.executions
                hit = next((f for f in report.failures if f.property_id == PROPERTY_ID), None)
                row = DataMutantRow(m, MUTANTS[m].catalogue_id, hit is not None, f"{sc.name} ({engine})", total,
                                    hit.message if hit is not None else "")
                if hit is not None:
                    break
            if row.found:
                break
        rows.append(row)
    return rows


def _factory(scenario: Scenario, mutant: str) -> Callable[[], TrbSystem]:
    return lambda: TrbSystem(scenario, {mutant}, data=True)


def format_mutant_column(rows: Sequence[DataMutantRow]) -> str:
    lines = [f"{'mutant':<34} {'cat':<9} {'data check alone':<17} {'scenario (engine)':<34} execs"]
    for r in rows:
        verdict = "FOUND" if r.found else ("-" if r.scenario.startswith("(") else "not found")
        lines.append(f"{r.mutant:<34} {r.catalogue_id:<9} {verdict:<17} {r.scenario:<34} {r.executions}")
        if r.found:
            lines.append(f"    {r.message[:220]}")
    return "\n".join(lines)


__all__ = [
    "ATTENTION_ATOL",
    "ATTENTION_RTOL",
    "PROPERTY_ID",
    "BufferDataObserver",
    "DataMismatch",
    "DataMutantRow",
    "DataObserver",
    "DataRun",
    "DataVerdict",
    "Golden",
    "any_data_observers",
    "check_buffer_data",
    "check_data",
    "compare_with_golden",
    "data_mutant_scenarios",
    "data_observers",
    "data_only_mutant_column",
    "data_system",
    "direct_attention",
    "format_mutant_column",
    "golden",
    "program_lifetime_gaps",
    "program_races",
    "same_outputs",
]
