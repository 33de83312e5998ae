"""`ptocheck mutants`: the table of historical-bug mutants of the TRB port and the searches that find them.

Every mutant of runtime/trb/mutants.py is listed. A mutant with a search case is searched on each of its
scenarios (the targeted one first) with the case's fixed budget, and the unmutated port is searched with
the same budget; a mutant without a case is listed with its status and nothing is claimed for it.
"""

from __future__ import annotations

import argparse

from model.errors import PtocheckError
from properties.port_checks import MUTANT_CASES, MutantResult, run_mutant_case
from runtime.trb.mutants import MUTANTS

EXIT_OK, EXIT_VIOLATION = 0, 1


def _row(cells: tuple[str, ...]) -> str:
    widths = (32, 9, 26, 22, 34, 7, 8)
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def cmd_mutants(args: argparse.Namespace) -> int:
    cases = {case.mutant: case for case in MUTANT_CASES}
    wanted = list(args.mutant) or list(MUTANTS)
    for name in wanted:
        if name not in MUTANTS:
            raise PtocheckError(f"unknown mutant {name!r}", "ptocheck mutants", f"known: {', '.join(MUTANTS)}")
    print(_row(("mutant", "catalogue", "property", "scenario", "search", "steps", "seconds")))
    missed = 0
    for name in wanted:
        mutant = MUTANTS[name]
        case = cases.get(name)
        if case is None:
            print(_row((name, mutant.catalogue_id, "-", "-", f"no search case ({mutant.status})", "-", "-")))
            continue
        for make in case.scenarios:
            scenario = make()
            found: MutantResult = run_mutant_case(case, scenario, frozenset({name}))
            clean = run_mutant_case(case, scenario, frozenset())
            ok = found.property_id == case.property_id and not clean.property_id
            missed += not ok
            prop = found.property_id or "NOT FOUND"
            if clean.property_id:
                prop += f" (unmutated port fails too: {clean.property_id})"
            print(_row((name, mutant.catalogue_id, prop, scenario.name,
                        f"{found.engine} run {found.executions}", str(found.steps), f"{found.seconds:.2f}")))
    print(f"{len(cases)} of {len(MUTANTS)} mutants have a search case; {missed} case(s) not found as expected")
    return EXIT_VIOLATION if missed else EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("mutants", help="search for every TRB port mutant and print the table")
    p.add_argument("mutant", nargs="*", help="only these mutants (default: all)")
    p.set_defaults(func=cmd_mutants)
