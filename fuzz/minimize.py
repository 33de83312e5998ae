"""Minimisation of artifacts: fewer tasks, scopes, edges, steps and preemptions, same failure signature.

Greedy passes over the scenario and (for port runs) the schedule, repeated until nothing more can be
removed or the time budget is spent. A candidate is kept only when it fails with exactly the same
signature (runtime, property, C++ function) and is smaller by `Size` (lexicographic: tasks, scopes,
edges, arguments, preemptions, steps: a reader follows a long run without switches more easily than a
short one that jumps between threads), and, for a scenario whose expected outcome its program decides, when the
candidate's own program still decides the same expected outcome (so a reduction can never turn a
failure into behaviour the runtime is allowed to have).

* Port runs are searched with lenient replay: the candidate follows the current schedule by thread
  name while the recorded thread can run, otherwise it stays on the current thread (no preemption) or
  takes the next runnable one; the schedule it actually took is recorded, so the result replays
  strictly. Besides cutting the schedule, the search moves context switches: it runs a thread's later
  stretch right after its earlier one (or the earlier one right before the later one), moves a switch
  later or earlier by a few steps, and removes single switches.
* Model paths are re-derived by bounded breadth-first search on the candidate scenario with only the
  failing property checked, so the path is a shortest one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from fuzz.campaigns.targets import model_action_function, port_step_limit
from model.dependencies import derive_all_edges
from model.errors import PtocheckError, ScenarioError
from model.explorer import explore
from model.program import ProgramInfo
from model.protocol import PropertyKind
from model.scenario import (
    Alloc,
    Arg,
    Constants,
    Op,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    Submit,
    TensorData,
    validate,
)
from model.trb_model import TrbModel
from properties.artifacts import Artifact
from properties.replay import (
    PortRun,
    artifact_observers,
    observer_factory,
    port_outcome_asserted,
    port_system,
    run_port_system,
)
from properties.sizing import static_outcome
from runtime.execution import decode_schedule, encode_schedule
from runtime.trb import TrbSystem

DEFAULT_MINIMIZE_SECONDS = 120.0
MODEL_MAX_STATES = 300_000


@dataclass(frozen=True, order=True)
class Size:
    tasks: int
    scopes: int
    edges: int  # dependency edges the program implies
    args: int  # tensor arguments, explicit dependencies and tensor-data ops (what could imply edges)
    preemptions: int  # before steps: fewer switches between threads read more easily than fewer steps
    steps: int

    def text(self) -> str:
        return (
            f"{self.tasks} tasks, {self.scopes} scopes, {self.edges} edges, {self.args} arguments, "
            f"{self.preemptions} preemptions, {self.steps} steps"
        )


def scenario_edges(sc: Scenario) -> int:
    """Dependency edges the program asks for (explicit deps plus those its tensor arguments imply)."""
    try:
        return len(derive_all_edges(ProgramInfo(sc)))
    except (ScenarioError, ValueError, KeyError):
        return sum(len(op.deps) + len(op.args) for op in sc.program if isinstance(op, Submit))


def scenario_part(sc: Scenario) -> tuple[int, int, int, int]:
    """(tasks, scopes, edges, arguments) of a scenario: the scenario's share of a `Size`."""
    scopes = sum(1 for op in sc.program if isinstance(op, ScopeBegin))
    args = sum(len(op.args) + len(op.deps) for op in sc.program if isinstance(op, Submit))
    args += sum(1 for op in sc.program if isinstance(op, TensorData))
    return len(sc.tasks()), scopes, scenario_edges(sc), args


@dataclass
class MinimizeResult:
    original: Artifact
    minimized: Artifact
    before: Size
    after: Size
    attempts: int
    accepted: int
    seconds: float
    stopped_by_budget: bool


# --------------------------------------------------------------------------------- lenient replay


class LenientScheduler:
    """Follows a schedule of thread names where it can; otherwise stays on the current thread, or takes
    the next runnable thread after it (round-robin order). Never raises."""

    name = "lenient replay"

    def __init__(self, wanted: Sequence[str], thread_names: Sequence[str]) -> None:
        index = {n: i for i, n in enumerate(thread_names)}
        self.wanted = [index.get(n, -1) for n in wanted]
        self._runs = 0

    def new_execution(self) -> bool:
        self._runs += 1
        return self._runs == 1

    def choose(self, choices: Sequence[int], current: int | None, step: int) -> int:
        if step < len(self.wanted):
            tid = self.wanted[step]
            if tid in choices:
                return tid
        if current is not None:
            if current in choices:
                return current
            for tid in choices:
                if tid > current:
                    return tid
        return choices[0]


def _names(schedule: Sequence[int], thread_names: Sequence[str]) -> list[str]:
    return [thread_names[t] if 0 <= t < len(thread_names) else f"?{t}" for t in schedule]


# --------------------------------------------------------------------------------- schedule edits

SWITCH_SHIFTS = (1, 2, 4, 8)
"""How many steps a context switch is moved later or earlier."""


def segments(schedule: Sequence[str]) -> list[tuple[str, int, int]]:
    """The schedule as maximal stretches of one thread: (thread, start, end) with end exclusive."""
    out: list[tuple[str, int, int]] = []
    start = 0
    for i in range(1, len(schedule) + 1):
        if i == len(schedule) or schedule[i] != schedule[start]:
            out.append((schedule[start], start, i))
            start = i
    return out


def switch_candidates(schedule: Sequence[str]) -> Iterator[tuple[str, list[str]]]:
    """Schedules with the context switches moved, those that remove the most switches first:

    * merge: a thread's stretch moved to right after its previous stretch (it runs on instead of being
      switched out and back), or its previous stretch moved to right before this one;
    * shift: the switch between two stretches moved later (the first thread runs a few more of its own
      later steps first) or earlier (the second thread takes over a few steps sooner).

    Lenient replay repairs a candidate whose thread cannot run at some step, so a candidate need not
    be a possible schedule."""
    cur = list(schedule)
    segs = segments(cur)
    last_of: dict[str, int] = {}
    for k, (thread, start, end) in enumerate(segs):
        prev = last_of.get(thread)
        last_of[thread] = k
        if prev is None:
            continue
        _, p_start, p_end = segs[prev]
        stretch = cur[start:end]
        yield (
            f"run {thread}'s steps {start}..{end - 1} right after its steps {p_start}..{p_end - 1}",
            cur[:p_end] + stretch + cur[p_end:start] + cur[end:],
        )
        earlier = cur[p_start:p_end]
        yield (
            f"run {thread}'s steps {p_start}..{p_end - 1} right before its steps {start}..{end - 1}",
            cur[:p_start] + cur[p_end:start] + earlier + cur[start:],
        )
    for k in range(len(segs) - 1, 0, -1):
        thread, start, end = segs[k - 1]
        _, b_start, b_end = segs[k]
        later = [i for i in range(b_end, len(cur)) if cur[i] == thread]
        for shift in SWITCH_SHIFTS:
            if shift > len(later):
                break
            moved = set(later[:shift])
            rest = [t for i, t in enumerate(cur[end:], start=end) if i not in moved]
            yield f"switch away from {thread} {shift} step(s) later than step {end}", cur[:end] + [thread] * shift + rest
        for shift in SWITCH_SHIFTS:
            if shift >= end - start:
                break
            yield (
                f"switch to {cur[b_start]} {shift} step(s) earlier than step {end}",
                cur[: end - shift] + cur[b_start:b_end] + cur[end - shift : end] + cur[b_end:],
            )


# --------------------------------------------------------------------------------- scenario edits


def _created_by(op: Op) -> set[str]:
    if isinstance(op, Alloc):
        return {o.name for o in op.outputs}
    if isinstance(op, Submit):
        return {a.creates.name for a in op.args if a.creates is not None}
    return set()


def _drop_buffers(program: list[Op], gone: set[str], gone_task: str | None) -> list[Op]:
    """Remove every use of the `gone` buffers (args, tensor-data ops) and explicit deps on `gone_task`,
    cascading to the buffers a removed arg created."""
    out: list[Op] = []
    gone = set(gone)
    for op in program:
        if isinstance(op, TensorData):
            if op.region.buffer in gone:
                continue
        elif isinstance(op, Submit):
            args: list[Arg] = []
            for a in op.args:
                if a.region is not None and a.region.buffer in gone:
                    if a.creates is not None:
                        gone.add(a.creates.name)
                    continue
                args.append(a)
            deps = tuple(d for d in op.deps if d.task != gone_task)
            op = replace(op, args=tuple(args), deps=deps)
        out.append(op)
    return out


def _matching_end(program: Sequence[Op], begin: int) -> int | None:
    depth = 0
    for j in range(begin, len(program)):
        if isinstance(program[j], ScopeBegin):
            depth += 1
        elif isinstance(program[j], ScopeEnd):
            depth -= 1
            if depth == 0:
                return j
    return None


def _with_program(sc: Scenario, program: Sequence[Op]) -> Scenario:
    used = set()
    for op in program:
        if isinstance(op, Submit):
            used |= {a.region.buffer for a in op.args if a.region is not None}
        elif isinstance(op, TensorData):
            used.add(op.region.buffer)
    buffers = tuple(b for b in sc.buffers if b.name in used)
    return replace(sc, program=tuple(program), buffers=buffers)


def scenario_candidates(sc: Scenario) -> Iterator[tuple[str, Scenario]]:
    """Smaller scenarios, biggest cuts first: tasks, scopes, tensor-data ops, edges, then configuration."""
    program = list(sc.program)
    for i in reversed(range(len(program))):
        op = program[i]
        if isinstance(op, Submit | Alloc):
            rest = program[:i] + program[i + 1 :]
            yield f"remove task {op.name}", _with_program(sc, _drop_buffers(rest, _created_by(op), op.name))
    for i in range(len(program)):
        if isinstance(program[i], ScopeBegin):
            j = _matching_end(program, i)
            if j is not None:
                yield f"flatten the scope at program[{i}]", _with_program(sc, program[:i] + program[i + 1 : j] + program[j + 1 :])
    for i, op in enumerate(program):
        if isinstance(op, TensorData):
            yield f"remove the tensor-data op at program[{i}]", _with_program(sc, program[:i] + program[i + 1 :])
    for i, op in enumerate(program):
        if not isinstance(op, Submit):
            continue
        for k, dep in enumerate(op.deps):
            new = replace(op, deps=op.deps[:k] + op.deps[k + 1 :])
            yield f"remove {op.name}'s dependency on {dep.task}", _with_program(sc, [*program[:i], new, *program[i + 1 :]])
        for k, arg in enumerate(op.args):
            new = replace(op, args=op.args[:k] + op.args[k + 1 :])
            rest = [*program[:i], new, *program[i + 1 :]]
            if arg.creates is not None:
                rest = rest[: i + 1] + _drop_buffers(rest[i + 1 :], {arg.creates.name}, None)
            yield f"remove {op.name}'s argument {k} ({arg.tag.value})", _with_program(sc, rest)
        if any(a.manual_dep for a in op.args):
            new = replace(op, args=tuple(replace(a, manual_dep=False) for a in op.args))
            yield f"clear {op.name}'s manual_dep flags", _with_program(sc, [*program[:i], new, *program[i + 1 :]])
        if op.block_num > 1:
            yield f"{op.name}: block_num 1", _with_program(sc, [*program[:i], replace(op, block_num=1), *program[i + 1 :]])
    if sc.runs > 1:
        yield "one run", replace(sc, runs=1)
    cfg = sc.config
    if cfg.scheduler_threads > 1:
        yield "one scheduler thread fewer", sc.with_config(scheduler_threads=cfg.scheduler_threads - 1)
    if cfg.clusters > 1:
        yield "one cluster fewer", sc.with_config(clusters=cfg.clusters - 1)
    default = Constants()
    for name, (_, value) in sorted(cfg.constants.scaled().items()):
        if hasattr(default, name) and getattr(default, name) != value:
            yield f"default {name}", sc.with_config(constants=replace(cfg.constants, **{name: getattr(default, name)}))


# ------------------------------------------------------------------------------------ the search


class _Search:
    def __init__(
        self, artifact: Artifact, seconds: float, log: Callable[[str], None] | None, max_attempts: int | None = None
    ) -> None:
        self.artifact = artifact
        self.sig = artifact.signature
        self.deadline = time.monotonic() + seconds
        self.max_attempts = max_attempts
        self.log = log
        self.attempts = 0
        self.accepted = 0
        self.stopped = False
        original = artifact.scenario
        self.check_outcome = static_outcome(original) == original.expected
        self.asserted = port_outcome_asserted(artifact)

    def out_of_time(self) -> bool:
        """The budget is spent: the time, or (a deterministic budget) the number of candidates tried."""
        if time.monotonic() >= self.deadline or (self.max_attempts is not None and self.attempts >= self.max_attempts):
            self.stopped = True
        return self.stopped

    def admissible(self, sc: Scenario) -> bool:
        try:
            validate(sc)
            ProgramInfo(sc)
        except (ScenarioError, PtocheckError):
            return False
        if not sc.tasks():
            return False
        return not self.check_outcome or static_outcome(sc) == sc.expected

    def note(self, text: str) -> None:
        if self.log is not None:
            self.log(text)


class _PortSearch(_Search):
    def __init__(
        self, artifact: Artifact, seconds: float, log: Callable[[str], None] | None, max_attempts: int | None = None
    ) -> None:
        super().__init__(artifact, seconds, log, max_attempts)
        sc = artifact.scenario
        names = TrbSystem(sc, artifact.mutants).thread_names()
        self.scenario = sc
        self.schedule = _names(decode_schedule(artifact.schedule, "artifact schedule"), names)
        self.max_steps = max(port_step_limit(sc), len(self.schedule))
        self.observers = observer_factory(artifact_observers(artifact))
        run = self.run(sc, self.schedule)
        if run is None:
            raise PtocheckError(
                "the artifact does not fail with its signature under lenient replay",
                "minimize",
                "replay it first: ptocheck replay ARTIFACT",
            )
        self.best_run = run
        self.best = self.size(sc, run)

    def size(self, sc: Scenario, run: PortRun) -> Size:
        return Size(*scenario_part(sc), preemptions=run.result.preemptions, steps=run.result.steps)

    def run(self, sc: Scenario, wanted: Sequence[str]) -> PortRun | None:
        """One lenient run; the run when it fails with the artifact's signature, else None."""
        self.attempts += 1
        system = port_system(sc, self.artifact.mutants, artifact_observers(self.artifact))
        sched = LenientScheduler(wanted, system.thread_names())
        sched.new_execution()
        run = run_port_system(
            system,
            sched,
            observers=self.observers,
            max_steps=self.max_steps,
            outcome_asserted=self.asserted,
        )
        v = run.verdict
        if v.property_id == self.sig.property_id and v.cxx_function == self.sig.cxx_function:
            return run
        return None

    def try_candidate(self, sc: Scenario, wanted: Sequence[str], what: str) -> bool:
        if self.out_of_time():
            return False
        run = self.run(sc, wanted)
        if run is None:
            return False
        size = self.size(sc, run)
        if size >= self.best:
            return False
        self.accepted += 1
        self.scenario, self.best_run, self.best = sc, run, size
        self.schedule = _names(run.result.schedule, run.result.thread_names)
        self.note(f"  {what}: {size.text()}")
        return True

    def scenario_pass(self) -> bool:
        progress = False
        changed = True
        while changed and not self.out_of_time():
            changed = False
            for what, cand in scenario_candidates(self.scenario):
                if self.out_of_time():
                    break
                if self.admissible(cand) and self.try_candidate(cand, self.schedule, what):
                    changed = progress = True
                    break
        return progress

    def schedule_pass(self) -> bool:
        """Keep the shortest prefix that still fails (the rest runs without preemptions), move and remove
        context switches (preemptions weigh more than steps), then delete chunks of the schedule (halves
        down to single steps)."""
        progress = False
        n = len(self.schedule)
        for length in sorted({0, *(n * k // 16 for k in range(1, 16))}):
            if self.out_of_time():
                break
            if self.try_candidate(self.scenario, self.schedule[:length], f"keep the first {length} steps"):
                progress = True
                break
        if self.switch_pass():
            progress = True
        for start in range(len(self.schedule) - 1, 0, -1):  # remove single preemptions from the end
            if self.out_of_time():
                break
            cur = self.schedule
            if start < len(cur) and cur[start] != cur[start - 1]:
                cand = cur[:start] + [cur[start - 1]] + cur[start:]
                if self.try_candidate(self.scenario, cand, f"no switch at step {start}"):
                    progress = True
        n = len(self.schedule)
        chunk = max(1, n // 2)
        while chunk >= 1 and not self.out_of_time():
            i = 0
            while i < len(self.schedule) and not self.out_of_time():
                cand = self.schedule[:i] + self.schedule[i + chunk :]
                if self.try_candidate(self.scenario, cand, f"drop schedule steps {i}..{i + chunk - 1}"):
                    progress = True
                else:
                    i += chunk
            chunk //= 2
        return progress

    def switch_pass(self) -> bool:
        """Move context switches until none of these moves is accepted any more (each accepted one makes
        the run strictly smaller, so this ends)."""
        progress = False
        start = 0  # after an accepted move, go on near where it was (not from the first candidate again)
        while not self.out_of_time():
            cands = list(switch_candidates(self.schedule))
            for i in range(start, len(cands)):
                if self.out_of_time():
                    break
                what, cand = cands[i]
                if self.try_candidate(self.scenario, cand, what):
                    progress = True
                    start = max(0, i - 2)
                    break
            else:
                if start == 0:
                    break
                start = 0  # one more full pass before giving up
        return progress

    def search(self) -> None:
        while not self.out_of_time():
            a = self.scenario_pass()
            b = self.schedule_pass()
            if not (a or b):
                break

    def result_artifact(self) -> Artifact:
        run = self.best_run
        return replace(
            self.artifact,
            scenario=self.scenario,
            schedule=encode_schedule(run.result.schedule),
            failing_step=run.verdict.step,
            message=run.verdict.message,
            bounds=f"bounded(runs=1, max_steps={self.max_steps})",
        )


class _ModelSearch(_Search):
    def __init__(
        self,
        artifact: Artifact,
        seconds: float,
        log: Callable[[str], None] | None,
        max_states: int,
        max_attempts: int | None = None,
    ) -> None:
        super().__init__(artifact, seconds, log, max_attempts)
        self.max_states = max_states
        self.scenario = artifact.scenario
        # The failing action's function as this module names it (a hand-written artifact's signature may
        # blame the root cause instead; its signature is kept as it is).
        model = TrbModel(artifact.scenario)
        path = artifact.actions
        loop = artifact.extra.get("loop_action")
        last = tuple(loop) if isinstance(loop, list) and len(loop) == 3 else (path[-1] if path else None)
        self.blamed = model_action_function(model, (int(last[0]), int(last[1]), int(last[2])) if last else None)
        found = self.find(self.scenario)
        if found is None:
            raise PtocheckError(
                f"bounded search (max {max_states} states) does not reproduce the artifact's signature",
                "minimize",
                "replay it first: ptocheck replay ARTIFACT; or raise --max-states",
            )
        self.best_path, self.best_extra, self.best_bounds = found
        self.best = Size(*scenario_part(self.scenario), preemptions=0, steps=len(self.best_path))

    def find(self, sc: Scenario) -> tuple[tuple[tuple[int, int, int], ...], dict[str, Any], str] | None:
        self.attempts += 1
        model = TrbModel(sc)
        wanted = self.sig.property_id
        deadlock = wanted == "deadlock"
        props = [p for p in model.properties() if p.name == wanted and p.kind is not PropertyKind.SOMETIMES]
        if not deadlock and not props:
            return None
        view = _OnlyProperties(model, props)
        result = explore(view, max_states=self.max_states, check_deadlock=deadlock)
        for v in result.violations:
            if v.property_name != wanted:
                continue
            actions = tuple(s.action for s in v.path[1:] if s.action is not None)
            blamed = v.loop_action if v.cycle_start is not None else (actions[-1] if actions else None)
            if model_action_function(model, blamed) != self.blamed:
                return None
            extra: dict[str, Any] = {}
            if v.cycle_start is not None:
                extra = {"cycle_start": v.cycle_start, "loop_action": list(v.loop_action) if v.loop_action else None}
            return actions, extra, result.bounds_text()
        return None

    def search(self) -> None:
        changed = True
        while changed and not self.out_of_time():
            changed = False
            for what, cand in scenario_candidates(self.scenario):
                if self.out_of_time():
                    break
                if not self.admissible(cand):
                    continue
                size0 = Size(*scenario_part(cand), preemptions=0, steps=0)
                if size0 >= self.best:
                    continue
                found = self.find(cand)
                if found is None:
                    continue
                size = Size(*scenario_part(cand), preemptions=0, steps=len(found[0]))
                if size < self.best:
                    self.accepted += 1
                    self.scenario, self.best = cand, size
                    self.best_path, self.best_extra, self.best_bounds = found
                    self.note(f"  {what}: {size.text()}")
                    changed = True
                    break

    def result_artifact(self) -> Artifact:
        extra = {k: v for k, v in self.artifact.extra.items() if k not in ("cycle_start", "loop_action")}
        extra.update(self.best_extra)
        return replace(
            self.artifact,
            scenario=self.scenario,
            actions=self.best_path,
            failing_step=len(self.best_path),
            bounds=self.best_bounds,
            extra=extra,
        )


class _OnlyProperties:
    """The model with only the failing property checked (so the search stops at its shortest violation)."""

    def __init__(self, model: TrbModel, props: list[Any]) -> None:
        self.initial_states = model.initial_states
        self.actions = model.actions
        self.next_state = model.next_state
        self.is_final = model.is_final
        self.format_action = model.format_action
        self.format_state = model.format_state
        self._props = props

    def properties(self) -> list[Any]:
        return self._props


def minimize(
    artifact: Artifact,
    *,
    seconds: float = DEFAULT_MINIMIZE_SECONDS,
    max_states: int = MODEL_MAX_STATES,
    source: str = "",
    log: Callable[[str], None] | None = None,
    max_attempts: int | None = None,
) -> MinimizeResult:
    """Shrink `artifact` (see the module docstring); the result keeps its signature, kind and mutants.
    `max_attempts` bounds the candidates tried (a budget that does not depend on the machine's speed)."""
    started = time.monotonic()
    search: _PortSearch | _ModelSearch
    if artifact.kind == "port-run":
        search = _PortSearch(artifact, seconds, log, max_attempts)
    else:
        search = _ModelSearch(artifact, seconds, log, max_states, max_attempts)
    before = search.best  # a lenient replay of a recorded schedule takes exactly that schedule
    search.search()
    result = search.result_artifact()
    extra = dict(result.extra)
    if source:
        extra["minimized_from"] = source
    result = replace(result, engine=f"minimized ({artifact.engine})", extra=extra)
    return MinimizeResult(
        original=artifact,
        minimized=result,
        before=before,
        after=search.best,
        attempts=search.attempts,
        accepted=search.accepted,
        seconds=time.monotonic() - started,
        stopped_by_budget=search.stopped,
    )
