"""The model's dependency derivation (TensorMap lookups, creator and explicit edges) against a brute-force
derivation that enumerates the element indices every region covers, not the production overlap code.
Both directions: no needed dependency is missing, and every TensorMap edge is a real element overlap or one
of the runtime's documented conservative cases (a strided region; a lookup of a newer version).

For AUTO-scope programs (every argument goes through the TensorMap), the last task that wrote an element
before a task reads it (INPUT, INOUT) in program order must be among that task's WAIT ancestors: the runtime
may add conservative edges (strided overlaps it cannot decide), never miss a needed one."""

from __future__ import annotations

from hypothesis import event, given, settings

from model.dependencies import derive_all_edges
from model.program import WAIT, ProgramInfo
from model.scenario import Scenario, Submit, Tag
from properties.features import is_strided, region_elements
from properties.strategies import ProgramLimits, scenarios
from tests.conftest import hypothesis_examples

AUTO_ONLY = ProgramLimits(
    max_tasks=10, manual_scopes=False, auto_in_manual=False, scope_overflow=False, tensor_data=False,
    multi_round=False, stale_tensor_uses=False,
)
READS = (Tag.INPUT, Tag.INOUT)
WRITES = (Tag.INOUT, Tag.OUTPUT, Tag.OUTPUT_EXISTING)


def brute_force_needs(scenario: Scenario) -> list[tuple[int, int, str]]:
    """(writer, task, element) for every element a task reads (INPUT, INOUT) after an earlier task wrote it
    (the last such writer), from element sets alone."""
    last_writer: dict[tuple[str, int], int] = {}
    needs: list[tuple[int, int, str]] = []
    for t, task in enumerate(scenario.tasks()):
        if not isinstance(task, Submit):
            continue
        touched: list[tuple[Tag, str, frozenset[int]]] = []  # every argument the TensorMap sees
        for arg in task.args:
            if arg.tag is Tag.OUTPUT:
                assert arg.creates is not None
                touched.append((arg.tag, arg.creates.name, frozenset(range(arg.creates.numel))))
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


def _written_elements(task: Submit, buffer: str) -> frozenset[int]:
    out: set[int] = set()
    for arg in task.args:
        if arg.tag is Tag.OUTPUT and arg.creates is not None and arg.creates.name == buffer:
            out |= set(range(arg.creates.numel))
        elif arg.tag in WRITES and arg.region is not None and arg.region.buffer == buffer and not arg.manual_dep:
            out |= region_elements(arg.region)
    return frozenset(out)


@settings(max_examples=hypothesis_examples(120))
@given(scenarios(AUTO_ONLY, name="brute_force_precision"))
def test_every_tensormap_edge_is_a_real_overlap_or_a_conservative_strided_one(scenario: Scenario) -> None:
    """The other direction: a TensorMap edge links a consumer argument to a producer whose registered
    bytes share an element with it, except where a strided region makes the runtime's check conservative."""
    tasks = scenario.tasks()
    for row in derive_all_edges(ProgramInfo(scenario)):
        if row.source != "tensormap":
            continue
        consumer, producer = tasks[row.succ], tasks[row.pred]
        assert isinstance(consumer, Submit) and isinstance(producer, Submit)
        region = consumer.args[row.arg].region
        assert region is not None
        shared = region_elements(region) & _written_elements(producer, region.buffer)
        mine = [a.region for a in producer.args if a.region is not None and a.region.buffer == region.buffer]
        strided = is_strided(region) or any(is_strided(r) for r in mine)
        # the version rule: a lookup of a newer version than the entry overlaps it whatever the positions
        versioned = any(region.version > r.version for r in mine)
        kind = "exact" if shared else "conservative (strided)" if strided else "version rule" if versioned else "spurious"
        event(f"tensormap edge: {kind}")
        assert kind != "spurious", f"{producer.name} -> {consumer.name}: no shared element of {region.buffer}"
