"""The `systematic` campaign: drawn programs searched by the port's DFS (fuzz/campaigns/targets.py
PortTarget._search) instead of sampled by one scheduler, with the failing schedule judged strictly."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.campaigns.catalogue import CAMPAIGNS
from fuzz.campaigns.known import KNOWN, MUTANT, classify
from fuzz.campaigns.other import campaign_on
from fuzz.campaigns.runner import FuzzOptions, format_summary, run_campaign
from fuzz.campaigns.targets import DFS, Context, PortParams, PortTarget, make_port_scheduler
from model.errors import PtocheckError
from model.scenario import Scenario
from properties.artifacts import load_artifact
from properties.port_checks import retain_pairs
from properties.replay import PORT_CHECKS, replay_port_artifact

ALIAS_ARTIFACT = Path(__file__).resolve().parent / "regressions" / "tmap_stale_alias_stall.json"


def _ctx(asserted: bool = True, mutants: tuple[str, ...] = ()) -> Context:
    return Context("systematic", "dfs-tiny", "cmd", mutants, 0, 0, "", asserted)


def _alias_scenario() -> Scenario:
    return load_artifact(ALIAS_ARTIFACT).scenario


def test_the_dfs_arm_finds_the_one_preemption_alias_stall_and_its_artifact_replays() -> None:
    """F-PORT-TMAP-STALE-ALIAS needs one preemption at the right step; the DFS with bound 1 finds it on the
    finding's own program, files it under the finding, and the artifact it writes replays strictly."""
    scenario = _alias_scenario()
    ex = PortTarget(1, observers=(PORT_CHECKS,)).execute(scenario, _ctx(), PortParams(DFS, 7, depth=1))
    assert len(ex.found) == 1
    artifact = ex.found[0].artifact
    assert artifact.kind == "port-run" and artifact.seed == 7
    assert artifact.signature.property_id == "run.unexpected_fatal.TENSORMAP_OVERFLOW"
    assert "DFS, preemption bound 1" in artifact.engine
    assert classify(artifact.signature, (), scenario, artifact) == (KNOWN, "F-PORT-TMAP-STALE-ALIAS")
    assert replay_port_artifact(artifact, "test").reproduced
    assert any(f.startswith("port.fn:") for f in ex.features)  # coverage survives the search's resets


def test_bound_zero_does_not_find_it() -> None:
    """The preemption bound is the drawn depth: no schedule without a preemption reaches the stall (the
    search finished bound 0, so that is a fact about every such schedule, not a cut)."""
    ex = PortTarget(1, observers=(PORT_CHECKS,)).execute(_alias_scenario(), _ctx(), PortParams(DFS, 7, depth=0))
    assert ex.found == []
    assert "outcome:port-dfs-finished-bound-0" in ex.features


def test_a_fatal_the_program_does_not_decide_is_no_failure() -> None:
    """With the outcome not asserted, a latched fatal is the search's goal (TrbSystem.accept_any_fatal, as
    the strict judgement accepts it), so the stall's fatal ends are judged done and the search goes on."""
    ex = PortTarget(1, observers=(PORT_CHECKS,)).execute(
        _alias_scenario(), _ctx(asserted=False), PortParams(DFS, 7, depth=1)
    )
    assert ex.found == []
    assert ex.executions > 1


def test_a_mutant_is_found_by_the_search_and_the_clean_port_passes_the_same_search() -> None:
    """Two producer/reader pairs on one scheduler thread: the clean port passes every interleaving with at
    most one preemption (the bound finished), and the search finds M_SCHED_NO_INIT_WAIT there."""
    scenario = retain_pairs(2).with_config(scheduler_threads=1)
    target = PortTarget(1, observers=(PORT_CHECKS,), dfs_max_states=60_000)
    clean = target.execute(scenario, _ctx(), PortParams(DFS, 1, depth=1))
    assert clean.found == [] and clean.executions > 0
    assert "outcome:port-dfs-finished-bound-1" in clean.features
    mutated = target.execute(scenario, _ctx(mutants=("M_SCHED_NO_INIT_WAIT",)), PortParams(DFS, 1, depth=1))
    assert mutated.found, "the DFS must find the mutant"
    found = mutated.found[0].artifact
    assert found.mutants == ("M_SCHED_NO_INIT_WAIT",)
    assert classify(found.signature, found.mutants, scenario, found)[0] == MUTANT
    assert replay_port_artifact(found, "test").reproduced


def test_the_systematic_campaign_runs_and_says_what_its_states_are(tmp_path: Path) -> None:
    summary = run_campaign(
        FuzzOptions(campaign="systematic", seed=3, workers=1, iterations=2, corpus=tmp_path / "c")
    )
    assert summary.exit_code == 0 and summary.executions > 0 and summary.states > 0
    text = format_summary(summary)
    assert "port DFS states" in text and "dfs_states_per_scenario=60000" in text


def test_the_dfs_is_no_single_run_scheduler_and_stays_on_its_runtime() -> None:
    with pytest.raises(PtocheckError, match="no single-run scheduler named 'dfs'"):
        make_port_scheduler(PortParams(DFS, 1), 1, 100)
    with pytest.raises(PtocheckError, match="no port arm whose scenarios run on host_build_graph"):
        campaign_on(CAMPAIGNS["systematic"], "host_build_graph")
