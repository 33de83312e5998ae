"""Is a failure already known? Registered findings about the real runtime, and planted mutants.

A failure found with mutants switched on is about the mutants ("mutant"). Otherwise it matches a
registered finding of properties.findings when the runtime and property are the same and the blamed
C++ function is one of the finding's functions ("known"); anything else is "new", and a campaign that
reports a new failure fails. Function names are compared without their class qualifier and the file
note in parentheses, so `PTO2SchedulerState::check_and_handle_consumed (SCHED/pto_scheduler.h)` and
the port's `check_and_handle_consumed` name the same function.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from properties.artifacts import Signature
from properties.findings import FINDINGS, Finding

NEW, KNOWN, MUTANT = "new", "known", "mutant"


def bare_functions(text: str) -> set[str]:
    """`A::f (file/note) / g -> h x` -> {"f", "g", "h"}: the first word of each `/` or `->` part."""
    out = set()
    for chunk in re.sub(r"\([^)]*\)", " ", text).replace("->", "/").split("/"):
        words = chunk.split()
        if words:
            out.add(words[0].split("::")[-1])
    return out


def matching_finding(signature: Signature, findings: Iterable[Finding] = FINDINGS) -> Finding | None:
    wanted = bare_functions(signature.cxx_function)
    for f in findings:
        if f.runtime != signature.runtime or f.property_name != signature.property_id:
            continue
        names: set[str] = set()
        for fn in f.cxx_functions:
            names |= bare_functions(fn)
        if wanted & names:
            return f
    return None


def classify(signature: Signature, mutants: tuple[str, ...] | list[str]) -> tuple[str, str | None]:
    """("mutant", None), ("known", finding id) or ("new", None)."""
    if mutants:
        return MUTANT, None
    f = matching_finding(signature)
    return (KNOWN, f.ident) if f is not None else (NEW, None)
