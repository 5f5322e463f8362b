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


def qmark_to_format(text: str) -> str:
    """Turn ``?`` placeholders into psycopg's ``%s``, escaping literal ``%``.

    Leaves quoted strings ('…', E'…', "…", $tag$…$tag$) and comments alone, except
    that ``%`` is doubled everywhere (psycopg reads the whole text).
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "?":
            out.append("%s")
            i += 1
            continue
        end = _skip_quoted(text, i)
        if end == i:
            out.append("%%" if c == "%" else c)
            i += 1
        else:
            out.append(text[i:end].replace("%", "%%"))
            i = end
    return "".join(out)


def _skip_quoted(text: str, i: int) -> int:
    """The index just past the quoted string or comment starting at ``i`` (``i`` if none)."""
    c, n = text[i], len(text)
    if c == "'" or c == '"':
        escapes = c == "'" and i > 0 and text[i - 1] in "eE" and (
            i == 1 or not (text[i - 2].isalnum() or text[i - 2] == "_"))
        j = i + 1
        while j < n:
            if escapes and text[j] == "\\":
                j += 2
                continue
            if text[j] == c:
                if j + 1 < n and text[j + 1] == c:  # '' or "" inside the string
                    j += 2
                    continue
                return j + 1
            j += 1
        return n
    if text.startswith("--", i):
        j = text.find("\n", i)
        return n if j < 0 else j + 1
    if text.startswith("/*", i):
        depth, j = 0, i
        while j < n:
            if text.startswith("/*", j):
                depth, j = depth + 1, j + 2
            elif text.startswith("*/", j):
                depth, j = depth - 1, j + 2
                if depth == 0:
                    return j
            else:
                j += 1
        return n
    if c == "$" and not (i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")):
        j = i + 1
        while j < n and (text[j].isalnum() or text[j] == "_"):
            j += 1
        if j < n and text[j] == "$" and not text[i + 1:j][:1].isdigit():
            tag = text[i:j + 1]
            end = text.find(tag, j + 1)
            return n if end < 0 else end + len(tag)
    return i

