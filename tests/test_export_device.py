"""`ptocheck export device`: the view planner, the bundle plan, the generated C++ (compiled with
`g++ -fsyntax-only` against the hand-checked API subset), the generated scene test's golden logic, and
one clear error for every bad input."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from fuzz.cli import main
from fuzz.exports.device_bundle import BundleSource, env_knobs, write_bundle
from fuzz.exports.device_plan import (
    MAX_CHECKED_PRODUCERS,
    ORDER_FLAG,
    BundleError,
    holds_from_spans,
    plan_bundle,
)
from fuzz.exports.device_sources import ORCH_FILE, kernel_file
from fuzz.exports.timeline import model_path_timeline
from fuzz.exports.views import Geometry, ViewError, apply_ops, plan_view
from model.builders import BUILTIN_SCENARIOS
from model.scenario import (
    Alloc,
    Arg,
    Buffer,
    Config,
    Constants,
    DepKind,
    ExplicitDep,
    OutputSpec,
    Region,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    ScopeMode,
    Submit,
    Tag,
    TensorData,
    row_major_strides,
    validate,
)
from properties.artifacts import Artifact, dump_artifact, load_artifact

ROOT = Path(__file__).resolve().parent.parent
R7 = ROOT / "tests" / "regressions" / "f_model_r7.json"
SUBSET = ROOT / "fuzz" / "exports" / "api_subset"
KERNEL_SUBSET = ROOT / "fuzz" / "exports" / "api_subset_kernel"
GXX = shutil.which("g++")
needs_gxx = pytest.mark.skipif(GXX is None, reason="g++ is not installed: the generated C++ cannot be syntax-checked")
TRB_BUILTINS = sorted(n for n, f in BUILTIN_SCENARIOS.items() if f().runtime == "tensormap_and_ringbuffer")
OTHER_BUILTINS = sorted(set(BUILTIN_SCENARIOS) - set(TRB_BUILTINS))
F32 = "FLOAT32"


def _regions(sc: Scenario) -> list[tuple[Region, bool]]:
    out: list[tuple[Region, bool]] = []
    for op in sc.program:
        if isinstance(op, Submit):
            out += [(a.region, a.manual_dep) for a in op.args if a.region is not None]
        elif isinstance(op, TensorData):
            out.append((op.region, False))
    return out


# ------------------------------------------------------------------------------------------- views


@pytest.mark.parametrize("name", TRB_BUILTINS)
def test_every_builtin_region_is_built_exactly_by_the_view_ops(name: str) -> None:
    sc = BUILTIN_SCENARIOS[name]()
    bufs = sc.all_buffers()
    created = {
        spec.name: spec.shape
        for op in sc.program
        for spec in (op.outputs if isinstance(op, Alloc) else tuple(a.creates for a in op.args if a.creates) if isinstance(op, Submit) else ())
    }
    for region, md in _regions(sc):
        numel = bufs[region.buffer].numel
        base = created.get(region.buffer, (numel,))
        ops = plan_view(base, numel, region.offset, region.shape, region.strides, md, "t")
        got = apply_ops(Geometry(0, base, row_major_strides(base)), ops, numel)
        assert (got.start, got.shape, got.strides, got.manual_dep) == (region.offset, region.shape, region.strides, md)


@pytest.mark.parametrize(
    ("numel", "offset", "shape", "strides"),
    [
        (2, 1, (1, 1), (2, 1)),  # pa_two_blocks' block-table read: the row does not start at offset 0
        (256, 0, (16, 15), (16, 1)),  # a ragged last tile
        (100, 3, (4,), (7,)),  # a 1-D strided region: slice with a step
        (30, 5, (2, 3, 4), (12, 4, 1)),  # 3-D, offset inside a row
        (13, 1, (3, 3), (4, 1)),  # the buffer is not a whole number of rows
    ],
)
def test_view_plan_lands_on_the_region(numel: int, offset: int, shape: tuple[int, ...], strides: tuple[int, ...]) -> None:
    ops = plan_view((numel,), numel, offset, shape, strides, True, "t")
    got = apply_ops(Geometry(0, (numel,), (1,)), ops, numel)
    assert got == Geometry(offset, shape, strides, True)


def test_view_plan_refuses_what_the_public_ops_cannot_build() -> None:
    with pytest.raises(ViewError, match="cannot be built"):
        plan_view((64,), 64, 0, (4, 4), (1, 4), False, "program[3].args[0]")  # column-major


def test_simulated_view_ops_enforce_the_cxx_asserts() -> None:
    from fuzz.exports.views import Reshape, View

    base = Geometry(0, (16,), (1,))
    with pytest.raises(ViewError, match="leaves its parent"):
        apply_ops(base, (View((8,), (9,)),), 16)
    with pytest.raises(ViewError, match="non-contiguous"):
        apply_ops(Geometry(0, (4, 4), (8, 1)), (Reshape((16,)),), 64)


# -------------------------------------------------------------------------------------------- plan


def test_non_trb_scenarios_are_rejected_with_the_reason() -> None:
    for name in OTHER_BUILTINS:
        with pytest.raises(BundleError, match="device bundles target tensormap_and_ringbuffer"):
            plan_bundle(BUILTIN_SCENARIOS[name]())


def test_producers_are_checked_through_dummy_tasks() -> None:
    plan = plan_bundle(BUILTIN_SCENARIOS["dummy_dense_fanout_fanin"]())
    by = {t.name: t for t in plan.tasks}
    assert by["t19"].producers == (0,)  # 18 dummy barriers stand between t19 and its only kernel producer
    assert all(by[f"t{i}"].kind == "dummy" and by[f"t{i}"].ledger_base == -1 for i in range(1, 19))
    assert plan.ledger_cells == 6 and plan.expected_ledger() == [1, 0, 0, 1, 0, 0]


def test_vector_example_plan_matches_its_dependency_graph() -> None:
    plan = plan_bundle(BUILTIN_SCENARIOS["vector_example"]())
    names = [t.name for t in plan.tasks]
    deps = {t.name: sorted(names[p] for p in t.producers) for t in plan.tasks}
    # t0->t1, t0->t2, t1->t3, t2->t3, t0->t4, t3->t4 (the example's documented graph)
    assert deps == {"t0": [], "t1": ["t0"], "t2": ["t0"], "t3": ["t1", "t2"], "t4": ["t0", "t3"]}
    widths = {k.func_id: k.tensors_before_ledger for k in plan.kernels}
    assert widths == {0: 3, 1: 2, 2: 3}


def _scenario(program: tuple[Any, ...], *, config: Config | None = None, buffers: tuple[Buffer, ...] = ()) -> Scenario:
    cfg = config or Config(task_window=(4, 4, 8, 4), heap_bytes=(4096,) * 4, dep_pool=(16,) * 4,
                           scheduler_threads=2, clusters=2)
    return validate(Scenario("probe", cfg, buffers or (Buffer("x", F32, 64, True),), program))


def _aic(name: str, *args: Arg, deps: tuple[str, ...] = (), kernel: int = 0) -> Submit:
    return Submit(name, (kernel, -1, -1), args, deps=tuple(ExplicitDep(d) for d in deps))


def test_plan_rejections_name_the_task_and_say_what_to_do() -> None:
    out = Arg(Tag.OUTPUT, creates=OutputSpec("o", (4,), F32))
    with pytest.raises(BundleError, match=r"runs on both AIC and AIV.*distinct ids"):
        plan_bundle(_scenario((_aic("a", out), Submit("b", (-1, 0, -1)))))
    with pytest.raises(BundleError, match="submitted at or after it"):
        plan_bundle(_scenario((_aic("a", deps=("b",)), _aic("b"))))
    with pytest.raises(BundleError, match="cannot run on a2a3"):
        plan_bundle(_scenario((_aic("a"),)).with_config(scheduler_threads=4))  # validate() refuses it too


def test_producers_beyond_the_scalar_budget_are_reported_not_dropped_silently() -> None:
    n = MAX_CHECKED_PRODUCERS + 2
    prods = tuple(_aic(f"p{i}") for i in range(n))
    plan = plan_bundle(_scenario((*prods, _aic("c", deps=tuple(p.name for p in prods)))))
    last = plan.tasks[-1]
    assert len(last.producers) == MAX_CHECKED_PRODUCERS and len(last.unchecked_producers) == 2
    assert any("2 of its 16 kernel producers are not order-checked" in note for note in plan.notes)


def test_holds_follow_the_counterexample() -> None:
    a = load_artifact(R7)
    tl = model_path_timeline(a.scenario, a.actions, property_id=a.signature.property_id)
    holds = holds_from_spans(tl.run_spans, tl.steps)
    names = [t.name for t in a.scenario.tasks()]
    # X0 dispatched at step 9, completed at 10; Y0 13/14; X1 19/20; Y1, X2, Y2 never ran
    assert {names[t]: h for t, h in holds.items()} == {"X0": 2, "Y0": 2, "X1": 2}
    plan = plan_bundle(a.scenario, holds)
    assert [t.hold for t in plan.tasks] == [2, 2, 2, 1, 1, 1]


# --------------------------------------------------------------------------------- generated C++


def _feature_scenario() -> Scenario:
    """One scenario that exercises every API call the generator can emit."""
    x = Region("x", (64,), (1,))
    return _scenario(
        (
            Alloc("al", (OutputSpec("a0", (4, 4), F32), OutputSpec("a1", (8,), "INT32"))),
            _aic("w", Arg(Tag.INOUT, x), Arg(Tag.OUTPUT, creates=OutputSpec("o", (4, 4), F32), manual_dep=True)),
            TensorData(False, Region("o", (1, 1), (4, 1), offset=5)),
            ScopeBegin(ScopeMode.MANUAL),
            Submit(
                "mix",
                (1, 2, 2),
                (
                    Arg(Tag.INPUT, Region("x", (4,), (3,), offset=1)),  # strided 1-D: slice with a step
                    Arg(Tag.OUTPUT_EXISTING, Region("a0", (2, 2), (4, 1), offset=5)),
                    Arg(Tag.NO_DEP, Region("x", (8,), (1,), dtype="INT32")),  # same-size retype of an external
                    Arg(Tag.INPUT, Region("x", (64,), (1,), version=1)),
                ),
                deps=(ExplicitDep("w", DepKind.WAIT), ExplicitDep("al", DepKind.WAIT_RETAIN)),
                block_num=2,
                sync_start=True,
                early_resolve=True,
            ),
            Submit("d", (-1, -1, -1), deps=(ExplicitDep("mix"),)),
            ScopeEnd(),
            TensorData(True, Region("x", (1,), (1,), offset=7)),
        )
    )


def _syntax_check(files: list[Path], include: Path, *extra: str) -> None:
    assert GXX is not None
    cmd = [GXX, "-std=c++17", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", *extra, "-I", str(include)]
    done = subprocess.run([*cmd, *map(str, files)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]


@needs_gxx
def test_generated_bundles_compile_against_the_api_subset(tmp_path: Path) -> None:
    orch: list[Path] = []
    kernels: list[Path] = []
    scenarios = [BUILTIN_SCENARIOS[n]() for n in TRB_BUILTINS] + [_feature_scenario()]
    for sc in scenarios:
        plan = plan_bundle(sc)
        out = tmp_path / sc.name
        write_bundle(plan, out, BundleSource(f"test {sc.name}", "n/a"), "ptocheck-test")
        orch.append(out / ORCH_FILE)
        kernels += [out / kernel_file(k) for k in plan.kernels]
    bare = plan_bundle(_feature_scenario(), ledger=False)
    write_bundle(bare, tmp_path / "bare", BundleSource("bare", "n/a"), "ptocheck-test")
    orch.append(tmp_path / "bare" / ORCH_FILE)
    kernels += [tmp_path / "bare" / kernel_file(k) for k in bare.kernels]
    _syntax_check(orch, SUBSET)
    # on the device <pto/pto-inst.hpp> defines __aicore__; the host check defines it away
    _syntax_check(kernels, KERNEL_SUBSET, "-D__aicore__=")


def _declared_names(header: str) -> set[str]:
    body = re.sub(r'"[^"\n]*"', '""', re.sub(r"//[^\n]*", "", header))
    names = set(re.findall(r"\b(?:struct|class|enum class|enum)\s+(?:alignas\(\d+\)\s+)?(\w+)", body))
    names |= set(re.findall(r"(\w+)\s*\([^;{]*\)\s*(?:const\s*&?\s*)?(?:;|\{)", body))
    names |= set(re.findall(r"#define\s+(\w+)", body))
    return names


def test_the_api_subset_declares_only_what_the_generator_emits(tmp_path: Path) -> None:
    plan = plan_bundle(_feature_scenario())
    write_bundle(plan, tmp_path, BundleSource("t", "n/a"), "ptocheck-test")
    used = (tmp_path / ORCH_FILE).read_text(encoding="utf-8")
    header = (SUBSET / "pto_orchestration_api.h").read_text(encoding="utf-8")
    internal = {
        "check_tensors", "PTOCHECK_SUBSET_CAT_IMPL", "PTOCHECK_SUBSET_CAT", "ptocheck_subset_log_info",
        "PTOBufferHandle", "AddressSpace", "TensorRef", "PTO2LaunchSpec", "DEP_NONE", "operator",
        "sizeof", "static_assert", "static_cast", "if", "constexpr", "PTO2ScopeGuard",
        "alloc_tensors",  # its array and CoreTaskArgs overloads are declared only for overload resolution
    }
    unused = sorted(n for n in _declared_names(header) - internal if not re.search(rf"\b{n}\b", used))
    assert unused == [], f"declared in the subset but never emitted: {unused}"


BAD_USES = {
    "array-alloc-with-int-count": "const uint32_t s[1] = {4};\n"
    "const TensorCreateInfo cis[1] = {TensorCreateInfo(s, 1)};\nTaskOutputTensors o = alloc_tensors(cis, 1);",
    "rvalue-tensor": "CoreTaskArgs a; const uint32_t s[1] = {4}; const uint32_t z[1] = {0};\n"
    "ChipTensor t{}; a.add_input(t.view(s, z));",
    "mixed-outputs": "CoreTaskArgs a; const uint32_t s[1] = {4}; TensorCreateInfo ci(s, 1); ChipTensor t{};\n"
    "a.add_output(ci, t);",
    "get-ref-on-rvalue": "const ChipTensor &r = rt_submit_dummy_task(CoreTaskArgs{}).get_ref(0); (void)r;",
}


@needs_gxx
@pytest.mark.parametrize("snippet", sorted(BAD_USES))
def test_the_subset_rejects_misuse_the_real_header_rejects(tmp_path: Path, snippet: str) -> None:
    ok = tmp_path / "ok.cpp"
    ok.write_text('#include "pto_orchestration_api.h"\nvoid f() {\nCoreTaskArgs a; ChipTensor t{};\n'
                  "a.add_input(t);\n}\n", encoding="utf-8")
    _syntax_check([ok], SUBSET)  # the control compiles
    bad = tmp_path / "bad.cpp"
    bad.write_text(f'#include "pto_orchestration_api.h"\nvoid f() {{\n{BAD_USES[snippet]}\n}}\n', encoding="utf-8")
    assert GXX is not None
    done = subprocess.run([GXX, "-std=c++17", "-fsyntax-only", "-I", str(SUBSET), str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0


def test_generated_orchestration_speaks_the_runtime_api() -> None:
    plan = plan_bundle(_feature_scenario())
    from fuzz.exports.device_sources import orchestration_source

    text = orchestration_source(plan, "hdr")
    assert "PTO2_SCOPE_GUARD(PTO2ScopeMode::MANUAL);" in text
    assert "alloc_tensors(create_info" in text and "rt_submit_dummy_task(args)" in text
    assert "set_dependencies_with_kinds(deps, dep_kinds, 2)" in text
    assert "const DepFlags dep_kinds[2] = {DEP_WAIT, DEP_WAIT | DEP_RETAIN};" in text
    assert "kernels.aic_kernel_id = 1;" in text and "kernels.aiv1_kernel_id = 2;" in text
    assert "args.launch_spec.set_block_num(2);" in text and "set_require_sync_start(true)" in text
    assert ".slice(0, 1, 11, 3, false)" in text  # the strided 1-D region
    assert "make_tensor_external(ext_0_x.data_as<void>(), " in text and "DataType::INT32, false, 0)" in text
    assert "set_tensor_data(" in text and "get_tensor_data(" in text
    assert "TensorCreateInfo create_info" in text and ", true);" in text  # OUTPUT with manual_dep


# ------------------------------------------------------------------------------ bundle contents


def test_env_knobs_use_the_runtimes_formats() -> None:
    sc = _scenario((_aic("a"),))
    assert env_knobs(sc) == {"PTO2_RING_TASK_WINDOW": "4,4,8,4", "PTO2_RING_HEAP": "4096", "PTO2_RING_DEP_POOL": "16"}
    serial = sc.with_config(serial_orch_sched=True)
    assert env_knobs(serial)["SIMPLER_TMR_SERIAL_ORCH_SCHED_ENABLE"] == "1"


def test_readme_says_which_scaled_constants_are_not_reproduced(tmp_path: Path) -> None:
    sc = _scenario((_aic("a"),)).with_config(constants=Constants(ready_queue_capacity=2, dummy_drain_batch=1))
    write_bundle(plan_bundle(sc), tmp_path, BundleSource("t", "n/a"), "ptocheck-test")
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "Scaled compile-time constants (NOT reproduced)" in readme
    assert "`ready_queue_capacity`: scenario 2, C++ 65536 (PTO2_READY_QUEUE_SIZE, runtime/pto_runtime2_types.h:87)" in readme
    assert "cannot happen" in readme and "`dummy_drain_batch`: scenario 1, C++ 8" in readme


class _FakeTensor:
    """Just enough of a torch tensor for the generated scene test's golden code."""

    def __init__(self, values: list[int]) -> None:
        self.values = values

    def tolist(self) -> list[int]:
        return list(self.values)

    def __setitem__(self, key: slice, other: _FakeTensor) -> None:
        self.values[key] = other.values


def _load_generated_test(path: Path) -> types.ModuleType:
    torch = types.ModuleType("torch")
    torch.int32 = "int32"  # type: ignore[attr-defined]
    torch.float32 = "float32"  # type: ignore[attr-defined]
    torch.zeros = lambda n, dtype=None: _FakeTensor([0] * n)  # type: ignore[attr-defined]
    torch.tensor = lambda values, dtype=None: _FakeTensor(list(values))  # type: ignore[attr-defined]
    simpler = types.ModuleType("simpler")
    ti = types.ModuleType("simpler.task_interface")
    ti.ArgDirection = types.SimpleNamespace(IN="IN", OUT="OUT", INOUT="INOUT")  # type: ignore[attr-defined]
    setup = types.ModuleType("simpler_setup")

    class SceneTestCase:
        compared = 0

        def compare_outputs(self, *args: object) -> None:
            SceneTestCase.compared += 1

        @staticmethod
        def run_module(name: str) -> None:
            raise AssertionError("not under test")

    setup.SceneTestCase = SceneTestCase  # type: ignore[attr-defined]
    setup.Scalar = lambda name, value: (name, value)  # type: ignore[attr-defined]
    setup.TensorArg = lambda name, value: (name, value)  # type: ignore[attr-defined]
    setup.TaskArgsBuilder = lambda *specs: types.SimpleNamespace(**dict(specs))  # type: ignore[attr-defined]
    setup.scene_test = lambda level, runtime: (lambda cls: cls)  # type: ignore[attr-defined]
    saved = {k: sys.modules.get(k) for k in ("torch", "simpler", "simpler.task_interface", "simpler_setup")}
    sys.modules.update({"torch": torch, "simpler": simpler, "simpler.task_interface": ti, "simpler_setup": setup})
    try:
        module = types.ModuleType("generated_scene_test")
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), module.__dict__)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return module


def test_generated_scene_test_golden_names_lost_doubled_and_early_subtasks(tmp_path: Path) -> None:
    sc = BUILTIN_SCENARIOS["vector_example"]()
    plan = plan_bundle(sc)
    write_bundle(plan, tmp_path, BundleSource("t", "n/a"), "ptocheck-test")
    mod = _load_generated_test(tmp_path / "test_ptocheck_vector_example.py")
    case = mod.TestPtocheckVectorExample()
    assert case.CASES[0]["config"] == {"aicpu_thread_num": 4}
    assert case.RUNTIME_ENV["PTO2_RING_TASK_WINDOW"] == "16384"
    args = case.generate_args({})
    assert [k for k in vars(args)] == ["b0_a", "b1_b", "b2_f", "ptocheck_ledger", "spin_unit"]
    golden = case.generate_args({})
    case.compute_golden(golden, {})
    expected = plan.expected_ledger()
    assert golden.ptocheck_ledger.tolist() == expected
    run = types.SimpleNamespace(ptocheck_ledger=_FakeTensor(list(expected)))
    case.compare_outputs(run, golden, [], {})  # a clean run passes through to the framework's comparison
    first = {t.name: t.ledger_base for t in plan.tasks}
    for value, what in ((0, "lost"), (2, "ran 2 times"), (1 + ORDER_FLAG, "started before a producer finished")):
        bad = list(expected)
        bad[first["t3"] + 1] = value  # t3 runs on AIV0
        with pytest.raises(AssertionError, match=f"t3 block 0 AIV0: {what}"):
            case.compare_outputs(types.SimpleNamespace(ptocheck_ledger=_FakeTensor(bad)), golden, [], {})


def test_bundle_from_an_artifact_carries_the_counterexample(tmp_path: Path) -> None:
    out = tmp_path / "b"
    assert main(["export", "device", str(R7), str(out)]) == 0
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert names == [
        "README.md", "artifact.json", "bundle.json", "counterexample.txt", "env.sh",
        "kernels/aic/ptocheck_kernel_0.cpp", "kernels/aiv/ptocheck_kernel_1.cpp", ORCH_FILE,
        "run_hw.sh", "run_sim.sh", "scenario.json", "test_ptocheck_f_model_r7_pairs.py",
    ]
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "property: `own_release_before_reuse`" in readme
    assert "PTO2_RING_TASK_WINDOW=4 PTO2_RING_HEAP=4096 PTO2_RING_DEP_POOL=16 python" in readme
    assert "-p a2a3sim --manual include --enable-dep-gen --enable-chip-swimlane --enable-scope-stats" in readme
    assert "-p a2a3 -d 0" in readme and "ptocheck check-trace outputs/TestPtocheckFModelR7Pairs_replay_" in readme
    assert "What a clean run proves" in readme and "Tiny windows" in readme and "Repetitions" in readme
    assert (out / "counterexample.txt").read_text(encoding="utf-8").startswith("property: own_release_before_reuse")
    assert (out / "artifact.json").read_bytes() == R7.read_bytes()
    assert "ptocheck check-trace" in (out / "run_sim.sh").read_text(encoding="utf-8")


def test_bundle_from_a_port_run_artifact_uses_its_scenario(tmp_path: Path) -> None:
    a = load_artifact(R7)
    port = Artifact(kind="port-run", scenario=a.scenario, signature=a.signature, message="m", engine="e", seed=1,
                    bounds="b", command="c", schedule="ptosched1:0*3")
    path = tmp_path / "port.json"
    path.write_text(dump_artifact(port), encoding="utf-8")
    assert main(["export", "device", str(path), str(tmp_path / "b")]) == 0
    readme = (tmp_path / "b" / "README.md").read_text(encoding="utf-8")
    assert "uniform (this version does not derive kernel holds from port-run schedules)" in readme
    assert not (tmp_path / "b" / "counterexample.txt").exists()
    assert (tmp_path / "b" / "artifact.json").read_text(encoding="utf-8") == path.read_text(encoding="utf-8")


def test_export_is_deterministic(tmp_path: Path) -> None:
    for d in ("one", "two"):
        assert main(["export", "device", "pa_two_blocks", str(tmp_path / d)]) == 0
    one = {p.relative_to(tmp_path / "one"): p.read_text(encoding="utf-8") for p in (tmp_path / "one").rglob("*") if p.is_file()}
    two = {p.relative_to(tmp_path / "two"): p.read_text(encoding="utf-8") for p in (tmp_path / "two").rglob("*") if p.is_file()}
    assert one.keys() == two.keys()
    for rel, text in one.items():
        assert text.replace(str(tmp_path / "one"), "OUT") == two[rel].replace(str(tmp_path / "two"), "OUT"), rel


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t: ["no_such_scenario", str(t / "o")], "no built-in scenario or file named"),
        (lambda t: [str(_write(t, "x.json", "{oops")), str(t / "o")], "not JSON"),
        (lambda t: [str(_write(t, "x.json", "[1]")), str(t / "o")], "neither a ptocheck artifact nor a scenario"),
        (lambda t: ["hbg_pa_two_blocks", str(t / "o")], "device bundles target tensormap_and_ringbuffer"),
        (lambda t: ["vector_example", str(_write(t, "notes.txt", "x").parent)], "holds no bundle"),
        (lambda t: ["vector_example", str(_write(t, "file", "x"))], "is not a directory"),
    ],
    ids=["unknown", "not-json", "not-ptocheck", "other-runtime", "non-empty-dir", "file"],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, message: str
) -> None:
    assert main(["export", "device", *make(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ptocheck: error: ") and message in err

