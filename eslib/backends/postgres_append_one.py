"""The one-event append, eslib's hottest PostgreSQL call, sent through libpq.

``conn.execute`` costs ~120k client instructions per call (cursor, query conversion,
adapters, prepared-statement bookkeeping, row making): more client time than the server
spends on the append. Here the statement is prepared once per connection (when the pool
configures it) and each call sends its seven parameters as text and reads back one
``bigint[]``: ~40k instructions, ~50 µs less per append on the development machine
(backends/README.md). The wait is psycopg's own (``Connection.wait``): Ctrl-C cancels
the call on the server as with ``conn.execute``. Everything else goes through psycopg's
public API.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.errors import error_from_result
from psycopg.generators import execute

from . import postgres_sql as sql
from .base import StreamAppend

NAME = b"eslib_append_one"
_QUERY = sql.APPEND_ONE_PREPARED.encode()
_UNIQUE_VIOLATION = "23505"
_NO_SUCH_STATEMENT = b"26000"  # invalid_sql_statement_name
_SQLSTATE = psycopg.pq.DiagnosticField.SQLSTATE
_TUPLES_OK = 2  # psycopg.pq.ExecStatus.TUPLES_OK
_COMMAND_OK = 1  # psycopg.pq.ExecStatus.COMMAND_OK


def prepare(conn: psycopg.Connection[Any]) -> None:
    """Prepare the statement on a new pool connection (its client encoding is UTF-8)."""
    result = conn.pgconn.prepare(NAME, _QUERY)
    if result.status != _COMMAND_OK:
        raise error_from_result(result)


def append_one(conn: psycopg.Connection[Any], item: StreamAppend,
               expected: int) -> tuple[int, int] | None:
    """(version, position) of the appended event, or None when the append was refused
    (expected version, stored version or stored id: nothing was written)."""
    event = item.events[0]
    pgconn = conn.pgconn
    params = [item.stream_id.encode(), b"%d" % expected, event.id.hex.encode(),
              event.type.encode(), event.data_json.encode(), event.metadata_json.encode(),
              event.recorded_at.isoformat().encode()]
    with conn.lock:
        pgconn.send_query_prepared(NAME, params)
        result = conn.wait(execute(pgconn))[-1]
        if result.status != _TUPLES_OK and \
                result.error_field(_SQLSTATE) == _NO_SUCH_STATEMENT:  # DISCARD ALL, a pooler
            pgconn.send_query_params(_QUERY, params)
            result = conn.wait(execute(pgconn))[-1]
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
