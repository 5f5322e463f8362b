"""PostgreSQL faults: connections killed under appends, and a pool that recovers."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

import eslib

pytestmark = pytest.mark.postgres


@pytest.fixture
def store(url: str) -> Iterator[eslib.EventStore]:
    with eslib.connect(url, pool_size=2) as store:
        yield store


def terminate_store_connections(url: str, admin: psycopg.Connection) -> int:
    """pg_terminate_backend every eslib pool connection to the test database."""
    dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    rows = admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
        " AND application_name = 'eslib' AND pid <> pg_backend_pid()", (dbname,)).fetchall()
    return len(rows)


def test_appends_survive_connections_killed_under_them(store: eslib.EventStore, url: str) -> None:
    stop = threading.Event()
    kills: list[int] = []

    def killer() -> None:
        with psycopg.connect(url, autocommit=True) as admin:
            while not stop.is_set():
                kills.append(terminate_store_connections(url, admin))
                time.sleep(0.015)

    thread = threading.Thread(target=killer)
    thread.start()
    outcomes: dict[str, int] = {"committed": 0, "unknown": 0, "failed": 0}
    sent: list[tuple[str, list[eslib.NewEvent]]] = []
    try:
        for i in range(80):
            events = [eslib.NewEvent("Survived", {"i": i}, id=uuid.uuid4())]
            stream = f"s-{i % 5}"
            sent.append((stream, events))
            try:
                store.append(stream, events)
                outcomes["committed"] += 1
            except eslib.WriteOutcomeUnknown as exc:
                assert "may or may not" in str(exc) and exc.__cause__ is not None
                outcomes["unknown"] += 1
            except eslib.StoreError:  # e.g. no connection could be made in time
                outcomes["failed"] += 1
    finally:
        stop.set()
        thread.join()
    assert sum(kills) > 0
    # the pool recovered: every append can be resent (idempotent) and is stored once
    for stream, events in sent:
        store.append(stream, events)
    stored = [e.id for e in store.read_all()]
    assert sorted(stored) == sorted(e.id for _, events in sent for e in events)
    assert outcomes["committed"] > 0


def test_a_commit_on_a_killed_connection_says_the_outcome_is_unknown(
    store: eslib.EventStore, url: str
) -> None:
    event = eslib.NewEvent("Maybe", id=uuid.uuid4())
    with psycopg.connect(url, autocommit=True) as admin:
        with pytest.raises(eslib.WriteOutcomeUnknown, match="may or may not") as caught, \
                store.transaction() as tx:
            tx.append("maybe-1", [event], eslib.NO_STREAM)
            [(pid,)] = tx.execute("SELECT pg_backend_pid()")
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert isinstance(caught.value.__cause__, psycopg.OperationalError)
    # retrying the same append is safe: here the server had rolled it back, so it writes
    assert store.append("maybe-1", [event], eslib.NO_STREAM).version == 1
    assert store.append("maybe-1", [event], eslib.NO_STREAM).version == 1  # and again: replay
    assert [e.id for e in store.read_stream("maybe-1")] == [event.id]


def test_reads_retry_on_a_connection_found_dead(store: eslib.EventStore, url: str) -> None:
    store.append("r-1", [eslib.NewEvent("A")])
    with psycopg.connect(url, autocommit=True) as admin:
        assert terminate_store_connections(url, admin) >= 1
    time.sleep(0.1)
    assert [e.type for e in store.read_all()] == ["A"]
    assert store.stream_version("r-1") == 1


def test_a_transaction_that_fails_leaves_no_session_lock_behind(
    store: eslib.EventStore, url: str
) -> None:
    with pytest.raises(eslib.StoreError), store.transaction() as tx:
        tx.append("t-1", [eslib.NewEvent("A")])
        tx.execute("SELECT * FROM no_such_table")
    with psycopg.connect(url, autocommit=True) as admin:
        held = admin.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()  # this database only: the server is shared with other runs
    assert held == (0,)
    assert store.append("t-1", [eslib.NewEvent("B")], eslib.NO_STREAM).version == 1


def test_ctrl_c_cancels_an_append_waiting_for_a_lock(store: eslib.EventStore, url: str) -> None:
    import os
    import signal

    from eslib.backends.postgres_sql import STREAM_LOCK_CLASS

    armed = threading.Event()

    def interrupt(signum: int, frame: object) -> None:  # Ctrl-C only inside the append
        if armed.is_set():
            raise KeyboardInterrupt

    store.append("wait-1", [eslib.NewEvent("First")])
    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        with psycopg.connect(url) as blocker:  # holds the stream's lock, transaction open
            blocker.execute("SELECT pg_advisory_xact_lock(%s, hashtext('wait-1'))",
                            (STREAM_LOCK_CLASS,))
            timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
            started = time.monotonic()
            armed.set()
            timer.start()
            with pytest.raises(KeyboardInterrupt):
                store.append("wait-1", [eslib.NewEvent("Blocked")])
            armed.clear()
            timer.join()
            assert time.monotonic() - started < 5
            blocker.rollback()
    finally:
        armed.clear()
        signal.signal(signal.SIGINT, previous)
    assert store.append("wait-1", [eslib.NewEvent("After")]).version == 2
    assert [e.type for e in store.read_stream("wait-1")] == ["First", "After"]
