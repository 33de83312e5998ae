"""Registered findings about the real runtime: violations reported on a faithful model or port.

A finding is never fixed by bending the model; it is registered here with a signature, the C++
functions involved, a short explanation, and a replayable artifact (scenario + exact action path).
Random tests and campaigns fail on any signature not in this registry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from model.errors import PtocheckError
from model.scenario import Alloc, Scenario
from properties.artifacts import Artifact, Signature, load_artifact
from properties.finding_mechanisms import holds_alias_claim, la_stops_after_an_alloc_task
from properties.port_checks import PROPERTIES as PORT_PROPERTIES
from properties.replay import replay_model_path
from properties.sizing import heap_alias_lookups, stale_tensor_uses

__all__ = [
    "FINDINGS",
    "MODEL_LIMITATIONS",
    "Finding",
    "ModelLimitation",
    "bare_functions",
    "load_model_artifact",
    "matching_finding",
    "replay_model_path",
]


# the port's state invariants ("always"): on store buffers they wait for a step that leaves every buffer empty
DEFERRED_UNDER_STORE_BUFFERS = frozenset(p.name for p in PORT_PROPERTIES if p.kind == "always")


@dataclass(frozen=True)
class Finding:
    ident: str
    runtime: str
    property_name: str
    spec: str
    cxx_functions: tuple[str, ...]
    explanation: str
    artifact: str  # path relative to the repository root
    reproduce: str = ""  # the command that shows it, where `ptocheck replay ARTIFACT` does not
    # where the signature alone is too broad (e.g. any deadlock in resolve_and_dispatch): the scenarios the
    # finding is about; a failure on any other scenario with the same signature is not this finding
    applies_to: Callable[[Scenario], bool] | None = field(default=None, compare=False)
    applies_text: str = ""  # what `applies_to` requires, for reports
    # the property has one mechanism in the faithful port, so the blamed step (whichever op follows the
    # violating store) does not tell instances apart: match on runtime and property alone
    any_step: bool = False
    # the same mechanism reported under another property name by another layer (e.g. a per-step port check
    # and the end-of-run judgement); the blamed function must still match
    other_properties: tuple[str, ...] = ()
    # where another finding has the same signature on the same programs: whether a failing run (its
    # artifact, replayed) shows this finding's mechanism (properties.finding_mechanisms); checked whenever
    # the caller has the artifact
    explains: Callable[[Artifact], bool] | None = field(default=None, compare=False)

    @property
    def signature(self) -> tuple[str, str, str]:
        return (self.runtime, self.property_name, self.cxx_functions[0])


FINDINGS: tuple[Finding, ...] = (
    Finding(
        ident="F-MODEL-R7",
        runtime="tensormap_and_ringbuffer",
        property_name="own_release_before_reuse",
        spec="INV-R7",
        cxx_functions=(
            "PTO2SchedulerState::check_and_handle_consumed (SCHED/pto_scheduler.h)",
            "PTO2OrchestratorState::end_scope -> on_scope_end -> release_producer_scope",
            "SchedulerContext::resolve_and_dispatch deferred_release_slot_states (SCHED/scheduler_dispatch.cpp)",
            "PTO2SchedulerState::on_task_release (reads slot_state.payload)",
            "RingSchedState::advance_ring_pointers",
            "prepare_task / PTO2TaskAllocator::alloc (RT/pto_orchestrator.cpp)",
            # a hidden alloc task rebinds a slot exactly as a submit does (spec §2.5)
            "PTO2OrchestratorState::alloc_tensors (hidden alloc task: alloc + prepare_task)",
        ),
        explanation=(
            "check_and_handle_consumed flips COMPLETED->CONSUMED whenever rc == fc, with no term for the "
            "task's own deferred on_task_release. A task whose consumers and scope released it before its "
            "completing thread flushed its deferred list is consumed, la passes it, and the orchestrator "
            "rebinds the slot. The deferred entry is a slot pointer, so the later on_task_release walks the "
            "new occupant's payload fanin edges (releasing its RETAIN producers once too often) and runs the "
            "self check on the new occupant. INV-R7 is a design invariant the spec says the runtime relies on."
        ),
        artifact="tests/regressions/f_model_r7.json",
        # own_release_before_reuse has this one mechanism (a deferred release outliving its slot's binding),
        # on the model and on the port (the release-rebound event); the blamed step is whichever rebinds the
        # slot or pops the stale entry (end_scope, alloc_tensors, prepare_task, on_task_complete, ...)
        any_step=True,
    ),
    Finding(
        ident="F-PORT-RELEASE-IN-FLIGHT-REBOUND",
        runtime="tensormap_and_ringbuffer",
        property_name="balanced_releases",
        spec="INV-L2 (the root cause is F-MODEL-R7's, INV-R7)",
        cxx_functions=(
            "PTO2SchedulerState::release_producer (SCHED/pto_scheduler.h)",
            "PTO2SchedulerState::on_task_release (reads slot_state.payload)",
            "PTO2SchedulerState::check_and_handle_consumed (SCHED/pto_scheduler.h)",
        ),
        explanation=(
            "F-MODEL-R7 caught in the middle of the release instead of at its start. A scheduler thread "
            "flushing its deferred list starts on_task_release(C) while C's slot still holds C, and is "
            "preempted between two release_producer calls. Nothing stops C from being consumed meanwhile "
            "(check_and_handle_consumed has no term for C's own release), so la passes it and the slot is "
            "rebound, more than once here. The rest of the release walks the new occupant's fanin edges through "
            "the slot pointer and releases a producer that nobody claimed for it: its fanout_refcount exceeds "
            "its fanout_count (INV-L2), and the producer can be consumed with live claims."
        ),
        artifact="tests/regressions/release_in_flight_rebound.json",
    ),
    Finding(
        ident="F-PORT-LA-UNPREPARED",
        runtime="tensormap_and_ringbuffer",
        property_name="run.task_not_consumed",
        spec="INV-R3",
        cxx_functions=(
            "PTO2SchedulerState::check_and_handle_consumed (SCHED/pto_scheduler.h)",
            "RingSchedState::advance_ring_pointers (SCHED/pto_scheduler.h)",
            "PTO2TaskAllocator::commit_task (RT/pto_ring_buffer.h)",
            "prepare_task (RT/pto_orchestrator.cpp)",
        ),
        explanation=(
            "commit_task publishes current_task_index (release) before prepare_task sets the new task's "
            "task_state to PENDING, and reset_for_reuse deliberately leaves a reclaimed slot's task_state "
            "CONSUMED. A scheduler thread that runs advance_ring_pointers in that window loads the new "
            "current_task_index, finds the recycled slot still CONSUMED (the previous generation's state) and "
            "moves last_task_alive past a task that has not even been prepared. The task is never consumed "
            "(its slot and heap are treated as free while it is live). Port checks name it consumed_prefix at "
            "the advance step; the strict end-of-run judgement names it run.task_not_consumed."
        ),
        artifact="tests/regressions/port_la_passes_unprepared_task.json",
        other_properties=("consumed_prefix",),
    ),
    Finding(
        ident="F-ABG-V1-EARLY-EXIT",
        runtime="aicpu_build_graph",
        property_name="run.deadlock",
        spec="aicpu_build_graph liveness: no task stays unready forever (spec §8)",
        cxx_functions=(
            "AicpuExecutor::resolve_and_dispatch (aicpu_build_graph aicpu_executor.cpp @ dddb9a39f)",
            "aicpu_runtime_publish_task (aicpu_build_graph, same commit)",
        ),
        explanation=(
            "The v1 scheduler loop loads published_tasks_, then completed_tasks_, then build_done_ as three "
            "separate loads. A thread that read published before the builder's last publishes sees "
            "completed >= published once build_done is set, exits and shuts down its cores. If it owned the only "
            "core of the type a later task needs, that task never runs and the remaining thread times out (-1). "
            "Concurrent build mode only; the runtime was removed in #701, so this is historical."
        ),
        artifact="tests/regressions/abg_v1_early_exit.json",
    ),
    Finding(
        ident="F-PORT-DEFER-OVERFLOW",
        runtime="tensormap_and_ringbuffer",
        property_name="deferred_release_in_bounds",
        spec="C++ array bound (deferred_release_slot_states[PTO2_DEFERRED_RELEASE_CAP], scheduler_dispatch.cpp)",
        cxx_functions=(
            "SchedulerContext::resolve_and_dispatch Phase 3 dummy drain (SCHED/scheduler_dispatch.cpp)",
            "on_task_complete (the dummy task's completion, the step after the append)",
            "SchedulerContext::complete_slot_task (SCHED/scheduler_completion.cpp)",
        ),
        explanation=(
            "The deferred-release buffer is a stack array of PTO2_DEFERRED_RELEASE_CAP (256) slot pointers, "
            "flushed only on an iteration that made no progress or when an append finds it full. "
            "complete_slot_task appends when count < CAP and otherwise flushes first, so it can leave the buffer "
            "exactly full. The Phase 3 dummy-task drain appends first and checks afterwards "
            "(deferred_release_slot_states[deferred_release_count++] = &dummy_slot; if (count >= CAP) flush), so "
            "a dummy task resolved by a thread whose buffer is full writes element CAP, one past the array, and "
            "the flush then releases that stray pointer. It needs CAP completions on one thread with no idle "
            "iteration in between, then a dummy task on that thread: a busy run with dummy tasks. The artifact "
            "scales the capacity to 1 (recorded in the scenario), so a kernel task and a dummy reader show it."
        ),
        artifact="tests/regressions/deferred_release_overflow.json",
        # only the dummy drain appends before checking (complete_slot_task and the async-wait sink check
        # first); the overflow store is reported at whichever op the thread announces next
        any_step=True,
    ),
    Finding(
        ident="F-PORT-OWN-SLOT-SELF-CLAIM",
        runtime="tensormap_and_ringbuffer",
        property_name="retain_reader_before_reuse",
        spec="INV-L4 (and INV-G1)",
        cxx_functions=(
            "prepare_task (RT/pto_orchestrator.cpp)",
            "append_fanin_or_fail (RT/pto_orchestrator.cpp): gone = task_id.local() != expected || CONSUMED",
            "compute_task_fanin (RT/pto_orchestrator.cpp): Step A, the creator edge from owner_task_id",
        ),
        explanation=(
            "The port's instance of F-SMT-G1-OWN-SLOT, on a program outside the documented contract: t5 "
            "views b4, created by the hidden alloc task t1 in a scope that has ended (t1 is already CONSUMED). "
            "t5 gets t1's old slot (local 5 = 1 + W on a ring of W = 4); prepare_task has set it PENDING but "
            "the descriptor still carries t1's task id until STEP 5, so append_fanin_or_fail's generation check "
            "passes and t5 claims its own slot: a RETAIN (and WAIT) edge on a retired producer. Nothing keeps "
            "t1's heap bytes, so the next task's allocation reuses them while t5 still waits to read them, and t5 "
            "waits on itself. The runtime neither rejects the stale use nor fails cleanly. Campaigns draw such "
            "programs rarely on purpose (properties.strategies: stale_tensor_uses)."
        ),
        artifact="tests/regressions/port_own_slot_self_claim.json",
        applies_to=lambda scenario: bool(stale_tensor_uses(scenario)),
        applies_text="a program that views a runtime-created tensor after its creator's scope ended",
    ),
    Finding(
        ident="F-PORT-EARLY-RELEASE-REROUTE",
        runtime="tensormap_and_ringbuffer",
        property_name="single_completion",
        spec="INV-D3 (on_task_complete exactly once per generation), INV-D4",
        cxx_functions=(
            "on_task_complete (the second completion of the re-dispatched consumer)",
            "try_early_dispatch_release (SCHED/pto_scheduler.h: the next_block_idx load after the doorbells)",
            "route_ready_once (pushes the consumed slot)",
        ),
        explanation=(
            "try_early_dispatch_release rings a fully pre-staged consumer's doorbells, stores the launch state, "
            "and only then loads next_block_idx to decide whether unstaged blocks remain. Between the doorbell "
            "and that load the consumer can run, complete, be released and CONSUMED, and the ring advance's "
            "reset_for_reuse zeroes next_block_idx: the load reads 0 < logical_block_num, route_ready_once "
            "pushes the consumed slot onto the ready queue, a scheduler claims block 0 again and the kernel runs "
            "a second time (completed twice; with the slot rebound, the new generation's state is corrupted). "
            "The artifact: a flagged MIX producer (3 blocks) and a 1-block consumer staged on the other "
            "cluster's AIC; the releasing thread stalls after the doorbell."
        ),
        artifact="tests/regressions/early_release_reroute.json",
        applies_to=lambda scenario: any(getattr(op, "early_resolve", False) for op in scenario.program),
        applies_text="scenarios with an allow_early_resolve submit",
    ),
    Finding(
        ident="F-PORT-EMPTY-PROGRAM-HANG",
        runtime="tensormap_and_ringbuffer",
        property_name="run.deadlock",
        spec="EVENTUALLY (the run terminates)",
        cxx_functions=(
            "SchedulerContext::handle_orchestrator_exit (SCHED/scheduler_cold_path.cpp: task_count > 0 && ...)",
            "SchedulerContext::resolve_and_dispatch (SCHED/scheduler_dispatch.cpp: watchdog needs total_tasks_ > 0)",
        ),
        explanation=(
            "An orchestration that submits no task never ends: handle_orchestrator_exit leaves the scheduler "
            "loop only when task_count > 0 && completed_tasks_ >= task_count, and the stall watchdog only "
            "counts when total_tasks_ > 0, so with zero tasks every scheduler thread spins forever after "
            "orchestrator_done and the host's launch never returns. The model (and host_build_graph) end such "
            "a run at once."
        ),
        artifact="tests/regressions/empty_program_hang.json",
        applies_to=lambda scenario: not scenario.tasks(),
        applies_text="the program submits no task",
        # with no task the only thing a run can do is hang: whichever thread's wait is blamed (the schedulers'
        # idle loop, or the orchestrator waiting for the next run's launch), it is this finding
        any_step=True,
    ),
    Finding(
        ident="F-PORT-DEP-RECLAIM-ALLOC-MARK",
        runtime="tensormap_and_ringbuffer",
        property_name="run.unexpected_fatal.DEP_POOL_OVERFLOW",
        spec="EVENTUALLY (every task consumed: a dep pool that consumed tasks have freed is reclaimed)",
        cxx_functions=(
            "PTO2DepListPool::ensure_space (RT/pto_ring_buffer.cpp)",
            "PTO2DepListPool::reclaim (RT/pto_ring_buffer.cpp: mark of task la-1, last_reclaimed = la)",
            "PTO2OrchestratorState::alloc_tensors (RT/pto_orchestrator.cpp: no mark_dep_pool_position)",
        ),
        explanation=(
            "DepListPool::reclaim frees up to the dep_pool_mark of task la-1 and then sets last_reclaimed = la, "
            "so the next reclaim waits until la has moved PTO2_DEP_POOL_CLEANUP_INTERVAL further. alloc_tensors "
            "never calls mark_dep_pool_position (and reset_for_reuse keeps the field), so a hidden alloc task's "
            "mark is 0 (a slot's first use) or its slot's previous occupant's. submit_task_common picks branch (c) "
            "once, at its all_claimed_fanin_completed read; ensure_space then waits on last_task_alive alone, even "
            "after the producers complete. When la stops right after an alloc task, reclaim frees nothing yet "
            "spends its turn; the blocked submit has claimed the task at la (append_fanin_or_fail pins it until "
            "wiring), so la cannot move again, and the 500 ms backstop latches DEP_POOL_OVERFLOW although the "
            "consumed tasks before the alloc task freed enough entries. The reference model reaches the same latch "
            "(tests/regressions/dep_pool_alloc_mark_model.json, expected_outcome); it used to hide it by re-taking "
            "the publish decision on every retry (a producer completing turned the wait into branch (b)) and by "
            "dropping the last_reclaimed of a reclaim that freed too little."
        ),
        artifact="tests/regressions/dep_pool_alloc_mark.json",
        applies_to=lambda scenario: any(isinstance(op, Alloc) for op in scenario.program),
        applies_text="the program uses alloc_tensors",
        # the model's explorer reports the same run as expected_outcome (INV-E2), blaming the fatal's detector
        other_properties=("expected_outcome",),
        # F-PORT-TMAP-STALE-ALIAS stalls the same wait on the same programs: here la stops after an alloc task
        explains=la_stops_after_an_alloc_task,
    ),
    Finding(
        ident="F-PORT-DEP-MARK-STALE-NEXT-RUN",
        runtime="tensormap_and_ringbuffer",
        property_name="pool_bounds",
        spec="INV-P1 (0 <= top - tail <= capacity; tail advances only to a mark of this run)",
        cxx_functions=(
            "PTO2DepListPool::ensure_space (RT/pto_ring_buffer.cpp)",
            "PTO2DepListPool::reclaim (RT/pto_ring_buffer.cpp: advance_tail(mark of task la-1), no bound by top)",
            "PTO2OrchestratorState::alloc_tensors (RT/pto_orchestrator.cpp: no mark_dep_pool_position)",
            "PTO2SharedMemoryHandle::init_per_ring (RT/shared/pto_shared_memory.cpp: a relaunch re-initialises "
            "the headers, not the slot states)",
        ),
        explanation=(
            "Slot states survive a relaunch on the same shared memory: init_per_ring re-initialises the ring "
            "headers, runtime_reset_for_reuse restarts the dep pool at top = tail = 1, and prepare_task's "
            "reset_for_reuse keeps dep_pool_mark. A hidden alloc task never writes its mark, so in run 2 an alloc "
            "task that is the first occupant of its slot still holds the linear pool position the slot's last "
            "occupant reached in run 1. A run-2 reclaim at la = that task + 1 moves tail to the run-1 position, past "
            "the run-2 top: top - tail goes negative, ensure_space and alloc() see more than the capacity free, and "
            "the next prepends reuse entries that live fanout lists still link (here X0 is never consumed). The "
            "port and the reference model (tests/regressions/dep_pool_stale_mark_next_run_model.json) both show it. "
            "With the C++ interval of 64 it needs la - 1 to be such an alloc task at a reclaim, and run 1 to have "
            "passed more dep entries than run 2 has allocated by then. Same root as F-PORT-DEP-RECLAIM-ALLOC-MARK "
            "(the alloc task's mark is never written), worse effect (live nodes overwritten, not a fatal)."
        ),
        artifact="tests/regressions/dep_pool_stale_mark_next_run.json",
        applies_to=lambda scenario: scenario.runs > 1 and any(isinstance(op, Alloc) for op in scenario.program),
        applies_text="the program uses alloc_tensors and runs more than once on the same shared memory",
    ),
    Finding(
        ident="F-PORT-TMAP-STALE-ALIAS",
        runtime="tensormap_and_ringbuffer",
        property_name="run.unexpected_fatal.TENSORMAP_OVERFLOW",
        spec="INV-S6 conditions 3 and 5 (sufficient sizing); INV-P3 and INV-P1 (exhaustion is back-pressure while "
        "reclaim is possible)",
        cxx_functions=(
            "orch_mark_fatal (RT/pto_orchestrator.cpp: called by ensure_tensormap_capacity after the backstop)",
            "ensure_tensormap_capacity (RT/pto_orchestrator.cpp: waits after compute_task_fanin's claims)",
            "PTO2TensorMap::lookup (RT/pto_tensormap.h: matches on buffer_addr; entry_valid = producer local >= "
            "last_task_alive)",
            "append_fanin_or_fail (RT/pto_orchestrator.cpp: claims the stale writer)",
            "PTO2TaskAllocator::update_heap_tail (RT/pto_ring_buffer.h: the buffer is reclaimed with its creator)",
            "PTO2DepListPool::ensure_space (RT/pto_ring_buffer.cpp: the dep-list pool's wait, also after the claims)",
        ),
        explanation=(
            "The TensorMap keys an entry by the buffer's address but keeps it valid until its writer retires, not "
            "until the buffer is reclaimed; the buffer is reclaimed with its creator, which may be on another ring. "
            "A1 (ring 1) creates x; W1 (ring 2) writes x (INOUT), registering an entry at x's address. Once W1 "
            "completes, A1 is released and consumed and its heap bytes go to A2's y; W1 itself is completed but "
            "not yet consumed (its ring's last_task_alive has not passed it). W2's lookup of y then matches W1's "
            "entry for the dead x, and append_fanin_or_fail claims W1: a false dependency. W2 next reserves its "
            "TensorMap entries in ensure_tensormap_capacity while holding that claim; the entry that would free "
            "the room is W1's, which can only retire after W2 runs. Nothing can move, and the 500 ms backstop "
            "latches TENSORMAP_OVERFLOW although INV-S6 holds (the spec's and ptocheck's sizing count the edges of "
            "the program, where x and y are different tensors). With the C++ pool of 65536 the stall needs a "
            "nearly full pool; the false WAIT edges on reused addresses happen at any size. The artifact scales "
            "the pool to 2 and needs one preemption; the reference model, which matches entries by address too, "
            "reaches the same fatal. The same claim stalls the dep-list pool's wait (ensure_space, after the "
            "claims too) when that pool is the short one: DEP_POOL_OVERFLOW "
            "(tests/regressions/tmap_stale_alias_dep_pool.json, from a paged-attention campaign)."
        ),
        artifact="tests/regressions/tmap_stale_alias_stall.json",
        applies_to=lambda scenario: bool(heap_alias_lookups(scenario)),
        applies_text="a submit may look up a runtime-created tensor at the reused heap address of an older "
        "registered one (properties.sizing.heap_alias_lookups)",
        # the reference model reaches the same latch (tests/regressions/tmap_stale_alias_stall_model.json) and
        # reports it as expected_outcome (INV-E2), blamed on ensure_tensormap_capacity; the dep-list pool's
        # stall (tests/regressions/tmap_stale_alias_dep_pool.json) latches DEP_POOL_OVERFLOW in ensure_space
        other_properties=("expected_outcome", "run.unexpected_fatal.DEP_POOL_OVERFLOW"),
        # F-PORT-DEP-RECLAIM-ALLOC-MARK has the dep-pool signature on the same programs: the submit in progress
        # must hold a claim no program edge explains
        explains=holds_alias_claim,
    ),
)


def load_model_artifact(path: Path) -> tuple[Scenario, list[tuple[int, int, int]], str]:
    """A `model-path` artifact's scenario, action path and finding id."""
    artifact = load_artifact(path)
    if artifact.kind != "model-path":
        raise PtocheckError(f"expected a model-path artifact, got {artifact.kind!r}", str(path), "replay it with `ptocheck replay`")
    return artifact.scenario, list(artifact.actions), artifact.finding or ""


# Findings of the Z3 proofs (properties/smt): counterexamples to invariants of a faithful encoding of the
# C++, or widths the C++ does not guard. Their artifacts hold decoded counterexamples, not replayable runs,
# so they are kept out of FINDINGS (the signature registry campaigns match against).
SMT_FINDINGS: tuple[Finding, ...] = (
    Finding(
        ident="F-SMT-R8-UNPREPARED-RECLAIM",
        runtime="tensormap_and_ringbuffer",
        property_name="unprepared_not_reclaimed",
        spec="INV-R8 (and then INV-R3)",
        cxx_functions=(
            "PTO2TaskAllocator::commit_task (RT/pto_ring_buffer.h): current_task_index.store(rel) inside alloc",
            "prepare_task (RT/pto_orchestrator.cpp): task_state.store(PENDING, relaxed) after alloc returns",
            "RingSchedState::advance_ring_pointers (SCHED/pto_scheduler.h): scans slots below current_task_index for CONSUMED",
            "RingSchedState::advance_ring_pointers reset_for_reuse leaves task_state CONSUMED",
        ),
        explanation=(
            "commit_task publishes cur = t+1 before prepare_task stores PENDING into slot(t). A reused slot still "
            "holds its previous occupant's CONSUMED (reset_for_reuse keeps it). A scheduler that consumes task t-1 "
            "at that moment advances: la = t, then slot(t) reads CONSUMED, so la = t+1 is published while t is "
            "live and unprepared. The allocator then derives heap_tail from t's unwritten descriptor, and the window "
            "admits t+W while t still runs. Sequentially consistent; needs t >= W (or a reused SM image). The "
            "executable model merges commit and prepare into one action (TrbModel._admit), so it cannot show it. "
            "Same root cause as F-PORT-LA-UNPREPARED (found on the step-level port); this is the independent SMT "
            "evidence at C++ step granularity, with a concrete schedule from the initial state."
        ),
        reproduce="ptocheck prove --section proof --system window-cxx",
        artifact="tests/regressions/smt/smt_r8_unprepared_reclaim.json",
    ),
    Finding(
        ident="F-SMT-G1-OWN-SLOT",
        runtime="tensormap_and_ringbuffer",
        property_name="generation_check_own_slot",
        spec="INV-G1",
        cxx_functions=(
            "append_fanin_or_fail (RT/pto_orchestrator.cpp): gone = task_id.local() != expected || CONSUMED",
            "prepare_task: PENDING at O2; the descriptor task_id is written only at O8 (submit_task_common STEP 5)",
            "compute_task_fanin Step A: creator edge from owner_task_id, no la check",
        ),
        explanation=(
            "Between prepare_task and O8 the submitting task t's slot still carries t-W's task_id with state "
            "PENDING. A creator edge on a tensor whose owner is t-W (retired) passes the generation+consumed check "
            "and claims t itself: a WAIT|RETAIN self-edge, fanin_count 2, refcount 1, never ready (hang). Explicit "
            "deps (la check) and TensorMap entries (threshold) cannot name t-W; only a tensor used after its "
            "creator's scope, which the documentation declares invalid, can. Reported for the lead to judge."
        ),
        reproduce="ptocheck prove --section proof --system window",
        artifact="tests/regressions/smt/smt_g1_own_slot.json",
    ),
    Finding(
        ident="F-LIMIT-INT32-TASK-ID",
        runtime="tensormap_and_ringbuffer",
        property_name="window_bound",
        spec="INV-R1, §1.3 width pitfalls",
        cxx_functions=("PTO2TaskAllocator::commit_task: local_task_id_++ (int32, unchecked)",),
        explanation=(
            "After 2^31-1 tasks on one ring in one run, local_task_id_++ overflows (undefined behaviour; wraps in "
            "practice): cur becomes negative, cur - la is no longer in [0, W-1], slots and generation checks break. "
            "Every proof assumes fewer tasks per ring per run (A-INT32)."
        ),
        reproduce="ptocheck prove --section limit",
        artifact="tests/regressions/smt/smt_limit_int32_task_id.json",
    ),
    Finding(
        ident="F-LIMIT-CLAIM31",
        runtime="tensormap_and_ringbuffer",
        property_name="balanced_iff_all_released",
        spec="INV-L2, §1.3 width pitfalls",
        cxx_functions=("append_fanin_or_fail: fanout_count++ guarded only by a debug assert",),
        explanation=(
            "fanout_count keeps claims in bits 30..0 under the scope bit. 2^31 claims on one producer generation "
            "(a long-lived producer, e.g. in the root scope, read by that many consumers over a run) carry into "
            "bit 31: rc == fc then holds with claims outstanding and the producer is consumed early (release "
            "builds have no check). Proofs assume fewer claims (A-CLAIM31)."
        ),
        reproduce="ptocheck prove --section limit",
        artifact="tests/regressions/smt/smt_limit_claim31.json",
    ),
    Finding(
        ident="F-LIMIT-POOL-COUNTER",
        runtime="tensormap_and_ringbuffer",
        property_name="pool_bounds",
        spec="INV-P1",
        cxx_functions=("PTO2DepListPool::alloc / PTO2FaninPool::alloc: int32 linear top++, index top % capacity",),
        explanation=(
            "The pools' linear counters are int32 and never rebased within a run: after 2^31-1 entries top wraps "
            "negative, top - tail and top % capacity go wrong (negative physical index). Proofs assume fewer "
            "entries per pool per run (A-POOL32)."
        ),
        reproduce="ptocheck prove --section limit",
        artifact="tests/regressions/smt/smt_limit_pool_counter.json",
    ),
)


@dataclass(frozen=True)
class ModelLimitation:
    """A place where the reference model is coarser than the runtime it specifies: the faithful port does
    something the model cannot express, so a refinement check there fails. Not a finding about the runtime
    (the runtime's behaviour is legal); a known gap of ptocheck's model, listed in the README, with the test
    that shows it as a strict expected failure."""

    ident: str
    what: str
    fix: str
    test: str  # the strict xfail test that shows it


MODEL_LIMITATIONS: tuple[ModelLimitation, ...] = (
    ModelLimitation(
        ident="L-MODEL-PENDING-SLOT",
        what=(
            "the model holds a core from a block's start until its completion is processed and has no pending "
            "(prefetch) slot; the runtime's core starts its pending-slot task as soon as it finishes the running "
            "one, and a scheduler may process the newer completion first"
        ),
        fix="model per-core running and pending slots (CoreExecState) in model/trb_model.py",
        test="tests/test_refinement.py::test_refinement_sees_pending_slot_completion_before_running_one",
    ),
    ModelLimitation(
        ident="L-MODEL-MIX-AIV-ONLY",
        what=(
            "the model dispatches a MIX block only when the cluster's AIC core is free, even when the block has no "
            "AIC subtask; the runtime (classify_mix_cluster) starts an AIV0+AIV1 block next to a busy AIC"
        ),
        fix="make the model's MIX core demand follow the block's subtask mask",
        test="tests/test_refinement.py::test_refinement_sees_aiv_only_mix_dispatch_next_to_busy_aic",
    ),
)


# ------------------------------------------------------------------ matching a failure to a finding


def bare_functions(text: str) -> set[str]:
    """`A::f (file/note) / g -> h x` -> {"f", "g", "h"}: the first word of each `/` or `->` part."""
    out = set()
    for chunk in re.sub(r"\([^)]*\)", " ", text).replace("->", "/").split("/"):
        words = chunk.split()
        if words:
            out.add(words[0].split("::")[-1])
    return out


def model_property_finding(scenario: Scenario, property_name: str) -> Finding | None:
    """The registered finding a reference-model violation of `property_name` on `scenario` is: the model
    names no C++ function, so the property and the finding's scope (`applies_to`) decide."""
    for f in FINDINGS:
        if f.runtime != scenario.runtime or f.property_name != property_name:
            continue
        if f.applies_to is None or f.applies_to(scenario):
            return f
    return None


def matching_finding(
    signature: Signature,
    findings: Iterable[Finding] | None = None,
    scenario: Scenario | None = None,
    artifact: Artifact | None = None,
) -> Finding | None:
    """The registered finding with the signature's runtime and property, one of whose C++ functions the
    signature blames, (for a finding scoped by `applies_to`) whose scope contains `scenario`, and (for a
    finding with `explains`, when the failing run's `artifact` is given) whose mechanism the run shows.

    On store buffers (config.memory_model "tso") a state invariant is checked only where every buffer is
    empty (properties.port_checks), so its failure is blamed on the commit that emptied the last one, which
    says nothing about the mechanism: there the runtime and the property decide alone."""
    wanted = bare_functions(signature.cxx_function)
    deferred = (scenario is not None and scenario.config.memory_model != "sc"
                and signature.property_id in DEFERRED_UNDER_STORE_BUFFERS)
    for f in FINDINGS if findings is None else findings:
        if f.runtime != signature.runtime:
            continue
        if signature.property_id != f.property_name and signature.property_id not in f.other_properties:
            continue
        if f.applies_to is not None and (scenario is None or not f.applies_to(scenario)):
            continue
        names: set[str] = set()
        for fn in f.cxx_functions:
            names |= bare_functions(fn)
        if not (f.any_step or deferred or wanted & names):
            continue
        if f.explains is not None and artifact is not None and not f.explains(artifact):
            continue
        return f
    return None
