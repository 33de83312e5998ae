"""The TRB port's op footprints cover what each step touches (partial-order reduction and the incremental
property checks trust them): a dynamic audit over random runs, a planted omission it must catch, and the
DFS engine's own footprint / commutation checks on a small scenario."""

from __future__ import annotations

import dataclasses

from runtime.dfs import DfsEngine
from runtime.trb import TrbSystem
from runtime.trb.audit import AuditedTrb, audit, audit_run
from tests.test_trb_port_support import builtin, scoped_groups, tiles_then_reader, token_collision


def test_footprints_cover_every_step_on_small_scenarios() -> None:
    scenarios = [
        scoped_groups(3, 2),
        scoped_groups(3, 2, threads=2, clusters=2),
        token_collision(),
        tiles_then_reader(),
        builtin("dummy_dense_fanout_fanin", constants={"fanin_inline_cap": 4}),  # spills
        builtin("pa_two_blocks", runs=2),
        builtin("pa_scope_deadlock"),  # fatal, emergency shutdown, device reset
    ]
    problems = audit(scenarios, range(3))
    assert problems == [], "\n".join(p.text() for p in problems[:20])


def test_footprints_cover_every_step_under_a_mutant() -> None:
    problems = audit([builtin("pa_two_blocks", runs=2)], range(2), ["M_COMPLETION_FLAG_NO_GENERATION"])
    assert problems == [], "\n".join(p.text() for p in problems[:20])


class _ForgetsLastRegister(AuditedTrb):
    """Plants an omission: the AICore's FIN step no longer declares its last_reg_val write."""

    def _build_ops(self) -> None:
        super()._build_ops()
        self.OP_CORE_FIN = [
            dataclasses.replace(op, writes=tuple(x for x in op.writes if x != self.C_LAST + k))
            for k, op in enumerate(self.OP_CORE_FIN)
        ]


def test_the_audit_catches_a_planted_omission() -> None:
    problems = audit_run(scoped_groups(2, 1), 0, system_type=_ForgetsLastRegister)
    assert any(p.kind == "undeclared-write" and "last_reg_val" in " ".join(p.cells) for p in problems), problems


def test_dfs_footprint_and_commutation_checks_pass() -> None:
    scenario = scoped_groups(2, 1)
    engine = DfsEngine(
        lambda: TrbSystem(scenario),
        preemption_bound=1,
        check_footprints=True,
        check_commutation=True,
        check_replay=True,
        max_states=3000,
    )
    result = engine.run()
    assert not result.failures, result.verdict()
