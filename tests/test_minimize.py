"""`ptocheck minimize`: smaller artifacts with the same failure signature that replay strictly."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.campaigns import FuzzOptions, run_campaign
from fuzz.cli import main
from fuzz.minimize import (
    LenientScheduler,
    MinimizeResult,
    Size,
    minimize,
    scenario_candidates,
    scenario_part,
    segments,
    switch_candidates,
)
from model.builders import BUILTIN_SCENARIOS
from model.scenario import Scenario, ScopeBegin, Submit, validate
from properties.artifacts import Artifact, load_artifact
from properties.replay import replay_model_artifact, replay_port_artifact

ROOT = Path(__file__).resolve().parent.parent
R7 = ROOT / "tests" / "regressions" / "f_model_r7.json"
FAST_MUTANT = "M_DEFERRED_RELEASE_DROP_ON_FULL"  # the default campaign, seed 1, finds it within 20 inputs


@pytest.fixture(scope="module")
def mutant_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = tmp_path_factory.mktemp("corpus")
    summary = run_campaign(
        FuzzOptions(
            campaign="default", seed=1, workers=1, iterations=40, corpus=corpus, mutants=(FAST_MUTANT,), stop_on_failure=True
        )
    )
    found = [f for f in summary.findings if f.classification == "mutant"]
    assert found, "the default campaign no longer finds the mutant within 40 inputs"
    return Path(found[0].path)


@pytest.fixture(scope="module")
def minimized(mutant_artifact: Path) -> MinimizeResult:
    # A budget of candidates, not seconds, so the result does not depend on the machine's load.
    return minimize(load_artifact(mutant_artifact), seconds=600, max_attempts=400)


def _size(a: Artifact) -> tuple[int, int, int, int]:
    return scenario_part(a.scenario)


def test_port_run_minimization_keeps_the_signature_and_replays_strictly(
    mutant_artifact: Path, minimized: MinimizeResult
) -> None:
    original = load_artifact(mutant_artifact)
    result = minimized
    small = result.minimized
    assert small.signature == original.signature and small.mutants == original.mutants == (FAST_MUTANT,)
    assert result.after <= result.before
    assert _size(small) <= _size(original)
    assert replay_port_artifact(small, "r").reproduced
    assert "minimized_from" not in small.extra and small.extra["campaign"] == "default"
    assert small.command == original.command  # the command that found it is kept


def test_minimize_command_writes_a_strictly_replayable_artifact(
    mutant_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "small.json"
    # a budget of candidates (the time limit is only a safety net far above what they take)
    argv = ["minimize", str(mutant_artifact), "-o", str(out), "--max-seconds", "600", "--max-candidates", "60"]
    assert main([*argv, "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "before: " in text and "after:  " in text and f"replay: ptocheck replay {out}" in text
    assert load_artifact(out).extra["minimized_from"] == str(mutant_artifact)
    assert main(["replay", str(out)]) == 1  # it still fails, exactly


def test_model_path_minimization_within_a_budget() -> None:
    original = load_artifact(R7)
    result = minimize(original, seconds=600, max_states=50_000, max_attempts=15)
    small = result.minimized
    assert small.signature == original.signature and small.finding == "F-MODEL-R7"
    assert result.after <= result.before
    assert replay_model_artifact(small, "r").reproduced


def test_lenient_scheduler_follows_names_and_avoids_preemptions() -> None:
    sched = LenientScheduler(["b", "gone", "a"], ["a", "b", "c"])
    assert sched.new_execution() and not sched.new_execution()
    assert sched.choose([0, 1, 2], None, 0) == 1  # recorded "b"
    assert sched.choose([0, 2], 1, 1) == 2  # "gone" does not exist, b cannot run: next after b
    assert sched.choose([1, 2], 2, 2) == 2  # recorded "a" cannot run: stay on c
    assert sched.choose([0, 1], None, 9) == 0


def _nested() -> Scenario:
    return BUILTIN_SCENARIOS["vector_example"]()


def test_scenario_candidates_are_smaller_and_mostly_valid() -> None:
    sc = _nested()
    valid = 0
    seen = 0
    for what, cand in scenario_candidates(sc):
        seen += 1
        assert what
        try:
            validate(cand)
        except Exception:
            continue
        valid += 1
        smaller = scenario_part(cand) < scenario_part(sc) or cand.config != sc.config or cand.runs < sc.runs
        assert smaller, what
    assert seen > 5 and valid > seen // 2


def test_removing_a_task_removes_the_uses_of_what_it_created() -> None:
    sc = _nested()
    creator = next(op for op in sc.program if isinstance(op, Submit) and any(a.creates for a in op.args))
    created = {a.creates.name for a in creator.args if a.creates}
    cand = next(c for what, c in scenario_candidates(sc) if what == f"remove task {creator.name}")
    validate(cand)
    for op in cand.program:
        if isinstance(op, Submit):
            assert not {a.region.buffer for a in op.args if a.region} & created
    assert sum(isinstance(op, ScopeBegin) for op in cand.program) == sum(isinstance(op, ScopeBegin) for op in sc.program)


def test_size_orders_tasks_first_and_preemptions_before_steps() -> None:
    assert Size(1, 9, 9, 9, preemptions=99, steps=999) < Size(2, 0, 0, 0, preemptions=0, steps=1)
    assert Size(2, 1, 1, 1, preemptions=3, steps=10) < Size(2, 1, 1, 1, preemptions=4, steps=10)
    assert Size(2, 1, 1, 1, preemptions=0, steps=140) < Size(2, 1, 1, 1, preemptions=1, steps=120)


def test_switch_candidates_merge_a_threads_stretches_and_move_switches() -> None:
    schedule = list("aabbaacc")
    assert segments(schedule) == [("a", 0, 2), ("b", 2, 4), ("a", 4, 6), ("c", 6, 8)]
    cands = {what: "".join(c) for what, c in switch_candidates(schedule)}
    assert cands["run a's steps 4..5 right after its steps 0..1"] == "aaaabbcc"
    assert cands["run a's steps 0..1 right before its steps 4..5"] == "bbaaaacc"
    assert cands["switch away from a 1 step(s) later than step 2"] == "aaabbacc"
    assert cands["switch to b 1 step(s) earlier than step 2"] == "abbaaacc"
    for c in cands.values():  # every candidate reorders the same steps
        assert sorted(c) == sorted(schedule)


def test_needless_preemptions_are_minimized_away(minimized: MinimizeResult) -> None:
    """A failure found under a random schedule (many context switches that do not matter) minimizes to a
    schedule with far fewer preemptions, which replays strictly."""
    result = minimized
    assert result.before.preemptions >= 5, "the found artifact has too few preemptions to show anything"
    assert result.after.preemptions <= result.before.preemptions // 4
    assert not result.stopped_by_budget or result.attempts == 400
    assert replay_port_artifact(result.minimized, "r").reproduced


def test_minimize_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["minimize", str(tmp_path / "absent.json")]) == 2
    assert main(["minimize", str(R7), "--max-seconds", "0"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "cannot read the artifact" in err[0] and "--max-seconds must be positive" in err[1]
