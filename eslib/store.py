"""The :class:`EventStore` facade and :func:`connect`, which opens one from a URL."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from .backends.base import (
    Backend,
    EventQuery,
    PreparedEvent,
    Snapshot,
    StreamAppend,
    Transaction,
)
from .errors import InvalidEvent, StoreClosedError
from .events import ANY, AppendResult, ExpectedVersion, NewEvent, RecordedEvent, StreamState
from .urls import DEFAULT_URL, StoreURL, parse_url

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

Clock = Callable[[], datetime]
IdFactory = Callable[[], uuid.UUID]

MAX_STREAM_ID = 255
MAX_TYPE = 255


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def connect(
    url: str | None = None,
    *,
    clock: Clock | None = None,
    id_factory: IdFactory | None = None,
    **options: Any,
) -> EventStore:
    """Open an event store.

    ``url`` is ``memory://``, ``duckdb:///relative/path.duckdb`` (four slashes
    for an absolute path, ``duckdb:///:memory:`` for an in-memory database) or
    ``postgresql://user@host:5432/db``. Without one: ``$ESLIB_URL``, else the
    embedded default, a DuckDB file ``eslib.duckdb`` in the current folder.

    ``clock`` (returning aware datetimes) and ``id_factory`` (returning UUIDs)
    make ``recorded_at`` and event ids deterministic. Other keyword options go
    to the backend (e.g. ``pool_size`` for PostgreSQL).
    """
    target = parse_url(url or os.environ.get("ESLIB_URL") or DEFAULT_URL)
    backend = target.open_backend(**options)
    return EventStore(backend, target, clock=clock, id_factory=id_factory)


class EventStore:
    """Append-only event streams with a global log, over one backend.

    Usually made by :func:`connect`. Thread-safe; a context manager that closes
    the backend on exit.
    """

    def __init__(
        self,
        backend: Backend,
        url: StoreURL,
        *,
        clock: Clock | None = None,
        id_factory: IdFactory | None = None,
    ) -> None:
        self.backend = backend
        self.url = url
        self._clock = clock or _utc_now
        self._id_factory = id_factory or uuid.uuid4
        self._custom_ids = id_factory is not None
        self._id_lock = threading.Lock()  # deterministic factories are rarely thread-safe
        self._closed = False

    # -- writing -------------------------------------------------------------

    def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: ExpectedVersion = ANY,
    ) -> AppendResult:
        """Append events to one stream atomically.

        ``expected_version`` is the number of events the stream holds now
        (``eslib.NO_STREAM`` = 0), ``eslib.ANY`` or ``eslib.STREAM_EXISTS``; a
        mismatch raises :class:`~eslib.WrongExpectedVersion` and writes nothing.
        Resending an append whose event ids are stored at the same place returns
        the original result.
        """
        return self._append([self._prepare(stream_id, events, expected_version)])[0]

    def append_many(
        self, appends: Mapping[str, tuple[Sequence[NewEvent], ExpectedVersion]]
    ) -> dict[str, AppendResult]:
        """Append to several streams in one atomic commit: all checks pass or nothing is written.

        ``appends`` maps each stream id to ``(events, expected_version)``.
        """
        if not isinstance(appends, Mapping) or not appends:
            raise InvalidEvent(
                "append_many takes a non-empty mapping {stream_id: (events, expected_version)}"
            )
        batch = []
        for stream_id, entry in appends.items():
            if not (isinstance(entry, tuple) and len(entry) == 2):
                raise InvalidEvent(
                    f"append_many[{stream_id!r}] must be a tuple (events, expected_version)"
                )
            batch.append(self._prepare(stream_id, entry[0], entry[1]))
        results = self._append(batch)
        return {r.stream_id: r for r in results}

    def batch(self) -> Batch:
        """A unit of work: appends collected in a ``with`` block commit together on exit.

        >>> with store.batch() as b:                       # doctest: +SKIP
        ...     b.append("order-1", [NewEvent("Placed")], NO_STREAM)
        ...     b.append("stock-A1", [NewEvent("Reserved")])
        >>> b.results                                       # doctest: +SKIP
        """
        return Batch(self)

    def _append(self, batch: list[StreamAppend]) -> list[AppendResult]:
        self._check_open()
        ids = [e.id for a in batch for e in a.events]
        if len(set(ids)) != len(ids):
            raise InvalidEvent("the same event id appears twice in one append; ids must be unique")
        return self.backend.append(batch)

    def _prepare(
        self, stream_id: str, events: Sequence[NewEvent], expected: ExpectedVersion
    ) -> StreamAppend:
        _check_stream_id(stream_id)
        _check_expected(expected)
        if isinstance(events, NewEvent) or not isinstance(events, (list, tuple)):
            raise InvalidEvent(
                f"events for {stream_id!r} must be a list of eslib.NewEvent, "
                f"got {type(events).__name__}"
            )
        if not events:
            raise InvalidEvent(f"nothing to append to {stream_id!r}: give at least one event")
        return StreamAppend(stream_id, expected, tuple(self._prepare_event(e) for e in events))

    def _prepare_event(self, event: NewEvent) -> PreparedEvent:
        if not isinstance(event, NewEvent):
            raise InvalidEvent(f"expected an eslib.NewEvent, got {type(event).__name__}")
        if not isinstance(event.type, str) or not event.type or len(event.type) > MAX_TYPE:
            raise InvalidEvent(
                f"event type must be a non-empty string of at most {MAX_TYPE} characters, "
                f"got {event.type!r}"
            )
        data_json = _to_json(event.data, "data", event.type)
        metadata_json = _to_json({} if event.metadata is None else event.metadata, "metadata",
                                 event.type)
        return PreparedEvent(
            id=self._event_id(event),
            type=event.type,
            data_json=data_json,
            metadata_json=metadata_json,
            recorded_at=self._now(),
        )

    def _event_id(self, event: NewEvent) -> uuid.UUID:
        if event.id is None:
            with self._id_lock:
                new = self._id_factory()
            if not isinstance(new, uuid.UUID):
                raise InvalidEvent(f"id_factory must return uuid.UUID, got {type(new).__name__}")
            return new
        if isinstance(event.id, uuid.UUID):
            return event.id
        try:
            return uuid.UUID(str(event.id))
        except ValueError:
            raise InvalidEvent(f"event id {event.id!r} is not a UUID") from None

    def _now(self) -> datetime:
        now = self._clock()
        if not isinstance(now, datetime) or now.tzinfo is None:
            raise InvalidEvent("the store's clock must return timezone-aware datetimes")
        return now.astimezone(timezone.utc)

    def bulk_append(self, events: pa.Table | pd.DataFrame, *, skip_existing: bool = False) -> int:
        """Append many events at once from a table; returns how many were written.

        Columns: ``stream_id``, ``type``, ``data`` (JSON text or dicts), and optionally
        ``metadata``, ``id`` and ``recorded_at`` (one clock reading for the table when
        absent). Each row goes to the end of its stream (expected version ANY), rows
        in table order, so global order follows row order. The whole table commits
        atomically. With ``skip_existing`` rows whose id is already stored are left
        out, which makes an interrupted import safe to run again.

        This is the fast path for imports (Arrow in, one statement on DuckDB).
        """
        self._check_open()
        from .bulk import normalise

        table = normalise(events, self._now, self._id_factory if self._custom_ids else None)
        if table.num_rows == 0:
            return 0
        return self.backend.bulk_append(table, skip_existing)


    def read_stream(
        self,
        stream_id: str,
        from_version: int = 1,
        *,
        backwards: bool = False,
        limit: int | None = None,
    ) -> Iterator[RecordedEvent]:
        """Events of one stream with version >= ``from_version``, oldest first (or newest first).

        A stream that does not exist yields nothing. Pages through the stream.
        """
        self._check_open()
        _check_stream_id(stream_id)
        _check_bound("from_version", from_version)
        _check_limit(limit)
        return self.backend.read_stream(stream_id, from_version, backwards, limit)

    def read_all(
        self,
        from_position: int = 1,
        *,
        limit: int | None = None,
        types: Iterable[str] | None = None,
        category: str | None = None,
    ) -> Iterator[RecordedEvent]:
        """Every event with position >= ``from_position`` in global order, optionally filtered.

        A follower that processed position p resumes with ``from_position=p + 1``.
        """
        self._check_open()
        return self.backend.read_all(
            _query(from_position=from_position, limit=limit, types=types, category=category)
        )

    def stream_version(self, stream_id: str) -> int:
        """The number of events in the stream; 0 when it does not exist."""
        self._check_open()
        _check_stream_id(stream_id)
        return self.backend.stream_version(stream_id)

    def streams(self) -> list[str]:
        """Every stream id, sorted."""
        self._check_open()
        return self.backend.streams()

    def head_position(self) -> int:
        """The position of the newest event a ``read_all`` follower can see; 0 when empty."""
        self._check_open()
        return self.backend.head_position()

    def to_arrow(
        self,
        stream_id: str | None = None,
        *,
        from_position: int = 1,
        to_position: int | None = None,
        types: Iterable[str] | None = None,
        category: str | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        """Events as an Arrow table (data and metadata as JSON text), in global order."""
        self._check_open()
        if stream_id is not None:
            _check_stream_id(stream_id)
        return self.backend.to_arrow(
            _query(stream_id=stream_id, from_position=from_position, to_position=to_position,
                   types=types, category=category, limit=limit)
        )

    def to_dataframe(
        self,
        stream_id: str | None = None,
        *,
        from_position: int = 1,
        to_position: int | None = None,
        types: Iterable[str] | None = None,
        category: str | None = None,
        limit: int | None = None,
        json: Literal["text", "dict"] = "text",
    ) -> pd.DataFrame:
        """Events as a pandas DataFrame, built through Arrow, in global order.

        Columns: position, stream_id, version, type, recorded_at (UTC), data,
        metadata, id. ``data``/``metadata`` stay JSON text (the fast form); pass
        ``json="dict"`` to get parsed dicts, or see :mod:`eslib.analysis` to
        expand them into columns.
        """
        if json not in ("text", "dict"):
            raise InvalidEvent(f"json must be 'text' or 'dict', got {json!r}")
        table = self.to_arrow(stream_id, from_position=from_position, to_position=to_position,
                              types=types, category=category, limit=limit)
        frame = table.to_pandas()
        if json == "dict":
            import json as _json

            for column in ("data", "metadata"):
                frame[column] = [_json.loads(text) for text in frame[column]]
        return frame

    # -- transactions, snapshots, checkpoints -----------------------------------

    @contextmanager
    def transaction(self) -> Iterator[StoreTransaction]:
        """Appends, read-model SQL and checkpoints that commit together (or not at all).

        >>> with store.transaction() as tx:                  # doctest: +SKIP
        ...     tx.append("order-1", [NewEvent("Placed")], NO_STREAM)
        ...     tx.execute("UPDATE totals SET n = n + 1")
        ...     tx.save_checkpoint("totals", 42)

        On PostgreSQL an append must come before any other write in the transaction.
        """
        self._check_open()
        with self.backend.transaction() as tx:
            yield StoreTransaction(self, tx)

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Store an aggregate snapshot beside its stream (replacing the older one)."""
        self._check_open()
        self.backend.save_snapshot(snapshot)

    def load_snapshot(self, stream_id: str) -> Snapshot | None:
        """The latest snapshot stored for a stream, if any."""
        self._check_open()
        return self.backend.load_snapshot(stream_id)

    def load_checkpoint(self, name: str) -> int:
        """The last position a named projection or subscription processed; 0 if none."""
        self._check_open()
        return self.backend.load_checkpoint(name)

    @property
    def capabilities(self) -> frozenset[str]:
        """Optional features of the backend, e.g. ``{"sql", "multi_process"}``."""
        return self.backend.capabilities

    # -- lifecycle -----------------------------------------------------------

    def close(self) -> None:
        """Release the backend's connections and files. Safe to call twice."""
        if not self._closed:
            self._closed = True
            self.backend.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<eslib.EventStore {self.url}{state}>"


class StoreTransaction:
    """The facade's view of a backend transaction; see :meth:`EventStore.transaction`."""

    def __init__(self, store: EventStore, tx: Transaction) -> None:
        self._store = store
        self._tx = tx

    def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: ExpectedVersion = ANY
    ) -> AppendResult:
        """Append inside the transaction; same checks as :meth:`EventStore.append`."""
        return self._tx.append([self._store._prepare(stream_id, events, expected_version)])[0]

    def append_many(
        self, appends: Mapping[str, tuple[Sequence[NewEvent], ExpectedVersion]]
    ) -> dict[str, AppendResult]:
        """Append to several streams inside the transaction."""
        batch = [self._store._prepare(s, events, expected)
                 for s, (events, expected) in appends.items()]
        return {r.stream_id: r for r in self._tx.append(batch)}

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """Run SQL with ``?`` placeholders in the store's database (DuckDB, PostgreSQL)."""
        return self._tx.execute(sql, params)

    def load_checkpoint(self, name: str) -> int:
        """The named checkpoint as this transaction sees it; 0 if none."""
        return self._tx.load_checkpoint(name)

    def save_checkpoint(self, name: str, position: int) -> None:
        """Move the named checkpoint; it commits with everything else in the transaction."""
        self._tx.save_checkpoint(name, position)


class Batch:
    """Appends collected in a ``with`` block and committed together by ``append_many``.

    Two appends to the same stream are merged; the second must expect ``ANY`` or
    the version the first leaves behind. On an exception nothing is written.
    """

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._pending: dict[str, tuple[list[NewEvent], ExpectedVersion]] = {}
        self.results: dict[str, AppendResult] = {}

    def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: ExpectedVersion = ANY
    ) -> None:
        """Queue an append; it is checked and written when the block exits."""
        if stream_id not in self._pending:
            self._pending[stream_id] = (list(events), expected_version)
            return
        queued, expected = self._pending[stream_id]
        if expected_version is not ANY:
            if not isinstance(expected, int) or isinstance(expected, StreamState):
                raise InvalidEvent(
                    f"a second append to {stream_id!r} in one batch must expect ANY or an "
                    "exact version when the first one does"
                )
            if expected_version != expected + len(queued):
                raise InvalidEvent(
                    f"a second append to {stream_id!r} in one batch expects version "
                    f"{expected_version}, but the batch leaves it at {expected + len(queued)}"
                )
        queued.extend(events)

    def commit(self) -> dict[str, AppendResult]:
        """Write everything queued in one atomic commit."""
        if self._pending:
            self.results = self._store.append_many(
                {s: (events, expected) for s, (events, expected) in self._pending.items()}
            )
            self._pending = {}
        return self.results

    def __enter__(self) -> Batch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()


def _to_json(value: Any, what: str, event_type: str) -> str:
    if not isinstance(value, dict):
        raise InvalidEvent(
            f"{what} of a {event_type!r} event must be a dict (a JSON object), "
            f"got {type(value).__name__}"
        )
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidEvent(
            f"{what} of a {event_type!r} event is not JSON-serialisable: {exc}; "
            "convert it to str, int, float, bool, None, list or dict first"
        ) from None


def _check_stream_id(stream_id: object) -> None:
    if not isinstance(stream_id, str) or not stream_id or len(stream_id) > MAX_STREAM_ID:
        shown = stream_id if not isinstance(stream_id, str) else stream_id[:40]
        raise InvalidEvent(
            f"a stream id must be a non-empty string of at most {MAX_STREAM_ID} characters, "
            f"got {shown!r}"
        )


def _check_expected(expected: object) -> None:
    if isinstance(expected, StreamState):
        return
    if isinstance(expected, bool) or not isinstance(expected, int) or expected < 0:
        raise InvalidEvent(
            f"expected_version must be an event count >= 0, eslib.NO_STREAM, eslib.ANY or "
            f"eslib.STREAM_EXISTS, got {expected!r}"
        )


def _check_bound(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidEvent(f"{name} must be an int >= 1 (bounds are inclusive), got {value!r}")


def _check_limit(limit: object) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise InvalidEvent(f"limit must be None or an int >= 0, got {limit!r}")


def _query(
    *,
    stream_id: str | None = None,
    category: str | None = None,
    types: Iterable[str] | None = None,
    from_position: int = 1,
    to_position: int | None = None,
    limit: int | None = None,
) -> EventQuery:
    _check_bound("from_position", from_position)
    if to_position is not None:
        _check_bound("to_position", to_position)
    _check_limit(limit)
    if isinstance(types, str):
        types = (types,)
    type_tuple = tuple(types) if types is not None else None
    if category is not None and (not isinstance(category, str) or not category):
        raise InvalidEvent(f"category must be a non-empty string, got {category!r}")
    return EventQuery(stream_id, category, type_tuple, from_position, to_position, limit)
