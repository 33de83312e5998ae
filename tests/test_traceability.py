"""The traceability table (`ptocheck catalogue`, properties/catalogue.py).

* every invariant id of the spec's §3 has a row, and every id the code names is a §3 id;
* every check the table lists really exists where its layer runs it (resolved by another route than the
  registry the table was built from: the model evaluates the property, the port observer accepts and
  registers it, the Z3 suite enumerates a verification condition for it, ...);
* gaps are counted, printed, and cannot silently grow.
"""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from fuzz.cli import main
from model.builders import BUILTIN_SCENARIOS
from model.trb_model import TrbModel
from properties import catalogue as C
from properties import sizing
from properties.conformance import ALL_CHECKS, REPLAY
from properties.conformance.checks import CHECKS, observation_checks
from properties.findings import FINDINGS, SMT_FINDINGS
from properties.port_checks import PROPERTY_NAMES, SOMETIMES, PortInvariants, PortWitnesses, retain_pairs
from runtime.trb import MUTANTS, TrbSystem
from runtime.trb.mutants import IMPLEMENTED
from tests.conftest import REPO_ROOT

# A ratchet, not an answer: the empty cells of the table when this test was written. A change that removes
# a check (or breaks its spec id) makes the count grow and fails here; lower it when gaps are closed.
MAX_GAPS = 168


@pytest.fixture(scope="module")
def spec_text(shared_dir: Path) -> str:
    return (shared_dir / "spec" / "runtime-spec.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def spec(spec_text: str) -> dict[str, str]:
    return C.spec_invariants(spec_text)


@pytest.fixture(scope="module")
def checks() -> list[C.Check]:
    return C.all_checks()


@pytest.fixture(scope="module")
def cat(spec: dict[str, str], checks: list[C.Check]) -> C.Catalogue:
    return C.build_catalogue(spec, checks)


def test_spec_ids_are_read_from_every_registry_spelling() -> None:
    assert C.spec_ids("INV-P1/P2/P3") == ("INV-P1", "INV-P2", "INV-P3")
    assert C.spec_ids("INV-F3/R6") == ("INV-F3", "INV-R6")
    assert C.spec_ids("INV-R4/INV-G1") == ("INV-R4", "INV-G1")
    assert C.spec_ids("INV-S6(1): scope check") == ("INV-S6",)
    assert C.spec_ids("INV-R8 (and then INV-R3)") == ("INV-R8", "INV-R3")
    assert C.spec_ids("EVENTUALLY") == () and C.spec_ids("§10 alloc split") == ()


def test_every_spec_invariant_has_a_row(spec_text: str, spec: dict[str, str], cat: C.Catalogue) -> None:
    # an independent reading of the spec: every bold "**INV-Xn " that opens a §3 item
    section = spec_text[spec_text.index("\n## 3.") : spec_text.index("\n## 4.")]
    defined = re.findall(r"^\* \*\*(INV-[A-Z]\d+) ", section, flags=re.M)
    assert defined and len(defined) == len(set(defined))
    assert list(spec) == defined
    assert [r.ident for r in cat.rows if r.in_spec] == defined
    assert all(r.title for r in cat.rows if r.in_spec)


def test_every_id_the_code_names_is_a_spec_invariant(spec: dict[str, str], cat: C.Catalogue) -> None:
    named: dict[str, str] = {}
    for layer in ("model", "runtime", "properties", "fuzz"):
        for path in sorted((REPO_ROOT / layer).rglob("*.py")):
            for ident in C.spec_ids(path.read_text(encoding="utf-8")):
                named.setdefault(ident, str(path.relative_to(REPO_ROOT)))
    assert len(named) > 20
    unknown = {i: where for i, where in named.items() if i not in spec}
    assert not unknown, f"ids used in the code but not defined in spec §3: {unknown}"
    assert all(r.in_spec for r in cat.rows)


def _model_property_holds_somewhere(name: str) -> bool:
    for scenario_name in sorted(BUILTIN_SCENARIOS):
        scenario = BUILTIN_SCENARIOS[scenario_name]()
        if scenario.runtime != C.TRB:
            continue
        model = TrbModel(scenario)
        for prop in model.properties():
            if prop.name == name:
                return isinstance(prop.holds(model.initial_states()[0]), bool)
    return False


def _z3_goals(system: object) -> set[str]:
    from properties.smt.vcs import enumerate_vcs

    return {vc.goal for vc in enumerate_vcs(system)}  # type: ignore[arg-type]


def test_every_listed_check_exists(checks: list[C.Check]) -> None:
    from properties.smt import suite

    systems = {s.name: s for s, _ in suite.proof_systems()}
    smt_mutants = {m[1]: m for m in suite.MUTANTS}
    witness_source = inspect.getsource(PortWitnesses)
    small = retain_pairs(1)
    # a check registers only where it can fire: deferred_release_in_bounds needs more tasks than the capacity
    tight = small.with_config(constants=replace(small.config.constants, deferred_release_capacity=1))
    port_systems = (TrbSystem(small), TrbSystem(tight))
    observation = dict(observation_checks())
    findings = {f.ident: f for f in (*FINDINGS, *SMT_FINDINGS)}
    missing: list[str] = []
    for check in checks:
        ok: bool
        if check.layer == C.MODEL and check.kind == "sizing rule":
            ok = check.name.removeprefix("sizing ") in sizing.RULES
        elif check.layer == C.MODEL:
            ok = _model_property_holds_somewhere(check.name)
        elif check.layer == C.PORT and check.kind == "sometimes":
            ok = f'"{check.name}"' in witness_source and check.name in {p.name for p in SOMETIMES}
        elif check.layer == C.PORT:
            observers = [PortInvariants(system, frozenset({check.name})) for system in port_systems]  # ValueError: unknown
            ok = check.name in PROPERTY_NAMES and (check.kind != "always" or any(o.by_cell for o in observers))
        elif check.layer == C.Z3 and ": " in check.name and check.name.split(": ")[0] in systems:
            system_name, goal = check.name.split(": ", 1)
            ok = goal in _z3_goals(systems[system_name])
        elif check.layer == C.Z3:
            ok = check.kind in suite.SECTIONS
        elif check.layer == C.TRACE:
            ok = check.name in ALL_CHECKS and (check.name == REPLAY or callable(observation.get(check.name)))
        elif check.layer == C.MUTANTS and check.kind == "port mutant":
            ok = MUTANTS[check.name].status == IMPLEMENTED and check.via.removeprefix("port ") in PROPERTY_NAMES
        elif check.layer == C.MUTANTS:
            _ident, _name, factory, goal, _action = smt_mutants[check.name]
            ok = goal in _z3_goals(factory())
        elif check.layer == C.FINDINGS_LAYER:
            ok = check.name in findings and (REPO_ROOT / findings[check.name].artifact).is_file()
        else:
            ok = False
        if not ok:
            missing.append(f"{check.layer}: {check.name}")
    assert not missing, missing
    assert {c.layer for c in checks} == {*C.LAYERS, C.FINDINGS_LAYER}


def test_every_trace_check_has_a_row_in_its_modules_table() -> None:
    assert set(C.trace_check_specs()) == set(CHECKS)


def test_bug_catalogue_claims_name_registered_mutants(shared_dir: Path) -> None:
    bugs = C.read_bugs(shared_dir / "bugs" / "catalogue.md")
    assert bugs and set(bugs) <= set(MUTANTS), set(bugs) - set(MUTANTS)
    assert all(ids for _bug, ids in bugs.values())


def test_gaps_are_counted_and_printed(spec: dict[str, str], checks: list[C.Check], cat: C.Catalogue) -> None:
    lines = C.format_catalogue(cat, detail=False)
    print("\n".join(lines))
    gaps = cat.gaps()
    # the grid shows exactly the counted gaps as "-" in the gap layers' columns
    grid = [ln.split() for ln in lines[1 : 1 + len(cat.rows)]]
    dashes = sum(cells[1 + i] == "-" for cells in grid for i in range(len(C.LAYERS)))
    assert dashes == len(gaps)
    total = next(ln for ln in lines if ln.startswith("gaps: "))
    assert total.startswith(f"gaps: {len(gaps)} of {len(spec) * len(C.LAYERS)} cells")
    assert len(gaps) <= MAX_GAPS, f"{len(gaps)} gaps > {MAX_GAPS}: a check was lost\n" + "\n".join(lines)
    # and a missing layer really is a gap
    without_port = C.build_catalogue(spec, [c for c in checks if c.layer != C.PORT])
    assert without_port.gap_counts()[C.PORT] == len(spec)
    assert C.build_catalogue(spec, []).gap_counts() == dict.fromkeys(C.LAYERS, len(spec))


def test_catalogue_command_prints_every_invariant(
    shared_dir: Path, spec: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["catalogue", "--spec", str(shared_dir / "spec" / "runtime-spec.md")]) == 0
    out = capsys.readouterr().out
    for ident, title in spec.items():
        assert f"{ident}  {title}" in out
    assert re.search(r"^gaps: \d+ of \d+ cells", out, flags=re.M)


def test_catalogue_json_matches_the_table(shared_dir: Path, cat: C.Catalogue, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalogue", "--json", "--spec", str(shared_dir / "spec" / "runtime-spec.md")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["gaps"] == len(cat.gaps()) and doc["gap_counts"] == cat.gap_counts()
    assert [row["id"] for row in doc["invariants"]] == [r.ident for r in cat.rows]


MINIMAL_SPEC = "# spec\n\n## 3. (c) Invariants\n\n* **INV-R1 (window bound).** text\n\n## 4. next\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["catalogue", "--spec", "{tmp}/no_such_spec.md"], "cannot read the spec"),
        (["catalogue", "--spec", str(REPO_ROOT / "README.md")], "no section 3"),
        (["catalogue", "--spec", "{tmp}/spec.md", "--bugs", "{tmp}/no_such_catalogue.md"], "cannot read the bug catalogue"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "spec.md").write_text(MINIMAL_SPEC, encoding="utf-8")
    assert main(["catalogue", "--summary", "--spec", str(tmp_path / "spec.md")]) == 0  # the minimal spec is valid
    capsys.readouterr()
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
