"""DuckDB's many-row paths, through Arrow: ``bulk_append`` tables and large appends in,
``to_arrow`` out.

This process is the file's only writer, so positions and versions are computed
here (numpy, column-wise) and the INSERT is a plain copy of a registered Arrow
table: no window functions, joins or per-row checks in SQL. The caller owns the
transaction and the lock; these functions only run statements.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..errors import DuplicateEventId, EslibError, InvalidEvent
from .base import EventQuery, arrow_schema
from .duckdb_sql import ARROW_ROWS, BULK_DUPLICATES, BULK_INVALID
from .sql import ARROW_SELECT, where

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

RESUME_HINT = "(bulk append: nothing written; pass skip_existing=True to resume an import)"


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, table: pa.Table, prefix: str) -> Iterator[str]:
    """``table`` visible to SQL under a fresh name while the block runs (for queries only:
    after a failed write the transaction is aborted and refuses even ``unregister``)."""
    name = f"{prefix}_{uuid.uuid4().hex}"
    con.register(name, table)
    try:
        yield name
    finally:
        con.unregister(name)


def _insert(con: duckdb.DuckDBPyConnection, table: pa.Table, columns: str) -> None:
    """INSERT the rows of an Arrow table, through a relation: nothing to clean up if the
    INSERT fails."""
    con.from_arrow(table).project(columns).insert_into("eslib_events")


def insert_rows(con: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]]) -> None:
    """INSERT full event rows: VALUES for a few, an Arrow table for many."""
    if len(rows) <= ARROW_ROWS:
        values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows))
        con.execute(
            f"INSERT INTO eslib_events VALUES {values}", [v for row in rows for v in row]
        ).fetchall()
        return
    import pyarrow as pa

    columns = list(zip(*rows, strict=True))
    table = pa.table(
        {
            "position": pa.array(columns[0], pa.int64()),
            "stream_id": pa.array(columns[1], pa.string()),
            "version": pa.array(columns[2], pa.int64()),
            "id": pa.array([str(i) for i in columns[3]], pa.string()),
            "type": pa.array(columns[4], pa.string()),
            "data": pa.array(columns[5], pa.string()),
            "metadata": pa.array(columns[6], pa.string()),
            "recorded_at": pa.array(columns[7], pa.timestamp("us", tz="UTC")),
        }
    )
    _insert(con, table, "*")


def bulk_insert(
    con: duckdb.DuckDBPyConnection,
    table: pa.Table,
    *,
    head: int,
    known: Mapping[str, int],
    skip_existing: bool,
    precheck: bool,
) -> tuple[int, dict[str, int]]:
    """Insert a :func:`eslib.bulk.bulk_schema` table after position ``head``.

    ``known`` holds cached stream versions (the others are looked up). Returns the rows
    written and each stream's version after them. With ``precheck`` a refused table is
    found before the INSERT, which would abort the caller's open transaction; without
    it the caller rolls back and asks :func:`refusal` why the INSERT failed.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    has_ids = table["id"].null_count < table.num_rows
    if skip_existing and has_ids:
        with registered(con, table.select(["id"]), "eslib_ids") as name:
            stored = con.execute(
                f"SELECT CAST(id AS VARCHAR) FROM eslib_events WHERE id IN "
                f"(SELECT CAST(id AS UUID) FROM {name} WHERE id IS NOT NULL)"
            ).fetchall()
        if stored:
            known_ids = pa.array([r[0] for r in stored], pa.string())
            table = table.filter(pc.invert(pc.fill_null(
                pc.is_in(table["id"], value_set=known_ids), False)))
    n = table.num_rows
    if n == 0:
        return 0, {}
    if precheck:
        problem = _problem(con, table, duplicates=has_ids)
        if problem is not None:
            raise problem
    encoded = table["stream_id"].combine_chunks().dictionary_encode()
    streams: list[str] = encoded.dictionary.to_pylist()
    codes = encoded.indices.to_numpy().astype(np.int64)
    base = np.array(_versions(con, streams, known), np.int64)
    counts = np.bincount(codes, minlength=len(streams))
    # rank of each row within its stream, in row order: a stable sort groups the rows
    order = np.argsort(codes, kind="stable")
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)
    rows = pa.table({
        "position": np.arange(head + 1, head + n + 1, dtype=np.int64),
        "stream_id": table["stream_id"],
        "version": base[codes] + rank + 1,
        "id": table["id"], "type": table["type"], "data": table["data"],
        "metadata": table["metadata"], "recorded_at": table["recorded_at"],
    })  # fmt: skip
    _insert(con, rows, "position, stream_id, version, coalesce(CAST(id AS UUID), uuid()), "
                       "type, data, metadata, recorded_at")
    return n, dict(zip(streams, (base + counts).tolist(), strict=True))


def refusal(con: duckdb.DuckDBPyConnection, table: pa.Table) -> EslibError | None:
    """Why DuckDB refused ``table`` (after the rollback), or None if not for its rows."""
    return _problem(con, table, duplicates=True)


def _problem(
    con: duckdb.DuckDBPyConnection, table: pa.Table, duplicates: bool
) -> EslibError | None:
    """Data or metadata that is not a JSON object, else ids stored or repeated, else None."""
    import pyarrow as pa

    numbered = table.append_column("rn", pa.array(range(table.num_rows), pa.int64()))
    with registered(con, numbered, "eslib_bulk") as name:
        bad = con.execute(BULK_INVALID.format(name=name)).fetchall()
        if bad:
            return InvalidEvent(
                f"row {bad[0][0]}: data and metadata must be JSON objects, got "
                f"{bad[0][1][:40]!r} / {bad[0][2][:40]!r}; nothing was written"
            )
        if duplicates:
            dupes = con.execute(BULK_DUPLICATES.format(name=name)).fetchall()
            if dupes:
                return DuplicateEventId([str(r[0]) for r in dupes], RESUME_HINT)
    return None


def _versions(
    con: duckdb.DuckDBPyConnection, streams: list[str], known: Mapping[str, int]
) -> list[int]:
    """Each stream's stored version: the cached ones, one query for the rest."""
    import pyarrow as pa

    missing = [s for s in streams if s not in known]
    found: dict[str, int] = {}
    if missing:
        with registered(con, pa.table({"stream_id": missing}), "eslib_streams") as name:
            found = dict(con.execute(
                "SELECT stream_id, max(version) FROM eslib_events "
                f"WHERE stream_id IN (SELECT stream_id FROM {name}) GROUP BY stream_id"
            ).fetchall())
    return [known[s] if s in known else found.get(s, 0) for s in streams]


def to_arrow(con: duckdb.DuckDBPyConnection, query: EventQuery) -> pa.Table:
    """The events ``query`` selects, in position order, as an :func:`arrow_schema` table."""
    clause, params = where(query)
    limit = f" LIMIT {query.limit}" if query.limit is not None else ""
    select = f"{ARROW_SELECT} WHERE {clause}"
    # Rows are inserted in position order and DuckDB keeps insertion order, so ORDER BY
    # (a third of the time) is usually not needed: checked, not assumed.
    table = con.sql(f"{select}{limit}", params=params).to_arrow_table()
    if not _in_order(con, table, query.limit, clause, params):
        table = con.sql(f"{select} ORDER BY position{limit}", params=params).to_arrow_table()
    return table.cast(arrow_schema())


def _in_order(con: duckdb.DuckDBPyConnection, table: pa.Table, limit: int | None,
              clause: str, params: list[object]) -> bool:
    """Whether rows read without ORDER BY are the query's answer, in position order."""
    import pyarrow.compute as pc

    positions = table["position"]
    n = len(positions)
    if n > 1 and not pc.all(pc.less(positions[:-1], positions[1:])).as_py():
        return False
    if limit is None or n < limit or n == 0:
        return True  # LIMIT cut nothing: every matching row is here
    rows = con.execute(  # LIMIT cut: no matching row may precede the last one kept
        f"SELECT count(*) FROM eslib_events WHERE {clause} AND position <= ?",
        [*params, positions[n - 1].as_py()],
    ).fetchall()
    return bool(rows[0][0] == n)
