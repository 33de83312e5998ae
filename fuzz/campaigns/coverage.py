"""Coverage that means something for this runtime, as named features counted over a campaign.

A feature is a string `category:detail`. On the reference model (every state a bounded exploration
expands): which model actions and orchestrator steps were enabled (`action:`, `orch:`), which
(ring, slot, state) pairs occurred (`slot:r1s2:COMPLETED`, the state of the slot's newest occupant),
why the orchestrator waited (`blocked:heap full`), which fatal codes could latch (`fatal:`), and which
"sometimes" witnesses were reached (`witness:`). On the port (every executed step): the C++ functions
run (`port.fn:`), the (ring, slot, task_state) values written (`port.slot:`), the functions the
orchestrator was blocked in (`port.blocked:`), the backstops that fired (`port.backstop:`), how many
producers a submit's TensorMap lookup returned and how many of them had not completed yet (`port.lookup:`,
bucketed; the runtime's lookup result was a fixed 16-producer buffer until #669), and how runs ended
(`outcome:`). Scenario features (`scenario:`, properties.features.static_features) say which
program shapes were generated at all.

`CoverageMap` counts how many executions reached each feature; an input that reaches a feature no
execution reached before joins the corpus, and inputs are picked for mutation in proportion to the
rarity of what they reach (the sum of 1/count over their features), which steers a campaign towards
what is not yet covered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from model.program import I_ALLOC, I_BEGIN, I_DONE, I_END, I_SUBMIT, I_TDATA
from model.protocol import Property
from model.scenario import FatalCode
from model.trb_model import (
    A_FATAL,
    A_ORCH,
    ACTION_NAMES,
    NONE,
    PHASE_NAMES,
    S_TASKS,
    T_ST,
    Action,
    Blocked,
    State,
    TrbModel,
)
from runtime.core import Executor, Failure, StepRecord
from runtime.trb import TrbSystem
from runtime.trb.consts import COMPLETED

MODEL_STATUS = ("NONE", "PENDING", "COMPLETED", "CONSUMED")
INSTR_NAMES = {I_BEGIN: "scope_begin", I_END: "scope_end", I_SUBMIT: "submit", I_ALLOC: "alloc", I_TDATA: "tensor_data", I_DONE: "done"}

CATEGORIES: dict[str, str] = {
    "action": "model actions",
    "orch": "model orchestrator steps",
    "slot": "model (ring, slot, state) pairs",
    "blocked": "model flow-control blocking reasons",
    "fatal": "fatal codes reachable in the model",
    "witness": "model 'sometimes' witnesses",
    "port.fn": "port C++ functions executed",
    "port.slot": "port (ring, slot, task_state) writes",
    "port.blocked": "port orchestrator waits",
    "port.backstop": "port time-based backstops fired",
    "port.pressure": "port heap gaps and dep-pool fill levels reached",
    "port.lookup": "port TensorMap lookup result sizes (producers returned / still running)",
    "outcome": "run outcomes",
    "scenario": "scenario features generated",
    "arm": "campaign arms run",
}
"""Category prefix -> what it counts (the summary prints one line per category)."""

MODEL_ACTION_UNIVERSE = tuple(f"action:{name}" for name in ACTION_NAMES)
BLOCKING_UNIVERSE = tuple(
    f"blocked:{r}" for r in ("task window full", "heap full", "dep-list pool full", "fanin spill pool full", "TensorMap pool full", "tensor data wait")
)


LOOKUP_BUCKETS = (0, 1, 2, 3, 5, 9, 16, 17)
"""Lower bounds of the lookup-size buckets: 0, 1, 2, 3-4, 5-8, 9-15, 16 (the historical cap), 17+."""


def lookup_bucket(n: int) -> str:
    """The bucket of a lookup result size, named by its range (`3-4`, `17+`)."""
    for i in range(len(LOOKUP_BUCKETS) - 1, -1, -1):
        low = LOOKUP_BUCKETS[i]
        if n >= low:
            if i == len(LOOKUP_BUCKETS) - 1:
                return f"{low}+"
            high = LOOKUP_BUCKETS[i + 1] - 1
            return str(low) if high == low else f"{low}-{high}"
    raise ValueError(n)


def category(feature: str) -> str:
    return feature.split(":", 1)[0]


class CoverageMap:
    """How many executions reached each feature."""

    def __init__(self, counts: Mapping[str, int] | None = None) -> None:
        self.counts: dict[str, int] = dict(counts or {})

    def add(self, features: Iterable[str]) -> list[str]:
        """Count one execution's features; returns the ones never reached before, sorted."""
        new = []
        counts = self.counts
        for f in features:
            n = counts.get(f, 0)
            if n == 0:
                new.append(f)
            counts[f] = n + 1
        return sorted(new)

    def merge(self, delta: Mapping[str, int]) -> list[str]:
        new = [f for f in delta if f not in self.counts]
        for f, n in delta.items():
            self.counts[f] = self.counts.get(f, 0) + n
        return sorted(new)

    def rarity(self, features: Iterable[str]) -> float:
        counts = self.counts
        return sum(1.0 / max(counts.get(f, 0), 1) for f in features)

    def __len__(self) -> int:
        return len(self.counts)

    def by_category(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.counts:
            c = category(f)
            out[c] = out.get(c, 0) + 1
        return dict(sorted(out.items()))


# ------------------------------------------------------------------------------------------ model


class CoveredModel:
    """A `TrbModel` seen through a coverage lens: the explorer calls `actions` once per expanded state,
    and that call records the state's features. `properties()` is the set the campaign asserts."""

    def __init__(self, model: TrbModel, properties: Sequence[Property[State]]) -> None:
        self.model = model
        self.initial_states = model.initial_states
        self.next_state = model.next_state
        self.is_final = model.is_final
        self.format_action = model.format_action
        self.format_state = model.format_state
        self._properties = list(properties)
        self._statuses: set[tuple[int, ...]] = set()
        self._kinds: set[tuple[int, int, int]] = set()
        self._blocked: set[str] = set()

    def properties(self) -> Sequence[Property[State]]:
        return self._properties

    def actions(self, state: State) -> list[Action]:
        acts = self.model.actions(state)
        self._statuses.add(tuple(tt[T_ST] for tt in state[S_TASKS]))
        kinds_add = self._kinds.add
        for kind, a, b in acts:
            if kind == A_ORCH:
                kinds_add((kind, a, b // 1000))
            elif kind == A_FATAL:
                kinds_add((kind, a, 0))
            else:
                kinds_add((kind, 0, 0))
        orch = self.model.orchestrator_step(state)
        if isinstance(orch, Blocked):
            self._blocked.add(orch.reason)
        return acts

    def features(self) -> set[str]:
        info = self.model.info
        out: set[str] = set()
        for kind, a, phase in self._kinds:
            out.add(f"action:{ACTION_NAMES[kind]}")
            if kind == A_ORCH:
                instr = INSTR_NAMES.get(info.instrs[a].kind, "?")
                out.add(f"orch:{instr}:{PHASE_NAMES[phase]}" if instr == "submit" else f"orch:{instr}")
            elif kind == A_FATAL:
                out.add(f"fatal:{_fatal_name(a)}")
        slot_of = [(t.ring, info.slot(t.index)) for t in info.tasks]
        for statuses in self._statuses:
            occupant: dict[tuple[int, int], int] = {}
            for t, st in enumerate(statuses):  # program order: a later task in a slot is its newer occupant
                if st != NONE:
                    occupant[slot_of[t]] = st
            for (ring, slot), st in occupant.items():
                out.add(f"slot:r{ring}s{slot}:{MODEL_STATUS[st]}")
        out.update(f"blocked:{reason}" for reason in self._blocked)
        return out


def _fatal_name(code: int) -> str:
    try:
        return FatalCode(code).name
    except ValueError:
        return f"code{code}"


# ------------------------------------------------------------------------------------------- port


class PortCoverage:
    """An observer that records the port features of a run (see the module docstring); never fails."""

    def __init__(self, system: TrbSystem) -> None:
        self.pressure: set[tuple[str, int, str]] = set()
        self.functions: set[str] = set()
        self.slot_values: set[tuple[int, int, int]] = set()
        self.blocked: set[str] = set()
        self.backstops: set[str] = set()
        self.lookups: set[tuple[str, str]] = set()
        self.attach(system)

    def attach(self, system: TrbSystem) -> None:
        """Observe `system` from now on, keeping what was recorded so far (a search observes many runs of
        one scenario, on fresh or reset systems; its coverage is their union)."""
        self.system = system
        self.cells = system.c
        g = system.n_slots
        self.state_cells = {
            system.S_STATE + i: (system.slot_ring[i], system.slot_idx[i]) for i in range(g) if system.slot_idx[i] >= 0
        }
        self.heap_cells = {cell: r for r in range(4) for cell in (system.AL_TOP + r, system.AL_TAIL + r)}
        self.dep_cells = {cell: r for r in range(4) for cell in (system.DP_TOP + r, system.DP_TAIL + r)}
        self._lookup = system._fx_lookup
        system._fx_lookup = self._on_lookup  # type: ignore[method-assign]

    def _on_lookup(self, ti: int, ai: int) -> tuple[tuple[int, int, int, int], ...]:
        """compute_task_fanin's TensorMap lookup of one argument: how many producers it returned and how
        many of those were still running (not COMPLETED), the WAIT edges the submit must not drop."""
        matches = self._lookup(ti, ai)
        if matches:
            s, c = self.system, self.cells
            running = sum(1 for _e, _st, ring, local in matches if c[s.S_STATE + s.slot_of(ring, local)] < COMPLETED)
            self.lookups.add((lookup_bucket(len(matches)), lookup_bucket(running)))
        return matches

    def on_step(self, ex: Executor, rec: StepRecord) -> Failure | None:
        op = rec.op
        self.functions.add(op.cite.function)
        if op.writes:
            cells = self.cells
            state_cells = self.state_cells
            for cell in op.writes:
                where = state_cells.get(cell)
                if where is not None:
                    self.slot_values.add((where[0], where[1], cells[cell]))
                elif cell in self.heap_cells:
                    self._heap(self.heap_cells[cell])
                elif cell in self.dep_cells:
                    self._dep(self.dep_cells[cell])
        if rec.fired_backstop:
            self.backstops.add(op.cite.function)
        orch = ex.slots[0].op
        if orch is not None and orch.guard is not None and not orch.guard():
            self.blocked.add(orch.cite.function)
        return None

    def _heap(self, r: int) -> None:
        """Allocation inside the wrapped gap (top < tail), and a tight gap: where exact fits happen."""
        s, c = self.system, self.cells
        top, tail = c[s.AL_TOP + r], c[s.AL_TAIL + r]
        if top < tail:
            self.pressure.add(("heap", r, "top<tail"))
            if tail - top <= 256:
                self.pressure.add(("heap", r, "gap<=256"))

    def _dep(self, r: int) -> None:
        s, c = self.system, self.cells
        used = c[s.DP_TOP + r] - c[s.DP_TAIL + r]
        cap = s.dep_cap[r]
        if used >= cap - 1:
            self.pressure.add(("dep_pool", r, "full" if used >= cap else "one-left"))

    def at_end(self, ex: Executor, outcome: str) -> Failure | None:
        return None

    def features(self) -> set[str]:
        from runtime.trb.consts import STATE_NAMES

        out = {f"port.fn:{f}" for f in self.functions}
        for ring, slot, value in self.slot_values:
            name = STATE_NAMES[value] if 0 <= value < len(STATE_NAMES) else str(value)
            out.add(f"port.slot:r{ring}s{slot}:{name}")
        out.update(f"port.blocked:{f}" for f in self.blocked)
        out.update(f"port.backstop:{f}" for f in self.backstops)
        out.update(f"port.pressure:{what} r{r} {level}" for what, r, level in self.pressure)
        for returned, running in self.lookups:
            out.add(f"port.lookup:returned {returned}")
            out.add(f"port.lookup:running {running}")
        return out


def universe_gaps(counts: Mapping[str, int], witnesses: Iterable[str]) -> dict[str, list[str]]:
    """What a campaign could have reached and did not: model action kinds, blocking reasons, witnesses."""
    gaps = {
        "action": [f for f in MODEL_ACTION_UNIVERSE if f not in counts],
        "blocked": [f for f in BLOCKING_UNIVERSE if f not in counts],
        "witness": [f"witness:{w}" for w in witnesses if f"witness:{w}" not in counts],
    }
    return {k: v for k, v in gaps.items() if v}


def as_plain(counts: Mapping[str, int]) -> dict[str, Any]:
    return {k: counts[k] for k in sorted(counts)}
