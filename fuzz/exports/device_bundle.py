"""`ptocheck export device`: write a replay bundle that runs a scenario on the real runtime.

The bundle is a simpler scene test (the same shape as the runtime's own tests under
tests/st/a2a3/tensormap_and_ringbuffer/): a Python test file with CALLABLE / CASES / generate_args /
compute_golden, an orchestration source, one trivial kernel per func id, the PTO2_RING_* knobs, run
scripts for the simulator and the device with dep_gen, swimlane and scope-stats capture on, and the
`ptocheck check-trace` command for what the run writes. The README explains how it leans toward the
found interleaving and what a clean run does and does not prove.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fuzz.exports import device_sources as src
from fuzz.exports.device_plan import CELLS_PER_BLOCK, ORDER_FLAG, BundlePlan
from model.errors import PtocheckError
from model.scenario import Scenario, dump_scenario

SIMPLER_COMMIT = "6ebaf77156313aaeb5c9457c57b16c45b84ae7e8"
DEFAULT_SPIN_UNIT = 2000
DEFAULT_REPEAT = 20
CAPTURE_FLAGS = "--manual include --enable-dep-gen --enable-chip-swimlane --enable-scope-stats --log-level debug"

# torch dtypes simpler's host interop maps to DataType (simpler_setup/torch_interop.py); the two it lacks
# travel as a same-size type.
TORCH_DTYPE = {
    "FLOAT32": ("float32", None),
    "FLOAT16": ("float16", None),
    "BFLOAT16": ("bfloat16", None),
    "INT32": ("int32", None),
    "UINT32": ("uint32", None),
    "INT64": ("int64", None),
    "UINT64": ("int64", "INT64"),
    "INT16": ("int16", None),
    "UINT16": ("uint16", None),
    "INT8": ("int8", None),
    "UINT8": ("uint8", None),
    "BOOL": ("uint8", "UINT8"),
}

# A scaled compile-time constant cannot be set from the environment: where it lives, and what running
# at the C++ default changes for the reproduction.
CONSTANT_EFFECTS: dict[str, tuple[str, str]] = {
    "ready_queue_capacity": (
        "PTO2_READY_QUEUE_SIZE, runtime/pto_runtime2_types.h:87",
        "ready queues never fill on the device, so interleavings where a push meets a full queue (and is "
        "dropped) cannot happen",
    ),
    "early_dispatch_queue_capacity": (
        "PTO2_EARLY_DISPATCH_QUEUE_SIZE, runtime/pto_runtime2_types.h:94",
        "the early-dispatch queues do not fill, so their overflow path is not taken",
    ),
    "deferred_release_capacity": (
        "PTO2_DEFERRED_RELEASE_CAP, runtime/scheduler/scheduler_completion.cpp:36 and scheduler_dispatch.cpp:54",
        "a scheduler thread defers up to 256 releases, so the buffer-full flush the scenario relied on does not "
        "trigger at the same point",
    ),
    "tensormap_cleanup_interval": (
        "PTO2_TENSORMAP_CLEANUP_INTERVAL, runtime/pto_runtime2_types.h:105",
        "periodic TensorMap cleanup runs every 64 retired tasks instead, so stale entries live longer "
        "(only the slot-collision cleanup runs as often as in the scenario)",
    ),
    "dep_pool_cleanup_interval": (
        "PTO2_DEP_POOL_CLEANUP_INTERVAL, runtime/pto_runtime2_types.h:106",
        "the dependency-list pool is reclaimed only after la advances by 64",
    ),
    "fanin_inline_cap": (
        "PTO2_FANIN_INLINE_CAP, runtime/pto_runtime2_types.h:97",
        "up to 64 fanin edges stay inline, so the fanin spill pool is not used unless a task has more",
    ),
    "tensormap_pool_size": (
        "PTO2_TENSORMAP_POOL_SIZE, runtime/pto_runtime2_types.h:74",
        "the TensorMap has 65536 entries, so its overflow wait (TENSORMAP_OVERFLOW) is not reached",
    ),
    "tensormap_num_buckets": (
        "PTO2_TENSORMAP_NUM_BUCKETS, runtime/pto_runtime2_types.h:75",
        "hash chains are shorter; bucket collisions the scenario relied on do not occur",
    ),
    "max_scope_depth": (
        "PTO2_MAX_SCOPE_DEPTH, runtime/pto_runtime2_types.h:78",
        "scopes may nest to depth 64 before begin_scope asserts",
    ),
    "heap_align": (
        "PTO2_ALIGN_SIZE, runtime/pto_constants.h:15",
        "heap requests round to 64 bytes, so the heap fills (and wraps) at different points",
    ),
    "output_align": (
        "PTO2_PACKED_OUTPUT_ALIGN, runtime/pto_constants.h:16",
        "each output rounds to 1024 bytes, so the heap fills (and wraps) at different points",
    ),
    "dummy_drain_batch": (
        "DUMMY_DRAIN_BATCH, runtime/scheduler/scheduler_dispatch.cpp:1200",
        "a scheduler drains up to 8 dummy tasks per batch",
    ),
    "spin_poll_interval": (
        "the (spin_count & 1023) gate, runtime/pto_ring_buffer.h:172 (and the other orchestrator waits)",
        "blocked orchestrator waits poll the fatal flag and the structural detector every 1024 spins",
    ),
    "idle_fatal_check_interval": (
        "FATAL_ERROR_CHECK_INTERVAL, runtime/scheduler/scheduler_types.h:52",
        "idle scheduler threads poll the error codes every 1024 idle iterations",
    ),
}


@dataclass(frozen=True)
class BundleSource:
    """Where the bundle's scenario came from, and the counterexample report when there is one."""

    description: str  # e.g. "artifact tests/regressions/f_model_r7.json" or "built-in scenario vector_example"
    regenerate: str  # the ptocheck command that writes this bundle again
    signature: tuple[str, str, str] | None = None
    message: str = ""
    counterexample: str = ""  # the strict replay report, for model-path artifacts
    artifact_text: str = ""


def py_ident(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]", "_", text).strip("_").lower() or "x"


def camel(text: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^0-9A-Za-z]+", text) if part) or "Scenario"


def env_knobs(sc: Scenario) -> dict[str, str]:
    """The runtime's environment knobs (TRB/host/runtime_maker.cpp `resolve_ring_config`: a scalar or
    exactly four comma-separated per-ring values)."""
    cfg = sc.config
    if cfg.init_failure:  # no knob makes the device take a startup abort path: the bundle would not reproduce it
        raise PtocheckError(f"config.init_failure ({cfg.init_failure}) is injected into the port only",
                            "config.init_failure", "drop init_failure to export the program to a device")

    def per_ring(values: tuple[int, int, int, int]) -> str:
        return str(values[0]) if len(set(values)) == 1 else ",".join(str(v) for v in values)

    env = {
        "PTO2_RING_TASK_WINDOW": per_ring(cfg.task_window),
        "PTO2_RING_HEAP": per_ring(cfg.heap_bytes),
        "PTO2_RING_DEP_POOL": per_ring(cfg.dep_pool),
    }
    if cfg.serial_orch_sched:
        env["SIMPLER_TMR_SERIAL_ORCH_SCHED_ENABLE"] = "1"
    return env


def write_bundle(plan: BundlePlan, outdir: Path, source: BundleSource, tool: str) -> list[Path]:
    """Write every file of the bundle under `outdir`; returns them in writing order."""
    sc = plan.scenario
    stem = py_ident(sc.name)
    test_name = f"test_ptocheck_{stem}.py"
    cls = f"TestPtocheck{camel(sc.name)}"
    header = (
        f"Generated by {tool} from {source.description}.\n"
        f"Scenario {sc.name!r}; runtime tensormap_and_ringbuffer of hw-native-sys/simpler @ {SIMPLER_COMMIT[:9]}.\n"
        f"Regenerate: {source.regenerate}"
    )
    files: dict[str, str] = {
        src.ORCH_FILE: src.orchestration_source(plan, header),
    }
    for k in plan.kernels:
        files[src.kernel_file(k)] = src.kernel_source(k, plan, header)
    env = env_knobs(sc)
    files[test_name] = _test_file(plan, cls, env, header)
    files["env.sh"] = _env_sh(env, header)
    files["run_sim.sh"] = _run_script(plan, test_name, cls, "a2a3sim", header)
    files["run_hw.sh"] = _run_script(plan, test_name, cls, "a2a3", header)
    files["scenario.json"] = dump_scenario(sc)
    files["bundle.json"] = json.dumps(_manifest(plan, source, env, test_name, cls, tool), indent=1) + "\n"
    if source.counterexample:
        files["counterexample.txt"] = source.counterexample
    if source.artifact_text:
        files["artifact.json"] = source.artifact_text
    files["README.md"] = _readme(plan, source, env, test_name, cls, tool)
    written = []
    for rel, text in files.items():
        path = outdir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if rel.endswith(".sh"):
            path.chmod(0o755)
        written.append(path)
    return written


def _buffer_args(plan: BundlePlan) -> list[tuple[str, str, int, str]]:
    """(python name, torch dtype, numel, scenario name) of each orchestration tensor argument."""
    out = []
    for i, b in enumerate(plan.scenario.buffers):
        out.append((f"b{i}_{py_ident(b.name)}", TORCH_DTYPE[b.dtype][0], b.numel, b.name))
    if plan.ledger:
        out.append(("ptocheck_ledger", "int32", plan.ledger_cells, "(ledger)"))
    return out


def _test_file(plan: BundlePlan, cls: str, env: dict[str, str], header: str) -> str:
    sc = plan.scenario
    args = _buffer_args(plan)
    expected = plan.expected_ledger() if plan.ledger else []
    rows = [", ".join(str(v) for v in expected[i : i + 30]) for i in range(0, len(expected), 30)]
    cell_tasks = [(t.name, t.ledger_base, t.block_num) for t in plan.tasks if t.ledger_base >= 0]
    incores = "\n".join(
        f'            {{"func_id": {k.func_id}, "name": "PTOCHECK_K{k.func_id}", '
        f'"source": "{src.kernel_file(k)}", "core_type": "{k.core_type}"}},'
        for k in plan.kernels
    )
    tensors = "\n".join(
        f'            TensorArg("{name}", torch.zeros({numel}, dtype=torch.{dt})),  # {scen}'
        for name, dt, numel, scen in args
    )
    env_lines = "\n".join(f'        "{k}": os.environ.get("{k}", "{v}"),' for k, v in env.items())
    fatal = sc.expected.fatal
    lines = [
        "#!/usr/bin/env python3",
        *(f"# {line}" for line in header.splitlines()),
        f'"""ptocheck device replay of scenario {sc.name!r}: {len(plan.tasks)} tasks.',
        "",
        "Every buffer starts zeroed and no kernel writes data. The golden is the ledger: one INT32 cell per",
        f"kernel block and subtask slot (AIC, AIV0, AIV1); a kernel adds 1 to its cell, plus {ORDER_FLAG} when a",
        "producer it waits for had not finished. Expected: 1 in every active cell (0 = lost subtask, 2 = ran",
        f"twice, >= {ORDER_FLAG} = started before a producer). Expected outcome: {sc.expected.label}.",
        '"""',
        "",
        "import os",
        "",
        "import torch",
        "from simpler.task_interface import ArgDirection as D",
        "",
        "from simpler_setup import Scalar, SceneTestCase, TaskArgsBuilder, TensorArg, scene_test",
        "",
        f'SPIN_UNIT = int(os.environ.get("PTOCHECK_SPIN_UNIT", "{DEFAULT_SPIN_UNIT}"))',
        "EXPECTED_LEDGER = [",
        *(f"    {row}," for row in rows),
        "]",
        f"LEDGER_TASKS = [  # (task, first cell, blocks): {CELLS_PER_BLOCK} cells per block (AIC, AIV0, AIV1)",
        *(f"    {c!r}," for c in cell_tasks),
        "]",
        "",
        "",
        "def ledger_owner(cell):",
        '    """(task, block, slot) of a ledger cell."""',
        "    for task, first, blocks in LEDGER_TASKS:",
        f"        if first <= cell < first + blocks * {CELLS_PER_BLOCK}:",
        f"            block, slot = divmod(cell - first, {CELLS_PER_BLOCK})",
        '            return task, block, ("AIC", "AIV0", "AIV1")[slot]',
        '    return "?", 0, "?"',
        "",
        "",
        '@scene_test(level=2, runtime="tensormap_and_ringbuffer")',
        f"class {cls}(SceneTestCase):",
        "    RTOL = 0",
        "    ATOL = 0",
        "    # The scenario's ring sizing; a value already in the environment wins (to experiment).",
        "    RUNTIME_ENV = {",
        env_lines,
        "    }",
        "",
        "    CALLABLE = {",
        '        "orchestration": {',
        f'            "source": "{src.ORCH_FILE}",',
        f'            "function_name": "{src.ENTRY}",',
        f'            "signature": [{", ".join(["D.INOUT"] * len(args))}],',
        "        },",
        '        "incores": [',
        incores,
        "        ],",
        "    }",
        "",
        "    CASES = [",
        "        {",
        '            "name": "replay",',
        '            "platforms": ["a2a3sim", "a2a3"],',
        f'            "config": {{"aicpu_thread_num": {sc.config.scheduler_threads + 1}}},  '
        f"# {sc.config.scheduler_threads} scheduler thread(s) + the orchestrator",
        '            "params": {},',
        "        },",
        "    ]",
        "",
        "    def generate_args(self, params):",
        "        return TaskArgsBuilder(",
        tensors,
        '            Scalar("spin_unit", SPIN_UNIT),',
        "        )",
        "",
        "    def compute_golden(self, args, params):",
    ]
    if plan.ledger:
        lines += [
            "        args.ptocheck_ledger[:] = torch.tensor(EXPECTED_LEDGER, dtype=torch.int32)",
            "",
            "    def compare_outputs(self, test_args, golden_args, output_names, params):",
            "        got = test_args.ptocheck_ledger.tolist()",
            "        bad = []",
            "        for cell, (value, want) in enumerate(zip(got, EXPECTED_LEDGER)):",
            "            if value != want:",
            "                task, block, slot = ledger_owner(cell)",
            f"                what = ('lost' if value == 0 else 'started before a producer finished' if value >= {ORDER_FLAG}",
            "                        else f'ran {value} times' if want else 'written by a kernel that should not run here')",
            "                bad.append(f'{task} block {block} {slot}: {what} (cell {cell} = {value})')",
            "        if bad:",
            "            raise AssertionError('ptocheck ledger: ' + '; '.join(bad[:20]) + (' ...' if len(bad) > 20 else ''))",
            "        super().compare_outputs(test_args, golden_args, output_names, params)",
        ]
    else:
        lines += ["        pass  # no ledger: the data buffers stay zero"]
    if fatal is not None:
        lines += [
            "",
            f"# Expected outcome: the runtime reports fatal {fatal.name} (code {int(fatal)}); this test then fails",
            "# with that code, which is the correct result. A clean pass would contradict the scenario.",
        ]
    lines += ["", "", 'if __name__ == "__main__":', "    SceneTestCase.run_module(__name__)", ""]
    return "\n".join(lines)


def _env_sh(env: dict[str, str], header: str) -> str:
    lines = ["# shellcheck shell=sh", *(f"# {line}" for line in header.splitlines()),
             "# The runtime's ring sizing for this scenario (host/runtime_maker.cpp resolve_ring_config).", ""]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in env.items()]
    return "\n".join(lines) + "\n"


def _run_script(plan: BundlePlan, test_name: str, cls: str, platform: str, header: str) -> str:
    device = " -d \"${PTOCHECK_DEVICE:-0}\"" if platform == "a2a3" else ""
    return "\n".join(
        [
            "#!/usr/bin/env bash",
            *(f"# {line}" for line in header.splitlines()),
            f"# Runs the bundle on {platform} REPEAT times (default {DEFAULT_REPEAT}) from a simpler checkout, each",
            "# run with dep_gen, swimlane and scope-stats capture, and checks every capture with ptocheck.",
            "# Usage: SIMPLER=/path/to/simpler [REPEAT=n] [PTOCHECK_SPIN_UNIT=u] ./" + f"run_{'sim' if platform == 'a2a3sim' else 'hw'}.sh",
            "set -euo pipefail",
            'BUNDLE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"',
            ': "${SIMPLER:?set SIMPLER to the simpler checkout (outputs/ is created there)}"',
            f'REPEAT="${{REPEAT:-{DEFAULT_REPEAT}}}"',
            '# shellcheck source=/dev/null',
            '. "$BUNDLE/env.sh"',
            'cd "$SIMPLER"',
            'for i in $(seq 1 "$REPEAT"); do',
            '    LOG="$(mktemp)"',
            f'    if ! python "$BUNDLE/{test_name}" -p {platform}{device} {CAPTURE_FLAGS} 2>"$LOG"; then',
            '        echo "run $i failed; log: $LOG" >&2',
            *(
                [f'        echo "expected: the runtime stops with fatal {plan.scenario.expected.fatal.name} '
                 f'(code {int(plan.scenario.expected.fatal)}); check the log for that code" >&2']
                if plan.scenario.expected.fatal is not None
                else []
            ),
            "        exit 1",
            "    fi",
            f'    OUT="$(ls -td outputs/{cls}_replay_* | head -n 1)"',
            '    cp "$LOG" "$OUT/stderr.log"',
            '    echo "run $i: $OUT"',
            '    rc=0; ptocheck check-trace "$OUT" || rc=$?',
            '    if [ "$rc" -eq 3 ]; then echo "run $i: check-trace could check only part of it (exit 3)" >&2;',
            '    elif [ "$rc" -ne 0 ]; then exit "$rc"; fi',
            "done",
            f'echo "{platform}: $REPEAT clean runs"',
            "",
        ]
    )


def _manifest(
    plan: BundlePlan, source: BundleSource, env: dict[str, str], test_name: str, cls: str, tool: str
) -> dict[str, Any]:
    sc = plan.scenario
    return {
        "ptocheck_device_bundle": 1,
        "tool": tool,
        "simpler_commit": SIMPLER_COMMIT,
        "scenario": sc.name,
        "source": source.description,
        "signature": list(source.signature) if source.signature else None,
        "expected_outcome": sc.expected.label,
        "test_file": test_name,
        "test_class": cls,
        "case": "replay",
        "output_dir_glob": f"outputs/{cls}_replay_*",
        "env": env,
        "aicpu_thread_num": sc.config.scheduler_threads + 1,
        "scenario_clusters": sc.config.clusters,
        "scaled_constants": {k: {"cxx_default": d, "scenario": v} for k, (d, v) in sc.config.constants.scaled().items()},
        "ledger": {
            "enabled": plan.ledger,
            "cells": plan.ledger_cells,
            "cells_per_block": CELLS_PER_BLOCK,
            "order_flag": ORDER_FLAG,
        },
        "kernel_hold_source": plan.hold_source,
        "orchestration_args": [name for name, _, _, _ in _buffer_args(plan)] + ["spin_unit (scalar)"],
        "tasks": [
            {
                "name": t.name,
                "kind": t.kind,
                "ring": t.ring,
                "local": t.local,
                "kernel_ids": list(t.kernel_ids),
                "block_num": t.block_num,
                "scenario_tensors": t.data_tensors,
                # arguments the bundle appends after the scenario's own (deps.json lists them too)
                "appended_no_dep_tensors": list(range(t.data_tensors, t.data_tensors + t.pad_tensors + 1))
                if t.ledger_base >= 0
                else [],
                "ledger_cells": [t.ledger_base, t.ledger_base + t.ledger_cells] if t.ledger_base >= 0 else None,
                "checked_producers": [plan.tasks[p].name for p in t.producers],
                "unchecked_producers": [plan.tasks[p].name for p in t.unchecked_producers],
                "hold": t.hold,
            }
            for t in plan.tasks
        ],
        "notes": list(plan.notes),
    }


def _readme(plan: BundlePlan, source: BundleSource, env: dict[str, str], test_name: str, cls: str, tool: str) -> str:
    sc = plan.scenario
    cfg = sc.config
    env_prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    out_glob = f"outputs/{cls}_replay_<timestamp>"
    kinds: dict[str, int] = {}
    for t in plan.tasks:
        kinds[t.kind] = kinds.get(t.kind, 0) + 1
    lines = [
        f"# ptocheck device replay bundle: `{sc.name}`",
        "",
        f"Generated by {tool} from {source.description}. Regenerate with `{source.regenerate}`.",
        f"Target: runtime `tensormap_and_ringbuffer` of hw-native-sys/simpler @ `{SIMPLER_COMMIT}`.",
        "",
    ]
    if source.signature:
        lines += [
            "## The finding",
            "",
            f"- property: `{source.signature[1]}` (C++: `{source.signature[2]}`)",
            f"- message: {source.message}",
            "- the full counterexample (numbered steps): `counterexample.txt`; the artifact: `artifact.json`;",
            "  replay it with `ptocheck replay artifact.json`, view it with `ptocheck export perfetto artifact.json`.",
            "",
        ]
    lines += [
        "## What is in here",
        "",
        f"- `{test_name}`: a simpler scene test (class `{cls}`, case `replay`), shaped like the runtime's own",
        "  tests under `tests/st/a2a3/tensormap_and_ringbuffer/`.",
        f"- `{src.ORCH_FILE}`: the scenario as an orchestration in the runtime's own API "
        f"({kinds.get('kernel', 0)} kernel tasks, {kinds.get('dummy', 0)} dummy tasks, {kinds.get('alloc', 0)} "
        "alloc_tensors; scopes, tagged tensor arguments, explicit dependencies as written in the scenario).",
        "  The program's top level runs inside the executor's root scope (ring 0); each scenario scope is a",
        "  `PTO2_SCOPE_GUARD` block, so a task's ring is its scope depth (at most 3).",
        "- `kernels/aic|aiv/ptocheck_kernel_<func_id>.cpp`: trivial kernels. They touch no data: each checks",
        "  that its producers finished, spins for its hold time, and adds 1 to its ledger cell.",
        "- `env.sh`: the ring knobs; `run_sim.sh` / `run_hw.sh`: repeated runs with capture and checking.",
        "- `scenario.json` (the scenario), `bundle.json` (task table, ledger layout, appended arguments).",
        "",
        "## Configuration",
        "",
        "Environment knobs (read on the host by `resolve_ring_config` in host/runtime_maker.cpp; a scalar or",
        "exactly four comma-separated per-ring values):",
        "",
        *(f"- `{k}={v}`" for k, v in env.items()),
        "",
        "The test file applies the same values through `RUNTIME_ENV` unless they are already set in the",
        "environment (so an explicit `PTO2_RING_*` wins when you want to experiment).",
        f"`aicpu_thread_num` = {cfg.scheduler_threads + 1} ({cfg.scheduler_threads} scheduler thread(s) + the "
        "orchestrator) is set in the case config.",
        f"The scenario assumed {cfg.clusters} cluster(s); the core count cannot be set per run: the device uses",
        "its own geometry (the orchestration logs `rt_available_cluster_count()` at start). Cluster *c* belongs",
        "to scheduler thread `c % threads` on the device as in the scenario.",
        "",
    ]
    scaled = cfg.constants.scaled()
    if scaled:
        lines += [
            "### Scaled compile-time constants (NOT reproduced)",
            "",
            "The scenario scales these C++ compile-time constants down. They are plain `#define` /",
            "`constexpr` values in the runtime, so no environment knob or call config can set them; this bundle",
            "runs with the C++ defaults. To reproduce exactly, edit the constant at the location given and",
            "rebuild the runtime.",
            "",
        ]
        for name, (default, value) in scaled.items():
            where, effect = CONSTANT_EFFECTS.get(name, ("(location unknown to this ptocheck)", "behaviour differs"))
            lines.append(f"- `{name}`: scenario {value}, C++ {default} ({where}). Running at {default}: {effect}.")
        lines.append("")
    else:
        lines += ["No compile-time constant is scaled: the device runs the scenario's exact configuration.", ""]
    if sc.runs > 1:
        lines += [
            f"The scenario runs the program {sc.runs} times on the same shared memory. The scene test does that",
            f"with `--rounds {sc.runs}`, but the framework disables dep_gen, swimlane and scope-stats capture",
            "when `--rounds > 1`; run once with capture (below) and once more with `--rounds` to exercise reuse.",
            "",
        ]
    lines += [
        "## Run it",
        "",
        "From a simpler checkout at the commit above (its `outputs/` receives the captures):",
        "",
        "```sh",
        f"{env_prefix} python <bundle>/{test_name} -p a2a3sim {CAPTURE_FLAGS} 2> stderr.log",
        f"{env_prefix} python <bundle>/{test_name} -p a2a3 -d 0 {CAPTURE_FLAGS} 2> stderr.log",
        "```",
        "",
        f"Each run writes `{out_glob}/` (deps.json, chip_swimlane_records.json, scope_stats/scope_stats.jsonl);",
        "copy `stderr.log` into it (the debug log holds the dispatch lines), then check it:",
        "",
        "```sh",
        f"ptocheck check-trace {out_glob}",
        "```",
        "",
        "`SIMPLER=/path/to/simpler ./run_sim.sh` (or `./run_hw.sh`, device via `PTOCHECK_DEVICE`) does all of",
        f"that `REPEAT` times (default {DEFAULT_REPEAT}) and stops at the first failure.",
        "",
        f"Expected outcome: **{sc.expected.label}**.",
    ]
    if sc.expected.fatal is not None:
        lines += [
            f"The runtime is expected to stop with fatal {sc.expected.fatal.name} (code {int(sc.expected.fatal)}): the",
            "scene test then fails with that code, which is the correct behaviour; a clean pass is a discrepancy.",
        ]
    lines += [
        "",
        "## How the bundle leans toward the found interleaving",
        "",
        "A bundle cannot force a thread interleaving on a device: the scheduler threads, the orchestrator and",
        "the cores run freely. It biases the run toward the interleaving ptocheck found:",
        "",
        "- **Tiny windows**: the ring knobs above are the scenario's own, usually far below the defaults",
        "  (16384 slots, 256 MiB heap per ring), so slot reuse, heap wrap and back-pressure happen within a",
        "  few tasks, where the counterexample needs them.",
        "- **Kernel durations**: each kernel spins `hold x PTOCHECK_SPIN_UNIT` iterations (default unit "
        f"{DEFAULT_SPIN_UNIT}).",
        f"  Holds come from {plan.hold_source}: a task's hold is the number of steps it stayed on its core in the",
        "  counterexample (a task still running at the violation gets twice its time so far), so tasks the",
        "  counterexample kept busy while other threads advanced stay busy on the device too. Raise the unit",
        "  when kernels finish before the orchestrator gets going; lower it when runs take too long.",
        "- **Repetitions**: the run scripts repeat the run (`REPEAT`), each an independent draw of the",
        "  device's timing; every capture is checked.",
        "",
        "## What a clean run proves, and what it does not",
        "",
        "A clean run (golden passes, `ptocheck check-trace` reports nothing) shows that, in the interleavings",
        "those runs happened to take: every kernel block ran exactly once on each of its subtask slots, no",
        "kernel started before a producer it waits on (checked per edge, see `bundle.json`) had finished, the",
        "runtime ended without a fatal error (or with the expected one), and the captured traces satisfy the",
        "properties check-trace checks. It does **not** show that the found interleaving occurred, so it",
        "neither confirms nor refutes a finding: a model finding says the runtime *may* do this, and only a",
        "failing run (or a trace check that sees the bad order) confirms it on the real runtime. Dummy tasks",
        "run no kernel; a lost dummy shows as a hang (the runtime's own timeouts) rather than in the ledger.",
        "",
        "## Appended arguments (for reading deps.json)",
        "",
        "Each kernel task gets its scenario tensors first, then NO_DEP tensors the scenario does not have: pad",
        "tensors (so every task of one kernel binary has the same tensor count) and its ledger cells last,",
        "followed by scalars (mask and producer count, spin count, producer cells). NO_DEP skips the TensorMap,",
        "so they add no dependency edge; `bundle.json` lists them per task (`appended_no_dep_tensors`).",
    ]
    if plan.notes:
        lines += ["", "## Notes", "", *(f"- {n}" for n in plan.notes)]
    retyped = [b for b in sc.buffers if TORCH_DTYPE[b.dtype][1] is not None]
    if retyped:
        lines += ["", "Buffers passed as a same-size type (simpler's host interop has no tensor of their dtype):"]
        lines += [f"- `{b.name}`: {b.dtype} passed as {TORCH_DTYPE[b.dtype][1]}" for b in retyped]
    return "\n".join(lines) + "\n"
