"""The PostgreSQL schema and statements of :mod:`eslib.backends.postgres`.

backends/README.md explains the schema table by table and why the append takes
the locks it takes; the comments here only say what each step is for.
"""

from __future__ import annotations

# Advisory lock keys (two-int form). The class keys spell "eslb"/"eslc" so they are
# unlikely to collide with an application's own advisory locks.
STREAM_LOCK_CLASS = 0x65736C62  # (class, hashtext(stream_id)): one writer per stream
FENCE_LOCK = (0x65736C63, 0)  # session lock around "assign xid, take positions"
SCHEMA_LOCK = (0x65736C63, 1)  # creating or migrating the schema

# SQLSTATE raised when an append is not the first write of its transaction.
NOT_FIRST_WRITE = "ESL01"

SCHEMA = f"""
CREATE TABLE eslib_schema (version int NOT NULL);

CREATE SEQUENCE eslib_position_seq AS bigint;

CREATE TABLE eslib_events (
    position       bigint      PRIMARY KEY,
    stream_id      text        COLLATE "C" NOT NULL,
    version        bigint      NOT NULL,
    id             uuid        NOT NULL UNIQUE,
    type           text        COLLATE "C" NOT NULL,
    data           json        NOT NULL,
    metadata       json        NOT NULL,
    recorded_at    timestamptz NOT NULL,
    transaction_id xid8        NOT NULL,
    UNIQUE (stream_id, version)
);
ALTER SEQUENCE eslib_position_seq OWNED BY eslib_events.position;

CREATE TABLE eslib_snapshots (
    stream_id text   COLLATE "C" PRIMARY KEY,
    version   bigint NOT NULL,
    schema    text   NOT NULL,
    state     json   NOT NULL
);

CREATE TABLE eslib_checkpoints (
    name     text   COLLATE "C" PRIMARY KEY,
    position bigint NOT NULL
);

-- One round trip per append (or append_many). Checks every stream first; writes only
-- when no event id is already stored and every expected version holds. Otherwise it
-- returns what it found and writes nothing, and Python words the outcome
-- (idempotent replay, DuplicateEventId or WrongExpectedVersion) like every backend.
-- p_expected: >= 0 exact count, -1 ANY, -2 STREAM_EXISTS.
-- p_stream: per event, the 1-based index of its stream in p_streams.
CREATE FUNCTION eslib_append(
    p_streams text[], p_expected bigint[], p_ids uuid[], p_types text[], p_data text[],
    p_metadata text[], p_recorded_at timestamptz[], p_stream int[]
) RETURNS TABLE (
    written boolean, versions bigint[], positions bigint[],
    stored_ids uuid[], stored_streams text[], stored_versions bigint[], stored_positions bigint[]
) LANGUAGE plpgsql AS $fn$
DECLARE
    n_streams int := cardinality(p_streams);
    n_events int := cardinality(p_ids);
    v_current bigint[];
    v_conflict boolean := false;
    v_xid xid8;
    v_first bigint;
    v_stream text;
BEGIN
    IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '{NOT_FIRST_WRITE}',
            MESSAGE = 'an append must be the first write in a transaction';
    END IF;

    -- 1. one writer per stream, in a fixed order so two batches cannot deadlock;
    --    an advisory lock assigns no transaction id.
    FOR v_stream IN SELECT DISTINCT s FROM unnest(p_streams) s ORDER BY s LOOP
        PERFORM pg_advisory_xact_lock({STREAM_LOCK_CLASS}, hashtext(v_stream));
    END LOOP;

    -- 2. every check before any write
    SELECT array_agg(e.id), array_agg(e.stream_id), array_agg(e.version), array_agg(e.position)
      INTO stored_ids, stored_streams, stored_versions, stored_positions
      FROM eslib_events e WHERE e.id = ANY (p_ids);

    SELECT array_agg(coalesce(
               (SELECT max(e.version) FROM eslib_events e WHERE e.stream_id = s.id), 0)
               ORDER BY s.i)
      INTO v_current
      FROM unnest(p_streams) WITH ORDINALITY AS s(id, i);

    FOR i IN 1 .. n_streams LOOP
        IF (p_expected[i] >= 0 AND p_expected[i] <> v_current[i])
           OR (p_expected[i] = -2 AND v_current[i] = 0) THEN
            v_conflict := true;
        END IF;
    END LOOP;

    IF v_conflict OR stored_ids IS NOT NULL THEN
        RETURN QUERY SELECT false, v_current, NULL::bigint[],
            stored_ids, stored_streams, stored_versions, stored_positions;
        RETURN;
    END IF;

    -- 3. the fence: the transaction id is assigned and the positions are taken under
    --    one short session lock, so transaction-id order equals position order among
    --    appending transactions. Released at once, not at commit.
    PERFORM pg_advisory_lock({FENCE_LOCK[0]}, {FENCE_LOCK[1]});
    BEGIN
        v_xid := pg_current_xact_id();
        v_first := nextval('eslib_position_seq');
        IF n_events > 1 THEN
            PERFORM setval('eslib_position_seq', v_first + n_events - 1);
        END IF;
    EXCEPTION WHEN OTHERS THEN
        PERFORM pg_advisory_unlock({FENCE_LOCK[0]}, {FENCE_LOCK[1]});
        RAISE;
    END;
    PERFORM pg_advisory_unlock({FENCE_LOCK[0]}, {FENCE_LOCK[1]});

    -- 4. write
    INSERT INTO eslib_events
        (position, stream_id, version, id, type, data, metadata, recorded_at, transaction_id)
    SELECT v_first + k - 1, p_streams[p_stream[k]],
           v_current[p_stream[k]] + row_number() OVER (PARTITION BY p_stream[k] ORDER BY k),
           p_ids[k], p_types[k], p_data[k]::json, p_metadata[k]::json, p_recorded_at[k], v_xid
      FROM generate_series(1, n_events) AS k;

    FOR i IN 1 .. n_events LOOP
        v_current[p_stream[i]] := v_current[p_stream[i]] + 1;
    END LOOP;
    RETURN QUERY SELECT true, v_current,
        (SELECT array_agg(v_first + k - 1 ORDER BY k) FROM generate_series(1, n_events) k),
        NULL::uuid[], NULL::text[], NULL::bigint[], NULL::bigint[];
END
$fn$;
"""

APPEND = (
    "SELECT * FROM eslib_append(%s::text[], %s::bigint[], %s::uuid[], %s::text[], %s::text[],"
    " %s::text[], %s::timestamptz[], %s::int[])"
)

# Rows a read_all follower may be shown: only transactions older than every one still
# running. Because transaction-id order equals position order, no lower position can
# commit later.
FENCE = "transaction_id < pg_snapshot_xmin(pg_current_snapshot())"

EVENT_COLUMNS = "stream_id, version, position, id, type, data, metadata, recorded_at"

ARROW_COLUMNS = (
    "position, stream_id, version, type, recorded_at, data::text, metadata::text, id::text"
)

# The transactions that hold the fence back: running, with an xid older than the newest
# committed event a follower cannot see yet. pg_stat_activity shows xid (32 bits) while
# the snapshot lists xid8, hence the modulo. Never the query text: it may hold secrets.
BLOCKERS = """
WITH snap AS (SELECT pg_current_snapshot() AS s),
hidden AS (
    SELECT max(e.transaction_id) AS newest, count(*) AS n
      FROM eslib_events e, snap
     WHERE e.position > %s AND e.transaction_id >= pg_snapshot_xmin(snap.s)
),
running AS (
    SELECT x FROM snap, hidden, pg_snapshot_xip(snap.s) AS x WHERE x < hidden.newest
)
SELECT a.pid, a.datname, a.usename, a.application_name, a.state, a.xact_start,
       hidden.n
  FROM running, hidden, pg_stat_activity a
 WHERE a.backend_xid IS NOT NULL
   AND a.backend_xid::text = mod(running.x::text::numeric, 4294967296)::text
 ORDER BY a.xact_start
"""
