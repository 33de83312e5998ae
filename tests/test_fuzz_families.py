"""The campaign's own scenario family (tile-then-gather) and the TensorMap lookup coverage that steers to it,
and the default campaign finding G01's mutant, which needs both, within a fixed input budget."""

from __future__ import annotations

from pathlib import Path

from hypothesis import Phase, given, settings
from hypothesis import find as hypothesis_find
from hypothesis import strategies as st

from fuzz.campaigns import FuzzOptions, run_campaign
from fuzz.campaigns.catalogue import decided
from fuzz.campaigns.coverage import lookup_bucket
from fuzz.campaigns.families import HISTORICAL_LOOKUP_CAP, tiled_scenarios
from fuzz.campaigns.known import KNOWN, classify
from fuzz.campaigns.targets import Context, PortParams, PortTarget
from model.scenario import Scenario, Submit, Tag, validate
from properties.artifacts import load_artifact
from properties.port_checks import tiled_writers
from properties.replay import PORT_CHECKS, replay_port_artifact


def _writers_of_x(sc: Scenario) -> list[Submit]:
    return [t for t in sc.tasks() if isinstance(t, Submit) and t.name.startswith("W")]


def _readers_of_x(sc: Scenario) -> list[Submit]:
    return [t for t in sc.tasks() if isinstance(t, Submit) and t.name.startswith("R")]


@settings(max_examples=60)
@given(tiled_scenarios())
def test_tiled_scenarios_are_valid_tile_then_gather_programs(sc: Scenario) -> None:
    validate(sc)  # raises on an invalid scenario
    writers, readers = _writers_of_x(sc), _readers_of_x(sc)
    assert 2 <= len(writers) <= HISTORICAL_LOOKUP_CAP + 1 and 1 <= len(readers) <= 3
    for w in writers:
        (arg,) = w.args
        assert arg.tag in (Tag.INOUT, Tag.OUTPUT_EXISTING) and arg.region is not None and arg.region.buffer == "X"
    for r in readers:
        gather = r.args[0]
        assert gather.tag in (Tag.INPUT, Tag.INOUT) and gather.region is not None and gather.region.buffer == "X"


def test_tiled_scenarios_sometimes_reach_past_the_historical_lookup_cap() -> None:
    """The witness that the family reaches the boundary it is there for (17 writers, one reader of all)."""
    no_shrinking = settings(phases=[Phase.generate], max_examples=500, database=None)
    sc = hypothesis_find(tiled_scenarios(), lambda s: len(_writers_of_x(s)) > HISTORICAL_LOOKUP_CAP, settings=no_shrinking)
    assert len(_writers_of_x(sc)) == HISTORICAL_LOOKUP_CAP + 1


def test_lookup_buckets() -> None:
    assert [lookup_bucket(n) for n in (0, 1, 2, 3, 4, 5, 8, 9, 15, 16, 17, 40)] == [
        "0", "1", "2", "3-4", "3-4", "5-8", "5-8", "9-15", "9-15", "16", "17+", "17+"
    ]


def _ctx() -> Context:
    return Context("test", "port-tiled", "", (), 0, 0, "", True)


@given(st.integers(0, 2**32))
@settings(max_examples=5)
def test_port_coverage_counts_the_producers_a_lookup_returns(seed: int) -> None:
    """Three INOUT writers of disjoint tiles, then a reader of the whole: the reader's lookup returns all
    three (whatever the schedule), and at least one of them may still be running."""
    ex = PortTarget(1, observers=(PORT_CHECKS,)).execute(tiled_writers(3, 1, Tag.INOUT, "t3"), _ctx(), PortParams("random", seed))
    assert "port.lookup:returned 3-4" in ex.features and not ex.found
    assert any(f.startswith("port.lookup:running ") for f in ex.features)


def test_port_coverage_sees_the_lookup_before_a_mutant_could_truncate_it() -> None:
    """The campaign must not know which mutant is on: with G01's cap switched on, the lookup still
    reports every producer it returned (the truncation is the caller's)."""
    sc = tiled_writers(3, 1, Tag.INOUT, "t3")
    plain = PortTarget(1).execute(sc, _ctx(), PortParams("round-robin", 0))
    mutated = PortTarget(1).execute(sc, Context("test", "port-tiled", "", ("M_LOOKUP_CAP",), 0, 0, "", True), PortParams("round-robin", 0))
    lookups = {f for f in plain.features if f.startswith("port.lookup:returned")}
    assert lookups == {f for f in mutated.features if f.startswith("port.lookup:returned")} and lookups


@settings(max_examples=25)
@given(tiled_scenarios(), st.sampled_from(("random", "pct")), st.integers(0, 2**32))
def test_the_unmutated_port_passes_every_check_on_tile_then_gather_programs(sc: Scenario, scheduler: str, seed: int) -> None:
    """No unregistered failure of the plain port on the family (seed 1, 400 inputs of the arm alone: no
    failure at all); here a bounded sample under the campaign's schedulers and checks."""
    ctx = Context("test", "port-tiled", "", (), 0, 0, "", decided(sc))
    ex = PortTarget(2, observers=(PORT_CHECKS,)).execute(sc, ctx, PortParams(scheduler, seed))
    unregistered = [f.artifact.message for f in ex.found if classify(f.signature, (), sc)[0] != KNOWN]
    assert not unregistered


LOOKUP_CAP_BUDGET = 200
"""Inputs: seed 1 finds M_LOOKUP_CAP at input 131 (benchmarks/bench_fuzz.py --mutants M_LOOKUP_CAP)."""


def test_the_default_campaign_finds_mutant_m_lookup_cap_within_a_fixed_budget(tmp_path: Path) -> None:
    """G01 (lookup results truncated) needs one lookup to return producers still running, and the reader
    dispatched before a dropped one completes; the default campaign gets there through its tiled arm and
    lookup coverage, without knowing which mutant is on."""
    summary = run_campaign(
        FuzzOptions(
            campaign="default", seed=1, workers=1, iterations=LOOKUP_CAP_BUDGET, corpus=tmp_path,
            mutants=("M_LOOKUP_CAP",), stop_on_failure=True,
        )
    )
    found = [f for f in summary.findings if f.classification == "mutant" and f.session_count]
    assert found, f"M_LOOKUP_CAP not found within {LOOKUP_CAP_BUDGET} inputs"
    assert found[0].signature[1] == "dispatch_after_producers"
    artifact = load_artifact(Path(found[0].path))
    assert artifact.mutants == ("M_LOOKUP_CAP",) and "port-tiled" in artifact.engine
    assert replay_port_artifact(artifact, "test").reproduced
