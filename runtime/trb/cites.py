"""Machine-readable citations: every C++ function (file at PINNED_COMMIT, function) a port step mirrors.

Each step's `Op.cite` is one of the `Cite` objects below, so `cited_functions()` is exactly the set the
port depends on; `ptocheck drift` compares these functions' bodies between the pinned commit and a
checkout. `function` is spelled as at its definition (`Class::name` for out-of-class definitions, the
bare member name for in-class ones) so a text search can find the body.
"""

from __future__ import annotations

from runtime.core import PINNED_COMMIT, SIMPLER_REPO, Cite

TRB = "src/a2a3/runtime/tensormap_and_ringbuffer/"
ORCH_CPP = TRB + "runtime/pto_orchestrator.cpp"
ORCH_H = TRB + "runtime/pto_orchestrator.h"
RING_H = TRB + "runtime/pto_ring_buffer.h"
RING_CPP = TRB + "runtime/pto_ring_buffer.cpp"
TYPES_H = TRB + "runtime/pto_runtime2_types.h"
TMAP_H = TRB + "runtime/pto_tensormap.h"
TMAP_CPP = TRB + "runtime/shared/pto_tensormap.cpp"
DEP_H = TRB + "runtime/pto_dep_compute.h"
RT2_CPP = TRB + "runtime/pto_runtime2.cpp"
SM_CPP = TRB + "runtime/shared/pto_shared_memory.cpp"
INIT_CPP = TRB + "runtime/shared/pto_runtime2_init.cpp"
SCHED_H = TRB + "runtime/scheduler/pto_scheduler.h"
COMPL_CPP = TRB + "runtime/scheduler/scheduler_completion.cpp"
DISP_CPP = TRB + "runtime/scheduler/scheduler_dispatch.cpp"
COLD_CPP = TRB + "runtime/scheduler/scheduler_cold_path.cpp"
SCHED_TYPES_H = TRB + "runtime/scheduler/scheduler_types.h"
SCHED_CTX_H = TRB + "runtime/scheduler/scheduler_context.h"
AICPU_CPP = TRB + "aicpu/aicpu_executor.cpp"
AICORE_CPP = TRB + "aicore/aicore_executor.cpp"
REGS_CPP = "src/a2a3/platform/shared/aicpu/platform_regs.cpp"
RUNNER_CPP = "src/a2a3/platform/onboard/host/device_runner.cpp"

# --- orchestrator (pto_orchestrator.cpp, pto_ring_buffer.*, pto_tensormap.*, pto_runtime2.cpp) ---
BEGIN_SCOPE = Cite(ORCH_CPP, "PTO2OrchestratorState::begin_scope")
END_SCOPE = Cite(ORCH_CPP, "PTO2OrchestratorState::end_scope")
SUBMIT_TASK = Cite(ORCH_CPP, "PTO2OrchestratorState::submit_task")
SUBMIT_COMMON = Cite(ORCH_CPP, "submit_task_common")
ALLOC_TENSORS = Cite(ORCH_CPP, "PTO2OrchestratorState::alloc_tensors")
PREPARE_TASK = Cite(ORCH_CPP, "prepare_task")
CHECK_SCOPE = Cite(ORCH_CPP, "check_scope_can_accept_task")
SCOPE_PUSH = Cite(ORCH_CPP, "scope_tasks_push")
APPEND_FANIN = Cite(ORCH_CPP, "append_fanin_or_fail")
ALL_COMPLETED = Cite(ORCH_CPP, "all_claimed_fanin_completed")
WIRE_LIVE = Cite(ORCH_CPP, "orch_wire_live_fanin_task")
WIRE_FANIN = Cite(ORCH_CPP, "PTO2OrchestratorState::wire_fanin_task")
ENSURE_TMAP = Cite(ORCH_CPP, "ensure_tensormap_capacity")
MARK_DONE = Cite(ORCH_CPP, "PTO2OrchestratorState::mark_done")
ORCH_MARK_FATAL = Cite(ORCH_CPP, "orch_mark_fatal")
ALLOC = Cite(RING_H, "alloc")
COMMIT_TASK = Cite(RING_H, "commit_task")
UPDATE_HEAP_TAIL = Cite(RING_H, "update_heap_tail")
TRY_BUMP_HEAP = Cite(RING_H, "try_bump_heap")
REPORT_DEADLOCK = Cite(RING_H, "report_deadlock")
DEP_POOL_ENSURE = Cite(RING_CPP, "PTO2DepListPool::ensure_space")
DEP_POOL_RECLAIM = Cite(RING_CPP, "PTO2DepListPool::reclaim")
DEP_POOL_PREPEND = Cite(RING_H, "prepend")
FANIN_POOL_ENSURE = Cite(RING_CPP, "PTO2FaninPool::ensure_space")
FANIN_POOL_RECLAIM = Cite(RING_CPP, "PTO2FaninPool::reclaim")
SYNC_TENSORMAP = Cite(TMAP_CPP, "PTO2TensorMap::sync_tensormap")
TMAP_LOOKUP = Cite(TMAP_H, "lookup")
TMAP_CHECK_OVERLAP = Cite(TMAP_H, "check_overlap")
TMAP_INSERT = Cite(TMAP_H, "insert")
TMAP_CLEANUP = Cite(TMAP_H, "cleanup_retired")
TMAP_RECLAIM_ALL = Cite(TMAP_H, "reclaim_retired_all")
TMAP_NEW_ENTRY = Cite(TMAP_H, "new_entry")
COMPUTE_FANIN = Cite(DEP_H, "compute_task_fanin")
REGISTER_OUTPUTS = Cite(DEP_H, "register_task_outputs")
RT_SCOPE_BEGIN = Cite(RT2_CPP, "rt_scope_begin")
RT_SCOPE_END = Cite(RT2_CPP, "rt_scope_end")
WAIT_TENSOR_READY = Cite(RT2_CPP, "wait_for_tensor_ready")
RESET_FOR_REUSE = Cite(TYPES_H, "reset_for_reuse")
MARK_COMPLETED = Cite(TYPES_H, "mark_completed")
CLAIM_BLOCK_RANGE = Cite(TYPES_H, "claim_block_range")
PAYLOAD_INIT = Cite(TYPES_H, "init")

# --- scheduler (pto_scheduler.h, scheduler_*.cpp) ---
ADVANCE_RING = Cite(SCHED_H, "advance_ring_pointers")
SYNC_TO_SM = Cite(SCHED_H, "sync_to_sm")
CHECK_CONSUMED = Cite(SCHED_H, "check_and_handle_consumed")
RELEASE_PRODUCER = Cite(SCHED_H, "release_producer")
RELEASE_SCOPE = Cite(SCHED_H, "release_producer_scope")
ON_SCOPE_END = Cite(SCHED_H, "on_scope_end")
MARK_PENDING = Cite(SCHED_H, "mark_ring_advance_pending")
DRAIN_PENDING = Cite(SCHED_H, "drain_pending_ring_advances")
PUSH_READY_ROUTED = Cite(SCHED_H, "push_ready_routed")
ROUTE_READY_ONCE = Cite(SCHED_H, "route_ready_once")
RELEASE_FANIN = Cite(SCHED_H, "release_fanin_and_check_ready")
ON_TASK_COMPLETE = Cite(SCHED_H, "on_task_complete")
ON_TASK_RELEASE = Cite(SCHED_H, "on_task_release")
ON_SUBTASK_COMPLETE = Cite(SCHED_H, "on_subtask_complete")
QUEUE_PUSH = Cite(SCHED_H, "push_tagged")
QUEUE_PUSH_BATCH = Cite(SCHED_H, "push_batch_tagged")
QUEUE_POP_BATCH = Cite(SCHED_H, "pop_batch_tagged")
RESOLVE_AND_DISPATCH = Cite(DISP_CPP, "SchedulerContext::resolve_and_dispatch")
DISPATCH_READY = Cite(DISP_CPP, "SchedulerContext::dispatch_ready_tasks")
RUN_STAGING_ORDER = Cite(DISP_CPP, "SchedulerContext::run_staging_order")
DISPATCH_SHAPE = Cite(DISP_CPP, "SchedulerContext::dispatch_shape")
PREPARE_SUBTASK = Cite(DISP_CPP, "SchedulerContext::prepare_subtask_to_core")
HAS_IDLE_OTHERS = Cite(DISP_CPP, "SchedulerContext::has_idle_in_other_threads")
CHECK_RUNNING = Cite(COMPL_CPP, "SchedulerContext::check_running_cores_for_completion")
DECIDE_TRANSITION = Cite(COMPL_CPP, "SchedulerContext::decide_slot_transition")
COMPLETE_SLOT_TASK = Cite(COMPL_CPP, "SchedulerContext::complete_slot_task")
HANDLE_ORCH_EXIT = Cite(COLD_CPP, "SchedulerContext::handle_orchestrator_exit")
CHECK_IDLE_FATAL = Cite(COLD_CPP, "SchedulerContext::check_idle_fatal_error")
HANDLE_TIMEOUT = Cite(COLD_CPP, "SchedulerContext::handle_timeout_exit")
CLASSIFY_STALL = Cite(COLD_CPP, "SchedulerContext::classify_stall_reason")
EMERGENCY_SHUTDOWN = Cite(COLD_CPP, "SchedulerContext::emergency_shutdown")
SIGNAL_EMERGENCY = Cite(COLD_CPP, "SchedulerContext::signal_emergency_shutdown")
SHUTDOWN = Cite(COLD_CPP, "SchedulerContext::shutdown")
PRE_HANDSHAKE = Cite(COLD_CPP, "SchedulerContext::pre_handshake_init")
HANDSHAKE_OWNED = Cite(COLD_CPP, "SchedulerContext::handshake_owned_clusters")
ASSIGN_OWN = Cite(COLD_CPP, "SchedulerContext::assign_own_clusters")
WAIT_ORCH_DONE = Cite(COLD_CPP, "SchedulerContext::wait_for_orchestration_done_before_dispatch")
ON_ORCH_DONE = Cite(COLD_CPP, "SchedulerContext::on_orchestration_done")
SCHED_DEINIT = Cite(COLD_CPP, "SchedulerContext::deinit")
# sync_start drain (runtime/trb/sync_drain.py)
ENTER_DRAIN = Cite(COMPL_CPP, "SchedulerContext::enter_drain_mode")
HANDLE_DRAIN = Cite(COMPL_CPP, "SchedulerContext::handle_drain_mode")
COUNT_GLOBAL_AVAILABLE = Cite(COMPL_CPP, "SchedulerContext::count_global_available")
STAGE_SYNC_START = Cite(COMPL_CPP, "SchedulerContext::stage_sync_start_cores")
HAS_RESIDUAL_SYNC_MIX = Cite(TRB + "runtime/scheduler/scheduler_context.h", "has_residual_sync_mix")

# --- early dispatch (runtime/trb/early_dispatch.py) ---
PROPAGATE_DISPATCH_FANIN = Cite(SCHED_H, "propagate_dispatch_fanin")
TRY_ENQUEUE_EARLY = Cite(SCHED_H, "try_enqueue_early_dispatch_candidate")
TRY_EARLY_RELEASE = Cite(SCHED_H, "try_early_dispatch_release")
TRY_CLAIM_READY = Cite(SCHED_H, "try_claim_ready_once")
TRY_CLAIM_LAUNCH = Cite(SCHED_H, "try_claim_early_dispatch_launch")
CLAIM_ALL_DOORBELLS = Cite(SCHED_H, "claim_all_staged_doorbell_bits")
CLAIM_LATE_DOORBELLS = Cite(SCHED_H, "claim_late_staged_doorbell_bits")
RING_ONE_DOORBELL = Cite(SCHED_H, "ring_one_doorbell")
RECORD_PUBLISHED = Cite(SCHED_H, "record_published_blocks")
TRY_EARLY_DISPATCH = Cite(DISP_CPP, "SchedulerContext::try_early_dispatch")
EARLY_DISPATCH_SHAPE = Cite(DISP_CPP, "SchedulerContext::early_dispatch_shape")
STAGE_CONSUMER_BLOCKS = Cite(DISP_CPP, "SchedulerContext::stage_consumer_blocks")
BUILD_PAYLOAD = Cite(DISP_CPP, "SchedulerContext::build_payload")
HAS_RESIDUAL_EARLY_MIX = Cite(SCHED_CTX_H, "has_residual_early_mix")

# --- executor, AICore, platform, host ---
EXEC_INIT = Cite(AICPU_CPP, "AicpuExecutor::init")
EXEC_RUN = Cite(AICPU_CPP, "AicpuExecutor::run")
EXEC_DEINIT = Cite(AICPU_CPP, "AicpuExecutor::deinit")
AICPU_EXECUTE = Cite(AICPU_CPP, "aicpu_execute")
SM_INIT_PER_RING = Cite(SM_CPP, "PTO2SharedMemoryHandle::init_per_ring")
INIT_PER_RING = Cite(SM_CPP, "PTO2SharedMemoryHandle::init_header_per_ring")
RUNTIME_RESET = Cite(INIT_CPP, "runtime_reset_for_reuse")
AICORE_EXECUTE = Cite(AICORE_CPP, "aicore_execute")
INIT_REGS = Cite(REGS_CPP, "platform_init_aicore_regs")
FINISH_EXIT = Cite(REGS_CPP, "platform_finish_aicore_exit")
SIGNAL_EXIT = Cite(REGS_CPP, "platform_signal_aicore_exit")
LAUNCH_RUN = Cite(RUNNER_CPP, "DeviceRunner::launch_run")
REAP_RUN = Cite(RUNNER_CPP, "DeviceRunner::reap_run")
FORCE_RESET = Cite(RUNNER_CPP, "DeviceRunner::force_reset_device")

ALL_CITES: tuple[Cite, ...] = tuple(v for k, v in sorted(globals().items()) if isinstance(v, Cite))


def cited_functions() -> list[Cite]:
    """Every (file, function) of hw-native-sys/simpler the port cites, sorted by file then function."""
    seen: dict[tuple[str, str], Cite] = {}
    for c in ALL_CITES:
        seen[(c.file, c.function)] = c
    return [seen[k] for k in sorted(seen)]


def citation_header() -> str:
    return f"{SIMPLER_REPO} @ {PINNED_COMMIT}"
