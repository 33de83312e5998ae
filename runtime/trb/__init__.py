"""Step-level port of the PTO2 `tensormap_and_ringbuffer` (TRB) runtime of hw-native-sys/simpler.

`TrbSystem(scenario, mutants=frozenset())` is a `runtime.core.System`: every thread of the C++ runtime
is a generator that yields the `Op` it is about to perform (one atomic access, or one block under a lock
it holds); a scheduler from `runtime.execution` (or `runtime.pct`, `runtime.dfs`) picks every
interleaving. Each Op carries the `Cite` (file, function at PINNED_COMMIT) it mirrors; `cites.py` lists
them all and `ptocheck drift` compares them with a checkout. The port mirrors the C++ as it is,
including its races: see "Known findings" below. `TrbSystem(scenario, data=True)` also carries bytes: the
heap rings become numpy buffers, AICores run the kernels of runtime/data, reclaimed blocks are poisoned
(runtime/data/trb_path.py; the property is properties/data_oracle.py). Off by default.

Threads (thread ids in this order): `orch` (AicpuExecutor::run's orchestrator branch), `sched0..N-1`
(init handshake, run, SchedulerContext::resolve_and_dispatch, shutdown), one AICore per core
(`c<cluster>.AIC/.AIV0/.AIV1`, aicore_execute) and `host` (launch, reap, device reset). Runs
(`Scenario.runs`) execute on the same shared memory: the host launches run k+1 after every thread of run
k returned; what the C++ leaves behind stays (slot states CONSUMED, descriptors, payloads, dep-list
nodes, ready-queue positions, fanin seen-epochs); a first boot is zero-filled (slot task_state 0 =
PENDING, descriptor task_id 0, payload/task pointers null). A fatal run ends the scenario (the host
resets the device).

Memory layout (`state.py`; struct-of-arrays, every cell named for traces):
  * shared memory `self.mem` / `self.c` (what other threads can see, what footprints name):
    per global slot g (ring r, slot s; only the min(W_r, tasks on r) slots a run can touch): the
    PTO2TaskSlotState fields `S_STATE, S_LOCK, S_FC (fanout_count), S_HEAD, S_FRC (fanin_refcount),
    S_FCOUNT (fanin_count), S_RC (fanout_refcount), S_FLAGS, S_DONE, S_TOTAL, S_BLOCKS, S_NEXT, S_MASK,
    S_RING, S_BOUND`; the descriptor `D_RING, D_LOCAL, D_BASE, D_END`; the payload `P_FANIN,
    P_SPILL_START, P_SPILL_POOL` and inline fanin edges at `E_BASE + g*IC + i`. Pointers: slot = g+1,
    dep node = id+1, 0 = nullptr; an edge = ((g+1) << 2) | DepFlags.
  * per ring r: `R_CUR, R_LA` (SM fc), `R_SLA` (RingSchedState.last_task_alive), `R_ALOCK`
    (advance_lock), dep pool `DP_*` and its nodes `N_CONS/N_NEXT` (node ids per ring from
    `node_base[r]`), fanin spill pool `FP_*` and entries `SPILL[r]` (`spill_cell(r, idx)`), allocator
    `AL_LOCAL, AL_TOP, AL_TAIL, AL_SEEN, AL_ANCHOR`.
  * SM header `H_*` (orchestrator_done, orch/sched error codes, stall detail, advance_pending_mask);
    ready-queue positions `Q_ENQ/Q_DEQ` (AIC, AIV, MIX, DUMMY; items in `self.queues`, fingerprinted);
    SchedulerContext `X_*`; AicpuExecutor `E_*`; per core `C_*` (DATA_MAIN_BASE, COND, aicore_done,
    last_reg_val, CoreExecState); per scheduler thread `T_*` (CoreTracker words, deferred releases:
    `T_DEF_COUNT + t`, entries `T_DEF[t] + i`, i < `def_cells`); host `HOST_*`; two footprint-only
    region cells `RG_SLOT`, `RG_NODES` (never change; see "Footprints").
  * orchestrator-private memory `self.pmem` / `self.p` (same indexing style; only the orchestrator
    thread touches it): `O_*` (fatal flag, scope stack and scope_tasks, manual-scope depth, pc,
    fanin-builder spill start, seen epoch, created/external buffer addresses `O_BUF`), and the slot
    fields `S_MARK` (dep_pool_mark), `S_ATTRS` (task_attrs), `S_SEEN` (fanin_seen_epoch). The TensorMap
    is an orchestrator-private object (`tensormap.py`). `fingerprint()` covers mem, pmem, the TensorMap
    and the ready-queue items.
  * ghost history (not in the fingerprint): `events` [(kind, run, task, extra)] with kinds submit,
    ready, ready-dropped, dispatch, kernel, completed, consumed, release-rebound, retain-wired (task = the
    producer whose RETAIN claim append_fanin_or_fail accepted, extra = the consumer); counters
    `ghost_submitted, ghost_completed, ghost_consumed, ghost_kernels[run][task]`; `round` (the run
    launched last).

Footprints. A step's effect is everything its thread does from the `yield` of its op to the next
`yield`; `Op.writes` names every `mem` cell that stretch may change and `Op.reads` every `mem` cell it
may read that another thread writes (partial-order reduction in runtime/dfs.py and the incremental checks
in properties/port_checks.py rely on this). Where the index is only learned while running, the op names
a region cell instead: `RG_SLOT` (slot binding, descriptor, payload, spilled edges: written by prepare,
registration, mark_completed and spilling steps) and `RG_NODES` (dep-list nodes: written by wiring
steps). Ops whose cells depend on a value known when they are announced are built then (`register_op`,
`scan_op`, `wire_op`, `claim_op`, the spin-wait ops; registration and scan ops are cached). A scheduler
thread announces every op through its view `self.ops[t]` (`ExecOps`), which adds that thread's private
cells (its cores' CoreExecState, tracker words, deferred-release buffer) to the writes and the region
cells to the reads, so two scheduler threads' steps are not made dependent through each other's
bookkeeping; the orchestrator's view `self.ops[orch_tidx]` is the base tables. `runtime/trb/audit.py`
checks all of this dynamically (tests/test_trb_port_footprints.py).

Read accessors (`state.py`): `ring_view(r)`, `slot_view(r, s)`, `fanout_list(g)`,
`ready_queue_contents()`, `core_view(k)`, `scope_stack()`, `manual_begin_depth()`,
`program_counter()`, `deferred_releases(t)`, `fatal_code()`, `task_of_slot(g)`, `slot_of(ring, local)`,
`task_status(run, task)` (system.py), the static `plan` (tasks with ring/local, instructions).

Steps and the reference model's actions (model/trb_model.py). "LP" = the step at which the model
action takes effect; everything else is a stutter (changes nothing the model sees) or, where the C++ is
finer than the model, a "split" the abstraction has to bridge:
  * begin_scope step -> O scope_begin (LP). end_scope: the pop is a stutter; each task's
    release_producer_scope fetch_add -> O scope_end release (LP; split: the model folds in the
    consumed check, which the port runs as the next lock step).
  * alloc: the la load (+ window/heap check, private) is a stutter, a blocked wait is a stutter, the
    commit_task store of current_task_index is the LP of O admission, the prepare step (reset + PENDING)
    is a split (between them the slot is counted in cur but still holds the previous generation's state:
    INV-R8).
  * STEP 2 la load, explicit-dep la loads: stutters (O collect). Each append_fanin_or_fail lock step ->
    O claim (LP). The registration/descriptor step -> O register (LP). Publish (a) push -> O publish (LP);
    (b) the producer-state load is a stutter, the push is the LP, the WAIT-only pin releases between are
    splits; (c) dep-pool waits are stutters, each wire lock step -> O wire (LP) with the WAIT-only pin
    release as a split, the fanin_refcount fetch_add -> O wire-done (LP) with route_ready_once's push a
    split.
  * tensor-data waits: the last satisfied wait is the LP of O get/set_tensor_data; mark_done store -> O
    mark_done.
  * S dispatch: the next_block_idx CAS and DATA_MAIN_BASE store are stutters for a pending-slot dispatch;
    the model dispatches when the core starts the block, i.e. at the AICore's poll step that picks up a
    new token (LP). S complete: the on_subtask_complete fetch_add is the LP for a non-final subtask, the
    on_task_complete lock step (COMPLETED + snapshot) for the final one; COND loads, ACK/FIN stores are
    stutters. S notify: each fanin_refcount fetch_add of the fanout walk (LP; the route push is a split).
    S dummy: the dummy's on_task_complete lock step (the pop is a stutter). S release: each RETAIN
    release_producer fetch_add, then the self check's lock step (LP). S advance: the scan +
    sync_to_sm step (LP); try-lock, cur load, unlock, pending-mask bits are stutters. fatal: the store or
    CAS that latches the code (LP). next-round: the host's launch step.
  * Stutters also: every scheduler poll (completed_, handle_orchestrator_exit, empty pops, gates,
    residual checks, idle waits), handshake/init/shutdown/exit steps, host reaps.

Abstractions of time and spinning (see scheduler.py, orchestrator.py): a spin-wait is a guarded op
runnable only when a location it reads changed; the 500 ms allocation/pool backstops, the 15 s tensor
wait limit, the scheduler watchdog and the AICore exit deadline fire only when no thread can move;
check_idle_fatal_error's 1024-iteration cadence is "every idle iteration".

The sync_start drain (schedulable sync_start cohorts: Tier-0 ready_sync_queues, Phase 2's
handle_drain_mode, enter_drain_mode) is the STEP+X extension `sync_drain.py`. Startup abort paths of
AicpuExecutor::run are ported but taken only when a scenario injects one (`startup.py`, config.init_failure).
Early dispatch (allow_early_resolve producers, spec §2.18) is in `early_dispatch.py`: dispatch_fanin
seeding at wiring, propagate_dispatch_fanin after full publication, the candidate CAS and tagged
early-dispatch queues, Phase 4b staging of gated blocks on running/pending slots with the doorbell table and
staged_core_mask, the release in route_ready_once, gated cores skipped by completion polling and promoted
on FIN (Case 3.3), the AICore's doorbell wait; its steps run only in scenarios with a flagged submit.
Not ported (the plan rejects scenarios that need them): early sync_start cohorts (a cohort in a program
with early-dispatch producers: the gated drain, the rendezvous), async completions, dispatch predicates,
PMU mode, the serial-mode contiguous handshake (serial mode's dispatch wait is ported).
Vyukov push/pop are atomic steps (the reserve/publish split of one push is not modelled).

Known findings (the port reaches them faithfully; see the helper report): commit_task publishes
current_task_index before prepare_task stores PENDING, so a concurrent advance_ring_pointers can read
the reused slot's previous-generation CONSUMED state and move last_task_alive past a live task
(INV-R8): e.g. `ptocheck run pa_var_seq4_window8 --scheduler random --seed 124`. The port also reaches
the model's F-MODEL-R7 (a deferred on_task_release running on a rebound slot, INV-R7), e.g. seed 57. With early
dispatch it reaches F-PORT-EARLY-RELEASE-REROUTE (tests/regressions/early_release_reroute.json): a released
consumer that completes and is consumed before its releaser's next_block_idx load runs a second time.
"""

from runtime.trb.cites import cited_functions
from runtime.trb.mutants import MUTANTS, Mutant
from runtime.trb.system import TrbSystem

__all__ = ["MUTANTS", "Mutant", "TrbSystem", "cited_functions"]
