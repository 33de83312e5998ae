"""The property catalogue: which check, in which layer, stands for each spec invariant (runtime-spec §3).

Every row is built from the code's own registries, never from a hand-typed table:

* model    the reference model's named properties (`model/invariants.py`, gathered over every built-in
           tensormap_and_ringbuffer scenario, since some are only yielded where they apply) and the
           sizing rules of `properties/sizing.py` (INV-S6 conditions);
* port     the step-level port's checks and witnesses (`properties/port_checks.PROPERTIES`, `SOMETIMES`);
* z3       the invariants and step properties of every proof system (`properties/smt/suite.proof_systems`)
           and the rows of the suite's proof and bound sections that name a spec id;
* trace    the observation checks of real runs (`properties/conformance/checks.CHECKS`), each with the ids
           its module's table documents;
* mutants  the planted bugs that violate the invariant: a port mutant through the property its search
           case names (`properties/port_checks.MUTANT_CASES`), a Z3 encoding mutant through the goal it
           refutes (`properties/smt/suite.MUTANTS`);
* findings the registered findings about the real runtime (`properties/findings`), for reference;
* bugs     what the bug catalogue (../shared/bugs/catalogue.md) says each mutant's bug violates, for
           reference: a claim of the catalogue, not a check.

A layer with nothing for an invariant is a gap, shown as "-" and counted. Checks whose spec text names no
§3 id (end-of-run outcomes, the §10 splits, the model replay) are listed apart, so nothing is hidden.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from model.builders import BUILTIN_SCENARIOS
from model.errors import PtocheckError
from model.trb_model import TrbModel
from properties import sizing
from properties.conformance import ALL_CHECKS
from properties.conformance import checks as conformance_checks
from properties.findings import FINDINGS, SMT_FINDINGS
from properties.port_checks import MUTANT_CASES, PROPERTIES, SOMETIMES

TRB = "tensormap_and_ringbuffer"
MODEL, PORT, Z3, TRACE, MUTANTS = "model", "port", "z3", "trace", "mutants"
FINDINGS_LAYER, BUGS = "findings", "bugs"
LAYERS = (MODEL, PORT, Z3, TRACE, MUTANTS)
"""The layers whose absence is a gap (findings and the catalogue's claims are shown, never required)."""
COLUMNS = (*LAYERS, FINDINGS_LAYER, BUGS)

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
DEFAULT_SPEC = SHARED / "spec" / "runtime-spec.md"
DEFAULT_BUGS = SHARED / "bugs" / "catalogue.md"

_ID_GROUP = re.compile(r"INV-([A-Z]\d+(?:/(?:INV-)?[A-Z]?\d+)*)")
_SPEC_ITEM = re.compile(r"^\* \*\*(INV-[A-Z]\d+) \((.*?)\)\.\*\*", re.M)


def spec_ids(text: str) -> tuple[str, ...]:
    """The §3 ids a registry's spec text names: "INV-P1/P2/P3" -> P1, P2, P3; "INV-F3/R6" -> F3, R6;
    "INV-R4/INV-G1" -> R4, G1; "INV-S6(1)" -> S6. Order kept, duplicates dropped."""
    out: list[str] = []
    for group in _ID_GROUP.findall(text):
        letter = ""
        for part in group.split("/"):
            part = part.removeprefix("INV-")
            if part[0].isalpha():
                letter = part[0]
                ident = f"INV-{part}"
            else:
                ident = f"INV-{letter}{part}"
            if ident not in out:
                out.append(ident)
    return tuple(out)


def _id_key(ident: str) -> tuple[str, int]:
    return ident[4], int(ident[5:])


# ------------------------------------------------------------------------------------------ spec


def spec_invariants(text: str, where: str = "runtime-spec.md") -> dict[str, str]:
    """id -> title of every invariant of §3 (in the spec's order), parsed from the spec's markdown."""
    start = text.find("\n## 3.")
    if start < 0:
        raise PtocheckError("the spec has no section 3 (invariants)", where, "pass the right --spec file")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end > 0 else len(text)]
    found = {m.group(1): m.group(2) for m in _SPEC_ITEM.finditer(section)}
    if not found:
        raise PtocheckError("no '* **INV-Xn (title).**' items in section 3", where, "pass the right --spec file")
    return found


def _read(path: Path, what: str, hint: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise PtocheckError(f"cannot read the {what}: {reason}", str(path), hint) from None


def read_spec(path: Path) -> dict[str, str]:
    hint = "the spec lives in ../shared/spec/runtime-spec.md beside the checkout, or pass --spec PATH"
    return spec_invariants(_read(path, "spec", hint), str(path))


_BUG_MUTANT = re.compile(r"`(M_[A-Z0-9_]+)(?:\(k\))?`")


def bug_invariants(text: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """mutant -> (bug id, the §3 ids its catalogue entry's "Invariants:" line names)."""
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for entry in text.split("\n### ")[1:]:
        bug = entry.split(":", 1)[0].strip()
        line = next((ln for ln in entry.splitlines() if "**Invariants:**" in ln), "")
        for mutant in _BUG_MUTANT.findall(entry):
            out.setdefault(mutant, (bug, spec_ids(line)))
    return out


def read_bugs(path: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    hint = "the catalogue lives in ../shared/bugs/catalogue.md beside the checkout, or pass --bugs PATH"
    return bug_invariants(_read(path, "bug catalogue", hint))


# ------------------------------------------------------------------------------------------ checks


@dataclass(frozen=True)
class Check:
    """One named check of one layer, with the spec text its registry gives it."""

    layer: str
    name: str
    spec: str
    kind: str  # always / sometimes / eventually / event / end / inductive / consequence / claim / ...
    via: str = ""  # mutants: the check that finds it; findings: the property it was reported on

    @property
    def ids(self) -> tuple[str, ...]:
        return spec_ids(self.spec)

    def label(self) -> str:
        text = self.name
        if self.kind == "sometimes":
            text += " (sometimes)"
        if self.via:
            text += f" [{self.via}]"
        return text


def model_checks() -> list[Check]:
    """The reference model's properties (union over the built-in TRB scenarios, first appearance kept)
    and the sizing rules (each an INV-S6 condition)."""
    seen: dict[str, Check] = {}
    for name in sorted(BUILTIN_SCENARIOS):
        scenario = BUILTIN_SCENARIOS[name]()
        if scenario.runtime != TRB:
            continue
        for prop in TrbModel(scenario).properties():
            if prop.name not in seen:
                seen[prop.name] = Check(MODEL, prop.name, prop.spec, prop.kind.value)
    out = list(seen.values())
    out += [Check(MODEL, f"sizing {rule}", f"INV-S6 condition {rule}", "sizing rule") for rule in sizing.RULES]
    return out


def port_checks() -> list[Check]:
    return [Check(PORT, p.name, p.spec, p.kind) for p in (*PROPERTIES, *SOMETIMES)]


def _literal_text(node: ast.expr, names: dict[str, object]) -> str | None:
    """A string literal, or an f-string whose placeholders are module constants; None otherwise."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif isinstance(value, ast.FormattedValue) and isinstance(value.value, ast.Name) and value.value.id in names:
                parts.append(str(names[value.value.id]))
            else:
                parts.append("...")
        return "".join(parts)
    return None


def _suite_rows(function: object, module_names: dict[str, object]) -> list[tuple[str, str, str]]:
    """(section, label, spec) of every `Row(section, label, spec, ...)` the function's source builds."""
    tree = ast.parse(inspect.getsource(function))  # type: ignore[arg-type]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Row" and len(node.args) >= 3:
            section, label, spec = (_literal_text(a, module_names) for a in node.args[:3])
            if section is not None and label is not None and spec is not None:
                out.append((section, label, spec))
    return out


def z3_checks() -> list[Check]:
    """Every invariant and step property of every proof system, and the named rows of the proof and bound
    sections (the modular index lemma, the deadlock-freedom bounds)."""
    from properties.smt import suite  # z3 is imported lazily: only this layer needs it

    out: list[Check] = []
    for system, _overrides in suite.proof_systems():
        out += [Check(Z3, f"{system.name}: {inv.name}", inv.spec, inv.role) for inv in system.invariants]
        out += [Check(Z3, f"{system.name}: {p.name}", p.spec, "step property") for p in system.step_properties]
    names = dict(vars(suite))
    for function in (suite.proof_rows, suite.bound_rows):
        for section, label, spec in _suite_rows(function, names):
            out.append(Check(Z3, f"{section}: {label}", spec, section))
    return out


def trace_check_specs() -> dict[str, str]:
    """check name -> the spec text of its row in the conformance checks' module table (docstring)."""
    doc = conformance_checks.__doc__ or ""
    rows: dict[str, str] = {}
    current = ""
    for line in doc.splitlines():
        if not line.strip() or line.startswith("==="):
            continue
        if not line[0].isspace():
            name, _, rest = line.partition(" ")
            if name in conformance_checks.CHECKS:
                current = name
                rows[name] = rest.strip()
                continue
            current = ""
        elif current:
            rows[current] += " " + line.strip()
    return rows


def trace_checks() -> list[Check]:
    specs = trace_check_specs()
    return [Check(TRACE, name, specs.get(name, ""), "observation") for name in ALL_CHECKS]


def mutant_checks() -> list[Check]:
    """A port mutant violates the spec ids of the property its search case finds it by; a Z3 encoding
    mutant those of the goal it refutes."""
    from properties.smt import suite

    by_port = {p.name: p for p in PROPERTIES}
    out = [
        Check(MUTANTS, case.mutant, by_port[case.property_id].spec, "port mutant", f"port {case.property_id}")
        for case in MUTANT_CASES
    ]
    for ident, name, factory, goal, _action in suite.MUTANTS:
        system = factory()
        goals = {inv.name: inv.spec for inv in system.invariants} | {p.name: p.spec for p in system.step_properties}
        out.append(Check(MUTANTS, name, goals.get(goal, ""), f"z3 mutant {ident}", f"z3 {system.name}: {goal}"))
    return out


def finding_checks() -> list[Check]:
    return [
        Check(FINDINGS_LAYER, f.ident, f.spec, "finding", f.property_name)
        for f in (*FINDINGS, *SMT_FINDINGS)
        if f.runtime == TRB
    ]


def bug_checks(bugs: dict[str, tuple[str, tuple[str, ...]]]) -> list[Check]:
    return [Check(BUGS, mutant, " ".join(ids), "catalogue claim", bug) for mutant, (bug, ids) in bugs.items()]


def all_checks() -> list[Check]:
    return model_checks() + port_checks() + z3_checks() + trace_checks() + mutant_checks() + finding_checks()


# ------------------------------------------------------------------------------------------ table


@dataclass
class Row:
    ident: str
    title: str  # "" for an id the code uses that §3 does not define
    cells: dict[str, list[Check]] = field(default_factory=dict)

    @property
    def in_spec(self) -> bool:
        return bool(self.title)

    def gaps(self) -> list[str]:
        return [layer for layer in LAYERS if not self.cells.get(layer)]


@dataclass
class Catalogue:
    rows: list[Row]
    unmapped: list[Check]  # checks whose spec text names no §3 id

    def row(self, ident: str) -> Row:
        for r in self.rows:
            if r.ident == ident:
                return r
        raise KeyError(ident)

    def gaps(self) -> list[tuple[str, str]]:
        """(id, layer) of every empty cell of a §3 invariant."""
        return [(r.ident, layer) for r in self.rows if r.in_spec for layer in r.gaps()]

    def gap_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(LAYERS, 0)
        for _ident, layer in self.gaps():
            counts[layer] += 1
        return counts


def build_catalogue(spec: dict[str, str], checks: Iterable[Check] | None = None) -> Catalogue:
    """One row per §3 invariant (spec order), then one per id the code names that §3 lacks."""
    rows = {ident: Row(ident, title) for ident, title in spec.items()}
    unmapped: list[Check] = []
    for check in all_checks() if checks is None else checks:
        ids = check.ids
        if not ids:
            unmapped.append(check)
        for ident in ids:
            row = rows.setdefault(ident, Row(ident, ""))
            row.cells.setdefault(check.layer, []).append(check)
    extra = sorted((i for i in rows if i not in spec), key=_id_key)
    return Catalogue([rows[i] for i in spec] + [rows[i] for i in extra], unmapped)


def _cell_summary(checks: list[Check]) -> str:
    return str(len(checks)) if checks else "-"


def format_catalogue(cat: Catalogue, *, detail: bool = True) -> list[str]:
    """The table: with `detail` every check by name under its invariant, then the count grid and gaps."""
    lines: list[str] = []
    if detail:
        for row in cat.rows:
            head = f"{row.ident}  {row.title}" if row.in_spec else f"{row.ident}  (named in the code, not in spec §3)"
            lines.append(head)
            for layer in COLUMNS:
                checks = row.cells.get(layer, [])
                text = ", ".join(c.label() for c in checks) if checks else "-"
                lines.append(f"    {layer:9s}{text}")
        lines.append("")
    widths = (8, 7, 6, 5, 7, 9, 10, 6)
    lines.append("  ".join(h.ljust(w) for h, w in zip(("id", *COLUMNS), widths, strict=True)).rstrip())
    for row in cat.rows:
        cells = [row.ident + ("" if row.in_spec else "*")]
        cells += [_cell_summary(row.cells.get(layer, [])) for layer in COLUMNS]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    in_spec = sum(r.in_spec for r in cat.rows)
    counts = cat.gap_counts()
    total = sum(counts.values())
    lines.append(
        f"gaps: {total} of {in_spec * len(LAYERS)} cells ({in_spec} spec §3 invariants x {len(LAYERS)} layers); "
        + ", ".join(f"{layer} {n}" for layer, n in counts.items())
    )
    uncovered = [r.ident for r in cat.rows if r.in_spec and len(r.gaps()) == len(LAYERS)]
    lines.append(f"invariants with no check in any layer: {len(uncovered)}" + (f" ({', '.join(uncovered)})" if uncovered else ""))
    extra = [r.ident for r in cat.rows if not r.in_spec]
    if extra:
        lines.append(f"* ids named in the code but not defined in spec §3: {', '.join(extra)}")
    if cat.unmapped:
        lines.append("checks not tied to a §3 id:")
        for layer in COLUMNS:
            names = [f"{c.label()} ({c.spec or 'no spec text'})" for c in cat.unmapped if c.layer == layer]
            if names:
                lines.append(f"    {layer:9s}{'; '.join(names)}")
    return lines
