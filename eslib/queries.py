"""``eslib.analysis.sql`` on each backend: SQL over the events, a DataFrame back.

DuckDB runs it in the store's connection (under the backend's lock), read-only by
statement type; PostgreSQL on a pool connection in a READ ONLY transaction; any other
backend (memory, gRPC) in a private DuckDB over its events (:func:`eslib.frames.scratch`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .backends.sql import qmark_to_format
from .errors import QueryError, StoreError
from .frames import Announce, engine, scratch, to_pandas

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

    from .store import EventStore

_READ_ONLY = ("SELECT", "EXPLAIN")  # what sql() accepts on DuckDB: it must not change the store


def run_sql(store: EventStore, query: str, params: list[object],
            announce: Announce) -> pd.DataFrame:
    kind = engine(store)
    if kind == "postgres":
        return _pg_sql(store, query, params, announce)
    if kind == "duckdb":
        backend: Any = store.backend
        with backend.lock:
            table = _duck_sql(backend.connection, query, params)
    else:
        con = scratch(store.to_arrow())
        try:
            table = _duck_sql(con, query, params)
        finally:
            con.close()
    announce(table.num_rows, table.num_columns)
    return to_pandas(table)


def _duck_sql(con: duckdb.DuckDBPyConnection, query: str, params: list[object]) -> pa.Table:
    import duckdb

    try:
        statements = con.extract_statements(query)
        if len(statements) != 1:
            raise QueryError(f"give one query at a time, got {len(statements)} statements")
        kind = statements[0].type.name
        if kind not in _READ_ONLY:
            raise QueryError(
                f"sql() only reads (SELECT …), got a {kind} statement; change read models "
                "in a projection or with store.transaction()")
        return con.sql(query, params=params or None).to_arrow_table()
    except duckdb.IOException as exc:
        raise StoreError(f"DuckDB I/O error: {exc}") from exc
    except duckdb.Error as exc:
        raise QueryError(f"the query failed: {exc}") from exc


def _pg_sql(store: EventStore, query: str, params: list[object],
            announce: Announce) -> pd.DataFrame:
    import pandas as pd
    import psycopg
    import pyarrow as pa
    from psycopg.types.string import TextLoader

    backend: Any = store.backend

    def fetch(conn: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
        with conn.transaction(), conn.cursor() as cur:
            for type_name in ("json", "jsonb", "uuid"):  # as text, as DuckDB returns them
                cur.adapters.register_loader(type_name, TextLoader)
            cur.execute("SET TRANSACTION READ ONLY")
            try:
                cur.execute(qmark_to_format(query), params)
            except psycopg.Error as exc:
                if isinstance(exc, psycopg.OperationalError) or \
                        (exc.sqlstate or "").startswith("08"):  # the connection, not the query
                    raise
                raise QueryError(f"the query failed: {str(exc).strip()}") from exc
            except UnicodeEncodeError as exc:  # a parameter PostgreSQL cannot take as text
                raise QueryError(f"a parameter is not valid Unicode text: {exc}") from exc
            if cur.description is None:
                return [], []
            return [d.name for d in cur.description], cur.fetchall()

    names, rows = backend._run(fetch)
    announce(len(rows), len(names))
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrays: dict[str, Any] = {}
    for name, values in zip(names, columns, strict=True):
        try:
            arrays[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            arrays[name] = list(values)  # mixed Python values stay objects
    arrow = {n: a for n, a in arrays.items() if isinstance(a, pa.Array)}
    frame = to_pandas(pa.table(arrow)) if arrow else pd.DataFrame(index=range(len(rows)))
    for name, values in arrays.items():
        if not isinstance(values, pa.Array):
            frame[name] = pd.Series(values, dtype=object)
    return frame[names] if names else frame
