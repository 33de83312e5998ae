"""Each mutant switch of the TRB port changes behaviour on a targeted scenario (cheap end-of-run or
per-step checks; the full mutant-detection tests by search come with the properties layer)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import pytest

from model.scenario import Scenario
from properties.drain_checks import drain_holder_cohort
from properties.port_checks import early_dispatch_waves, on_memory_model, published_blocks, with_startup_abort
from runtime.execution import DONE, RunResult
from runtime.trb import MUTANTS, TrbSystem
from runtime.trb import consts as K
from runtime.trb.mutants import IMPLEMENTED, UNOBSERVABLE
from tests.conftest import SHARED_DIR
from tests.test_trb_port_support import (
    ClaimOnConsumed,
    HeapBounds,
    LaMonotone,
    PassedUnconsumed,
    builtin,
    ghost_problems,
    order_violations,
    run,
    scoped_groups,
    tiles_then_reader,
    token_collision,
)

Check = Callable[[RunResult, TrbSystem], bool]


def _failed(prop: str) -> Check:
    return lambda r, s: r.failure is not None and r.failure.property_id == prop


def _fatal(code: int) -> Check:
    return lambda r, s: s.fatal_code() == code


def _never_consumed(r: RunResult, s: TrbSystem) -> bool:
    return r.outcome != DONE and "never consumed" in (r.work_left or "")


def _init_flag_never_published(r: RunResult, s: TrbSystem) -> bool:
    """A startup abort returned (-1 reached the platform) and the schedulers still wait for the flag."""
    return r.outcome != DONE and s.c[s.E_KERNEL_RC] != 0 and s.c[s.E_INIT_READY] == 0


def _crashed(r: RunResult, s: TrbSystem) -> bool:
    return s.crash is not None and "always_assert" in s.crash


def _kernel_skipped(r: RunResult, s: TrbSystem) -> bool:
    return any(status[1] == 1 and status[3] == 0 for _r, _n, status in ghost_problems(s))


def _out_of_order(r: RunResult, s: TrbSystem) -> bool:
    return bool(order_violations(s))


def _early_candidate_before_publication(r: RunResult, s: TrbSystem) -> bool:
    """The consumer C became an early-dispatch candidate while its producer P had a block with no token yet."""
    consumer, producer = s.plan.task_index["C"], s.plan.task_index["P"]
    for n, (kind, run_index, task, _extra) in enumerate(s.events):
        if kind == "candidate" and task == consumer:
            return len(published_blocks(s.events[:n], run_index, producer)) < s.plan.tasks[producer].block_num
    return False


# mutant -> (scenario factory, seed (-1 = round-robin), observers, symptom). The symptom must be absent
# from the unmutated port on the same scenario and seed, and (where timing matters) the run must not have
# passed into the INV-R8 finding, so the symptom is the mutant's and not the finding's.
TARGETS: dict[str, tuple[Callable[[], Scenario], int, tuple[type, ...], Check]] = {
    "M_ADVANCE_NO_LOCK": (lambda: builtin("pa_var_seq4_window8"), 13, (LaMonotone,), _failed("INV-R2")),
    "M_CLAIM_OUTSIDE_LOCK": (lambda: builtin("pa_var_seq4_window8"), 1, (ClaimOnConsumed,), _failed("INV-L1")),
    "M_DEFERRED_RELEASE_DROP_ON_FULL": (
        lambda: builtin("pa_two_blocks", constants={"deferred_release_capacity": 1}),
        -1,
        (),
        lambda r, s: r.outcome != DONE and any(st[2] == 0 for _r, _n, st in ghost_problems(s)),
    ),
    "M_SLOT_INDEX_BY_ID": (lambda: scoped_groups(6, 2), -1, (), _fatal(K.FLOW_CONTROL_DEADLOCK)),
    "M_HEAP_TAIL_ABSOLUTE": (lambda: builtin("pa_two_blocks"), -1, (HeapBounds,), _failed("INV-H1")),
    "M_HEAP_GAP_NONSTRICT": (
        lambda: builtin("pa_var_seq4_window8", heap_bytes=(4096, 4096, 8192, 4096)),
        -1,
        (HeapBounds,),
        _failed("INV-H1"),
    ),
    "M_DEPPOOL_SILENT_WRAP": (
        lambda: builtin("dummy_dense_fanout_fanin", dep_pool=(4, 4, 4, 4)),
        -1,
        (),
        lambda r, s: s.fatal_code() == K.SCHEDULER_TIMEOUT,  # lost consumers; the base latches DEP_POOL_OVERFLOW
    ),
    "M_TMAP_POOL_ASSERT": (lambda: builtin("pa_two_blocks", constants={"tensormap_pool_size": 4}), -1, (), _crashed),
    "M_COMPLETION_FLAG_NO_GENERATION": (lambda: builtin("pa_two_blocks", runs=2), -1, (), _out_of_order),
    "M_TOKEN_FROM_LOCAL_ID": (token_collision, -1, (), _kernel_skipped),
    "M_SCOPE_CAP_COMPILE_DEFAULT": (lambda: builtin("dummy_dense_fanout_fanin"), -1, (), _fatal(K.SCOPE_TASKS_OVERFLOW)),
    "M_LOOKUP_CAP": (tiles_then_reader, 0, (), _out_of_order),
    "M_SCHED_NO_INIT_WAIT": (lambda: scoped_groups(3, 1), 8, (), _never_consumed),
    "M_INIT_ABORT_NO_FLAG": (
        lambda: with_startup_abort(scoped_groups(3, 1), "invalid_callable_id"), -1, (), _init_flag_never_published,
    ),
    "M_NO_ADVANCE_PENDING_MASK": (lambda: builtin("pa_var_seq4_window8"), 1, (), _fatal(K.FLOW_CONTROL_DEADLOCK)),
    # J04's split barrier: two schedulers wait for the new attempt's ack mask, the stale owner for stage_done
    "M_DRAIN_NO_ATTEMPT_TAG": (lambda: drain_holder_cohort(clusters=3, threads=3, holders=4), 132, (),
                               lambda r, s: r.outcome != DONE and sorted(w for w in s.drain_wait if w) == [
                                   "drain_ack_mask == all (or own bit cleared)",
                                   "drain_ack_mask == all (or own bit cleared)", "drain_stage_done_mask == all"]),
    "M_EARLY_ON_FIRST_BLOCK": (
        lambda: early_dispatch_waves((0, -1, -1), 3, 2, 2, 2, "early_waves_aic_2sched"), 1, (),
        _early_candidate_before_publication,
    ),
    # H01 on store buffers: the consumer left PENDING stalls its ring until the runtime's own stall check
    # latches HEAP_RING_DEADLOCK (sequentially consistent no schedule has it: tests/test_store_buffer.py)
    "M_FANIN_SB_WEAK": (lambda: on_memory_model(builtin("pa_two_blocks"), "tso"), 23, (),
                        _fatal(K.HEAP_RING_DEADLOCK)),
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_mutant_changes_behaviour_on_its_target(name: str) -> None:
    factory, seed, observers, symptom = TARGETS[name]
    scenario = factory()
    base, base_sys, _ = run(scenario, seed, (), observers)
    if name == "M_DEPPOOL_SILENT_WRAP":  # a pool this small is back-pressure + a structural fatal, not a hang
        assert base_sys.fatal_code() == K.DEP_POOL_OVERFLOW
    else:
        assert base.outcome == DONE, (base.work_left, base.failure)
    assert not symptom(base, base_sys)
    mutated, mut_sys, obs = run(scenario, seed, (name,), (*observers, PassedUnconsumed))
    assert symptom(mutated, mut_sys), (mutated.outcome, mutated.work_left, mutated.failure, mut_sys.crash)
    passed = obs[-1].hits
    if name not in ("M_SLOT_INDEX_BY_ID", "M_COMPLETION_FLAG_NO_GENERATION", "M_ADVANCE_NO_LOCK"):
        # (those three move last_task_alive past live tasks by their own mechanism)
        assert passed == [], passed


def test_every_implemented_mutant_has_a_target_or_a_reason() -> None:
    for name, m in MUTANTS.items():
        if m.status == IMPLEMENTED:
            assert name in TARGETS, name
        elif m.status == UNOBSERVABLE:
            assert m.note, name
        else:
            assert name not in TARGETS and (m.status.startswith("needs") or m.label == "WMM"), name


def test_unobservable_mutants_change_nothing_here() -> None:
    """The switches whose mechanism exists but cannot matter at the pinned commit leave a run unchanged."""
    scenario = builtin("pa_two_blocks")
    base, _base_sys, _ = run(scenario, 6, trace=True)
    for name in sorted(n for n, m in MUTANTS.items() if m.status == UNOBSERVABLE):
        other, _sys, _ = run(scenario, 6, (name,), trace=True)
        assert other.schedule == base.schedule, name
        assert [r.op.what for r in other.trace] == [r.op.what for r in base.trace], name


def test_catalogue_mutants_are_all_registered() -> None:
    path = SHARED_DIR / "bugs" / "catalogue.md"
    if not path.is_file():
        if os.environ.get("PTOCHECK_REQUIRE_SHARED", "") == "1":
            pytest.fail(f"{path} is missing and PTOCHECK_REQUIRE_SHARED=1")
        pytest.skip(f"bug catalogue not found at {path}")
    names = set(re.findall(r"`(M_[A-Z_]+)(?:\(k\))?`", path.read_text(encoding="utf-8")))
    assert names, "no mutant names found in the catalogue"
    missing = names - set(MUTANTS)
    assert not missing, missing
    ids = {m.catalogue_id for m in MUTANTS.values()}
    for cid in re.findall(r"^### ([A-Z]\d\d):", path.read_text(encoding="utf-8"), flags=re.M):
        assert cid in ids, cid


def _describe(m: Any) -> str:
    return f"{m.name} ({m.catalogue_id}, {m.label}): {m.status}"


def test_registry_entries_are_complete() -> None:
    for m in MUTANTS.values():
        assert m.name.startswith("M_") and m.description and m.mechanism and m.status, _describe(m)
