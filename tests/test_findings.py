"""Every registered finding replays strictly from its artifact and still violates its property."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.errors import PtocheckError
from model.explorer import explore
from model.trb_model import TrbModel
from properties.artifacts import load_artifact
from properties.findings import FINDINGS, load_model_artifact, replay_model_path

ROOT = Path(__file__).resolve().parent.parent
# port-run findings replay strictly in tests/test_regression_corpus.py
MODEL_FINDINGS = [f for f in FINDINGS if load_artifact(ROOT / f.artifact).kind == "model-path"]


@pytest.mark.parametrize("finding", MODEL_FINDINGS, ids=lambda f: f.ident)
def test_finding_artifact_replays_to_its_violation(finding: object) -> None:
    scenario, actions, ident = load_model_artifact(ROOT / finding.artifact)  # type: ignore[attr-defined]
    assert ident == finding.ident  # type: ignore[attr-defined]
    model = TrbModel(scenario)
    states = replay_model_path(model, actions)
    prop = next(p for p in model.properties() if p.name == finding.property_name)  # type: ignore[attr-defined]
    assert all(prop.holds(s) for s in states[:-1])
    assert not prop.holds(states[-1])


@pytest.mark.parametrize("finding", MODEL_FINDINGS, ids=lambda f: f.ident)
def test_finding_artifact_is_the_explorers_shortest_counterexample(finding: object) -> None:
    scenario, actions, _ = load_model_artifact(ROOT / finding.artifact)  # type: ignore[attr-defined]
    result = explore(TrbModel(scenario))
    assert [list(step.action) for step in result.violations[0].path[1:]] == [list(a) for a in actions]


def test_replay_divergence_names_the_step() -> None:
    scenario, actions, _ = load_model_artifact(ROOT / MODEL_FINDINGS[0].artifact)
    broken = actions[:3] + [(99, 0, 0)] + actions[4:]
    with pytest.raises(PtocheckError, match="step 4"):
        replay_model_path(TrbModel(scenario), broken)
