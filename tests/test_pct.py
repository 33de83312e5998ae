"""PCT: reproducible from its seed, finds a depth-2 bug at (at least) the rate its bound promises."""

from __future__ import annotations

import pytest

from model.errors import PtocheckError
from runtime.execution import DONE, FAILURE, run_once
from runtime.pct import PCTScheduler, pct_probability_bound
from runtime.search import SearchBounds, search
from runtime.toys import CheckThenUse, LostUpdate, ToyAssertions

WORK = 20  # the clearer's private steps before the clear: a random scheduler practically never wins
RUN_LENGTH = WORK + 3  # clearer: WORK + 1 steps; user: 2 steps


def _outcomes(scheduler: PCTScheduler, work: int = WORK) -> list[tuple[str, tuple[int, ...]]]:
    out = []
    while scheduler.new_execution():
        result = run_once(CheckThenUse(work), scheduler, [ToyAssertions()], record_trace=False)
        out.append((result.outcome, tuple(result.schedule)))
    return out


def test_the_same_seed_gives_the_same_runs_and_another_seed_other_runs() -> None:
    first = _outcomes(PCTScheduler(seed=5, depth=3, runs=30, steps_estimate=RUN_LENGTH))
    assert first == _outcomes(PCTScheduler(seed=5, depth=3, runs=30, steps_estimate=RUN_LENGTH))
    assert first != _outcomes(PCTScheduler(seed=6, depth=3, runs=30, steps_estimate=RUN_LENGTH))
    assert len({schedule for _, schedule in first}) > 5


def test_depth_one_never_interleaves_so_it_never_finds_a_depth_two_bug() -> None:
    runs = _outcomes(PCTScheduler(seed=1, depth=1, runs=200, steps_estimate=RUN_LENGTH))
    assert {outcome for outcome, _ in runs} == {DONE}
    # Strict priorities without change points: whichever thread ranks first runs to its end.
    assert {schedule[:2] for _, schedule in runs} == {(0, 0), (1, 1)}


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_depth_two_finds_the_depth_two_bug_at_the_promised_rate(seed: int) -> None:
    runs = 1000
    scheduler = PCTScheduler(seed=seed, depth=2, runs=runs, steps_estimate=RUN_LENGTH, threads=2)
    bound = scheduler.probability_bound()
    assert bound == pytest.approx(1 / (2 * RUN_LENGTH))
    outcomes = [outcome for outcome, _ in _outcomes(scheduler)]
    hits = outcomes.count(FAILURE)
    # Expected at least runs * bound (about 22); fewer than half of it has probability < 1 %.
    assert hits >= runs * bound / 2


def test_depth_two_finds_the_bug_within_the_expected_number_of_runs() -> None:
    """The first hit is geometric with mean at most 1 / bound = 46 runs: over 30 fixed seeds the mean
    stays near it and no seed needs 10 / bound runs (each has probability e^-10 of doing so)."""
    bound = pct_probability_bound(2, RUN_LENGTH, 2)
    firsts = []
    for seed in range(30):
        scheduler = PCTScheduler(
            seed=seed, depth=2, runs=int(10 / bound), steps_estimate=RUN_LENGTH, threads=2
        )
        runs = 0
        while scheduler.new_execution():
            runs += 1
            if (
                run_once(CheckThenUse(WORK), scheduler, [ToyAssertions()], record_trace=False).outcome
                == FAILURE
            ):
                break
        else:
            runs = int(10 / bound) + 1
        firsts.append(runs)
    assert max(firsts) <= 10 / bound
    assert sum(firsts) / len(firsts) <= 1.5 / bound


def test_a_random_scheduler_misses_what_pct_finds() -> None:
    random_report = search(lambda: CheckThenUse(WORK), "random", seed=2, bounds=SearchBounds(runs=300))
    observers = [ToyAssertions()]
    pct_report = search(
        lambda: CheckThenUse(WORK),
        "pct",
        seed=2,
        bounds=SearchBounds(runs=300, pct_depth=2),
        observers=observers,
    )
    assert random_report.ok and random_report.executions == 300
    assert not pct_report.ok and pct_report.failures[0].property_id == "toy.assertion"


def test_the_bound_is_printed_with_its_n_and_k() -> None:
    scheduler = PCTScheduler(seed=0, depth=3, runs=1, steps_estimate=10, threads=4)
    assert scheduler.bound_text() == (
        "PCT depth 3: n=4 threads, k=10 steps: each run finds a given depth-3 bug with probability "
        ">= 1/(n*k^(d-1)) = 1/400"
    )
    assert pct_probability_bound(4, 10, 3) == 1 / 400
    report = search(
        LostUpdate, "pct", seed=9, bounds=SearchBounds(runs=5, pct_depth=2, stop_at_first_failure=False)
    )
    # k comes from a round-robin calibration run (4 steps) and n from its threads (2).
    assert report.notes == (
        "  PCT depth 2: n=2 threads, k=4 steps: each run finds a given depth-2 bug with probability "
        ">= 1/(n*k^(d-1)) = 1/8",
    )


def test_each_run_has_d_minus_1_change_points_and_k_learns_the_longest_run() -> None:
    scheduler = PCTScheduler(seed=3, depth=4, runs=3, steps_estimate=2)
    assert scheduler.new_execution()
    assert len(scheduler.change_points) == 2  # min(d - 1, k)
    run_once(CheckThenUse(WORK), scheduler, record_trace=False)
    assert scheduler.new_execution()
    assert scheduler.steps_estimate == RUN_LENGTH and len(scheduler.change_points) == 3
    assert all(1 <= step <= RUN_LENGTH for step in scheduler.change_points)
    assert sorted(scheduler.change_points.values()) == [0, 1, 2]
    assert scheduler.threads == 2


def test_bad_parameters_are_rejected() -> None:
    for kwargs in ({"depth": 0}, {"steps_estimate": 0}, {"runs": -1}):
        with pytest.raises(PtocheckError):
            PCTScheduler(seed=0, **kwargs)
    with pytest.raises(PtocheckError):
        search(LostUpdate, "pct", bounds=SearchBounds(runs=0))
