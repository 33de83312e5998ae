"""The gate's budgets are counts, never seconds, so it decides the same on a slow machine; it is seeded.

* The `ci` Hypothesis profile (the gate's default) is derandomized, has no deadline and no database, and
  health checks stay on.
* No test gives a search, a Hypothesis run or the solver a wall-clock budget: no `deadline=`,
  `max_seconds=`, `seconds=` or `--max-seconds` with a value, and the Z3 layer bounds checks by
  `rlimit`, never by a `timeout`. (A subprocess `timeout=` is a safety net against a hang, not a budget.)
  The few calls whose verdict cannot depend on the time they get are listed with the reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

from hypothesis import HealthCheck, settings

from tests.conftest import REPO_ROOT

TIME_KEYWORDS = {"deadline", "max_seconds", "seconds", "time_limit", "max_time"}
NOT_BUDGETS = {"replace"}  # dataclasses.replace(result, seconds=0.0) normalises a measured field

# (file, called function or "argv") -> why the verdict does not depend on the time the call gets
TIME_INDEPENDENT: dict[tuple[str, str], str] = {
    ("tests/test_minimize.py", "minimize"): (
        "the budget is a count of candidates (max_attempts); the seconds passed are a safety net far above "
        "what those candidates take, and every accepted step keeps the signature, so the result replays"
    ),
    ("tests/test_minimize.py", "argv"): "the same minimization through the command line (--max-candidates)",
}


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def wall_clock_budgets(path: Path, rel: str) -> list[str]:
    """Every call in the file that gives something a time budget (a keyword with a value, or an argv
    list that passes --max-seconds), except the registered time-independent ones."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and _name(node.func) not in NOT_BUDGETS:
            name = _name(node.func)
            out += [
                f"{rel}:{node.lineno}: {name}({kw.arg}=...)"
                for kw in node.keywords
                if kw.arg in TIME_KEYWORDS
                and not (isinstance(kw.value, ast.Constant) and kw.value.value is None)
                and (rel, name) not in TIME_INDEPENDENT
            ]
        if (
            isinstance(node, ast.List)
            and any(isinstance(e, ast.Constant) and e.value in ("--max-seconds", "--seconds") for e in node.elts)
            and (rel, "argv") not in TIME_INDEPENDENT
        ):
            out.append(f"{rel}:{node.lineno}: argv passes a time budget")
    return out


def test_the_ci_profile_is_derandomized_without_deadline_or_database() -> None:
    ci = settings.get_profile("ci")
    assert ci.derandomize and ci.deadline is None and ci.database is None and ci.print_blob
    assert not set(ci.suppress_health_check) - {HealthCheck.differing_executors}


def test_no_gate_test_has_a_wall_clock_budget() -> None:
    problems: list[str] = []
    for path in sorted((REPO_ROOT / "tests").rglob("*.py")):
        problems += wall_clock_budgets(path, path.relative_to(REPO_ROOT).as_posix())
    assert not problems, "\n".join(problems)


def test_the_scan_sees_a_time_budget(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "search(x, bounds=SearchBounds(max_seconds=3.0))\nsettings(deadline=200)\nsettings(deadline=None)\n"
        "main(['fuzz', '--max-seconds', '4'])\nrun(cmd, timeout=60)\n",
        encoding="utf-8",
    )
    found = wall_clock_budgets(probe, "probe.py")
    assert len(found) == 3, found


def test_the_solver_is_bounded_by_resource_counts_not_time() -> None:
    smt = REPO_ROOT / "properties" / "smt"
    for path in sorted(smt.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert '"timeout"' not in text and "'timeout'" not in text, path.name
    assert 'solver.set("rlimit"' in (smt / "core.py").read_text(encoding="utf-8")
