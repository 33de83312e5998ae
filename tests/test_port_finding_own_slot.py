"""Finding F-PORT-OWN-SLOT-SELF-CLAIM (properties/findings.py): on a program that views a tensor after its
creator's scope ended, the consumer that took the retired creator's slot passes append_fanin_or_fail's
generation check against itself (prepare_task set PENDING, the descriptor still names the old task), so the
runtime wires a RETAIN claim on a retired producer and reuses its heap bytes under the reader. The port's
instance of the Z3 finding F-SMT-G1-OWN-SLOT (tests/regressions/port_own_slot_self_claim.json)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fuzz.campaigns.known import KNOWN, classify
from properties.artifacts import Signature, load_artifact
from properties.replay import replay_port_artifact
from properties.sizing import stale_tensor_uses
from runtime.core import Executor, Failure, StepRecord
from runtime.execution import run_once
from runtime.trb import consts as K
from tests.conftest import artifact_replay

ARTIFACT = Path(__file__).resolve().parent / "regressions" / "port_own_slot_self_claim.json"
FINDING = "F-PORT-OWN-SLOT-SELF-CLAIM"


@pytest.mark.xfail(
    strict=True,
    reason=f"finding {FINDING} (properties/findings.py): a consumer on a retired creator's slot claims itself, "
    "and the creator's heap bytes are reused while it waits to read them",
)
def test_no_heap_bytes_are_reused_under_a_retain_reader() -> None:
    assert not replay_port_artifact(load_artifact(ARTIFACT), "test").reproduced


def test_the_mechanism_is_a_claim_on_the_consumers_own_slot() -> None:
    """Just after t5's claim: t5's slot is t1's old slot, still carrying t1's local id with state PENDING, and
    its fanout_count holds t5's own claim on top of the scope's."""
    artifact, system, scheduler = artifact_replay(ARTIFACT)
    s, c = system, system.c
    t1, t5 = s.plan.task_index["t1"], s.plan.task_index["t5"]
    ring, w = s.plan.tasks[t5].ring, s.windows[s.plan.tasks[t5].ring]
    assert s.plan.tasks[t1].ring == ring and s.plan.tasks[t5].local == s.plan.tasks[t1].local + w
    slot = s.slot_of(ring, s.plan.tasks[t5].local)
    seen: list[tuple[int, int, int]] = []

    class AtClaim:
        def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
            if rec.op.what.startswith(f"append_fanin_or_fail L({s.slot_label(slot)})"):
                seen.append((c[s.D_LOCAL + slot], c[s.S_STATE + slot], c[s.S_FC + slot]))
            return None

        def at_end(self, ex: Executor, outcome: str) -> Failure | None:
            return None

    assert artifact.failing_step is not None
    run_once(system, scheduler, [AtClaim()], max_steps=artifact.failing_step + 1)
    assert seen, "t5 never claimed its own slot"
    local, state, fanout = seen[0]
    assert local == s.plan.tasks[t1].local and state == K.PENDING  # t1's id; prepare_task ran, STEP 5 not yet
    assert fanout & K.LOW_MASK == 1  # beside the scope's bit, t5's own claim


def test_campaigns_report_it_as_the_registered_finding_only_on_stale_programs() -> None:
    artifact = load_artifact(ARTIFACT)
    assert stale_tensor_uses(artifact.scenario) == ["t5"]
    signature = Signature(artifact.scenario.runtime, "retain_reader_before_reuse", "prepare_task")
    assert classify(signature, (), artifact.scenario) == (KNOWN, FINDING)
    in_contract = dataclasses.replace(artifact.scenario, program=())  # no stale use: not this finding
    assert classify(signature, (), in_contract)[0] != KNOWN
