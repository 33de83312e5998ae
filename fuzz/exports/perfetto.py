"""A `Timeline` as Chrome trace event JSON (loads in the Perfetto UI and chrome://tracing).

Processes and thread ids follow the runtime's own swimlane converter (simpler_setup/tools/
swimlane_converter.py output, e.g. shared/traces/*/merged_swimlane.json): pid 1 "AICPU Orchestrator"
(Orch_0), pid 2 "AICPU Scheduler" (Sched_k), pid 4 "Worker View" (AIC_i / AIV_j, tid 10000 + 10 x core).
One artifact step is STEP_US microseconds. The violating step is a red slice plus two instant markers
(on its lane and global); dependency edges involved in the violation are flow arrows from the
producer's completion to the consumer's dispatch (or its submit when it never dispatched).
"""

from __future__ import annotations

import json
from typing import Any

from fuzz.exports.timeline import (
    GROUP_CORE,
    GROUP_ORCH,
    GROUP_OTHER,
    GROUP_SCHED,
    Lane,
    Timeline,
    edge_flag_text,
)

STEP_US = 10
GAP_US = 1  # bars end 1 us before the next step so neighbours stay visibly apart
PROCESSES = {
    GROUP_ORCH: (1, "AICPU Orchestrator"),
    GROUP_SCHED: (2, "AICPU Scheduler"),
    GROUP_CORE: (4, "Worker View"),
    GROUP_OTHER: (5, "Other threads"),
}
VIOLATION_COLOR = "terrible"

# Fields each phase needs (Chrome Trace Event Format; Perfetto's JSON importer reads the same).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "M": ("name", "ph", "pid", "args"),
    "X": ("name", "ph", "ts", "dur", "pid", "tid"),
    "i": ("name", "ph", "ts", "pid", "s"),
    "s": ("name", "cat", "ph", "ts", "pid", "tid", "id"),
    "f": ("name", "cat", "ph", "ts", "pid", "tid", "id"),
}


def lane_ids(lane: Lane) -> tuple[int, int]:
    pid = PROCESSES[lane.group][0]
    if lane.group == GROUP_ORCH:
        return pid, 4000 + lane.sort
    if lane.group == GROUP_SCHED:
        return pid, 30000 + 10 * lane.sort
    if lane.group == GROUP_CORE:
        core = int(lane.key[4:]) if lane.key.startswith("core") else lane.sort
        return pid, 10000 + 10 * core
    return pid, 50000 + lane.sort


def to_chrome_trace(tl: Timeline, meta: dict[str, Any]) -> dict[str, Any]:
    events: list[dict[str, Any]] = []
    ids = {lane.key: lane_ids(lane) for lane in tl.lanes}
    groups = sorted({lane.group for lane in tl.lanes}, key=lambda g: PROCESSES[g][0])
    for g in groups:
        pid, pname = PROCESSES[g]
        events.append({"name": "process_name", "ph": "M", "pid": pid, "args": {"name": pname}})
        events.append({"name": "process_sort_index", "ph": "M", "pid": pid, "args": {"sort_index": pid}})
    for order, lane in enumerate(tl.lanes):
        pid, tid = ids[lane.key]
        events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": lane.name}})
        events.append({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": tid, "args": {"sort_index": order}})
    for bar in tl.bars:
        pid, tid = ids[bar.lane]
        args: dict[str, Any] = dict(bar.args)
        if bar.step is not None:
            args["step"] = bar.step
        if bar.task is not None:
            args["task"] = tl.task_names[bar.task] if bar.task < len(tl.task_names) else bar.task
        ev: dict[str, Any] = {
            "name": bar.name,
            "cat": bar.category,
            "ph": "X",
            "ts": bar.start * STEP_US,
            "dur": (bar.end - bar.start) * STEP_US - GAP_US,
            "pid": pid,
            "tid": tid,
            "args": args,
        }
        if bar.step is not None and bar.step == tl.violation_step:
            ev["cname"] = VIOLATION_COLOR
            args["violation"] = tl.violation_text
        events.append(ev)
    if tl.violation_step is not None:
        ts = tl.violation_step * STEP_US + STEP_US // 2
        label = f"VIOLATION at step {tl.violation_step}: {tl.violation_text}"
        if tl.violation_lane is not None:
            pid, tid = ids[tl.violation_lane]
            events.append({"name": label, "cat": "violation", "ph": "i", "s": "t", "ts": ts, "pid": pid, "tid": tid})
        events.append({"name": label, "cat": "violation", "ph": "i", "s": "g", "ts": ts, "pid": 1, "tid": 4000})
    flow_id = 0
    for edge in tl.edges:
        start = tl.completed_at.get(edge.pred) or tl.submitted_at.get(edge.pred)
        end = tl.dispatched_at.get(edge.succ) or tl.submitted_at.get(edge.succ)
        if start is None or end is None:
            continue
        flow_id += 1
        name = f"{tl.task_names[edge.pred]} -> {tl.task_names[edge.succ]} ({edge_flag_text(edge.flags)}; "
        name += ",".join(edge.sources) + ")"
        for ph, (lane_key, step) in (("s", start), ("f", end)):
            pid, tid = ids[lane_key]
            flow: dict[str, Any] = {"name": name, "cat": "dependency", "ph": ph, "id": flow_id,
                                    "ts": step * STEP_US + 1, "pid": pid, "tid": tid}
            if ph == "f":
                flow["bp"] = "e"  # bind to the slice enclosing the arrow's end
            events.append(flow)
    other = dict(meta)
    other.update(
        {
            "step_us": STEP_US,
            "steps": tl.steps,
            "violation_step": tl.violation_step,
            "attribution": tl.attribution,
            "dependency_edges": [
                {
                    "pred": tl.task_names[e.pred],
                    "succ": tl.task_names[e.succ],
                    "flags": edge_flag_text(e.flags),
                    "sources": list(e.sources),
                }
                for e in tl.edges
            ],
        }
    )
    return {"traceEvents": events, "displayTimeUnit": "ns", "otherData": other}


def dump_chrome_trace(doc: dict[str, Any]) -> str:
    """Stable text: same artifact, same bytes."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n"


def missing_fields(event: dict[str, Any]) -> list[str]:
    """Fields the event's phase requires that it lacks (used by the tests and by `export perfetto`)."""
    ph = event.get("ph")
    if ph not in REQUIRED_FIELDS:
        return [f"unknown phase {ph!r}"]
    need = list(REQUIRED_FIELDS[ph])
    if ph == "M" and str(event.get("name", "")).startswith("thread_"):
        need.append("tid")
    if ph == "i" and event.get("s") == "t":
        need.append("tid")
    return [f for f in need if f not in event]
