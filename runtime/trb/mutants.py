"""Mutant switches: each re-introduces one historical bug of ../shared/bugs/catalogue.md in the port.

A mutant changes the *mechanism* the bug was in (a lock scope, a comparison, an index, a capacity, a
missing wait), never a check that reports it. `TrbSystem(scenario, mutants={"M_..."})` turns them on.

Status values:
  * "implemented": the switch exists and changes behaviour on some scenario.
  * "implemented (unobservable here)": the switch exists but the pinned commit has no path on which the
    old mechanism behaves differently in this port (the reason is in `note`).
  * "needs <extension>": the bug lives in a part of the runtime the port does not cover yet.
  * "not reachable (WMM)": needs a weak-memory (store-buffer) execution model.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.errors import PtocheckError

IMPLEMENTED = "implemented"
UNOBSERVABLE = "implemented (unobservable here)"
WMM = "not reachable (WMM)"


@dataclass(frozen=True)
class Mutant:
    name: str
    catalogue_id: str
    label: str  # STEP / STEP+X / WMM, as in the catalogue
    description: str
    mechanism: str
    status: str
    note: str = ""


MUTANTS: dict[str, Mutant] = {
    m.name: m
    for m in (
        Mutant(
            "M_ADVANCE_NO_LOCK",
            "A01",
            "STEP",
            "concurrent advance_ring_pointers without advance_lock",
            "check_and_handle_consumed / drain_pending_ring_advances skip the advance_lock try-lock and run the "
            "advance as three unlocked steps: read (local la, cur), scan+reset, write (local la, sync_to_sm)",
            IMPLEMENTED,
        ),
        Mutant(
            "M_CLAIM_OUTSIDE_LOCK",
            "A01",
            "STEP",
            "fanout_count++ of a claim outside the producer's fanout_lock",
            "append_fanin_or_fail decides liveness under L(P) but does fanout_count++ as a separate, unlocked "
            "step afterwards",
            IMPLEMENTED,
        ),
        Mutant(
            "M_DEFERRED_RELEASE_DROP_ON_FULL",
            "A03",
            "STEP",
            "deferred release dropped when the per-thread buffer is full",
            "complete_slot_task flushes a full deferred_release buffer but does not append the task that just "
            "completed, so its on_task_release never runs",
            IMPLEMENTED,
        ),
        Mutant(
            "M_SLOT_INDEX_BY_ID",
            "A04",
            "STEP",
            "fanout traversal indexed by task id instead of slot",
            "on_task_complete addresses the slot array with the unmasked local task id; ids >= W fall outside "
            "the window and hit a slot image that is not the task's (no fanout, not the task's state)",
            IMPLEMENTED,
        ),
        Mutant(
            "M_HEAP_TAIL_ABSOLUTE",
            "B01",
            "STEP",
            "heap_tail taken as an absolute address",
            "update_heap_tail stores packed_buffer_end (a GM address) instead of its offset from the ring's heap base",
            IMPLEMENTED,
        ),
        Mutant(
            "M_HEAP_GAP_NONSTRICT",
            "B02",
            "STEP",
            "exact-fit gap allowed (top == tail with live data)",
            "try_bump_heap's top < tail branch accepts tail - top >= size instead of > size",
            IMPLEMENTED,
        ),
        Mutant(
            "M_DEPPOOL_SILENT_WRAP",
            "C01",
            "STEP",
            "DepListPool wraps silently over live nodes",
            "dep_pool.ensure_space always succeeds and alloc() never checks top - tail against capacity",
            IMPLEMENTED,
        ),
        Mutant(
            "M_TMAP_POOL_ASSERT",
            "C02",
            "STEP",
            "TensorMap entry pool asserts on exhaustion instead of back-pressuring",
            "submit skips ensure_tensormap_capacity; new_entry's always_assert fires when the pool is full",
            IMPLEMENTED,
        ),
        Mutant(
            "M_TMAP_PROGRESS_BY_WATERMARK",
            "C02",
            "STEP",
            "TensorMap pool wait counts watermark movement as progress",
            "ensure_tensormap_capacity would restart its 500 ms backstop timer when any ring's last_task_alive "
            "moves, not only when entries were freed",
            "needs wall-clock timers",
            "the port fires a time-based backstop only when no thread can move, so there is no timer whose "
            "restart could differ; a timed execution model would be needed",
        ),
        Mutant(
            "M_COMPLETED_EQ_NOT_GE",
            "D01",
            "STEP",
            "a CONSUMED producer treated as not finished at wiring",
            "wire_fanin_task tests task_state == COMPLETED instead of >= COMPLETED under L(P)",
            UNOBSERVABLE,
            "at the pinned commit append_fanin_or_fail filters CONSUMED producers and its claim pins the "
            "producer (fanout_count > fanout_refcount) until wiring, so wiring never sees CONSUMED; together "
            "with M_CLAIM_OUTSIDE_LOCK it links a consumer to a consumed producer and the consumer hangs "
            "(no_lost_wakeup; tests/test_port_mutants.py::test_d01_switch_shows_only_together_with_the_claim_race)",
        ),
        Mutant(
            "M_COMPLETION_FLAG_NO_GENERATION",
            "E01",
            "STEP",
            "a recycled slot's completion state makes a new producer look finished",
            "prepare_task does not reset task_state to PENDING, so a slot keeps its previous generation's "
            "CONSUMED state while the new task is live",
            IMPLEMENTED,
        ),
        Mutant(
            "M_TOKEN_FROM_LOCAL_ID",
            "E02",
            "STEP+X",
            "dispatch register value collides across rings",
            "prepare_subtask_to_core writes (local task id + 1) to DATA_MAIN_BASE instead of the per-core "
            "dispatch sequence; the AICore skips a value equal to its last one",
            IMPLEMENTED,
            "uses the register protocol extension (ACK/FIN through COND, last_reg_val), which the port has",
        ),
        Mutant(
            "M_SCOPE_CAP_COMPILE_DEFAULT",
            "F02",
            "STEP",
            "scope_tasks capacity from a compile-time window",
            "scope_tasks capacity = 4 x a compile-time window of 4 (16) instead of the sum of the runtime windows",
            IMPLEMENTED,
        ),
        Mutant(
            "M_LOOKUP_CAP",
            "G01",
            "STEP",
            "TensorMap lookup results truncated",
            "compute_task_fanin's modifier lookup stops after the first matching producer (cap k = 1)",
            IMPLEMENTED,
        ),
        Mutant(
            "M_CLEANUP_WHOLE_SLOT_CHAIN",
            "G03",
            "STEP",
            "cleanup_retired frees a later task's entries sharing the slot chain",
            "cleanup_retired frees every entry on task_entry_heads[ring][slot], whatever its producer",
            UNOBSERVABLE,
            "not reached at the pinned commit: sync_tensormap's slot-overlap trigger runs cleanup_retired for "
            "[last_cleanup, la) no later than the submit of last_cleanup + W, so a retired task t >= "
            "last_cleanup is freed before t + W registers and a slot chain never mixes a retired and a live "
            "generation (the catalogue asks for a lagging cleanup cadence, which the C++ does not have)",
        ),
        Mutant(
            "M_FANIN_SB_WEAK",
            "H01",
            "WMM",
            "store-buffering race between fanin_count store and refcount increment",
            "wire_fanin_task publishes as before eede5613f: fanin_count (live links) stored with release order "
            "after the links, then fanin_refcount loaded (acquire) instead of the +1 share added by RMW",
            IMPLEMENTED,
            "needs the store-buffer execution mode (scenario config memory_model \"tso\", "
            "runtime/store_buffer.py): sequentially consistent, one side always sees the other's write and "
            "route_ready_once merges a double sighting, so the mutant is found only under TSO, as a consumer "
            "left PENDING for ever (no_lost_wakeup)",
        ),
        Mutant(
            "M_EARLY_ON_FIRST_BLOCK",
            "I01",
            "STEP+X",
            "early-dispatch candidacy on the producer's first block",
            "propagate_dispatch_fanin drops its published_block_count >= logical_block_num guard, so a flagged "
            "producer's consumers become candidates after its first published block range (pre-92a6bbcfb)",
            IMPLEMENTED,
            "uses the early-dispatch extension (runtime/trb/early_dispatch.py); found by INV-D4 "
            "(early_candidate_after_publication). The catalogue's hang was not reached by bounded random/PCT "
            "searches; informally, a thread stages only onto its own free slots and only when it saw every ready "
            "queue empty, i.e. while another thread with a free slot of its own holds the producer popped and "
            "dispatches ready work on that slot before it stages there; gated cores take no other block. The "
            "sync_start drain (not ported) stages every thread's idle and pending slots at once"
        ),
        Mutant(
            "M_DRAIN_NO_ATTEMPT_TAG",
            "J04",
            "STEP+X",
            "sync_start drain barrier state reused across attempts",
            "handle_drain_mode / enter_drain_mode as before a74485d75: a generation-less drain_ack_mask "
            "(fetch_or ack, spin until all bits, bail when the own bit is cleared) and a drain_worker_elected "
            "election CAS instead of the attempt-tagged ack tree with thread 0 as coordinator; a capacity-short "
            "owner clears mask and election; stage_go / stage_done reused across attempts",
            IMPLEMENTED,
            "the drain is the STEP+X extension runtime/trb/sync_drain.py; found as drain_attempt_consistent "
            "(INV-D5, properties/drain_checks.py)",
        ),
        Mutant(
            "M_SCHED_NO_INIT_WAIT",
            "K01",
            "STEP",
            "scheduler threads read orchestrator-initialised state before it is published",
            "a scheduler thread does not wait for runtime_init_ready_ before reading the runtime pointer",
            IMPLEMENTED,
        ),
        Mutant(
            "M_INIT_ABORT_NO_FLAG",
            "K01",
            "STEP",
            "a startup abort path forgets to publish runtime_init_ready_",
            "every startup abort path of AicpuExecutor::run (injected by Config.init_failure: runtime/trb/startup.py) "
            "returns -1 without storing runtime_init_ready_ = true; the scheduler threads spin on it forever",
            IMPLEMENTED,
            "observable only on a scenario that injects a startup failure (config.init_failure)",
        ),
        Mutant(
            "M_WAIT_NO_FATAL_POLL",
            "K05",
            "STEP",
            "orchestrator wait loops do not poll orch_error_code",
            "the alloc, dep-pool, fanin-pool, TensorMap and tensor-data waits ignore orch_error_code",
            UNOBSERVABLE,
            "at the pinned commit orch_error_code is written only by the orchestrator thread (orch_mark_fatal's "
            "CAS, the allocator's store) and reset by init_header_per_ring, so nothing can latch it while that "
            "thread waits; scheduler-side fatals go to sched_error_code, which the orchestrator waits never "
            "read with or without the switch",
        ),
        Mutant(
            "M_NO_ADVANCE_PENDING_MASK",
            "e80eaaf69",
            "STEP",
            "lost ring advance when the advance_lock try-lock fails",
            "check_and_handle_consumed drops the advance request (no advance_pending_mask bit) when another "
            "thread holds advance_lock (spec §7 variation; commit e80eaaf69, not in the catalogue sample)",
            IMPLEMENTED,
        ),
    )
}


def check_mutants(names: frozenset[str] | set[str] | tuple[str, ...]) -> frozenset[str]:
    """Validate mutant names: unknown ones and ones that need an unported extension are errors."""
    out = set()
    for n in names:
        m = MUTANTS.get(n)
        if m is None:
            raise PtocheckError(
                f"unknown mutant {n!r}", "mutant", f"known: {', '.join(sorted(MUTANTS))}"
            )
        if m.status not in (IMPLEMENTED, UNOBSERVABLE):
            raise PtocheckError(f"mutant {n} is not available: {m.status}", "mutant", m.note or m.mechanism)
        out.add(n)
    return frozenset(out)
