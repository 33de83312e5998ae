"""The gate replays every artifact of the regression corpus (tests/regressions/) strictly.

Every artifact is a counterexample: it must replay without divergence and fail again with its recorded
property (a registered finding about the real runtime, a planted mutant the tools must keep finding, or
a finding about another runtime's port), except one marked `extra.expect = "passes"`: a fixed failure
that must replay and pass. A tensormap_and_ringbuffer failure without mutants must name a registered
finding with the same runtime and property (an unregistered one is an open failure and fails the gate).
Files that are scenarios, not artifacts, must at least be valid scenarios (they are checked elsewhere).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.scenario import load_scenario
from properties.artifacts import ARTIFACT_KEY, Artifact, load_artifact
from properties.findings import FINDINGS
from properties.replay import ReplayOutcome, replay_model_artifact, replay_port_artifact

ROOT = Path(__file__).resolve().parent.parent
TRB = "tensormap_and_ringbuffer"
CORPUS = ROOT / "tests" / "regressions"
FILES = sorted(CORPUS.glob("*.json"))


def _is_artifact(path: Path) -> bool:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return isinstance(doc, dict) and ARTIFACT_KEY in doc


ARTIFACTS = [p for p in FILES if _is_artifact(p)]
SCENARIOS = [p for p in FILES if not _is_artifact(p)]


def _replay(artifact: Artifact, path: Path) -> ReplayOutcome:
    command = f"ptocheck replay {path.relative_to(ROOT)}"
    if artifact.kind == "model-path":
        return replay_model_artifact(artifact, command)
    return replay_port_artifact(artifact, command)


def test_the_corpus_has_model_and_port_artifacts() -> None:
    kinds = {load_artifact(p).kind for p in ARTIFACTS}
    assert kinds == {"model-path", "port-run"}


@pytest.mark.parametrize("path", ARTIFACTS, ids=lambda p: p.name)
def test_artifact_replays_strictly_as_expected(path: Path) -> None:
    artifact = load_artifact(path)
    outcome = _replay(artifact, path)
    assert artifact.command, "every artifact records the command that found it"
    if artifact.extra.get("expect") == "passes":
        assert not outcome.reproduced, f"{path.name} fails again (a regression):\n{outcome.report}"
        return
    assert outcome.reproduced, outcome.report
    if artifact.finding is not None:
        registered = {f.ident: f for f in FINDINGS}
        assert artifact.finding in registered, f"{path.name} names an unregistered finding {artifact.finding}"
        f = registered[artifact.finding]
        assert f.runtime == artifact.signature.runtime
        assert artifact.signature.property_id in (f.property_name, *f.other_properties)
    elif artifact.signature.runtime == TRB and not artifact.mutants:
        pytest.fail(f"{path.name}: an unregistered failure of {TRB}; register it in properties/findings.py")


FINDING_ARTIFACTS = [p for p in ARTIFACTS if load_artifact(p).finding is not None]


@pytest.mark.parametrize("path", FINDING_ARTIFACTS, ids=lambda p: p.name)
def test_campaigns_classify_a_finding_artifact_as_its_finding(path: Path) -> None:
    """A campaign that hits a registered finding again (with any blamed step) reports it as known; like a
    campaign it hands over the failing run, which tells apart findings that share a signature."""
    from fuzz.campaigns.known import KNOWN, classify

    artifact = load_artifact(path)
    assert classify(artifact.signature, artifact.mutants, artifact.scenario, artifact) == (KNOWN, artifact.finding)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_non_artifact_files_are_valid_scenarios(path: Path) -> None:
    assert load_scenario(path).tasks()


MUTANT_ARTIFACT = CORPUS / "mutant_deferred_release_drop_on_full.json"


def test_port_run_replay_report(capsys: pytest.CaptureFixture[str]) -> None:
    from fuzz.cli import main

    assert main(["replay", str(MUTANT_ARTIFACT)]) == 1
    out = capsys.readouterr().out
    preamble, *header = out.split("\n\n")[0].splitlines()
    assert preamble.startswith("scaled constants: ") and "deferred_release_capacity=1 (C++ 256)" in preamble
    assert header[0] == "property:  run.task_not_consumed"
    assert [line.split(":")[0] for line in header] == [
        "property", "kind", "signature", "engine", "seed", "bounds", "mutants", "scenario", "schedule"
    ]
    assert "     1  host " in out and "violation: run.task_not_consumed: run 0: task t1 never consumed" in out
    assert out.rstrip().endswith(f"replay: ptocheck replay {MUTANT_ARTIFACT}")
    assert main(["replay", str(MUTANT_ARTIFACT), "--full"]) == 1
    full = capsys.readouterr().out
    steps = load_artifact(MUTANT_ARTIFACT).schedule
    assert "earlier steps omitted" not in full and steps


def test_port_run_replay_diverges_loudly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fuzz.cli import main

    doc = json.loads(MUTANT_ARTIFACT.read_text(encoding="utf-8"))
    doc["schedule"] = "ptosched1:5*3." + doc["schedule"].split(":", 1)[1]  # the host cannot run 3 steps in a row
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["replay", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "step 1: recorded thread host cannot run (runnable: orch," in err
    doc = json.loads(MUTANT_ARTIFACT.read_text(encoding="utf-8"))
    doc["mutants"] = []  # the plain port takes another path or passes: never a silent pass
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps(doc), encoding="utf-8")
    code = main(["replay", str(fixed)])
    captured = capsys.readouterr()
    assert (code == 0 and "no longer reproduces" in captured.out) or (code == 2 and "cannot run" in captured.err)
