"""The conformance report: a verdict per run, each named check with its counts, the violations with the
observed events involved, and what could not be checked.

Verdicts: ``conforms`` (every check ran on complete input and none was violated), ``violation`` (some check
was violated), ``partial`` (no violation, but some check could not run or the input is known to be
incomplete: the warnings and notes say what), ``error`` (the run's files could not be read).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "CONFORMS",
    "ERROR",
    "INCONCLUSIVE",
    "NOT_RUN",
    "PARTIAL",
    "PASS",
    "SUBSUMED",
    "VIOLATED",
    "VIOLATION",
    "CheckResult",
    "RunReport",
    "Violation",
]

# check statuses
PASS, VIOLATED, NOT_RUN, INCONCLUSIVE, SUBSUMED = "pass", "violated", "not-run", "inconclusive", "subsumed"
# run verdicts
CONFORMS, VIOLATION, PARTIAL, ERROR = "conforms", "violation", "partial", "error"
MAX_KEPT = 20  # violations kept per check (the count is always exact)


@dataclass
class Violation:
    message: str
    events: list[str]  # the observed records involved, each naming its file and position

    def to_json(self) -> dict[str, object]:
        return {"message": self.message, "events": list(self.events)}


@dataclass
class CheckResult:
    name: str
    description: str
    status: str = PASS
    checked: int = 0  # obligations checked
    unjudged: int = 0  # obligations skipped because a needed record is absent
    violation_count: int = 0
    violations: list[Violation] = field(default_factory=list)
    note: str = ""  # why not run / what limits it

    def add(self, message: str, events: list[str]) -> None:
        self.violation_count += 1
        self.status = VIOLATED
        if len(self.violations) < MAX_KEPT:
            self.violations.append(Violation(message, events))

    def not_run(self, why: str) -> CheckResult:
        self.status = NOT_RUN
        self.note = why
        return self

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "status": self.status,
            "checked": self.checked,
            "unjudged": self.unjudged,
            "violations": self.violation_count,
            "violation_details": [v.to_json() for v in self.violations],
            "note": self.note,
        }


@dataclass
class RunReport:
    run: str
    verdict: str
    checks: list[CheckResult]
    warnings: list[str]
    notes: list[str]
    missing: list[str]
    events: int
    error: str = ""

    @property
    def violated(self) -> list[str]:
        return [c.name for c in self.checks if c.status == VIOLATED]

    def to_json(self) -> dict[str, object]:
        return {
            "run": self.run,
            "verdict": self.verdict,
            "violated_checks": self.violated,
            "events": self.events,
            "missing_files": list(self.missing),
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "checks": [c.to_json() for c in self.checks],
            "error": self.error,
        }

    def render(self) -> str:
        lines = [f"{self.run}: {self.verdict.upper()}"]
        if self.error:
            lines.append(f"  error: {self.error}")
            return "\n".join(lines)
        lines.append(f"  {self.events} events read; missing files: {', '.join(self.missing) or 'none'}")
        width = max((len(c.name) for c in self.checks), default=0)
        for c in self.checks:
            counts = f"{c.checked} checked"
            if c.unjudged:
                counts += f", {c.unjudged} unjudged"
            if c.violation_count:
                counts += f", {c.violation_count} violated"
            text = f"  {c.name:<{width}}  {c.status:<12} {counts}"
            if c.note:
                text += f"  ({c.note})"
            lines.append(text)
        for c in self.checks:
            for v in c.violations:
                lines.append(f"  [{c.name}] {v.message}")
                lines.extend(f"      {e}" for e in v.events)
            if c.violation_count > len(c.violations):
                lines.append(f"  [{c.name}] ... {c.violation_count - len(c.violations)} more")
        lines.extend(f"  warning: {w}" for w in self.warnings)
        lines.extend(f"  not checked: {n}" for n in self.notes)
        return "\n".join(lines)
