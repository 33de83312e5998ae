"""`ptocheck mutants`: the table of historical-bug mutants of the TRB port and the searches that find them.

Every mutant of runtime/trb/mutants.py is listed. A mutant with a case (properties/mutant_cases.py) is
searched on each of its probes (targeted scenarios, then generated ones) with the probe's fixed budget,
and the unmutated port is searched with the same budget; a mutant without a case is listed with its
status and the reason, and nothing is claimed for it. `--hunt N` looks for generated scenarios instead:
for each mutant, the first generator seeds below N on which the mutant's search names a property while
the unmutated port passes.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from fuzz.campaigns.known import search_clean_port
from model.errors import PtocheckError
from model.scenario import INIT_FAILURES, Scenario
from properties.port_checks import (
    MUTANT_CASES,
    MutantProbe,
    MutantResult,
    generated_scenario,
    probes_of,
    run_probe,
    with_startup_abort,
)
from runtime.trb.mutants import IMPLEMENTED, MUTANTS

EXIT_OK, EXIT_VIOLATION = 0, 1
WIDTHS = (32, 9, 42, 30, 26, 6, 7)


def _row(cells: tuple[str, ...]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, WIDTHS, strict=True)).rstrip()


def _check_names(names: list[str]) -> None:
    for name in names:
        if name not in MUTANTS:
            raise PtocheckError(f"unknown mutant {name!r}", "ptocheck mutants", f"known: {', '.join(MUTANTS)}")


def cmd_mutants(args: argparse.Namespace) -> int:
    wanted = list(args.mutant) or list(MUTANTS)
    _check_names(wanted)
    if args.hunt is not None:
        shape = {"max_tasks": args.max_tasks, "window": args.window, "sizing": args.sizing,
                 "dep_pool": args.dep_pool, "family": args.family}
        return _hunt(wanted, args.hunt, args.runs, shape, args.want, args.init_failure)
    cases = {case.mutant: case for case in MUTANT_CASES}
    print(_row(("mutant", "catalogue", "property (unmutated port: same search)", "scenario", "search",
                "steps", "cpu-s")))
    missed = 0
    for name in wanted:
        mutant = MUTANTS[name]
        case = cases.get(name)
        if case is None:
            reason = f"{mutant.status}: {mutant.note or mutant.mechanism}"
            print(_row((name, mutant.catalogue_id, "-", "-", "no search", "-", "-")) + f"\n    ({reason})")
            continue
        for probe in probes_of(case):
            scenario = probe.scenario()
            found: MutantResult = run_probe(probe, scenario, frozenset({name}))
            clean_text, clean_ok = _clean_verdict(probe, scenario)
            ok = found.property_id == probe.property_id and clean_ok
            missed += not ok
            prop = (found.property_id or "NOT FOUND") + f" ({clean_text})"
            if found.property_id and found.property_id != probe.property_id:
                prop += f" [expected {probe.property_id}]"
            search_text = (f"{probe.search_text()} ({found.executions} executions)" if probe.engine == "dfs"
                           else f"{probe.search_text()} run {found.executions}/{probe.runs}")
            print(_row((name, mutant.catalogue_id, prop, scenario.name, search_text, str(found.steps),
                        f"{found.seconds:.2f}")))
        if case.no_generated:
            print(_row((name, mutant.catalogue_id, "-", "generated: none", "-", "-", "-"))
                  + f"\n    ({case.no_generated})")
    n_cases = sum(1 for n in wanted if n in cases)
    print(f"{n_cases} of {len(wanted)} mutants have search cases; {missed} probe(s) not found as expected")
    if args.data_column:
        from properties.data_oracle import data_only_mutant_column, format_mutant_column

        print()
        print(format_mutant_column(data_only_mutant_column(mutants=wanted)))
    return EXIT_VIOLATION if missed else EXIT_OK


def _clean_verdict(probe: MutantProbe, scenario: Scenario) -> tuple[str, bool]:
    """The unmutated port under the probe's whole search: "passes", or only registered findings (named),
    which never carry the mutant's property; anything unregistered is a failure of the probe."""
    clean = search_clean_port(scenario, probe.engine, probe.seed, probe.runs, probe.max_steps, probe.preemptions)
    if not clean.report.failures:
        return "passes", True
    props = sorted(clean.properties())
    if clean.unregistered:
        return f"fails too, unregistered: {', '.join(props)}", False
    ok = probe.property_id not in props
    return f"clean: registered findings only ({', '.join(props)})", ok


def _hunt(
    wanted: list[str], limit: int, runs: int, shape: dict[str, Any], want: str | None, init_failure: str | None = None
) -> int:
    """For each implemented mutant: generator seeds below `limit` whose random search (seed 1, `runs` runs)
    names a property (`want`, when given) with the mutant on and passes without it (at most 3 per mutant).
    `init_failure` injects that startup abort path into each generated scenario's last run."""
    if init_failure is not None and init_failure not in INIT_FAILURES:
        raise PtocheckError(f"unknown startup abort path {init_failure!r}", "--init-failure",
                            f"use one of {', '.join(INIT_FAILURES)}")
    names = [n for n in wanted if MUTANTS[n].status == IMPLEMENTED]
    hits: dict[str, list[str]] = {n: [] for n in names}
    started = time.process_time()
    for seed in range(limit):
        if all(len(v) >= 3 for v in hits.values()):
            break
        scenario = generated_scenario(seed, **shape)
        if init_failure is not None:
            if scenario.expected.fatal is not None:
                continue  # the runs before the abort must complete
            scenario = with_startup_abort(scenario, init_failure)
        found: dict[str, str] = {}
        for name in names:
            if len(hits[name]) >= 3:
                continue
            result = run_probe(_hunt_probe(name, scenario, runs), scenario, frozenset({name}))
            if result.property_id and want in (None, result.property_id):
                found[name] = f"seed {seed}: {result.property_id} (run {result.executions})"
        if found and not run_probe(_hunt_probe(names[0], scenario, runs), scenario, frozenset()).property_id:
            for name, text in found.items():
                hits[name].append(text)
    for name in names:
        print(f"{name}: {'; '.join(hits[name]) or f'not found below seed {limit}'}")
    options = ", ".join(f"{k}={v}" for k, v in shape.items() if v is not None)
    if init_failure is not None:
        options += f", init_failure={init_failure} in the last run"
    print(f"hunted generator seeds below {limit} ({options}) with random(seed=1, runs<={runs}): "
          f"{time.process_time() - started:.1f} cpu-s")
    return EXIT_OK


def _hunt_probe(mutant: str, scenario: Scenario, runs: int) -> MutantProbe:
    return MutantProbe(mutant, "generated", lambda: scenario, "", "random", 1, runs, 20_000)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("mutants", help="search for every TRB port mutant and print the table")
    p.add_argument("mutant", nargs="*", help="only these mutants (default: all)")
    p.add_argument("--hunt", type=int, metavar="N", default=None,
                   help="instead: find generator seeds below N on which each mutant is found")
    p.add_argument("--runs", type=int, default=10, help="runs per search when hunting (default 10)")
    p.add_argument("--max-tasks", type=int, default=None, help="hunt: the generator's task limit")
    p.add_argument("--window", type=int, default=None, help="hunt: every ring's window (4, 8 or 16)")
    p.add_argument("--sizing", choices=("within", "outside", "any"), default="within",
                   help="hunt: the generator's resource sizing (default within)")
    p.add_argument("--dep-pool", type=int, default=None, help="hunt: set every ring's dep-list pool")
    p.add_argument("--family", choices=("general", "sync_cohort"), default="general",
                   help="hunt: the generator (general programs, or sync_start cohorts beside holders)")
    p.add_argument("--want", default=None, metavar="PROPERTY", help="hunt: count only findings of this property")
    p.add_argument("--init-failure", default=None, metavar="PATH",
                   help="hunt: inject this startup abort path (config.init_failure) into each scenario's last run")
    p.add_argument("--data-column", action="store_true",
                   help="also print whether the data oracle ALONE finds each mutant (random + PCT, 60 runs per "
                   "scenario; a few CPU-minutes)")
    p.set_defaults(func=cmd_mutants)
