"""Triage of the data campaign's `data_oracle` mismatch on the unmutated port (seed 5): a task inside a
MANUAL scope read a heap buffer whose creator nothing retained, so the runtime reclaimed the block first.

The C++ does exactly that (compute_task_fanin returns before its creator-retention step in a MANUAL
scope, pto_dep_compute.h @ simpler 6ebaf7715), so such a program has no golden: the data check must say
"not applicable" with the reason, never report a mismatch. A reader that retains the creator, directly
or through an earlier task of the creator's ring (the ring-prefix protection that simpler's own
paged_attention_manual_scope example relies on), keeps the check applicable.
"""

from __future__ import annotations

from model.builders import BUILTIN_SCENARIOS
from model.scenario import (
    Alloc,
    Arg,
    Buffer,
    Config,
    DepKind,
    ExplicitDep,
    Op,
    OutputSpec,
    Region,
    Scenario,
    ScopeBegin,
    ScopeEnd,
    ScopeMode,
    Submit,
    Tag,
    TensorData,
    validate,
)
from properties.data_oracle import DataObserver, check_data, golden, program_lifetime_gaps, program_races
from runtime.data.binding import bind
from runtime.data.trb_path import TrbDataPath
from runtime.execution import DONE, RandomScheduler, run_once
from runtime.trb import TrbSystem

CFG = Config(task_window=(8, 4, 4, 4), heap_bytes=(1024, 2048, 2048, 1024), dep_pool=(8,) * 4,
             scheduler_threads=3, clusters=2)
WHOLE_B = Region("b", (2, 2), (2, 1))


def _manual_reader(retain_creator: bool) -> Scenario:
    """The campaign's shape, reduced: P (root scope) creates b; R reads it in an AUTO scope (creator edge);
    inside a MANUAL scope Q runs after R and M reads b after Q, retaining P only when `retain_creator`."""
    deps = (ExplicitDep("Q"), *((ExplicitDep("P"),) if retain_creator else ()))
    program: tuple[Op, ...] = (
        Submit("P", (2, -1, -1), (Arg(Tag.OUTPUT, creates=OutputSpec("b", (2, 2), "FLOAT16")),)),
        ScopeBegin(ScopeMode.AUTO),
        Submit("R", (1, -1, -1), (Arg(Tag.INPUT, WHOLE_B),)),
        ScopeBegin(ScopeMode.MANUAL),
        Submit("Q", (3, -1, -1), (Arg(Tag.OUTPUT, creates=OutputSpec("q", (2, 2), "FLOAT32")),),
               deps=(ExplicitDep("R"),), block_num=3),
        Submit("M", (-1, 1, -1), (Arg(Tag.NO_DEP, WHOLE_B),
                                  Arg(Tag.OUTPUT, creates=OutputSpec("m", (2, 64), "FLOAT32"))), deps=deps),
        ScopeEnd(),
        ScopeEnd(),
    )
    return validate(Scenario("manual_reader", CFG, (), program))


def _run(scenario: Scenario, seed: int) -> tuple[TrbSystem, DataObserver]:
    system = TrbSystem(scenario, frozenset(), data=True)
    observer = DataObserver(system)
    sched = RandomScheduler(seed)
    sched.new_execution()
    result = run_once(system, sched, [observer], max_steps=200_000, record_trace=False)
    assert result.outcome == DONE, result.failure
    return system, observer


def _m_read_poison(system: TrbSystem) -> bool:
    assert isinstance(system.data, TrbDataPath)
    m = [t.name for t in system.scenario.tasks()].index("M")
    return any(p.poison_reads for p in system.data.parts.get((0, m), []))


def test_a_manual_scope_reader_that_does_not_retain_the_creator_is_a_lifetime_gap() -> None:
    scenario = _manual_reader(retain_creator=False)
    program = bind(scenario)
    assert program_races(scenario, program) == ()  # ordered: P -> R -> Q -> M, so only the lifetime is missing
    gaps = program_lifetime_gaps(scenario, program)
    assert len(gaps) == 1 and gaps[0].startswith("M reads b (created by P) inside a MANUAL scope"), gaps


def test_the_unretained_block_is_really_reclaimed_and_the_check_says_not_applicable() -> None:
    scenario = _manual_reader(retain_creator=False)
    poisoned = 0
    for seed in range(24):  # the reclamation needs the root scope's end before M's read
        system, observer = _run(scenario, seed)
        poisoned += _m_read_poison(system)
        assert observer.verdict is not None and not observer.verdict.applicable
        assert observer.verdict.ok and "M reads b (created by P)" in observer.verdict.summary()
    assert poisoned, "sometimes witness: the port reclaims P's block before M reads it"


def test_retaining_the_creator_keeps_the_block_and_the_check_applicable() -> None:
    scenario = _manual_reader(retain_creator=True)
    assert program_lifetime_gaps(scenario, bind(scenario)) == ()
    for seed in range(6):
        system, observer = _run(scenario, seed)
        assert not _m_read_poison(system)
        verdict = observer.verdict
        assert verdict is not None and verdict == check_data(system)
        assert verdict.applicable and verdict.ok and verdict.compared > 0, verdict.summary()


def _ring_prefix(holder: str) -> Scenario:
    """In one MANUAL scope: alloc A, then C creates c, D consumes c (retaining C), T reads c ordered after
    D only, and `holder` ("T", "U" a task waiting for T, or "" for none) retains A, which precedes C."""
    c = Region("c", (2, 2), (2, 1))

    def retain_a(name: str) -> tuple[ExplicitDep, ...]:
        return (ExplicitDep("A"),) if holder == name else ()

    program: tuple[Op, ...] = (
        ScopeBegin(ScopeMode.MANUAL),
        Alloc("A", (OutputSpec("a", (4,), "FLOAT32"),)),
        Submit("C", (2, -1, -1), (Arg(Tag.OUTPUT, creates=OutputSpec("c", (2, 2), "FLOAT16")),)),
        Submit("D", (1, -1, -1), (Arg(Tag.INPUT, c),), deps=(ExplicitDep("C"),)),
        Submit("T", (1, -1, -1), (Arg(Tag.INPUT, c),), deps=(ExplicitDep("D", DepKind.WAIT), *retain_a("T"))),
        Submit("U", (-1, 1, -1), (Arg(Tag.OUTPUT, creates=OutputSpec("u", (4,), "FLOAT32")),),
               deps=(ExplicitDep("T", DepKind.WAIT), *retain_a("U"))),
        ScopeEnd(),
    )
    return validate(Scenario("ring_prefix", CFG, (), program))


def test_an_earlier_task_of_the_creators_ring_retained_past_the_read_protects_the_block() -> None:
    for holder in ("T", "U"):
        scenario = _ring_prefix(holder)
        assert program_lifetime_gaps(scenario, bind(scenario)) == (), holder
    gaps = program_lifetime_gaps(*(lambda s: (s, bind(s)))(_ring_prefix("")))
    assert gaps and gaps[0].startswith("T reads c (created by C)"), gaps


def test_a_reader_submitted_after_the_creators_scope_ended_is_a_lifetime_gap() -> None:
    # the creator edge is wired only if P has not retired yet, which nothing guarantees once its scope ended
    program: tuple[Op, ...] = (
        ScopeBegin(ScopeMode.AUTO),
        Submit("P", (2, -1, -1), (Arg(Tag.OUTPUT, creates=OutputSpec("b", (2, 2), "FLOAT16")),)),
        ScopeEnd(),
        Submit("R", (1, -1, -1), (Arg(Tag.INPUT, WHOLE_B),)),
    )
    scenario = validate(Scenario("late_reader", CFG, (), program))
    gaps = program_lifetime_gaps(scenario, bind(scenario))
    assert gaps and gaps[0].startswith("R reads b (created by P)"), gaps


def test_simplers_manual_scope_paged_attention_stays_applicable() -> None:
    # UP reads SF's mi/li with only a PV edge; the last UP retains the alloc task that precedes every SF
    scenario = BUILTIN_SCENARIOS["pa_var_seq4_manual"]()
    assert program_lifetime_gaps(scenario, bind(scenario)) == ()


# ---- seed 5 of the data campaign: get_tensor_data racing a manual_dep writer -------------------------
# wait_for_tensor_ready (pto_runtime2.cpp @ simpler 6ebaf7715) waits for the owner and the TensorMap's
# writers only; a manual_dep INOUT is never registered (pto_dep_compute.h), so the orchestrator's read
# of those bytes races with that task: the program has no golden for the read.

X_WHOLE = Region("x", (2,), (1,))


def _tensor_read_after_writers(manual_dep: bool) -> Scenario:
    """W0 updates x[0] (TensorMap-registered), W1 updates x[1] (manual_dep or not) after a slow task S the
    read does not wait for, then the orchestrator reads all of x."""
    cfg = Config(task_window=(8,) * 4, heap_bytes=(4096,) * 4, dep_pool=(16,) * 4, scheduler_threads=1, clusters=1)
    program: tuple[Op, ...] = (
        Submit("W0", (-1, 1, -1), (Arg(Tag.INOUT, Region("x", (1,), (1,))),)),
        Submit("S", (3, -1, -1), (Arg(Tag.OUTPUT, creates=OutputSpec("s", (2, 2), "FLOAT32")),), block_num=4),
        Submit("W1", (-1, 1, -1), (Arg(Tag.INOUT, Region("x", (1,), (1,), offset=1), manual_dep=manual_dep),),
               deps=(ExplicitDep("S", DepKind.WAIT),)),
        TensorData(False, X_WHOLE),
    )
    return validate(Scenario("tensor_read", cfg, (Buffer("x", "FLOAT32", 2, True),), program))


def test_a_get_tensor_data_does_not_wait_for_a_manual_dep_writer() -> None:
    racy = _tensor_read_after_writers(manual_dep=True)
    assert program_races(racy, bind(racy)) == (
        "get_tensor_data at program[3] and W1 both touch x with no wait between them",)
    ordered = _tensor_read_after_writers(manual_dep=False)
    assert program_races(ordered, bind(ordered)) == ()


def test_the_racing_read_is_not_applicable_never_a_mismatch() -> None:
    scenario = _tensor_read_after_writers(manual_dep=True)
    program = bind(scenario)
    want = golden(scenario, program, 0).tensor_reads[(0, 3)]
    stale = 0
    for seed in range(6):
        system, observer = _run(scenario, seed)
        assert isinstance(system.data, TrbDataPath)
        stale += system.data.tensor_reads[(0, 3)].tobytes() != want.tobytes()
        verdict = observer.verdict
        assert verdict is not None
        assert not verdict.applicable and verdict.ok, verdict.summary()
        assert "get_tensor_data at program[3] and W1" in verdict.summary()
    assert stale, "sometimes witness: the port reads x before W1's write lands (what the campaign flagged)"


def test_a_read_of_registered_writers_stays_applicable_and_matches() -> None:
    scenario = _tensor_read_after_writers(manual_dep=False)
    for seed in range(4):
        system, observer = _run(scenario, seed)
        verdict = observer.verdict
        assert verdict is not None and verdict == check_data(system)
        assert verdict.applicable and verdict.ok and verdict.compared > 0, verdict.summary()


def _tensor_write_after_reader(reader_retains_writer: bool) -> Scenario:
    """W updates x (TensorMap-registered); R reads x (a WAIT-only TensorMap edge on W, plus an explicit
    WAIT+RETAIN on W when `reader_retains_writer`) after a slow task S; then the orchestrator writes x."""
    cfg = Config(task_window=(8,) * 4, heap_bytes=(4096,) * 4, dep_pool=(16,) * 4, scheduler_threads=1, clusters=1)
    retain = (ExplicitDep("W"),) if reader_retains_writer else ()
    program: tuple[Op, ...] = (
        Submit("W", (-1, 1, -1), (Arg(Tag.INOUT, X_WHOLE),)),
        Submit("S", (3, -1, -1), (Arg(Tag.OUTPUT, creates=OutputSpec("s", (2, 2), "FLOAT32")),), block_num=4),
        Submit("R", (-1, 1, -1), (Arg(Tag.INPUT, X_WHOLE), Arg(Tag.OUTPUT, creates=OutputSpec("r", (2,), "FLOAT32"))),
               deps=(ExplicitDep("S", DepKind.WAIT), *retain)),
        TensorData(True, X_WHOLE),
    )
    return validate(Scenario("tensor_write", cfg, (Buffer("x", "FLOAT32", 2, True),), program))


def test_set_tensor_data_does_not_wait_for_a_wait_only_consumer() -> None:
    # wire_fanin_task releases a WAIT-only claim at wiring, so W's fanout_refcount reaches fanout_count
    # before R runs: the write races with R's read (spec §5 "set_tensor_data", #1806)
    scenario = _tensor_write_after_reader(reader_retains_writer=False)
    assert program_races(scenario, bind(scenario)) == (
        "set_tensor_data at program[3] and R both touch x with no wait between them",)
    for seed in range(3):
        _system, observer = _run(scenario, seed)
        assert observer.verdict is not None
        assert not observer.verdict.applicable and observer.verdict.ok, observer.verdict.summary()


def test_set_tensor_data_waits_for_a_retaining_consumer() -> None:
    scenario = _tensor_write_after_reader(reader_retains_writer=True)
    assert program_races(scenario, bind(scenario)) == ()
    for seed in range(4):
        system, observer = _run(scenario, seed)
        verdict = observer.verdict
        assert verdict is not None and verdict == check_data(system)
        assert verdict.applicable and verdict.ok and verdict.compared > 0, verdict.summary()


def _aliasing_task(block_num: int) -> Scenario:
    """One task whose two INOUT arguments overlap on x[2..3] (campaign seeds 1 and 9 had such tasks)."""
    x = Buffer("x", "FLOAT32", 8, external=True)
    a, b = Region("x", (4,), (1,)), Region("x", (4,), (1,), offset=2)
    program: tuple[Op, ...] = (Submit("T", (-1, 1, -1), (Arg(Tag.INOUT, a), Arg(Tag.INOUT, b)), block_num=block_num),)
    return validate(Scenario(f"aliasing_task_b{block_num}", CFG, (x,), program))


def test_a_multi_part_task_whose_arguments_alias_has_no_single_golden() -> None:
    """Its parts run concurrently, each reading at its start and writing at its finish: the bytes depend on
    the interleaving, so the data check says "not applicable"; with one part the result is determined."""
    racy, single = _aliasing_task(2), _aliasing_task(1)
    assert any("two arguments alias x bytes" in r for r in program_races(racy, bind(racy)))
    assert program_races(single, bind(single)) == ()


def _stale_read(inside_scope: bool) -> Scenario:
    """The data campaign's seed-505 shape, reduced: A allocates b in an inner AUTO scope; the orchestrator
    reads b with get_tensor_data inside that scope, or after it ended and B (same ring) allocated again."""
    read = TensorData(False, Region("b", (2, 8), (8, 1)))
    program: tuple[Op, ...] = (
        ScopeBegin(ScopeMode.AUTO),
        Alloc("A", (OutputSpec("b", (2, 8), "FLOAT32"),)),
        *((read,) if inside_scope else ()),
        ScopeEnd(),
        ScopeBegin(ScopeMode.AUTO),
        Alloc("B", (OutputSpec("c", (4, 1), "FLOAT32"),)),
        ScopeEnd(),
        *(() if inside_scope else (read,)),
    )
    config = Config(task_window=(4,) * 4, heap_bytes=(1024,) * 4, dep_pool=(8,) * 4, scheduler_threads=1, clusters=1)
    return validate(Scenario(f"stale_read_{'inside' if inside_scope else 'after'}", config, (), program))


def _tensor_reads_off_golden(system: TrbSystem) -> int:
    path = system.data
    assert isinstance(path, TrbDataPath)
    gold = golden(system.scenario, path.program, path.seed)
    return sum(
        1 for key, want in gold.tensor_reads.items()
        if path.tensor_reads[key].tobytes() != want.tobytes()
    )


def test_a_get_tensor_data_after_the_creators_scope_ended_is_a_lifetime_gap() -> None:
    """The orchestrator's read holds no reference: once A's scope ended nothing pins A's block, the heap
    reclaims it, and the read returns whatever is there (the port's poison). So there is no golden: the data
    check says "not applicable" with the reason (it reported a mismatch before: data campaign, seed 505)."""
    scenario = _stale_read(inside_scope=False)
    gaps = program_lifetime_gaps(scenario, bind(scenario))
    assert gaps == ("get_tensor_data at program[6] touches a buffer created by A after A's scope ended, while no "
                    "open scope pins A's heap block",)
    for seed in range(3):
        system, observer = _run(scenario, seed)
        assert _tensor_reads_off_golden(system) > 0  # the gap is real: the read saw reclaimed bytes
        assert observer.verdict is not None
        assert not observer.verdict.applicable and observer.verdict.reason == gaps[0]


def test_a_get_tensor_data_inside_the_creators_scope_stays_applicable_and_matches() -> None:
    scenario = _stale_read(inside_scope=True)
    assert program_lifetime_gaps(scenario, bind(scenario)) == ()
    for seed in range(3):
        system, observer = _run(scenario, seed)
        assert _tensor_reads_off_golden(system) == 0
        assert observer.verdict is not None and observer.verdict.applicable and observer.verdict.ok
