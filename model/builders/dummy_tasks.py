"""tests/st/a2a3/tensormap_and_ringbuffer/dummy_task (simpler @ 6ebaf7715): the four cases, task by task.

Source: tests/st/a2a3/tensormap_and_ringbuffer/dummy_task/kernels/orchestration/dummy_task_orch.cpp (:74-167);
cases of test_dummy_task.py (:80-110). X, Y, W are the orch-arg tensors, full(16, -1.0) FLOAT32; every task is
at depth 0 (ring 0, AUTO); incores: func 0 WRITE_CONST (aic, [INOUT]), func 1 COPY_FIRST (aic, [IN, INOUT]).
Every case runs with `aicpu_thread_num = 2`: one scheduler thread plus the orchestrator.

    case 1 SingleDummyAutoDep:      t0 = aic(0, {INOUT X}); t1 = dummy({INOUT X}); t2 = aic(1, {IN X, INOUT Y})
    case 2 LongDummyChain:          t0 = aic(0, {INOUT X}); t1..t4 = dummy({INOUT X}); t5 = aic(1, {IN X, INOUT Y})
    case 3 DummyExplicitDepBarrier: t0 = aic(0, {INOUT X}); t1 = aic(0, {INOUT W});
                                    t2 = dummy({}, set_dependencies([t0, t1]));
                                    t3 = aic(1, {IN X, INOUT Y}, set_dependencies([t2]))
    case 4 DenseFanoutFanin:        t0 = aic(0, {INOUT X}); t1..t18 = dummy({}, set_dependencies([t0]));
                                    t19 = aic(1, {IN X, INOUT Y}, set_dependencies([t1..t18]))

`set_dependencies` gives WAIT|RETAIN edges.
"""

from __future__ import annotations

from model.scenario import (
    Arg,
    Buffer,
    Config,
    DepKind,
    ExplicitDep,
    Region,
    Scenario,
    Submit,
    Tag,
    validate,
)

FUNC_WRITE_CONST = 0
FUNC_COPY_FIRST = 1
LONG_CHAIN_DUMMIES = 4
DENSE_DEP_COUNT = 18
NUMEL = 16
DUMMY_CONFIG = Config(scheduler_threads=1, clusters=8)
"""aicpu_thread_num = 2 (one scheduler thread) on the a2a3sim platform (block_dim 8)."""

TASK_COUNTS = {1: 3, 2: 2 + LONG_CHAIN_DUMMIES, 3: 4, 4: 2 + DENSE_DEP_COUNT}
"""Tasks per case id."""

_X = Region("X", (NUMEL,), (1,))
_Y = Region("Y", (NUMEL,), (1,))
_W = Region("W", (NUMEL,), (1,))
_WR = DepKind.WAIT_RETAIN


def _aic(name: str, kernel: int, *args: Arg, deps: tuple[str, ...] = ()) -> Submit:
    return Submit(name, (kernel, -1, -1), args, deps=tuple(ExplicitDep(d, _WR) for d in deps))


def _dummy(name: str, *args: Arg, deps: tuple[str, ...] = ()) -> Submit:
    return Submit(name, (-1, -1, -1), args, deps=tuple(ExplicitDep(d, _WR) for d in deps))


def _scenario(
    case_id: int, name: str, case_name: str, program: tuple[Submit, ...], config: Config | None
) -> Scenario:
    return validate(
        Scenario(
            name=name,
            config=config or DUMMY_CONFIG,
            buffers=tuple(Buffer(n, "FLOAT32", NUMEL, external=True) for n in ("X", "Y", "W")),
            program=program,
            description=(
                "tests/st/a2a3/tensormap_and_ringbuffer/dummy_task/kernels/orchestration/dummy_task_orch.cpp "
                f"@ simpler 6ebaf7715, case {case_id} {case_name}; {TASK_COUNTS[case_id]} tasks on ring 0"
            ),
        )
    )


def _consumer(name: str, deps: tuple[str, ...] = ()) -> Submit:
    return _aic(name, FUNC_COPY_FIRST, Arg(Tag.INPUT, _X), Arg(Tag.INOUT, _Y), deps=deps)


def single_dummy_auto_dep(*, config: Config | None = None) -> Scenario:
    """Case 1: a dummy INOUT on X between the producer and the consumer (TensorMap edges only)."""
    program = (
        _aic("t0", FUNC_WRITE_CONST, Arg(Tag.INOUT, _X)),
        _dummy("t1", Arg(Tag.INOUT, _X)),
        _consumer("t2"),
    )
    return _scenario(1, "dummy_single_auto_dep", "SingleDummyAutoDep", program, config)


def long_dummy_chain(*, config: Config | None = None) -> Scenario:
    """Case 2: four dummies INOUT on X back to back between producer and consumer."""
    dummies = tuple(_dummy(f"t{i + 1}", Arg(Tag.INOUT, _X)) for i in range(LONG_CHAIN_DUMMIES))
    program = (
        _aic("t0", FUNC_WRITE_CONST, Arg(Tag.INOUT, _X)),
        *dummies,
        _consumer(f"t{LONG_CHAIN_DUMMIES + 1}"),
    )
    return _scenario(2, "dummy_long_chain", "LongDummyChain", program, config)


def dummy_explicit_dep_barrier(*, config: Config | None = None) -> Scenario:
    """Case 3: a tensor-less dummy barrier on two producers (explicit deps); the consumer depends on it
    explicitly and reads X (a TensorMap edge to t0 as well)."""
    program = (
        _aic("t0", FUNC_WRITE_CONST, Arg(Tag.INOUT, _X)),
        _aic("t1", FUNC_WRITE_CONST, Arg(Tag.INOUT, _W)),
        _dummy("t2", deps=("t0", "t1")),
        _consumer("t3", deps=("t2",)),
    )
    return _scenario(3, "dummy_explicit_barrier", "DummyExplicitDepBarrier", program, config)


def dense_fanout_fanin(*, config: Config | None = None) -> Scenario:
    """Case 4: one producer fans out to 18 dummy barriers, one consumer depends on all 18."""
    dummies = tuple(_dummy(f"t{i + 1}", deps=("t0",)) for i in range(DENSE_DEP_COUNT))
    program = (
        _aic("t0", FUNC_WRITE_CONST, Arg(Tag.INOUT, _X)),
        *dummies,
        _consumer(f"t{DENSE_DEP_COUNT + 1}", deps=tuple(d.name for d in dummies)),
    )
    return _scenario(4, "dummy_dense_fanout_fanin", "DenseFanoutFanin", program, config)
