"""Developer check: compile generated bundles against the runtime's REAL headers (not part of the gate).

    python -m fuzz.exports.check_real_headers --simpler-git /path/to/simpler/.git [ARTIFACT_OR_SCENARIO...]

The gate compiles every bundle against the hand-written API subset (fuzz/exports/api_subset); this
command closes the loop on a machine that has a simpler clone: it extracts `src/` at the pinned commit
into a temporary directory (deleted afterwards; nothing is copied into this repository), generates the
bundles of every built-in TRB scenario plus any given sources, and runs `g++ -fsyntax-only` on the
orchestration sources and the kernels (kernels with `-D__aicore__=`, as <pto/pto-inst.hpp> would).
Exit 0 when everything compiles, 1 otherwise.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from fuzz.cmd_export import load_source
from fuzz.exports.device_bundle import SIMPLER_COMMIT, BundleSource, write_bundle
from fuzz.exports.device_plan import plan_bundle
from fuzz.exports.device_sources import ORCH_FILE, kernel_file
from model.builders import BUILTIN_SCENARIOS

TRB = "src/a2a3/runtime/tensormap_and_ringbuffer"
INCLUDE_DIRS = (
    f"{TRB}/orchestration",
    f"{TRB}/runtime",
    f"{TRB}/common",
    TRB,
    "src/common/task_interface",
    "src/common",
    "src/common/platform/include",
    "src/a2a3/platform/include",
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--simpler-git", required=True, help="a clone (or bare mirror) of hw-native-sys/simpler")
    ap.add_argument("--gxx", default="g++")
    ap.add_argument("sources", nargs="*", help="extra artifacts or scenario files to bundle and compile")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ptocheck-real-headers-") as tmp:
        root = Path(tmp)
        src = root / "simpler"
        src.mkdir()
        archive = subprocess.run(
            ["git", "-C", args.simpler_git, "archive", SIMPLER_COMMIT, "src"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
        includes = [f"-I{src / d}" for d in INCLUDE_DIRS]
        scenarios = [f() for f in BUILTIN_SCENARIOS.values()]
        scenarios = [s for s in scenarios if s.runtime == "tensormap_and_ringbuffer"]
        scenarios += [load_source(s).scenario for s in args.sources]
        orch: list[str] = []
        kernels: list[str] = []
        for i, sc in enumerate(scenarios):
            for ledger in (True, False):
                plan = plan_bundle(sc, ledger=ledger)
                out = root / "bundles" / f"{i}_{ledger}"
                write_bundle(plan, out, BundleSource(sc.name, "n/a"), "ptocheck real-header check")
                orch.append(str(out / ORCH_FILE))
                kernels += [str(out / kernel_file(k)) for k in plan.kernels]
        failed = 0
        for files, extra in ((orch, []), (kernels, ["-D__aicore__="])):
            cmd = [args.gxx, "-std=c++17", "-fsyntax-only", "-Wall", "-Wextra", *extra, *includes, *files]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0 or "warning" in done.stderr:
                failed += 1
                sys.stderr.write(done.stderr[-8000:])
        print(
            f"{len(scenarios)} scenarios, {len(orch)} orchestration sources, {len(kernels)} kernels against simpler "
            f"@ {SIMPLER_COMMIT[:9]}: {'FAILED' if failed else 'all compile'}"
        )
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
