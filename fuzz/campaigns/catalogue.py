"""Named campaigns: scenario family x scheduler family x target (with its property set).

A campaign is a weighted list of arms. Each arm draws a scenario from a family (a Hypothesis strategy
of properties.strategies, or the built-in scenarios) and runs it on a target: the reference model under
bounded exploration, the port under a scheduler family (random, PCT, round-robin), or the port under the
preemption-bounded DFS (arms with schedulers `(DFS,)`). The arm is the first choice of every input, so
mutating an input can move it to another arm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from hypothesis import strategies as st

from fuzz.campaigns.families import tiled_scenarios
from fuzz.campaigns.targets import DFS, PORT_SCHEDULERS, PortParams
from model.builders import BUILTIN_SCENARIOS
from model.errors import PtocheckError
from model.scenario import Scenario
from properties.explicit_programs import ABG_V1, TRB, explicit_dep_scenarios, explicit_program_on
from properties.port_checks import on_memory_model
from properties.replay import DATA_ORACLE, PORT_CHECKS
from properties.strategies import (
    SMALL_LIMITS,
    ProgramLimits,
    outcome_is_decided,
    paged_attention_scenarios,
    scenarios,
    startup_failure_scenarios,
    sync_cohort_scenarios,
)

MODEL, PORT = "model", "port"


def decided(scenario: Scenario) -> bool:
    """May a generated scenario's expected outcome be asserted? Only when its program decides it
    (properties.sizing.static_outcome) and it does not run orchestrator and schedulers serially:
    neither the sizing rules nor the reference model take `serial_orch_sched` into account (the port
    does: any flow-control or tensor-data wait then ends in a fatal), so there the outcome is open."""
    return outcome_is_decided(scenario) and not scenario.config.serial_orch_sched


@dataclass(frozen=True)
class Family:
    """A scenario family: its strategy, and whether a scenario's expected outcome may be asserted."""

    name: str
    description: str
    strategy: Callable[[], st.SearchStrategy[Scenario]]
    asserted: Callable[[Scenario], bool]


def _builtin_trb() -> st.SearchStrategy[Scenario]:
    names = sorted(n for n, f in BUILTIN_SCENARIOS.items() if f().runtime == "tensormap_and_ringbuffer")
    return st.sampled_from(names).map(lambda n: BUILTIN_SCENARIOS[n]())


MEDIUM_LIMITS = replace(SMALL_LIMITS, max_tasks=8, max_block_num=3, max_clusters=2, multi_round=True)
TINY_LIMITS = replace(SMALL_LIMITS, max_tasks=4)
"""Programs whose port the DFS can search: with one scheduler thread, preemption bound 1 usually finishes in
10k-50k states (2-10 CPU-s); two scheduler threads or six tasks do not finish bound 0 in 100k states."""
EARLY_LIMITS = replace(MEDIUM_LIMITS, max_block_num=4, early_resolve=True)

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "small",
            "random programs of at most 4 tasks (properties.strategies.SMALL_LIMITS), any sizing",
            lambda: scenarios(SMALL_LIMITS, sizing="any", name="fuzz_small"),
            decided,
        ),
        Family(
            "tiny",
            "random programs of at most 4 tasks on one scheduler thread and one cluster, any sizing: small "
            "enough for the port's DFS to finish preemption bound 1 on most of them",
            lambda: scenarios(TINY_LIMITS, sizing="any", name="fuzz_tiny").map(
                lambda sc: sc.with_config(scheduler_threads=1)
            ),
            decided,
        ),
        Family(
            "medium",
            "random programs of at most 8 tasks, SPMD up to 3 blocks, 2 clusters, two runs sometimes",
            lambda: scenarios(MEDIUM_LIMITS, sizing="any", name="fuzz_medium"),
            decided,
        ),
        Family(
            "generated",
            "random programs with every feature of properties.strategies (up to 12 tasks)",
            lambda: scenarios(ProgramLimits(), sizing="any", name="fuzz_generated"),
            decided,
        ),
        Family(
            "tiled",
            "tile-then-gather programs: 2-17 writers of tiles of one tensor, then readers of spans of it "
            "(TensorMap lookups returning many producers; fuzz.campaigns.families)",
            lambda: tiled_scenarios(name="fuzz_tiled"),
            decided,
        ),
        Family(
            "early",
            "random programs of at most 8 tasks with allow_early_resolve submits (early dispatch), SPMD up to 4 "
            "blocks on 1-2 clusters",
            lambda: scenarios(EARLY_LIMITS, sizing="any", name="fuzz_early"),
            decided,
        ),
        Family(
            "paged-attention",
            "the paged-attention family (AUTO, MANUAL, batched), 1-2 batches of 1-2 blocks",
            lambda: paged_attention_scenarios(max_batch=2, max_blocks=2),
            decided,
        ),
        Family(
            "startup",
            "medium random programs whose orchestrator takes an injected startup abort path (config.init_failure) "
            "in one of their runs",
            lambda: startup_failure_scenarios(MEDIUM_LIMITS, sizing="within"),
            lambda sc: sc.config.init_failure_run == 0 or decided(sc),
        ),
        Family(
            "sync-cohort",
            "a sync_start cohort at or just below its core limit beside holder tasks, 2-3 schedulers "
            "(properties.strategies.sync_cohort_scenarios; the sync_start drain, catalogue J04)",
            lambda: sync_cohort_scenarios(sizing="within"),
            decided,
        ),
        Family(
            "explicit",
            "explicit-edge programs as aicpu_build_graph builds them (properties.explicit_programs: random DAGs "
            "of 2-6 single-block tasks, publish groups, external buffers), here with WAIT + RETAIN dependencies",
            lambda: explicit_dep_scenarios(ABG_V1, name="fuzz_explicit").map(lambda sc: explicit_program_on(sc, TRB)),
            decided,
        ),
        Family(
            "tso",
            "medium random programs and the paged-attention family on store buffers (config.memory_model tso: "
            "the orchestrator's and schedulers' stores wait in FIFO buffers; runtime/store_buffer.py)",
            lambda: st.one_of(
                scenarios(MEDIUM_LIMITS, sizing="any", name="fuzz_tso"),
                paged_attention_scenarios(max_batch=2, max_blocks=2),
            ).map(lambda sc: on_memory_model(sc, "tso")),
            decided,
        ),
        Family(
            "builtin",
            "the built-in tensormap_and_ringbuffer scenarios (their expected outcomes are asserted)",
            _builtin_trb,
            lambda sc: True,
        ),
    )
}


@dataclass(frozen=True)
class Arm:
    name: str
    target: str  # MODEL or PORT
    family: str
    schedulers: tuple[str, ...] = ()  # port only: a subset of PORT_SCHEDULERS, or (DFS,)
    weight: int = 1
    runs: int | None = None  # port only: runs per drawn scenario (default: the campaign's port_runs)


@dataclass(frozen=True)
class Campaign:
    name: str
    description: str
    arms: tuple[Arm, ...]
    model_max_states: int = 20_000
    port_runs: int = 2  # runs per drawn scenario (each with its own seed)
    port_max_steps: int = 200_000
    dfs_max_states: int = 20_000  # DFS arms: distinct states searched per drawn program
    port_observers: tuple[str, ...] = (PORT_CHECKS,)  # per-step property sets (properties.replay.OBSERVER_SETS)
    runtime: str = "tensormap_and_ringbuffer"  # another runtime: fuzz.campaigns.other.campaign_on

    def port_only(self) -> Campaign:
        """The campaign restricted to its port arms (mutants are switches of the port)."""
        arms = tuple(a for a in self.arms if a.target == PORT)
        if not arms:
            raise PtocheckError(
                f"campaign {self.name!r} has no port arm, so mutants cannot apply",
                "--mutant",
                "pick a campaign that runs the port (see ptocheck fuzz --list)",
            )
        return replace(self, arms=arms)


RANDOM_PCT = ("random", "pct")

CAMPAIGNS: dict[str, Campaign] = {
    c.name: c
    for c in (
        Campaign(
            "default",
            "the port on small and medium random programs, tile-then-gather programs, the built-in "
            "workloads and the early-dispatch, sync_start-cohort and startup-abort families under random and "
            "PCT schedules, plus the reference model explored on small programs",
            (
                # Weights by cost: a small or medium port input costs about 0.02 CPU-s, a built-in workload
                # 0.05-0.24 and a model exploration 0.33 (measured on seed 1). The tiled arm exists because
                # the random programs almost never make one lookup return several running producers (400
                # port inputs of seed 1: 9 executions with 2 running, none with more), and the lookup's
                # result buffer is where the runtime lost edges before (16-producer cap, #669).
                Arm("port-small", PORT, "small", RANDOM_PCT, weight=6),
                Arm("port-medium", PORT, "medium", RANDOM_PCT, weight=4),
                Arm("port-builtin", PORT, "builtin", RANDOM_PCT, weight=1),
                Arm("port-tiled", PORT, "tiled", RANDOM_PCT, weight=2),
                # the port's three extensions, each only reachable from its own family: early dispatch
                # (allow_early_resolve submits), the sync_start drain (a cohort near the core limit; random
                # only: PCT can starve the AICores of MIX-heavy programs) and the startup abort paths
                Arm("port-early", PORT, "early", RANDOM_PCT, weight=1),
                # a cohort's drain race needs one interleaving among many: 100-180 random runs of one
                # cohort program find J04's mechanism (tests/test_port_sync_drain.py), so this arm runs
                # each drawn program 32 times
                Arm("port-cohort", PORT, "sync-cohort", ("random",), weight=2, runs=32),
                Arm("port-startup", PORT, "startup", RANDOM_PCT, weight=1),
                Arm("model-small", MODEL, "small", weight=3),
            ),
        ),
        Campaign(
            "model",
            "the reference model, bounded BFS on small and medium random programs",
            (Arm("model-small", MODEL, "small", weight=3), Arm("model-medium", MODEL, "medium", weight=1)),
        ),
        Campaign(
            "port",
            "the port on small, medium and fully featured random programs, random / PCT / round-robin",
            (
                Arm("port-small", PORT, "small", PORT_SCHEDULERS, weight=2),
                Arm("port-medium", PORT, "medium", PORT_SCHEDULERS, weight=2),
                Arm("port-generated", PORT, "generated", RANDOM_PCT, weight=1),
            ),
        ),
        Campaign(
            "paged-attention",
            "the paged-attention family on the port and (bounded) on the model",
            (
                Arm("port-pa", PORT, "paged-attention", RANDOM_PCT, weight=3),
                Arm("model-pa", MODEL, "paged-attention", weight=1),
            ),
            model_max_states=50_000,
            port_observers=(PORT_CHECKS, DATA_ORACLE),
        ),
        Campaign(
            "data",
            "the port carrying real bytes (the data oracle: kernels on the heap rings, poisoned reclaimed "
            "regions, outputs compared with the sequential golden) on random and paged-attention programs",
            (
                Arm("port-small", PORT, "small", RANDOM_PCT, weight=3),
                Arm("port-medium", PORT, "medium", RANDOM_PCT, weight=2),
                Arm("port-pa", PORT, "paged-attention", RANDOM_PCT, weight=1),
            ),
            port_observers=(PORT_CHECKS, DATA_ORACLE),
        ),
        Campaign(
            "startup",
            "the port's startup abort paths (K01b, INV-E4) on medium random programs, random / PCT",
            (Arm("port-startup", PORT, "startup", RANDOM_PCT),),
        ),
        Campaign(
            "early-dispatch",
            "the port on random programs with allow_early_resolve submits (early dispatch, INV-D4), random / "
            "PCT schedules, with the data oracle",
            (Arm("port-early", PORT, "early", RANDOM_PCT),),
            port_observers=(PORT_CHECKS, DATA_ORACLE),
        ),
        Campaign(
            "tso",
            "the port on store buffers (x86-TSO; runtime/store_buffer.py): medium random and paged-attention "
            "programs under random and PCT schedules, with the per-step checks (opt-in: the default campaign "
            "runs sequentially consistent)",
            (Arm("port-tso", PORT, "tso", RANDOM_PCT),),
        ),
        Campaign(
            "systematic",
            "the port's every interleaving up to a preemption bound, not a sample: each drawn tiny program "
            "(at most 4 tasks, one scheduler thread) is searched by the stateful DFS (runtime/dfs.py), bounds "
            "0, 1 (and 2 when drawn) in turn, cut at dfs_max_states states; a failing end is judged strictly",
            # One preemption at the right step is what the alias stall (F-PORT-TMAP-STALE-ALIAS) needed on
            # 4 tasks, which a sampled schedule rarely takes. Larger programs do not finish bound 0 (see
            # TINY_LIMITS), and a cut DFS only varies the end of one schedule: they are the sampled arms' job.
            (Arm("dfs-tiny", PORT, "tiny", (DFS,)),),
            dfs_max_states=60_000,
        ),
        Campaign(
            "builtin",
            "the built-in scenarios on the port under random and PCT schedules",
            (Arm("port-builtin", PORT, "builtin", RANDOM_PCT),),
            port_runs=1,
        ),
        Campaign(
            "explicit-deps",
            "generated explicit-edge programs (the way aicpu_build_graph expresses a task graph) on the port "
            "under random and PCT schedules; runs on every runtime (--runtime)",
            (Arm("port-explicit", PORT, "explicit", RANDOM_PCT),),
            port_observers=(PORT_CHECKS, DATA_ORACLE),
        ),
        Campaign(
            "ci",
            "the gate's short campaign: small programs on the port (one run each) and on the model",
            (Arm("port-small", PORT, "small", RANDOM_PCT), Arm("model-small", MODEL, "small")),
            model_max_states=5_000,
            port_runs=1,
        ),
    )
}


def get_campaign(name: str) -> Campaign:
    if name not in CAMPAIGNS:
        raise PtocheckError(f"no campaign named {name!r}", "--campaign", f"campaigns: {', '.join(CAMPAIGNS)}")
    return CAMPAIGNS[name]


def port_params(arm: Arm) -> st.SearchStrategy[PortParams]:
    """Scheduler parameters: for PCT its depth d, for the DFS its preemption bound (1 or 2)."""
    return st.builds(
        PortParams,
        scheduler=st.sampled_from(arm.schedulers or ("random",)),
        seed=st.integers(0, 2**63 - 1),
        depth=st.integers(1, 2) if arm.schedulers == (DFS,) else st.integers(1, 3),
    )
