"""The SMT findings: each artifact reproduces, and the R8 race is real at C++ granularity only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from properties.findings import SMT_FINDINGS
from properties.smt import core
from properties.smt.artifacts import ARTIFACT_FILES, counterexample_artifact
from properties.smt.suite import LIMITS
from properties.smt.window import r8_schedule, window_system

pytestmark = pytest.mark.smt
ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("finding", SMT_FINDINGS, ids=lambda f: f.ident)
def test_artifact_is_registered_and_present(finding: object) -> None:
    path = ROOT / finding.artifact  # type: ignore[attr-defined]
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["finding"] == finding.ident  # type: ignore[attr-defined]
    assert ARTIFACT_FILES[finding.ident] == path.name  # type: ignore[attr-defined]


def test_r8_schedule_replays_from_the_initial_state_to_the_violation() -> None:
    doc = json.loads((ROOT / "tests/regressions/smt/smt_r8_unprepared_reclaim.json").read_text(encoding="utf-8"))
    schedule = [(name, params) for name, params in doc["schedule"]]
    assert schedule == r8_schedule(doc["consts"]["W"])
    system = window_system("cxx")
    states = core.run_schedule(system, doc["consts"], schedule)
    r8 = system.invariant("unprepared_not_reclaimed")
    r3 = system.invariant("consumed_prefix")
    holds = [core.holds_on_state(system, r8, s, doc["consts"]) for s in states]
    assert all(holds[:-3]) and not holds[-2]  # broken exactly when scheduler A publishes la
    assert core.holds_on_state(system, r3, states[-2], doc["consts"])
    assert not core.holds_on_state(system, r3, states[-1], doc["consts"])  # prepare_task: PENDING below la
    assert core.holds_on_state(system, system.invariant("window_bound"), states[-1], doc["consts"])


def test_r8_schedule_is_impossible_when_commit_and_prepare_are_one_step() -> None:
    """At the executable model's granularity the same schedule stops: the committed slot is PENDING,
    so the scan does not pass it (why the model cannot show F-SMT-R8-UNPREPARED-RECLAIM)."""
    schedule = [step for step in r8_schedule(4) if step[0] != "prepare"]
    with pytest.raises(ValueError, match="advance_scan_A"):
        core.run_schedule(window_system("model"), {"W": 4}, schedule)


@pytest.mark.parametrize("label,factory,goal,action,finding", LIMITS, ids=[x[0] for x in LIMITS])
def test_limit_counterexample_reproduces(label: str, factory: object, goal: str, action: str | None, finding: str) -> None:
    doc = counterexample_artifact(finding, "", goal, action, factory)
    ce = doc["counterexample"]
    if finding == "F-LIMIT-INT32-TASK-ID":
        assert ce["pre"]["cur"] == 2**31 - 1 and ce["post"]["cur"] == -(2**31)
    if finding == "F-LIMIT-CLAIM31":
        assert ce["pre"]["n"] >= 2**31 and ce["pre"]["rc"] == ce["pre"]["fc"] and not ce["pre"]["sr"]
    if finding == "F-LIMIT-POOL-COUNTER":
        assert ce["pre"]["top"] == 2**31 - 1 and ce["post"]["top"] == -(2**31)
