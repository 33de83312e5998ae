"""`ptocheck prove`: exit codes, bad input, and z3 loaded only when the command runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fuzz.cli import main

pytestmark = pytest.mark.smt


def test_bound_section_prints_the_table_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "--section", "bound"]) == 0
    out = capsys.readouterr().out
    assert "minimal heap, pa_two_blocks ring 2" in out and "no heap >= 6144 B deadlocks" in out
    assert "all as expected" in out


def test_unknown_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "--section", "proof", "--system", "heap", "--rlimit", "2000"]) == 1
    assert "Unknown" in capsys.readouterr().out


def test_bad_system_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "--system", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no system named 'nope'" in err


def test_tiny_rlimit_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "--rlimit", "5"]) == 2
    assert "--rlimit" in capsys.readouterr().err


def test_cli_start_up_does_not_import_z3() -> None:
    code = "import sys, fuzz.cli; fuzz.cli.build_parser(); print('z3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
