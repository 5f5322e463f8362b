"""The object-oriented style: an :class:`Aggregate` folds its events and records new ones.

::

    class Account(eslib.Aggregate):
        def __init__(self, id):
            super().__init__(id)
            self.balance = 0

        def deposit(self, amount):          # a command: validate, then record
            if amount <= 0:
                raise ValueError("amount must be positive")
            self.record(Deposited(amount))

        def apply(self, event):             # the fold: state changes only here
            match event:
                case Deposited(amount=a):
                    self.balance += a
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

from .errors import ConfigurationError
from .registry import EventRegistry, default_registry

# attributes of the base class that are bookkeeping, not state
_INTERNAL = frozenset({"id", "version", "_pending"})


def check_category(category: object, what: str) -> None:
    if not isinstance(category, str) or not category or "-" in category:
        raise ConfigurationError(f"{what} must be a non-empty string without '-' "
                                 f"(stream ids are category-id), got {category!r}")


class Aggregate:
    """Base class of event-sourced aggregates.

    ``id`` is the aggregate's id, ``version`` the number of events applied (stored
    or not), ``category`` (class attribute, default the class name in lower case)
    names its stream: ``f"{category}-{id}"``. Subclasses set the initial state in
    ``__init__(self, id)``, change it only in :meth:`apply` and record events in
    command methods with :meth:`record`.
    """

    category: ClassVar[str] = "aggregate"
    #: the event registry that record() checks against and that loading decodes with
    registry: ClassVar[EventRegistry] = default_registry
    #: names the snapshot state's shape; change it when the state's meaning changes.
    #: None: derived from the class name and the attributes of a fresh instance
    snapshot_schema: ClassVar[str | None] = None

    id: Any
    version: int
    _pending: list[Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "category" not in cls.__dict__:
            cls.category = cls.__name__.lower()
        check_category(cls.category, f"{cls.__qualname__}.category")

    def __new__(cls, id: Any = None, *args: Any, **kwargs: Any) -> Aggregate:
        # bookkeeping is set here so a subclass __init__ that forgets super() still works
        self = super().__new__(cls)
        self.id = id
        self.version = 0
        self._pending = []
        return self

    def __init__(self, id: Any) -> None:
        self.id = id

    @property
    def stream_id(self) -> str:
        """The id of this aggregate's stream: ``f"{category}-{id}"``."""
        return f"{self.category}-{self.id}"

    @classmethod
    def stream_id_for(cls, id: Any) -> str:
        return f"{cls.category}-{id}"

    def apply(self, event: Any) -> None:
        """Change the state for one event (pattern matching on it is the usual style)."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement apply(event)")

    def record(self, event: Any) -> None:
        """Apply a new event and queue it for the repository to save.

        The event must be an instance of a class registered with ``@eslib.event``;
        anything else raises :class:`~eslib.InvalidEvent` before the state changes.
        """
        self.registry.type_of(event)  # raises InvalidEvent naming what is wrong
        self.apply(event)
        self.version += 1
        self._pending.append(event)

    @property
    def pending_events(self) -> tuple[Any, ...]:
        """Events recorded since the aggregate was loaded or saved."""
        return tuple(self._pending)

    def mark_saved(self) -> list[Any]:
        """Forget the pending events (the repository calls this after a save); returns them."""
        pending, self._pending = self._pending, []
        return pending

    # -- snapshots -------------------------------------------------------------

    def snapshot_state(self) -> dict[str, Any]:
        """The state to snapshot, JSON-serialisable. Default: every attribute but id/version."""
        return {k: v for k, v in vars(self).items() if k not in _INTERNAL}

    def restore_state(self, state: dict[str, Any]) -> None:
        """Set the state from :meth:`snapshot_state`'s output (on a fresh instance)."""
        vars(self).update(state)

    @classmethod
    def schema(cls) -> str:
        """The snapshot schema: ``snapshot_schema`` or a digest of a fresh instance's shape."""
        explicit = cls.__dict__.get("_schema_cache") or cls.snapshot_schema
        if explicit:
            return explicit
        fresh = cls("schema-probe")
        shape = sorted((k, type(v).__qualname__) for k, v in fresh.snapshot_state().items())
        digest = hashlib.sha1(json.dumps(shape).encode()).hexdigest()[:12]
        schema = f"{cls.__qualname__}:{digest}"
        cls._schema_cache = schema  # type: ignore[attr-defined]
        return schema

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__} {self.id!r} v{self.version}>"
