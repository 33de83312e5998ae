"""The mutant-kill table: every registered mutant is killed by a test of the gate's own budget, and the gate
never excuses a failure of the clean port or model except by a registered finding.

Both are read at run time: the registries (runtime/trb/mutants.py, every other runtime's `mutants_for`,
the Z3 encoding mutants of properties/smt/suite.py) and the gate itself, collected by pytest in a
subprocess exactly as `pytest -n auto` collects it. A kill test is a collected test whose function name
says "mutant" and whose parametrization names the mutant (the convention every per-mutant test follows:
`[M_...]` in its id, a string parameter, or a case object with a `mutant` attribute), or a test whose
function name contains the mutant's name (`test_m_advance_no_lock_...`). It must not be
skipped or xfailed. Mutants registered as not reachable must carry the reason.

The kill table is printed (run with `-s` to see it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from model.scenario import RUNTIMES
from properties.findings import FINDINGS, MODEL_LIMITATIONS, SMT_FINDINGS
from properties.port_checks import MUTANT_CASES
from properties.runtimes import mutants_for
from runtime.trb.mutants import IMPLEMENTED, MUTANTS, UNOBSERVABLE
from tests.conftest import REPO_ROOT, SHARED_DIR

TRB = "tensormap_and_ringbuffer"
Z3_ENCODING = "z3 encoding"

COLLECTOR = textwrap.dedent(
    '''
    """Writes what the gate collects (node id, function, parameters, markers) to $PTOCHECK_COLLECT_OUT."""
    import json
    import os


    def _text(value):
        mutant = getattr(value, "mutant", None)
        if isinstance(mutant, str):
            return mutant
        return value if isinstance(value, str) else ""


    def pytest_collection_finish(session):
        rows = []
        for item in session.items:
            callspec = getattr(item, "callspec", None)
            params = [] if callspec is None else [_text(v) for v in callspec.params.values()]
            marks = []
            for mark in item.iter_markers():
                if mark.name in ("skip", "skipif", "xfail"):
                    marks.append({"name": mark.name, "args": [repr(a) for a in mark.args],
                                  "reason": str(mark.kwargs.get("reason", "")),
                                  "strict": mark.kwargs.get("strict")})
            function = getattr(item, "originalname", None) or item.name
            obj = getattr(item, "obj", None)
            rows.append({"nodeid": item.nodeid, "function": function, "params": [p for p in params if p],
                         "hypothesis": bool(getattr(obj, "is_hypothesis_test", False)), "marks": marks})
        with open(os.environ["PTOCHECK_COLLECT_OUT"], "w", encoding="utf-8") as f:
            json.dump(rows, f)
    '''
)


@dataclass(frozen=True)
class Collected:
    nodeid: str
    function: str
    params: tuple[str, ...]
    hypothesis: bool
    marks: tuple[dict[str, object], ...]

    def names(self) -> set[str]:
        """Every token the test's parametrization carries: its id split on '-', and its string parameters."""
        ident = self.nodeid.partition("[")[2].removesuffix("]")
        return {*ident.split("-"), *self.params}


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> list[Collected]:
    """The tests `pytest` collects from the repository, with their parameters and skip/xfail markers."""
    where = tmp_path_factory.mktemp("collect")
    (where / "ptocheck_collect_plugin.py").write_text(COLLECTOR, encoding="utf-8")
    out = where / "collected.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PTOCHECK_COLLECT"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(where), str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    env["PTOCHECK_COLLECT_OUT"] = str(out)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         "-p", "ptocheck_collect_plugin"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0 and out.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = json.loads(out.read_text(encoding="utf-8"))
    return [Collected(r["nodeid"], r["function"], tuple(r["params"]), r["hypothesis"], tuple(r["marks"])) for r in rows]


@dataclass(frozen=True)
class Registered:
    runtime: str
    name: str
    status: str
    reason: str  # why it is not reachable (empty for a reachable mutant)

    @property
    def reachable(self) -> bool:
        return self.status == IMPLEMENTED


def registered_mutants() -> list[Registered]:
    from properties.smt import suite

    out = [Registered(TRB, m.name, m.status, "" if m.status == IMPLEMENTED else (m.note or m.status)) for m in MUTANTS.values()]
    trb_names = set(MUTANTS)
    for runtime in RUNTIMES:
        if runtime == TRB:
            assert set(mutants_for(runtime)) == trb_names  # one registry, two views
            continue
        out += [Registered(runtime, name, IMPLEMENTED, "") for name in sorted(mutants_for(runtime))]
    out += [Registered(Z3_ENCODING, name, IMPLEMENTED, "") for _ident, name, *_ in suite.MUTANTS]
    return out


def kill_tests(mutant: Registered, gate: list[Collected]) -> list[Collected]:
    own = mutant.name.lower().replace(".", "_")
    kills = [t for t in gate if ("mutant" in t.function and mutant.name in t.names()) or own in t.function]
    if mutant.runtime == Z3_ENCODING:
        return [t for t in kills if "smt" in t.nodeid]
    if mutant.runtime == TRB:  # a TRB mutant that is also a Z3 encoding mutant: its port tests only
        return [t for t in kills if "smt" not in t.nodeid]
    return kills


def _excused(test: Collected) -> list[str]:
    return [f"{m['name']}({m['reason'] or m['args']})" for m in test.marks if m["name"] in ("skip", "xfail")]


def test_every_registered_mutant_is_killed_by_the_gate(gate: list[Collected]) -> None:
    mutants = registered_mutants()
    assert len({(m.runtime, m.name) for m in mutants}) == len(mutants)
    cases = {c.mutant: c.property_id for c in MUTANT_CASES}
    lines = [f"{'mutant':40s} {'runtime':22s} {'status':32s} killed by (gate tests)"]
    problems: list[str] = []
    for m in mutants:
        kills = kill_tests(m, gate)
        live = [t for t in kills if not _excused(t)]
        by_function = sorted({t.nodeid.split("[")[0].removeprefix("tests/") for t in live})
        found = "; ".join(f"{f} x{sum(t.nodeid.startswith('tests/' + f) for t in live)}" for f in by_function)
        if m.name in cases and m.runtime == TRB:
            found += f" (search names {cases[m.name]})"
        lines.append(f"{m.name:40s} {m.runtime:22s} {m.status[:32]:32s} {found or '- (' + m.reason[:60] + ')'}")
        if m.reachable and not live:
            problems.append(f"{m.runtime} {m.name}: no gate test kills it" + (f" (excused: {kills})" if kills else ""))
        if not m.reachable and not m.reason.strip():
            problems.append(f"{m.runtime} {m.name}: registered as {m.status!r} without a reason")
        problems += [f"{t.nodeid}: a kill test is {', '.join(_excused(t))}" for t in kills if _excused(t)]
    reachable = [m for m in mutants if m.reachable]
    killed = sum(any(not _excused(t) for t in kill_tests(m, gate)) for m in reachable)
    lines.append(
        f"{killed} of {len(reachable)} reachable mutants killed; "
        f"{len(mutants) - len(reachable)} registered as not reachable, each with its reason"
    )
    no_search = [m.name for m in reachable if m.runtime == TRB and m.name not in cases]
    lines.append(f"TRB mutants killed by a targeted test but with no property search case: {', '.join(no_search) or 'none'}")
    lines += _catalogue_agreement(cases)
    print("\n".join(lines))
    assert not problems, "\n".join(problems)


def _catalogue_agreement(cases: dict[str, str]) -> list[str]:
    """Does the property a search finds a TRB mutant by name an invariant the bug catalogue gives the bug?"""
    from properties.catalogue import read_bugs, spec_ids
    from properties.port_checks import PROPERTIES

    path = SHARED_DIR / "bugs" / "catalogue.md"
    if not path.is_file():
        return [f"(bug catalogue not at {path}: agreement not shown)"]
    bugs = read_bugs(path)
    specs = {p.name: p.spec for p in PROPERTIES}
    out = []
    for mutant, prop in sorted(cases.items()):
        bug, claimed = bugs.get(mutant, ("-", ()))
        named = spec_ids(specs[prop])
        verdict = "agrees" if set(named) & set(claimed) else "differs"
        out.append(f"  {mutant}: found by {prop} {list(named) or specs[prop]}; catalogue {bug} says {list(claimed)}: {verdict}")
    return ["search property vs bug catalogue invariants:", *out]


def test_unreachable_mutants_are_shown_to_change_nothing_or_to_need_an_extension(gate: list[Collected]) -> None:
    """An 'unobservable' switch has a gate test that it changes nothing; the others name what they need."""
    for m in MUTANTS.values():
        if m.status == UNOBSERVABLE:
            assert m.note, m.name
        elif m.status != IMPLEMENTED:
            assert m.status.startswith("needs") or m.label == "WMM", (m.name, m.status)
    assert any(t.function == "test_unobservable_mutants_change_nothing_here" and not _excused(t) for t in gate)


def test_kill_test_detection_is_real(gate: list[Collected]) -> None:
    """The matching finds the known per-mutant tests, and a name no test carries matches nothing."""
    fake = Registered(TRB, "M_NO_SUCH_MUTANT", IMPLEMENTED, "")
    assert kill_tests(fake, gate) == []
    known = Registered(TRB, MUTANT_CASES[0].mutant, IMPLEMENTED, "")
    assert any(t.function == "test_mutant_is_found_and_unmutated_port_passes" for t in kill_tests(known, gate))


def excuse_problems(gate: list[Collected], idents: set[str]) -> list[str]:
    """Every xfail strict and naming a registered finding; no Hypothesis test xfailed or skipped as a whole;
    nothing skipped unconditionally."""
    problems: list[str] = []
    for t in gate:
        for mark in t.marks:
            if mark["name"] == "xfail":
                reason = str(mark["reason"])
                if mark["strict"] is False:
                    problems.append(f"{t.nodeid}: xfail is not strict")
                if not any(i in reason for i in idents):
                    problems.append(f"{t.nodeid}: xfail names no registered finding: {reason!r}")
                if t.hypothesis:
                    problems.append(f"{t.nodeid}: a whole Hypothesis test is xfailed")
            elif mark["name"] == "skip":
                problems.append(f"{t.nodeid}: skipped unconditionally ({mark['reason']})")
            elif mark["name"] == "skipif" and t.hypothesis:
                problems.append(f"{t.nodeid}: a Hypothesis test is conditionally skipped")
    return problems


def test_the_gate_excuses_failures_only_by_registered_findings(gate: list[Collected]) -> None:
    """No false alarm is hidden: a clean-port or model failure is excused only by a registered finding."""
    # an xfail names a registered finding about the runtime, or a registered limitation of ptocheck's model
    idents = {f.ident for f in (*FINDINGS, *SMT_FINDINGS)} | {m.ident for m in MODEL_LIMITATIONS}
    assert len(gate) > 100
    problems = excuse_problems(gate, idents)
    assert not problems, "\n".join(problems)
    # the check can fail: an unregistered xfail, a lax one, an xfailed random test, an unconditional skip
    xfail: dict[str, object] = {"name": "xfail", "args": [], "reason": "flaky", "strict": False}
    skip: dict[str, object] = {"name": "skip", "args": [], "reason": "later", "strict": None}
    fake = [Collected("tests/x.py::test_r", "test_r", (), True, (xfail,)), Collected("tests/x.py::test_s", "test_s", (), False, (skip,))]
    assert len(excuse_problems(fake, idents)) == 4


def test_the_collector_sees_markers(gate: list[Collected]) -> None:
    """The xfail check above is not vacuous: the two registered findings' strict xfails are collected."""
    xfails = [t for t in gate if any(m["name"] == "xfail" for m in t.marks)]
    assert len(xfails) >= 2, [t.nodeid for t in xfails]
    assert Path(REPO_ROOT / "tests").is_dir()
