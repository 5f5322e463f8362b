"""Loading and saving aggregates: :class:`Repository`.

``get`` folds the aggregate's stream (from its latest snapshot when snapshots are
on) in one paged read; ``save`` appends the pending events with the version the
aggregate was loaded at as ``expected_version`` (optimistic concurrency), then
takes a snapshot when due and publishes the events to the event bus.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .aggregate import Aggregate
from .errors import AggregateNotFound, ConfigurationError, InvalidEvent, WrongExpectedVersion
from .events import AppendResult, NewEvent, RecordedEvent
from .registry import SCHEMA_VERSION_KEY
from .snapshot import load_snapshot, take_snapshot
from .store import EventStore, StoreTransaction
from .validation import check_bound, is_int

if TYPE_CHECKING:
    from .bus import EventBus
    from .decider import Decider
    from .projection import Projection

A = TypeVar("A", bound=Aggregate)

log = logging.getLogger("eslib.repository")


class Repository(Generic[A]):
    """Gets and saves aggregates of one class (or of one :class:`~eslib.Decider`).

    ``snapshot_every=N`` snapshots an aggregate each time a save carries its
    version past a multiple of N and makes ``get`` start from the latest snapshot
    (``0``: only snapshots taken with :meth:`snapshot`). ``bus`` receives the saved
    events. ``inline_projections`` are updated by each save: SQL read models in its
    transaction, Python ones once it has committed (see :mod:`eslib.projection`).
    """

    def __init__(
        self,
        store: EventStore,
        aggregate: type[A] | Decider[Any, Any, Any],
        *,
        snapshot_every: int | None = None,
        bus: EventBus | None = None,
        inline_projections: Sequence[Projection] = (),
    ) -> None:
        from .decider import Decider

        if not isinstance(aggregate, Decider) and not (
                isinstance(aggregate, type) and issubclass(aggregate, Aggregate)):
            raise ConfigurationError(
                f"a Repository holds an eslib.Aggregate subclass or an eslib.Decider, "
                f"got {aggregate!r}")
        if snapshot_every is not None and not is_int(snapshot_every, 0):
            raise ConfigurationError(
                f"snapshot_every must be None or an int >= 0, got {snapshot_every!r}")
        self.store = store
        self.decider = aggregate if isinstance(aggregate, Decider) else None
        self.aggregate_class: type[A] = (
            aggregate.aggregate_class  # type: ignore[assignment]
            if isinstance(aggregate, Decider) else aggregate
        )
        self.snapshot_every = snapshot_every
        self.bus = bus
        self.inline_projections = tuple(inline_projections)
        for projection in self.inline_projections:
            if projection.in_store:
                if "sql" not in store.capabilities:
                    raise ConfigurationError(
                        f"inline projection {projection.name} needs SQL tables, but "
                        f"{store.url} has none; use a DuckDB or PostgreSQL store"
                    )
                from .projection import setup

                setup(store, projection)
        self._decode = self.aggregate_class.registry.decode

    def __repr__(self) -> str:
        return f"<eslib.Repository {self.aggregate_class.__qualname__} on {self.store.url}>"

    # -- loading ---------------------------------------------------------------

    def new(self, id: Any) -> A:
        """A fresh aggregate (version 0) to run creation commands on."""
        _check_id(id)
        return self.aggregate_class(id)

    def get(self, id: Any, *, version: int | None = None) -> A:
        """The aggregate, rebuilt from its events; ``version=N`` gives its state right after
        event N (time travel). Raises :class:`~eslib.AggregateNotFound`.
        """
        _check_id(id)
        if version is not None:
            check_bound("version", version)
        cls = self.aggregate_class
        aggregate = None
        if self.snapshot_every is not None:
            aggregate = load_snapshot(self.store, cls, id, version)
        if aggregate is None:
            aggregate = cls(id)
        limit = None if version is None else version - aggregate.version
        if limit != 0:
            events = self.store.read_stream(
                aggregate.stream_id, aggregate.version + 1, limit=limit
            )
            self._fold(aggregate, events)
        if aggregate.version == 0:
            raise AggregateNotFound(aggregate.stream_id)
        if version is not None and aggregate.version < version:
            raise AggregateNotFound(aggregate.stream_id, version, aggregate.version)
        return aggregate

    def exists(self, id: Any) -> bool:
        """Whether the aggregate has any stored event."""
        return self.store.stream_version(self.aggregate_class.stream_id_for(id)) > 0

    def _fold(self, aggregate: A, events: Iterable[RecordedEvent]) -> None:
        # the replay hot path: the registry's fast decode inlined, no other per-event objects
        apply = aggregate.apply
        decode = self._decode
        by_name = aggregate.registry._by_name
        new = object.__new__
        last = None
        for last in events:
            entry = by_name.get(last.type)
            data = last.data
            if (entry is not None and entry.fast and data.keys() == entry.field_set
                    and last.metadata.get(SCHEMA_VERSION_KEY, 1) == entry.version):
                event: Any = new(entry.cls)
                event.__dict__.update(data)
                apply(event)
            else:
                apply(decode(last))
        if last is not None:
            aggregate.version = last.version

    # -- saving ----------------------------------------------------------------

    def save(
        self, aggregate: A, *, metadata: dict[str, Any] | None = None
    ) -> AppendResult | None:
        """Append the aggregate's pending events; None when there are none (nothing written).

        A concurrent change raises :class:`~eslib.WrongExpectedVersion`, writes
        nothing and keeps the events pending. ``metadata`` is added to every event.
        """
        if not isinstance(aggregate, self.aggregate_class):
            raise InvalidEvent(f"this repository saves {self.aggregate_class.__qualname__} "
                               f"aggregates, got {type(aggregate).__qualname__}")
        if not aggregate._pending:
            return None
        stream_id, new_events, expected = self.prepare(aggregate, metadata)
        if not self.inline_projections:
            result = self.store.append(stream_id, new_events, expected)
            self.saved(aggregate, result)
            return result
        from .projection import apply_inline

        events = aggregate._pending
        with self.store.transaction() as tx:
            result = tx.append(stream_id, new_events, expected)
            apply_inline(self.inline_projections, self.store, tx, stream_id, events,
                         new_events, result)
        self.saved(aggregate, result)
        apply_inline(self.inline_projections, self.store, None, stream_id, events, new_events,
                     result)
        return result

    def prepare(
        self, aggregate: A, metadata: dict[str, Any] | None = None
    ) -> tuple[str, list[NewEvent], int]:
        """The append a save makes: (stream id, events, expected version)."""
        to_new = aggregate.registry.to_new_event
        new_events = [to_new(e, metadata=metadata) for e in aggregate._pending]
        return aggregate.stream_id, new_events, aggregate.version - len(aggregate._pending)

    def saved(self, aggregate: A, result: AppendResult) -> None:
        """After a successful append: clear pending events, snapshot when due, publish."""
        before = aggregate.version - len(aggregate._pending)
        events = aggregate.mark_saved()
        every = self.snapshot_every
        if every and before // every != aggregate.version // every:
            try:
                take_snapshot(self.store, aggregate)
            except Exception:  # a snapshot is an optimisation: the save stands
                log.exception("snapshot of %s failed", aggregate.stream_id)
        if self.bus is not None:
            self.bus.publish(events)

    def write_in(
        self, tx: StoreTransaction, aggregate: A, *, metadata: dict[str, Any] | None = None
    ) -> AppendResult | None:
        """Append the pending events inside ``tx``; call :meth:`saved` after it commits."""
        if not aggregate._pending:
            return None
        stream_id, new_events, expected = self.prepare(aggregate, metadata)
        return tx.append(stream_id, new_events, expected)

    def snapshot(self, aggregate: A | Any) -> bool:
        """Take a snapshot now (of a saved aggregate, or of the one with this id)."""
        if not isinstance(aggregate, Aggregate):
            aggregate = self.get(aggregate)
        return take_snapshot(self.store, aggregate)

    # -- command handling --------------------------------------------------------

    def update(
        self,
        id: Any,
        command: Callable[[A], object] | Any,
        *,
        retries: int = 3,
        create: bool = False,
    ) -> A:
        """Load, run the command, save; on a concurrent change reload and rerun it.

        ``command(aggregate)`` for aggregates; for a decider repository ``command``
        is the command object given to ``decide``. ``create=True`` starts a missing
        aggregate fresh instead of raising AggregateNotFound. After ``retries``
        conflicts the last WrongExpectedVersion propagates. Returns the saved aggregate.
        """
        if not is_int(retries, 0):
            raise InvalidEvent(f"retries must be an int >= 0, got {retries!r}")
        if self.decider is None and not callable(command):
            raise InvalidEvent(f"command must be a callable taking the aggregate, got {command!r}")
        attempt = 0
        while True:
            try:
                aggregate = self.get(id)
            except AggregateNotFound:
                if not create:
                    raise
                aggregate = self.new(id)
            if self.decider is not None:
                aggregate.execute(command)  # type: ignore[attr-defined]
            else:
                command(aggregate)
            try:
                self.save(aggregate)
                return aggregate
            except WrongExpectedVersion:
                attempt += 1
                if attempt > retries:
                    raise
                log.debug("conflict on %s, retry %d/%d", aggregate.stream_id, attempt, retries)


def _check_id(id: object) -> None:
    if id is None or id == "":  # else streams "account-None" and "account-" appear
        raise InvalidEvent(f"an aggregate id must not be None or empty, got {id!r}")
