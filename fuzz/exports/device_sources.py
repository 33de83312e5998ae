"""The C++ of a device bundle: one orchestration source and one trivial kernel per func id.

The orchestration calls only the public orchestration API of simpler @ 6ebaf7715
(src/a2a3/runtime/tensormap_and_ringbuffer/orchestration/pto_orchestration_api.h and what it includes):
`PTO2_SCOPE_GUARD` for scopes (AUTO / MANUAL), `CoreTaskArgs` with `add_input / add_output /
add_inout / add_no_dep / add_scalar / set_dependencies_with_kinds`, `rt_submit_task`,
`rt_submit_dummy_task`, `alloc_tensors`, `get_tensor_data / set_tensor_data`, and `ChipTensor`'s
`reshape / view / slice` for regions. `fuzz/exports/api_subset/pto_orchestration_api.h` declares
exactly that subset (checked by hand against the header) so the tests can compile every generated
source with `g++ -fsyntax-only`.

The program's top level runs inside the executor's own root scope (depth 0, ring 0), as every
orchestration entry does; each scenario `scope_begin` opens one C++ block with a scope guard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fuzz.exports.device_plan import (
    CELLS_PER_BLOCK,
    ORDER_FLAG,
    BundleError,
    BundlePlan,
    KernelPlan,
    TaskPlan,
)
from fuzz.exports.views import Reshape, Slice, View, ViewOp, plan_view
from model.scenario import (
    DTYPE_BYTES,
    Alloc,
    DepKind,
    OutputSpec,
    Region,
    ScopeBegin,
    ScopeEnd,
    ScopeMode,
    Submit,
    Tag,
    TensorData,
)

ORCH_FILE = "kernels/orchestration/ptocheck_orch.cpp"
ENTRY = "aicpu_orchestration_entry"


def kernel_file(k: KernelPlan) -> str:
    return f"kernels/{k.core_type}/ptocheck_kernel_{k.func_id}.cpp"


def c_ident(text: str) -> str:
    body = re.sub(r"[^0-9A-Za-z_]", "_", text)[:40]
    return body if body and not body[0].isdigit() else "_" + body


def comment(text: str) -> str:
    """Scenario names in a `//` comment: one line, printable ASCII."""
    return re.sub(r"[^ -~]", "?", text).replace("\\", "/")


def _u32s(values: tuple[int, ...]) -> str:
    return "{" + ", ".join(str(v) for v in values) + "}"


@dataclass
class _Buf:
    """How the orchestration names a buffer: its C++ variable and the shape of that tensor."""

    var: str
    shape: tuple[int, ...]
    dtype: str
    numel: int
    external: bool


@dataclass
class _Emitter:
    plan: BundlePlan
    lines: list[str] = field(default_factory=list)
    depth: int = 1
    counter: int = 0
    bufs: dict[str, _Buf] = field(default_factory=dict)

    def put(self, text: str = "") -> None:
        self.lines.append(("    " * self.depth + text) if text else "")

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    # ---------------------------------------------------------------- regions

    def region(self, r: Region, manual_dep: bool, where: str) -> str:
        """Declare a ChipTensor for `r` in the current block; returns its name."""
        buf = self.bufs[r.buffer]
        base = buf.var
        base_shape = buf.shape
        numel = buf.numel
        dtype = r.dtype or buf.dtype
        if (r.dtype is not None and r.dtype != buf.dtype) or r.version:
            if not buf.external:
                raise BundleError(
                    f"region on runtime-created buffer {r.buffer!r} changes dtype or version",
                    where,
                    "the public API can retype or re-version only external tensors (make_tensor_external)",
                )
            numel = buf.numel * DTYPE_BYTES[buf.dtype] // DTYPE_BYTES[dtype]
            shp = self.fresh("ext_shape")
            base = self.fresh("retyped")
            self.put(f"const uint32_t {shp}[1] = {{{numel}}};")
            self.put(
                f"ChipTensor {base} = make_tensor_external({buf.var}.data_as<void>(), {shp}, 1, "
                f"DataType::{dtype}, false, {r.version});"
            )
            base_shape = (numel,)
        ops = plan_view(base_shape, numel, r.offset, r.shape, r.strides, manual_dep, where)
        if not ops:
            return base
        expr = base
        for op in ops:
            expr += self._op(op)
        name = self.fresh("view")
        self.put(f"ChipTensor {name} = {expr};")
        return name

    def _op(self, op: ViewOp) -> str:
        md = "true" if op.manual_dep else "false"
        if isinstance(op, Reshape):
            a = self.fresh("shape")
            self.put(f"const uint32_t {a}[{len(op.shape)}] = {_u32s(op.shape)};")
            return f".reshape({a}, {len(op.shape)}, {md})"
        if isinstance(op, View):
            a, o = self.fresh("shape"), self.fresh("offset")
            self.put(f"const uint32_t {a}[{len(op.shape)}] = {_u32s(op.shape)};")
            self.put(f"const uint32_t {o}[{len(op.offsets)}] = {_u32s(op.offsets)};")
            return f".view({a}, {o}, {md})"
        assert isinstance(op, Slice)
        return f".slice({op.dim}, {op.start}, {op.end}, {op.step}, {md})"

    def create_info(self, spec: OutputSpec, manual_dep: bool) -> str:
        shp, ci = self.fresh("out_shape"), self.fresh("create_info")
        self.put(f"const uint32_t {shp}[{len(spec.shape)}] = {_u32s(spec.shape)};")
        md = ", true" if manual_dep else ""
        self.put(f"TensorCreateInfo {ci}({shp}, {len(spec.shape)}, DataType::{spec.dtype}{md});")
        return ci

    def new_buffer(self, spec: OutputSpec) -> str:
        var = f"buf_{len(self.bufs)}_{c_ident(spec.name)}"
        self.bufs[spec.name] = _Buf(var, spec.shape, spec.dtype, spec.numel, external=False)
        return var


def orchestration_source(plan: BundlePlan, header: str) -> str:
    sc = plan.scenario
    em = _Emitter(plan)
    externals = list(sc.buffers)
    for i, b in enumerate(externals):
        em.bufs[b.name] = _Buf(f"ext_{i}_{c_ident(b.name)}", (b.numel,), b.dtype, b.numel, external=True)
    n_tensors = len(externals) + (1 if plan.ledger else 0)
    out: list[str] = [
        *(f"// {line}" if line else "//" for line in header.splitlines()),
        "",
        "#include <stddef.h>",
        "#include <stdint.h>",
        "",
        '#include "pto_orchestration_api.h"  // NOLINT(build/include_subdir)',
        "",
        'extern "C" {',
        "",
        "__attribute__((visibility(\"default\"))) PTO2OrchestrationConfig",
        "aicpu_orchestration_config(const ChipTaskArgs &orch_args) {",
        "    (void)orch_args;  // NOLINT(readability/casting)",
        "    PTO2OrchestrationConfig config{};",
        f"    config.expected_arg_count = {n_tensors + 1};  // {n_tensors} tensors + the spin unit scalar",
        "    return config;",
        "}",
        "",
        "__attribute__((visibility(\"default\"))) void aicpu_orchestration_entry(const ChipTaskArgs &orch_args) {",
    ]
    em.lines = out
    for i, b in enumerate(externals):
        em.put(f"[[maybe_unused]] const ChipTensor &{em.bufs[b.name].var} = orch_args.tensor({i}).ref();  "
               f"// buffer {comment(b.name)}: {b.dtype}[{b.numel}]")
    if plan.ledger:
        em.put(f"const ChipTensor &ledger = orch_args.tensor({len(externals)}).ref();  "
               f"// INT32[{plan.ledger_cells}], {CELLS_PER_BLOCK} cells per block")
    em.put("const uint64_t spin_unit = orch_args.scalar(0);")
    em.put(
        'LOG_INFO("[ptocheck] bundle %s: %d tasks; this run has %d clusters and %d AIV cores; spin unit %llu",'
    )
    em.put(f'         "{c_ident(sc.name)}", {len(plan.tasks)}, rt_available_cluster_count(), '
           "rt_available_aiv_count(), static_cast<unsigned long long>(spin_unit));")
    em.put("uint64_t tensor_data_sink = 0;  // get_tensor_data results, logged at the end")
    em.put("(void)spin_unit;")
    em.put("// Task ids (for explicit dependencies) and runtime-created buffers, copied out of")
    em.put("// TaskOutputTensors at once: its references die with the scope of the submit.")
    ids = [f"id_{t.index}_{c_ident(t.name)}" for t in plan.tasks]
    for t, var in zip(plan.tasks, ids, strict=True):
        em.put(f"PTO2TaskId {var} = PTO2TaskId::invalid();  // {comment(t.name)}")
    created: list[str] = []
    for op in sc.program:
        specs: tuple[OutputSpec, ...] = ()
        if isinstance(op, Alloc):
            specs = op.outputs
        elif isinstance(op, Submit):
            specs = tuple(a.creates for a in op.args if a.creates is not None)
        for spec in specs:
            created.append(f"ChipTensor {em.new_buffer(spec)}{{}};  // {comment(spec.name)}: {spec.dtype}"
                           f"{list(spec.shape)}")
    for line in created:
        em.put(line)
    em.put()
    by_name = {t.name: t for t in plan.tasks}
    depth = 0
    for i, op in enumerate(sc.program):
        where = f"{sc.name}: program[{i}]"
        if isinstance(op, ScopeBegin):
            depth += 1
            mode = "MANUAL" if op.mode is ScopeMode.MANUAL else "AUTO"
            em.put(f"{{  // scope_begin {mode}: depth {depth}, ring {min(depth, 3)}")
            em.depth += 1
            em.put(f"PTO2_SCOPE_GUARD(PTO2ScopeMode::{mode});")
        elif isinstance(op, ScopeEnd):
            depth -= 1
            em.depth -= 1
            em.put("}  // scope_end")
        elif isinstance(op, Alloc):
            t = by_name[op.name]
            em.put(f"{{  // alloc_tensors {comment(op.name)} (r{t.ring}t{t.local})")
            em.depth += 1
            cis = [em.create_info(spec, False) for spec in op.outputs]
            em.put(f"TaskOutputTensors outs = alloc_tensors({', '.join(cis)});")
            em.put(f"{ids[t.index]} = outs.task_id();")
            for j, spec in enumerate(op.outputs):
                em.put(f"{em.bufs[spec.name].var} = outs.get_ref({j});")
            em.depth -= 1
            em.put("}")
        elif isinstance(op, Submit):
            _submit(em, op, by_name[op.name], ids, by_name, where)
        elif isinstance(op, TensorData):
            verb = "set_tensor_data" if op.write else "get_tensor_data"
            em.put(f"{{  // {verb} on {comment(op.region.buffer)} at element {op.region.offset}")
            em.depth += 1
            view = em.region(op.region, False, where)
            idx = em.fresh("index")
            k = len(op.region.shape)
            em.put(f"const uint32_t {idx}[{k}] = {_u32s((0,) * k)};")
            if op.write:
                em.put(f"set_tensor_data({view}, {k}, {idx}, uint64_t{{0}});  // zero: buffers start zeroed")
            else:
                em.put(f"tensor_data_sink += get_tensor_data({view}, {k}, {idx});")
            em.depth -= 1
            em.put("}")
    em.put()
    em.put('LOG_INFO("[ptocheck] orchestration submitted everything; tensor data sink %llu",')
    em.put("         static_cast<unsigned long long>(tensor_data_sink));")
    em.lines.append("}")
    em.lines.append("")
    em.lines.append('}  // extern "C"')
    return "\n".join(em.lines) + "\n"


def _submit(
    em: _Emitter,
    op: Submit,
    t: TaskPlan,
    ids: list[str],
    by_name: dict[str, TaskPlan],
    where: str,
) -> None:
    plan = em.plan
    shape = "dummy" if t.kind == "dummy" else "/".join(
        f"{n}={k}" for n, k in zip(("aic", "aiv0", "aiv1"), op.kernel_ids, strict=True) if k >= 0
    )
    em.put(f"{{  // task {comment(op.name)} (r{t.ring}t{t.local}): {shape}, block_num {op.block_num}")
    em.depth += 1
    em.put("CoreTaskArgs args;")
    new_bufs: list[tuple[int, str]] = []
    outputs = 0
    for j, a in enumerate(op.args):
        aw = f"{where}.args[{j}]"
        if a.tag is Tag.OUTPUT:
            assert a.creates is not None
            ci = em.create_info(a.creates, a.manual_dep)
            em.put(f"args.add_output({ci});")
            new_bufs.append((outputs, em.bufs[a.creates.name].var))
            outputs += 1
            continue
        assert a.region is not None
        view = em.region(a.region, a.manual_dep, aw)
        em.put(f"args.{_ADDER[a.tag]}({view});  // arg {j}: {a.tag.value}")
    if plan.ledger and t.kind == "kernel":
        shp, off = em.fresh("ledger_shape"), em.fresh("ledger_offset")
        em.put(f"const uint32_t {shp}[1] = {{{t.ledger_cells}}};")
        em.put(f"const uint32_t {off}[1] = {{{t.ledger_base}}};")
        em.put(f"ChipTensor cells = ledger.view({shp}, {off});  // ledger cells {t.ledger_base}.."
               f"{t.ledger_base + t.ledger_cells - 1}")
        for _ in range(t.pad_tensors):
            em.put("args.add_no_dep(cells);  // pad: every task of this kernel has the same tensor count")
        em.put(f"args.add_no_dep(cells);  // arg {t.ledger_arg}: the ledger (NO_DEP: no dependency)")
        scalars = [f"uint64_t{{{t.mask | len(t.producers) << 8}}}", f"spin_unit * {t.hold}"]
        for p in t.producers:
            pt = plan.tasks[p]
            scalars.append(f"uint64_t{{0x{pt.ledger_base | pt.block_num << 32 | pt.mask << 48:x}}}  /* {comment(pt.name)} */")
        em.put(f"args.add_scalar({', '.join(scalars)});")
    if op.deps:
        deps = ", ".join(ids[by_name[d.task].index] for d in op.deps)
        kinds = ", ".join("DEP_WAIT" if d.kind is DepKind.WAIT else "DEP_WAIT | DEP_RETAIN" for d in op.deps)
        em.put(f"const PTO2TaskId deps[{len(op.deps)}] = {{{deps}}};")
        em.put(f"const DepFlags dep_kinds[{len(op.deps)}] = {{{kinds}}};")
        em.put(f"args.set_dependencies_with_kinds(deps, dep_kinds, {len(op.deps)});")
    if op.block_num != 1:
        em.put(f"args.launch_spec.set_block_num({op.block_num});")
    if op.sync_start:
        em.put("args.launch_spec.set_require_sync_start(true);")
    if op.early_resolve:
        em.put("args.set_allow_early_resolve(true);")
    if t.kind == "dummy":
        em.put("TaskOutputTensors outs = rt_submit_dummy_task(args);")
    else:
        em.put("MixedKernels kernels;")
        for field_name, k in zip(("aic_kernel_id", "aiv0_kernel_id", "aiv1_kernel_id"), op.kernel_ids, strict=True):
            if k >= 0:
                em.put(f"kernels.{field_name} = {k};")
        em.put("TaskOutputTensors outs = rt_submit_task(kernels, args);")
    em.put(f"{ids[t.index]} = outs.task_id();")
    for j, var in new_bufs:
        em.put(f"{var} = outs.get_ref({j});")
    em.depth -= 1
    em.put("}")


_ADDER = {
    Tag.INPUT: "add_input",
    Tag.INOUT: "add_inout",
    Tag.OUTPUT_EXISTING: "add_output",
    Tag.NO_DEP: "add_no_dep",
}


def kernel_source(k: KernelPlan, plan: BundlePlan, header: str) -> str:
    lines = [f"// {line}" if line else "//" for line in header.splitlines()]
    lines += [
        f"// Trivial kernel for func_id {k.func_id} ({k.core_type.upper()}): it touches no data. "
        + ("It checks its producers, spins, and counts itself in the ledger." if plan.ledger
           else "It returns at once (bundle written without a ledger)."),
    ]
    if plan.ledger:
        lines += [
            f"// Tensors 0..{k.tensors_before_ledger - 1}: the task's own (or pad) arguments, unused here. "
            f"Tensor {k.tensors_before_ledger}: the ledger,",
            f"// a NO_DEP INT32 view of this task's cells ({CELLS_PER_BLOCK} per block: AIC, AIV0, AIV1). "
            "Scalars after it: active mask | checked",
            "// producers << 8, spin count, then one word per producer: first cell | block_num << 32 | mask << 48.",
        ]
    lines += [
        "",
        "#include <cstdint>",
        "#if __has_include(<pto/pto-inst.hpp>)",
        "#include <pto/pto-inst.hpp>",
        "#endif",
        "",
        '#include "tensor.h"',
        "",
        "#ifndef __gm__",
        "#define __gm__",
        "#endif",
        "#ifndef __aicore__",
        "#define __aicore__ [aicore]  // NOLINT(whitespace/braces)",
        "#endif",
        "",
        '#include "intrinsic.h"',
        "",
    ]
    if not plan.ledger:
        lines += [
            'extern "C" __aicore__ void kernel_entry(__gm__ int64_t *args) { (void)args; }',
            "",
        ]
        return "\n".join(lines)
    slot = (
        "0"
        if k.core_type == "aic"
        else "(mask & 6u) == 6u ? 1 + get_sub_block_id(args) : ((mask & 2u) != 0u ? 1 : 2)"
    )
    lines += [
        "// The cpu-sim stub has no cache to write back; on the device the ledger cell is flushed to GM.",
        "#if defined(PTO_CPUSTUB_HPP) || !defined(CACHELINE_OUT)",
        "#define PTOCHECK_FLUSH(ptr) ((void)(ptr))",
        "#else",
        "#define PTOCHECK_FLUSH(ptr) dcci((ptr), SINGLE_CACHE_LINE, CACHELINE_OUT)",
        "#endif",
        "",
        f"static constexpr int32_t kLedgerArg = {k.tensors_before_ledger};",
        f"static constexpr int32_t kCellsPerBlock = {CELLS_PER_BLOCK};",
        f"static constexpr int32_t kOrderFlag = {ORDER_FLAG};",
        "",
        'extern "C" __aicore__ void kernel_entry(__gm__ int64_t *args) {',
        "    __gm__ ChipTensor *cells = reinterpret_cast<__gm__ ChipTensor *>(args[kLedgerArg]);",
        "    __gm__ int32_t *ledger = reinterpret_cast<__gm__ int32_t *>(cells->buffer.addr);",
        "    const uint64_t word = static_cast<uint64_t>(args[kLedgerArg + 1]);",
        "    const uint64_t mask = word & 0xFFu;",
        "    const uint64_t producers = word >> 8;",
        "    const uint64_t spin = static_cast<uint64_t>(args[kLedgerArg + 2]);",
        "    // Every producer this task waits for must have finished its kernel before this one starts.",
        "    int32_t early = 0;",
        "    for (uint64_t i = 0; i < producers; ++i) {",
        "        const uint64_t p = static_cast<uint64_t>(args[kLedgerArg + 3 + static_cast<int64_t>(i)]);",
        "        const uint64_t first = p & 0xFFFFFFFFu;",
        "        const uint64_t blocks = (p >> 32) & 0xFFFFu;",
        "        const uint64_t pmask = (p >> 48) & 0x7u;",
        "        for (uint64_t b = 0; b < blocks; ++b) {",
        "            for (uint64_t s = 0; s < static_cast<uint64_t>(kCellsPerBlock); ++s) {",
        "                if (((pmask >> s) & 1u) != 0u && ledger[first + b * kCellsPerBlock + s] == 0) {",
        "                    early = 1;",
        "                }",
        "            }",
        "        }",
        "    }",
        "    // Hold the core as long as the counterexample held it (spin = hold x spin unit).",
        "    volatile uint64_t burn = 0;",
        "    for (uint64_t i = 0; i < spin; ++i) {",
        "        burn = burn + i;",
        "    }",
        f"    const int32_t slot = {slot};",
        *(["    static_cast<void>(mask);  // an AIC kernel always writes slot 0"] if k.core_type == "aic" else []),
        "    const uint64_t block = static_cast<uint64_t>(get_block_idx(args));",
        "    __gm__ int32_t *mine = ledger + cells->start_offset + block * kCellsPerBlock + static_cast<uint64_t>(slot);",
        "    *mine = *mine + 1 + (early != 0 ? kOrderFlag : 0);",
        "    PTOCHECK_FLUSH(mine);",
        "}",
        "",
    ]
    return "\n".join(lines)

