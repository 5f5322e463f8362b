"""SQL shared by the DuckDB and PostgreSQL backends.

Written once with ``?`` placeholders (DuckDB's own); the PostgreSQL backend
converts them with :func:`qmark_to_format`. What differs between the engines
(types, locking, the order fence) stays in each backend module.
"""

from __future__ import annotations

from .base import EventQuery

EVENT_COLUMNS = "stream_id, version, position, id, type, data, metadata, recorded_at"

ARROW_SELECT = (
    "SELECT position, stream_id, version, type, recorded_at,"
    " CAST(data AS VARCHAR) AS data, CAST(metadata AS VARCHAR) AS metadata,"
    " CAST(id AS VARCHAR) AS id FROM eslib_events"
)


def where(query: EventQuery) -> tuple[str, list[object]]:
    """The WHERE clause (without the keyword) and parameters selecting ``query``'s events."""
    clauses = ["position >= ?"]
    params: list[object] = [query.from_position]
    if query.to_position is not None:
        clauses.append("position <= ?")
        params.append(query.to_position)
    if query.stream_id is not None:
        clauses.append("stream_id = ?")
        params.append(query.stream_id)
    if query.category is not None:
        clauses.append("split_part(stream_id, '-', 1) = ?")
        params.append(query.category)
    if query.types is not None:
        if not query.types:
            clauses.append("FALSE")
        else:
            clauses.append(f"type IN ({', '.join('?' * len(query.types))})")
            params.extend(query.types)
    return " AND ".join(clauses), params


def qmark_to_format(sql: str) -> str:
    """Turn ``?`` placeholders into psycopg's ``%s``, escaping literal ``%``.

    ``?`` inside single-quoted strings, double-quoted identifiers, ``--`` and
    ``/* */`` comments is left alone.
    """
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in ("'", '"'):
            end = i + 1
            while end < n:
                if sql[end] == c:
                    if end + 1 < n and sql[end + 1] == c:  # doubled quote escapes itself
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i : end + 1].replace("%", "%%"))
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif c == "?":
            out.append("%s")
            i += 1
        elif c == "%":
            out.append("%%")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)
