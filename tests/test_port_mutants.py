"""Each implemented mutant of the TRB port is found by fixed-budget searches (runtime.search: random, PCT)
that name the violated property, on targeted scenarios and on scenarios the general generator drew
(properties.port_checks.MUTANT_CASES); the unmutated port passes every one of those searches.
Mutants that are not implemented, or whose mechanism cannot matter at the pinned commit, have no search
and say why."""

from __future__ import annotations

import pytest

from fuzz.campaigns.known import search_clean_port
from fuzz.cli import main
from properties.port_checks import (
    MUTANT_CASES,
    PROPERTY_NAMES,
    MutantProbe,
    generated_scenario,
    late_reader_of_two,
    late_readers,
    port_observers,
    probes_of,
    run_probe,
)
from runtime.search import SearchBounds, SearchReport, search
from runtime.trb.mutants import IMPLEMENTED, MUTANTS
from runtime.trb.system import TrbSystem

PROBES = [p for case in MUTANT_CASES for p in probes_of(case)]


def _probe_id(probe: MutantProbe) -> str:
    same = [p for p in PROBES if p.mutant == probe.mutant and p.origin == probe.origin]
    return f"{probe.mutant}-{probe.origin}{same.index(probe)}"


@pytest.mark.parametrize("probe", PROBES, ids=[_probe_id(p) for p in PROBES])
def test_mutant_is_found_and_unmutated_port_passes(probe: MutantProbe) -> None:
    scenario = probe.scenario()
    found = run_probe(probe, scenario, frozenset({probe.mutant}))
    assert found.property_id == probe.property_id, (scenario.name, found.verdict)
    # the unmutated port under the same search: the whole budget runs (DFS: every bound up to the
    # probe's), no failure outside the registered findings (a generated program can reach one, e.g.
    # F-MODEL-R7), and never the mutant's property
    clean = search_clean_port(scenario, probe.engine, probe.seed, probe.runs, probe.max_steps, probe.preemptions)
    if probe.engine == "dfs":
        dfs = clean.report.dfs
        assert dfs is not None and dfs.completed_bound == probe.preemptions, clean.report.lines()
    else:
        assert found.executions <= probe.runs
        assert clean.report.executions == probe.runs, clean.report.lines()
    assert not clean.unregistered, (scenario.name, clean.report.lines())
    assert probe.property_id not in clean.properties(), (scenario.name, clean.report.lines())


def test_every_implemented_mutant_has_targeted_and_generated_searches() -> None:
    cases = {case.mutant: case for case in MUTANT_CASES}
    assert len(cases) == len(MUTANT_CASES)
    for name, mutant in MUTANTS.items():
        if mutant.status != IMPLEMENTED:
            assert name not in cases, name
            assert mutant.note or mutant.status.startswith("needs"), name  # the table prints the reason
            continue
        case = cases[name]
        names = [make().name for make in case.scenarios]
        assert len(names) >= 2 and len(set(names)) == len(names), name
        assert bool(case.generated) != bool(case.no_generated), f"{name}: a generated probe, or why not"
        for probe in probes_of(case):
            assert probe.property_id in PROPERTY_NAMES, (name, probe.property_id)


def test_generated_scenarios_are_reproducible_from_their_seed() -> None:
    first, again, other = generated_scenario(16), generated_scenario(16), generated_scenario(17)
    assert first == again
    assert first.name == "generated#16" and other.name == "generated#17"
    assert first.program != other.program or first.config != other.config
    assert generated_scenario(16, max_tasks=24, window=16).name == "generated#16/t24/w16"
    assert set(generated_scenario(16, window=16).config.task_window) == {16}


def test_mutants_command_prints_found_rows_and_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mutants", "M_TOKEN_FROM_LOCAL_ID", "M_CLEANUP_WHOLE_SLOT_CHAIN", "M_EARLY_ON_FIRST_BLOCK"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("M_TOKEN_FROM_LOCAL_ID")]
    assert len(rows) == 3 and all("completed_after_kernels (passes)" in row for row in rows)
    assert "generated#" in rows[-1]
    assert "implemented (unobservable here): not reached at the pinned commit" in out  # a no-search reason
    assert "needs early dispatch" not in out
    early = [line for line in out.splitlines() if line.startswith("M_EARLY_ON_FIRST_BLOCK")]
    assert len(early) == 3 and all("early_candidate_after_publication (passes)" in row for row in early), early
    assert "0 probe(s) not found as expected" in out


def test_mutants_command_rejects_an_unknown_mutant(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mutants", "M_NO_SUCH_BUG"]) == 2
    err = capsys.readouterr().err
    assert "unknown mutant 'M_NO_SUCH_BUG'" in err and err[-1] == "\n" and err.count("\n") == 1


def test_d01_switch_shows_only_together_with_the_claim_race() -> None:
    """M_COMPLETED_EQ_NOT_GE (D01) cannot matter alone at the pinned commit: the claim pins the producer
    until wiring. With the claim race of M_CLAIM_OUTSIDE_LOCK the producer can be CONSUMED at wiring, and
    then the `== COMPLETED` check links the consumer to a dead producer: a lost wake-up (INV-F3). The
    claim race alone is reported by claim_before_consume, so that check is off here to show what D01 adds."""
    scenario = late_reader_of_two()
    enabled = frozenset(PROPERTY_NAMES) - {"claim_before_consume"}
    bounds = SearchBounds(runs=40, max_steps=20_000)

    def pct(mutants: set[str]) -> SearchReport:
        return search(lambda: TrbSystem(scenario, mutants), "pct", 1, bounds, port_observers(enabled))

    both = pct({"M_CLAIM_OUTSIDE_LOCK", "M_COMPLETED_EQ_NOT_GE"})
    assert both.failures and both.failures[0].property_id == "no_lost_wakeup", both.verdict()
    for alone in ({"M_CLAIM_OUTSIDE_LOCK"}, {"M_COMPLETED_EQ_NOT_GE"}, set()):
        report = pct(alone)
        assert report.ok and report.executions == 40, (alone, report.verdict())


@pytest.mark.slow
def test_bounded_dfs_finds_the_claim_race_and_passes_the_unmutated_port() -> None:
    """The exhaustive engine finds M_CLAIM_OUTSIDE_LOCK within preemption bound 1, and the same bounded
    search of the unmutated port completes with no violation (about 7 CPU-s)."""
    scenario = late_readers(1, 1, 256, "late_reader")
    bounds = SearchBounds(preemptions=1, max_steps=20_000)
    found = search(lambda: TrbSystem(scenario, {"M_CLAIM_OUTSIDE_LOCK"}), "dfs", 0, bounds, port_observers())
    assert found.failures and found.failures[0].property_id == "claim_before_consume", found.verdict()
    clean = search(lambda: TrbSystem(scenario), "dfs", 0, bounds, port_observers())
    assert clean.ok and clean.dfs is not None and clean.dfs.completed_bound == 1, clean.verdict()


def test_hunt_finds_the_recorded_generator_seed(capsys: pytest.CaptureFixture[str]) -> None:
    """`ptocheck mutants --hunt` re-finds a generated probe's seed (M_TOKEN_FROM_LOCAL_ID: seed 4)."""
    assert main(["mutants", "M_TOKEN_FROM_LOCAL_ID", "--hunt", "5", "--runs", "2"]) == 0
    out = capsys.readouterr().out
    assert "M_TOKEN_FROM_LOCAL_ID: seed 4: completed_after_kernels (run 1)" in out
    case = next(c for c in MUTANT_CASES if c.mutant == "M_TOKEN_FROM_LOCAL_ID")
    assert [g.seed for g in case.generated] == [4]


def test_the_mutant_table_can_show_what_the_data_oracle_alone_finds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mutants", "M_TOKEN_FROM_LOCAL_ID", "--data-column"]) == 0
    out = capsys.readouterr().out
    assert "data check alone" in out
    assert any(line.startswith("M_TOKEN_FROM_LOCAL_ID") and " FOUND " in line for line in out.splitlines())
