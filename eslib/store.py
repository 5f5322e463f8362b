"""The :class:`EventStore` facade and :func:`connect`, which opens one from a URL."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from .backends.base import (
    Backend,
    Snapshot,
    StreamAppend,
)
from .errors import ConfigurationError, InvalidEvent, StoreClosedError
from .events import ANY, AppendResult, ExpectedVersion, NewEvent, RecordedEvent
from .preparation import Clock, EventPreparer, IdFactory, utc_now
from .unit_of_work import Batch, StoreTransaction
from .urls import DEFAULT_URL, StoreURL, parse_url
from .validation import MAX_STREAM_ID as MAX_STREAM_ID  # re-exported for callers
from .validation import (
    check_bound,
    check_checkpoint,
    check_limit,
    check_snapshot,
    check_stream_id,
    make_query,
)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


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
    to the backend: ``pool_size`` for PostgreSQL; ``read_only=True`` for DuckDB, which
    lets several processes read one file at once while none writes it (a write raises
    ConfigurationError).
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
        preparer = EventPreparer(clock or utc_now, id_factory)
        self._preparer = preparer
        # bound once: the append hot path calls them directly
        self._prepare, self._prepare_many, self._now = (
            preparer.prepare, preparer.prepare_many, preparer.now)
        self._local = threading.local()  # .transactions: this thread's open transactions
        self._open_transactions = 0  # all threads' (a cheap test before the thread-local one)
        self._tx_lock = threading.Lock()
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
        return {r.stream_id: r for r in self._append(self._prepare_many(appends))}

    def batch(self) -> Batch:
        """A unit of work: appends collected in a ``with`` block commit together on exit.

        >>> with store.batch() as b:                       # doctest: +SKIP
        ...     b.append("order-1", [NewEvent("Placed")], NO_STREAM)
        ...     b.append("stock-A1", [NewEvent("Reserved")])
        >>> b.results                                       # doctest: +SKIP
        """
        return Batch(self)

    def _append(self, batch: list[StreamAppend]) -> list[AppendResult]:
        if self._open_transactions:
            self._outside_transaction()
        return self.backend.append(self._checked(batch))

    def _outside_transaction(self) -> None:
        # On PostgreSQL such a write would go through another connection: outside the
        # transaction, and waiting forever on the locks the transaction holds.
        if getattr(self._local, "transactions", 0):
            raise ConfigurationError(
                "this thread is inside store.transaction(): write through the transaction "
                "(tx.append, tx.append_many), not the store, so the write commits with it")

    def _checked(self, batch: list[StreamAppend]) -> list[StreamAppend]:
        """``batch``, once the store is known open and no event id repeats in it."""
        if self._closed:
            raise StoreClosedError()
        if len(batch) > 1 or len(batch[0].events) > 1:
            ids = [e.id for a in batch for e in a.events]
            if len(set(ids)) != len(ids):
                raise InvalidEvent(
                    "the same event id appears twice in one append; ids must be unique")
        return batch

    def bulk_append(self, events: pa.Table | pd.DataFrame, *, skip_existing: bool = False) -> int:
        """Append many events at once from a table; returns how many were written.

        Columns: ``stream_id``, ``type``, ``data`` (JSON text or dicts), and optionally
        ``metadata``, ``id`` (any UUID spelling) and ``recorded_at`` (one clock reading for
        the table when absent). Each row goes to the end of its stream (expected version
        ANY), rows in table order, so global order follows row order. The whole table
        commits atomically. With ``skip_existing`` rows whose id is already stored are
        left out, which makes an interrupted import safe to run again.

        This is the fast path for imports (Arrow in, one statement on DuckDB). Inside
        ``store.transaction()`` it joins the transaction on memory and DuckDB; on
        PostgreSQL it is refused there (it would need a connection of its own).
        """
        self._check_open()
        if "multi_process" in self.backend.capabilities:  # elsewhere it joins the transaction
            self._outside_transaction()
        from .bulk import normalise

        preparer = self._preparer
        table = normalise(events, self._now,
                          preparer.id_factory if preparer.custom_ids else None)
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
        check_stream_id(stream_id)
        check_bound("from_version", from_version)
        check_limit(limit)
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
            make_query(from_position=from_position, limit=limit, types=types, category=category)
        )

    def stream_version(self, stream_id: str) -> int:
        """The number of events in the stream; 0 when it does not exist."""
        self._check_open()
        check_stream_id(stream_id)
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
            check_stream_id(stream_id)
        return self.backend.to_arrow(
            make_query(stream_id=stream_id, from_position=from_position, to_position=to_position,
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

        A transaction appends once (``tx.append_many`` for several streams), before any
        checkpoint, on every backend (PostgreSQL's global order depends on it; there SQL
        before the append may only read). Inside it, this thread writes through ``tx``:
        ``store.append`` raises :class:`~eslib.ConfigurationError` (it would commit on its
        own), and so do a nested ``store.transaction()`` and any use of ``tx`` after the
        block.
        """
        self._check_open()
        local = self._local
        if getattr(local, "transactions", 0):
            raise ConfigurationError(
                "transactions do not nest: this thread is inside store.transaction() already; "
                "do the work through its tx, or finish it first")
        local.transactions = 1
        with self._tx_lock:
            self._open_transactions += 1
        facade = None
        try:
            with self.backend.transaction() as tx:
                facade = StoreTransaction(self, tx)
                yield facade
        finally:
            if facade is not None:
                facade._ended = True
            local.transactions -= 1
            with self._tx_lock:
                self._open_transactions -= 1

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Store an aggregate snapshot beside its stream (replacing the older one)."""
        self._check_open()
        check_snapshot(snapshot)
        self.backend.save_snapshot(snapshot)

    def load_snapshot(self, stream_id: str) -> Snapshot | None:
        """The latest snapshot stored for a stream, if any."""
        self._check_open()
        check_stream_id(stream_id)
        return self.backend.load_snapshot(stream_id)

    def load_checkpoint(self, name: str) -> int:
        """The last position a named projection or subscription processed; 0 if none."""
        self._check_open()
        check_checkpoint(name)
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
