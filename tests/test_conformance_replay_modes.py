"""The conformance replay runs the model in place (O(1) per step); with `cross_check` it runs the copying
model and checks every decision against `TrbModel.actions`. Both give the same outcome, on every real run
and on mutated copies the model refuses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from properties.conformance.replay import replay_run
from properties.conformance.timeline import build_timeline
from runtime.traces.run_dir import discover_runs, load_run

pytestmark = pytest.mark.traces


def test_in_place_and_copying_replays_agree_on_every_real_run(traces_dir: Path) -> None:
    runs = discover_runs(sorted(traces_dir.iterdir()))
    assert runs
    for run in runs:
        tl = build_timeline(load_run(run))
        fast, checked = replay_run(tl), replay_run(tl, cross_check=True)
        assert fast == checked, run
        assert fast.ran and not fast.refused and fast.accepted > 0, run


def test_in_place_and_copying_replays_agree_on_refused_runs(traces_dir: Path, tmp_path: Path) -> None:
    """Rule: on the window-8 capture, every 6th kernel task in submit order in turn gets its first AICPU
    dispatch moved to one cycle before its submit record began: every such copy is refused (at events
    spread over the run), with the same event, reason and context in both modes."""
    (src,) = discover_runs([traces_dir / "pa_casevarseq4_window8_all"])
    doc = json.loads((src / "chip_swimlane_records.json").read_text())
    tl = build_timeline(load_run(src))
    assert tl.order is not None
    chosen = [tl.tasks[raw] for raw in tl.order if tl.tasks[raw].executions and tl.tasks[raw].submit_lo is not None]
    accepted: set[int] = set()
    for n, view in enumerate(chosen[::6]):
        run = tmp_path / f"m{n}" / src.name
        shutil.copytree(src, run)
        shutil.copy(src.parent / "stderr.log", run.parent / "stderr.log")
        mutated = json.loads(json.dumps(doc))
        index = view.executions[0].aicpu_index
        assert index is not None and view.submit_lo is not None
        mutated["aicpu_tasks"][index][2] = view.submit_lo - 1
        (run / "chip_swimlane_records.json").write_text(json.dumps(mutated))
        mutated_tl = build_timeline(load_run(run))
        fast, checked = replay_run(mutated_tl), replay_run(mutated_tl, cross_check=True)
        assert fast == checked, view.name
        assert fast.refused, view.name
        accepted.add(fast.accepted)
    assert len(accepted) >= 5  # refusals deep into the run, not only at its start
