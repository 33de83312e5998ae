"""The evidence files of the SMT findings (tests/regressions/smt/smt_*.json): written by
`write_artifacts`, checked by tests/test_smt_findings.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from properties.smt import core
from properties.smt.suite import LIMITS, proof_systems
from properties.smt.vcs import enumerate_vcs, run_vc
from properties.smt.window import r8_schedule, window_system

FORMAT = 1


def r8_artifact(window: int = 4) -> dict[str, Any]:
    system = window_system("cxx")
    schedule = r8_schedule(window)
    states = core.run_schedule(system, {"W": window}, schedule)
    last = states[-2]  # after the scheduler published la, before prepare
    return {
        "ptocheck_smt_artifact": FORMAT,
        "finding": "F-SMT-R8-UNPREPARED-RECLAIM",
        "system": system.name,
        "consts": {"W": window},
        "schedule": [[name, params] for name, params in schedule],
        "final": {k: str(v) for k, v in last.items() if k in ("cur", "la", "pp", "dp")},
        "violated": ["unprepared_not_reclaimed (after the advance)", "consumed_prefix (after prepare)"],
    }


def counterexample_artifact(finding: str, system_name: str, goal: str, action: str | None, factory: Any) -> dict[str, Any]:
    system = factory()
    vc = next(v for v in enumerate_vcs(system) if v.goal == goal and v.action == action)
    row = run_vc(vc)
    assert row.counterexample is not None, f"{finding}: no counterexample"
    return {"ptocheck_smt_artifact": FORMAT, "finding": finding, "system": system.name, "goal": goal, "action": action, "counterexample": row.counterexample.to_json()}


ARTIFACT_FILES = {
    "F-SMT-R8-UNPREPARED-RECLAIM": "smt_r8_unprepared_reclaim.json",
    "F-SMT-G1-OWN-SLOT": "smt_g1_own_slot.json",
    "F-LIMIT-INT32-TASK-ID": "smt_limit_int32_task_id.json",
    "F-LIMIT-CLAIM31": "smt_limit_claim31.json",
    "F-LIMIT-POOL-COUNTER": "smt_limit_pool_counter.json",
}


def all_artifacts() -> dict[str, dict[str, Any]]:
    out = {"F-SMT-R8-UNPREPARED-RECLAIM": r8_artifact()}
    window = next(s for s, _ in proof_systems() if s.name == "window")
    out["F-SMT-G1-OWN-SLOT"] = counterexample_artifact(
        "F-SMT-G1-OWN-SLOT", window.name, "generation_check_own_slot", "claim_check", lambda: window_system("model")
    )
    for _label, factory, goal, action, finding in LIMITS:
        out[finding] = counterexample_artifact(finding, "", goal, action, factory)
    return out


def write_artifacts(directory: Path) -> list[Path]:
    paths = []
    for finding, doc in all_artifacts().items():
        path = directory / ARTIFACT_FILES[finding]
        path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        paths.append(path)
    return paths
