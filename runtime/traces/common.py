"""Pieces shared by the trace readers: the warning type and strict JSON value accessors.

A reader either raises one :class:`~model.errors.TraceError` (the input cannot be read: it names the
file and the position) or returns its data plus :class:`TraceWarning` s (the input was read but is
known to be incomplete, e.g. a collector dropped records). A warning lowers a conformance verdict to
"partial"; it is never silently ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from model.errors import TraceError

__all__ = ["JsonReader", "TraceWarning", "read_text"]


@dataclass(frozen=True)
class TraceWarning:
    """Something in a trace that limits what can be checked (never a violation by itself)."""

    what: str
    where: str

    def render(self) -> str:
        return f"{self.where}: {self.what}" if self.where else self.what


def read_text(path: Path, hint: str) -> str:
    """The whole file as text; an unreadable file is a TraceError naming it."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise TraceError(f"cannot read the file: {exc.strerror or exc}", str(path), hint) from None


def describe_json(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {json.dumps(value)}"
    text = json.dumps(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{'string' if isinstance(value, str) else 'number'} {text}"


class JsonReader:
    """Typed accessors over parsed JSON; every bad value becomes a TraceError naming `source: path`."""

    def __init__(self, source: str, hint: str) -> None:
        self.source = source
        self.hint = hint

    def fail(self, path: str, what: str, hint: str | None = None) -> TraceError:
        return TraceError(what, f"{self.source}: {path}" if path else self.source, self.hint if hint is None else hint)

    def wrong(self, path: str, expected: str, value: object) -> TraceError:
        return self.fail(path, f"expected {expected}, got {describe_json(value)}")

    def obj(self, value: object, path: str) -> dict[str, object]:
        if not isinstance(value, dict):
            raise self.wrong(path or "top level", "a JSON object", value)
        return value

    def key(self, obj: dict[str, object], key: str, path: str) -> object:
        if key not in obj:
            raise self.fail(path or "top level", f"missing key {key!r}")
        return obj[key]

    def list_(self, obj: dict[str, object], key: str, path: str) -> list[object]:
        value = self.key(obj, key, path)
        if not isinstance(value, list):
            raise self.wrong(join(path, key), "a JSON array", value)
        return value

    def int_(self, obj: dict[str, object], key: str, path: str, minimum: int | None = None) -> int:
        return self.int_value(self.key(obj, key, path), join(path, key), minimum)

    def int_value(self, value: object, path: str, minimum: int | None = None) -> int:
        if type(value) is not int:
            raise self.wrong(path, "an integer", value)
        if minimum is not None and value < minimum:
            raise self.fail(path, f"value {value} is below the minimum {minimum}")
        return value

    def bool_(self, obj: dict[str, object], key: str, path: str) -> bool:
        value = self.key(obj, key, path)
        if not isinstance(value, bool):
            raise self.wrong(join(path, key), "true or false", value)
        return value

    def str_(self, obj: dict[str, object], key: str, path: str) -> str:
        value = self.key(obj, key, path)
        if not isinstance(value, str):
            raise self.wrong(join(path, key), "a string", value)
        return value

    def int_list(self, obj: dict[str, object], key: str, path: str, minimum: int | None = None) -> tuple[int, ...]:
        where = join(path, key)
        value = self.key(obj, key, path)
        if not isinstance(value, list):
            raise self.wrong(where, "a JSON array of integers", value)
        return tuple(self.int_value(v, f"{where}[{i}]", minimum) for i, v in enumerate(value))


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
