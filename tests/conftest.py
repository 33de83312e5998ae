"""Shared fixtures. The real traces live in ../shared/traces beside the checkout.

When `PTOCHECK_REQUIRE_SHARED=1` (set by .ci/run) a missing ../shared is a failure, never a skip, so CI
cannot pass by silently skipping the real-trace tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"
TRACES_DIR = SHARED_DIR / "traces"


def _require_shared() -> bool:
    return os.environ.get("PTOCHECK_REQUIRE_SHARED", "") == "1"


@pytest.fixture(scope="session")
def traces_dir() -> Path:
    """The real-runtime traces folder, or a skip (a failure under PTOCHECK_REQUIRE_SHARED=1)."""
    if not TRACES_DIR.is_dir():
        reason = f"real traces not found at {TRACES_DIR} (ptocheck expects ../shared beside the checkout)"
        if _require_shared():
            pytest.fail(reason + "; PTOCHECK_REQUIRE_SHARED=1 makes this a failure")
        pytest.skip(reason)
    return TRACES_DIR


def all_deps_json(traces: Path) -> list[Path]:
    return sorted(traces.glob("*/*/deps.json"))
