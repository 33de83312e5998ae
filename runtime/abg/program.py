"""The builder's API calls, from a scenario: what an aicpu_build_graph orchestration plugin calls, in order.

A Submit is `add_task` followed by one edge call per `deps` entry, in order (v1:
`aicpu_runtime_add_successor_conditional(dep, task)`; v2: `rt_add_dependency(dep, task)`). The tasks
submitted inside a scope bracket are published at the bracket's end in submission order (v2: the batch
publish of `pto2_scope_end`; v1, which has no scopes: the publish group of the paged-attention plugin, which
publishes QK, SF and PV after their edges); in v1 a task outside any bracket is published right after its
edges, as the plugin does for UP. Tensor-data ops are not calls (the builder reads device memory directly).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from model.errors import ScenarioError
from model.scenario import Alloc, Scenario, ScopeBegin, ScopeEnd, Shape, Submit, TensorData

ADD, EDGE, PUBLISH = "add_task", "add_edge", "publish"


class BuildCall(NamedTuple):
    """A plain tuple, so a builder thread can hold it across steps."""

    kind: str
    task: int
    pred: int = -1  # EDGE: the predecessor


@dataclass(frozen=True)
class BuildProgram:
    names: tuple[str, ...]
    core_type: tuple[int, ...]  # 0 AIC, 1 AIV
    calls: tuple[BuildCall, ...]
    successors: tuple[tuple[int, ...], ...]  # every edge the program adds out of each task (footprints)


def build_program(scenario: Scenario, version: int, publish_before_edges: bool = False) -> BuildProgram:
    """The call sequence; `publish_before_edges` is the mutant that publishes each task at its add_task."""
    names: list[str] = []
    core_type: list[int] = []
    calls: list[BuildCall] = []
    index: dict[str, int] = {}
    succ: list[list[int]] = []
    open_groups: list[list[int]] = []
    for i, op in enumerate(scenario.program):
        where = f"program[{i}]"
        if isinstance(op, ScopeBegin):
            open_groups.append([])
        elif isinstance(op, ScopeEnd):
            calls.extend(BuildCall(PUBLISH, t) for t in open_groups.pop())
        elif isinstance(op, TensorData):
            continue
        elif isinstance(op, Alloc):
            raise ScenarioError(
                "the aicpu_build_graph port has no hidden alloc tasks", where, "remove the alloc"
            )
        elif isinstance(op, Submit):
            if op.shape not in (Shape.AIC, Shape.AIV) or op.block_num != 1:
                raise ScenarioError(
                    f"task {op.name!r} is {op.shape.value} x{op.block_num}",
                    where,
                    "the aicpu_build_graph port runs single-block AIC or AIV tasks",
                )
            if version == 2 and not open_groups:
                raise ScenarioError(
                    f"task {op.name!r} is submitted outside a scope",
                    where,
                    "pto2_submit_mixed_task asserts a scope",
                )
            t = len(names)
            names.append(op.name)
            core_type.append(0 if op.shape is Shape.AIC else 1)
            succ.append([])
            calls.append(BuildCall(ADD, t))
            if publish_before_edges:
                calls.append(BuildCall(PUBLISH, t))
            for j, dep in enumerate(op.deps):
                if dep.task not in index:
                    raise ScenarioError(
                        f"edge from {dep.task!r}, which is not added yet",
                        f"{where}.deps[{j}]",
                        "submit it earlier",
                    )
                p = index[dep.task]
                succ[p].append(t)
                calls.append(BuildCall(EDGE, t, p))
            index[op.name] = t
            if publish_before_edges:
                continue
            if open_groups:
                open_groups[-1].append(t)
            else:
                calls.append(BuildCall(PUBLISH, t))
    return BuildProgram(tuple(names), tuple(core_type), tuple(calls), tuple(tuple(s) for s in succ))
