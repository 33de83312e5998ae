"""The model's dependency derivation (TensorMap lookups, creator and explicit edges) against a brute-force
derivation that enumerates the element indices every region covers, not the production overlap code.
This file checks the soundness direction (no needed dependency missing); the precision direction (every
edge a real or a conservative overlap) is not in the gate yet.

For AUTO-scope programs (every argument goes through the TensorMap), the last task that wrote an element
before a task reads it (INPUT, INOUT) in program order must be among that task's WAIT ancestors: the runtime
may add conservative edges (strided overlaps it cannot decide), never miss a needed one."""

from __future__ import annotations

from hypothesis import event, given, settings

from model.dependencies import derive_all_edges
from model.program import WAIT, ProgramInfo
from model.scenario import Scenario, Submit, Tag
from properties.features import region_elements
from properties.strategies import ProgramLimits, scenarios
from tests.conftest import hypothesis_examples

AUTO_ONLY = ProgramLimits(
    max_tasks=10, manual_scopes=False, auto_in_manual=False, scope_overflow=False, tensor_data=False,
    multi_round=False, stale_tensor_uses=False,
)
READS = (Tag.INPUT, Tag.INOUT)
WRITES = (Tag.INOUT, Tag.OUTPUT, Tag.OUTPUT_EXISTING)


def brute_force_needs(scenario: Scenario) -> list[tuple[int, int, str]]:
    """(writer, task, element) for every element a task touches after an earlier task wrote it (the last
    such writer), from element sets alone."""
    last_writer: dict[tuple[str, int], int] = {}
    needs: list[tuple[int, int, str]] = []
    for t, task in enumerate(scenario.tasks()):
        if not isinstance(task, Submit):
            continue
        touched: list[tuple[Tag, str, frozenset[int]]] = []  # every argument the TensorMap sees
        for arg in task.args:
            if arg.tag is Tag.OUTPUT:
                assert arg.creates is not None
                numel = 1
                for n in arg.creates.shape:
                    numel *= n
                touched.append((arg.tag, arg.creates.name, frozenset(range(numel))))
            elif arg.region is not None and arg.tag is not Tag.NO_DEP and not arg.manual_dep:
                touched.append((arg.tag, arg.region.buffer, region_elements(arg.region)))
        for tag, buffer, elements in touched:
            if tag not in READS:  # OUTPUT_EXISTING is not looked up: the C++ orders no write-after-write
                continue
            for e in sorted(elements):
                w = last_writer.get((buffer, e))
                if w is not None and w != t:
                    needs.append((w, t, f"{buffer}[{e}]"))
        for tag, buffer, elements in touched:
            if tag in WRITES:
                for e in elements:
                    last_writer[(buffer, e)] = t
    return needs


def wait_ancestors(info: ProgramInfo) -> list[set[int]]:
    n = len(info.tasks)
    preds: list[set[int]] = [set() for _ in range(n)]
    for row in derive_all_edges(info):
        if row.flags & WAIT:
            preds[row.succ].add(row.pred)
    ancestors: list[set[int]] = []
    for t in range(n):
        a: set[int] = set()
        for p in preds[t]:
            if p < t:
                a.add(p)
                a |= ancestors[p]
        ancestors.append(a)
    return ancestors


@settings(max_examples=hypothesis_examples(120))
@given(scenarios(AUTO_ONLY, name="brute_force"))
def test_no_needed_dependency_is_missing(scenario: Scenario) -> None:
    info = ProgramInfo(scenario)
    ancestors = wait_ancestors(info)
    needs = brute_force_needs(scenario)
    event(f"needed orderings: {min(len(needs), 20) // 5 * 5}+")
    names = [t.name for t in scenario.tasks()]
    for writer, task, element in needs:
        assert writer in ancestors[task], (
            f"{names[task]} touches {element} last written by {names[writer]}, but no WAIT path leads from "
            f"{names[writer]} to {names[task]}"
        )

