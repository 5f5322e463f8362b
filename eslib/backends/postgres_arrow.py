"""PostgreSQL rows straight into Arrow, through ADBC (``adbc-driver-postgresql``).

The driver reads a query's result as binary ``COPY`` and decodes it in C into an Arrow
table: no Python object per value, no text to parse. ``data`` and ``metadata`` stay JSON
text (the documented fast form of ``to_dataframe``).

Values reach the SQL as literals quoted by psycopg (:meth:`psycopg.ClientCursor.mogrify`):
with bound parameters the driver cannot use ``COPY`` and reads ~30% slower. The reader
keeps one connection (autocommit, so it never holds a transaction open), serialised by a
lock and reopened once when found broken. On it the planner avoids sequential and bitmap
scans: the events are read in ``position`` order, which the primary key's index gives
without sorting (a fresh, unanalysed table otherwise gets a full scan and a sort).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ConfigurationError, StoreError
from ..urls import hide_password
from . import postgres_sql as sql
from . import sql as shared
from .base import EventQuery, arrow_schema

if TYPE_CHECKING:
    import pyarrow as pa

T = TypeVar("T")
Fetch = Callable[[str], "pa.Table"]  # a query (literals inlined) -> its result

SESSION = (
    "SET TIME ZONE 'UTC'",
    "SET enable_seqscan = off",
    "SET enable_bitmapscan = off",
)


class ArrowReader:
    """One ADBC connection to the store's database, opened on first use."""

    def __init__(self, target: str, safe_url: str) -> None:
        self._target = target
        self._safe_url = safe_url
        self._lock = threading.Lock()
        self._conn: Any = None

    def read(self, query: str) -> pa.Table:
        """The result of ``query`` (literals already inlined) as an Arrow table."""
        return self.run(lambda fetch: fetch(query))

    def run(self, work: Callable[[Fetch], T], *, snapshot: bool = False) -> T:
        """``work(fetch)``, where ``fetch(query)`` gives a query's result as an Arrow table;
        with ``snapshot``, all its queries in one read-only REPEATABLE READ transaction.
        Retried once on a fresh connection when the kept one is found broken."""
        from adbc_driver_manager import Error

        with self._lock:
            for attempt in (1, 2):
                fresh, connected = self._conn is None, False
                try:
                    conn = self._connection()
                    connected = True
                    return self._work(conn, work, snapshot)
                except Error as exc:
                    broken = _is_broken(exc)
                    if broken:
                        self._discard()
                    if not broken or fresh or attempt == 2:
                        raise self._translated(exc, connected) from exc
            raise AssertionError("unreachable")  # pragma: no cover

    def _work(self, conn: Any, work: Callable[[Fetch], T], snapshot: bool) -> T:
        usable = True
        try:
            with conn.cursor() as cur:

                def fetch(query: str) -> pa.Table:
                    cur.execute(query)
                    return cur.fetch_arrow_table()

                if not snapshot:
                    return work(fetch)
                cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                try:
                    result = work(fetch)
                except BaseException:
                    try:
                        cur.execute("ROLLBACK")
                    except Exception:
                        usable = False
                    raise
                cur.execute("COMMIT")
                return result
        finally:
            if not usable:  # still in a transaction: the next call reconnects
                self._discard()

    def _connection(self) -> Any:
        if self._conn is None:
            try:
                import adbc_driver_postgresql.dbapi as adbc
                from psycopg.conninfo import conninfo_to_dict
            except ImportError as exc:  # pragma: no cover - a dependency of eslib
                raise ConfigurationError(
                    f"reading PostgreSQL into Arrow needs adbc-driver-postgresql: {exc}"
                ) from exc
            conn = adbc.connect(self._target, autocommit=True)
            try:
                with conn.cursor() as cur:
                    for statement in SESSION:
                        cur.execute(statement)
                    if "application_name" not in conninfo_to_dict(self._target):
                        cur.execute("SET application_name = 'eslib'")
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # already broken: nothing to release
                conn.close()

    def _translated(self, exc: Exception, connected: bool) -> StoreError:
        """The eslib error for an ADBC error, its text without the password."""
        text = hide_password(str(exc).replace(self._target, self._safe_url)).strip()
        if not connected:
            return StoreError(f"cannot connect to PostgreSQL at {self._safe_url}: {text}")
        if _is_broken(exc):
            return StoreError(f"lost the connection to PostgreSQL at {self._safe_url}: {text}")
        state = getattr(exc, "sqlstate", None) or "client"
        return StoreError(f"PostgreSQL ({state}) at {self._safe_url}: {text}")

    def close(self) -> None:
        with self._lock:
            self._discard()


def to_arrow(backend: Any, reader: ArrowReader, query: EventQuery) -> pa.Table:
    """``query``'s events in :func:`~eslib.backends.base.arrow_schema`, in global order,
    bounded by the ``read_all`` fence: the events ``read_all`` returns, in one snapshot."""
    import pyarrow as pa

    clause, params = shared.where(query)
    text = f"{shared.ARROW_SELECT} WHERE {clause} AND {sql.FENCE} ORDER BY position"
    if query.limit is not None:
        text += " LIMIT ?"
        params.append(query.limit)
    table = reader.read(inline(backend, text, params))
    schema = arrow_schema()
    # the same types; drops the driver's field metadata (PostgreSQL type names)
    return pa.Table.from_arrays(table.columns, schema=schema)


def inline(backend: Any, text: str, params: Sequence[object]) -> str:
    """``text`` with each ``?`` replaced by its value as a literal quoted by psycopg."""
    import psycopg

    return str(backend._run(
        lambda conn: psycopg.ClientCursor(conn).mogrify(shared.qmark_to_format(text), params)))


def _is_broken(exc: Exception) -> bool:
    from adbc_driver_manager import OperationalError

    state = getattr(exc, "sqlstate", None)
    return isinstance(exc, OperationalError) and (
        state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03"))
