"""The data oracle (issue 8): kernels on real bytes in the port's heap rings, a golden, and the property."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from model.builders import BUILTIN_SCENARIOS
from model.builders.paged_attention import (
    CASE_VAR_SEQ4_CONTEXT_LENS,
    batched_paged_attention,
    paged_attention,
)
from model.scenario import Arg, Buffer, Config, Region, Scenario, Submit, Tag, validate
from properties.data_oracle import (
    PROPERTY_ID,
    BufferDataObserver,
    DataObserver,
    any_data_observers,
    check_data,
    data_only_mutant_column,
    data_system,
    direct_attention,
    golden,
    program_races,
    same_outputs,
)
from properties.port_checks import cross_ring_same_local, retain_pairs
from properties.strategies import ProgramLimits, scenarios
from runtime.data import kernels as kn
from runtime.data.binding import (
    FAMILY_BATCHED_PA,
    FAMILY_GENERIC,
    FAMILY_PA,
    FAMILY_VECTOR,
    bind,
    external_inputs,
)
from runtime.data.memory import POISON_WORD, ByteSpace, View, poison_index
from runtime.data.trb_path import TrbDataPath
from runtime.execution import DONE, RandomScheduler, run_once
from runtime.trb import TrbSystem


def _run(scenario: Scenario, seed: int = 0, mutants: frozenset[str] = frozenset()) -> tuple[TrbSystem, DataObserver, str]:
    system = TrbSystem(scenario, mutants, data=True)
    observer = DataObserver(system)
    sched = RandomScheduler(seed)
    sched.new_execution()
    result = run_once(system, sched, [observer], max_steps=200_000, record_trace=False)
    return system, observer, result.outcome


def _path(system: TrbSystem) -> TrbDataPath:
    assert isinstance(system.data, TrbDataPath)
    return system.data


# ------------------------------------------------------------------------------------------ kernels


def test_softmax_prepare_empty_block_gives_no_nan_and_leaves_the_online_state_unchanged() -> None:
    rng = np.random.default_rng(3)
    sij = rng.uniform(-1, 1, (16, 16)).astype(np.float32)
    pij, mij, lij = kn.softmax_prepare(sij[:, :0], 16)
    assert not np.isnan(pij.astype(np.float32)).any() and (pij.astype(np.float32) == 0).all()
    assert (mij == kn.NEG_LARGE).all() and (lij == 0).all()
    p1, m1, l1 = kn.softmax_prepare(sij[:, :9], 16)
    oi_new = kn.pv_matmul(p1, rng.uniform(-1, 1, (16, 16)).astype(kn.BF16))
    mi, li, oi, _ = kn.online_update(m1, l1, oi_new, None, None, None, True, False)
    zero_o = kn.pv_matmul(pij, rng.uniform(-1, 1, (16, 16)).astype(kn.BF16))
    mi2, _li2, _oi2, out = kn.online_update(mij, lij, zero_o, mi, li, oi, False, True)
    assert out is not None and not np.isnan(out).any()
    np.testing.assert_array_equal(mi2, mi)
    np.testing.assert_allclose(out, oi_new / l1[:, None], rtol=1e-6)


def test_softmax_prepare_truncates_pij_to_bfloat16_before_the_row_sum() -> None:
    sij = np.linspace(-2, 2, 32, dtype=np.float32).reshape(2, 16)
    pij, mij, lij = kn.softmax_prepare(sij[:, :12], 16)
    assert pij.dtype == kn.BF16 and (pij.astype(np.float32)[:, 12:] == 0).all()
    np.testing.assert_array_equal(lij, pij.astype(np.float32).sum(axis=1, dtype=np.float32))
    np.testing.assert_array_equal(mij, sij[:, :12].max(axis=1))


def test_poison_pattern_is_nan_in_every_float_dtype_and_found_by_poison_index() -> None:
    space = ByteSpace()
    space.add_segment(0x1000, 256)
    space.fill_poison(0x1000 + 16, 0x1000 + 48)
    f32 = space.read(View(0x1000, 0, (16,), (1,), "FLOAT32"))
    assert poison_index(f32) == 4 and np.isnan(f32[4:12]).all() and not np.isnan(f32[:4]).any()
    bf16 = space.read(View(0x1000, 0, (32,), (1,), "BFLOAT16"))
    assert poison_index(bf16) == 8 and np.isnan(bf16[8:24].astype(np.float32)).all()
    i32 = space.read(View(0x1000, 0, (16,), (1,), "INT32"))
    assert int(i32[4]) == POISON_WORD


# ------------------------------------------------------------------------------------------ the port's data path


def test_data_path_is_off_by_default() -> None:
    assert TrbSystem(BUILTIN_SCENARIOS["pa_two_blocks"]()).data is None


def test_outputs_sit_where_the_allocator_put_them_and_host_buffers_outside_the_heaps() -> None:
    system, _obs, outcome = _run(BUILTIN_SCENARIOS["pa_two_blocks"](), seed=3)
    assert outcome == DONE
    path = _path(system)
    cfg = system.scenario.config
    heaps = [(cfg.heap_base(r), cfg.heap_base(r) + cfg.heap_bytes[r]) for r in range(4)]
    checked = 0
    for (run, task), views in path.views.items():
        block = path.blocks[(run, task)]
        for a, v in zip(path.program.calls[task].args, views, strict=True):
            lo, hi = v.byte_span()
            if a.tag is Tag.OUTPUT:
                assert block.base <= lo and hi <= block.end, (a.buffer, hex(lo), hex(block.base))
                checked += 1
            elif a.buffer in {b.name for b in system.scenario.buffers}:
                assert all(hi <= h0 or lo >= h1 for h0, h1 in heaps)
    assert checked >= 8 + 3  # every created buffer of the 8 submits and the alloc


def test_reclaimed_blocks_are_poisoned_when_last_task_alive_is_published() -> None:
    system, _obs, outcome = _run(BUILTIN_SCENARIOS["pa_two_blocks"](), seed=2)  # ring 2 holds one block at a time
    assert outcome == DONE
    path = _path(system)
    poison = [e for e in path.space.events if e.kind == "poison"]
    assert poison and all("last_task_alive" in e.detail for e in poison)
    still = 0
    for i, e in enumerate(path.space.events):
        if e.kind != "poison":
            continue
        later = [x for x in path.space.events[i + 1 :] if x.lo < e.hi and e.lo < x.hi]
        if not later:
            arr, off = path.space.locate(e.lo, e.hi)
            words = arr[off : off + (e.hi - e.lo)].view(np.uint32)
            assert (words == POISON_WORD).all()
            still += 1
    assert still > 0
    # the second block's outputs land in bytes the first block's reclamation poisoned
    assert any(x.kind == "write" and x.step > e.step and x.lo < e.hi and e.lo < x.hi
               for e in poison for x in path.space.events)


def test_kernels_read_at_start_and_write_at_finish_two_steps_apart() -> None:
    system, _obs, outcome = _run(BUILTIN_SCENARIOS["pa_two_blocks"](), seed=5)
    assert outcome == DONE
    parts = [p for runs in _path(system).parts.values() for p in runs]
    assert len(parts) == 8
    assert all(0 < p.start_step < p.finish_step for p in parts)


# ------------------------------------------------------------------------------------------ golden and property


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("pa_two_blocks", FAMILY_PA),
        ("pa_var_seq4", FAMILY_PA),
        ("pa_var_seq4_manual", FAMILY_PA),
        ("pa_batched", FAMILY_BATCHED_PA),
        ("vector_example", FAMILY_VECTOR),
        ("dummy_dense_fanout_fanin", FAMILY_GENERIC),
    ],
)
def test_builtin_scenarios_match_their_golden(name: str, family: str) -> None:
    _system, obs, outcome = _run(BUILTIN_SCENARIOS[name](), seed=11)
    assert outcome == DONE
    assert obs.verdict is not None and obs.verdict.applicable and obs.verdict.ok, obs.verdict
    assert obs.verdict.family == family and obs.verdict.compared > 0


def test_vector_example_computes_the_tests_golden() -> None:
    system, obs, outcome = _run(BUILTIN_SCENARIOS["vector_example"](), seed=1)
    assert outcome == DONE and obs.verdict is not None and obs.verdict.ok
    f = _path(system).external_contents()["f"]
    assert (f == 47.0).all()  # test_vector_example.py: (a+b+1)*(a+b+2) + (a+b) with a=2, b=3


def test_variable_context_lengths_batched_blocks_past_the_context_stay_finite() -> None:
    scenario = batched_paged_attention(4, 16, 16, 16, CASE_VAR_SEQ4_CONTEXT_LENS, name="var_ctx")
    program = bind(scenario)
    assert program.pa is not None and program.pa.context_lens == CASE_VAR_SEQ4_CONTEXT_LENS
    system, obs, outcome = _run(scenario, seed=4)
    assert outcome == DONE and obs.verdict is not None and obs.verdict.ok, obs.verdict
    out = _path(system).external_contents()["out"]
    assert not np.isnan(out).any()
    ref = direct_attention(program, external_inputs(scenario, program, 0))
    np.testing.assert_allclose(out.reshape(ref.shape), ref, rtol=1e-3, atol=1e-3)
    empty = [p for runs in _path(system).parts.values() for p in runs if program.calls[p.task].kernel == "bsf"]
    assert len(empty) == 8  # max_bn 8 blocks; batches 0, 1 and 3 have blocks past their context


def test_golden_is_reproducible_from_its_seed_and_the_seed_matters() -> None:
    scenario = BUILTIN_SCENARIOS["pa_two_blocks"]()
    program = bind(scenario)
    a, b, c = golden(scenario, program, 7), golden(scenario, program, 7), golden(scenario, program, 8)
    assert a.externals[0]["out"].tobytes() == b.externals[0]["out"].tobytes()
    assert a.externals[0]["out"].tobytes() != c.externals[0]["out"].tobytes()


def test_same_seeds_give_the_same_bytes_and_the_same_byte_log() -> None:
    runs = [_run(BUILTIN_SCENARIOS["pa_two_blocks"](), seed=9)[0] for _ in range(2)]
    a, b = (_path(s) for s in runs)
    assert a.space.events == b.space.events
    assert a.external_contents()["out"].tobytes() == b.external_contents()["out"].tobytes()


def test_a_program_race_makes_the_check_not_applicable_not_a_pass() -> None:
    cfg = Config(task_window=(8,) * 4, heap_bytes=(4096,) * 4, dep_pool=(16,) * 4, scheduler_threads=1, clusters=1)
    whole = Region("x", (16,), (1,))
    scenario = validate(Scenario(
        "racy", cfg, (Buffer("x", "FLOAT32", 16, True),),
        (Submit("A", (-1, 1, -1), (Arg(Tag.OUTPUT_EXISTING, whole),)),
         Submit("B", (-1, 1, -1), (Arg(Tag.OUTPUT_EXISTING, whole),))),
    ))
    races = program_races(scenario, bind(scenario))
    assert races and "A and B" in races[0]
    system, _obs, outcome = _run(scenario)
    assert outcome == DONE
    verdict = check_data(system)
    assert not verdict.applicable and "not applicable" in verdict.summary()


@settings(max_examples=12)
@given(scenarios(ProgramLimits(max_tasks=5, max_external_buffers=2, max_args=3, max_block_num=2, max_clusters=1)))
def test_random_scenarios_generic_kernel_matches_exactly_or_names_the_race(scenario: Scenario) -> None:
    system = TrbSystem(scenario, data=True)
    observer = DataObserver(system)
    sched = RandomScheduler(1)
    sched.new_execution()
    result = run_once(system, sched, [observer], max_steps=50_000, record_trace=False)
    assert result.failure is None or result.failure.property_id != PROPERTY_ID, result.failure
    if observer.verdict is not None and observer.verdict.applicable:
        assert observer.verdict.ok


# ------------------------------------------------------------------------------------------ value: mutants


def test_data_check_alone_finds_completion_flag_without_generation_through_a_poisoned_read() -> None:
    rows = data_only_mutant_column(runs=10, mutants=["M_COMPLETION_FLAG_NO_GENERATION"], engines=("random",))
    assert rows[0].found and rows[0].scenario == "retain_pairs (random)"
    msg = rows[0].message
    assert "held poison" in msg and "reclaimed at step" in msg and "written by Y" in msg
    assert "the golden says" in msg and "at step" in msg


def test_data_check_alone_finds_tokens_from_local_ids_as_a_kernel_that_never_ran() -> None:
    rows = data_only_mutant_column(runs=10, mutants=["M_TOKEN_FROM_LOCAL_ID"], engines=("random",))
    assert rows[0].found and "never executed" in rows[0].message


def test_data_check_alone_finds_the_lookup_cap_as_a_lost_dependency_with_the_producers_late_write() -> None:
    rows = data_only_mutant_column(runs=40, mutants=["M_LOOKUP_CAP"], engines=("pct",))
    assert rows[0].found and rows[0].scenario == "tiled_inout_writers (pct)"
    assert "before its producer W0 finished (its write landed at step" in rows[0].message
    assert "a lost dependency" in rows[0].message


def test_the_unmutated_port_passes_the_data_check_on_the_mutant_scenarios() -> None:
    for scenario in (retain_pairs(3), cross_ring_same_local(1, (-1, 1, -1), "cross_ring_tokens_aiv")):
        for seed in range(4):
            _system, obs, outcome = _run(scenario, seed)
            assert outcome == DONE and obs.verdict is not None and obs.verdict.ok, obs.verdict


# ------------------------------------------------------------------------------------------ the other runtimes (issue 9)


@pytest.mark.parametrize("name", ["abg_pa_two_blocks", "abg2_pa_two_blocks", "hbg_pa_two_blocks", "abg_pa_var_seq4"])
def test_the_other_runtimes_paged_attention_matches_the_golden(name: str) -> None:
    scenario = BUILTIN_SCENARIOS[name]()
    assert bind(scenario).family == FAMILY_PA
    system = data_system(scenario)
    observer = any_data_observers()(system)[0]
    sched = RandomScheduler(2)
    sched.new_execution()
    result = run_once(system, sched, [observer], max_steps=200_000, record_trace=False)
    assert result.outcome == DONE, result.failure
    assert isinstance(observer, BufferDataObserver) and observer.verdict is not None
    kernels = [c for c in bind(scenario).calls.values() if c.kernel not in ("alloc", "none")]
    assert observer.verdict.ok and observer.verdict.compared == len(kernels)


def test_three_runtimes_produce_bit_identical_attention_outputs() -> None:
    trb = paged_attention(4, 16, 16, 16, CASE_VAR_SEQ4_CONTEXT_LENS, name="pa_var_seq4_default_table")
    outs = same_outputs([trb, BUILTIN_SCENARIOS["hbg_pa_var_seq4"](), BUILTIN_SCENARIOS["abg_pa_var_seq4"]()])
    values = list(outs.values())
    assert len(values) == 3 and not np.isnan(values[0]).any()
    assert all(v.tobytes() == values[0].tobytes() for v in values[1:])


def test_data_check_alone_finds_an_other_runtime_mutant_as_a_lost_dependency() -> None:
    from runtime.search import SearchBounds, search

    scenario = BUILTIN_SCENARIOS["abg_pa_two_blocks"]()
    report = search(lambda: data_system(scenario, ["abg.publish_before_edges"]), "random", 1,
                    SearchBounds(runs=20, max_steps=50_000, stop_at_first_failure=False), any_data_observers())
    hits = [f for f in report.failures if f.property_id == PROPERTY_ID]
    assert hits and "a lost dependency" in hits[0].message
    clean = search(lambda: data_system(scenario), "random", 1, SearchBounds(runs=10, max_steps=50_000),
                   any_data_observers())
    assert not clean.failures
