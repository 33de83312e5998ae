"""Citations of the aicpu_build_graph port. That runtime was removed (#701) before the pinned commit, so
each file names the commit it was read at: v1 at dddb9a39f (the last commit before its ring-buffer
rewrite #333), v2 at d7ed5302b (the last commit before its removal)."""

from __future__ import annotations

from runtime.core import Cite

V1_COMMIT = "dddb9a39fa51e3eefb4d14065b183fb76af9137f"
V2_COMMIT = "d7ed5302b6fb3a797cdc28a87973f1956d675968"

_ABG = "src/a2a3/runtime/aicpu_build_graph/"
V1_EXEC = _ABG + "aicpu/aicpu_executor.cpp @ dddb9a39f"
V1_RUNTIME = _ABG + "runtime/runtime.cpp @ dddb9a39f"
V1_AICORE = _ABG + "aicore/aicore_executor.cpp @ dddb9a39f"
V2_ORCH = _ABG + "runtime/pto_orchestrator.cpp @ d7ed5302b"
V2_SCHED = _ABG + "runtime/pto_scheduler.h @ d7ed5302b"
V2_EXEC = _ABG + "aicpu/aicpu_executor.cpp @ d7ed5302b"

# --- v1 builder API (aicpu_executor.cpp exports; runtime.cpp bodies) ---
ADD_TASK = Cite(V1_EXEC, "aicpu_runtime_add_task")
ADD_EDGE = Cite(V1_RUNTIME, "Runtime::add_successor_conditional")
PUBLISH = Cite(V1_EXEC, "aicpu_runtime_publish_task")
RUN = Cite(V1_EXEC, "AicpuExecutor::run")
# --- v1 schedulers ---
RESOLVE = Cite(V1_EXEC, "AicpuExecutor::resolve_and_dispatch")
POP = Cite(V1_EXEC, "AicpuExecutor::pop_ready_task")
PUSH = Cite(V1_EXEC, "AicpuExecutor::push_ready_task")
SHUTDOWN = Cite(V1_EXEC, "AicpuExecutor::shutdown_aicore")
AICORE = Cite(V1_AICORE, "aicore_execute")
# --- v2 orchestrator and scheduler ---
SUBMIT2 = Cite(V2_ORCH, "pto2_submit_mixed_task")
ADD_DEP2 = Cite(V2_ORCH, "pto2_add_dependency")
SCOPE_END2 = Cite(V2_ORCH, "pto2_scope_end")
ORCH_DONE2 = Cite(V2_ORCH, "pto2_orchestrator_done")
COMPLETE2 = Cite(V2_SCHED, "on_mixed_task_complete")
RELEASE2 = Cite(V2_SCHED, "release_fanin_and_check_ready")
POP2 = Cite(V2_SCHED, "get_ready_task")
RESOLVE2 = Cite(V2_EXEC, "AicpuExecutor::resolve_and_dispatch_pto2")
