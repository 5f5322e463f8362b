"""Projections: fold events into read models, remembering the last position applied.

Two kinds of read model:

* :class:`Projection` — plain Python (dicts, lists, a pandas frame built on demand)
  in this process. Its checkpoint is ``self.position``, advanced after each event
  it applied, so a failure in the middle of a page neither loses nor repeats an event.
* :class:`SQLProjection` — tables in the store's own database (DuckDB, PostgreSQL):
  each page of events and the checkpoint commit in one ``store.transaction()``;
  a crash rolls both back together.

Two ways to run one:

* inline — ``Repository(..., inline_projections=[p])`` applies each save's events:
  SQL read models in the append's transaction (an error aborts the save), Python ones
  right after it commits (an error raises HandlerError; the model stops before that
  event). First it applies the events of its types it has not seen (a Python one on
  PostgreSQL only its saves' own: catch it up with a runner first; see apply_inline);
* catch-up — :class:`ProjectionRunner` reads ``read_all`` from the checkpoint, on
  demand (``run_until_caught_up``), continuously (``start``/``stop``) or from
  scratch (``rebuild``).

A projection's ``apply(event, ctx)`` pattern-matches the event (events of types
no class is registered for arrive as the RecordedEvent); ``ctx`` gives the stored
event's ``stream_id``, ``version``, ``position``, ``metadata`` and, for SQL read
models, ``ctx.execute(sql, params)`` with ``?`` placeholders.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, ClassVar

from .backends.base import EventQuery
from .errors import ConfigurationError, HandlerError
from .events import AppendResult, NewEvent, RecordedEvent
from .registry import EventRegistry, default_registry
from .store import EventStore, StoreTransaction
from .subscription import EventFailed, Follower, _type_names


class EventContext:
    """Where the event being applied is stored, and the transaction to write the model in."""

    __slots__ = ("metadata", "position", "stream_id", "tx", "type", "version")

    def __init__(self, tx: StoreTransaction | None) -> None:
        self.tx = tx
        self.stream_id = ""
        self.version = self.position = 0
        self.type = ""
        self.metadata: dict[str, Any] = {}

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """Run SQL in the projection's transaction (SQL read models only)."""
        if self.tx is None:
            raise ConfigurationError(
                "this projection keeps its read model in Python; subclass "
                "eslib.SQLProjection to write tables in the store's database"
            )
        return self.tx.execute(sql, params)

    def _load(self, recorded: RecordedEvent) -> None:
        self.stream_id, self.version, self.position = (
            recorded.stream_id, recorded.version, recorded.position)
        self.type, self.metadata = recorded.type, recorded.metadata


class Projection:
    """A read model in Python. Subclass it, set up the model in ``__init__`` and fold
    events in :meth:`apply`. ``name`` (default: the class name) names the projection;
    ``types`` (event classes or type names) limits the events it reads.
    """

    name: ClassVar[str] = ""
    types: ClassVar[tuple[type | str, ...] | None] = None
    registry: ClassVar[EventRegistry] = default_registry
    #: the read model lives in the store's database (see SQLProjection)
    in_store: ClassVar[bool] = False

    position: int  #: the last position applied (Python read models)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            cls.name = cls.__name__

    def __new__(cls, *args: Any, **kwargs: Any) -> Projection:
        self = super().__new__(cls)
        self.position = 0  # set here so a subclass __init__ without super() works
        return self

    def apply(self, event: Any, ctx: EventContext) -> None:
        """Fold one event into the read model."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement apply(event, ctx)")

    def setup(self, tx: StoreTransaction) -> None:
        """Create the read model's tables if missing (SQL read models)."""

    def clear(self, tx: StoreTransaction | None) -> None:
        """Empty the read model before a rebuild. Default (Python): run ``__init__()`` again."""
        type(self).__init__(self)

    def type_names(self) -> tuple[str, ...] | None:
        return _type_names(self.types, self.registry)


class SQLProjection(Projection):
    """A read model made of tables in the store's database (backends with ``"sql"``).

    Implement :meth:`setup` (``CREATE TABLE IF NOT EXISTS …``), :meth:`clear`
    (``DELETE FROM …``) and :meth:`apply` with ``ctx.execute``. The checkpoint is
    kept in the store under ``name`` and commits with the tables.
    """

    in_store = True

    def clear(self, tx: StoreTransaction | None) -> None:
        raise NotImplementedError(f"{type(self).__qualname__} must implement clear(tx) "
                                  "(e.g. DELETE FROM its tables) to be rebuilt")


class ProjectionRunner(Follower):
    """Runs a projection as a catch-up follower of ``read_all``.

    One runner per projection at a time: two runners of the same SQL projection
    would each apply the same page.
    """

    def __init__(self, store: EventStore, projection: Projection, **options: Any) -> None:
        if projection.in_store and "sql" not in store.capabilities:
            raise ConfigurationError(
                f"{projection.name} keeps its read model in SQL tables, but {store.url} has no "
                "SQL; use a DuckDB or PostgreSQL store, or a Python eslib.Projection"
            )
        options.setdefault("registry", projection.registry)
        super().__init__(store, types=projection.types, **options)
        self.projection = projection
        self.name = projection.name
        self._ready = False

    def checkpoint(self) -> int:
        if self.projection.in_store:
            return self.store.load_checkpoint(self.name)
        return self.projection.position

    def step(self) -> int:
        if not self._ready and self.projection.in_store:
            setup(self.store, self.projection)
        self._ready = True
        return super().step()

    def handle_page(self, page: list[RecordedEvent]) -> None:
        projection = self.projection
        decode = self.registry.decode
        apply = projection.apply
        if not projection.in_store:
            ctx = EventContext(None)
            for recorded in page:
                ctx._load(recorded)
                try:
                    apply(decode(recorded, raw_unknown=True), ctx)
                except Exception as exc:
                    raise EventFailed(recorded, exc) from exc
                projection.position = recorded.position
                self.processed += 1
            return
        with self.store.transaction() as tx:
            if tx._lock_checkpoint(self.name) >= page[0].position:
                return  # another runner got here first; reread from the new checkpoint
            ctx = EventContext(tx)
            for recorded in page:
                ctx._load(recorded)
                try:
                    apply(decode(recorded, raw_unknown=True), ctx)
                except Exception as exc:  # leaving the block rolls the whole page back
                    raise EventFailed(recorded, exc) from exc
            tx.save_checkpoint(self.name, page[-1].position)
        self.processed += len(page)

    def rebuild(self) -> int:
        """Empty the read model, reset the checkpoint and replay every event."""
        if self.projection.in_store:
            with self.store.transaction() as tx:
                tx._lock_checkpoint(self.name)  # runners and inline saves wait for it
                self.projection.setup(tx)
                self.projection.clear(tx)
                tx.save_checkpoint(self.name, 0)
            self._ready = True
        else:
            self.projection.clear(None)
            self.projection.position = 0
        return self.run_until_caught_up()


def setup(store: EventStore, projection: Projection) -> None:
    """Create a SQL read model's tables, one process at a time (PostgreSQL's CREATE TABLE
    IF NOT EXISTS fails when another runs at the same moment)."""
    with store.transaction() as tx:
        tx._lock_checkpoint(projection.name)
        projection.setup(tx)


def apply_inline(
    projections: Sequence[Projection],
    store: EventStore,
    tx: StoreTransaction | None,
    stream_id: str,
    events: Sequence[Any],
    new_events: Sequence[NewEvent],
    result: AppendResult,
) -> None:
    """Bring inline projections up to just-appended events: the SQL read models (``tx``
    given) inside the append's transaction, where an error aborts the save; the Python
    ones (``tx`` None) once it has committed, since a Python model cannot roll back.

    Events of its types a projection has not seen (it was added to a store that had
    some, or they were written around it) are applied first, so its checkpoint never
    jumps past an event it did not apply. On PostgreSQL that is the SQL read models'
    promise (the transactions moving a checkpoint take turns on its row), but only for
    committed events: one written around it by a transaction still running is missed,
    and a Python read model applies only its own saves' events there.
    """
    for projection in projections:
        if projection.in_store and tx is not None:
            _apply_sql(projection, tx, stream_id, events, new_events, result)
        elif not projection.in_store and tx is None:
            with _lock(projection):
                _apply_python(projection, store, stream_id, events, new_events, result)


def _apply_sql(projection: Projection, tx: StoreTransaction, stream_id: str,
               events: Sequence[Any], new_events: Sequence[NewEvent],
               result: AppendResult) -> None:
    names = projection.type_names()
    ctx = EventContext(tx)
    checkpoint = tx._lock_checkpoint(projection.name)
    first, applied = result.positions[0], checkpoint
    if checkpoint < first - 1:
        decode = projection.registry.decode
        for recorded in tx._read_events(EventQuery(
                types=names, from_position=checkpoint + 1, to_position=first - 1)):
            ctx._load(recorded)
            projection.apply(decode(recorded, raw_unknown=True), ctx)
            applied = recorded.position
    # its own events always: a writer with a lower position may commit after one with a
    # higher, which then moved the checkpoint past them
    applied = max(applied, _apply_own(projection, ctx, stream_id, events, new_events, result,
                                      after=0))
    if applied > checkpoint:
        tx.save_checkpoint(projection.name, applied)


def _apply_python(projection: Projection, store: EventStore, stream_id: str,
                  events: Sequence[Any], new_events: Sequence[NewEvent],
                  result: AppendResult) -> None:
    ctx = EventContext(None)
    # In one process every save before this one has committed: the events it missed are
    # all readable. Across processes (PostgreSQL) one may still be running, and skipping
    # by position would drop its events: there only this save's events are applied.
    catch_up = "multi_process" not in store.capabilities
    try:
        if catch_up and projection.position < result.positions[0] - 1:
            decode = projection.registry.decode
            for recorded in store.read_all(projection.position + 1,
                                           types=projection.type_names()):
                if recorded.position >= result.positions[0]:
                    break
                ctx._load(recorded)
                projection.apply(decode(recorded, raw_unknown=True), ctx)
                projection.position = recorded.position
        _apply_own(projection, ctx, stream_id, events, new_events, result,
                   after=projection.position if catch_up else 0, python=True)
    except Exception as exc:
        failed = next(iter(store.read_all(from_position=ctx.position, limit=1)), ctx)
        raise HandlerError(f"inline projection {projection.name} (the save itself is stored; "
                           "its model stops before this event)", failed, 1, exc) from exc


def _apply_own(projection: Projection, ctx: EventContext, stream_id: str,
               events: Sequence[Any], new_events: Sequence[NewEvent], result: AppendResult,
               *, after: int, python: bool = False) -> int:
    """Apply the save's events of the projection's types past position ``after``; the
    last position applied (0: none)."""
    names = projection.type_names()
    ctx.stream_id = stream_id
    first_version = result.version - len(new_events) + 1
    applied = 0
    for i, (event, new) in enumerate(zip(events, new_events, strict=True)):
        position = result.positions[i]
        if position <= after or (names is not None and new.type not in names):
            continue
        ctx.version, ctx.position = first_version + i, position
        ctx.type, ctx.metadata = new.type, new.metadata or {}
        projection.apply(event, ctx)
        applied = position
        if python:
            projection.position = max(projection.position, position)
    return applied


def _lock(projection: Projection) -> threading.Lock:
    """One lock per Python projection: threads saving through it apply in turn (dict's
    setdefault is atomic: two threads get the same lock)."""
    lock: threading.Lock = vars(projection).setdefault("_inline_lock", threading.Lock())
    return lock
