"""Bulk appends on PostgreSQL: one function call per table, under the same order fence.

A bulk append locks the events table against other writers (SHARE ROW EXCLUSIVE;
readers go on) instead of taking one advisory lock per stream, which would fill
PostgreSQL's lock table for an import touching thousands of streams. Imports are
rare; appends that arrive meanwhile wait for the import's commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import DuplicateEventId, InvalidEvent
from . import postgres_sql as sql

if TYPE_CHECKING:
    import psycopg
    import pyarrow as pa

INVALID_JSON = "ESL02"

FUNCTION = f"""
CREATE OR REPLACE FUNCTION eslib_bulk_append(
    p_streams text[], p_types text[], p_data text[], p_metadata text[], p_ids uuid[],
    p_recorded_at timestamptz[], p_skip_existing boolean
) RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    v_xid xid8;
    v_first bigint;
    v_count bigint;
    v_bad bigint;{sql.CALL_VARIABLES}
BEGIN{sql.FIRST_WRITE_CHECK}
    -- other writers wait until this commits; a lock assigns no transaction id
    LOCK TABLE eslib_events IN SHARE ROW EXCLUSIVE MODE;

    BEGIN
        SELECT min(t.rn) INTO v_bad
          FROM unnest(p_data, p_metadata) WITH ORDINALITY AS t(d, m, rn)
         WHERE json_typeof(t.d::json) <> 'object' OR json_typeof(t.m::json) <> 'object';
    EXCEPTION WHEN invalid_text_representation THEN
        v_bad := 0;
    END;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '{INVALID_JSON}',
            MESSAGE = CASE WHEN v_bad = 0 THEN 'data or metadata is not valid JSON'
                      ELSE format('row %s: data and metadata must be JSON objects', v_bad - 1)
                      END;
    END IF;

    SELECT count(*) INTO v_count FROM unnest(p_ids) AS t(id)
     WHERE NOT p_skip_existing OR t.id IS NULL
        OR NOT EXISTS (SELECT FROM eslib_events e WHERE e.id = t.id);
    IF v_count = 0 THEN
        RETURN 0;
    END IF;

    -- the fence, as in eslib_append{sql.take_positions("v_count", "v_xid", "v_first")}

    INSERT INTO eslib_events
           (position, stream_id, version, id, type, data, metadata, recorded_at, transaction_id)
    SELECT v_first - 1 + row_number() OVER (ORDER BY k.rn),
           k.stream_id,
           coalesce(v.version, 0) + row_number() OVER (PARTITION BY k.stream_id ORDER BY k.rn),
           coalesce(k.id, gen_random_uuid()), k.type, k.data::json, k.metadata::json,
           k.recorded_at, v_xid
      FROM (SELECT t.*
              FROM unnest(p_streams, p_types, p_data, p_metadata, p_ids, p_recorded_at)
                   WITH ORDINALITY AS t(stream_id, type, data, metadata, id, recorded_at, rn)
             WHERE NOT p_skip_existing OR t.id IS NULL
                OR NOT EXISTS (SELECT FROM eslib_events e WHERE e.id = t.id)) k
      LEFT JOIN (SELECT e.stream_id, max(e.version) AS version FROM eslib_events e
                  WHERE e.stream_id = ANY (p_streams) GROUP BY e.stream_id) v
           USING (stream_id)
     ORDER BY k.rn;
    {sql.NOTIFY}
    RETURN v_count;
END
$fn$;
"""


def bulk_append(conn: psycopg.Connection[Any], table: pa.Table, skip_existing: bool) -> int:
    """Call eslib_bulk_append with the table's columns; translate its own errors."""
    from psycopg import errors as pe

    columns = table.to_pydict()
    try:
        row = conn.execute(
            "SELECT eslib_bulk_append(%b, %b, %b, %b, %b::uuid[], %b, %b)",
            (columns["stream_id"], columns["type"], columns["data"], columns["metadata"],
             columns["id"], columns["recorded_at"], skip_existing),
        ).fetchone()
    except pe.UniqueViolation as exc:
        raise DuplicateEventId(
            [i for i in columns["id"] if i][:3] or ["?"],
            "(bulk append: nothing written; pass skip_existing=True to resume an import)",
        ) from exc
    except pe.Error as exc:
        if exc.sqlstate == INVALID_JSON:
            raise InvalidEvent(f"{exc.diag.message_primary}; nothing was written") from exc
        raise
    assert row is not None
    return int(row[0])
