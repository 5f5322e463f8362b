"""PostgreSQL backend: many writer processes, and a global order followers can trust.

The schema, the append function and the global-order fence are explained in
backends/README.md; the SQL lives in :mod:`eslib.backends.postgres_sql`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from itertools import starmap
from typing import TYPE_CHECKING, Any, TypeVar

from psycopg.adapt import Loader

from ..errors import (
    ConfigurationError,
    DuplicateEventId,
    EslibError,
    StoreClosedError,
    StoreError,
    WriteOutcomeUnknown,
    WrongExpectedVersion,
)
from ..events import AppendResult, RecordedEvent, recorded_event
from ..json_text import decode
from ..urls import POSTGRES_FORMS, hide_password, postgres_params
from . import postgres_arrow, postgres_bulk, postgres_prepared
from . import postgres_sql as sql
from . import sql as shared
from .base import PAGE_SIZE, EventQuery, Snapshot, StreamAppend
from .postgres_push import SAFETY_POLL, BlockingTransaction, Listener
from .postgres_write import _IDLE, PostgresTransaction, _append, _ensure_schema
from .sql import qmark_to_format

__all__ = ["BlockingTransaction", "PostgresBackend", "PostgresTransaction", "_append",
           "qmark_to_format"]

if TYPE_CHECKING:
    import psycopg
    import pyarrow as pa

T = TypeVar("T")

_OUTCOME_UNKNOWN = (
    "the connection to PostgreSQL broke while the write was being committed; "
    "the write may or may not have been stored; retrying the same append with the same "
    "event ids is safe"
)


class PostgresBackend:
    """Events in PostgreSQL tables, through a ``psycopg_pool`` connection pool."""

    capabilities: frozenset[str] = frozenset({"sql", "multi_process"})

    #: how long a follower with no explicit poll_interval waits between safety-net polls
    push_poll_interval: float = SAFETY_POLL

    def __init__(self, target: str, pool_size: int = 4, warn_blocked_after: float = 10.0,
                 **options: Any) -> None:
        try:
            import psycopg

            from .postgres_pool import LastInFirstOutPool
        except ImportError as exc:  # pragma: no cover - a dependency of eslib
            raise ConfigurationError(f"PostgreSQL needs psycopg and psycopg_pool: {exc}") from exc
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            raise ConfigurationError(f"pool_size must be an int >= 1, got {pool_size!r}")
        if options:
            raise ConfigurationError(
                f"unknown PostgreSQL option(s) {', '.join(sorted(options))}; accepted: "
                "pool_size, warn_blocked_after"
            )
        if not isinstance(warn_blocked_after, (int, float)) or warn_blocked_after < 0:
            raise ConfigurationError(
                f"warn_blocked_after must be seconds >= 0, got {warn_blocked_after!r}")
        self._safe_url = hide_password(target)
        # UTF-8 whatever the database's encoding: postgres_prepared encodes text so
        kwargs: dict[str, Any] = {"autocommit": True, "client_encoding": "UTF8"}
        params, _ = postgres_params(target)  # checked by parse_url(), but not if given directly
        if params is None:  # not the driver's message, nor chained: it quotes the bad text
            raise ConfigurationError(
                f"cannot parse the PostgreSQL URL {self._safe_url}; {POSTGRES_FORMS}")
        if "application_name" not in params:
            kwargs["application_name"] = "eslib"
        try:
            with psycopg.connect(target, **kwargs) as conn:
                _ensure_schema(conn)
        except psycopg.Error as exc:
            # without a database name libpq uses the user's, which surprises: say so
            hint = " (the URL names no database, so PostgreSQL used the one named after the " \
                "user)" if not params.get("dbname") and "database" in str(exc) else ""
            raise ConfigurationError(
                f"cannot open the PostgreSQL store at {self._safe_url}: "
                f"{hide_password(str(exc)).strip()}{hint}"
            ) from exc
        self._pool = LastInFirstOutPool(
            target,
            min_size=1,
            max_size=pool_size,
            kwargs=kwargs,
            configure=_configure,
            open=True,
            name="eslib",
        )
        self.listener = Listener(
            lambda: psycopg.connect(target, connect_timeout=5, **kwargs),
            self._probe, self.blocking_transactions, float(warn_blocked_after))
        self._arrow = postgres_arrow.ArrowReader(target, self._safe_url)  # connects on first use
        self._closed = False

    # -- connections and errors ------------------------------------------------

    def _release(self, conn: psycopg.Connection[Any]) -> None:
        """After an error: the append function releases its session lock itself, even on
        errors; this makes sure. (Done here, not as the pool's reset callback: that hands
        every returned connection to a worker thread, ~40% slower.)"""
        if not conn.broken and conn.info.transaction_status == _IDLE:
            try:
                conn.execute("SELECT pg_advisory_unlock_all()")
            except Exception:
                conn.close()

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        with self._pool.connection() as conn:
            try:
                yield conn
            except BaseException:
                self._release(conn)
                raise

    def _run(self, work: Callable[[psycopg.Connection[Any]], T], *, write: bool = False,
             batch: Sequence[StreamAppend] = (), retry: bool = True) -> T:
        """Run ``work`` on a pool connection, retrying once on a connection found broken.

        Retrying an append is safe: the same event ids make it idempotent. (Plain
        try/except, no context managers: this wraps every call, appends included.)
        """
        pool = self._pool
        for attempt in (1, 2):
            try:
                conn = pool.getconn()
                try:
                    return work(conn)
                except BaseException:
                    self._release(conn)
                    raise
                finally:
                    pool.putconn(conn)
            except Exception as exc:
                error = exc if isinstance(exc, EslibError) else self._translated(
                    exc, write=write, batch=batch)
                if not isinstance(error, (WriteOutcomeUnknown, _Broken)) or attempt == 2 \
                        or not retry:
                    if error is exc:
                        raise
                    raise error from exc
            pool.check()  # the server may have dropped every idle connection too
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def _translate(self, *, write: bool = False,
                   batch: Sequence[StreamAppend] = ()) -> Iterator[None]:
        """The one place where driver errors become eslib errors (original as __cause__)."""
        try:
            yield
        except EslibError:
            raise
        except Exception as exc:
            raise self._translated(exc, write=write, batch=batch) from exc

    def _translated(self, exc: Exception, *, write: bool,
                    batch: Sequence[StreamAppend]) -> Exception:
        """The eslib error for a driver error (``exc`` itself when it is none of them)."""
        import psycopg
        from psycopg import errors as pe
        from psycopg_pool import PoolClosed, PoolTimeout

        if isinstance(exc, PoolClosed) and self._closed:  # a read's next page, after close()
            return StoreClosedError()
        if isinstance(exc, (PoolTimeout, PoolClosed)):  # nothing was sent: outcome known
            return StoreError(f"no PostgreSQL connection available from {self._safe_url}: {exc}")
        if isinstance(exc, pe.UniqueViolation):
            constraint = getattr(exc.diag, "constraint_name", None) or ""
            if constraint == "eslib_events_id_key":
                return DuplicateEventId(
                    [str(e.id) for a in batch for e in a.events][:3],
                    "(written concurrently by another append)",
                )
            if constraint == "eslib_events_stream_id_version_key" and batch:
                first = batch[0]
                return WrongExpectedVersion(
                    first.stream_id, _shown(first.expected), self.stream_version(first.stream_id))
            return StoreError(f"PostgreSQL: {exc}")
        if isinstance(exc, psycopg.Error):
            if exc.sqlstate == sql.NOT_FIRST_WRITE:
                return ConfigurationError(
                    "an append must be the first write in a PostgreSQL transaction, and a "
                    "transaction appends once (use append_many for several streams): the "
                    "global order read_all guarantees depends on it"
                )
            if _is_broken(exc):
                if write:
                    return WriteOutcomeUnknown(_OUTCOME_UNKNOWN)
                return _Broken(f"lost the connection to PostgreSQL at {self._safe_url}: "
                               f"{hide_password(str(exc)).strip()}")
            return StoreError(f"PostgreSQL ({exc.sqlstate or 'client'}): {exc}")
        return exc

    # -- writing ---------------------------------------------------------------------

    def append(self, batch: Sequence[StreamAppend]) -> list[AppendResult]:
        return self._run(lambda conn: _append(conn, batch), write=True, batch=batch)

    def bulk_append(self, table: pa.Table, skip_existing: bool) -> int:
        # not retried: rows without an id get one from the server, so a resend could duplicate
        return self._run(lambda conn: postgres_bulk.bulk_append(conn, table, skip_existing),
                         write=True, retry=False)

    @contextmanager
    def transaction(self) -> Iterator[PostgresTransaction]:
        with self._translate(), self._connection() as conn:
            conn.execute("BEGIN")
            try:
                yield PostgresTransaction(self, conn)
            except BaseException:
                if not conn.broken:
                    try:
                        conn.execute("ROLLBACK")
                    except Exception:  # the server rolls back anyway when the session ends
                        conn.close()
                raise
            with self._translate(write=True):
                conn.execute("COMMIT")

    def save_snapshot(self, snapshot: Snapshot) -> None:
        self._run(lambda conn: conn.execute(
            "INSERT INTO eslib_snapshots (stream_id, version, schema, state)"
            " VALUES (%s, %s, %s, %s::json) ON CONFLICT (stream_id) DO UPDATE"
            " SET version = excluded.version, schema = excluded.schema, state = excluded.state",
            (snapshot.stream_id, snapshot.version, snapshot.schema, snapshot.state_json),
        ), write=True)

    # -- reading ---------------------------------------------------------------------

    def _fetch(self, query: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        return self._run(lambda conn: conn.execute(query, params).fetchall())

    def read_stream(
        self, stream_id: str, from_version: int, backwards: bool, limit: int | None
    ) -> Iterator[RecordedEvent]:
        # No fence needed: a stream's versions are written under its lock, gapless.
        backward = (f"SELECT {shared.EVENT_COLUMNS} FROM eslib_events WHERE stream_id = %s"
                    " AND version >= %s AND version <= %s ORDER BY version DESC LIMIT %s")
        cursor = 2**62 if backwards else from_version  # backwards: the newest first
        remaining = limit
        while remaining is None or remaining > 0:
            page = PAGE_SIZE if remaining is None else min(PAGE_SIZE, remaining)
            if backwards:
                rows = self._fetch(backward, (stream_id, from_version, cursor, page))
            else:  # an aggregate's load: the prepared statement
                rows = self._run(partial(postgres_prepared.stream_page, stream_id=stream_id,
                                         from_version=cursor, limit=page))
            yield from starmap(recorded_event, rows)
            if len(rows) < page:
                return
            cursor = rows[-1][1] - 1 if backwards else rows[-1][1] + 1
            if remaining is not None:
                remaining -= len(rows)

    def read_all(self, query: EventQuery) -> Iterator[RecordedEvent]:
        remaining = query.limit
        while remaining is None or remaining > 0:
            page = PAGE_SIZE if remaining is None else min(PAGE_SIZE, remaining)
            where, params = _where(query)
            rows = self._fetch(f"SELECT {shared.EVENT_COLUMNS} FROM eslib_events WHERE {where}"
                               " ORDER BY position LIMIT %s", (*params, page))
            yield from starmap(recorded_event, rows)
            if len(rows) < page:
                return
            query = replace(query, from_position=rows[-1][2] + 1)
            if remaining is not None:
                remaining -= len(rows)

    def stream_version(self, stream_id: str) -> int:
        rows = self._fetch(
            "SELECT coalesce(max(version), 0) FROM eslib_events WHERE stream_id = %s",
            (stream_id,))
        return int(rows[0][0])

    def streams(self) -> list[str]:
        # a loose index scan: one probe per stream, not one row per event
        rows = self._fetch(
            "WITH RECURSIVE s(id) AS (SELECT min(stream_id) FROM eslib_events UNION ALL"
            " SELECT (SELECT min(stream_id) FROM eslib_events WHERE stream_id > s.id)"
            " FROM s WHERE s.id IS NOT NULL) SELECT id FROM s WHERE id IS NOT NULL", ())
        return sorted(r[0] for r in rows)

    def head_position(self) -> int:
        rows = self._fetch(
            f"SELECT position FROM eslib_events WHERE {sql.FENCE} ORDER BY position DESC LIMIT 1",
            ())
        return int(rows[0][0]) if rows else 0

    def to_arrow(self, query: EventQuery) -> pa.Table:
        return postgres_arrow.to_arrow(self, self._arrow, query)

    def load_snapshot(self, stream_id: str) -> Snapshot | None:
        rows = self._fetch(
            "SELECT stream_id, version, schema, state::text FROM eslib_snapshots"
            " WHERE stream_id = %s", (stream_id,))
        return Snapshot(*rows[0]) if rows else None

    def load_checkpoint(self, name: str) -> int:
        rows = self._fetch("SELECT position FROM eslib_checkpoints WHERE name = %s", (name,))
        return int(rows[0][0]) if rows else 0

    # -- live push -------------------------------------------------------------------

    def wait_for_events(self, after_position: int, timeout: float) -> bool:
        """The Subscription push hook: block until events may have been committed.

        Woken by LISTEN/NOTIFY within milliseconds of a commit; ``timeout`` is the
        safety-net poll. ``after_position`` is not compared with the head (a filtered
        follower's checkpoint lags it): each thread's previous wait is the reference.
        """
        return self.listener.wait(timeout)

    def wake_waiters(self) -> None:
        self.listener.wake()

    def _probe(self) -> tuple[int, bool]:
        rows = self._fetch(sql.PROBE, ())
        head, hidden = rows[0] if rows else (None, None)
        return int(head or 0), bool(hidden)

    # -- operations ------------------------------------------------------------------

    def blocking_transactions(self) -> list[BlockingTransaction]:
        """The running transactions that hold ``read_all`` followers back right now.

        Empty when followers can see every committed event. A subscription that finds
        ``head_position`` stuck should call this and warn, naming the connection.
        """
        head = self.head_position()
        rows = self._fetch(sql.BLOCKERS, (head,))
        return [BlockingTransaction(pid, db, user, app, state, start, int(n))
                for pid, db, user, app, state, start, n in rows]

    def close(self) -> None:
        if not getattr(self, "_closed", True):
            self._closed = True
            self.listener.close()
            self._arrow.close()
            self._pool.close()


class _Broken(StoreError):
    """A connection found broken while reading (retried once on a fresh one)."""


class _JsonLoader(Loader):
    """data and metadata: json.loads without its overhead, one Python call per value
    (psycopg's JsonLoader adds a method call and a copy of the buffer)."""

    load = staticmethod(decode)  # type: ignore[assignment]  # also takes str


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SET TIME ZONE 'UTC'")  # recorded_at comes back as UTC datetimes
    conn.adapters.register_loader("json", _JsonLoader)
    postgres_prepared.prepare(conn)


def _is_broken(exc: psycopg.Error) -> bool:
    import psycopg

    conn_lost = exc.sqlstate is None or exc.sqlstate.startswith("08") or exc.sqlstate in (
        "57P01", "57P02", "57P03")  # admin/crash shutdown, cannot connect now
    return isinstance(exc, psycopg.OperationalError) and conn_lost


def _shown(expected: object) -> int | str:
    return expected if isinstance(expected, int) else str(expected)


def _where(query: EventQuery) -> tuple[str, list[object]]:
    """The WHERE clause of a global-order read (shared with DuckDB), the fence added."""
    clause, params = shared.where(query)
    return f"{qmark_to_format(clause)} AND {sql.FENCE}", params
