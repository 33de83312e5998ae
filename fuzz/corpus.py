"""The persistent corpus of fuzz campaigns: inputs, artifacts, errors and per-campaign statistics.

Layout under the corpus directory (default `.ptocheck/corpus`):

    hypothesis/                 Hypothesis example database (DirectoryBasedExampleDatabase), unless
                                `--database` names another one (a directory, or redis://host:port/db
                                through hypothesis.extra.redis for several machines sharing a campaign)
    hypothesis-unshared/        inputs saved while a shared database was failing (see below)
    artifacts/<campaign>/       one versioned artifact per distinct failure (signature + mutants)
    errors/<campaign>/          internal errors of the tool, each with the input that raised it
    stats/<campaign>.json       iterations done per lane and seed, coverage counts, findings with counts

Every write is atomic (a temporary file renamed into place) and a new artifact is created exclusively
(a hard link that fails when the name exists), so a campaign killed at any moment leaves only whole
files, and two workers finding the same failure keep one artifact.

A shared database that fails mid-campaign (the redis server goes away) does not stop the campaign: the
corpus falls back to the local directory `hypothesis-unshared/` for the rest of the run and records a
warning that the campaign prints. A long unattended campaign keeps its budget that way, and nothing is
lost: findings never depend on the database (artifacts and statistics are local files), and the inputs
saved locally are uploaded to the shared database by the next run that can reach it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from hashlib import blake2b
from pathlib import Path
from typing import Any, TypeVar

from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

from model.errors import PtocheckError
from properties.artifacts import Artifact, dump_artifact

DEFAULT_CORPUS = Path(".ptocheck") / "corpus"
STATS_KEY = "ptocheck_campaign_stats"
STATS_VERSION = 1
UNSHARED_DIR = "hypothesis-unshared"
_T = TypeVar("_T")


class CorpusError(PtocheckError):
    """A corpus directory or database that cannot be used."""


def open_database(spec: str) -> tuple[ExampleDatabase, tuple[type[Exception], ...]]:
    """A Hypothesis example database: `redis://...` (hypothesis.extra.redis) or a directory path; and
    the exceptions that mean this shared database failed while in use (none for a directory: a local
    disk error is not recovered from by writing to the same disk)."""
    if spec.startswith(("redis://", "rediss://", "unix://")):
        try:
            redis = importlib.import_module("redis")
            from hypothesis.extra.redis import RedisExampleDatabase
        except ImportError:
            raise CorpusError(
                "a redis database needs the `redis` Python package", spec, "pip install redis, or use a directory"
            ) from None
        try:
            client = redis.Redis.from_url(spec)
        except ValueError as e:
            raise CorpusError(f"not a redis URL: {e}", spec, "use redis://host:port/db") from None
        # The client connects lazily: ask the server now, so an unreachable one is one clear error here
        # and not a traceback from the middle of a campaign.
        try:
            client.ping()
        except getattr(redis, "RedisError", OSError) as e:
            raise CorpusError(
                f"cannot reach the redis server: {e}", spec, "start the server or fix host, port and database"
            ) from None
        db: ExampleDatabase = RedisExampleDatabase(client)
        return db, (getattr(redis, "RedisError", OSError), OSError)
    if "://" in spec:
        raise CorpusError("unsupported database URL", spec, "use a directory path or redis://host:port/db")
    return DirectoryBasedExampleDatabase(spec), ()


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def create_exclusive(path: Path, text: str) -> bool:
    """Create `path` with `text` unless it already exists (atomically); True when this call created it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def short_hash(*parts: str) -> str:
    h = blake2b(digest_size=5)
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


class Corpus:
    """One corpus directory (and its example database) shared by every campaign and worker."""

    def __init__(self, root: Path, database: str | None = None, *, campaign_started: bool = False) -> None:
        """`campaign_started`: the campaign already opened this database (a worker process opens its own),
        so a failure to open it now is the shared database failing mid-campaign, not bad input."""
        self.root = root
        self.campaign_started = campaign_started
        self.database_spec = database or str(root / "hypothesis")
        if root.exists() and not root.is_dir():
            raise CorpusError("the corpus path exists and is not a directory", str(root), "pass a directory")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CorpusError(f"cannot create the corpus directory: {e.strerror}", str(root), "check the path") from None
        self._db: ExampleDatabase | None = None
        self._failures: tuple[type[Exception], ...] = ()  # what a failing shared database raises
        self.degraded: str | None = None  # why the shared database was left for the local fallback
        self.warnings: list[str] = []  # not yet reported (the campaign's lanes take them)

    @property
    def db(self) -> ExampleDatabase:
        if self._db is None:
            try:
                self._db, self._failures = open_database(self.database_spec)
            except CorpusError as e:
                if not self.campaign_started:
                    raise
                self._fall_back(e)
                assert self._db is not None
        return self._db

    @property
    def unshared_dir(self) -> Path:
        return self.root / UNSHARED_DIR

    def _use(self, operation: Callable[[ExampleDatabase], _T]) -> _T:
        """Run one database operation; when the shared database fails, fall back to the local one."""
        db = self.db
        try:
            return operation(db)
        except self._failures as e:
            self._fall_back(e)
            return operation(self.db)

    def _fall_back(self, error: Exception) -> None:
        reason = f"{type(error).__name__}: {error}" if not isinstance(error, CorpusError) else error.what
        self._db, self._failures = DirectoryBasedExampleDatabase(str(self.unshared_dir)), ()
        self.degraded = (
            f"the shared example database {self.database_spec} failed ({reason}); "
            f"the campaign goes on and saves its inputs in {self.unshared_dir} (not shared); findings are "
            f"unaffected; the next run with --database {self.database_spec} uploads those inputs once the "
            "server is back"
        )
        self.warnings.append(self.degraded)

    def take_warnings(self) -> list[str]:
        out, self.warnings = self.warnings, []
        return out

    def _upload_unshared(self, key: bytes) -> None:
        """Move the inputs saved locally while the shared database was failing into it (each one is
        deleted locally only after the shared database took it)."""
        if not self._failures or not self.unshared_dir.is_dir():
            return
        local = DirectoryBasedExampleDatabase(str(self.unshared_dir))
        for value in sorted(local.fetch(key)):
            self._save(key, value)
            if not self._failures:
                return  # the shared database failed during the upload: the rest stay local
            local.delete(key, value)

    def _save(self, key: bytes, value: bytes) -> None:
        self._use(lambda db: db.save(key, value))

    # ------------------------------------------------------------------ inputs (Hypothesis database)

    @staticmethod
    def input_key(campaign: str) -> bytes:
        return f"ptocheck.fuzz.{campaign}.corpus".encode()

    @staticmethod
    def failure_key(campaign: str) -> bytes:
        return f"ptocheck.fuzz.{campaign}.failures".encode()

    def load_inputs(self, campaign: str) -> list[bytes]:
        """The saved inputs of a campaign, in a deterministic order (shortest first, then bytes); inputs
        left in the local fallback by an earlier run go to the shared database first."""
        key = self.input_key(campaign)
        _ = self.db
        self._upload_unshared(key)
        self._upload_unshared(self.failure_key(campaign))
        return sorted(set(self._use(lambda db: list(db.fetch(key)))), key=lambda b: (len(b), b))

    def save_input(self, campaign: str, buffer: bytes) -> None:
        self._save(self.input_key(campaign), buffer)

    def save_failure_input(self, campaign: str, buffer: bytes) -> None:
        self._save(self.failure_key(campaign), buffer)

    # ------------------------------------------------------------------ artifacts and errors

    def artifact_dir(self, campaign: str) -> Path:
        return self.root / "artifacts" / _safe(campaign)

    def artifact_path(self, campaign: str, key: str, property_id: str) -> Path:
        return self.artifact_dir(campaign) / f"{_safe(property_id)}-{short_hash(key)}.json"

    def store_artifact(self, campaign: str, key: str, artifact: Artifact) -> tuple[Path, bool]:
        """Write the artifact of a failure unless one with the same dedup key exists; (path, created)."""
        path = self.artifact_path(campaign, key, artifact.signature.property_id)
        return path, create_exclusive(path, dump_artifact(artifact))

    def replace_artifact(self, path: Path, artifact: Artifact) -> None:
        atomic_write(path, dump_artifact(artifact))

    def store_error(self, campaign: str, key: str, doc: dict[str, Any]) -> tuple[Path, bool]:
        path = self.root / "errors" / _safe(campaign) / f"error-{short_hash(key)}.json"
        return path, create_exclusive(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")

    # ------------------------------------------------------------------ statistics

    def stats_path(self, campaign: str) -> Path:
        return self.root / "stats" / f"{_safe(campaign)}.json"

    def load_stats(self, campaign: str) -> dict[str, Any] | None:
        path = self.stats_path(campaign)
        if not path.exists():
            return None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise CorpusError(
                f"unreadable campaign statistics: {e}", str(path), "delete the file or run with --fresh"
            ) from None
        if not isinstance(doc, dict) or doc.get(STATS_KEY) != STATS_VERSION:
            raise CorpusError(
                "campaign statistics of an unsupported version", str(path), "delete the file or run with --fresh"
            )
        return doc

    def save_stats(self, campaign: str, doc: dict[str, Any]) -> None:
        doc = {STATS_KEY: STATS_VERSION, **{k: v for k, v in doc.items() if k != STATS_KEY}}
        atomic_write(self.stats_path(campaign), json.dumps(doc, indent=1, sort_keys=True) + "\n")

    def artifacts(self, campaign: str) -> Iterable[Path]:
        return sorted(self.artifact_dir(campaign).glob("*.json"))
