"""Embedded backend: one DuckDB file (or ``:memory:``), owned by one process.

DuckDB lets one process write a file, so this process is the only writer and
can keep each stream's version and the head position in memory: an append is
one INSERT statement (one commit), its conflicts decided before it is sent.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, StoreClosedError, WrongExpectedVersion
from ..events import AppendResult, RecordedEvent, append_result, recorded_event
from ..ids import uuid_from_text
from ..json_text import decode
from . import duckdb_bulk
from .base import (
    PAGE_SIZE,
    EventQuery,
    Snapshot,
    StoredId,
    StreamAppend,
    check_expected,
    replayed_result,
)
from .duckdb_errors import check_path, translate_errors
from .duckdb_sql import READ_COLUMNS, prepare_schema
from .sql import where

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

SNAPSHOT_CACHE = 10_000  # snapshots kept in memory per open file

_OPEN: dict[str, DuckDBBackend] = {}
_OPEN_LOCK = threading.Lock()


def open_backend(path: str, *, read_only: bool = False) -> DuckDBBackend:
    """Open a DuckDB file, sharing one backend per file within this process.

    DuckDB lets one process open a file several times; the stores opened on it
    must then share the version cache and the lock, or they would hand out the
    same positions twice.
    """
    if path == ":memory:":
        return DuckDBBackend(path, read_only=read_only)
    key = os.path.realpath(path)
    with _OPEN_LOCK:
        backend = _OPEN.get(key)
        if backend is None or backend._closed:
            backend = _OPEN[key] = DuckDBBackend(path, read_only=read_only)
        elif backend.read_only != read_only:  # sharing it would give the other mode
            raise ConfigurationError(
                f"{path!r} is already open in this process with read_only="
                f"{backend.read_only}; close that store first, or open this one the same way")
        else:
            backend._users += 1
        return backend


class DuckDBBackend:
    """Events in a DuckDB database; thread-safe through one lock around one connection."""

    capabilities: frozenset[str] = frozenset({"sql"})

    def __init__(self, path: str, *, read_only: bool = False) -> None:
        try:
            import duckdb
        except ImportError as exc:  # pragma: no cover - duckdb is a core dependency
            raise ConfigurationError("duckdb is not installed: pip install duckdb") from exc
        self.path = path
        self.read_only = read_only
        self._lock = threading.RLock()
        if path != ":memory:":
            check_path(path, read_only)
        with translate_errors(f"opening {path!r}"):
            self._con = duckdb.connect(path, read_only=read_only)
            self._con.execute("SET TimeZone = 'UTC'").fetchall()
            # a table name in the user's SQL must never resolve to a Python variable in eslib
            self._con.execute("SET python_enable_replacements = false").fetchall()
            prepare_schema(self._con, path, create=not read_only)
        self._versions: dict[str, int] = {}
        self._snapshots: dict[str, Snapshot | None] = {}
        self._head = self._query_head()
        self._in_transaction = False
        self._touched: set[str] = set()
        self._closed = False
        self._users = 1

    def _query_head(self) -> int:
        rows = self._con.execute("SELECT coalesce(max(position), 0) FROM eslib_events").fetchall()
        return int(rows[0][0])

    # -- writing -------------------------------------------------------------

    def append(self, batch: Sequence[StreamAppend]) -> list[AppendResult]:
        with self._lock, translate_errors("append"):
            import duckdb

            if self._in_transaction:  # a failed statement would abort the whole transaction
                return self._append(batch, self._stored_ids(batch))
            try:
                return self._append(batch, {})
            except (duckdb.ConstraintException, WrongExpectedVersion):
                # Maybe the ids are stored already: an idempotent retry (which also fails
                # its version check) or a duplicate. Only failures pay for this look-up.
                return self._append(batch, self._stored_ids(batch))

    def _append(
        self, batch: Sequence[StreamAppend], stored: dict[uuid.UUID, StoredId]
    ) -> list[AppendResult]:
        results: list[AppendResult | None] = []
        rows: list[tuple[Any, ...]] = []
        versions: dict[str, int] = {}
        position = self._head
        for item in batch:
            replayed = replayed_result(item, [stored[e.id] for e in item.events if e.id in stored])
            results.append(replayed)
            if replayed is not None:
                continue
            version = self._version(item.stream_id)
            check_expected(item.stream_id, item.expected, version)
            positions = []
            for e in item.events:
                version += 1
                position += 1
                positions.append(position)
                rows.append((position, item.stream_id, version, e.id, e.type,
                             e.data_json, e.metadata_json, e.recorded_at))
            versions[item.stream_id] = version
            results[-1] = append_result(item.stream_id, version, tuple(positions))
        if rows:
            duckdb_bulk.insert_rows(self._con, rows)
            self._versions.update(versions)
            self._head = position
            if self._in_transaction:
                self._touched.update(versions)
        return [r for r in results if r is not None]

    def bulk_append(self, table: pa.Table, skip_existing: bool) -> int:
        import duckdb

        with self._lock, translate_errors("bulk append"):
            own = not self._in_transaction
            if own:
                self._con.execute("BEGIN").fetchall()
            try:
                written, versions = duckdb_bulk.bulk_insert(
                    self._con, table, head=self._head, known=self._versions,
                    skip_existing=skip_existing, precheck=not own)
            except BaseException as exc:
                if not own:
                    raise
                self._con.execute("ROLLBACK").fetchall()
                refused = (duckdb.ConstraintException, duckdb.ConversionException)
                why = duckdb_bulk.refusal(self._con, table) if isinstance(exc, refused) else None
                if why is None:
                    raise
                raise why from exc
            if own:
                self._con.execute("COMMIT").fetchall()
            self._versions.update(versions)
            if self._in_transaction:
                self._touched.update(versions)
            self._head += written
            return written

    def _version(self, stream_id: str) -> int:
        version = self._versions.get(stream_id)
        if version is None:
            rows = self._con.execute(
                "SELECT coalesce(max(version), 0) FROM eslib_events WHERE stream_id = ?",
                [stream_id],
            ).fetchall()
            version = self._versions[stream_id] = int(rows[0][0])
        return version

    def _stored_ids(self, batch: Sequence[StreamAppend]) -> dict[uuid.UUID, StoredId]:
        ids = [e.id for item in batch for e in item.events]
        rows = self._con.execute(
            "SELECT id, stream_id, version, position FROM eslib_events WHERE id IN "
            f"({', '.join('?' * len(ids))})",
            ids,
        ).fetchall()
        return {r[0]: StoredId(r[0], r[1], r[2], r[3]) for r in rows}

    # -- reading -------------------------------------------------------------

    def read_stream(
        self, stream_id: str, from_version: int, backwards: bool, limit: int | None
    ) -> Iterator[RecordedEvent]:
        known = self._versions.get(stream_id)
        if known is not None and from_version > known:
            return  # this process is the only writer: the cached version is the truth
        order = "DESC" if backwards else "ASC"
        bound = ">=" if not backwards else "<="
        cursor: int | None = None
        remaining = limit
        while remaining is None or remaining > 0:
            page = PAGE_SIZE if remaining is None else min(PAGE_SIZE, remaining)
            sql = (f"SELECT {READ_COLUMNS} FROM eslib_events WHERE stream_id = ? "
                   "AND version >= ?")
            params: list[object] = [stream_id, from_version]
            if cursor is not None:
                sql += f" AND version {bound} ?"
                params.append(cursor)
            events = self._events(f"{sql} ORDER BY version {order} LIMIT {page}", params)
            yield from events
            if len(events) < page:
                return
            cursor = events[-1].version + (1 if not backwards else -1)
            if remaining is not None:
                remaining -= len(events)

    def read_all(self, query: EventQuery) -> Iterator[RecordedEvent]:
        clause, params = where(query)
        start = query.from_position
        remaining = query.limit
        while remaining is None or remaining > 0:
            page = PAGE_SIZE if remaining is None else min(PAGE_SIZE, remaining)
            events = self._events(
                f"SELECT {READ_COLUMNS} FROM eslib_events WHERE {clause} AND position >= ? "
                f"ORDER BY position LIMIT {page}",
                [*params, start],
            )
            yield from events
            if len(events) < page:
                return
            start = events[-1].position + 1
            if remaining is not None:
                remaining -= len(events)

    def _events(self, sql: str, params: list[object]) -> list[RecordedEvent]:
        """The events of a READ_COLUMNS query."""
        return [_recorded(*row) for row in self._fetch(sql, params)]

    def _fetch(self, sql: str, params: list[object]) -> list[tuple[Any, ...]]:
        with self._lock, translate_errors("read"):
            if self._closed:  # a read's next page, after the store was closed
                raise StoreClosedError()
            return self._con.execute(sql, params).fetchall()

    def stream_version(self, stream_id: str) -> int:
        with self._lock, translate_errors("stream_version"):
            return self._version(stream_id)

    def streams(self) -> list[str]:
        rows = self._fetch("SELECT DISTINCT stream_id FROM eslib_events ORDER BY stream_id", [])
        return [r[0] for r in rows]

    def head_position(self) -> int:
        return self._head

    def to_arrow(self, query: EventQuery) -> pa.Table:
        with self._lock, translate_errors("to_arrow"):
            return duckdb_bulk.to_arrow(self._con, query)

    # -- transactions, snapshots, checkpoints ---------------------------------

    @contextmanager
    def transaction(self) -> Iterator[_DuckDBTransaction]:
        with self._lock:
            if self._in_transaction:
                raise ConfigurationError("transactions do not nest; finish the open one first")
            with translate_errors("begin"):
                self._con.execute("BEGIN").fetchall()
            self._in_transaction = True
            try:
                yield _DuckDBTransaction(self)
            except BaseException:
                self._in_transaction = False
                self._con.execute("ROLLBACK").fetchall()
                for stream_id in self._touched:  # the cache saw writes that never happened
                    self._versions.pop(stream_id, None)
                self._touched.clear()
                self._snapshots.clear()
                self._head = self._query_head()
                raise
            self._in_transaction = False
            self._touched.clear()
            with translate_errors("commit"):
                self._con.execute("COMMIT").fetchall()

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        with self._lock, translate_errors("SQL"):
            cursor = self._con.execute(sql, list(params))
            rows = cursor.fetchall()  # DuckDB wants every result consumed
            return rows if cursor.description else []

    def save_snapshot(self, snapshot: Snapshot) -> None:
        with self._lock:
            self.execute(
                "INSERT OR REPLACE INTO eslib_snapshots VALUES (?, ?, ?, ?)",
                [snapshot.stream_id, snapshot.version, snapshot.schema, snapshot.state_json],
            )
            self._remember_snapshot(snapshot.stream_id, snapshot)

    def load_snapshot(self, stream_id: str) -> Snapshot | None:
        with self._lock:
            if stream_id in self._snapshots:  # single writer: a cached snapshot is current
                return self._snapshots[stream_id]
            rows = self._fetch(
                "SELECT stream_id, version, schema, CAST(state AS VARCHAR) "
                "FROM eslib_snapshots WHERE stream_id = ?",
                [stream_id],
            )
            snapshot = Snapshot(*rows[0]) if rows else None
            self._remember_snapshot(stream_id, snapshot)
            return snapshot

    def _remember_snapshot(self, stream_id: str, snapshot: Snapshot | None) -> None:
        if len(self._snapshots) >= SNAPSHOT_CACHE:
            self._snapshots.clear()  # bounded memory; a miss costs one query
        self._snapshots[stream_id] = snapshot

    def load_checkpoint(self, name: str) -> int:
        rows = self._fetch("SELECT position FROM eslib_checkpoints WHERE name = ?", [name])
        return int(rows[0][0]) if rows else 0

    def save_checkpoint(self, name: str, position: int) -> None:
        self.execute("INSERT OR REPLACE INTO eslib_checkpoints VALUES (?, ?)", [name, position])

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection, for analysis; hold ``lock`` while using it from threads."""
        return self._con

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def close(self) -> None:
        with _OPEN_LOCK, self._lock:
            self._users -= 1
            if self._users <= 0 and not self._closed:
                self._closed = True
                self._con.close()


class _DuckDBTransaction:
    def __init__(self, backend: DuckDBBackend) -> None:
        self._backend = backend

    def append(self, batch: Sequence[StreamAppend]) -> list[AppendResult]:
        return self._backend.append(batch)

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        return self._backend.execute(sql, params)

    def load_checkpoint(self, name: str) -> int:
        return self._backend.load_checkpoint(name)

    def save_checkpoint(self, name: str, position: int) -> None:
        self._backend.save_checkpoint(name, position)


def _recorded(stream_id: str, version: int, position: int, id: str, type: str, data: str,
              metadata: str, recorded_us: int) -> RecordedEvent:
    return recorded_event(stream_id, version, position, uuid_from_text(id), type, decode(data),
                          decode(metadata), _EPOCH + timedelta(microseconds=recorded_us))


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
