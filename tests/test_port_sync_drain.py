"""The sync_start drain extension of the TRB port (runtime/trb/sync_drain.py) and INV-D5
(properties/drain_checks.py): the plan schedules cohorts, the drain runs, retries and stages on the
unmutated port (witnesses), the pre-fix barrier (M_DRAIN_NO_ATTEMPT_TAG) combines attempts and, with that
check off, ends in the split barrier; footprints and refinement hold on drain runs."""

from __future__ import annotations

from collections.abc import Sequence

from model.scenario import Submit, validate
from properties.drain_checks import DRAIN_PROPERTY_NAMES, DrainWitnesses, drain_holder_cohort
from properties.port_checks import PROPERTY_NAMES, port_observers
from properties.refinement import check_refinement
from runtime.core import Observer, System
from runtime.execution import RandomScheduler
from runtime.search import SearchBounds, search
from runtime.trb import MUTANTS, TrbSystem
from runtime.trb.audit import audit
from runtime.trb.cites import cited_functions

MUTANT = "M_DRAIN_NO_ATTEMPT_TAG"


def _witnessing(seen: list[DrainWitnesses]) -> object:
    def make(system: System) -> Sequence[Observer]:
        assert isinstance(system, TrbSystem)
        w = DrainWitnesses(system)
        seen.append(w)
        return [*port_observers()(system), w]

    return make


def test_plan_schedules_a_cohort_within_the_core_limit() -> None:
    s = TrbSystem(drain_holder_cohort())
    cohort = s.plan.tasks[s.plan.task_index["S"]]
    assert cohort.sync_start and not cohort.sync_start_invalid and s.has_sync_drain
    assert [s.queues[q].name for q in s.sync_q] == [
        "ready_sync_queues[AIC]", "ready_sync_queues[AIV]", "ready_sync_queues[MIX]"]
    # above the core limit it stays submit's fatal 7, and no sync queue exists
    big = drain_holder_cohort(block_num=4)
    over = TrbSystem(big)
    assert over.plan.tasks[over.plan.task_index["S"]].sync_start_invalid and not over.has_sync_drain


def test_unmutated_drain_retries_and_stages_without_violation() -> None:
    seen: list[DrainWitnesses] = []
    scenario = drain_holder_cohort(clusters=3, threads=3, holders=4)
    report = search(lambda: TrbSystem(scenario), "random", 1, SearchBounds(runs=60, max_steps=20_000),
                    _witnessing(seen))  # type: ignore[arg-type]
    assert report.ok and report.executions == 60, report.lines()
    hit = {name for w in seen for name in w.seen}
    # a short attempt that resets, a thread parked after its ack across that attempt change, a later
    # attempt of the same drain that stages
    assert {"drain_entered", "drain_capacity_reset", "drain_parked_across_attempt",
            "drain_staged_after_reset"} <= hit, hit


def test_a_cohort_that_fits_one_thread_is_placed_whole_without_a_drain() -> None:
    seen: list[DrainWitnesses] = []
    base = drain_holder_cohort(clusters=2, threads=1, holders=0, gated=False, name="cohort_fits_local")
    report = search(lambda: TrbSystem(base), "random", 1, SearchBounds(runs=10, max_steps=20_000),
                    _witnessing(seen))  # type: ignore[arg-type]
    assert report.ok, report.lines()
    hit = {name for w in seen for name in w.seen}
    assert "drain_cohort_local" in hit and "drain_entered" not in hit, hit


def test_pre_fix_barrier_combines_attempts_then_splits() -> None:
    scenario = drain_holder_cohort(clusters=3, threads=3, holders=4)
    report = search(lambda: TrbSystem(scenario, {MUTANT}), "random", 1, SearchBounds(runs=250, max_steps=20_000),
                    port_observers())
    assert report.failures and report.failures[0].property_id == "drain_attempt_consistent", report.lines()
    assert "combined across attempts" in report.failures[0].message
    # the same search with that check off: the combined state ends in the split barrier (a hang)
    rest = frozenset(PROPERTY_NAMES) - {"drain_attempt_consistent"}
    split = search(lambda: TrbSystem(scenario, {MUTANT}), "random", 1, SearchBounds(runs=250, max_steps=20_000),
                   port_observers(rest))
    assert split.failures and split.failures[0].property_id == "drain_no_split_barrier", split.lines()
    assert "drain_ack_mask" in split.failures[0].message and "stage_done" in split.failures[0].message


def test_mutant_is_registered_as_implemented_with_its_mechanism() -> None:
    m = MUTANTS[MUTANT]
    assert m.status == "implemented" and "drain_worker_elected" in m.mechanism
    assert set(DRAIN_PROPERTY_NAMES) <= set(PROPERTY_NAMES)
    functions = {c.function for c in cited_functions()}
    assert {"SchedulerContext::enter_drain_mode", "SchedulerContext::handle_drain_mode",
            "SchedulerContext::count_global_available", "SchedulerContext::stage_sync_start_cores"} <= functions


def test_drain_steps_declare_their_footprints() -> None:
    scenario = drain_holder_cohort(clusters=3, threads=3, holders=2)
    assert audit([scenario], range(4)) == []
    assert audit([scenario], range(2), [MUTANT]) == []


def test_drain_runs_refine_the_model() -> None:
    scenario = drain_holder_cohort(clusters=3, threads=3, holders=2)
    for seed in range(3):
        sched = RandomScheduler(seed)
        sched.new_execution()
        report, _result = check_refinement(TrbSystem(scenario), sched, max_steps=20_000)
        assert report.failure is None, report.summary()


def test_an_aiv_cohort_uses_the_aiv_limit() -> None:
    scenario = drain_holder_cohort(clusters=2, threads=2, holders=1, block_num=4, kernels=(-1, 1, -1))
    cohort = next(op for op in scenario.program if isinstance(op, Submit) and op.name == "S")
    assert cohort.block_num == 4 and validate(scenario) == scenario
    report = search(lambda: TrbSystem(scenario), "random", 2, SearchBounds(runs=20, max_steps=20_000),
                    port_observers())
    assert report.ok, report.lines()


def test_pre_fix_follower_reenters_after_the_election_is_released() -> None:
    """A second pre-fix hang (2 schedulers): finalize clears drain_worker_elected before it reopens the gate;
    a follower that bails on that sees sync_start_pending still set, re-acks into the cleared mask and
    spins for acks nobody sends once the gate reopens."""
    scenario = drain_holder_cohort(clusters=2, threads=2, holders=4)
    report = search(lambda: TrbSystem(scenario, {MUTANT}), "random", 1, SearchBounds(runs=250, max_steps=20_000),
                    port_observers())
    assert report.failures, report.lines()
    failure = report.failures[0]
    assert failure.property_id == "drain_no_split_barrier", report.lines()
    assert "drain_ack_mask == all" in failure.message and "sync_start_pending 0" in failure.message


def test_dfs_runs_on_a_drain_scenario() -> None:
    # stateful DFS keys states on the threads' plain locals: the drain's generators must keep to them
    scenario = drain_holder_cohort(clusters=2, threads=2, holders=1)
    report = search(lambda: TrbSystem(scenario), "dfs", 0,
                    SearchBounds(preemptions=1, max_steps=5_000, max_states=400), port_observers())
    assert report.ok and "states=401" in report.bounds_text, report.lines()


def test_the_cohort_generator_draws_schedulable_cohorts() -> None:
    from properties.port_checks import generated_scenario

    for seed in range(6):
        scenario = generated_scenario(seed, family="sync_cohort")
        system = TrbSystem(scenario)
        cohort = system.plan.tasks[system.plan.task_index["S"]]
        limit = 2 * scenario.config.clusters if cohort.shape == 1 else scenario.config.clusters
        assert cohort.sync_start and not cohort.sync_start_invalid and limit - 1 <= cohort.block_num <= limit
        assert scenario.name.endswith("/sync_cohort")
