"""One error hierarchy for every layer: bad input is rejected early, saying what, where and what to do."""

from __future__ import annotations


class PtocheckError(Exception):
    """Base of every error ptocheck reports to a user (the CLI prints it without a traceback)."""

    def __init__(self, what: str, where: str = "", hint: str = "") -> None:
        self.what = what
        self.where = where
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        parts = []
        if self.where:
            parts.append(f"{self.where}: ")
        parts.append(self.what)
        if self.hint:
            parts.append(f" ({self.hint})")
        return "".join(parts)


class ScenarioError(PtocheckError):
    """A scenario document that can never be a program (malformed field, dangling reference, ...)."""


class TraceError(PtocheckError):
    """A real-runtime trace file that cannot be read (malformed JSON, unknown schema, missing field)."""


class ConfigurationError(PtocheckError):
    """An impossible configuration (e.g. a task window that is not a power of two)."""


class ModelError(PtocheckError):
    """A model or explorer misuse (e.g. a property with an unknown kind)."""
