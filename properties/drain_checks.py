"""INV-D5 on the port's sync_start drain (runtime/trb/sync_drain.py): checks, witnesses, scenarios.

Judged at the drain's ghost events, as functions of the port's state and ghost counters (DFS replays a
prefix without observers, so nothing here remembers what it saw):
  * drain_attempt_consistent: stage_go is published only when every scheduler's ack belongs to the
    barrier episode in force (an episode starts at every won enter_drain_mode and every capacity reset):
    no barrier state combined across attempts.
  * drain_all_or_nothing: outside a drain a cohort's block is published only after the whole cohort was
    claimed; a drain reopens the gate only after every block was claimed and dispatched once.
  * drain_block_once: a block of a sync_start cohort is dispatched at most once per run.
  * drain_no_split_barrier (end of run): no run ends with scheduler threads parked in drain spins.
The witnesses (`DrainWitnesses`) show the extension is exercised: a drain entered, a capacity reset, a
later attempt of the same drain that stages, a thread parked between its ack and the stage decision
while the attempt changes, a cohort placed whole by the local fast path.
"""

from __future__ import annotations

from model.scenario import Arg, Config, OutputSpec, Region, Scenario, Submit, Tag, validate
from runtime.core import Executor, Failure, StepRecord
from runtime.execution import DEADLOCK
from runtime.trb.sync_drain import PH_ACKED, PH_NONE
from runtime.trb.system import TrbSystem

DRAIN_PROPERTY_NAMES = (
    "drain_attempt_consistent", "drain_all_or_nothing", "drain_block_once", "drain_no_split_barrier",
)
DRAIN_WITNESS_NAMES = (
    "drain_entered", "drain_capacity_reset", "drain_staged_after_reset", "drain_parked_across_attempt",
    "drain_cohort_local",
)


class DrainChecks:
    """Observer: the INV-D5 properties above (only for a plan with a sync_start cohort)."""

    def __init__(self, system: TrbSystem, enabled: frozenset[str] | None = None) -> None:
        self.s = system
        self.enabled = frozenset(DRAIN_PROPERTY_NAMES) if enabled is None else enabled
        self.pending: Failure | None = None
        self._inner = system.ghost
        system.ghost = self._on_ghost  # type: ignore[method-assign]

    def _on_ghost(self, kind: str, task: int, extra: int = 0) -> None:
        self._inner(kind, task, extra)
        if self.pending is None:
            self.pending = self._judge(kind, task, extra)

    def _fail(self, prop: str, message: str) -> Failure | None:
        if prop not in self.enabled:
            return None
        return Failure(prop, message, -1)

    def _judge(self, kind: str, task: int, extra: int) -> Failure | None:
        s = self.s
        if kind == "drain-go":
            stale = [t for t in range(s.n_sched) if s.drain_acked[t] != s.drain_episode]
            if stale:
                acks = ", ".join(f"sched{t}: {s.drain_acked[t]}" for t in range(s.n_sched))
                return self._fail("drain_attempt_consistent", (
                    f"sched{extra} published stage_go for {self._name(task)} in barrier episode {s.drain_episode} "
                    f"while the acks belong to episodes [{acks}] (state combined across attempts)"))
            return None
        if task < 0 or not s.plan.tasks[task].sync_start:
            return None
        tp = s.plan.tasks[task]
        g = s.slot_of(tp.ring, tp.local)
        c = s.c
        if kind == "dispatch":
            # one dispatch event per subtask (core) of the block
            n = s.ghost_block_dispatch.get((s.round, task, extra), 0)
            per_block = tp.mask.bit_count()
            if n > per_block:
                return self._fail("drain_block_once", (
                    f"block {extra} of {tp.name} dispatched {n} subtasks (a block has {per_block})"))
            in_drain = c[s.DR_PENDING] > 0 and c[s.DR_TASK] == g + 1
            if not in_drain and c[s.S_NEXT + g] != c[s.S_BLOCKS + g]:
                return self._fail("drain_all_or_nothing", (
                    f"block {extra} of {tp.name} published outside a drain with only {c[s.S_NEXT + g]} of "
                    f"{c[s.S_BLOCKS + g]} blocks claimed"))
            return None
        if kind == "drain-reopen":
            per_block = tp.mask.bit_count()
            missing = [b for b in range(tp.block_num)
                       if s.ghost_block_dispatch.get((s.round, task, b), 0) != per_block]
            if c[s.S_NEXT + g] != tp.block_num or missing:
                return self._fail("drain_all_or_nothing", (
                    f"sched{extra} reopened the gate for {tp.name} with next_block_idx {c[s.S_NEXT + g]} of "
                    f"{tp.block_num} and blocks {missing} not dispatched exactly once"))
        return None

    def _name(self, task: int) -> str:
        return self.s.plan.tasks[task].name if task >= 0 else "no task"

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        if self.pending is not None:
            failure, self.pending = self.pending, None
            return Failure(failure.property_id, f"{failure.message} (after {rec.op.what})", rec.index)
        return None

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        if self.pending is not None:
            failure, self.pending = self.pending, None
            return Failure(failure.property_id, failure.message, ex.steps)
        s = self.s
        if outcome == DEADLOCK and "drain_no_split_barrier" in self.enabled:
            parked = [f"sched{t} waits for {s.drain_wait[t]}" for t in range(s.n_sched) if s.drain_wait[t]]
            if parked:
                state = (f"sync_start_pending {s.c[s.DR_PENDING]}, drain_attempt {s.c[s.DR_ATTEMPT]}, stage_go "
                         f"{s.c[s.DR_GO]}, stage_done {s.c[s.DR_DONE]:#x}")
                return Failure("drain_no_split_barrier", f"{'; '.join(parked)} ({state})", ex.steps)
        return None


class DrainWitnesses:
    """Observer that never fails: the first step at which each drain witness held."""

    def __init__(self, system: TrbSystem) -> None:
        self.s = system
        self.seen: dict[str, int] = {}
        self.step = 0
        self._inner = system.ghost
        system.ghost = self._on_ghost  # type: ignore[method-assign]

    def _saw(self, name: str) -> None:
        self.seen.setdefault(name, self.step)

    def _on_ghost(self, kind: str, task: int, extra: int = 0) -> None:
        self._inner(kind, task, extra)
        s = self.s
        if kind == "drain-enter":
            self._saw("drain_entered")
        if kind == "drain-reset":
            self._saw("drain_capacity_reset")
        if kind in ("drain-reset", "drain-enter"):
            previous = s.drain_episode - 1
            if any(t != extra and s.drain_phase[t] == PH_ACKED and s.drain_acked[t] == previous
                   for t in range(s.n_sched)):
                self._saw("drain_parked_across_attempt")
        if kind == "drain-go" and s.drain_resets > 0:
            self._saw("drain_staged_after_reset")
        if kind == "dispatch" and task >= 0 and s.plan.tasks[task].sync_start:
            tp = s.plan.tasks[task]
            g = s.slot_of(tp.ring, tp.local)
            if s.c[s.DR_TASK] != g + 1 and all(p == PH_NONE for p in s.drain_phase):
                self._saw("drain_cohort_local")

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        self.step = rec.index + 1
        return None

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        return None


def _out(name: str) -> Arg:
    return Arg(Tag.OUTPUT, creates=OutputSpec(name, (16,), "FLOAT32"))


def drain_holder_cohort(
    clusters: int = 3, threads: int = 3, holders: int = 1, block_num: int | None = None,
    kernels: tuple[int, int, int] = (0, 1, 1), gated: bool = True, name: str = "drain_holder_cohort",
) -> Scenario:
    """The catalogue J04 shape scaled down: a sync_start cohort S needs every cluster (`block_num`, default
    all of them) while `holders` independent tasks hold cores, so a drain attempt can be short and reset
    and a later one stage. `gated`: S waits for a producer Q submitted first and the holders are submitted
    after S, so S becomes ready (Q completes) while holders run; otherwise holders come first and S has
    no producer."""
    n = clusters if block_num is None else block_num
    cfg = Config(task_window=(16,) * 4, heap_bytes=(1024 * (holders + 3),) * 4, dep_pool=(16,) * 4,
                 scheduler_threads=threads, clusters=clusters)
    holder_tasks = [Submit(f"H{i}", kernels, (_out(f"h{i}"),)) for i in range(holders)]
    prog: list[object] = []
    if gated:
        prog.append(Submit("Q", kernels, (_out("q"),)))
        prog.append(Submit("S", kernels, (Arg(Tag.INPUT, Region("q", (16,), (1,))), _out("s")), block_num=n,
                           sync_start=True))
        prog += holder_tasks
    else:
        prog += holder_tasks
        prog.append(Submit("S", kernels, (_out("s"),), block_num=n, sync_start=True))
    return validate(Scenario(name, cfg, (), tuple(prog)))  # type: ignore[arg-type]
