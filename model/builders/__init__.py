"""Scenario builders for the reference workloads of simpler @ 6ebaf7715, and the built-in registry.

Every builder reproduces one C++ orchestration program task by task (see each module's docstring for the
source path): `paged_attention` (AUTO, MANUAL, batched, SPMD), `vector_example`, `dummy_tasks`.
`BUILTIN_SCENARIOS` maps stable names to zero-argument factories; `DEFAULT_EXPLORE_SCENARIOS` names the
scenarios the model checker explores by default.
"""

from __future__ import annotations

from collections.abc import Callable

from model.builders.dummy_tasks import (
    dense_fanout_fanin,
    dummy_explicit_dep_barrier,
    long_dummy_chain,
    single_dummy_auto_dep,
)
from model.builders.pa_other_runtimes import (
    abg2_pa_two_blocks,
    abg_pa_two_blocks,
    abg_pa_two_blocks_sequential,
    abg_pa_var_seq4,
    hbg_pa_two_blocks,
    hbg_pa_var_seq4,
)
from model.builders.paged_attention import (
    CASE_VAR_SEQ4_CONTEXT_LENS,
    SMALL_BLOCK_SIZE,
    SMALL_HEAD_DIM,
    SMALL_HEADS,
    batched_paged_attention,
    case_small1,
    case_var_seq4,
    case_var_seq4_manual,
    pa_scope_deadlock,
    pa_two_blocks_default,
    spmd_paged_attention,
)
from model.builders.vector_example import vector_example
from model.scenario import Scenario


def _pa_batched() -> Scenario:
    """batch_paged_attention CaseVarSeq4 (4 batches, ctx [33, 64, 128, 15]: one chunk, max_bn 8)."""
    return batched_paged_attention(
        4, SMALL_HEADS, SMALL_HEAD_DIM, SMALL_BLOCK_SIZE, CASE_VAR_SEQ4_CONTEXT_LENS, name="pa_batched"
    )


def _pa_spmd() -> Scenario:
    """spmd_paged_attention SmallCase1 (24 batches, 16 heads, head_dim 128, block 128, ctx 8192)."""
    return spmd_paged_attention(name="pa_spmd")


def _pa_var_seq4_window8() -> Scenario:
    return case_var_seq4(window=8)


BUILTIN_SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "pa_case_small1": case_small1,
    "pa_var_seq4": case_var_seq4,
    "pa_var_seq4_window8": _pa_var_seq4_window8,
    "pa_var_seq4_manual": case_var_seq4_manual,
    "pa_batched": _pa_batched,
    "pa_spmd": _pa_spmd,
    "vector_example": vector_example,
    "dummy_single_auto_dep": single_dummy_auto_dep,
    "dummy_long_chain": long_dummy_chain,
    "dummy_explicit_barrier": dummy_explicit_dep_barrier,
    "dummy_dense_fanout_fanin": dense_fanout_fanin,
    "pa_two_blocks": pa_two_blocks_default,
    "pa_scope_deadlock": pa_scope_deadlock,
    # The other runtimes (their scenarios carry runtime = aicpu_build_graph[_v2] / host_build_graph).
    "abg_pa_two_blocks": abg_pa_two_blocks,
    "abg_pa_two_blocks_sequential": abg_pa_two_blocks_sequential,
    "abg_pa_var_seq4": abg_pa_var_seq4,
    "abg2_pa_two_blocks": abg2_pa_two_blocks,
    "hbg_pa_two_blocks": hbg_pa_two_blocks,
    "hbg_pa_var_seq4": hbg_pa_var_seq4,
}
"""Stable name -> factory. Each factory's scenario carries the same name."""

DEFAULT_EXPLORE_SCENARIOS: tuple[str, ...] = ("pa_two_blocks", "pa_scope_deadlock")

RUNTIME_FAMILIES: tuple[dict[str, str], ...] = (
    {
        "tensormap_and_ringbuffer": "pa_two_blocks",
        "aicpu_build_graph": "abg_pa_two_blocks",
        "aicpu_build_graph_v2": "abg2_pa_two_blocks",
        "host_build_graph": "hbg_pa_two_blocks",
    },
    {
        "tensormap_and_ringbuffer": "pa_var_seq4",
        "aicpu_build_graph": "abg_pa_var_seq4",
        "host_build_graph": "hbg_pa_var_seq4",
    },
)
"""One workload's built-in scenario on each runtime that has it (runtime -> built-in name): the task graph
that runtime's own example builds for the same program (see pa_other_runtimes.py)."""


def builtin_variant(name: str, runtime: str) -> str | None:
    """The built-in scenario of `name`'s workload on `runtime`, or None when that runtime has no variant."""
    for family in RUNTIME_FAMILIES:
        if name in family.values():
            return family.get(runtime)
    return None


__all__ = ["BUILTIN_SCENARIOS", "DEFAULT_EXPLORE_SCENARIOS", "RUNTIME_FAMILIES", "builtin_variant"]
