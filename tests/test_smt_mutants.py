"""Negative controls: each catalogue mutant of the encodings is refuted, decoded, and replayed."""

from __future__ import annotations

import dataclasses

import pytest

from properties.smt import suite
from properties.smt.replay_mutants import REPLAYS, MutantReplay
from properties.smt.vcs import COUNTEREXAMPLE, Row

pytestmark = pytest.mark.smt


@pytest.fixture(scope="module")
def mutant_rows() -> dict[str, object]:
    return {row.invariant.split(":")[0]: row for row in suite.mutant_rows(suite.Options())}


@pytest.mark.parametrize("ident,name", [(m[0], m[1]) for m in suite.MUTANTS])
def test_mutant_is_caught(mutant_rows: dict[str, object], ident: str, name: str) -> None:
    row = mutant_rows[f"{ident} {name}"]
    assert row.result == COUNTEREXAMPLE, row.detail  # type: ignore[attr-defined]
    ce = row.counterexample  # type: ignore[attr-defined]
    assert ce is not None and ce.pre
    assert row.replay and not row.replay_failed, row.replay  # type: ignore[attr-defined]


@pytest.mark.parametrize("ident", ["B01", "B02", "B02'", "#1514"])
def test_heap_mutant_counterexample_replays_on_the_model(mutant_rows: dict[str, object], ident: str) -> None:
    """The decoded pre-state is a real model state; the correct allocator (the model) refuses the step
    or keeps the property, while the mutant's successor violates INV-H1/H2 (evaluated in Python)."""
    row = next(r for k, r in mutant_rows.items() if k.startswith(ident + " "))
    report = row.extra["replay"]  # type: ignore[attr-defined]
    assert report.property_on_encoding is False
    assert report.model_step in ("refused", "taken")
    if report.model_step == "taken":
        assert report.property_on_model is True
        assert report.agrees is False


@pytest.mark.parametrize("ident", ["E01", "A01", "A01b", "D01", "C01", "A04", "P4"])
def test_mutant_counterexample_replays_on_the_model_with_the_mutation(mutant_rows: dict[str, object], ident: str) -> None:
    """Replayed twice on the model's code at the decoded pre-state: the correct model keeps the property,
    the model with the mutation at the arithmetic level reaches the encoding's successor and breaks it."""
    row = next(r for k, r in mutant_rows.items() if k.startswith(ident + " "))
    report = row.extra.get("replay")  # type: ignore[attr-defined]
    assert isinstance(report, MutantReplay), row.replay  # type: ignore[attr-defined]
    assert report.agrees and report.property_on_model and not report.property_on_mutated
    assert row.ok and not row.replay_failed  # type: ignore[attr-defined]


def test_a_replay_disagreement_fails_the_row(mutant_rows: dict[str, object]) -> None:
    """A decoded successor the model does not reproduce (one release too many) is a disagreement, and a
    row whose counterexample does not replay is not ok even though its result is the expected one."""
    row = mutant_rows["A01b M_CLAIM_OUTSIDE_LOCK"]
    ce = row.counterexample  # type: ignore[attr-defined]
    assert ce.post is not None
    wrong = dataclasses.replace(ce, post={**ce.post, "r": ce.post["r"] + 1})
    report = REPLAYS["A01b"](wrong)
    assert not report.agrees and not report.consistent
    assert isinstance(row, Row)
    failed = dataclasses.replace(row, replay_failed=True)
    assert failed.result == COUNTEREXAMPLE and not failed.ok


def test_window_and_pool_mutants_replay(mutant_rows: dict[str, object]) -> None:
    r1 = mutant_rows["R1 M_WINDOW_OFF_BY_ONE"]
    rep = r1.extra["replay"]  # type: ignore[attr-defined]
    assert rep.model_step == "refused" and rep.property_on_encoding is False
    c01 = mutant_rows["C01' M_DEPPOOL_RECLAIM_OWN_MARK"]
    rep = c01.extra["replay"]  # type: ignore[attr-defined]
    assert rep.property_on_encoding is False and rep.property_on_model is True
