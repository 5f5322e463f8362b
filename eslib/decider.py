"""The functional style: a :class:`Decider` is three plain functions and a starting state.

::

    def decide(command, state):          # -> the new events; raises to refuse
        match command:
            case Deposit(amount=a) if a > 0:
                return [Deposited(a)]
        raise ValueError("bad command")

    def evolve(state, event):            # -> the next state (pure)
        match event:
            case Deposited(amount=a):
                return replace(state, balance=state.balance + a)
        return state

    account = eslib.Decider(Balance(0), decide, evolve, category="account")
    repo = eslib.Repository(store, account)          # same store and repository
    repo.update("42", Deposit(10), create=True).state

In a repository a decider is wrapped in an :class:`~eslib.Aggregate` subclass whose
``state`` attribute holds the decider state and whose ``execute(command)`` decides.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Generic, TypeVar

from .aggregate import Aggregate, check_category
from .registry import EventRegistry, default_registry

S = TypeVar("S")
C = TypeVar("C")
E = TypeVar("E")


class Decider(Generic[S, C, E]):
    """``decide(command, state) -> events`` and ``evolve(state, event) -> state``.

    ``category`` names the streams (``f"{category}-{id}"``); ``snapshot_schema``
    overrides the schema derived from ``initial_state``'s shape.
    """

    def __init__(
        self,
        initial_state: S,
        decide: Callable[[C, S], Iterable[E]],
        evolve: Callable[[S, E], S],
        *,
        category: str,
        registry: EventRegistry | None = None,
        snapshot_schema: str | None = None,
    ) -> None:
        check_category(category, "a decider's category")
        self.initial_state = initial_state
        self.decide = decide
        self.evolve = evolve
        self.category = category
        self.registry = registry or default_registry
        self.snapshot_schema = snapshot_schema
        self.aggregate_class: type[DeciderAggregate] = type(
            f"{category.title()}Decider",
            (DeciderAggregate,),
            {"category": category, "registry": self.registry, "decider": self,
             "snapshot_schema": snapshot_schema or _derived_schema(category, initial_state)},
        )

    def fold(self, events: Iterable[E], state: S | None = None) -> S:
        """The state after ``events``, from ``state`` (default: the initial state)."""
        evolve = self.evolve
        current = self.initial_state if state is None else state
        for event in events:
            current = evolve(current, event)
        return current

    def __repr__(self) -> str:
        return f"<eslib.Decider {self.category!r}>"


class DeciderAggregate(Aggregate):
    """A decider seen as an aggregate, so repositories, snapshots and tests work unchanged."""

    decider: ClassVar[Decider[Any, Any, Any]]
    state: Any

    def __init__(self, id: Any) -> None:
        super().__init__(id)
        self.state = self.decider.initial_state

    def apply(self, event: Any) -> None:
        self.state = self.decider.evolve(self.state, event)

    def execute(self, command: Any) -> list[Any]:
        """Decide on the current state and record the events; returns them."""
        events = list(self.decider.decide(command, self.state))
        for event in events:  # check all first: a bad event must not leave half recorded
            self.registry.type_of(event)
        for event in events:
            self.record(event)
        return events

    def snapshot_state(self) -> dict[str, Any]:
        state = self.state
        if dataclasses.is_dataclass(state) and not isinstance(state, type):
            return {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}
        return {"state": state}

    def restore_state(self, state: dict[str, Any]) -> None:
        initial = self.decider.initial_state
        if dataclasses.is_dataclass(initial) and not isinstance(initial, type):
            self.state = type(initial)(**state)
        else:
            self.state = state["state"]

    def __repr__(self) -> str:
        return f"<{self.category} decider {self.id!r} v{self.version} state={self.state!r}>"


def _derived_schema(category: str, initial: object) -> str:
    if dataclasses.is_dataclass(initial) and not isinstance(initial, type):
        shape: object = [type(initial).__qualname__,
                         [(f.name, str(f.type)) for f in dataclasses.fields(initial)]]
    elif isinstance(initial, dict):
        shape = sorted((str(k), type(v).__qualname__) for k, v in initial.items())
    else:
        shape = type(initial).__qualname__
    digest = hashlib.sha1(json.dumps(shape).encode()).hexdigest()[:12]
    return f"{category}:{digest}"
