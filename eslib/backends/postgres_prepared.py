"""eslib's two hottest PostgreSQL calls, the one-event append and a page of one stream (an
aggregate's load), as statements prepared once per pool connection and sent through libpq.

``conn.execute`` costs ~120k client instructions per call (cursor, query conversion,
adapters, prepared-statement bookkeeping, row making): for the append, more client time
than the server spends on it. Here each call sends its parameters as UTF-8 text (pool
connections use that client encoding) and reads the result with psycopg's own row loaders
(its C ``Transformer``, the connection's adapters: the same values ``conn.execute``
gives): ~40k instructions for an append, ~50 µs less per append on the development machine,
and 10% less per read of a short stream (backends/README.md). The wait is psycopg's own
(``Connection.wait``): Ctrl-C cancels the call on the server as with ``conn.execute``.
When a statement is gone from the server session (DEALLOCATE, DISCARD ALL, a pooler in
front of PostgreSQL), the call is sent unnamed once instead.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.adapt import Transformer
from psycopg.errors import error_from_result
from psycopg.generators import execute

from . import postgres_sql as sql
from .base import StreamAppend
from .sql import EVENT_COLUMNS

APPEND = b"eslib_append_one"
STREAM_PAGE = b"eslib_stream_page"
_QUERIES = {
    APPEND: sql.APPEND_ONE_PREPARED.encode(),
    STREAM_PAGE: (f"SELECT {EVENT_COLUMNS} FROM eslib_events"
                  " WHERE stream_id = $1::text AND version >= $2::bigint"
                  " ORDER BY version LIMIT $3::bigint").encode(),
}
_UNIQUE_VIOLATION = "23505"
_NO_SUCH_STATEMENT = b"26000"  # invalid_sql_statement_name
_SQLSTATE = psycopg.pq.DiagnosticField.SQLSTATE
_TUPLES_OK = 2  # psycopg.pq.ExecStatus.TUPLES_OK
_COMMAND_OK = 1  # psycopg.pq.ExecStatus.COMMAND_OK


def prepare(conn: psycopg.Connection[Any]) -> None:
    """Prepare the statements on a new pool connection (its client encoding is UTF-8)."""
    for name, query in _QUERIES.items():
        result = conn.pgconn.prepare(name, query)
        if result.status != _COMMAND_OK:
            raise error_from_result(result)


def _run(conn: psycopg.Connection[Any], name: bytes, params: list[bytes]) -> Any:
    """The ``PGresult`` of the prepared statement ``name`` (sent unnamed when the server
    session has lost it); its errors are the caller's to read."""
    pgconn = conn.pgconn
    with conn.lock:
        pgconn.send_query_prepared(name, params)
        result = conn.wait(execute(pgconn))[-1]
        if result.status != _TUPLES_OK and \
                result.error_field(_SQLSTATE) == _NO_SUCH_STATEMENT:
            pgconn.send_query_params(_QUERIES[name], params)
            result = conn.wait(execute(pgconn))[-1]
    return result


def append_one(conn: psycopg.Connection[Any], item: StreamAppend,
               expected: int) -> tuple[int, int] | None:
    """(version, position) of the appended event, or None when the append was refused
    (expected version, stored version or stored id: nothing was written)."""
    event = item.events[0]
    result = _run(conn, APPEND, [
        item.stream_id.encode(), b"%d" % expected, event.id.hex.encode(), event.type.encode(),
        event.data_json.encode(), event.metadata_json.encode(),
        event.recorded_at.isoformat().encode()])
    if result.status != _TUPLES_OK:
        error = error_from_result(result)
        if error.sqlstate == _UNIQUE_VIOLATION:
            return None
        raise error
    value = result.get_value(0, 0)
    if value is None:
        return None
    version, position = bytes(value)[1:-1].split(b",")
    return int(version), int(position)


def stream_page(conn: psycopg.Connection[Any], stream_id: str, from_version: int,
                limit: int) -> list[tuple[Any, ...]]:
    """Rows (``EVENT_COLUMNS``) of one stream from ``from_version`` on, at most ``limit``."""
    result = _run(conn, STREAM_PAGE, [stream_id.encode(), b"%d" % from_version,
                                      b"%d" % limit])
    if result.status != _TUPLES_OK:
        raise error_from_result(result)
    loader = Transformer.from_context(conn)
    loader.set_pgresult(result)
    return loader.load_rows(0, result.ntuples, tuple)
