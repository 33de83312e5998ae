"""Small scenarios for model tests: built here so each test names exactly what it exercises."""

from __future__ import annotations

from model.builders.paged_attention import paged_attention
from model.scenario import (
    Arg,
    Config,
    Expected,
    OutputSpec,
    Region,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    Submit,
    Tag,
    validate,
)

F32 = "FLOAT32"
TINY = Config(task_window=(4, 4, 4, 4), heap_bytes=(4096,) * 4, dep_pool=(16,) * 4, scheduler_threads=2, clusters=1)


def producer_consumer_pairs(pairs: int, config: Config = TINY, name: str = "pairs") -> Scenario:
    """`pairs` scopes, each with a zero-fanin producer X_k and a RETAIN reader Y_k of its output.

    With W = 4 the ring reuses slots across scopes: the shape that exposes INV-R7."""
    prog: list[object] = []
    for k in range(pairs):
        prog += [
            ScopeBegin(),
            Submit(f"X{k}", (0, -1, -1), (Arg(Tag.OUTPUT, creates=OutputSpec(f"x{k}", (16,), F32)),)),
            Submit(
                f"Y{k}",
                (-1, 1, -1),
                (
                    Arg(Tag.INPUT, Region(f"x{k}", (16,), (1,))),
                    Arg(Tag.OUTPUT, creates=OutputSpec(f"y{k}", (16,), F32)),
                ),
            ),
            ScopeEnd(),
        ]
    return validate(Scenario(name, config, (), tuple(prog)))  # type: ignore[arg-type]


def pa_one_block(**config: object) -> Scenario:
    cfg = Config(
        task_window=(4, 4, 8, 4), heap_bytes=(4096, 4096, 8192, 4096), dep_pool=(16,) * 4, scheduler_threads=2, clusters=1
    )
    return paged_attention(1, 16, 16, 16, [16], config=cfg, name="pa_one_block", expected=Expected())
