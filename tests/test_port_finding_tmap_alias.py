"""Finding F-PORT-TMAP-STALE-ALIAS (properties/findings.py): a TensorMap entry outlives its buffer. W1 (ring 2)
wrote A1's x (ring 1); A1 is consumed and A2's y gets x's heap bytes while W1 is completed but not consumed, so
W2's lookup of y claims W1 and W2 then waits, holding that claim, for TensorMap room only W1's retirement frees:
TENSORMAP_OVERFLOW although INV-S6 holds (tests/regressions/tmap_stale_alias_stall.json). The reference model,
which matches TensorMap entries by address as the runtime does, reaches the same fatal
(tests/regressions/tmap_stale_alias_stall_model.json), and the port's run refines it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fuzz.campaigns.known import KNOWN, classify
from fuzz.campaigns.targets import model_action_function
from model.builders import BUILTIN_SCENARIOS
from model.dependencies import derive_all_edges
from model.program import ProgramInfo
from model.trb_model import TrbModel
from properties.artifacts import Signature, load_artifact
from properties.refinement import check_refinement
from properties.replay import replay_model_artifact, replay_port_artifact
from properties.sizing import check_sizing, heap_alias_lookups, static_outcome
from runtime.execution import run_once
from runtime.trb import consts as K
from tests.conftest import artifact_replay

ARTIFACT = Path(__file__).resolve().parent / "regressions" / "tmap_stale_alias_stall.json"
MODEL_ARTIFACT = Path(__file__).resolve().parent / "regressions" / "tmap_stale_alias_stall_model.json"
DEP_POOL_ARTIFACT = Path(__file__).resolve().parent / "regressions" / "tmap_stale_alias_dep_pool.json"
ALLOC_MARK_ARTIFACTS = [
    Path(__file__).resolve().parent / "regressions" / name
    for name in ("dep_pool_alloc_mark.json", "dep_pool_alloc_mark_model.json")
]
FINDING = "F-PORT-TMAP-STALE-ALIAS"


@pytest.mark.xfail(
    strict=True,
    reason=f"finding {FINDING} (properties/findings.py): a lookup at a reused heap address claims the stale "
    "writer, and the submit then waits for TensorMap room that only that writer's retirement frees",
)
def test_a_program_within_inv_s6_completes() -> None:
    assert not replay_port_artifact(load_artifact(ARTIFACT), "test").reproduced


@pytest.mark.xfail(
    strict=True,
    reason=f"finding {FINDING} (properties/findings.py): the reference model matches entries by address and "
    "reaches the same TENSORMAP_OVERFLOW",
)
def test_the_model_completes_a_program_within_inv_s6() -> None:
    assert not replay_model_artifact(load_artifact(MODEL_ARTIFACT), "test").reproduced


def test_the_stall_is_a_claim_on_the_writer_of_a_dead_tensor_at_the_same_address() -> None:
    artifact, system, scheduler = artifact_replay(ARTIFACT)
    assert artifact.failing_step is not None
    result = run_once(system, scheduler, max_steps=artifact.failing_step + 1, record_trace=True)
    assert result.trace[artifact.failing_step].op.cite.function == "orch_mark_fatal"
    assert system.fatal_code() == K.TENSORMAP_OVERFLOW
    plan = system.plan
    tasks = {t.name: t for t in plan.tasks}
    a1, w1 = tasks["A1"], tasks["W1"]

    def addr(buffer: str) -> int:
        return system.p[system.O_BUF + plan.buffer_index[buffer]]

    # y got x's heap bytes: A1 (x's creator, ring 1) is consumed ...
    assert addr("y") == addr("x") != 0
    assert system.c[system.R_LA + a1.ring] > a1.local
    # ... while x's last writer W1 (ring 2) is completed but not consumed, and holds an unreleased claim: W2's
    w1_slot = system.slot_of(w1.ring, w1.local)  # the global slot index of the port's per-slot arrays
    assert system.c[system.R_LA + w1.ring] == w1.local
    assert system.c[system.S_STATE + w1_slot] == K.COMPLETED
    assert (system.c[system.S_RC + w1_slot] & K.LOW_MASK) < (system.c[system.S_FC + w1_slot] & K.LOW_MASK)
    # the orchestrator's last claim (W2's submit: after its creator edge on A2) is on W1's slot, although the
    # program has no edge W1 -> W2 (x and y are different tensors)
    claims = [rec.op.what for rec in result.trace if rec.op.what.startswith("append_fanin_or_fail L(")]
    window = artifact.scenario.config.task_window[w1.ring]
    assert claims[-1].startswith(f"append_fanin_or_fail L(r{w1.ring}s{w1.local % window})")
    info = ProgramInfo(artifact.scenario)
    index = {t.name: t.index for t in info.tasks}
    assert (index["W1"], index["W2"]) not in {(row.pred, row.succ) for row in derive_all_edges(info)}
    # every entry still linked is W1's: the room W2 waits for can only come from W1's retirement
    live = system.tmap.live_entries()
    assert live and all((ring, local) == (w1.ring, w1.local) for _addr, ring, local in live)


def test_inv_s6_promises_completion_and_the_static_predicate_names_the_alias() -> None:
    scenario = load_artifact(ARTIFACT).scenario
    assert check_sizing(scenario).inv_s6
    expected = static_outcome(scenario)
    assert expected is not None and expected.fatal is None  # every task consumed
    assert heap_alias_lookups(scenario) == ["W2"]
    # a tensor's own writers never count, nor do programs whose heap tensors are not re-registered
    assert heap_alias_lookups(BUILTIN_SCENARIOS["pa_two_blocks"]()) == []
    assert heap_alias_lookups(BUILTIN_SCENARIOS["vector_example"]()) == []


def test_campaigns_report_it_as_the_registered_finding() -> None:
    artifact = load_artifact(ARTIFACT)
    assert classify(artifact.signature, (), artifact.scenario) == (KNOWN, FINDING)
    # the same fatal on a program without such a lookup is not this finding
    other = BUILTIN_SCENARIOS["pa_two_blocks"]()
    assert classify(artifact.signature, (), other)[0] != KNOWN


def test_the_ports_alias_claim_and_fatal_refine_the_model() -> None:
    """The port's claim of W1 through the reused address is a model action (the model derives the same edge),
    and so is the fatal: refinement holds along the whole recorded run."""
    _artifact, system, scheduler = artifact_replay(ARTIFACT)
    report, _result = check_refinement(system, scheduler, max_steps=len(scheduler.schedule))
    assert report.failure is None, report.failure
    assert report.by_kind.get("orch:claim", 0) == 3 and report.by_kind.get("fatal", 0) == 1, report.summary()


def test_the_model_campaign_signature_is_this_finding() -> None:
    artifact = load_artifact(MODEL_ARTIFACT)
    blamed = model_action_function(TrbModel(artifact.scenario), artifact.actions[-1])
    assert blamed == "ensure_tensormap_capacity"
    assert classify(Signature(artifact.scenario.runtime, "expected_outcome", blamed), (), artifact.scenario) == (
        KNOWN, FINDING)


def test_the_port_dfs_names_the_registered_finding_through_the_runs_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`explore --target port` finds the stall with one preemption. Its observers report a consequence (W2 never
    completed, blamed on the host's reset); the run's own fatal signature is the registered finding's, so the
    failure is reported as known and the command exits 0."""
    from fuzz.cli import main

    scenario_file = tmp_path / "alias.json"
    scenario_file.write_text(json.dumps(json.loads(ARTIFACT.read_text())["scenario"]))
    code = main(["explore", "--target", "port", "--preemptions", "1", str(scenario_file)])
    out = capsys.readouterr().out
    assert f"registered finding {FINDING} (the run's run.unexpected_fatal.TENSORMAP_OVERFLOW in orch_mark_fatal)" in out
    assert "NEW" not in out and code == 0


def test_a_fatal_no_finding_explains_stays_new(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fatal's signature only helps when it matches a registered finding: without this one the same DFS
    failure is NEW; and a run that ended without a fatal has no fatal signature."""
    import properties.findings as findings
    from fuzz.campaigns.known import NEW, classify_search_failure, fatal_signature
    from runtime.dfs import DfsEngine, FailedExecution
    from runtime.trb import TrbSystem

    scenario = load_artifact(ARTIFACT).scenario
    result = DfsEngine(lambda: TrbSystem(scenario), preemption_bound=1, iterative=True).run()
    failure = result.failures[0]
    assert fatal_signature(scenario, failure) == Signature(
        scenario.runtime, "run.unexpected_fatal.TENSORMAP_OVERFLOW", "orch_mark_fatal")
    assert classify_search_failure(scenario, lambda: TrbSystem(scenario), failure).finding == FINDING
    monkeypatch.setattr(findings, "FINDINGS", tuple(f for f in findings.FINDINGS if f.ident != FINDING))
    assert classify_search_failure(scenario, lambda: TrbSystem(scenario), failure).kind == NEW
    clean = FailedExecution("done", "p", "m", len(failure.schedule[:10]), failure.schedule[:10])
    assert fatal_signature(scenario, clean) is None


@pytest.mark.xfail(
    strict=True,
    reason=f"finding {FINDING} (properties/findings.py): the alias claim also stalls the dep-list pool's wait "
    "(ensure_space after the claims): DEP_POOL_OVERFLOW with the C++ TensorMap size",
)
def test_a_paged_attention_program_within_inv_s6_completes_with_a_small_dep_pool() -> None:
    assert not replay_port_artifact(load_artifact(DEP_POOL_ARTIFACT), "test").reproduced


def test_the_dep_pool_stall_is_told_apart_from_the_alloc_mark_finding_by_its_mechanism() -> None:
    """Both findings blame run.unexpected_fatal.DEP_POOL_OVERFLOW on ensure_space, and both scopes contain
    paged-attention programs; the replayed run decides: here the submit in progress holds a claim no program
    edge explains, and la does not stop after an alloc task. The alloc-mark finding's artifacts (port and
    model) show the opposite."""
    from properties.finding_mechanisms import holds_alias_claim, la_stops_after_an_alloc_task
    from properties.findings import FINDINGS

    artifact = load_artifact(DEP_POOL_ARTIFACT)
    assert artifact.scenario.config.constants.tensormap_pool_size == 65536  # the C++ size: not the TensorMap
    alloc_mark = next(f for f in FINDINGS if f.ident == "F-PORT-DEP-RECLAIM-ALLOC-MARK")
    assert alloc_mark.applies_to is not None and alloc_mark.applies_to(artifact.scenario)
    assert holds_alias_claim(artifact) and not la_stops_after_an_alloc_task(artifact)
    assert classify(artifact.signature, (), artifact.scenario, artifact) == (KNOWN, FINDING)
    for path in ALLOC_MARK_ARTIFACTS:
        other = load_artifact(path)
        assert la_stops_after_an_alloc_task(other) and not holds_alias_claim(other), path.name
        assert classify(other.signature, (), other.scenario, other) == (KNOWN, "F-PORT-DEP-RECLAIM-ALLOC-MARK")
