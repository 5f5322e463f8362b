"""PostgreSQL writes: the append call, transactions, and creating the schema.

The append function and why it takes its locks: backends/README.md and
:mod:`eslib.backends.postgres_sql`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import starmap
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from ..events import (
    ANY,
    STREAM_EXISTS,
    AppendResult,
    ExpectedVersion,
    RecordedEvent,
    append_result,
    recorded_event,
)
from . import postgres_bulk
from . import postgres_sql as sql
from . import sql as shared
from .base import (
    SCHEMA_VERSION,
    EventQuery,
    StoredId,
    StreamAppend,
    check_expected,
    replayed_result,
)
from .postgres_prepared import append_one

if TYPE_CHECKING:
    import psycopg

    from .postgres import PostgresBackend

_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE


class PostgresTransaction:
    """A pool connection inside BEGIN … COMMIT; see :class:`~eslib.backends.base.Transaction`."""

    def __init__(self, backend: PostgresBackend, conn: psycopg.Connection[Any]) -> None:
        self._backend = backend
        self._conn = conn

    def append(self, batch: Sequence[StreamAppend]) -> list[AppendResult]:
        with self._backend._translate(batch=batch):
            return _append(self._conn, batch)

    def execute(self, sql_text: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        with self._backend._translate():
            cur = self._conn.execute(shared.qmark_to_format(sql_text), tuple(params))
            return cur.fetchall() if cur.description else []

    def read_events(self, query: EventQuery) -> list[RecordedEvent]:
        """Events as this transaction sees them: every committed one and its own (no
        fence), on its own connection (another from the pool could wait for this one)."""
        clause, params = shared.where(query)
        with self._backend._translate():
            rows = self._conn.execute(
                f"SELECT {shared.EVENT_COLUMNS} FROM eslib_events"
                f" WHERE {shared.qmark_to_format(clause)} ORDER BY position", params).fetchall()
        return list(starmap(recorded_event, rows))

    def lock_checkpoint(self, name: str) -> int:
        """The checkpoint, its row locked until this transaction ends: the transactions that
        move one checkpoint (a projection's pages, its inline saves) take turns."""
        with self._backend._translate():
            self._conn.execute("INSERT INTO eslib_checkpoints (name, position) VALUES (%s, 0)"
                               " ON CONFLICT (name) DO NOTHING", (name,))
            row = self._conn.execute("SELECT position FROM eslib_checkpoints WHERE name = %s"
                                     " FOR UPDATE", (name,)).fetchone()
        return int(row[0]) if row else 0

    def load_checkpoint(self, name: str) -> int:
        with self._backend._translate():
            row = self._conn.execute(
                "SELECT position FROM eslib_checkpoints WHERE name = %s", (name,)).fetchone()
        return int(row[0]) if row else 0

    def save_checkpoint(self, name: str, position: int) -> None:
        with self._backend._translate():
            self._conn.execute(
                "INSERT INTO eslib_checkpoints (name, position) VALUES (%s, %s)"
                " ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                (name, position))


def _append(conn: psycopg.Connection[Any], batch: Sequence[StreamAppend]) -> list[AppendResult]:
    """One call of eslib_append_one or eslib_append; another only to word a refusal or to
    skip streams that are idempotent replays."""
    if len(batch) == 1 and len(batch[0].events) == 1 and \
            conn.pgconn.transaction_status == _IDLE:  # a failed INSERT must not end a transaction
        item = batch[0]
        written = append_one(conn, item, _encode_expected(item.expected))
        if written is not None:
            return [append_result(item.stream_id, written[0], (written[1],))]
        # refused: nothing was written; the general call words it
    results: dict[str, AppendResult] = {}
    pending = list(batch)
    while pending:
        stream_of, offset, events = [], [], []
        for i, item in enumerate(pending, start=1):
            for k, e in enumerate(item.events, start=1):
                stream_of.append(i)
                offset.append(k)
                events.append(e)
        row = conn.execute(sql.APPEND, (
            _array(a.stream_id for a in pending),
            _array(str(_encode_expected(a.expected)) for a in pending),
            _array(str(e.id) for e in events),
            _array(e.type for e in events),
            _array(e.data_json for e in events),
            _array(e.metadata_json for e in events),
            _array(e.recorded_at.isoformat() for e in events),
            _array(map(str, stream_of)),
            _array(map(str, offset)),
        )).fetchone()
        assert row is not None
        written, versions, position, s_ids, s_streams, s_versions, s_positions = row
        if written:
            for item, version in zip(pending, versions, strict=True):
                n = len(item.events)
                results[item.stream_id] = AppendResult(
                    item.stream_id, version + n, tuple(range(position, position + n)))
                position += n
            break
        stored = [StoredId(*s) for s in zip(s_ids or (), s_streams or (), s_versions or (),
                                           s_positions or (), strict=True)]
        remaining = []
        for item, actual in zip(pending, versions, strict=True):
            mine = {e.id for e in item.events}
            replayed = replayed_result(item, [s for s in stored if s.id in mine])
            if replayed is None:
                check_expected(item.stream_id, item.expected, actual)
                remaining.append(item)
            else:
                results[item.stream_id] = replayed
        pending = remaining
    return [results[a.stream_id] for a in batch]


def _ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Create the schema when missing, once, even with several processes connecting at once."""
    def version() -> int | None:
        # pg_tables, not to_regclass: the catalog cache may not see a table another
        # process created while we waited for the lock (advisory locks don't refresh it)
        row = conn.execute("SELECT EXISTS (SELECT FROM pg_tables WHERE tablename = 'eslib_schema'"
                           " AND schemaname = current_schema())").fetchone()
        if not (row and row[0]):
            return None
        found = conn.execute("SELECT max(version) FROM eslib_schema").fetchone()
        return int(found[0]) if found and found[0] is not None else None

    current = version()
    if current is None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", sql.SCHEMA_LOCK)
            current = version()  # another process may have created it while we waited
            if current is None:
                conn.execute(sql.SCHEMA)
                _create_functions(conn)
                conn.execute("INSERT INTO eslib_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
                current = SCHEMA_VERSION
    if current > SCHEMA_VERSION:
        raise ConfigurationError(
            f"the database holds eslib schema version {current}, newer than this eslib "
            f"understands ({SCHEMA_VERSION}); upgrade eslib"
        )
    if _stale_functions(conn):  # e.g. made by an eslib without push: replace them
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", sql.SCHEMA_LOCK)
            _create_functions(conn)


def _functions() -> dict[str, str]:
    return {"eslib_append": sql.APPEND_FUNCTION, "eslib_append_one": sql.APPEND_ONE_FUNCTION,
            "eslib_bulk_append": postgres_bulk.FUNCTION, "eslib_fence": sql.FENCE_FUNCTION}


def _create_functions(conn: psycopg.Connection[Any]) -> None:
    conn.execute(f"DROP FUNCTION IF EXISTS {sql.OLD_APPEND_ONE}")  # its return type changed
    for text in _functions().values():
        conn.execute(text)


def _stale_functions(conn: psycopg.Connection[Any]) -> bool:
    """Whether a function's stored body differs from this eslib's (CREATE OR REPLACE then)."""
    wanted = {name: text.split("$fn$")[1] for name, text in _functions().items()}
    rows = conn.execute(
        "SELECT proname::text, prosrc FROM pg_proc WHERE proname = ANY (%s)"
        " AND pronamespace = current_schema()::regnamespace", (list(wanted),)).fetchall()
    return dict(rows) != wanted


def _array(items: Iterable[str]) -> str:
    """A PostgreSQL array literal: psycopg's list adaptation costs more than the append."""
    return "{" + ",".join(
        '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items) + "}"


def _encode_expected(expected: ExpectedVersion) -> int:
    if expected is ANY:
        return -1
    if expected is STREAM_EXISTS:
        return -2
    assert isinstance(expected, int)
    return expected
