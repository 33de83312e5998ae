"""The narrow interface every engine works against: a `Model` and its named properties.

Borrowed from stateright: a model is initial states, the enabled actions of a state in a deterministic
order, and the next state of an action. Properties are named values of kind always / sometimes /
eventually over single states.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

S = TypeVar("S", bound=Hashable)
A = TypeVar("A", bound=Hashable)


class PropertyKind(enum.Enum):
    ALWAYS = "always"  # must hold in every reachable state
    SOMETIMES = "sometimes"  # must hold in at least one reachable state (non-vacuity witness)
    EVENTUALLY = "eventually"  # every maximal (weakly fair) path reaches a state where it holds


@dataclass(frozen=True)
class Property(Generic[S]):
    """A named claim about states. `spec` is the spec invariant id (e.g. "INV-R1") or "" for none."""

    name: str
    kind: PropertyKind
    holds: Callable[[S], bool]
    spec: str = ""
    description: str = ""


class Model(Protocol[S, A]):
    """A pure, deterministic transition system."""

    def initial_states(self) -> Sequence[S]: ...

    def actions(self, state: S) -> Sequence[A]:
        """The actions enabled in `state`, in a deterministic order."""
        ...

    def next_state(self, state: S, action: A) -> S:
        """The successor of `state` under the enabled `action`."""
        ...

    def properties(self) -> Sequence[Property[S]]: ...

    def is_final(self, state: S) -> bool:
        """True when `state` has no work left: a state with no enabled action that is not final is a deadlock."""
        ...

    def format_action(self, action: A) -> str: ...

    def format_state(self, state: S) -> str:
        """A one-line rendering of the part of the state a reader needs (used in step tables)."""
        ...
