"""`ptocheck drift`: C++ function extraction, the drift report, and its bad-input errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fuzz.cli import main
from fuzz.cmd_drift import DEFAULT_MIRROR, drift_report, function_bodies, strip_comments
from runtime.core import PINNED_COMMIT
from runtime.trb.cites import ORCH_CPP, SCHED_H, TRB, cited_functions

SOURCE = """
// end_scope(x) { not a definition: a comment }
struct S {
    void release_producer(PTO2TaskSlotState &s) {
        s.fanout_refcount.fetch_add(1);   /* comment { brace */
        check_and_handle_consumed(s);
    }
    void release_producer(PTO2TaskSlotState &s, uint64_t &n) { n += 1; }
    bool ok() const noexcept { return release_producer(x) ? true : false; }
};
void PTO2OrchestratorState::end_scope() {
    if (fatal) { return; }
    const char *s = "end_scope() {";
    sched->release_producer(y);
}
int helper() { return end_scope(); }
"""


def test_function_bodies_finds_definitions_not_calls() -> None:
    bodies = function_bodies(SOURCE, "release_producer")
    assert len(bodies) == 2 and "fetch_add" in bodies[0] and "n += 1" in bodies[1]
    end = function_bodies(SOURCE, "PTO2OrchestratorState::end_scope")
    assert len(end) == 1 and "sched->release_producer" in end[0] and "comment" not in end[0]
    assert function_bodies(SOURCE, "ok")[0].startswith("ok()")
    assert function_bodies(SOURCE, "missing") == []
    assert "brace" not in strip_comments(SOURCE)


def _fake_checkout(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def test_drift_report_lists_changed_missing_and_unchanged(tmp_path: Path) -> None:
    cites = cited_functions()
    files = {c.file for c in cites}
    pinned = {f: "\n".join(f"void {c.function}() {{ int a = 1; }}" for c in cites if c.file == f) for f in files}
    checkout = dict(pinned)
    checkout[ORCH_CPP] = checkout[ORCH_CPP].replace(
        "void append_fanin_or_fail() { int a = 1; }", "void append_fanin_or_fail() { int a = 2; }"
    )
    checkout[SCHED_H] = checkout[SCHED_H].replace("void on_task_release() { int a = 1; }", "")
    del checkout[TRB + "aicore/aicore_executor.cpp"]
    _fake_checkout(tmp_path, checkout)
    report = drift_report(tmp_path, pinned.get)
    status = {(d.file, d.function): d.status for d in report}
    assert status[(ORCH_CPP, "append_fanin_or_fail")] == "changed"
    assert status[(SCHED_H, "on_task_release")] == "missing-function"
    assert status[(TRB + "aicore/aicore_executor.cpp", "aicore_execute")] == "missing-file"
    assert sum(1 for s in status.values() if s == "unchanged") == len(report) - 3
    # whitespace and comments alone are not drift
    checkout[ORCH_CPP] = pinned[ORCH_CPP].replace("int a = 1;", "int  a = 1;  /* same */")
    _fake_checkout(tmp_path, {ORCH_CPP: checkout[ORCH_CPP]})
    report = drift_report(tmp_path, pinned.get)
    assert all(d.status == "unchanged" for d in report if d.file == ORCH_CPP)


@pytest.mark.parametrize("make", ["missing", "not_simpler"])
def test_drift_bad_checkout_is_exit_2(tmp_path: Path, make: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nope" if make == "missing" else tmp_path
    assert main(["drift", str(path)]) == 2
    err = capsys.readouterr().err
    assert "SIMPLER_CHECKOUT" in err and "Traceback" not in err


def test_drift_against_the_pinned_commit_itself(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Uses the local mirror of hw-native-sys/simpler when this machine has one."""
    if not DEFAULT_MIRROR.exists():
        pytest.skip(f"no simpler mirror at {DEFAULT_MIRROR}; the synthetic drift tests above still run")
    files = sorted({c.file for c in cited_functions()})
    archive = subprocess.run(
        ["git", "-C", str(DEFAULT_MIRROR), "archive", PINNED_COMMIT, *files], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive.stdout, check=True)
    assert main(["drift", str(tmp_path), "--check"]) == 0
    assert f"0 of {len(cited_functions())} cited functions differ" in capsys.readouterr().out
    target = tmp_path / ORCH_CPP
    target.write_text(
        target.read_text(encoding="utf-8").replace("prod_state->fanout_count++;", "prod_state->fanout_count += 2;"),
        encoding="utf-8",
    )
    assert main(["drift", str(tmp_path), "--check"]) == 1
    out = capsys.readouterr().out
    assert "changed" in out and "append_fanin_or_fail" in out and "1 of" in out
