"""`ptocheck replay`: strict re-execution of artifacts, and one clear error for every bad artifact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fuzz.cli import main
from properties.artifacts import dump_artifact, load_artifact, parse_artifact

ROOT = Path(__file__).resolve().parent.parent
R7 = ROOT / "tests" / "regressions" / "f_model_r7.json"


def test_replay_reproduces_a_registered_model_finding(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(R7)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("registered finding: F-MODEL-R7\nproperty: own_release_before_reuse\n")
    assert "\n  29  O scope_end depth 1: release scope ref of Y1(r1t3)" in out
    assert out.rstrip().endswith(f"replay: ptocheck replay {R7}")


def test_artifact_round_trips_byte_for_byte() -> None:
    text = R7.read_text(encoding="utf-8")
    assert dump_artifact(parse_artifact(text, "r7")) == text


def _write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "a.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _r7_doc() -> dict[str, object]:
    doc: dict[str, object] = json.loads(R7.read_text(encoding="utf-8"))
    return doc


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(ptocheck_artifact=99), "format version 99 is not supported"),
        (lambda d: d.pop("signature"), "missing field 'signature'"),
        (lambda d: d.update(kind="movie"), "unknown artifact kind 'movie'"),
        (lambda d: d.update(actions=[["x"]]), "integer triples"),
        (lambda d: d["actions"].insert(3, [99, 0, 0]), "step 4"),
        (lambda d: d["scenario"]["config"].update(task_window=[3, 4, 4, 4]), "scenario"),
    ],
    ids=["version", "missing-field", "kind", "actions-type", "diverged-path", "bad-scenario"],
)
def test_bad_artifacts_give_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mutate: object, message: str
) -> None:
    doc = _r7_doc()
    mutate(doc)  # type: ignore[operator]
    assert main(["replay", str(_write(tmp_path, doc))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ptocheck: error: ") and message in err


def test_replay_of_a_fixed_path_says_it_no_longer_reproduces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _r7_doc()
    doc["actions"] = doc["actions"][:-1]  # type: ignore[index]
    assert main(["replay", str(_write(tmp_path, doc))]) == 0
    assert "no longer reproduces" in capsys.readouterr().out


def test_not_json_and_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "b.json"
    bad.write_text("{", encoding="utf-8")
    assert main(["replay", str(bad)]) == 2
    assert main(["replay", str(tmp_path / "absent.json")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "not JSON" in err[0] and "cannot read the artifact" in err[1]
    assert load_artifact(R7).finding == "F-MODEL-R7"
