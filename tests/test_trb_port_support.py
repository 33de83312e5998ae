"""Shared helpers of the TRB port tests (no tests here): small scenarios, cheap observers, ghost checks."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from model.builders import BUILTIN_SCENARIOS
from model.dependencies import derive_all_edges
from model.program import WAIT, ProgramInfo
from model.scenario import (
    Arg,
    Buffer,
    Config,
    Constants,
    OutputSpec,
    Region,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    Submit,
    Tag,
    validate,
)
from runtime.core import Executor, Failure, StepRecord
from runtime.execution import RandomScheduler, RoundRobinScheduler, RunResult, run_once
from runtime.trb import TrbSystem

TRB_BUILTINS = sorted(n for n, f in BUILTIN_SCENARIOS.items() if f().runtime == "tensormap_and_ringbuffer")


def small_config(window: int = 4, threads: int = 1, clusters: int = 1, **consts: int) -> Config:
    return Config(
        task_window=(window,) * 4,
        heap_bytes=(4096,) * 4,
        dep_pool=(16,) * 4,
        scheduler_threads=threads,
        clusters=clusters,
        constants=Constants(**consts),
    )


def scoped_groups(groups: int, per: int, window: int = 4, threads: int = 1, clusters: int = 1) -> Scenario:
    """`groups` scopes (ring 1) of `per` independent AIV tasks each."""
    prog: list[Any] = []
    k = 0
    for _ in range(groups):
        prog.append(ScopeBegin())
        for _ in range(per):
            prog.append(Submit(f"t{k}", (-1, 0, -1)))
            k += 1
        prog.append(ScopeEnd())
    return validate(Scenario(f"groups{groups}x{per}", small_config(window, threads, clusters), (), tuple(prog)))


def token_collision() -> Scenario:
    """X (ring 0, local 0) and its reader Y (ring 1, local 0) on the only AIC core: equal local ids."""
    prog = (
        Submit("X", (0, -1, -1), args=(Arg(Tag.OUTPUT, creates=OutputSpec("bx", (16,), "FLOAT32")),)),
        ScopeBegin(),
        Submit("Y", (1, -1, -1), args=(Arg(Tag.INPUT, region=Region("bx", (16,), (1,))),)),
        ScopeEnd(),
    )
    return validate(Scenario("token_collision", small_config(), (), prog))


def tiles_then_reader(n: int = 2) -> Scenario:
    """n INOUT writers of disjoint tiles of X, then one reader of all of X (G01's shape)."""
    prog: list[Any] = [ScopeBegin()]
    for i in range(n):
        prog.append(Submit(f"w{i}", (-1, 0, -1), args=(Arg(Tag.INOUT, region=Region("X", (4,), (1,), offset=4 * i)),)))
    prog.append(Submit("r", (-1, 0, -1), args=(Arg(Tag.INPUT, region=Region("X", (4 * n,), (1,))),)))
    prog.append(ScopeEnd())
    cfg = small_config(8, threads=2, clusters=2)
    return validate(Scenario("tiles_then_reader", cfg, (Buffer("X", "FLOAT32", 4 * n, True),), tuple(prog)))


def builtin(name: str, **changes: Any) -> Scenario:
    s = BUILTIN_SCENARIOS[name]()
    runs = changes.pop("runs", None)
    consts = changes.pop("constants", None)
    if changes:
        s = s.with_config(**changes)
    if consts:
        s = s.with_config(constants=dataclasses.replace(s.config.constants, **consts))
    if runs is not None:
        s = dataclasses.replace(s, runs=runs)
    return s


def run(
    scenario: Scenario, seed: int = -1, mutants: tuple[str, ...] = (), observers: tuple[type, ...] = (),
    max_steps: int = 300_000, trace: bool = False,
) -> tuple[RunResult, TrbSystem, list[Any]]:
    """One run: round-robin for seed < 0, else the random scheduler with that seed."""
    system = TrbSystem(scenario, mutants)
    scheduler = RoundRobinScheduler() if seed < 0 else RandomScheduler(seed)
    scheduler.new_execution()
    obs = [o(system) for o in observers]
    result = run_once(system, scheduler, observers=obs, max_steps=max_steps, record_trace=trace)
    return result, system, obs


def ghost_problems(system: TrbSystem) -> list[tuple[int, str, tuple[int, int, int, int]]]:
    """Tasks not submitted, completed and consumed exactly once, or whose kernels did not all run."""
    out = []
    for r in range(system.runs):
        for ti, task in enumerate(system.plan.tasks):
            status = system.task_status(r, ti)
            if status[:3] != (1, 1, 1) or status[3] != task.total_subtasks:
                out.append((r, task.name, status))
    return out


def order_violations(system: TrbSystem) -> list[tuple[int, str, str]]:
    """WAIT edges P -> C (derived independently by the reference model) where C started (dispatch, or an
    inline dummy completion) before P completed, per run."""
    info = ProgramInfo(system.scenario)
    edges = [(row.pred, row.succ) for row in derive_all_edges(info) if row.flags & WAIT]
    started: dict[tuple[int, int], int] = {}
    done: dict[tuple[int, int], int] = {}
    for i, (kind, r, task, _extra) in enumerate(system.events):
        if kind == "completed":
            done.setdefault((r, task), i)
        if kind in ("dispatch", "completed"):
            started.setdefault((r, task), i)
    bad = []
    for r in range(system.runs):
        for p, c in edges:
            s = started.get((r, c))
            if s is None:
                continue
            d = done.get((r, p))
            if d is None or d > s:
                bad.append((r, system.plan.tasks[p].name, system.plan.tasks[c].name))
    return bad


class HeapBounds:
    """INV-H1 on the live tasks of each ring: buffers inside the ring's heap and pairwise disjoint."""

    def __init__(self, system: TrbSystem) -> None:
        self.s = system

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        s, c = self.s, self.s.c
        for r in range(4):
            base, size = s.heap_base[r], s.heap_size[r]
            spans = []
            for tid in range(c[s.R_LA + r], c[s.R_CUR + r]):
                g = s.slot_of(r, tid)
                if c[s.D_LOCAL + g] != tid or c[s.D_RING + g] != r:
                    continue  # descriptor not written yet for this generation
                b, e = c[s.D_BASE + g], c[s.D_END + g]
                if e > b:
                    if b < base or e > base + size:
                        return Failure("INV-H1", f"r{r} task {tid} buffer outside the heap", rec.index)
                    spans.append((b, e, tid))
            spans.sort()
            for (_b1, e1, t1), (b2, _e2, t2) in itertools.pairwise(spans):
                if b2 < e1:
                    return Failure("INV-H1", f"r{r} live buffers of {t1} and {t2} overlap", rec.index)
        return None

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        return None


class LaMonotone:
    """INV-R2: last_task_alive never moves back within a run."""

    def __init__(self, system: TrbSystem) -> None:
        self.s = system
        self.la = [0, 0, 0, 0]
        self.round = -1

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        s = self.s
        if s.round != self.round:
            self.round, self.la = s.round, [0, 0, 0, 0]
        for r in range(4):
            la = s.c[s.R_LA + r]
            if la < self.la[r] and s.c[s.R_CUR + r] > 0:
                return Failure("INV-R2", f"r{r} last_task_alive {self.la[r]} -> {la}", rec.index)
            self.la[r] = la
        return None

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        return None


class ClaimOnConsumed:
    """INV-L1: a claim (fanout_count++) only while the producer is not CONSUMED."""

    def __init__(self, system: TrbSystem) -> None:
        self.s = system
        self.ops = {id(op): g for g, op in enumerate(system.OP_CLAIM_FC)}

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        g = self.ops.get(id(rec.op))
        if g is not None and self.s.c[self.s.S_STATE + g] == 2:
            return Failure("INV-L1", f"claim on CONSUMED {self.s.slot_label(g)}", rec.index)
        return None

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        return None


class PassedUnconsumed:
    """Records each time last_task_alive passes a task of this run that was never CONSUMED (INV-R8)."""

    def __init__(self, system: TrbSystem) -> None:
        self.s = system
        self.la = [0, 0, 0, 0]
        self.round = -1
        self.hits: list[tuple[int, int, int]] = []

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        s = self.s
        if s.round != self.round:  # a new launch: the SM still holds the previous run's watermarks
            self.round, self.la = s.round, [s.c[s.R_LA + r] for r in range(4)]
        for r in range(4):
            la = s.c[s.R_LA + r]
            for tid in range(self.la[r], la):
                ti = s.plan.task_at.get((r, tid))
                if ti is not None and s.ghost_consumed[s.round][ti] == 0:
                    self.hits.append((rec.index, r, tid))
            self.la[r] = la  # also follows the per-run reset to 0
        return None

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        return None
