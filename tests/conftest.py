"""Shared fixtures. The real traces live in ../shared/traces beside the checkout.

When `PTOCHECK_REQUIRE_SHARED=1` (set by .ci/run) a missing ../shared is a failure, never a skip, so CI
cannot pass by silently skipping the real-trace tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from properties.artifacts import Artifact, load_artifact
from properties.replay import port_system
from runtime.execution import ReplayScheduler, decode_schedule
from runtime.trb import TrbSystem

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


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ../shared folder (spec, bug catalogue, traces), or a skip (a failure under PTOCHECK_REQUIRE_SHARED=1)."""
    if not SHARED_DIR.is_dir():
        reason = f"shared folder not found at {SHARED_DIR} (ptocheck expects ../shared beside the checkout)"
        if _require_shared():
            pytest.fail(reason + "; PTOCHECK_REQUIRE_SHARED=1 makes this a failure")
        pytest.skip(reason)
    return SHARED_DIR


def all_deps_json(traces: Path) -> list[Path]:
    return sorted(traces.glob("*/*/deps.json"))


# ---- Hypothesis profiles, chosen by PTOCHECK_HYPOTHESIS_PROFILE (or pytest's --hypothesis-profile) ----
# ci (the default, and what the gate runs): derandomized, so every run draws the same examples and a
# failure reproduces from the printed example and blob alone; no example database; budgets are counts.
# dev: random examples and the local example database, same budgets. nightly: random, 20x the budgets.
HYPOTHESIS_PROFILE_ENV = "PTOCHECK_HYPOTHESIS_PROFILE"
HYPOTHESIS_EXAMPLE_SCALE = {"ci": 1, "dev": 1, "nightly": 20}
# Each profile starts from Hypothesis's "default" profile, never from the current one: when the CI
# environment variable is set, Hypothesis makes its own built-in "ci" profile current, and a profile
# registered without a parent would silently inherit that one's suppressed health checks.
_BASE_PROFILE = settings.get_profile("default")
_NO_SUPPRESSED_CHECKS: tuple[HealthCheck, ...] = ()
settings.register_profile(
    "ci",
    parent=_BASE_PROFILE,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    max_examples=100,
    suppress_health_check=_NO_SUPPRESSED_CHECKS,
)
settings.register_profile(
    "dev",
    parent=_BASE_PROFILE,
    deadline=None,
    print_blob=True,
    max_examples=100,
    suppress_health_check=_NO_SUPPRESSED_CHECKS,
)
settings.register_profile(
    "nightly",
    parent=_BASE_PROFILE,
    deadline=None,
    print_blob=True,
    max_examples=2000,
    suppress_health_check=_NO_SUPPRESSED_CHECKS,
)


def hypothesis_profile() -> str:
    return os.environ.get(HYPOTHESIS_PROFILE_ENV, "") or "ci"


def hypothesis_examples(ci_examples: int) -> int:
    """A test's example budget: its ci count, scaled up under the nightly profile."""
    return ci_examples * HYPOTHESIS_EXAMPLE_SCALE.get(hypothesis_profile(), 1)


def artifact_replay(path: Path) -> tuple[Artifact, TrbSystem, ReplayScheduler]:
    """A port-run artifact, a fresh port for its scenario and a strict scheduler of its recorded schedule
    (no observers: for tests that inspect the port's memory along the recorded run)."""
    artifact = load_artifact(path)
    schedule = decode_schedule(artifact.schedule, "artifact")
    system = port_system(artifact.scenario, (), ())
    scheduler = ReplayScheduler(schedule, system.thread_names())
    scheduler.new_execution()
    return artifact, system, scheduler


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("hypothesis_profile", None):
        return  # pytest --hypothesis-profile NAME: Hypothesis's own plugin loads it
    name = hypothesis_profile()
    if name not in HYPOTHESIS_EXAMPLE_SCALE:
        raise pytest.UsageError(
            f"{HYPOTHESIS_PROFILE_ENV}={name!r} is not a Hypothesis profile; "
            f"use one of {', '.join(HYPOTHESIS_EXAMPLE_SCALE)}"
        )
    settings.load_profile(name)


def pytest_report_header(config: pytest.Config) -> str:
    name = config.getoption("hypothesis_profile", None) or hypothesis_profile()
    how = "derandomized: every run draws the same examples" if name == "ci" else "random examples"
    return f"ptocheck hypothesis profile: {name} ({HYPOTHESIS_PROFILE_ENV}; {how}; failures print the blob)"
