"""`ptocheck catalogue`: the traceability table of the spec's §3 invariants.

For each invariant id of runtime-spec.md §3: the model predicate, the port check, the Z3 proof, the trace
check and the mutants that violate it, all read from the code's own registries (`properties.catalogue`);
a gap is "-" and the gaps are counted. The bug catalogue's claims and the registered findings are shown
beside them for reference.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from properties.catalogue import (
    DEFAULT_BUGS,
    DEFAULT_SPEC,
    LAYERS,
    all_checks,
    bug_checks,
    build_catalogue,
    format_catalogue,
    read_bugs,
    read_spec,
)

EXIT_OK = 0


def cmd_catalogue(args: argparse.Namespace) -> int:
    spec = read_spec(Path(args.spec))
    checks = all_checks()
    bugs_note = ""
    if args.bugs is not None:
        checks += bug_checks(read_bugs(Path(args.bugs)))
    elif DEFAULT_BUGS.is_file():
        checks += bug_checks(read_bugs(DEFAULT_BUGS))
    else:
        bugs_note = f"bug catalogue not found at {DEFAULT_BUGS}: the bugs column is empty (pass --bugs PATH)"
    cat = build_catalogue(spec, checks)
    if args.json:
        doc = {
            "invariants": [
                {
                    "id": row.ident,
                    "title": row.title,
                    "in_spec": row.in_spec,
                    "checks": {layer: [c.label() for c in cells] for layer, cells in sorted(row.cells.items())},
                    "gaps": row.gaps(),
                }
                for row in cat.rows
            ],
            "gaps": len(cat.gaps()),
            "gap_counts": cat.gap_counts(),
            "layers": list(LAYERS),
            "unmapped": [{"layer": c.layer, "name": c.label(), "spec": c.spec} for c in cat.unmapped],
        }
        print(json.dumps(doc, indent=1, sort_keys=True))
        return EXIT_OK
    for line in format_catalogue(cat, detail=not args.summary):
        print(line)
    if bugs_note:
        print(bugs_note)
    return EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "catalogue",
        help="print the traceability table: each spec invariant with its model, port, Z3, trace checks and mutants",
    )
    p.add_argument("--spec", default=str(DEFAULT_SPEC), help="runtime-spec.md (default: ../shared/spec beside the checkout)")
    p.add_argument("--bugs", default=None, help="bug catalogue.md (default: ../shared/bugs beside the checkout, if present)")
    p.add_argument("--summary", action="store_true", help="only the count grid and the gaps, not every check by name")
    p.add_argument("--json", action="store_true", help="the table as JSON")
    p.set_defaults(func=cmd_catalogue)
