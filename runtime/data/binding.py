"""Which kernel each task of a scenario runs, with the scalar arguments its orchestration would pass.

A scenario names kernels only by id, so the binding recognises the workloads whose kernels the oracle
knows by the program's structure (never by task names): the paged-attention orchestrations (AUTO /
manual scope: QK 3 args, SF 4, PV 3, UP 7; batched: QK 4, SF 5, PV 4, UP 7, whole tensors) and the
vector example (AIV kernels 0/1/2 on FLOAT32 vectors). Every other scenario (and any task of a
scenario that does not fit) runs the generic kernel. The scalars follow from the structure as the
C++ orchestrations compute them: a UP is first / last of its accumulator's chain in program order,
a batched task's block index is its position in its chunk scope, its chunk and q tile follow from the
chunk scopes' order, and the vector example's k-th add_scalar adds k + 1.0 (1.0f, 2.0f).

`compute(call, part, read)` runs one part of a call: `read(i)` returns argument i's current contents,
and the result is the list of writes the part makes when it finishes.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from model.scenario import DTYPE_BYTES, Alloc, Region, Scenario, Submit, Tag, TensorData
from runtime.data import kernels as kn
from runtime.data.memory import Array, np_dtype, shape_numel

READ_TAGS = (Tag.INPUT, Tag.INOUT, Tag.NO_DEP)
WRITE_TAGS = (Tag.INOUT, Tag.OUTPUT, Tag.OUTPUT_EXISTING)

FAMILY_PA = "paged_attention"
FAMILY_BATCHED_PA = "batched_paged_attention"
FAMILY_VECTOR = "vector_example"
FAMILY_GENERIC = "generic"

PA_RTOL = PA_ATOL = 1e-3
"""examples/a2a3/tensormap_and_ringbuffer/paged_attention/test_paged_attention.py (@ 6ebaf7715):
`RTOL = 1e-3, ATOL = 1e-3`, applied by simpler_setup/scene_test.py `_compare_outputs` as
`torch.allclose(actual, expected, rtol, atol)`, i.e. |a - e| <= atol + rtol * |e| elementwise."""
DEFAULT_RTOL = DEFAULT_ATOL = 1e-5
"""SceneTestCase's class defaults (simpler_setup/scene_test.py), used by the vector example's test."""

PA_NAMES = ("query", "key_cache", "value_cache", "block_table", "context_lens", "out")


@dataclass(frozen=True, slots=True)
class ArgRef:
    """One tensor a kernel touches: its tag and its region (an OUTPUT's whole created buffer)."""

    pos: int
    tag: Tag
    buffer: str
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    dtype: str

    @property
    def numel(self) -> int:
        return shape_numel(self.shape)

    @property
    def reads(self) -> bool:
        return self.tag in READ_TAGS

    @property
    def writes(self) -> bool:
        return self.tag in WRITE_TAGS

    def byte_range(self) -> tuple[int, int]:
        """[lo, hi) bytes of the buffer the region can touch."""
        esz = DTYPE_BYTES[self.dtype]
        last = self.offset + sum((n - 1) * s for n, s in zip(self.shape, self.strides, strict=True))
        return self.offset * esz, (last + 1) * esz


@dataclass(frozen=True, slots=True)
class Write:
    """A part's store: elements [start, start + values.size) of argument `arg` (row-major order)."""

    arg: int
    start: int
    values: Array


@dataclass(frozen=True)
class TaskCall:
    task: int
    name: str
    kernel: str  # "qk" "sf" "pv" "up" "zero" | "bqk" "bsf" "bpv" "bup" | "vadd" "vadds" "vmul" | "generic" | "alloc" | "none"
    args: tuple[ArgRef, ...]
    parts: int = 1
    params: tuple[tuple[str, float], ...] = ()

    def param(self, name: str) -> float:
        for k, v in self.params:
            if k == name:
                return v
        raise KeyError(name)

    def iparam(self, name: str) -> int:
        return int(self.param(name))


@dataclass(frozen=True)
class TensorDataCall:
    program_pos: int
    write: bool
    arg: ArgRef


@dataclass(frozen=True)
class PaInputs:
    """Paged-attention dimensions and the host tensors' index data the program implies."""

    batch: int
    num_heads: int
    head_dim: int
    block_size: int
    context_lens: tuple[int, ...]
    block_table: tuple[tuple[int, ...], ...]  # the entries the program reads (rest filled at random)


@dataclass(frozen=True)
class DataProgram:
    family: str
    calls: dict[int, TaskCall]  # by task index (program order of submits and allocs)
    tensor_data: dict[int, TensorDataCall]  # by program position
    rtol: float
    atol: float
    exact: bool
    pa: PaInputs | None = None
    notes: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------------------------- helpers


def _arg_ref(pos: int, tag: Tag, region: Region, buffers: dict[str, str]) -> ArgRef:
    return ArgRef(pos, tag, region.buffer, region.offset, tuple(region.shape), tuple(region.strides),
                  region.dtype or buffers[region.buffer])


def _row_major(shape: tuple[int, ...]) -> tuple[int, ...]:
    out = []
    acc = 1
    for n in reversed(shape):
        out.append(acc)
        acc *= n
    return tuple(reversed(out))


def _refs(op: Submit | Alloc, dtypes: dict[str, str]) -> tuple[ArgRef, ...]:
    if isinstance(op, Alloc):
        return tuple(
            ArgRef(i, Tag.OUTPUT, o.name, 0, tuple(o.shape), _row_major(tuple(o.shape)), o.dtype)
            for i, o in enumerate(op.outputs)
        )
    out = []
    for i, a in enumerate(op.args):
        if a.creates is not None:
            c = a.creates
            out.append(ArgRef(i, a.tag, c.name, 0, tuple(c.shape), _row_major(tuple(c.shape)), c.dtype))
        else:
            assert a.region is not None
            out.append(_arg_ref(i, a.tag, a.region, dtypes))
    return tuple(out)


def _subtasks(op: Submit) -> int:
    return sum(1 for k in op.kernel_ids if k >= 0)


def _generic_call(ti: int, op: Submit | Alloc, refs: tuple[ArgRef, ...]) -> TaskCall:
    if isinstance(op, Alloc):
        return TaskCall(ti, op.name, "alloc", refs)
    if op.shape.value == "DUMMY":
        return TaskCall(ti, op.name, "none", refs)
    return TaskCall(ti, op.name, "generic", refs, parts=op.block_num * _subtasks(op))


# --------------------------------------------------------------------------------------------- binding


def bind(scenario: Scenario, family: str | None = None) -> DataProgram:
    """The kernel of every task. `family` forces one ("generic" always fits); None recognises it."""
    dtypes = {name: b.dtype for name, b in scenario.all_buffers().items()}
    tasks = scenario.tasks()
    refs = {ti: _refs(op, dtypes) for ti, op in enumerate(tasks)}
    tdata: dict[int, TensorDataCall] = {}
    for pos, op in enumerate(scenario.program):
        if isinstance(op, TensorData):
            tdata[pos] = TensorDataCall(pos, op.write, _arg_ref(0, Tag.INOUT if op.write else Tag.INPUT, op.region, dtypes))
    generic = DataProgram(
        FAMILY_GENERIC,
        {ti: _generic_call(ti, op, refs[ti]) for ti, op in enumerate(tasks)},
        tdata, 0.0, 0.0, True,
    )
    if family == FAMILY_GENERIC:
        return generic
    for recognise in (_bind_paged_attention, _bind_vector):
        bound = recognise(scenario, tasks, refs, tdata)
        if bound is not None and (family is None or bound.family == family):
            return bound
    if family is not None:
        raise ValueError(f"scenario {scenario.name!r} is not a {family} program")
    return generic


def _bind_vector(
    scenario: Scenario,
    tasks: tuple[Submit | Alloc, ...],
    refs: dict[int, tuple[ArgRef, ...]],
    tdata: dict[int, TensorDataCall],
) -> DataProgram | None:
    sigs = {
        0: ((Tag.INPUT, Tag.INPUT, Tag.OUTPUT), (Tag.INPUT, Tag.INPUT, Tag.OUTPUT_EXISTING)),
        1: ((Tag.INPUT, Tag.OUTPUT),),
        2: ((Tag.INPUT, Tag.INPUT, Tag.OUTPUT),),
    }
    calls: dict[int, TaskCall] = {}
    scalars = 0
    for ti, op in enumerate(tasks):
        if not isinstance(op, Submit) or op.block_num != 1 or op.kernel_ids[0] != -1 or op.kernel_ids[2] != -1:
            return None
        k = op.kernel_ids[1]
        if k not in sigs or tuple(a.tag for a in op.args) not in sigs[k]:
            return None
        r = refs[ti]
        if any(a.dtype != "FLOAT32" for a in r) or len({a.numel for a in r}) != 1:
            return None
        if k == 1:
            scalars += 1
            calls[ti] = TaskCall(ti, op.name, "vadds", r, params=(("scalar", float(scalars)),))
        else:
            calls[ti] = TaskCall(ti, op.name, "vadd" if k == 0 else "vmul", r)
    if not calls or tdata:
        return None
    return DataProgram(FAMILY_VECTOR, calls, tdata, DEFAULT_RTOL, DEFAULT_ATOL, False)


_OUT = (Tag.OUTPUT, Tag.OUTPUT_EXISTING)  # runtime-created or host-allocated (aicpu_build_graph v1) outputs
_PA_SIGS: dict[str, tuple[tuple[int, int, int], tuple[tuple[Tag, ...], ...]]] = {
    "qk": ((0, -1, -1), ((Tag.INPUT,), (Tag.INPUT,), _OUT)),
    "sf": ((-1, 1, -1), ((Tag.INPUT,), _OUT, _OUT, _OUT)),
    "pv": ((2, -1, -1), ((Tag.INPUT,), (Tag.INPUT,), _OUT)),
    "up": ((-1, 3, -1), ((Tag.INPUT,),) * 3 + ((Tag.INOUT,),) * 4),
    "bqk": ((0, -1, -1), ((Tag.INPUT,),) * 3 + (_OUT,)),
    "bsf": ((-1, 1, -1), ((Tag.INPUT,), (Tag.INPUT,), _OUT, _OUT, _OUT)),
    "bpv": ((2, -1, -1), ((Tag.INPUT,),) * 3 + (_OUT,)),
    "zero": ((-1, 5, -1), ((Tag.OUTPUT,), (Tag.OUTPUT,), (Tag.OUTPUT,))),  # aicpu_build_graph v2's hub
}


def _pa_kind(op: Submit) -> str | None:
    if op.block_num != 1:
        return None
    tags = tuple(a.tag for a in op.args)
    for kind, (kids, allowed) in _PA_SIGS.items():
        if kids == op.kernel_ids and len(allowed) == len(tags) and all(t in ok for t, ok in zip(tags, allowed, strict=True)):
            return kind
    return None


def _bind_paged_attention(
    scenario: Scenario,
    tasks: tuple[Submit | Alloc, ...],
    refs: dict[int, tuple[ArgRef, ...]],
    tdata: dict[int, TensorDataCall],
) -> DataProgram | None:
    """The paged-attention orchestrations of all three runtimes: TRB / host_build_graph (alloc_tensors,
    runtime-created intermediates, SF reads the valid columns as a view), aicpu_build_graph v1 (host-
    allocated intermediates written as OUTPUT_EXISTING, SF gets valid_len as a scalar: taken from the
    context lengths the builder records) and v2 (a hub task creates the accumulators), and the batched one."""
    ext = {b.name: b for b in scenario.buffers}
    if any(n not in ext for n in PA_NAMES):
        return None
    kinds: dict[int, str] = {}
    for ti, op in enumerate(tasks):
        if isinstance(op, Alloc):
            continue
        kind = _pa_kind(op)
        if kind is None:
            return None
        kinds[ti] = kind
    batched = "bqk" in kinds.values()
    if batched and any(k in ("qk", "sf", "pv") for k in kinds.values()):
        return None
    writer: dict[tuple[int, str], int] = {}  # (reader task, buffer) -> last earlier writer
    last: dict[str, int] = {}
    for ti in range(len(tasks)):
        for a in refs[ti]:
            if a.reads and a.buffer in last:
                writer[(ti, a.buffer)] = last[a.buffer]
        for a in refs[ti]:
            if a.writes:
                last[a.buffer] = ti
    q_shape = _shape_of(scenario, "query")
    batch = ext["context_lens"].numel
    if q_shape is None or q_shape[0] % batch:
        return None
    num_heads, head_dim = q_shape[0] // batch, q_shape[1]
    tile = min(num_heads, 128)
    # Chains UP <- PV <- SF <- QK, grouped by the accumulator the UP updates (its oi argument).
    groups: dict[str, list[int]] = {}
    chain: dict[int, tuple[int, int, int]] = {}
    for ti, kind in kinds.items():
        if kind != "up":
            continue
        r = refs[ti]
        pv = writer.get((ti, r[2].buffer), -1)
        sf = writer.get((pv, refs[pv][0].buffer), -1) if kinds.get(pv) in ("pv", "bpv") else -1
        qk = writer.get((sf, refs[sf][0].buffer), -1) if kinds.get(sf) in ("sf", "bsf") else -1
        if kinds.get(qk) not in ("qk", "bqk"):
            return None
        chain[ti] = (qk, sf, pv)
        groups.setdefault(r[5].buffer, []).append(ti)
    hubs = sum(1 for k in kinds.values() if k == "zero")
    if len(chain) * 4 + hubs != len(kinds) or not chain:
        return None
    calls: dict[int, TaskCall] = {
        ti: TaskCall(ti, op.name, "alloc", refs[ti]) for ti, op in enumerate(tasks) if isinstance(op, Alloc)
    }
    calls.update({ti: TaskCall(ti, tasks[ti].name, "zero", refs[ti]) for ti, k in kinds.items() if k == "zero"})
    block_size = refs[next(iter(chain.values()))[0]][-1].shape[1]
    described = _described_context_lens(scenario.description, batch)
    notes: list[str] = []
    chunks = math.ceil(batch / 16)
    ctx: dict[int, int] = {}
    table: dict[tuple[int, int], int] = {}
    for gi, ups in enumerate(groups.values()):
        q, c = (gi // chunks, gi % chunks) if batched else (0, 0)
        for bn, up in enumerate(ups):
            qk, sf, pv = chain[up]
            first, final = bn == 0, bn == len(ups) - 1
            flags = (("is_first", float(first)), ("is_last", float(final)))
            if batched:
                rows = refs[qk][-1].shape[0]
                common = (
                    ("batch_count", float(rows // tile)), ("block_idx", float(bn)), ("batch_start", float(c * 16)),
                    ("q_offset", float(q * tile)), ("num_heads", float(num_heads)), ("tile", float(tile)),
                )
                for t, k in ((qk, "bqk"), (sf, "bsf"), (pv, "bpv")):
                    calls[t] = TaskCall(t, tasks[t].name, k, refs[t], params=common)
                calls[up] = TaskCall(up, tasks[up].name, "bup", refs[up], params=common + flags)
                continue
            qi, kj = refs[qk][0], refs[qk][1]
            b = qi.offset // head_dim // num_heads
            table[(b, bn)] = kj.offset // (block_size * head_dim)
            cols = refs[sf][0].shape[1]
            if cols < block_size or described is None:
                valid = cols  # the view carries the valid columns (TRB, host_build_graph)
                if cols == block_size and final:
                    notes.append("no recorded context lengths: full last blocks assumed")
            else:  # aicpu_build_graph v1 passes valid_len as a scalar; the builder records the lengths
                valid = max(0, min(block_size, described[b] - bn * block_size))
            if final:
                ctx[b] = bn * block_size + valid
            calls[qk] = TaskCall(qk, tasks[qk].name, "qk", refs[qk])
            calls[sf] = TaskCall(sf, tasks[sf].name, "sf", refs[sf], params=(("valid_len", float(valid)),))
            calls[pv] = TaskCall(pv, tasks[pv].name, "pv", refs[pv])
            calls[up] = TaskCall(up, tasks[up].name, "up", refs[up], params=flags)
    if batched:
        max_bn = max(len(g) for g in groups.values())
        lens = described
        if lens is None or math.ceil(max(lens) / block_size) != max_bn:
            notes.append("no recorded context lengths: synthetic lengths with max_bn blocks")
            lens = tuple(max_bn * block_size if b == 0 else 1 + (b * 7919) % (max_bn * block_size) for b in range(batch))
        rows_tbl: tuple[tuple[int, ...], ...] = ()
    else:
        if sorted(ctx) != list(range(batch)):
            return None
        lens = tuple(ctx[b] for b in range(batch))
        rows_tbl = tuple(
            tuple(table[(b, bn)] for bn in range(math.ceil(lens[b] / block_size))) for b in range(batch)
        )
    pa = PaInputs(batch, num_heads, head_dim, block_size, lens, rows_tbl)
    family = FAMILY_BATCHED_PA if batched else FAMILY_PA
    return DataProgram(family, calls, tdata, PA_RTOL, PA_ATOL, False, pa, tuple(dict.fromkeys(notes)))


def _shape_of(scenario: Scenario, buffer: str) -> tuple[int, ...] | None:
    for op in scenario.tasks():
        if isinstance(op, Submit):
            for a in op.args:
                if a.region is not None and a.region.buffer == buffer and len(a.region.strides) == 2:
                    numel = next(b.numel for b in scenario.buffers if b.name == buffer)
                    cols = a.region.strides[0]
                    return (numel // cols, cols)
    return None


def _described_context_lens(description: str, batch: int) -> tuple[int, ...] | None:
    """The batched builder records its context lengths only in the description ("context_lens=[...]")."""
    m = re.search(r"context_lens=\[([0-9, ]+)\]", description)
    if m is None:
        return None
    vals = tuple(int(x) for x in m.group(1).split(",") if x.strip())
    return vals if len(vals) == batch else None


# --------------------------------------------------------------------------------------------- compute


def _slice(n: int, part: int, parts: int) -> tuple[int, int]:
    return n * part // parts, n * (part + 1) // parts


def compute(call: TaskCall, part: int, read: Callable[[int], Array]) -> list[Write]:
    """Run part `part` of `call`: read its inputs through `read`, return its writes."""
    k = call.kernel
    a = call.args
    if k in ("none", "alloc"):
        return []
    if k == "generic":
        return _generic(call, part, read)
    if k == "vadd":
        return [Write(2, 0, kn.vector_add(read(0), read(1)))]
    if k == "vmul":
        return [Write(2, 0, kn.vector_mul(read(0), read(1)))]
    if k == "vadds":
        return [Write(1, 0, kn.vector_add_scalar(read(0), call.param("scalar")))]
    if k == "qk":
        return [Write(2, 0, kn.qk_matmul(read(0), read(1)))]
    if k == "zero":
        return [Write(i, 0, np.zeros(x.shape, dtype=np_dtype(x.dtype))) for i, x in enumerate(a) if x.writes]
    if k == "sf":
        valid = call.iparam("valid_len")
        pij, mij, lij = kn.softmax_prepare(read(0)[:, :valid], a[1].shape[1])
        return [Write(1, 0, pij.astype(np_dtype(a[1].dtype))), Write(2, 0, mij), Write(3, 0, lij)]
    if k == "pv":
        return [Write(2, 0, kn.pv_matmul(read(0), read(1)))]
    if k == "up":
        first, last = bool(call.param("is_first")), bool(call.param("is_last"))
        mij, lij, oi_new = read(0), read(1), read(2)
        mi = li = oi = None
        if not first:
            mi, li, oi = read(3), read(4), read(5)
        mi2, li2, oi2, out = kn.online_update(mij, lij, oi_new, mi, li, oi, first, last)
        writes = [Write(3, 0, mi2), Write(4, 0, li2)]
        if oi2 is not None:
            writes.append(Write(5, 0, oi2))
        if out is not None:
            writes.append(Write(6, 0, out))
        return writes
    if k in ("bqk", "bsf", "bpv", "bup"):
        return _batched(call, read)
    raise ValueError(f"unknown kernel {k!r}")


def _generic(call: TaskCall, part: int, read: Callable[[int], Array]) -> list[Write]:
    parts = call.parts
    written = {a.buffer for a in call.args if a.writes}
    chunks: list[bytes] = []
    for i, a in enumerate(call.args):
        if not a.reads:
            continue
        if a.tag is Tag.INOUT:
            lo, hi = _slice(a.numel, part, parts)
            chunks.append(np.ascontiguousarray(read(i)).reshape(-1)[lo:hi].tobytes())
        elif parts == 1 or a.buffer not in written:
            # With several parts, an input overlapping the task's own outputs would race between parts.
            chunks.append(np.ascontiguousarray(read(i)).tobytes())
    digest = kn.input_digest(call.task, part, chunks)
    out = []
    for i, a in enumerate(call.args):
        if a.writes:
            lo, hi = _slice(a.numel, part, parts)
            if hi > lo:
                out.append(Write(i, lo, kn.generic_values(digest, i, lo, hi - lo, np_dtype(a.dtype))))
    return out


def _batched(call: TaskCall, read: Callable[[int], Array]) -> list[Write]:
    k = call.kernel
    a = call.args
    bc, bn, bstart = call.iparam("batch_count"), call.iparam("block_idx"), call.iparam("batch_start")
    tile = call.iparam("tile")
    if k == "bqk":
        query, key, table = read(0), read(1), read(2)
        bs = a[3].shape[1]
        sij = np.empty(a[3].shape, dtype=np.float32)
        heads, q_off = call.iparam("num_heads"), call.iparam("q_offset")
        for b in range(bc):
            q0 = (bstart + b) * heads + q_off
            blk = int(table[bstart + b, bn])
            sij[b * tile:(b + 1) * tile] = kn.qk_matmul(query[q0:q0 + tile], key[blk * bs:(blk + 1) * bs])
        return [Write(3, 0, sij)]
    if k == "bsf":
        sij, lens = read(0), read(1)
        bs = a[2].shape[1]
        pij = np.empty(a[2].shape, dtype=np_dtype(a[2].dtype))
        mij = np.empty(a[3].shape, dtype=np.float32)
        lij = np.empty(a[4].shape, dtype=np.float32)
        for b in range(bc):
            valid = kn.valid_length(int(lens[bstart + b]), bn, bs)
            rows = slice(b * tile, (b + 1) * tile)
            p, m, s = kn.softmax_prepare(sij[rows, :valid], bs)
            pij[rows], mij[rows], lij[rows] = p, m, s
        return [Write(2, 0, pij), Write(3, 0, mij), Write(4, 0, lij)]
    if k == "bpv":
        pij, value, table = read(0), read(1), read(2)
        bs = a[0].shape[1]
        oi_new_all = np.empty(a[3].shape, dtype=np.float32)
        for b in range(bc):
            blk = int(table[bstart + b, bn])
            oi_new_all[b * tile:(b + 1) * tile] = kn.pv_matmul(pij[b * tile:(b + 1) * tile], value[blk * bs:(blk + 1) * bs])
        return [Write(3, 0, oi_new_all)]
    first, last = bool(call.param("is_first")), bool(call.param("is_last"))
    heads, q_off = call.iparam("num_heads"), call.iparam("q_offset")
    mij, lij, oi_new = read(0), read(1), read(2)
    mi: Array | None = None
    li: Array | None = None
    oi: Array | None = None
    if not first:
        mi, li, oi = read(3), read(4), read(5)
    mi_all = np.empty(a[3].shape, dtype=np.float32)
    li_all = np.empty(a[4].shape, dtype=np.float32)
    oi_all = np.empty(a[5].shape, dtype=np.float32)
    writes: list[Write] = []
    d = a[6].shape[1]
    for b in range(bc):
        rows = slice(b * tile, (b + 1) * tile)
        m2, l2, o2, out = kn.online_update(
            mij[rows], lij[rows], oi_new[rows],
            None if mi is None else mi[rows], None if li is None else li[rows], None if oi is None else oi[rows],
            first, last,
        )
        mi_all[rows], li_all[rows] = m2, l2
        if o2 is not None:
            oi_all[rows] = o2
        if out is not None:
            writes.append(Write(6, ((bstart + b) * heads + q_off) * d, out))
    writes = [Write(3, 0, mi_all), Write(4, 0, li_all)] + ([] if last else [Write(5, 0, oi_all)]) + writes
    return writes


# --------------------------------------------------------------------------------------------- inputs


def external_inputs(scenario: Scenario, program: DataProgram, seed: int) -> dict[str, Array]:
    """The host tensors' initial contents (flat, the buffer's dtype), reproducible from `seed`.

    Paged attention follows simpler_setup/goldens/paged_attention.py `generate_inputs`: query and key
    uniform(-0.5, 0.5), value uniform(-1, 1) as bfloat16, out zero; the block table holds the blocks
    the program reads (random valid blocks elsewhere) and context_lens the lengths the program implies.
    The vector example uses its test's a = 2.0, b = 3.0, f = 0. Anything else: small random integers."""
    out: dict[str, Array] = {}
    pa = program.pa
    for b in scenario.buffers:
        # one generator per buffer name: the same tensor gets the same values whatever else the program declares
        rng = np.random.default_rng([seed, zlib.crc32(b.name.encode())])
        dt = np_dtype(b.dtype)
        if pa is not None and b.name in PA_NAMES:
            out[b.name] = _pa_input(b.name, b.numel, dt, pa, rng)
        elif program.family == FAMILY_VECTOR and b.name in ("a", "b", "f"):
            out[b.name] = np.full(b.numel, {"a": 2.0, "b": 3.0, "f": 0.0}[b.name], dtype=dt)
        else:
            out[b.name] = kn.generic_values(rng.bytes(16), 0, 0, b.numel, dt)
    return out


def _pa_input(name: str, numel: int, dt: np.dtype[np.generic], pa: PaInputs, rng: np.random.Generator) -> Array:
    if name == "query" or name == "key_cache":
        return rng.uniform(-0.5, 0.5, numel).astype(np.float32).astype(dt)
    if name == "value_cache":
        return rng.uniform(-1.0, 1.0, numel).astype(np.float32).astype(dt)
    if name == "context_lens":
        return np.array(pa.context_lens, dtype=dt)
    if name == "block_table":
        total_blocks = pa.batch * math.ceil(max(pa.context_lens) / pa.block_size)
        per_req = numel // pa.batch
        tbl = rng.integers(0, max(total_blocks, 1), size=(pa.batch, per_req)).astype(dt)
        if pa.block_table:
            for b, row in enumerate(pa.block_table):
                tbl[b, : len(row)] = row
        else:  # batched: a collision-free valid table (each batch its own blocks)
            nb = math.ceil(max(pa.context_lens) / pa.block_size)
            for b in range(pa.batch):
                tbl[b, :nb] = np.arange(b * nb, (b + 1) * nb)
        return tbl.reshape(-1)
    return np.zeros(numel, dtype=dt)


__all__ = [
    "FAMILY_BATCHED_PA",
    "FAMILY_GENERIC",
    "FAMILY_PA",
    "FAMILY_VECTOR",
    "PA_ATOL",
    "PA_RTOL",
    "ArgRef",
    "DataProgram",
    "PaInputs",
    "TaskCall",
    "TensorDataCall",
    "Write",
    "bind",
    "compute",
    "external_inputs",
]
