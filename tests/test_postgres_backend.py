"""PostgreSQL backend details: placeholders, error translation, connecting, the schema."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from postgres_server import admin_url, create_database, drop_database

import eslib
from eslib.backends.base import SCHEMA_VERSION, PreparedEvent, StreamAppend
from eslib.backends.postgres import PostgresBackend, _append, qmark_to_format

pytestmark = pytest.mark.postgres


@pytest.fixture
def store(url: str) -> Iterator[eslib.EventStore]:
    with eslib.connect(url) as store:
        yield store


@pytest.fixture
def fresh_db() -> Iterator[str]:
    admin, reason = admin_url()
    if admin is None:
        pytest.skip(reason)
    url = create_database(admin)
    yield url
    drop_database(admin, url)


# -- ? placeholders ------------------------------------------------------------------

@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT ?", "SELECT %s"),
    ("SELECT ?, ?", "SELECT %s, %s"),
    ("SELECT 5 % 2, ?", "SELECT 5 %% 2, %s"),
    ("SELECT '?', ?", "SELECT '?', %s"),
    ("SELECT 'it''s ?', ?", "SELECT 'it''s ?', %s"),
    ("SELECT '100%'", "SELECT '100%%'"),
    ('SELECT "odd?col" FROM t WHERE x = ?', 'SELECT "odd?col" FROM t WHERE x = %s'),
    ("SELECT ? -- why? 100%\n, ?", "SELECT %s -- why? 100%%\n, %s"),
    ("SELECT /* ? /* nested ? */ ? */ ?", "SELECT /* ? /* nested ? */ ? */ %s"),
    ("SELECT $$ ? ' $$, ?", "SELECT $$ ? ' $$, %s"),
    ("SELECT $tag$ ?$$ ' $tag$, ?", "SELECT $tag$ ?$$ ' $tag$, %s"),
    ("SELECT E'\\' ?', ?", "SELECT E'\\' ?', %s"),
    ("SELECT '\\', ?", "SELECT '\\', %s"),  # standard strings: a backslash is just a character
    ("SELECT $1, ?", "SELECT $1, %s"),  # $1 is not a dollar quote
    ("SELECT x$y, ?", "SELECT x$y, %s"),
])
def test_question_marks_become_placeholders_outside_quotes(sql: str, expected: str) -> None:
    assert qmark_to_format(sql) == expected


def test_placeholders_round_trip_through_the_server(store: eslib.EventStore) -> None:
    with store.transaction() as tx:
        rows = tx.execute(
            "SELECT ?, '?' || ?, $$?%$$, 7 % 4, \"?\" FROM (SELECT 1 AS \"?\") t -- ?",
            ["a", "b"])
    assert rows == [("a", "?b", "?%", 3, 1)]


def test_execute_returns_rows_or_nothing(store: eslib.EventStore) -> None:
    with store.transaction() as tx:
        assert tx.execute("CREATE TABLE totals (n int)") == []
        assert tx.execute("INSERT INTO totals VALUES (?), (?)", (1, 2)) == []
        assert tx.execute("SELECT sum(n) FROM totals WHERE n > ?", [0]) == [(3,)]


# -- errors, translated in one place ---------------------------------------------

def prepared(stream: str, event_id: uuid.UUID) -> list[StreamAppend]:
    from datetime import datetime, timezone

    event = PreparedEvent(event_id, "T", "{}", "{}", datetime.now(timezone.utc))
    return [StreamAppend(stream, 0, (event,))]


def raw_insert(conn: psycopg.Connection, stream: str, version: int, event_id: uuid.UUID) -> None:
    conn.execute(
        "INSERT INTO eslib_events (position, stream_id, version, id, type, data, metadata,"
        " recorded_at, transaction_id) VALUES (nextval('eslib_position_seq'), %s, %s, %s, 'T',"
        " '{}', '{}', now(), pg_current_xact_id())", (stream, version, event_id))


def test_every_expected_driver_error_is_mapped(store: eslib.EventStore, url: str) -> None:
    backend = store.backend
    assert isinstance(backend, PostgresBackend)
    taken = uuid.uuid4()
    store.append("a-1", [eslib.NewEvent("T", id=taken)])
    with psycopg.connect(url, autocommit=True) as conn:
        # a unique violation on the id: written concurrently elsewhere
        with pytest.raises(eslib.DuplicateEventId) as dup, backend._translate(
                batch=prepared("b-1", taken)):
            raw_insert(conn, "b-1", 1, taken)
        assert isinstance(dup.value.__cause__, psycopg.errors.UniqueViolation)
        # a unique violation on (stream, version): the actual version is re-read
        with pytest.raises(eslib.WrongExpectedVersion) as wev, backend._translate(
                batch=prepared("a-1", uuid.uuid4())):
            raw_insert(conn, "a-1", 1, uuid.uuid4())
        assert (wev.value.stream_id, wev.value.expected, wev.value.actual) == ("a-1", 0, 1)
        # any other SQL error
        with pytest.raises(eslib.StoreError) as other, backend._translate():
            conn.execute("SELEC 1")
        assert isinstance(other.value.__cause__, psycopg.errors.SyntaxError)
        # an append that is not the first write of its transaction
        with pytest.raises(eslib.ConfigurationError, match="first write"), \
                backend._translate(), conn.transaction():
            raw_insert(conn, "c-1", 1, uuid.uuid4())
            _append(conn, prepared("c-2", uuid.uuid4()))
    # a connection that dies: while writing the outcome is unknown, while reading it is lost
    for write, error in ((True, eslib.WriteOutcomeUnknown), (False, eslib.StoreError)):
        with psycopg.connect(url, autocommit=True) as victim, \
                psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (victim.info.backend_pid,))
            with pytest.raises(error) as lost, backend._translate(write=write):
                victim.execute("SELECT 1")
            assert isinstance(lost.value.__cause__, psycopg.OperationalError)


def test_no_connection_available_is_a_store_error(url: str) -> None:
    with eslib.connect(url, pool_size=1) as store:
        store.backend._pool.timeout = 0.2  # type: ignore[attr-defined]
        with store.transaction(), \
                pytest.raises(eslib.StoreError, match="no PostgreSQL connection"):
            store.stream_version("x")  # the transaction holds the only connection


def test_the_pool_hands_out_the_connection_returned_last(url: str) -> None:
    with eslib.connect(url, pool_size=3) as store:
        pool = store.backend._pool  # type: ignore[attr-defined]
        held = [pool.getconn() for _ in range(3)]  # grown to three
        for conn in held:
            pool.putconn(conn)
        pids = set()
        for _ in range(5):  # one caller keeps one warm connection, not a rotation of three
            conn = pool.getconn()
            pids.add(conn.info.backend_pid)
            pool.putconn(conn)
        assert pids == {held[-1].info.backend_pid}


def test_a_returned_connection_goes_to_the_caller_waiting_for_it(url: str) -> None:
    with eslib.connect(url, pool_size=1) as store:
        pool = store.backend._pool  # type: ignore[attr-defined]
        assert pool._short  # the short path is on with this psycopg_pool
        holding = threading.Event()

        def hold_the_only_connection() -> None:
            with store.transaction() as tx:
                tx.append("held-1", [eslib.NewEvent("A")])
                holding.set()
                time.sleep(0.3)

        thread = threading.Thread(target=hold_the_only_connection)
        thread.start()
        holding.wait(5)
        started = time.monotonic()
        assert store.append("held-2", [eslib.NewEvent("B")]).version == 1  # waited, then ran
        waited = time.monotonic() - started
        thread.join()
        assert waited > 0.05 and store.stream_version("held-1") == 1
        stats = pool.get_stats()
        assert stats["pool_size"] == 1 and stats.get("requests_queued", 0) >= 1
        for _ in range(3):  # and the short path hands it out again afterwards
            assert store.stream_version("held-2") == 1
        assert len(pool._pool) == 1


def test_appends_and_reads_still_work_when_their_prepared_statements_are_gone(
        url: str) -> None:
    # a pooler in front of PostgreSQL, or DEALLOCATE/DISCARD ALL, drops them per connection
    with eslib.connect(url, pool_size=1) as store:
        with store.backend._pool.connection() as conn:  # type: ignore[attr-defined]
            conn.execute("DEALLOCATE ALL")
        assert list(store.read_stream("gone-1")) == []
        assert store.append("gone-1", [eslib.NewEvent("A")], 0).version == 1
        assert store.append("gone-1", [eslib.NewEvent("B")], 1).positions[0] > 1
        with pytest.raises(eslib.WrongExpectedVersion):
            store.append("gone-1", [eslib.NewEvent("C")], 1)
        assert [e.type for e in store.read_stream("gone-1")] == ["A", "B"]


def test_the_prepared_stream_read_gives_what_the_cursor_read_gives(url: str) -> None:
    # forward reads (an aggregate's load) go through libpq, backward ones through a cursor
    with eslib.connect(url, pool_size=1) as store:
        data = {"n": 1, "text": "Zoë 🙂", "nested": {"list": [1.5, None, True]}}
        for n in range(2500):  # three pages of 1000
            store.append("paged-1", [eslib.NewEvent("T", {**data, "n": n}, metadata={"i": n})])
        forward = list(store.read_stream("paged-1"))
        backward = list(store.read_stream("paged-1", backwards=True))
        assert forward == backward[::-1] and len(forward) == 2500
        assert [e.version for e in forward] == list(range(1, 2501))
        assert forward[7].data == {**data, "n": 7} and forward[7].metadata == {"i": 7}
        assert isinstance(forward[7].id, uuid.UUID)
        assert forward[7].recorded_at.tzinfo is not None
        assert [e.version for e in store.read_stream("paged-1", 999, limit=3)] == [999, 1000,
                                                                                  1001]
        assert list(store.read_stream("paged-1", 2501)) == []


# -- connecting ----------------------------------------------------------------------

def test_connection_failures_name_the_server_never_the_password() -> None:
    secret = "s3cr3t-pass"
    with pytest.raises(eslib.ConfigurationError) as caught:
        eslib.connect(f"postgresql://postgres:{secret}@127.0.0.1:1/nowhere")
    text = str(caught.value)
    assert "127.0.0.1:1/nowhere" in text and secret not in text
    assert secret not in repr(caught.value)
    assert caught.value.__cause__ is not None


def test_a_missing_database_is_named(url: str) -> None:
    missing = url.rsplit("/", 1)[0] + "/eslib_no_such_db"
    with pytest.raises(eslib.ConfigurationError, match="eslib_no_such_db"):
        eslib.connect(missing)


def test_a_store_repr_hides_the_password(url: str) -> None:
    with_password = url.replace("postgres@", "postgres:hunter2@")
    with eslib.connect(with_password) as store:  # trust auth: the password is not checked
        assert "hunter2" not in repr(store) and "hunter2" not in str(store.url)


def test_unknown_options_are_refused(url: str) -> None:
    with pytest.raises(eslib.ConfigurationError, match="pool_size"):
        eslib.connect(url, pool_sise=3)
    with pytest.raises(eslib.ConfigurationError, match="pool_size"):
        eslib.connect(url, pool_size=0)


def test_pool_connections_are_configured_without_a_warning(
        url: str, caplog: pytest.LogCaptureFixture) -> None:
    # psycopg warns (and builds a loader class per connection) for a closure as json loads
    with caplog.at_level("DEBUG"), eslib.connect(url, pool_size=3) as store:
        store.append("quiet-1", [eslib.NewEvent("Said", {"x": 1})])
        threads = [threading.Thread(target=lambda: list(store.read_stream("quiet-1")))
                   for _ in range(6)]  # more connections than one
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [e.data for e in store.read_stream("quiet-1")] == [{"x": 1}]
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []


# -- the schema ------------------------------------------------------------------------

def test_processes_connecting_at_once_create_the_schema_once(fresh_db: str) -> None:
    errors: list[BaseException] = []

    def open_and_append(n: int) -> None:
        try:
            with eslib.connect(fresh_db, pool_size=1) as store:
                store.append(f"s-{n}", [eslib.NewEvent("Hello")])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_and_append, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT version FROM eslib_schema").fetchall() == [(SCHEMA_VERSION,)]
        assert conn.execute("SELECT count(*) FROM eslib_events").fetchone() == (6,)


def test_a_newer_schema_is_refused(fresh_db: str) -> None:
    eslib.connect(fresh_db).close()
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("UPDATE eslib_schema SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(eslib.ConfigurationError, match="newer than this eslib"):
        eslib.connect(fresh_db)


def test_functions_made_by_an_earlier_eslib_are_replaced(fresh_db: str) -> None:
    eslib.connect(fresh_db).close()
    with psycopg.connect(fresh_db, autocommit=True) as conn:  # the shape eslib 0.1 made
        conn.execute("DROP FUNCTION eslib_append_one")
        conn.execute(
            "CREATE FUNCTION eslib_append_one(p_stream text, p_expected bigint, p_id uuid,"
            " p_type text, p_data text, p_metadata text, p_recorded_at timestamptz,"
            " OUT written boolean, OUT version bigint, OUT first_position bigint)"
            " LANGUAGE sql AS $$ SELECT false, 0::bigint, 0::bigint $$")
    with eslib.connect(fresh_db) as store:
        assert store.append("s-1", [eslib.NewEvent("A")], eslib.NO_STREAM).version == 1
        assert store.append("s-1", [eslib.NewEvent("B")], 1).positions == (2,)
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT pg_get_function_result('eslib_append_one'::regproc)"
                            ).fetchone() == ("bigint[]",)


def test_a_latin1_database_stores_what_it_can_encode_and_refuses_the_rest() -> None:
    # eslib's connections speak UTF-8 whatever the database's encoding; the server converts
    admin, reason = admin_url()
    if admin is None:
        pytest.skip(reason)
    name = f"eslib_latin1_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} ENCODING 'LATIN1' TEMPLATE template0"
                     " LC_COLLATE 'C' LC_CTYPE 'C'")
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    try:
        with eslib.connect(url) as store:
            store.append("café-1", [eslib.NewEvent("Bestellt", {"name": "Zoë"})], 0)
            store.append("café-1", [eslib.NewEvent("Geliefert", {"n": 1})], 1)
            assert [(e.version, e.type, e.data) for e in store.read_stream("café-1")] == [
                (1, "Bestellt", {"name": "Zoë"}), (2, "Geliefert", {"n": 1})]
            with pytest.raises(eslib.StoreError, match="LATIN1"):
                store.append("snow-☃", [eslib.NewEvent("Fell")])
            assert store.streams() == ["café-1"]
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_data_keeps_its_key_order_and_odd_text(store: eslib.EventStore) -> None:
    data = {"z": 1, "a": {"y": [1, "two", None], "b": "quote \" backslash \\ newline \n"},
            "ünï": "çødé", "m": 1.5}
    stream = "x'; DROP TABLE eslib_events; --\n,{}\"\\"
    store.append(stream, [eslib.NewEvent("T\"ype,", data, metadata={"k": "v"})])
    [event] = store.read_stream(stream)
    assert list(event.data) == ["z", "a", "ünï", "m"] and event.data == data
    assert event.type == "T\"ype,"
    frame = store.to_dataframe()
    assert frame["stream_id"].tolist() == [stream]
    assert frame["data"].tolist() == [
        '{"z":1,"a":{"y":[1,"two",null],"b":"quote \\" backslash \\\\ newline \\n"},'
        '"ünï":"çødé","m":1.5}']
    assert str(frame["recorded_at"].dtype) == "datetime64[us, UTC]"
