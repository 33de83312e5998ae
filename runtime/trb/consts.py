"""Numeric constants of the C++ runtime at the pinned commit (values, not logic).

Sources: RT/pto_runtime2_types.h (task states, lifecycle flags, SCOPE_BIT), RT/pto_types.h (DepFlags),
RT/pto_submit_types.h (subtask masks, resource shapes), src/a2a3/platform/include/common/platform_config.h
(register encodings), TRB/common/pto_runtime_status.h (error codes, stall sub-classes).
"""

from __future__ import annotations

NUM_RINGS = 4  # PTO2_MAX_RING_DEPTH

# PTO2TaskState
PENDING, COMPLETED, CONSUMED = 0, 1, 2
STATE_NAMES = ("PENDING", "COMPLETED", "CONSUMED")

# PTO2TaskLifecycleFlag
READY_CLAIMED = 1
COMPLETION_DONE = 2

# DepFlags
DEP_WAIT = 1
DEP_RETAIN = 2

SCOPE_BIT = 0x80000000  # PTO2_FANOUT_SCOPE_BIT
LOW_MASK = 0x7FFFFFFF

# Subtask masks and slots (PTO2SubtaskSlot AIC=0, AIV0=1, AIV1=2)
MASK_AIC, MASK_AIV0, MASK_AIV1 = 1, 2, 4
SUB_AIC, SUB_AIV0, SUB_AIV1 = 0, 1, 2

# PTO2ResourceShape
SHAPE_AIC, SHAPE_AIV, SHAPE_MIX, SHAPE_DUMMY = 0, 1, 2, 3
SHAPE_NAMES = ("AIC", "AIV", "MIX", "DUMMY")

# Register protocol (platform_config.h)
TASK_ID_MASK = 0x7FFFFFFF
TASK_STATE_MASK = 0x80000000
AICORE_EXIT_SIGNAL = 0x7FFFFFF0
AICORE_IDLE_TASK_ID = 0x7FFFFFFF
AICORE_EXIT_TASK_ID = 0x7FFFFFFE
AICPU_IDLE_TASK_ID = 0x7FFFFFFD
AICORE_IDLE_VALUE = AICORE_IDLE_TASK_ID | TASK_STATE_MASK
AICORE_EXITED_VALUE = AICORE_EXIT_TASK_ID | TASK_STATE_MASK
AICPU_TASK_INVALID = -1
TASK_ACK_STATE, TASK_FIN_STATE = 0, 1
LOW32 = 0xFFFFFFFF

# Error codes (pto_runtime_status.h)
ERROR_NONE = 0
SCOPE_DEADLOCK = 1
HEAP_RING_DEADLOCK = 2
FLOW_CONTROL_DEADLOCK = 3
DEP_POOL_OVERFLOW = 4
INVALID_ARGS = 5
REQUIRE_SYNC_START_INVALID = 7
TENSOR_WAIT_TIMEOUT = 8
SCOPE_TASKS_OVERFLOW = 10
TENSORMAP_OVERFLOW = 11
SCHEDULER_TIMEOUT = 100

# Stall sub-classes (classify_stall_detail)
STALL_NONE, STALL_RUNNING, STALL_READY_IDLE, STALL_DEP_DEADLOCK, STALL_ORCH_STARVATION, STALL_UNKNOWN = (
    0,
    1,
    3,
    4,
    5,
    99,
)

# Compile-time constants the scenario's Constants do not carry.
MAX_SCOPE_DEPTH_DEFAULT = 64  # PTO2_MAX_SCOPE_DEPTH (the scenario may scale it)
PTO2_SCOPE_TASKS_CAP = 65536  # used by pre_handshake_init's total_tasks_ read (16384 * 4)

INVALID_TASK_RAW = (1 << 64) - 1


def make_task_id(ring: int, local: int) -> int:
    return (ring << 32) | (local & 0xFFFFFFFF)
