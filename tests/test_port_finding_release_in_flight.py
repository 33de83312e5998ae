"""Finding F-PORT-RELEASE-IN-FLIGHT-REBOUND (properties/findings.py): F-MODEL-R7's race caught mid-release.
A scheduler flushing its deferred on_task_release of C is preempted between two release_producer steps; C is
consumed and its slot rebound meanwhile, and the rest of the release walks the new occupant's fanin list,
releasing a producer nobody claimed for it (fanout_refcount above fanout_count, INV-L2)
(tests/regressions/release_in_flight_rebound.json)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.campaigns.known import KNOWN, classify
from properties.artifacts import load_artifact
from properties.replay import replay_port_artifact
from runtime.core import Executor, Failure, StepRecord
from runtime.execution import run_once
from runtime.trb import TrbSystem
from tests.conftest import artifact_replay

ARTIFACT = Path(__file__).resolve().parent / "regressions" / "release_in_flight_rebound.json"
FINDING = "F-PORT-RELEASE-IN-FLIGHT-REBOUND"


@pytest.mark.xfail(
    strict=True,
    reason=f"finding {FINDING} (properties/findings.py): a deferred on_task_release in flight outlives its "
    "slot's binding and releases the new occupant's producer",
)
def test_every_release_matches_a_claim() -> None:
    assert not replay_port_artifact(load_artifact(ARTIFACT), "test").reproduced


class _ReleaseStarts:
    """(step, thread, slot, local id) of every on_task_release the port starts, in order."""

    def __init__(self, system: TrbSystem) -> None:
        self.system = system
        self.starts: list[tuple[int, int, int, int]] = []
        self._step = 0
        original = system.on_task_release

        def recording(g: int, t: int):  # type: ignore[no-untyped-def]
            self.starts.append((self._step, t, g, system.c[system.D_LOCAL + g]))
            return (yield from original(g, t))

        system.on_task_release = recording  # type: ignore[method-assign]

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        self._step = rec.index + 1
        return None

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        return None


def test_the_releasing_consumer_was_rebound_while_its_release_ran() -> None:
    """At the failing step, the thread that releases the unclaimed producer is inside an on_task_release it
    started while its consumer's slot held another task: the slot has been rebound since."""
    artifact, system, scheduler = artifact_replay(ARTIFACT)
    starts = _ReleaseStarts(system)
    assert artifact.failing_step is not None
    result = run_once(system, scheduler, [starts], max_steps=artifact.failing_step + 1, record_trace=True)
    failing = result.trace[artifact.failing_step]
    assert failing.op.what.startswith("release_producer(")
    _step, _t, slot, local_then = [s for s in starts.starts if s[1] == failing.tid - 1][-1]
    assert system.c[system.D_LOCAL + slot] != local_then


def test_campaigns_report_it_as_the_registered_finding() -> None:
    artifact = load_artifact(ARTIFACT)
    assert classify(artifact.signature, (), artifact.scenario) == (KNOWN, FINDING)
