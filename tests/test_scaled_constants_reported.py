"""A scenario that scales a C++ compile-time constant down says so in every report and export (issue 2):
`run`, `replay` (model path and port run) and the Perfetto export name each scaled constant with its C++
default; a scenario at the C++ defaults prints no such line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fuzz.cli import main
from fuzz.scenario_args import scaled_constants_text
from model.builders import BUILTIN_SCENARIOS
from model.scenario import dump_scenario
from properties.artifacts import load_artifact

REGRESSIONS = Path(__file__).resolve().parent / "regressions"
MODEL_ARTIFACT = REGRESSIONS / "f_model_r7_hidden_alloc.json"  # deferred_release_capacity=2, ...
PORT_ARTIFACT = REGRESSIONS / "deferred_release_overflow.json"  # deferred_release_capacity=1


def test_the_text_names_each_scaled_constant_with_its_cxx_default() -> None:
    scenario = load_artifact(PORT_ARTIFACT).scenario
    text = scaled_constants_text(scenario)
    assert "deferred_release_capacity=1 (C++ 256)" in text
    assert text.count("(C++ ") == len(scenario.config.constants.scaled())
    assert scaled_constants_text(BUILTIN_SCENARIOS["pa_two_blocks"]()) == ""


@pytest.mark.parametrize("path", [MODEL_ARTIFACT, PORT_ARTIFACT], ids=["model-path", "port-run"])
def test_replay_says_which_constants_are_scaled(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    scaled = [line for line in lines if line.startswith("scaled constants: ")]
    assert scaled == [f"scaled constants: {scaled_constants_text(load_artifact(path).scenario)}"]
    assert "deferred_release_capacity=" in scaled[0]


def test_run_says_which_constants_are_scaled_and_says_nothing_at_the_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario_file = tmp_path / "scaled.json"
    scenario_file.write_text(dump_scenario(load_artifact(PORT_ARTIFACT).scenario), encoding="utf-8")
    main(["run", str(scenario_file), "--scheduler", "round-robin"])
    assert "scaled constants: deferred_release_capacity=1 (C++ 256)" in capsys.readouterr().out
    assert main(["run", "pa_two_blocks", "--scheduler", "round-robin"]) == 0
    assert "scaled constants" not in capsys.readouterr().out


def test_the_perfetto_export_records_the_scaled_constants(tmp_path: Path) -> None:
    out = tmp_path / "trace.json"
    assert main(["export", "perfetto", str(MODEL_ARTIFACT), "-o", str(out)]) == 0
    recorded = json.loads(out.read_text(encoding="utf-8"))["otherData"]["scaled_constants"]
    scaled = load_artifact(MODEL_ARTIFACT).scenario.config.constants.scaled()
    assert recorded == {name: {"cxx_default": d, "scenario": v} for name, (d, v) in scaled.items()}
    assert recorded["deferred_release_capacity"] == {"cxx_default": 256, "scenario": 2}
