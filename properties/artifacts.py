"""Counterexample artifacts: one versioned JSON document per failure, and its strict replay.

Two kinds share the envelope: `model-path` (a path of reference-model actions) and `port-run` (a
schedule of the step-level port). Both carry the scenario in full, the property that failed and its
signature, the engine and seed that found it, the tool's version and git commit, and the command that
found it, so a failure can be re-executed exactly on any machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from model.errors import PtocheckError
from model.scenario import Scenario, parse_scenario, scenario_to_dict

ARTIFACT_FORMAT_VERSION = 1
ARTIFACT_KEY = "ptocheck_artifact"
KINDS = ("model-path", "port-run")


class ArtifactError(PtocheckError):
    """A file that is not a readable ptocheck artifact of a supported version."""


@dataclass(frozen=True)
class Signature:
    """What identifies a failure across runs: the runtime, the property, the C++ function of the failing step."""

    runtime: str
    property_id: str
    cxx_function: str

    def as_list(self) -> list[str]:
        return [self.runtime, self.property_id, self.cxx_function]


@dataclass(frozen=True)
class Artifact:
    kind: str
    scenario: Scenario
    signature: Signature
    message: str
    engine: str
    seed: int | None
    bounds: str
    command: str
    actions: tuple[tuple[int, int, int], ...] = ()  # model-path
    schedule: str = ""  # port-run: compact schedule text (runtime.execution.encode_schedule)
    mutants: tuple[str, ...] = ()
    failing_step: int | None = None
    finding: str | None = None  # id of a registered finding this artifact reproduces
    tool_version: str = ""
    git_commit: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


FAILURE_DIR_ENV = "PTOCHECK_FAILURE_DIR"  # where tests save the artifacts of unregistered failures


def failure_dir() -> Path:
    """Where a failing test saves its counterexample artifact ($PTOCHECK_FAILURE_DIR, else a temp folder)."""
    return Path(os.environ.get(FAILURE_DIR_ENV, "") or Path(tempfile.gettempdir()) / "ptocheck-failures")


def tool_version() -> str:
    try:
        return metadata.version("ptocheck")
    except metadata.PackageNotFoundError:
        return "unknown"


def git_commit(repo: Path | None = None) -> str:
    """The checkout's commit (with `+dirty` when it has uncommitted changes), or `unknown`."""
    where = repo or Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def artifact_to_dict(a: Artifact) -> dict[str, Any]:
    doc: dict[str, Any] = {
        ARTIFACT_KEY: ARTIFACT_FORMAT_VERSION,
        "kind": a.kind,
        "scenario": scenario_to_dict(a.scenario),
        "signature": a.signature.as_list(),
        "message": a.message,
        "engine": a.engine,
        "seed": a.seed,
        "bounds": a.bounds,
        "command": a.command,
        "mutants": list(a.mutants),
        "failing_step": a.failing_step,
        "finding": a.finding,
        "tool_version": a.tool_version or tool_version(),
        "git_commit": a.git_commit or git_commit(),
    }
    if a.kind == "model-path":
        doc["actions"] = [list(x) for x in a.actions]
    else:
        doc["schedule"] = a.schedule
    if a.extra:
        doc["extra"] = a.extra
    return doc


def dump_artifact(a: Artifact) -> str:
    return json.dumps(artifact_to_dict(a), indent=1, sort_keys=True) + "\n"


def save_artifact(path: Path, a: Artifact) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_artifact(a), encoding="utf-8")


def _need(doc: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in doc:
        raise ArtifactError(f"missing field {key!r}", where, "re-save the artifact with this version of ptocheck")
    value = doc[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ArtifactError(f"field {key!r} has the wrong type ({type(value).__name__})", where, "fix or re-save it")
    return value


def parse_artifact(text: str, where: str) -> Artifact:
    try:
        doc: Any = json.loads(text)
    except json.JSONDecodeError as e:
        raise ArtifactError(f"not JSON: {e.msg} at line {e.lineno} column {e.colno}", where, "pass an artifact file") from None
    if not isinstance(doc, dict) or ARTIFACT_KEY not in doc:
        raise ArtifactError(f"not a ptocheck artifact (no {ARTIFACT_KEY!r} key)", where, "pass an artifact file")
    version = doc[ARTIFACT_KEY]
    if version != ARTIFACT_FORMAT_VERSION:
        raise ArtifactError(
            f"artifact format version {version!r} is not supported (this ptocheck reads {ARTIFACT_FORMAT_VERSION})",
            where,
            "replay it with the ptocheck version that wrote it",
        )
    kind = _need(doc, "kind", str, where)
    if kind not in KINDS:
        raise ArtifactError(f"unknown artifact kind {kind!r}", where, f"known kinds: {', '.join(KINDS)}")
    scenario = parse_scenario(json.dumps(_need(doc, "scenario", dict, where)), f"{where}: scenario")
    sig = _need(doc, "signature", list, where)
    if len(sig) != 3 or not all(isinstance(s, str) for s in sig):
        raise ArtifactError("field 'signature' must be [runtime, property id, C++ function]", where, "fix or re-save it")
    seed = doc.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ArtifactError("field 'seed' must be an integer or null", where, "fix or re-save it")
    mutants = _need(doc, "mutants", list, where)
    if not all(isinstance(m, str) for m in mutants):
        raise ArtifactError("field 'mutants' must be a list of mutant names", where, "fix or re-save it")
    step = doc.get("failing_step")
    actions: tuple[tuple[int, int, int], ...] = ()
    schedule = ""
    if kind == "model-path":
        raw = _need(doc, "actions", list, where)
        try:
            actions = tuple((int(x[0]), int(x[1]), int(x[2])) for x in raw)
        except (TypeError, ValueError, IndexError):
            raise ArtifactError("field 'actions' must be a list of [kind, a, b] integer triples", where, "fix or re-save it") from None
    else:
        schedule = _need(doc, "schedule", str, where)
    finding = doc.get("finding")
    return Artifact(
        kind=kind,
        scenario=scenario,
        signature=Signature(sig[0], sig[1], sig[2]),
        message=str(doc.get("message", "")),
        engine=str(doc.get("engine", "")),
        seed=seed,
        bounds=str(doc.get("bounds", "")),
        command=str(doc.get("command", "")),
        actions=actions,
        schedule=schedule,
        mutants=tuple(mutants),
        failing_step=step if isinstance(step, int) else None,
        finding=finding if isinstance(finding, str) else None,
        tool_version=str(doc.get("tool_version", "")),
        git_commit=str(doc.get("git_commit", "")),
        extra=doc.get("extra", {}) if isinstance(doc.get("extra", {}), dict) else {},
    )


def load_artifact(path: Path) -> Artifact:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ArtifactError(f"cannot read the artifact: {e.strerror}", str(path), "check the path") from None
    return parse_artifact(text, str(path))
