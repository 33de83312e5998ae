"""One lane of a campaign: the loop that turns seeded bytes into scenarios, executions and findings.

Inputs are Hypothesis choice bytes: `fuzz_one_input` (Hypothesis's public entry point for external
fuzzers) draws the arm, the scenario and the scheduler parameters from them, so every input is valid by
construction and the Hypothesis example database can store it. Iteration k of lane w uses its own RNG,
seeded from (master seed, campaign, lane, k) and nothing else: it either draws fresh random bytes or
mutates an input of the lane's corpus (chosen by the rarity of the coverage it reached). A lane is
deterministic: same master seed, same corpus at start, same iterations. Lanes steer by their own
coverage (plus the counts earlier sessions saved) and do not exchange inputs while they run; what one
lane adds to the example database, the others load when the campaign is resumed.

Findings are written by the lane itself, at once, as artifacts (see fuzz.corpus), so nothing found is
lost when a campaign is killed; the sink only counts them.
"""

from __future__ import annotations

import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.campaigns.catalogue import MODEL, Arm, Campaign, Family, port_params
from fuzz.campaigns.coverage import CoverageMap
from fuzz.campaigns.known import classify
from fuzz.campaigns.other import OtherPortTarget, family_on
from fuzz.campaigns.targets import Context, Execution, Found, ModelTarget, PortParams, PortTarget, derive_seed
from fuzz.corpus import Corpus
from model.scenario import Scenario, scenario_to_dict
from properties.artifacts import Artifact, artifact_to_dict
from properties.features import static_features

TRB = "tensormap_and_ringbuffer"
FRESH_BYTES = 4096
MUTATE_PROBABILITY = 0.6
PROGRESS_EVERY = 0.5  # seconds between progress reports of a lane


@dataclass(frozen=True)
class Drawn:
    arm: int
    scenario: Scenario
    params: PortParams | None


@dataclass
class FindingReport:
    """What a lane tells the campaign about one failure it found (the artifact is already on disk)."""

    key: str
    signature: list[str]
    mutants: list[str]
    classification: str  # "new", "known" or "mutant"
    finding: str | None
    message: str
    path: str
    created: bool
    size: list[int]
    lane: int
    iteration: int
    artifact: dict[str, Any]


@dataclass
class Progress:
    lane: int
    next_iteration: int
    iterations: int = 0
    executions: int = 0
    states: int = 0
    steps: int = 0
    invalid: int = 0
    corpus_added: int = 0
    coverage: dict[str, int] = field(default_factory=dict)
    witness_names: list[str] = field(default_factory=list)


class Sink(Protocol):
    def progress(self, report: Progress) -> None: ...

    def finding(self, report: FindingReport) -> None: ...

    def error(self, lane: int, iteration: int, path: str, created: bool, text: str) -> None: ...

    def warning(self, lane: int, text: str) -> None: ...

    def should_stop(self) -> bool: ...


def dedup_key(artifact: Artifact) -> str:
    """Duplicates are failures with the same signature and the same mutants switched on."""
    return "|".join([*artifact.signature.as_list(), ",".join(sorted(artifact.mutants))])


def iteration_seed(master: int, campaign: str, lane: int, k: int) -> int:
    return derive_seed("iteration", master, campaign, lane, k)


def make_harness(campaign: Campaign) -> tuple[Callable[[bytes], bytes | None], list[Drawn]]:
    """A fuzz target drawing (arm, scenario, scheduler parameters); the drawn values land in the list."""
    holder: list[Drawn] = []
    indices = [i for i, arm in enumerate(campaign.arms) for _ in range(arm.weight)]
    arm_choice = st.sampled_from(indices)
    families = {a.family: _family(a.family, campaign.runtime).strategy() for a in campaign.arms}
    params = {i: port_params(a) for i, a in enumerate(campaign.arms) if a.target != MODEL}

    @settings(database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def harness(data: st.DataObject) -> None:
        i = data.draw(arm_choice, label="arm")
        arm = campaign.arms[i]
        scenario = data.draw(families[arm.family], label="scenario")
        p = data.draw(params[i], label="scheduler") if i in params else None
        holder.append(Drawn(i, scenario, p))

    fuzz: Callable[[bytes], bytes | None] = harness.hypothesis.fuzz_one_input  # type: ignore[attr-defined]
    return fuzz, holder


def _family(name: str, runtime: str) -> Family:
    family = family_on(name, runtime)
    assert family is not None, (name, runtime)  # campaign_on keeps only arms whose family runs there
    return family


def mutate(parent: bytes, other: bytes | None, rng: random.Random) -> bytes:
    """One structural-agnostic mutation of choice bytes (flip, overwrite, zero, insert, delete, splice)."""
    buf = bytearray(parent)
    if not buf:
        return rng.randbytes(64)
    op = rng.randrange(6 if other else 5)
    i = rng.randrange(len(buf))
    n = 1 + min(rng.randrange(16), len(buf) - i - 1)
    if op == 0:
        for _ in range(1 + rng.randrange(4)):
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    elif op == 1:
        buf[i : i + n] = rng.randbytes(n)
    elif op == 2:
        buf[i : i + n] = bytes(n)  # zeros: towards Hypothesis's simplest choices
    elif op == 3:
        buf[i:i] = rng.randbytes(n)
    elif op == 4:
        del buf[i : i + n]
    else:
        assert other is not None
        j = rng.randrange(len(other) + 1)
        buf = buf[:i] + bytearray(other[j:])
    return bytes(buf)


@dataclass
class _Entry:
    buffer: bytes
    features: frozenset[str]


class Lane:
    """One worker's share of a campaign (iterations k = start, start + 1, ... of lane `lane`)."""

    def __init__(
        self,
        campaign: Campaign,
        lane: int,
        master_seed: int,
        corpus: Corpus,
        sink: Sink,
        *,
        mutants: tuple[str, ...] = (),
        start_iteration: int = 0,
        coverage: dict[str, int] | None = None,
        command: str = "",
    ) -> None:
        self.campaign = campaign
        self.lane = lane
        self.master_seed = master_seed
        self.corpus = corpus
        self.sink = sink
        self.mutants = mutants
        self.next_iteration = start_iteration
        self.coverage = CoverageMap(coverage)
        self.command = command
        self.fuzz, self.holder = make_harness(campaign)
        self.model_target = ModelTarget(campaign.model_max_states)
        self.port_target: PortTarget | OtherPortTarget
        if campaign.runtime == TRB:
            self.port_target = PortTarget(
                campaign.port_runs, campaign.port_max_steps, campaign.port_observers, campaign.dfs_max_states
            )
        else:
            self.port_target = OtherPortTarget(campaign.port_runs, campaign.port_max_steps)
        self.entries: list[_Entry] = [_Entry(b, frozenset()) for b in corpus.load_inputs(campaign.name)]
        self._pending = Progress(lane, start_iteration)
        self._last_report = time.monotonic()
        self._report_warnings()

    # ------------------------------------------------------------------------------------- loop

    def run(self, iterations: int | None = None, deadline: float | None = None) -> None:
        """Run until `iterations` are done, the monotonic `deadline` passes, or the sink says stop."""
        done = 0
        while (iterations is None or done < iterations) and not self.sink.should_stop():
            if deadline is not None and time.monotonic() >= deadline:
                break
            self.run_iteration()
            done += 1
        self.flush()

    def choose_input(self, rng: random.Random) -> bytes:
        if self.entries and rng.random() < MUTATE_PROBABILITY:
            weights = [self.coverage.rarity(e.features) + 0.1 for e in self.entries]
            parent = rng.choices(self.entries, weights)[0]
            other = self.entries[rng.randrange(len(self.entries))].buffer
            return mutate(parent.buffer, other, rng) + rng.randbytes(FRESH_BYTES // 4)
        return rng.randbytes(FRESH_BYTES)

    def run_iteration(self) -> None:
        k = self.next_iteration
        self.next_iteration += 1
        rng = random.Random(iteration_seed(self.master_seed, self.campaign.name, self.lane, k))
        buffer = self.choose_input(rng)
        self.holder.clear()
        canonical = self.fuzz(buffer)
        pending = self._pending
        pending.iterations += 1
        pending.next_iteration = self.next_iteration
        if canonical is None or not self.holder:
            pending.invalid += 1
            self._maybe_report()
            return
        drawn = self.holder[-1]
        arm = self.campaign.arms[drawn.arm]
        ctx = Context(
            campaign=self.campaign.name,
            arm=arm.name,
            command=self.command,
            mutants=self.mutants,
            lane=self.lane,
            iteration=k,
            input_hex=canonical.hex(),
            outcome_asserted=_family(arm.family, self.campaign.runtime).asserted(drawn.scenario),
        )
        try:
            ex = self.execute(arm, drawn, ctx)
        except Exception:  # an internal error of the tool: recorded with its input, the campaign goes on
            self._error(ctx, drawn, traceback.format_exc())
            self._maybe_report()
            return
        ex.features.add(f"arm:{arm.name}")
        ex.features.update(f"scenario:{f}" for f in static_features(drawn.scenario))
        pending.executions += ex.executions
        pending.states += ex.states
        pending.steps += ex.steps
        for w in ex.witness_names:
            if w not in pending.witness_names:
                pending.witness_names.append(w)
        new = self.coverage.add(ex.features)
        for f in ex.features:
            pending.coverage[f] = pending.coverage.get(f, 0) + 1
        if new:
            self.entries.append(_Entry(canonical, frozenset(ex.features)))
            self.corpus.save_input(self.campaign.name, canonical)
            pending.corpus_added += 1
            self._report_warnings()
        for found in ex.found:
            self._report_found(found, canonical, k)
        self._maybe_report()

    def execute(self, arm: Arm, drawn: Drawn, ctx: Context) -> Execution:
        if arm.target == MODEL:
            return self.model_target.execute(drawn.scenario, ctx)
        assert drawn.params is not None
        return self.port_target.execute(drawn.scenario, ctx, drawn.params, arm.runs)

    # ---------------------------------------------------------------------------------- reports

    def _report_found(self, found: Found, canonical: bytes, k: int) -> None:
        art = found.artifact
        key = dedup_key(art)
        classification, finding = classify(art.signature, art.mutants, art.scenario, art)
        if finding is not None:
            art = replace(art, finding=finding)
        path, created = self.corpus.store_artifact(self.campaign.name, key, art)
        if created:
            self.corpus.save_failure_input(self.campaign.name, canonical)
            self._report_warnings()
        self.flush()  # counters first, so a summary never shows a finding before its executions
        self.sink.finding(
            FindingReport(
                key=key,
                signature=art.signature.as_list(),
                mutants=list(art.mutants),
                classification=classification,
                finding=finding,
                message=art.message,
                path=str(path),
                created=created,
                size=list(found.size),
                lane=self.lane,
                iteration=k,
                artifact=artifact_to_dict(art),
            )
        )

    def _error(self, ctx: Context, drawn: Drawn, text: str) -> None:
        last = text.strip().splitlines()[-1]
        doc = {
            "campaign": ctx.campaign,
            "arm": ctx.arm,
            "lane": ctx.lane,
            "iteration": ctx.iteration,
            "input": ctx.input_hex,
            "mutants": list(ctx.mutants),
            "scheduler": drawn.params.as_dict() if drawn.params else None,
            "scenario": scenario_to_dict(drawn.scenario),
            "traceback": text,
            "command": self.command,
        }
        path, created = self.corpus.store_error(ctx.campaign, f"{ctx.arm}|{last}", doc)
        self.flush()
        self.sink.error(self.lane, ctx.iteration, str(path), created, last)

    def _report_warnings(self) -> None:
        """What the corpus had to warn about (a shared database it left for the local fallback)."""
        for text in self.corpus.take_warnings():
            self.sink.warning(self.lane, text)

    def _maybe_report(self) -> None:
        now = time.monotonic()
        if now - self._last_report >= PROGRESS_EVERY:
            self.flush()

    def flush(self) -> None:
        pending = self._pending
        pending.next_iteration = self.next_iteration
        self.sink.progress(pending)
        self._pending = Progress(self.lane, self.next_iteration)
        self._last_report = time.monotonic()
