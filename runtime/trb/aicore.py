"""AICore worker threads (aicore_execute, TRB/aicore/aicore_executor.cpp) and the host (launch, reap, reset).

AICore loop as steps: the launch (aicore_done = id + 1); the window wait (DATA_MAIN_BASE != 0) with
COND = AICORE_IDLE; then per task: a poll of DATA_MAIN_BASE that is runnable only when the register holds a
value other than AICPU_IDLE and other than the last value executed (the C++ skips equal consecutive
values: that is why dispatch tokens exist), COND = ACK(token), and the kernel + COND = FIN(token).
The dispatch payload buffers (token & 1) are not modelled: a kernel's effect is the ghost record of which
task block ran.

The host launches each run (clearing aicore_done; the kernel launch resets DATA_MAIN_BASE to 0), waits for
the AICPU kernel, and after a fatal run resets the device (which stops every AICore still waiting);
otherwise it waits for the AICore kernel before launching the next run on the same shared memory.
"""

from __future__ import annotations

from runtime.core import ThreadBody
from runtime.trb import consts as K
from runtime.trb.scheduler import SchedulerThread
from runtime.trb.startup import host_after_kernel_failure


class CoreAndHostThreads(SchedulerThread):
    def aicore_body(self, k: int) -> ThreadBody:
        for run in range(self.runs):
            yield self.OP_CORE_START[k][run]
            if self.c[self.HOST_RESET]:
                return
            self.c[self.C_DONE + k] = k + 1
            yield self.OP_CORE_WINDOW[k]
            if self.c[self.HOST_RESET]:
                return
            self.c[self.C_COND + k] = K.AICORE_IDLE_VALUE
            self.c[self.C_LAST + k] = K.AICPU_IDLE_TASK_ID
            while True:
                yield self.OP_CORE_POLL[k]
                if self.c[self.HOST_RESET]:
                    return
                token = self.c[self.C_DMB + k] & K.LOW32
                if token == K.AICORE_EXIT_SIGNAL:
                    yield self.OP_CORE_EXITED[k]
                    self.c[self.C_COND + k] = K.AICORE_EXITED_VALUE
                    self.c[self.HOST_AICORE_EXITED] += 1
                    break
                if self.early_on:  # a gated (early-dispatch) token waits for its doorbell before the ACK
                    exiting = yield from self.ed_core_gate(k, token)
                    if self.c[self.HOST_RESET]:
                        return
                    if exiting:
                        yield self.OP_CORE_EXITED[k]
                        self.c[self.C_COND + k] = K.AICORE_EXITED_VALUE
                        self.c[self.HOST_AICORE_EXITED] += 1
                        break
                yield self.OP_CORE_ACK[k]
                self.c[self.C_COND + k] = token & K.TASK_ID_MASK
                if self.data is not None:
                    self.data.on_kernel_start(k, token)
                yield self.OP_CORE_FIN[k]
                self._fx_kernel(k, token)

    def _fx_kernel(self, k: int, token: int) -> None:
        c = self.c
        run, task, block = self.ghost_token.get((k, token), (self.round, -1, 0))
        if task >= 0:
            self.ghost_kernels[run][task] += 1
            self.ghost("kernel", task, block)
            if self.data is not None:
                self.data.on_kernel_finish(k, token)
        c[self.C_LAST + k] = token
        c[self.C_COND + k] = (token & K.TASK_ID_MASK) | K.TASK_STATE_MASK

    def host_body(self) -> ThreadBody:
        for run in range(self.runs):
            yield self.OP_HOST_LAUNCH[run]
            self._fx_launch(run)
            yield self.OP_HOST_REAP_AICPU[run]
            if self.c[self.H_ORCH_ERR] != 0 or self.c[self.H_SCHED_ERR] != 0 or self.crash is not None:
                yield self.OP_HOST_RESET
                self.c[self.HOST_RESET] = 1
                self.c[self.HOST_DONE] = 1
                return
            if self.c[self.E_KERNEL_RC]:  # a startup abort (runtime/trb/startup.py): the run fails
                yield from host_after_kernel_failure(self, run)
                return
            yield self.OP_HOST_REAP_AICORE[run]
        self.c[self.HOST_DONE] = 1

    def _fx_launch(self, run: int) -> None:
        c = self.c
        self.round = run
        for k in range(self.n_cores):
            c[self.C_DONE + k] = 0
            c[self.C_DMB + k] = 0
            # the simulator allocates and zero-fills every core's register block per run (DeviceRunner's
            # launch: memset(reg_blocks, 0)), so COND starts IDLE, never the previous run's EXITED
            c[self.C_COND + k] = 0
        c[self.HOST_ROUND] = run + 1
