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

# Live push: every appending transaction notifies this channel, delivered at its commit
# (never for a rollback). The payload is constant, so PostgreSQL folds the notifications of
# one transaction into one. ALTER DATABASE … SET eslib.notify = off stops it (followers then
# wait for their safety-net poll): NOTIFY serialises committing writers on a global lock.
CHANNEL = "eslib_events"
NOTIFY = (f"IF coalesce(current_setting('eslib.notify', true), '') <> 'off' THEN "
          f"v_void := pg_notify('{CHANNEL}', '')::text; END IF;")

# plpgsql shared by the append functions (eslib_append, eslib_append_one, eslib_bulk_append).
# Functions are called by assignment to these variables, not PERFORM: an assigned call is
# evaluated as a simple expression, without the executor's per-statement setup (pgbench,
# one client: ~8% more one-event appends/s).
CALL_VARIABLES = """
    v_void text;
    v_unlocked boolean;"""
FIRST_WRITE_CHECK = f"""
    IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '{NOT_FIRST_WRITE}',
            MESSAGE = 'an append must be the first write in a transaction';
    END IF;"""


def take_positions(count: str, xid: str, first: str) -> str:
    """The fence, as plpgsql: the transaction id is assigned and ``count`` positions taken
    under one short session lock, so transaction-id order equals position order among
    appending transactions. Released at once, not at commit (also on an error)."""
    more = (f"""
        IF {count} > 1 THEN
            v_void := setval('eslib_position_seq', {first} + {count} - 1)::text;
        END IF;""" if count != "1" else "")
    return f"""
    v_void := pg_advisory_lock({FENCE_LOCK[0]}, {FENCE_LOCK[1]})::text;
    BEGIN
        {xid} := pg_current_xact_id();
        {first} := nextval('eslib_position_seq');{more}
    EXCEPTION WHEN OTHERS THEN
        v_unlocked := pg_advisory_unlock({FENCE_LOCK[0]}, {FENCE_LOCK[1]});
        RAISE;
    END;
    v_unlocked := pg_advisory_unlock({FENCE_LOCK[0]}, {FENCE_LOCK[1]});"""


SCHEMA = """
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
"""

APPEND_FUNCTION = f"""
-- One round trip per append (or append_many). Checks every stream first; writes only
-- when no event id is already stored and every expected version holds. Otherwise it
-- returns what it found and writes nothing, and Python words the outcome
-- (idempotent replay, DuplicateEventId or WrongExpectedVersion) like every backend.
-- p_expected: >= 0 exact count, -1 ANY, -2 STREAM_EXISTS.
-- p_stream / p_offset: per event, the 1-based index of its stream in p_streams and its
-- 1-based place among that stream's events in this batch.
-- Positions are consecutive from first_position (taken under the fence lock).
-- Statements are kept simple: each costs a plan-cache lookup and an executor start.
CREATE OR REPLACE FUNCTION eslib_append(
    p_streams text[], p_expected bigint[], p_ids uuid[], p_types text[], p_data text[],
    p_metadata text[], p_recorded_at timestamptz[], p_stream int[], p_offset int[],
    OUT written boolean, OUT versions bigint[], OUT first_position bigint,
    OUT stored_ids uuid[], OUT stored_streams text[], OUT stored_versions bigint[],
    OUT stored_positions bigint[]
) LANGUAGE plpgsql
-- custom plans (the default for the first runs, and whenever PostgreSQL guesses they are
-- cheaper) re-plan every statement on every call: 3-4x slower here.
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
    n_streams int := cardinality(p_streams);
    n_events int := cardinality(p_ids);
    v_xid xid8;
    v_max bigint;{CALL_VARIABLES}
BEGIN{FIRST_WRITE_CHECK}

    -- 1. wait for a bulk append in progress (it holds SHARE ROW EXCLUSIVE) before reading
    --    versions; then one writer per stream, several streams locked in one fixed order
    --    (by key) so two batches cannot deadlock. Locks assign no transaction id.
    LOCK TABLE eslib_events IN ROW EXCLUSIVE MODE;
    IF n_streams = 1 THEN
        v_void := pg_advisory_xact_lock({STREAM_LOCK_CLASS}, hashtext(p_streams[1]))::text;
    ELSE
        PERFORM pg_advisory_xact_lock({STREAM_LOCK_CLASS}, h)
           FROM (SELECT DISTINCT hashtext(s) AS h FROM unnest(p_streams) s ORDER BY 1) keys;
    END IF;

    -- 2. every check before any write
    written := false;
    versions := '{{}}';
    FOR i IN 1 .. n_streams LOOP
        SELECT max(e.version) INTO v_max FROM eslib_events e WHERE e.stream_id = p_streams[i];
        versions[i] := coalesce(v_max, 0);
        IF (p_expected[i] >= 0 AND p_expected[i] <> versions[i])
           OR (p_expected[i] = -2 AND versions[i] = 0) THEN
            written := NULL;  -- a conflict: report, write nothing
        END IF;
    END LOOP;
    IF EXISTS (SELECT FROM eslib_events e WHERE e.id = ANY (p_ids)) THEN
        SELECT array_agg(e.id), array_agg(e.stream_id), array_agg(e.version),
               array_agg(e.position)
          INTO stored_ids, stored_streams, stored_versions, stored_positions
          FROM eslib_events e WHERE e.id = ANY (p_ids);
    END IF;
    IF written IS NULL OR stored_ids IS NOT NULL THEN
        written := false;
        RETURN;
    END IF;

    -- 3. the fence{take_positions("n_events", "v_xid", "first_position")}

    -- 4. write
    IF n_events = 1 THEN
        INSERT INTO eslib_events
            (position, stream_id, version, id, type, data, metadata, recorded_at, transaction_id)
        VALUES (first_position, p_streams[1], versions[1] + 1, p_ids[1], p_types[1],
                p_data[1]::json, p_metadata[1]::json, p_recorded_at[1], v_xid);
    ELSE
        INSERT INTO eslib_events
            (position, stream_id, version, id, type, data, metadata, recorded_at, transaction_id)
        SELECT first_position + e.k - 1, p_streams[e.s], versions[e.s] + e.o, e.id, e.type,
               e.data::json, e.metadata::json, e.at, v_xid
          FROM unnest(p_ids, p_types, p_data, p_metadata, p_recorded_at, p_stream, p_offset)
               WITH ORDINALITY AS e(id, type, data, metadata, at, s, o, k);
    END IF;
    {NOTIFY}
    written := true;
END
$fn$;
"""

APPEND = (
    "SELECT * FROM eslib_append(%s::text[], %s::bigint[], %s::uuid[], %s::text[], %s::text[],"
    " %s::text[], %s::timestamptz[], %s::int[], %s::int[])"
)

APPEND_ONE_FUNCTION = f"""
-- eslib_append for the common case, one event to one stream, outside a transaction, with
-- scalar arguments and one statement that checks and writes: about 80k fewer server
-- instructions per append than eslib_append (callgrind, backends/README.md). It returns
-- {{version, position}}, or NULL when the expected version does not hold; a stream
-- version or event id already stored fails the INSERT on its unique index (the transaction
-- rolls back, nothing is written). Either way the client then calls eslib_append, which
-- reports the details (idempotent replay, DuplicateEventId, WrongExpectedVersion).
CREATE OR REPLACE FUNCTION eslib_append_one(
    p_stream text, p_expected bigint, p_id uuid, p_type text, p_data text, p_metadata text,
    p_recorded_at timestamptz
) RETURNS bigint[] LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
    v_xid xid8;
    v_position bigint;
    v_version bigint;{CALL_VARIABLES}
BEGIN{FIRST_WRITE_CHECK}
    LOCK TABLE eslib_events IN ROW EXCLUSIVE MODE;
    v_void := pg_advisory_xact_lock({STREAM_LOCK_CLASS}, hashtext(p_stream))::text;
{take_positions("1", "v_xid", "v_position")}

    -- the position is taken before the check: an append that is refused leaves a hole
    IF p_expected = 0 THEN  -- a new stream: version 1 exists already or it is free
        INSERT INTO eslib_events
            (position, stream_id, version, id, type, data, metadata, recorded_at, transaction_id)
        VALUES (v_position, p_stream, 1, p_id, p_type, p_data::json, p_metadata::json,
                p_recorded_at, v_xid);
        v_version := 1;
    ELSIF p_expected > 0 THEN  -- version k must exist; k + 1 existing fails the INSERT
        INSERT INTO eslib_events
            (position, stream_id, version, id, type, data, metadata, recorded_at, transaction_id)
        SELECT v_position, p_stream, p_expected + 1, p_id, p_type, p_data::json,
               p_metadata::json, p_recorded_at, v_xid
         WHERE EXISTS (SELECT FROM eslib_events e
                        WHERE e.stream_id = p_stream AND e.version = p_expected);
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
        v_version := p_expected + 1;
    ELSE  -- ANY (-1), STREAM_EXISTS (-2)
        INSERT INTO eslib_events
            (position, stream_id, version, id, type, data, metadata, recorded_at, transaction_id)
        SELECT v_position, p_stream, m.v + 1, p_id, p_type, p_data::json, p_metadata::json,
               p_recorded_at, v_xid
          FROM (SELECT coalesce(max(e.version), 0) AS v FROM eslib_events e
                 WHERE e.stream_id = p_stream) m
         WHERE p_expected = -1 OR m.v > 0
        RETURNING eslib_events.version INTO v_version;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
    END IF;
    {NOTIFY}
    RETURN ARRAY[v_version, v_position];
END
$fn$;
"""

# prepared once per pool connection (postgres_prepared), parameters sent as text
APPEND_ONE_PREPARED = ("SELECT eslib_append_one($1::text, $2::bigint, $3::uuid, $4::text,"
                       " $5::text, $6::text, $7::timestamptz)")
# the same name with OUT parameters, as an earlier eslib made it: dropped before creating
OLD_APPEND_ONE = "eslib_append_one(text, bigint, uuid, text, text, text, timestamptz)"

# Rows a read_all follower may be shown: only those of transactions older than every
# transaction still running that could be appending. Because transaction-id order equals
# position order, no lower position can commit later. (An initplan: evaluated once.)
FENCE = "transaction_id < (SELECT eslib_fence())"

# The fence value, in the caller's snapshot: the oldest running transaction id, ignoring
# transactions that pg_stat_activity shows in another database (they cannot write to this
# one). Anything else running — in this database, a prepared transaction, or one that ended
# since the snapshot — counts, so the answer errs on the side of waiting. Nothing running:
# the snapshot's xmax. pg_stat_activity shows xids in 32 bits, the snapshot in 64.
FENCE_FUNCTION = """
CREATE OR REPLACE FUNCTION eslib_fence() RETURNS xid8 LANGUAGE sql STABLE AS $fn$
SELECT CASE WHEN pg_snapshot_xmin(s) = pg_snapshot_xmax(s) THEN pg_snapshot_xmax(s)
       ELSE coalesce((
           SELECT min(x) FROM pg_snapshot_xip(s) AS x
            WHERE NOT EXISTS (
                SELECT FROM pg_stat_get_activity(NULL) AS a
                 WHERE a.backend_xid::text = mod(x::text::numeric, 4294967296)::text
                   AND a.datid IS DISTINCT FROM
                       (SELECT oid FROM pg_database WHERE datname = current_database()))),
           pg_snapshot_xmax(s)) END
  FROM pg_current_snapshot() AS s
$fn$;
"""

# The transactions that hold the fence back: running in this database (or not known to
# be elsewhere), with an xid older than the newest committed event a follower cannot see
# yet. Never the query text: it may hold secrets.
BLOCKERS = """
WITH snap AS (SELECT pg_current_snapshot() AS s),
hidden AS (
    SELECT max(e.transaction_id) AS newest, count(*) AS n
      FROM eslib_events e
     WHERE e.position > %s AND e.transaction_id >= (SELECT eslib_fence())
),
running AS (
    SELECT x FROM snap, hidden, pg_snapshot_xip(snap.s) AS x WHERE x < hidden.newest
)
SELECT a.pid, a.datname, a.usename, a.application_name, a.state, a.xact_start,
       hidden.n
  FROM running, hidden, pg_stat_activity a
 WHERE a.backend_xid IS NOT NULL AND a.datname = current_database()
   AND a.backend_xid::text = mod(running.x::text::numeric, 4294967296)::text
 ORDER BY a.xact_start
"""

# For a waiting follower, in one snapshot: the newest position it may be shown, and
# whether the newest committed event is hidden by the fence (then some are; the fence
# moving shows them without a new notification, so the waiter polls briefly).
PROBE = """
WITH f AS (SELECT eslib_fence() AS x)
SELECT (SELECT e.position FROM eslib_events e WHERE e.transaction_id < f.x
         ORDER BY e.position DESC LIMIT 1),
       (SELECT e.transaction_id >= f.x FROM eslib_events e ORDER BY e.position DESC LIMIT 1)
  FROM f
"""
