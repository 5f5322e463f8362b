"""Process managers (sagas): react to events from many aggregates by issuing commands.

Subclass :class:`ProcessManager`, name it, pick the event ``types`` it follows,
say which process instance an event belongs to (:meth:`~ProcessManager.correlate`)
and :meth:`~ProcessManager.react` by running commands through ``ctx.update``::

    class Shipping(eslib.ProcessManager):
        name = "shipping"
        types = (OrderPaid,)

        def react(self, event, ctx):
            ctx.update(self.shipments, ctx.key, lambda s: s.schedule(event.address))

Exactly once: for every event, the commands' new events, a marker "this process
instance handled event X" (in the stream ``f"{name}process-{key}"``) and the
checkpoint are written in one transaction. A redelivered or replayed event finds
its marker and issues no second command; a concurrent change to any touched
stream (WrongExpectedVersion) reloads everything and reacts again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

from .aggregate import Aggregate
from .errors import AggregateNotFound, ConfigurationError, WrongExpectedVersion
from .events import AppendResult, ExpectedVersion, NewEvent, RecordedEvent
from .repository import Repository
from .store import EventStore
from .subscription import EventFailed, Follower

log = logging.getLogger("eslib.process")

HANDLED = "EventHandled"  # type of the marker events in a process instance's stream


class ProcessContext:
    """What :meth:`ProcessManager.react` works with for one event.

    ``key`` is the process instance (from ``correlate``), ``recorded`` the event
    as stored. Aggregates loaded through the context are cached, so several
    commands on one aggregate see each other's effects; all are saved together.
    """

    def __init__(self, key: str, recorded: RecordedEvent) -> None:
        self.key = key
        self.recorded = recorded
        self._loaded: dict[tuple[int, str], tuple[Repository[Any], Aggregate]] = {}

    def get(self, repository: Repository[Any], aggregate_id: Any, *, create: bool = False
            ) -> Any:
        """The aggregate (loaded once per event); ``create=True``: a fresh one if missing."""
        slot = (id(repository), repository.aggregate_class.stream_id_for(aggregate_id))
        if slot not in self._loaded:
            try:
                aggregate = repository.get(aggregate_id)
            except AggregateNotFound:
                if not create:
                    raise
                aggregate = repository.new(aggregate_id)
            self._loaded[slot] = (repository, aggregate)
        return self._loaded[slot][1]

    def update(self, repository: Repository[Any], aggregate_id: Any,
               command: Callable[[Any], object] | Any, *, create: bool = False) -> Any:
        """Run a command on an aggregate (a decider command for decider repositories).

        Its events are saved with the others when ``react`` returns; a domain
        error propagates so ``react`` can compensate.
        """
        aggregate = self.get(repository, aggregate_id, create=create)
        if repository.decider is not None:
            aggregate.execute(command)
        else:
            command(aggregate)
        return aggregate

    @property
    def touched(self) -> list[tuple[Repository[Any], Aggregate]]:
        return [pair for pair in self._loaded.values() if pair[1]._pending]


class ProcessManager(Follower):
    """A saga: follows the log from its checkpoint and reacts to events exactly once."""

    #: names the checkpoint and the marker streams; no '-'
    name = "process"
    #: event classes (or type names) to follow; None follows every event
    types: ClassVar[tuple[type | str, ...] | None] = None
    #: how often a reaction is rerun after WrongExpectedVersion before it counts as failed
    conflict_retries: ClassVar[int] = 5

    def __init__(self, store: EventStore, **options: Any) -> None:
        options.setdefault("page_size", 100)
        super().__init__(store, types=type(self).types, **options)
        if "-" in self.name or not self.name:
            raise ConfigurationError(f"a process manager name must not contain '-': "
                                     f"{self.name!r}")

    # -- to implement ------------------------------------------------------------

    def correlate(self, event: Any, recorded: RecordedEvent) -> str | None:
        """The process instance an event belongs to (None: ignore it). Default: its stream."""
        return recorded.stream_id

    def react(self, event: Any, ctx: ProcessContext) -> None:
        """Issue commands for one event with ``ctx.update(repository, id, command)``."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement react(event, ctx)")

    # -- machinery -----------------------------------------------------------------

    def checkpoint(self) -> int:
        return self.store.load_checkpoint(self.name)

    def marker_stream(self, key: str) -> str:
        return f"{self.name}process-{key}"

    def handle_page(self, page: list[RecordedEvent]) -> None:
        for recorded in page:
            try:
                self.handle(recorded)
            except Exception as exc:
                raise EventFailed(recorded, exc) from exc

    def handle(self, recorded: RecordedEvent) -> bool:
        """React to one event unless this process already did; True when it reacted.

        Moves the checkpoint to the event's position in the same transaction.
        """
        event = self.registry.decode(recorded, raw_unknown=True)
        key = self.correlate(event, recorded)
        attempt = 0
        while True:
            try:
                reacted = self._handle_once(event, recorded, key)
                if reacted:
                    self.processed += 1
                return reacted
            except WrongExpectedVersion:
                attempt += 1
                if attempt > self.conflict_retries:
                    raise
                log.debug("%s: conflict at position %d, reacting again", self.name,
                          recorded.position)

    def _handle_once(self, event: Any, recorded: RecordedEvent, key: str | None) -> bool:
        if key is None:
            self._save_checkpoint(recorded.position)
            return False
        marker = self.marker_stream(key)
        handled = list(self.store.read_stream(marker))
        if any(m.data.get("event_id") == str(recorded.id) for m in handled):
            self._save_checkpoint(recorded.position)
            return False
        ctx = ProcessContext(key, recorded)
        self.react(event, ctx)
        meta = {"causation_id": str(recorded.id), "correlation_id": key}
        appends: dict[str, tuple[list[NewEvent], ExpectedVersion]] = {}
        touched = ctx.touched
        for repository, aggregate in touched:
            stream_id, events, expected = repository.prepare(aggregate, meta)
            appends[stream_id] = (events, expected)
        appends[marker] = (
            [NewEvent(HANDLED, {"event_id": str(recorded.id), "position": recorded.position,
                                "stream_id": recorded.stream_id}, meta)],
            len(handled),
        )
        with self.store.transaction() as tx:
            results: dict[str, AppendResult] = tx.append_many(appends)  # first, for PostgreSQL
            tx.save_checkpoint(self.name, max(recorded.position, tx.load_checkpoint(self.name)))
        for repository, aggregate in touched:  # committed: snapshots and bus, never undoing
            repository.saved(aggregate, results[aggregate.stream_id])
        return True

    def _save_checkpoint(self, position: int) -> None:
        with self.store.transaction() as tx:
            if position > tx.load_checkpoint(self.name):
                tx.save_checkpoint(self.name, position)
