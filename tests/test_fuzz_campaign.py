"""`ptocheck fuzz`: the gate's short campaign, determinism, resume, workers, findings, bad input.

The campaigns here use `--iterations` (a deterministic budget), never wall-clock assertions.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis.database import DirectoryBasedExampleDatabase

from fuzz.campaigns import FuzzOptions, run_campaign
from fuzz.campaigns.catalogue import get_campaign
from fuzz.campaigns.coverage import CoverageMap
from fuzz.campaigns.engine import FindingReport, Lane, mutate
from fuzz.campaigns.known import KNOWN, MUTANT, NEW, classify
from fuzz.campaigns.runner import Aggregator, format_summary, parse_budget
from fuzz.campaigns.targets import Context, ModelTarget
from fuzz.cli import main
from fuzz.corpus import Corpus, CorpusError
from model.scenario import Scenario, load_scenario
from properties.artifacts import Signature, artifact_to_dict, load_artifact
from properties.replay import replay_model_artifact, replay_port_artifact

ROOT = Path(__file__).resolve().parent.parent
R7 = ROOT / "tests" / "regressions" / "f_model_r7.json"
CI_SEED = 20251122
CI_ITERATIONS = 40
TRB = "tensormap_and_ringbuffer"


def _stats(corpus: Path, campaign: str) -> dict[str, object]:
    doc: dict[str, object] = json.loads((corpus / "stats" / f"{campaign}.json").read_text(encoding="utf-8"))
    return doc


def test_ci_campaign_is_clean_and_covers_both_targets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["fuzz", "--campaign", "ci", "--seed", str(CI_SEED), "--iterations", str(CI_ITERATIONS)]
    code = main([*argv, "--workers", "1", "--corpus", str(tmp_path), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"campaign ci: seed {CI_SEED}, 1 worker(s)" in out
    assert "failure within bounded(executions=" in out  # "no failure" or "no unregistered failure"
    for category in ("model actions", "model (ring, slot, state) pairs", "model 'sometimes' witnesses",
                     "port C++ functions executed", "port (ring, slot, task_state) writes", "scenario features generated"):
        assert f"    {category}: " in out, category
    stats = _stats(tmp_path, "ci")
    assert stats["lanes"] == {str(CI_SEED): {"0": CI_ITERATIONS}}
    coverage = stats["coverage"]
    assert isinstance(coverage, dict)
    assert coverage["arm:port-small"] + coverage["arm:model-small"] + stats["totals"]["invalid"] == CI_ITERATIONS  # type: ignore[index]
    assert any(k.startswith("witness:") for k in coverage) and any(k.startswith("slot:") for k in coverage)


def _campaign(corpus: Path, iterations: int, seed: int | None = 7, workers: int = 1, **kw: object) -> object:
    return run_campaign(
        FuzzOptions(campaign="ci", seed=seed, workers=workers, iterations=iterations, corpus=corpus, **kw)  # type: ignore[arg-type]
    )


def test_same_seed_same_campaign(tmp_path: Path) -> None:
    _campaign(tmp_path / "a", 8)
    _campaign(tmp_path / "b", 8)
    a, b = _stats(tmp_path / "a", "ci"), _stats(tmp_path / "b", "ci")
    assert a["coverage"] == b["coverage"] and a["totals"]["executions"] == b["totals"]["executions"]  # type: ignore[index]
    assert Corpus(tmp_path / "a").load_inputs("ci") == Corpus(tmp_path / "b").load_inputs("ci")
    _campaign(tmp_path / "c", 8, seed=8)
    assert _stats(tmp_path / "c", "ci")["coverage"] != a["coverage"]


def test_a_campaign_resumes_where_it_stopped(tmp_path: Path) -> None:
    first = _campaign(tmp_path, 6)
    second = _campaign(tmp_path, 6, seed=None)  # no seed: the campaign's last one
    assert not first.resumed and second.resumed  # type: ignore[attr-defined]
    assert second.seed == 7  # type: ignore[attr-defined]
    stats = _stats(tmp_path, "ci")
    assert stats["lanes"] == {"7": {"0": 12}}
    assert stats["totals"]["iterations"] == 12  # type: ignore[index]
    assert [s["iterations"] for s in stats["sessions"]] == [6, 6]  # type: ignore[attr-defined]
    # The resumed campaign continued the sequence: 6 + 6 iterations cover what 12 in one go cover.
    _campaign(tmp_path / "once", 12)
    assert _stats(tmp_path / "once", "ci")["totals"]["executions"] == stats["totals"]["executions"]  # type: ignore[index]


def test_two_workers_split_the_iterations(tmp_path: Path) -> None:
    summary = _campaign(tmp_path, 6, workers=2)
    assert summary.exit_code == 0 and summary.iterations == 6  # type: ignore[attr-defined]
    assert _stats(tmp_path, "ci")["lanes"] == {"7": {"0": 3, "1": 3}}


def test_progress_line_says_rate_coverage_findings_and_what_is_left(tmp_path: Path) -> None:
    stream = io.StringIO()
    _campaign(tmp_path, 3, progress=stream)
    text = stream.getvalue()
    assert "[fuzz ci] seed 7, 1 worker(s)" in text
    last = text.strip().splitlines()[-1]
    assert "exec (" in last and "/s)" in last and "coverage" in last and "findings 0 new" in last and "iterations left" in last


def test_model_target_reports_a_registered_finding_as_known_and_replayable(tmp_path: Path) -> None:
    artifact = load_artifact(R7)
    ctx = Context("t", "model", "ptocheck fuzz --campaign t", (), 0, 0, "", True)
    ex = ModelTarget(200_000).execute(artifact.scenario, ctx)
    assert ex.executions == 1 and ex.states > 0
    assert {"witness:ring_full", "blocked:task window full", "slot:r1s0:CONSUMED", "action:advance"} <= ex.features
    assert len(ex.found) == 1
    found = ex.found[0].artifact
    assert found.signature.property_id == "own_release_before_reuse"
    assert classify(found.signature, ()) == (KNOWN, "F-MODEL-R7")
    assert len(found.actions) == len(artifact.actions)  # BFS: the same shortest length
    assert replay_model_artifact(found, "r").reproduced


def test_model_target_eventually_failure_replays_and_a_tampered_path_does_not() -> None:
    # Every run of this scenario ends in SCHEDULER_TIMEOUT while it expects every task consumed.
    scenario = load_scenario(ROOT / "tests" / "regressions" / "stale_owner_own_slot.json")
    ctx = Context("t", "model", "cmd", (), 0, 0, "", True)
    ex = ModelTarget(10_000).execute(scenario, ctx)
    assert [f.artifact.signature.property_id for f in ex.found] == ["expected_outcome"]
    found = ex.found[0].artifact
    assert found.extra["property_kind"] == "eventually"
    assert replay_model_artifact(found, "r").reproduced
    shorter = replace(found, actions=found.actions[:-1])  # no longer ends in a terminal state
    assert not replay_model_artifact(shorter, "r").reproduced
    undecided = Context("t", "model", "cmd", (), 0, 0, "", False)
    assert not ModelTarget(10_000).execute(scenario, undecided).found  # the outcome is not asserted


def test_classification() -> None:
    r7 = Signature(TRB, "own_release_before_reuse", "prepare_task")
    assert classify(r7, ()) == (KNOWN, "F-MODEL-R7")
    # a registered signature is no evidence for a mutant: the unmutated port fails that way too
    assert classify(r7, ("M_ADVANCE_NO_LOCK",)) == (KNOWN, "F-MODEL-R7")
    assert classify(Signature(TRB, "pool_bounds", "prepare_task"), ("M_HEAP_TAIL_ABSOLUTE",)) == (MUTANT, None)
    # F-MODEL-R7's property has one mechanism: any blamed step is the finding (any_step)
    assert classify(Signature(TRB, "own_release_before_reuse", "on_task_complete"), ()) == (KNOWN, "F-MODEL-R7")
    # a finding matched by function stays discriminating: F-PORT-LA-UNPREPARED is about the advance
    la = Signature(TRB, "run.task_not_consumed", "advance_ring_pointers")
    assert classify(la, ()) == (KNOWN, "F-PORT-LA-UNPREPARED")
    assert classify(Signature(TRB, "run.task_not_consumed", "SchedulerContext::dispatch_shape"), ()) == (NEW, None)
    assert classify(Signature(TRB, "run.deadlock", "check_and_handle_consumed"), ()) == (NEW, None)


def test_duplicates_are_merged_and_the_smallest_artifact_kept(tmp_path: Path) -> None:
    corpus = Corpus(tmp_path)
    campaign = "ci"
    from fuzz.campaigns.catalogue import get_campaign

    agg = Aggregator(get_campaign(campaign), FuzzOptions(campaign=campaign, iterations=1, corpus=tmp_path), corpus, 1, None)
    art = load_artifact(R7)
    key = "k"
    path, created = corpus.store_artifact(campaign, key, art)
    assert created and not corpus.store_artifact(campaign, key, art)[1]

    def report(size: list[int], created: bool, message: str) -> FindingReport:
        doc = artifact_to_dict(art)
        doc["message"] = message
        return FindingReport(key, art.signature.as_list(), [], KNOWN, "F-MODEL-R7", message, str(path), created, size, 0, 0, doc)

    agg.finding(report([6, 20, 29], True, "first"))
    agg.finding(report([6, 20, 31], False, "bigger"))
    agg.finding(report([5, 18, 24], False, "smaller"))
    summary = agg.finish(False)
    assert len(summary.findings) == 1 and summary.findings[0].count == 3
    assert load_artifact(path).message == "smaller"
    assert summary.exit_code == 0  # a registered finding does not fail a campaign


def test_an_internal_error_is_recorded_with_its_input_and_fails_the_campaign(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(self: Lane, *args: object) -> object:
        raise RuntimeError("planted")

    monkeypatch.setattr(Lane, "execute", boom)
    summary = _campaign(tmp_path, 2)
    assert summary.exit_code == 1  # type: ignore[attr-defined]
    assert summary.errors and "RuntimeError: planted" in summary.errors[0]["error"]  # type: ignore[attr-defined]
    doc = json.loads(Path(summary.errors[0]["path"]).read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    assert doc["scenario"]["program"] and doc["input"] and "planted" in doc["traceback"]


def test_steering_prefers_inputs_that_reach_rare_features() -> None:
    cov = CoverageMap({"a": 100, "b": 100, "rare": 1})
    assert cov.rarity({"a", "rare"}) > 10 * cov.rarity({"a", "b"})
    assert cov.add({"a", "new"}) == ["new"] and cov.counts["a"] == 101


def test_mutation_is_deterministic() -> None:
    import random

    parent = bytes(range(64))
    assert mutate(parent, b"xyz", random.Random(3)) == mutate(parent, b"xyz", random.Random(3))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--budget", "ten"], "cannot read the budget"),
        (["--budget", "0s"], "budget must be positive"),
        (["--workers", "0", "--iterations", "1"], "--workers must be >= 1"),
        (["--iterations", "0"], "--iterations must be >= 1"),
        (["--campaign", "model", "--mutant", "M_ADVANCE_NO_LOCK", "--iterations", "1"], "has no port arm"),
        (["--mutant", "M_NOPE", "--iterations", "1"], "unknown mutant"),
        (["--database", "ftp://x", "--iterations", "1"], "unsupported database URL"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["fuzz", "--corpus", str(tmp_path / "c"), "--quiet", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ptocheck: error: ") and message in err


def test_corpus_path_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "file"
    f.write_text("x", encoding="utf-8")
    assert main(["fuzz", "--corpus", str(f), "--iterations", "1", "--quiet"]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_budget_parsing() -> None:
    assert parse_budget("90") == 90 and parse_budget("90s") == 90 and parse_budget("10m") == 600
    assert parse_budget("1h30m") == 5400 and parse_budget("1.5m") == 90


def test_list_names_every_campaign(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fuzz", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("default", "model", "port", "paged-attention", "builtin", "ci"):
        assert f"\n{name}: " in f"\n{out}"


def test_a_killed_campaign_keeps_what_it_found_and_resumes(tmp_path: Path) -> None:
    """SIGKILL right after the first artifact appears: the artifact is whole and replays; the next run resumes."""
    cmd = [sys.executable, "-m", "fuzz.cli", "fuzz", "--campaign", "default", "--seed", "1", "--budget", "10m",
           "--workers", "1", "--corpus", str(tmp_path), "--mutant", "M_DEFERRED_RELEASE_DROP_ON_FULL", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    artifacts = tmp_path / "artifacts" / "default"
    stats = tmp_path / "stats" / "default.json"

    def recorded() -> bool:  # the artifact, and the statistics that count it
        return bool(list(artifacts.glob("*.json"))) and stats.exists() and '"class": "mutant"' in stats.read_text("utf-8")

    try:
        waited = 0.0
        while not recorded() and proc.poll() is None and waited < 300:
            time.sleep(0.05)
            waited += 0.05
    finally:
        proc.kill()
        proc.wait()
    doc = json.loads(stats.read_text(encoding="utf-8"))
    mutant = [e for e in doc["findings"].values() if e["class"] == "mutant"]
    assert mutant, "no mutant finding was recorded"
    artifact = load_artifact(Path(mutant[0]["artifact"]))
    assert artifact.mutants == ("M_DEFERRED_RELEASE_DROP_ON_FULL",) and "--seed 1" in artifact.command
    assert replay_port_artifact(artifact, "r").reproduced
    summary = run_campaign(
        FuzzOptions(campaign="default", workers=1, iterations=1, corpus=tmp_path, mutants=("M_DEFERRED_RELEASE_DROP_ON_FULL",))
    )
    assert summary.seed == 1 and summary.resumed
    assert int(summary.lanes["0"]) >= 2  # it went on after the iterations done before the kill


def test_inputs_go_to_the_configured_example_database(tmp_path: Path) -> None:
    db = tmp_path / "shared-db"
    _campaign(tmp_path / "corpus", 4, database=str(db))
    assert Corpus(tmp_path / "other", str(db)).load_inputs("ci")  # another corpus reading the same database
    assert not (tmp_path / "corpus" / "hypothesis").exists()
    fresh = _campaign(tmp_path / "corpus", 2, database=str(db), fresh=True)
    assert not fresh.resumed  # type: ignore[attr-defined]


# ------------------------------------------------------------------ the shared (redis) example database


class _FakeRedisError(Exception):
    """Stands for redis.RedisError (the base of redis-py's connection errors)."""


class _FakeConnectionError(_FakeRedisError):
    """Stands for redis.ConnectionError (a RedisError), what redis-py raises when the server goes away."""


class _FakePipeline:
    """The pipeline subset hypothesis.extra.redis.RedisExampleDatabase uses: smembers, sadd, srem,
    expire, execute (each queued command's result, in order, like redis-py)."""

    def __init__(self, store: dict[bytes, set[bytes]], server: _FakeRedis) -> None:
        self.store = store
        self.server = server
        self.queued: list[tuple[str, bytes, object]] = []

    def smembers(self, key: bytes) -> None:
        self.queued.append(("smembers", key, None))

    def sadd(self, key: bytes, value: bytes) -> None:
        self.queued.append(("sadd", key, value))

    def srem(self, key: bytes, value: bytes) -> None:
        self.queued.append(("srem", key, value))

    def expire(self, key: bytes, ttl: object) -> None:
        self.queued.append(("expire", key, ttl))

    def execute(self) -> list[object]:
        self.server.operation()
        out: list[object] = []
        for op, key, value in self.queued:
            members = self.store.setdefault(key, set())
            if op == "smembers":
                out.append(set(members))
            elif op == "sadd":
                assert isinstance(value, bytes)
                out.append(0 if value in members else 1)
                members.add(value)
            elif op == "srem":
                out.append(1 if value in members else 0)
                assert isinstance(value, bytes)
                members.discard(value)
            else:
                out.append(1)
        self.queued.clear()
        return out


class _FakeRedis:
    """An in-memory stand-in for redis.Redis: one store per URL, shared by every client of that URL (as
    several machines share one server). The host `down` refuses connections; after `fail_after`
    operations (pipeline executions and publishes, counted per URL) the server goes away and every
    operation raises ConnectionError."""

    servers: ClassVar[dict[str, dict[bytes, set[bytes]]]] = {}
    fail_after: ClassVar[dict[str, int]] = {}
    operations: ClassVar[dict[str, int]] = {}

    def __init__(self, url: str) -> None:
        self.url = url
        self.store = self.servers.setdefault(url, {})
        self.published: list[tuple[str, str]] = []

    @classmethod
    def from_url(cls, url: str) -> _FakeRedis:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("Redis URL must specify one of the following schemes")
        return cls(url)

    def ping(self) -> bool:
        if "//down" in self.url:
            raise _FakeRedisError("Error 111 connecting to down:6379. Connection refused.")
        return True

    def operation(self) -> None:
        done = self.operations[self.url] = self.operations.get(self.url, 0) + 1
        if done > self.fail_after.get(self.url, done):
            raise _FakeConnectionError(f"Error 111 connecting to {self.url}. Connection refused.")

    def pipeline(self) -> _FakePipeline:
        return _FakePipeline(self.store, self)

    def publish(self, channel: str, message: str) -> int:
        self.operation()
        self.published.append((channel, message))
        return 0


@pytest.fixture
def fake_redis(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_FakeRedis]]:
    """`redis` replaced by the fake for this test; hypothesis.extra.redis re-imported against it."""
    import types

    module = types.ModuleType("redis")
    module.Redis = _FakeRedis  # type: ignore[attr-defined]
    module.RedisError = _FakeRedisError  # type: ignore[attr-defined]
    module.ConnectionError = _FakeConnectionError  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "redis", module)
    monkeypatch.setattr(_FakeRedis, "servers", {})
    monkeypatch.setattr(_FakeRedis, "fail_after", {})
    monkeypatch.setattr(_FakeRedis, "operations", {})
    sys.modules.pop("hypothesis.extra.redis", None)
    yield _FakeRedis
    sys.modules.pop("hypothesis.extra.redis", None)  # never leave the fake-bound module behind


def test_a_redis_database_goes_through_hypothesis_redis_example_database(
    tmp_path: Path, fake_redis: type[_FakeRedis]
) -> None:
    from hypothesis.extra.redis import RedisExampleDatabase

    url = "redis://cache:6379/0"
    db = Corpus(tmp_path / "a", url).db
    assert isinstance(db, RedisExampleDatabase)
    _campaign(tmp_path / "a", 5, database=url)
    saved = fake_redis.servers[url][b"hypothesis-example:" + Corpus.input_key("ci")]
    assert saved, "the campaign saved no input in the redis database"
    assert not (tmp_path / "a" / "hypothesis").exists()
    # Another machine (another corpus, another client of the same server) reads the same inputs, and
    # they are exactly what the same campaign saves in a directory database.
    assert Corpus(tmp_path / "b", url).load_inputs("ci") == sorted(saved, key=lambda b: (len(b), b))
    _campaign(tmp_path / "dir", 5)
    assert Corpus(tmp_path / "dir").load_inputs("ci") == Corpus(tmp_path / "b", url).load_inputs("ci")


def test_a_redis_server_failing_mid_campaign_leaves_the_campaign_on_the_local_fallback_losing_nothing(
    tmp_path: Path, fake_redis: type[_FakeRedis]
) -> None:
    url = "redis://flaky:6379/0"
    fake_redis.fail_after[url] = 4  # the fetch at start, then a few saves (each a pipeline and a publish)
    progress = io.StringIO()
    summary = run_campaign(
        FuzzOptions(campaign="ci", seed=7, workers=1, iterations=10, corpus=tmp_path / "a", database=url, progress=progress)
    )
    # One clear warning (what failed, where the inputs go, what happens next), said at once and in the
    # summary and statistics; the campaign ran its whole budget and its verdict is unchanged.
    assert len(summary.warnings) == 1
    warning = summary.warnings[0]
    assert url in warning and "_FakeConnectionError" in warning and "hypothesis-unshared" in warning
    assert "uploads those inputs" in warning
    assert f"WARNING: {warning}" in progress.getvalue() and f"WARNING: {warning}" in format_summary(summary)
    assert summary.iterations == 10 and summary.exit_code == 0 and not summary.errors
    assert _stats(tmp_path / "a", "ci")["warnings"][0]["warning"] == warning  # type: ignore[index]
    # Nothing is lost: the inputs in the shared database plus the local fallback are exactly the ones the
    # same campaign saves in a directory database.
    key = b"hypothesis-example:" + Corpus.input_key("ci")
    shared = set(fake_redis.servers[url].get(key, set()))
    unshared = set(DirectoryBasedExampleDatabase(str(tmp_path / "a" / "hypothesis-unshared")).fetch(Corpus.input_key("ci")))
    assert unshared, "no input went to the local fallback"
    _campaign(tmp_path / "dir", 10)
    assert sorted(shared | unshared) == sorted(Corpus(tmp_path / "dir").load_inputs("ci"))
    # The server is back: the next run with the same database uploads the fallback's inputs first.
    fake_redis.fail_after.pop(url)
    assert sorted(Corpus(tmp_path / "a", url).load_inputs("ci")) == sorted(shared | unshared)
    assert set(fake_redis.servers[url][key]) == shared | unshared
    assert not list(DirectoryBasedExampleDatabase(str(tmp_path / "a" / "hypothesis-unshared")).fetch(Corpus.input_key("ci")))


def test_a_finding_made_while_the_shared_database_is_down_is_kept_and_the_verdict_stands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_redis: type[_FakeRedis]
) -> None:
    url = "redis://flaky:6379/0"
    fake_redis.fail_after[url] = 1  # only the fetch at start succeeds
    corpus = tmp_path / "c"
    argv = ["fuzz", "--campaign", "ci", "--seed", "7", "--iterations", "3", "--workers", "1", "--corpus", str(corpus), "--quiet",
            "--database", url, "--mutant", "M_HEAP_TAIL_ABSOLUTE", "--stop-on-failure"]
    assert main(argv) == 1  # the mutant was found: the failing database changes no verdict
    out = capsys.readouterr().out
    assert "[mutant M_HEAP_TAIL_ABSOLUTE] pool_bounds" in out and f"WARNING: the shared example database {url} failed" in out
    artifacts = list((corpus / "artifacts" / "ci").glob("*.json"))
    assert len(artifacts) == 1 and load_artifact(artifacts[0]).mutants == ("M_HEAP_TAIL_ABSOLUTE",)
    fallback = DirectoryBasedExampleDatabase(str(corpus / "hypothesis-unshared"))
    assert list(fallback.fetch(Corpus.failure_key("ci"))), "the failing input was not kept locally"


def test_a_worker_that_cannot_reach_the_shared_database_any_more_falls_back_too(
    tmp_path: Path, fake_redis: type[_FakeRedis]
) -> None:
    """A worker process opens its own client after the campaign checked the server: if the server went
    away in between, that is the mid-campaign failure (fallback and warning), not bad input."""
    url = "redis://down:6379/0"
    with pytest.raises(CorpusError, match="cannot reach the redis server"):
        _ = Corpus(tmp_path, url).db  # before the campaign starts: bad input, exit 2 (tested above)
    worker = Corpus(tmp_path, url, campaign_started=True)
    worker.save_input("ci", b"input")
    (warning,) = worker.take_warnings()
    assert f"the shared example database {url} failed (cannot reach the redis server" in warning
    assert list(DirectoryBasedExampleDatabase(str(tmp_path / "hypothesis-unshared")).fetch(Corpus.input_key("ci"))) == [b"input"]


def test_the_campaign_says_each_distinct_warning_once() -> None:
    """Each worker process has its own corpus and client, so every lane that loses the shared database
    reports it (through the queue, like findings); the campaign says each distinct text once."""
    agg = Aggregator(get_campaign("ci"), FuzzOptions(progress=io.StringIO()), _NoCorpus(), 1, None)
    for lane in (0, 1):
        agg.warning(lane, "the shared example database redis://x failed")
    assert agg.session_warnings == ["the shared example database redis://x failed"]
    assert agg.finish(False).warnings == agg.session_warnings


class _NoCorpus(Corpus):
    """A corpus that keeps its statistics in memory (the aggregator writes them on every report)."""

    def __init__(self) -> None:
        self.saved: dict[str, dict[str, object]] = {}

    def save_stats(self, campaign: str, doc: dict[str, object]) -> None:
        self.saved[campaign] = doc

    def stats_path(self, campaign: str) -> Path:
        return Path("stats") / campaign


@pytest.mark.parametrize(
    ("url", "message", "hint"),
    [
        ("redis://down:6379/0", "cannot reach the redis server", "start the server"),
        ("unix://", "not a redis URL", "redis://host:port/db"),
    ],
)
def test_an_unusable_redis_database_is_one_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fake_redis: type[_FakeRedis],
    url: str,
    message: str,
    hint: str,
) -> None:
    if url == "unix://":  # redis-py refuses a unix URL without a socket path; so does the fake here

        def refuse(cls: type[_FakeRedis], u: str) -> _FakeRedis:
            raise ValueError("unix:// needs a socket path")

        monkeypatch.setattr(_FakeRedis, "from_url", classmethod(refuse))
    assert main(["fuzz", "--corpus", str(tmp_path / "c"), "--quiet", "--iterations", "1", "--database", url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and hint in err and url in err


def test_redis_without_the_redis_package_says_pip_install_redis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # `import redis` raises ImportError
    monkeypatch.delitem(sys.modules, "hypothesis.extra.redis", raising=False)
    argv = ["fuzz", "--corpus", str(tmp_path / "c"), "--quiet", "--iterations", "1", "--database", "redis://h:6379/0"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs the `redis` Python package" in err and "pip install redis" in err
    assert not (tmp_path / "c" / "stats").exists()  # nothing ran


def test_serial_mode_outcomes_are_not_asserted_and_its_fatal_is_accepted() -> None:
    """Triage (session 3): with serial_orch_sched the schedulers dispatch only after the orchestrator is
    done (SchedulerContext::wait_for_orchestration_done_before_dispatch), so a program that needs a slot
    reclaimed ends in the runtime's own FLOW_CONTROL_DEADLOCK. Neither the sizing rules nor the model know
    serial mode, so the campaign must not assert such a scenario's outcome; the per-step checks then accept
    the run, and asserting it would report the fatal."""
    from fuzz.campaigns.catalogue import decided
    from fuzz.campaigns.targets import PortParams, PortTarget
    from properties.port_checks import retain_pairs
    from properties.replay import PORT_CHECKS

    concurrent = retain_pairs(3)  # three producer/reader pairs on ring 1 with W = 4: slots are reused
    serial = concurrent.with_config(serial_orch_sched=True)
    assert decided(concurrent) and not decided(serial)
    target = PortTarget(1, observers=(PORT_CHECKS,))
    params = PortParams("random", 5)

    def found(sc: Scenario, asserted: bool) -> list[list[str]]:
        ctx = Context("t", "port", "cmd", (), 0, 0, "", asserted)
        ex = target.execute(sc, ctx, params)
        return [f.artifact.signature.as_list() for f in ex.found]

    assert found(concurrent, True) == []
    assert found(serial, False) == []
    assert found(serial, True) == [[TRB, "run.unexpected_fatal.FLOW_CONTROL_DEADLOCK", "report_deadlock"]]


def test_an_arm_may_run_each_drawn_program_more_often_than_the_campaign() -> None:
    """The default campaign's cohort arm runs each sync_start-cohort program 32 times (the drain race needs
    one interleaving among many); the count is the arm's, the campaign's stays for the other arms."""
    from fuzz.campaigns.catalogue import CAMPAIGNS
    from fuzz.campaigns.targets import PortParams, PortTarget
    from properties.port_checks import retain_pairs

    arms = {a.name: a for a in CAMPAIGNS["default"].arms}
    assert arms["port-cohort"].runs == 32 and arms["port-small"].runs is None
    target = PortTarget(2)
    ctx = Context("t", "port", "cmd", (), 0, 0, "", True)
    params = PortParams("random", 5)
    assert target.execute(retain_pairs(1), ctx, params).executions == 2
    assert target.execute(retain_pairs(1), ctx, params, 3).executions == 3
    assert target.execute(retain_pairs(1), ctx, PortParams("round-robin", 5), 3).executions == 1


# ------------------------------------------------------------------ --runtime: the other runtimes' ports

HBG = "host_build_graph"


def test_fuzz_on_host_build_graph_finds_its_mutant_and_the_artifact_replays(tmp_path: Path) -> None:
    clean = run_campaign(FuzzOptions(campaign="ci", runtime=HBG, seed=1, workers=1, iterations=8, corpus=tmp_path / "c"))
    assert clean.exit_code == 0 and clean.campaign == f"ci@{HBG}" and clean.executions > 0
    stats = Corpus(tmp_path / "c").load_stats(f"ci@{HBG}")
    assert stats is not None and {"arm:port-small", "outcome:port-done"} <= set(stats["coverage"])
    summary = run_campaign(
        FuzzOptions(campaign="ci", runtime=HBG, seed=1, workers=1, iterations=10, corpus=tmp_path / "m",
                    mutants=("hbg.drain_before_flag",), stop_on_failure=True)
    )
    found = [f for f in summary.findings if f.classification == MUTANT]
    assert found, "the ci campaign on host_build_graph no longer finds hbg.drain_before_flag within 10 inputs"
    artifact = load_artifact(Path(found[0].path))
    assert artifact.scenario.runtime == HBG and artifact.signature.runtime == HBG
    assert artifact.mutants == ("hbg.drain_before_flag",)
    assert replay_port_artifact(artifact, "r").reproduced


def test_fuzz_on_aicpu_build_graph_runs_its_builtins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["fuzz", "--campaign", "builtin", "--runtime", "aicpu_build_graph_v2", "--seed", "2", "--iterations", "4"]
    assert main([*argv, "--workers", "1", "--corpus", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "campaign builtin@aicpu_build_graph_v2: seed 2" in out and "no failure within bounded(" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--campaign", "ci", "--runtime", "aicpu_build_graph"],
         "has no port arm whose scenarios run on aicpu_build_graph (campaigns that run on aicpu_build_graph: default, builtin, explicit-deps)"),
        (["--runtime", HBG, "--mutant", "M_ADVANCE_NO_LOCK"], "unknown mutant(s) M_ADVANCE_NO_LOCK for host_build_graph"),
    ],
)
def test_fuzz_runtime_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert main(["fuzz", "--corpus", str(tmp_path), "--quiet", "--iterations", "1", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
