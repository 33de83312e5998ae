"""Each mutant with a search case (properties/port_checks.MUTANT_CASES) is found by its fixed-budget
search on every scenario of the case (a targeted one and a differently shaped one), naming the
property; the unmutated port passes the same search."""

from __future__ import annotations

import pytest

from properties.port_checks import MUTANT_CASES, MutantCase, run_mutant_case
from runtime.trb.mutants import IMPLEMENTED, MUTANTS


@pytest.mark.parametrize("case", MUTANT_CASES, ids=[c.mutant for c in MUTANT_CASES])
def test_mutant_is_found_and_unmutated_port_passes(case: MutantCase) -> None:
    assert MUTANTS[case.mutant].status == IMPLEMENTED
    for make in case.scenarios:
        scenario = make()
        found = run_mutant_case(case, scenario, frozenset({case.mutant}))
        assert found.property_id == case.property_id, (scenario.name, found.verdict)
        clean = run_mutant_case(case, scenario, frozenset())
        assert clean.property_id == "", (scenario.name, clean.verdict)
        assert clean.executions == case.runs


def test_cases_name_distinct_scenarios() -> None:
    for case in MUTANT_CASES:
        names = [make().name for make in case.scenarios]
        assert len(names) >= 2 and len(set(names)) == len(names), case.mutant
