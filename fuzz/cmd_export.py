"""`ptocheck export device SOURCE OUTDIR` and `ptocheck export perfetto ARTIFACT`.

`device` writes a replay bundle for the real runtime (simulator and device) from an artifact, a scenario
file or a built-in scenario name. `perfetto` writes an artifact's interleaving as Chrome trace JSON in the
runtime's swimlane layout (open it at https://ui.perfetto.dev).
"""

from __future__ import annotations

import argparse
import importlib
import json
from dataclasses import dataclass
from pathlib import Path

from fuzz.exports.device_bundle import BundleSource, write_bundle
from fuzz.exports.device_plan import holds_from_spans, plan_bundle
from fuzz.exports.perfetto import dump_chrome_trace, missing_fields, to_chrome_trace
from fuzz.exports.timeline import Timeline, model_path_timeline, port_run_timeline
from model.builders import BUILTIN_SCENARIOS
from model.errors import PtocheckError
from model.scenario import Scenario, parse_scenario
from properties.artifacts import ARTIFACT_KEY, Artifact, ArtifactError, parse_artifact, tool_version
from properties.replay import replay_model_artifact
from runtime.execution import ReplayScheduler, decode_schedule, run_once

EXIT_OK = 0


class ExportError(PtocheckError):
    """Bad input to an export."""


@dataclass(frozen=True)
class Loaded:
    scenario: Scenario
    artifact: Artifact | None
    text: str
    label: str


def load_source(spec: str) -> Loaded:
    """A built-in scenario name, a scenario JSON file, or an artifact JSON file."""
    if spec in BUILTIN_SCENARIOS:
        return Loaded(BUILTIN_SCENARIOS[spec](), None, "", f"built-in scenario {spec}")
    path = Path(spec)
    if not path.exists():
        known = ", ".join(sorted(BUILTIN_SCENARIOS))
        raise ExportError(f"no built-in scenario or file named {spec!r}", "source", f"built-ins: {known}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ExportError(f"cannot read it: {e}", str(path), "pass an artifact or scenario JSON file") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ExportError(f"not JSON: {e.msg} at line {e.lineno}", str(path), "pass an artifact or scenario file") from None
    if isinstance(doc, dict) and ARTIFACT_KEY in doc:
        artifact = parse_artifact(text, str(path))
        return Loaded(artifact.scenario, artifact, text, f"artifact {path}")
    if isinstance(doc, dict) and "ptocheck_scenario" in doc:
        return Loaded(parse_scenario(text, str(path)), None, text, f"scenario file {path}")
    raise ExportError(
        "neither a ptocheck artifact nor a scenario", str(path), f"expected a {ARTIFACT_KEY!r} or 'ptocheck_scenario' key"
    )


def artifact_timeline(artifact: Artifact, where: str) -> Timeline:
    if artifact.kind == "model-path":
        return model_path_timeline(
            artifact.scenario,
            artifact.actions,
            property_id=artifact.signature.property_id,
            message=artifact.message,
            failing_step=artifact.failing_step,
        )
    return port_artifact_timeline(artifact, where)


def port_artifact_timeline(artifact: Artifact, where: str) -> Timeline:
    """Replay a port-run schedule on the step-level port and lay its steps on their threads.

    The port is looked up as `runtime.trb.build_system(scenario) -> System` (runtime/core.py's protocol).
    """
    try:
        trb = importlib.import_module("runtime.trb")
    except ImportError:
        trb = None
    build_system = getattr(trb, "build_system", None)
    if build_system is None:
        raise ExportError(
            "port-run artifacts need the step-level TRB port (runtime.trb.build_system), not in this build",
            where,
            "export the scenario instead (ptocheck export device), or update ptocheck",
        )
    system = build_system(artifact.scenario)
    scheduler = ReplayScheduler(decode_schedule(artifact.schedule, f"{where}: schedule"))
    scheduler.new_execution()
    roles: list[str] = []
    result = run_once(system, scheduler, on_executor=lambda ex: roles.extend(slot.role for slot in ex.slots))
    steps = [(rec.tid, rec.op.what, rec.op.cite.function) for rec in result.trace]
    vstep = artifact.failing_step or (result.failure.step + 1 if result.failure else len(steps))
    return port_run_timeline(
        artifact.scenario.name,
        result.thread_names,
        roles,
        steps,
        violation_step=vstep,
        violation_text=f"{artifact.signature.property_id}: {artifact.message}",
    )


def cmd_export_device(args: argparse.Namespace) -> int:
    loaded = load_source(args.source)
    outdir = Path(args.outdir)
    if outdir.exists() and not outdir.is_dir():
        raise ExportError("exists and is not a directory", str(outdir), "pass a new or bundle directory")
    if outdir.is_dir() and any(outdir.iterdir()) and not (outdir / "bundle.json").exists():
        raise ExportError(
            "directory is not empty and holds no bundle", str(outdir), "pass a new directory (or an old bundle's)"
        )
    holds = None
    counterexample = ""
    signature = None
    message = ""
    a = loaded.artifact
    if a is not None:
        signature = (a.signature.runtime, a.signature.property_id, a.signature.cxx_function)
        message = a.message
        if a.kind == "model-path":
            tl = artifact_timeline(a, args.source)
            holds = holds_from_spans(tl.run_spans, tl.steps)
            counterexample = replay_model_artifact(a, f"ptocheck replay {args.source}").report
    hold_source = None
    if a is not None and a.kind == "port-run":
        hold_source = "uniform (this version does not derive kernel holds from port-run schedules)"
    plan = plan_bundle(loaded.scenario, holds, ledger=not args.no_ledger, hold_source=hold_source)
    regenerate = f"ptocheck export device {args.source} {args.outdir}" + (" --no-ledger" if args.no_ledger else "")
    source = BundleSource(
        description=loaded.label,
        regenerate=regenerate,
        signature=signature,
        message=message,
        counterexample=counterexample,
        artifact_text=loaded.text if a is not None else "",
    )
    files = write_bundle(plan, outdir, source, f"ptocheck {tool_version()}")
    kernels = sum(1 for t in plan.tasks if t.kind == "kernel")
    print(f"wrote {len(files)} files to {outdir} ({len(plan.tasks)} tasks, {kernels} with kernels)")
    print(f"run: see {outdir / 'README.md'}; quick start: SIMPLER=/path/to/simpler {outdir / 'run_sim.sh'}")
    return EXIT_OK


def cmd_export_perfetto(args: argparse.Namespace) -> int:
    path = Path(args.artifact)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ArtifactError(f"cannot read the artifact: {e}", str(path), "check the path") from None
    artifact = parse_artifact(text, str(path))
    tl = artifact_timeline(artifact, str(path))
    meta = {
        "scenario": artifact.scenario.name,
        "artifact": str(path),
        "kind": artifact.kind,
        "signature": artifact.signature.as_list(),
        "message": artifact.message,
        "engine": artifact.engine,
        "tool": f"ptocheck {tool_version()}",
        "scaled_constants": {
            name: {"cxx_default": default, "scenario": value}
            for name, (default, value) in artifact.scenario.config.constants.scaled().items()
        },
    }
    doc = to_chrome_trace(tl, meta)
    broken = [(i, m) for i, ev in enumerate(doc["traceEvents"]) if (m := missing_fields(ev))]
    if broken:  # a bug in the exporter, never the user's input
        raise AssertionError(f"trace events missing fields: {broken[:3]}")
    out = Path(args.output) if args.output else Path(path.stem + ".perfetto.json")
    try:
        out.write_text(dump_chrome_trace(doc), encoding="utf-8")
    except OSError as e:
        raise ExportError(f"cannot write the trace: {e.strerror}", str(out), "pass a writable -o path") from None
    where = f"step {tl.violation_step}" if tl.violation_step is not None else "no violating step"
    print(f"wrote {out}: {len(tl.lanes)} lanes, {len(tl.bars)} slices, {len(tl.edges)} dependency edges, "
          f"violation at {where}; open it in https://ui.perfetto.dev")
    return EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("export", help="export a counterexample: a device replay bundle or a Perfetto trace")
    kinds = p.add_subparsers(dest="export_kind", required=True)
    d = kinds.add_parser(
        "device",
        help="write a replay bundle for the real runtime (a2a3sim and a2a3)",
        description="SOURCE is an artifact, a scenario JSON file, or a built-in scenario name.",
    )
    d.add_argument("source", help="artifact or scenario JSON file, or a built-in scenario name")
    d.add_argument("outdir", help="directory to write the bundle into (new, or an earlier bundle's)")
    d.add_argument(
        "--no-ledger",
        action="store_true",
        help="no ledger tensor, pad tensors or kernel scalars: tasks carry only the scenario's arguments "
        "(the golden then only checks that the run ends; kernels return at once)",
    )
    d.set_defaults(func=cmd_export_device)
    f = kinds.add_parser("perfetto", help="write an artifact as Chrome trace JSON for the Perfetto UI")
    f.add_argument("artifact", help="an artifact JSON file written by ptocheck")
    f.add_argument("-o", "--output", help="output file (default: <artifact stem>.perfetto.json here)")
    f.set_defaults(func=cmd_export_perfetto)
