"""The scenario format: round trip, and one clear error naming the field for every malformed document."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from model.builders import BUILTIN_SCENARIOS
from model.errors import ScenarioError
from model.scenario import dump_scenario, parse_scenario, scenario_to_dict


def _doc(**overrides: object) -> dict[str, object]:
    doc = scenario_to_dict(BUILTIN_SCENARIOS["dummy_explicit_barrier"]())
    doc.update(overrides)
    return doc


def test_every_builtin_round_trips() -> None:
    for name, build in BUILTIN_SCENARIOS.items():
        s = build()
        assert parse_scenario(dump_scenario(s), name) == s


def _error(doc: object) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(json.dumps(doc), "s.json")
    return str(info.value)


def test_window_not_a_power_of_two() -> None:
    assert "config.task_window[2]" in _error(_doc(config={"task_window": [4, 4, 6, 4]}))


def test_window_below_four() -> None:
    assert "config.task_window[0]" in _error(_doc(config={"task_window": 2}))


def test_unknown_explicit_dependency() -> None:
    doc = _doc()
    prog = doc["program"]
    assert isinstance(prog, list)
    submit = next(op for op in prog if op["op"] == "submit")
    submit["deps"] = [{"task": "nope"}]
    assert "deps[0].task" in _error(doc) and "nope" in _error(doc)


def test_scope_end_without_begin() -> None:
    doc = _doc(program=[{"op": "scope_end"}])
    assert "program[0]" in _error(doc) and "scope_end" in _error(doc)


def test_unclosed_scope() -> None:
    assert "never closed" in _error(_doc(program=[{"op": "scope_begin"}]))


def test_region_out_of_bounds_and_bad_strides() -> None:
    base = {"op": "submit", "name": "t", "kernel_ids": [0, -1, -1]}
    bufs = [{"name": "x", "dtype": "FLOAT32", "numel": 16}]
    oob = dict(base, args=[{"tag": "INPUT", "region": {"buffer": "x", "shape": [17]}}])
    assert "program[0].args[0].region" in _error(_doc(buffers=bufs, program=[oob]))
    bad = dict(base, args=[{"tag": "INPUT", "region": {"buffer": "x", "shape": [4, 4], "strides": [4]}}])
    assert "strides" in _error(_doc(buffers=bufs, program=[bad]))
    unknown = dict(base, args=[{"tag": "INPUT", "region": {"buffer": "y", "shape": [4]}}])
    assert "not declared" in _error(_doc(buffers=bufs, program=[unknown]))


def test_not_json_unknown_version_unknown_field() -> None:
    with pytest.raises(ScenarioError, match=r"s.json:1:2"):
        parse_scenario("{oops", "s.json")
    assert "ptocheck_scenario" in _error(_doc(ptocheck_scenario=99))
    assert "unknown field" in _error(_doc(colour="red"))


def test_auto_inside_manual_is_a_valid_scenario_with_a_fatal_outcome() -> None:
    doc = _doc(
        program=[{"op": "scope_begin", "mode": "manual"}, {"op": "scope_begin"}, {"op": "scope_end"}, {"op": "scope_end"}],
        expected={"outcome": "fatal", "code": "INVALID_ARGS"},
    )
    s = parse_scenario(json.dumps(doc))
    from model.explorer import explore
    from model.trb_model import TrbModel

    result = explore(TrbModel(s))
    assert result.complete and not result.violations


def test_cli_bad_input_is_one_line_exit_2_no_traceback(tmp_path: object) -> None:
    from pathlib import Path

    bad = Path(str(tmp_path)) / "bad.json"
    bad.write_text(json.dumps(_doc(config={"task_window": 6})))
    proc = subprocess.run(
        [sys.executable, "-m", "fuzz.cli", "explore", str(bad)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "task_window[0]" in proc.stderr


def test_cli_explore_prints_one_line_per_scenario() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fuzz.cli", "explore", "pa_scope_deadlock", "dummy_long_chain"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pa_scope_deadlock:" in proc.stdout and "expected fatal SCOPE_DEADLOCK(1)" in proc.stdout
    assert "dummy_long_chain:" in proc.stdout and "all 6 tasks consumed" in proc.stdout
