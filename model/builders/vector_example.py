"""examples/a2a3/tensormap_and_ringbuffer/vector_example (simpler @ 6ebaf7715), task by task.

Source: examples/a2a3/tensormap_and_ringbuffer/vector_example/kernels/orchestration/example_orchestration.cpp
(`aicpu_orchestration_entry`, :55-111), test case `default` of test_vector_example.py: a = full(16384, 2.0),
b = full(16384, 3.0), f = zeros(16384), all FLOAT32, passed as orch-arg ChipTensors and used directly.

    depth 0 (ring 0): t0 = aiv(0, {IN a, IN b, OUT c [SIZE] F32})                 # kernel_add
    PTO2_SCOPE() AUTO, depth 1 (ring 1):
        t1 = aiv(1, {IN c, OUT d [SIZE] F32; 1.0f, 3u})                            # kernel_add_scalar
        t2 = aiv(1, {IN c, OUT e [SIZE] F32; 2.0f, 3u})                            # kernel_add_scalar
        t3 = aiv(2, {IN d, IN e, OUT g [SIZE] F32; 3u})                            # kernel_mul
        t4 = aiv(0, {IN g, IN c, OUTPUT_EXISTING f})                               # kernel_add

5 tasks (r0t0, r1t0..r1t3), 6 creator edges, one TensorMap insert (f).
"""

from __future__ import annotations

from model.scenario import (
    Arg,
    Buffer,
    Config,
    OutputSpec,
    Region,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    Submit,
    Tag,
    validate,
)

KERNEL_ADD = 0
KERNEL_ADD_SCALAR = 1
KERNEL_MUL = 2
SIZE = 16384
TASK_COUNT = 5


def _whole(buffer: str, size: int) -> Region:
    return Region(buffer, (size,), (1,))


def vector_example(
    size: int = SIZE, *, config: Config | None = None, name: str = "vector_example"
) -> Scenario:
    """The vector example's five AIV tasks on `size`-element FLOAT32 vectors (the test uses 16384)."""
    inter = (size,)

    def aiv(task: str, kernel: int, *args: Arg) -> Submit:
        return Submit(task, (-1, kernel, -1), args)

    def out(buf: str) -> Arg:
        return Arg(Tag.OUTPUT, creates=OutputSpec(buf, inter, "FLOAT32"))

    def inp(buf: str) -> Arg:
        return Arg(Tag.INPUT, _whole(buf, size))

    program = (
        aiv("t0", KERNEL_ADD, inp("a"), inp("b"), out("c")),
        ScopeBegin(),
        aiv("t1", KERNEL_ADD_SCALAR, inp("c"), out("d")),
        aiv("t2", KERNEL_ADD_SCALAR, inp("c"), out("e")),
        aiv("t3", KERNEL_MUL, inp("d"), inp("e"), out("g")),
        aiv("t4", KERNEL_ADD, inp("g"), inp("c"), Arg(Tag.OUTPUT_EXISTING, _whole("f", size))),
        ScopeEnd(),
    )
    scenario = Scenario(
        name=name,
        config=config or Config(scheduler_threads=3, clusters=8),
        buffers=tuple(Buffer(n, "FLOAT32", size, external=True) for n in ("a", "b", "f")),
        program=program,
        description=(
            "examples/a2a3/tensormap_and_ringbuffer/vector_example/kernels/orchestration/example_orchestration.cpp "
            f"@ simpler 6ebaf7715, case default ({size}-element FLOAT32); {TASK_COUNT} tasks on rings 0/1"
        ),
    )
    return validate(scenario)
