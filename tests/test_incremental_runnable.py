"""The executor's incremental runnable set (runtime/execution.py) offers exactly what a full scan of every
guard offers: the same choices at every step (cross-checked), hence the same schedules and outcomes; and a
planted footprint omission is caught both by the cross-check and by the footprint audit."""

from __future__ import annotations

import dataclasses

import pytest

from model.scenario import Scenario
from properties.drain_checks import drain_holder_cohort
from properties.port_checks import (
    early_dispatch_waves,
    late_readers,
    port_observers,
    retain_pairs,
    with_startup_abort,
)
from runtime.core import Op
from runtime.execution import RandomScheduler, RoundRobinScheduler, RunResult, Scheduler, run_once
from runtime.pct import PCTScheduler
from runtime.trb import TrbSystem
from runtime.trb.audit import AuditedTrb, audit_run
from runtime.trb.scheduler import QExp, Seen
from tests.test_trb_port_support import builtin, scoped_groups, token_collision


class _Scanning(TrbSystem):
    """The same port, run by the full scan of every guard at every step (the reference)."""

    guards_follow_footprints = False


def _scenarios() -> list[tuple[Scenario, tuple[str, ...]]]:
    return [
        (scoped_groups(3, 2, threads=2, clusters=2), ()),
        (token_collision(), ()),
        (builtin("pa_two_blocks"), ()),
        (builtin("pa_scope_deadlock"), ()),  # fatal, emergency shutdown, device reset
        (retain_pairs(3), ("M_SLOT_INDEX_BY_ID",)),
        (late_readers(3, 1, 1, "late_readers_defer1"), ("M_CLAIM_OUTSIDE_LOCK",)),
        (retain_pairs(3), ("M_SCHED_NO_INIT_WAIT",)),
        # the sync_start drain's spins and the startup abort paths are guarded waits of their own
        (drain_holder_cohort(clusters=3, threads=3, holders=4), ()),
        (drain_holder_cohort(clusters=3, threads=3, holders=4), ("M_DRAIN_NO_ATTEMPT_TAG",)),
        (with_startup_abort(retain_pairs(1), "sm_init_per_ring_failed"), ()),
        (with_startup_abort(retain_pairs(1), "sm_init_per_ring_failed"), ("M_INIT_ABORT_NO_FLAG",)),
        # early dispatch: gated staging, the AICore's doorbell wait
        (early_dispatch_waves((0, -1, -1), 3, 2, 2, 2, "early_waves_aic_2sched"), ()),
        (early_dispatch_waves((-1, 0, -1), 3, 2, 1, 1, "early_waves_aiv_1sched"), ("M_EARLY_ON_FIRST_BLOCK",)),
    ]


def _run(system: TrbSystem, scheduler: Scheduler, cross_check: bool) -> RunResult:
    scheduler.new_execution()
    return run_once(system, scheduler, port_observers()(system), max_steps=20_000, cross_check=cross_check)


def _schedulers(seed: int) -> list[Scheduler]:
    return [RoundRobinScheduler(), RandomScheduler(seed), PCTScheduler(seed, 3, 1, 500)]


@pytest.mark.parametrize("index", range(len(_scenarios())))
def test_incremental_choices_equal_the_full_scan_at_every_step(index: int) -> None:
    scenario, mutants = _scenarios()[index]
    for seed in range(2):
        for fast, slow in zip(_schedulers(seed), _schedulers(seed), strict=True):
            # cross_check raises AssertionError at the first step whose choices differ from the full scan
            got = _run(TrbSystem(scenario, mutants), fast, cross_check=True)
            want = _run(_Scanning(scenario, mutants), slow, cross_check=False)
            assert (got.outcome, got.schedule, got.preemptions) == (want.outcome, want.schedule, want.preemptions)
            assert got.failure == want.failure


def test_incremental_choices_equal_the_full_scan_with_the_data_path() -> None:
    # the data oracle's byte path adds tensor-data waits (guarded ops of their own)
    scenario = builtin("pa_two_blocks")
    for seed in range(2):
        got = _run(TrbSystem(scenario, data=True, data_seed=seed), RandomScheduler(seed), cross_check=True)
        want = _run(_Scanning(scenario, data=True, data_seed=seed), RandomScheduler(seed), cross_check=False)
        assert (got.outcome, got.schedule) == (want.outcome, want.schedule)


class _IdleGuardForgetsItsCells(AuditedTrb):
    """Plants a wrong claim: the scheduler's idle wait says its guard reads only the queue positions, while
    it also compares the cells its last iteration read."""

    def _idle_wait_op(self, t: int, seen: Seen, qexp: QExp, armed: bool) -> Op:
        op = super()._idle_wait_op(t, seen, qexp, armed)
        assert op.guard_reads is not None
        queue_cells = tuple(cell for cell in op.guard_reads if cell not in {c for c, _v in seen})
        return dataclasses.replace(op, guard_reads=queue_cells)


def test_a_planted_guard_footprint_omission_is_caught() -> None:
    scenario = scoped_groups(3, 2, threads=2, clusters=2)
    problems = audit_run(scenario, 0, system_type=_IdleGuardForgetsItsCells)
    assert any(p.kind == "undeclared-guard-read" for p in problems), problems
    caught = 0
    for seed in range(6):
        try:
            _run(_IdleGuardForgetsItsCells(scenario), RandomScheduler(seed), cross_check=True)
        except AssertionError as error:
            assert "incremental runnable set" in str(error)
            caught += 1
    assert caught > 0
