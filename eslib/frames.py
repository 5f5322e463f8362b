"""How :mod:`eslib.analysis` builds event frames on each backend (its public API lives
there; its ``sql()``: :mod:`eslib.queries`).

DuckDB expands events in the store's connection (under the backend's lock); PostgreSQL
reads expanded events into Arrow through the backend's ADBC reader
(:mod:`eslib.backends.postgres_arrow`); any other backend (memory, gRPC) hands its Arrow
table of events to a private in-process DuckDB, so that it runs the very same SQL as a
DuckDB store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .backends.base import EventQuery
from .backends.sql import where

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

    from .store import EventStore

Announce = Callable[[int, int], None]

EVENT_COLUMNS = ("position", "stream_id", "version", "type", "recorded_at")
_DUCK_NUMBERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                 "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE"}
_DUCK_CLASSES = {"VARCHAR": "string", "BOOLEAN": "boolean", "NULL": "null"}  # else "mixed"
_DUCK_SQL = {"int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN"}
_PG_SQL = {"int": "bigint", "float": "double precision", "bool": "boolean"}
Path = tuple[str, ...]  # keys from a document's top to a value

# -- which engine -------------------------------------------------------------------


def engine(store: EventStore) -> str:
    from .backends.duckdb import DuckDBBackend
    from .backends.postgres import PostgresBackend

    if isinstance(store.backend, DuckDBBackend):
        return "duckdb"
    if isinstance(store.backend, PostgresBackend):
        return "postgres"
    return "arrow"


def scratch(table: pa.Table) -> duckdb.DuckDBPyConnection:
    """A private DuckDB whose ``eslib_events`` view shows ``table`` like the real table."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'").fetchall()
    con.execute("SET python_enable_replacements = false").fetchall()  # as in the backend
    con.register("eslib_arrow_events", table)
    con.execute(
        "CREATE VIEW eslib_events AS SELECT position, stream_id, version, CAST(id AS UUID) AS id,"
        " type, CAST(data AS JSON) AS data, CAST(metadata AS JSON) AS metadata, recorded_at"
        " FROM eslib_arrow_events").fetchall()
    return con


# -- events, expanded ---------------------------------------------------------------------


def events(store: EventStore, query: EventQuery, *, expand: bool, metadata: bool,
           announce: Announce) -> pd.DataFrame:
    from .backends.duckdb_errors import translate_errors

    kind = engine(store)
    if kind == "postgres":
        table = _pg_events(store, query, expand, metadata, announce)
    elif kind == "duckdb":
        backend: Any = store.backend
        with backend.lock, translate_errors("events_frame"):
            table = _duck_events(backend.connection, query, expand, metadata, announce)
    else:
        con = scratch(store.to_arrow(query.stream_id, from_position=query.from_position,
                                      to_position=query.to_position, types=query.types,
                                      category=query.category, limit=query.limit))
        try:
            with translate_errors("events_frame"):
                table = _duck_events(con, EventQuery(), expand, metadata, announce)
        finally:
            con.close()
    return to_pandas(table).set_index("position")


# Both engines reduce the values found at a path to classes — JSON types, numbers split
# into int (fits int64), bigint (a whole number that does not) and float — and
# _leaf_kind turns them into a column type, so that every backend types a column alike.
def _leaf_kind(classes: set[str]) -> str:
    seen = classes - {"null"}
    if seen and seen <= {"int"}:
        return "int"
    if seen and seen <= {"int", "float"}:
        return "float"  # a bigint makes the column text: as a float it would lose digits
    return "bool" if seen == {"boolean"} else "text"


def _duck_events(con: duckdb.DuckDBPyConnection, query: EventQuery, expand: bool,
                 metadata: bool, announce: Announce) -> pa.Table:
    clause, params = where(query)
    limit = "" if query.limit is None else f" LIMIT {int(query.limit)}"
    base = f"(SELECT * FROM eslib_events WHERE {clause} ORDER BY position{limit}) AS e"
    count, data_shape, meta_shape = con.execute(
        f"SELECT count(*), json_group_structure(data), json_group_structure(metadata)"
        f" FROM {base}", params).fetchall()[0]
    columns, names = list(EVENT_COLUMNS), list(EVENT_COLUMNS)
    found: list[tuple[str, str, Path, set[str]]] = []  # column, pointer, path, classes
    for name, shape, wanted in (("data", data_shape, True), ("metadata", meta_shape, metadata)):
        if not wanted:
            continue
        if not expand:
            columns.append(f"CAST({name} AS VARCHAR)")
            names.append(name)
            continue
        for path, classes in _duck_paths(json.loads(shape) if shape else {}):
            pointer = "/" + "/".join(k.replace("~", "~0").replace("/", "~1") for k in path)
            found.append((name, _literal(pointer), path, classes))
    # json_group_structure merges numbers into UBIGINT, HUGEINT or DOUBLE, which cannot
    # tell 1 and -1 (int) from 1.5 or 2**64: one more pass classifies each number.
    numbers = [i for i, leaf in enumerate(found) if leaf[3] == {"number"}]
    if numbers:
        row = con.execute("SELECT " + ", ".join(
            f"list(DISTINCT {_duck_number(*found[i][:2])})" for i in numbers)
            + f" FROM {base}", params).fetchall()[0]
        for i, classes in zip(numbers, row, strict=True):
            found[i] = (*found[i][:3], {c for c in classes if c})
    for name, pointer, path, classes in found:
        value = f"json_extract_string({name}, {pointer})"
        kind = _leaf_kind(classes)
        columns.append(f"CAST({value} AS {_DUCK_SQL[kind]})" if kind in _DUCK_SQL else value)
        names.append(_name(name, path))
    announce(count, len(columns))
    # positional aliases: a column name may be one DuckDB refuses ("") or a duplicate
    select = ", ".join(f"{c} AS c{i}" for i, c in enumerate(columns))
    table = con.sql(f"SELECT {select} FROM {base} ORDER BY position",
                    params=params).to_arrow_table()
    return table.rename_columns(names)


def _duck_paths(shape: Any, prefix: Path = ()) -> Iterator[tuple[Path, set[str]]]:
    """Leaf paths of a ``json_group_structure`` result, in first-seen order, with classes.

    An object at a path becomes columns only if it has keys and nothing else (but null)
    is found there; otherwise the path is one column ("JSON": mixed, or only ``{}``).
    """
    if not isinstance(shape, dict):
        return  # "JSON" (every document is {}) or "NULL": no keys, no columns
    for key, sub in shape.items():
        path = (*prefix, key)
        if isinstance(sub, dict):
            yield from _duck_paths(sub, path)
        elif isinstance(sub, list):
            yield path, {"array"}
        elif sub in _DUCK_NUMBERS:
            yield path, {"number"}
        else:
            yield path, {_DUCK_CLASSES.get(sub, "mixed")}


def _duck_number(column: str, pointer: str) -> str:
    text = f"json_extract_string({column}, {pointer})"
    return (f"CASE json_type({column}, {pointer}) WHEN 'BIGINT' THEN 'int'"
            f" WHEN 'UBIGINT' THEN IF(CAST({text} AS UBIGINT) <= {2**63 - 1}, 'int', 'bigint')"
            # a whole number past uint64 arrives as a DOUBLE but keeps its digits as text
            f" WHEN 'DOUBLE' THEN IF(regexp_full_match({text}, '-?[0-9]+'), 'bigint', 'float')"
            f" END")  # json null: NULL, dropped


def _name(column: str, path: Path) -> str:
    name = ".".join(path)
    if column == "metadata" or name in EVENT_COLUMNS:
        return f"{column}.{name}"
    return name


def _pg_events(store: EventStore, query: EventQuery, expand: bool, metadata: bool,
               announce: Announce) -> pa.Table:
    from .backends.postgres_arrow import Fetch, inline

    # Every committed event, without read_all's follower fence (analysis keeps no
    # checkpoint), all statements in one snapshot so the columns match the rows. Read
    # through the backend's ADBC reader, like to_arrow: typed columns, no text to parse.
    backend: Any = store.backend
    clause, params = where(query)
    limit = "" if query.limit is None else f" LIMIT {int(query.limit)}"
    base = f"(SELECT * FROM eslib_events WHERE {clause} ORDER BY position{limit}) AS e"
    wanted = ["data", "metadata"] if metadata else ["data"]

    def fetch(read: Fetch) -> tuple[pa.Table, list[str]]:
        count = read(inline(backend, f"SELECT count(*) FROM {base}", params))[0][0].as_py()
        columns, names = list(EVENT_COLUMNS), list(EVENT_COLUMNS)
        select_params: list[object] = []
        for name in wanted:
            if not expand:
                columns.append(f"{name}::text")
                names.append(name)
                continue
            paths = read(inline(backend, _PG_PATHS.format(column=name, base=base), params))
            for path, kind in _pg_leaves(*(c.to_pylist() for c in paths.columns)):
                value = f"({name} #>> ?::text[])"
                select_params.append(list(path))
                columns.append(f"{value}::{_PG_SQL[kind]}" if kind in _PG_SQL else value)
                names.append(_name(name, path))
        announce(int(count), len(columns))
        select = f"SELECT {', '.join(columns)} FROM {base} ORDER BY position"
        return read(inline(backend, select, select_params + params)), names

    table, names = backend._arrow.run(fetch, snapshot=True)
    return table.rename_columns(names)


# Every path of a json column (objects too) with the classes of its values and where it
# is first seen: (position, key index at each level; json, unlike jsonb, keeps key order).
_PG_PATHS = """
WITH RECURSIVE walk(pos, path, ord, value) AS (
    SELECT e.position, ARRAY[j.key], ARRAY[j.ord], j.value
    FROM {base}, json_each(e.{column}) WITH ORDINALITY AS j(key, value, ord)
  UNION ALL
    SELECT w.pos, w.path || j.key, w.ord || j.ord, j.value
    FROM walk w, json_each(CASE WHEN json_typeof(w.value) = 'object' THEN w.value
                                ELSE '{{}}'::json END) WITH ORDINALITY AS j(key, value, ord)
)
SELECT path, array_agg(DISTINCT CASE
    WHEN json_typeof(value) <> 'number' THEN json_typeof(value)
    WHEN value::text !~ '^-?[0-9]+$' THEN 'float'
    WHEN value::text::numeric BETWEEN -9223372036854775808 AND 9223372036854775807 THEN 'int'
    ELSE 'bigint' END), min(ARRAY[pos] || ord)
FROM walk GROUP BY path
"""


def _pg_leaves(paths: list[list[str]], classes: list[list[str]],
               first: list[list[int]]) -> list[tuple[Path, str]]:
    """The columns DuckDB's ``json_group_structure`` gives for the same documents, in its
    order: depth first, siblings in first-seen order (see ``_duck_paths``)."""
    seen = {tuple(p): (set(c), tuple(f)) for p, c, f in zip(paths, classes, first, strict=True)}
    parents = {p[:-1] for p in seen if len(p) > 1}

    def nested(path: Path) -> bool:
        return seen[path][0] - {"null"} == {"object"} and path in parents

    def order(path: Path) -> tuple[tuple[int, ...], ...]:
        return tuple(seen[path[:i]][1] for i in range(1, len(path) + 1))

    return [(path, _leaf_kind(seen[path][0])) for path in sorted(seen, key=order)
            if not nested(path) and all(nested(path[:i]) for i in range(1, len(path)))]


# -- Arrow to pandas -----------------------------------------------------------------------


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow to pandas with analysis dtypes: decimals as int64 (whole) or float64,
    intervals as timedeltas, integer and boolean columns with nulls as Int64/boolean."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    nullable: dict[int, Any] = {}  # column index: values, converted after the others
    for i, field in enumerate(table.schema):
        column = table.column(i)
        if pa.types.is_decimal(field.type):
            target = pa.int64() if field.type.scale == 0 else pa.float64()
            try:
                column = pc.cast(column, target)
            except pa.ArrowInvalid:  # too big for int64
                column = pc.cast(column, pa.float64())
        elif pa.types.is_interval(field.type):
            column = _interval_to_duration(column)
        # with nulls, straight from Arrow to Int64/boolean: through float64 an integer
        # would lose digits (a uint64 past int64 stays float64)
        if pa.types.is_integer(column.type) and column.null_count \
                and (pc.max(column).as_py() or 0) < 2**63:
            nullable[i] = pc.cast(column, pa.int64())
        elif pa.types.is_boolean(column.type) and column.null_count:
            nullable[i] = column
        table = table.set_column(i, field.name, column)
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    mapper = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}.get
    for i, column in nullable.items():
        frame.isetitem(i, column.to_pandas(types_mapper=mapper).array)
    return frame


def _interval_to_duration(column: Any) -> Any:
    import pyarrow as pa

    # microseconds, as PostgreSQL's intervals arrive; a month counts 30 days, as in SQL
    day_us = 86_400 * 10**6
    values = [None if v is None else (v.months * 30 + v.days) * day_us + v.nanoseconds // 1000
              for v in column.to_pylist()]  # intervals are query results: few rows
    return pa.array(values, pa.int64()).cast(pa.duration("us"))


def empty(columns: list[str], index: str) -> pd.DataFrame:
    """An empty frame with these columns, ``index`` as its (int64) index."""
    import pandas as pd

    frame = pd.DataFrame({c: pd.Series(dtype=_EMPTY_DTYPES.get(c, object)) for c in columns})
    return frame.set_index(index)


_EMPTY_DTYPES = {"position": "int64", "version": "int64", "recorded_at": "datetime64[us, UTC]",
                 "stream_id": "str", "type": "str"}


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
