"""PostgreSQL live push: LISTEN/NOTIFY wakes followers, and what holds them back is named.

Followers here use a 30 s safety-net poll, so an event that arrives within the tests'
5 s bounds was pushed, not polled.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

import eslib

pytestmark = pytest.mark.postgres

SAFETY_NET = 30.0  # longer than any bound below: delivery within them proves push
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(url: str) -> Iterator[eslib.EventStore]:
    with eslib.connect(url, pool_size=3, warn_blocked_after=0.3) as store:
        yield store


def listener(store: eslib.EventStore):  # type: ignore[no-untyped-def]
    return store.backend.listener  # type: ignore[attr-defined]


def follow(store: eslib.EventStore, **options: object) -> tuple[eslib.Subscription, list[int]]:
    """A running subscription that records positions, once it waits on LISTEN."""
    seen: list[int] = []
    sub = eslib.Subscription(store, lambda e, r: seen.append(r.position),
                             poll_interval=SAFETY_NET, **options)  # type: ignore[arg-type]
    sub.start()
    assert listener(store).listening.wait(5)
    time.sleep(0.2)  # let the follower reach its blocking wait
    return sub, seen


def append_in_another_process(url: str, stream: str, n: int = 1) -> int:
    """Append ``n`` events from a separate Python process; the last position."""
    code = (
        "import sys, eslib\n"
        "with eslib.connect(sys.argv[1]) as s:\n"
        "    r = s.append(sys.argv[2], [eslib.NewEvent('Pushed', {'i': i})"
        " for i in range(int(sys.argv[3]))])\n"
        "    print(r.positions[-1])\n")
    done = subprocess.run([sys.executable, "-c", code, url, stream, str(n)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=True)
    return int(done.stdout.strip())


def test_a_waiting_follower_is_woken_by_another_process(
    store: eslib.EventStore, url: str
) -> None:
    sub, seen = follow(store)
    try:
        probes = []
        inner = listener(store)._probe
        listener(store)._probe = lambda: probes.append(1) or inner()
        time.sleep(1.0)
        assert len(probes) <= 2  # blocked on LISTEN, not polling
        for round_ in range(3):
            position = append_in_another_process(url, f"s-{round_}", 2)
            assert sub.wait_until(position, 5.0), seen  # < 5 s with a 30 s poll: pushed
        assert seen == list(range(1, 7))
    finally:
        started = time.monotonic()
        sub.stop()
        assert time.monotonic() - started < 2  # stop wakes the waiting thread


def test_push_latency_is_milliseconds(store: eslib.EventStore) -> None:
    sub, seen = follow(store)
    try:
        lags = []
        for i in range(20):
            sent = time.monotonic()
            position = store.append("fast-1", [eslib.NewEvent("E", {"i": i})]).positions[0]
            assert sub.wait_until(position, 5.0)
            lags.append(time.monotonic() - sent)
            time.sleep(0.01)
    finally:
        sub.stop()
    assert seen == list(range(1, 21))
    lags.sort()
    assert lags[len(lags) // 2] < 1.0  # loose: the machine is shared; typically ~5 ms


def test_a_follower_that_fell_behind_catches_up_in_pages(store: eslib.EventStore) -> None:
    store.append_many({f"s-{k}": ([eslib.NewEvent("E", {"i": i}) for i in range(250)],
                                  eslib.ANY) for k in range(4)})
    pages: list[int] = []
    seen: list[int] = []
    sub = eslib.Subscription(store, lambda e, r: seen.append(r.position), page_size=100,
                             poll_interval=SAFETY_NET)
    real_step = sub.step
    sub.step = lambda: pages.append(real_step()) or pages[-1]  # type: ignore[method-assign]
    with sub:
        assert sub.wait_until(1000, 10)
    assert seen == list(range(1, 1001))
    assert pages[:10] == [100] * 10


def test_a_killed_listen_connection_reconnects(store: eslib.EventStore, url: str) -> None:
    sub, seen = follow(store)
    try:
        first = listener(store).backend_pid
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        deadline = time.monotonic() + 5
        while listener(store).connections < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert listener(store).connections == 2 and listener(store).backend_pid != first
        assert listener(store).listening.wait(5)
        position = append_in_another_process(url, "after-kill")
        assert sub.wait_until(position, 5.0)
        assert seen == [position]
    finally:
        sub.stop()


def test_a_blocking_transaction_is_warned_about_then_the_follower_resumes(
    store: eslib.EventStore, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    sub, seen = follow(store)
    try:
        with psycopg.connect(url, application_name="forgotten-psql") as idle:
            idle.execute("SELECT pg_current_xact_id()")  # an xid, then idle in transaction
            idle.execute("SELECT 'secret text' AS never_logged")
            pid = idle.info.backend_pid
            with caplog.at_level(logging.WARNING, logger="eslib.postgres"):
                position = store.append("held-1", [eslib.NewEvent("E")]).positions[0]
                deadline = time.monotonic() + 5
                while not caplog.records and time.monotonic() < deadline:
                    time.sleep(0.02)
            assert seen == []  # committed, but the fence holds it back
            [record] = [r for r in caplog.records if f"pid {pid}" in r.getMessage()]
            message = record.getMessage()
            assert "forgotten-psql" in message and "idle in transaction" in message
            assert "transaction started" in message and "secret" not in message
            idle.rollback()  # no NOTIFY for this: the follower's fence poll sees it
        assert sub.wait_until(position, 5.0)
        assert seen == [position]
    finally:
        sub.stop()


def test_notify_can_be_switched_off_per_database(url: str) -> None:
    dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{dbname}" SET eslib.notify = off')
        try:
            with eslib.connect(url) as store, psycopg.connect(url, autocommit=True) as lsn:
                lsn.execute("LISTEN eslib_events")
                store.append("quiet-1", [eslib.NewEvent("E")])
                assert list(lsn.notifies(timeout=0.3)) == []
        finally:
            admin.execute(f'ALTER DATABASE "{dbname}" RESET eslib.notify')
    with eslib.connect(url) as store, psycopg.connect(url, autocommit=True) as lsn:
        lsn.execute("LISTEN eslib_events")
        store.append("loud-1", [eslib.NewEvent("E")])
        assert [n.channel for n in lsn.notifies(timeout=2, stop_after=1)] == ["eslib_events"]


def test_rolled_back_appends_notify_nobody(store: eslib.EventStore, url: str) -> None:
    with psycopg.connect(url, autocommit=True) as lsn:
        lsn.execute("LISTEN eslib_events")
        with pytest.raises(RuntimeError), store.transaction() as tx:
            tx.append("gone-1", [eslib.NewEvent("E")])
            raise RuntimeError("roll back")
        assert list(lsn.notifies(timeout=0.3)) == []


def test_old_functions_are_replaced_on_connect(url: str) -> None:
    with eslib.connect(url):
        pass
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE OR REPLACE FUNCTION eslib_fence() RETURNS xid8 LANGUAGE sql"
                     " STABLE AS $fn$ SELECT pg_snapshot_xmin(pg_current_snapshot()) $fn$")
    with eslib.connect(url), psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT prosrc FROM pg_proc WHERE proname = 'eslib_fence'").fetchone()
        assert row is not None and "pg_stat_get_activity" in row[0]


def test_threads_waiting_together_are_all_woken(store: eslib.EventStore) -> None:
    subs = [follow(store) for _ in range(3)]
    try:
        position = store.append("many-1", [eslib.NewEvent("E")]).positions[0]
        for sub, seen in subs:
            assert sub.wait_until(position, 5.0)
            assert seen == [position]
    finally:
        for sub, _ in subs:
            sub.stop()
    assert threading.active_count() < 50
