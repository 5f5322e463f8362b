"""PostgreSQL: the global order a read_all follower can trust, and what holds it back."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import pytest
from postgres_server import admin_url

import eslib

pytestmark = pytest.mark.postgres


@pytest.fixture
def store(url: str) -> Iterator[eslib.EventStore]:
    with eslib.connect(url, pool_size=6) as store:
        yield store


def ev(name: str = "E", **data: object) -> eslib.NewEvent:
    return eslib.NewEvent(name, dict(data))


def follow(store: eslib.EventStore, checkpoint: int) -> tuple[list[eslib.RecordedEvent], int]:
    """One poll of a follower: what it is shown from its checkpoint, and the new checkpoint."""
    seen = list(store.read_all(checkpoint + 1))
    return seen, (seen[-1].position if seen else checkpoint)


def test_a_late_commit_is_delivered_in_order_never_skipped(store: eslib.EventStore) -> None:
    store.append("before-1", [ev()])
    seen, checkpoint = follow(store, 0)
    assert [e.position for e in seen] == [1]

    took_position = threading.Event()
    may_commit = threading.Event()
    late: list[eslib.AppendResult] = []

    pid: list[object] = []

    def slow_writer() -> None:
        with store.transaction() as tx:
            pid.extend(tx.execute("SELECT pg_backend_pid()")[0])  # a read: allowed first
            late.append(tx.append("late-1", [ev("Late")]))
            took_position.set()
            assert may_commit.wait(10)

    writer = threading.Thread(target=slow_writer)
    writer.start()
    try:
        assert took_position.wait(10)
        after = [store.append(f"after-{i}", [ev("After")]) for i in range(3)]
        assert all(a.positions[0] > late[0].positions[0] for a in after)
        # the later positions are committed, but the follower must not be shown them yet
        seen, checkpoint = follow(store, checkpoint)
        assert seen == []
        assert store.head_position() == 1
        # (the server may be shared: other sessions can show up too)
        blockers = store.backend.blocking_transactions()  # type: ignore[attr-defined]
        [blocker] = [b for b in blockers if b.pid == pid[0]]
        assert blocker.hidden_events == 3 and blocker.application_name == "eslib"
        assert "holds back 3 committed event(s)" in str(blocker)
    finally:
        may_commit.set()
        writer.join()
    seen, checkpoint = follow(store, checkpoint)
    assert [e.stream_id for e in seen] == ["late-1", "after-0", "after-1", "after-2"]
    assert [e.position for e in seen] == sorted(e.position for e in seen)
    assert store.head_position() == checkpoint == 5
    blockers = store.backend.blocking_transactions()  # type: ignore[attr-defined]
    assert pid[0] not in [b.pid for b in blockers]


def test_an_idle_transaction_elsewhere_is_named(store: eslib.EventStore, url: str) -> None:
    import psycopg

    with psycopg.connect(url, application_name="forgotten-report") as idle:
        idle.execute("CREATE TEMP TABLE scratch (x int)")  # takes a transaction id, then idles
        store.append("s-1", [ev()])
        assert list(store.read_all()) == []
        blockers = store.backend.blocking_transactions()  # type: ignore[attr-defined]
        [blocker] = [b for b in blockers if b.pid == idle.info.backend_pid]
        assert blocker.pid == idle.info.backend_pid
        assert blocker.application_name == "forgotten-report"
        assert blocker.state == "idle in transaction"
        idle.rollback()
    assert [e.stream_id for e in store.read_all()] == ["s-1"]


def test_a_transaction_in_another_database_does_not_hold_followers_back(
    store: eslib.EventStore,
) -> None:
    import psycopg

    admin, reason = admin_url()
    assert admin is not None, reason
    with psycopg.connect(admin, application_name="elsewhere") as other:
        other.execute("CREATE TEMP TABLE scratch (x int)")  # an xid, in another database
        store.append("s-1", [ev()])
        assert [e.stream_id for e in store.read_all()] == ["s-1"]
        assert store.head_position() == 1
        blockers = store.backend.blocking_transactions()  # type: ignore[attr-defined]
        assert other.info.backend_pid not in [b.pid for b in blockers]
        other.rollback()


def test_followers_never_skip_with_random_commit_delays(store: eslib.EventStore) -> None:
    """Many writers hold their positions for random times; a follower sees all, in order."""
    stop = threading.Event()
    written: list[int] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        rng = random.Random(n)
        for i in range(25):
            if rng.random() < 0.5:
                with store.transaction() as tx:
                    result = tx.append(f"w{n}-{i % 3}", [ev(n=n, i=i)])
                    time.sleep(rng.random() * 0.02)
            else:
                result = store.append(f"w{n}-{i % 3}", [ev(n=n, i=i), ev(n=n, i=i)])
            with lock:
                written.extend(result.positions)

    delivered: list[int] = []

    def follower() -> None:
        checkpoint = 0
        while True:
            done = stop.is_set()
            seen, checkpoint = follow(store, checkpoint)
            delivered.extend(e.position for e in seen)
            if done:
                return
            time.sleep(0.001)

    reader = threading.Thread(target=follower)
    reader.start()
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(5)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    reader.join()
    assert delivered == sorted(written)  # each exactly once, in order, none skipped


def test_an_append_must_be_the_first_write_of_a_transaction(store: eslib.EventStore) -> None:
    # a write in SQL before the append: only the server can tell (the facade refuses a
    # checkpoint first, or a second append, on every backend: test_conformance)
    with pytest.raises(eslib.ConfigurationError, match="first write"), store.transaction() as tx:
        tx.execute("INSERT INTO eslib_checkpoints (name, position) VALUES (?, 1)", ("p",))
        tx.append("s-1", [ev()])
    with pytest.raises(eslib.ConfigurationError, match="append_many"), store.transaction() as tx:
        tx.append("s-1", [ev()])
        tx.append("s-2", [ev()])
    assert store.streams() == [] and store.load_checkpoint("p") == 0
    with store.transaction() as tx:  # reads before the append are fine, and so is append_many
        assert tx.execute("SELECT count(*) FROM eslib_events") == [(0,)]
        tx.append_many({"s-1": ([ev()], eslib.NO_STREAM), "s-2": ([ev()], eslib.NO_STREAM)})
        tx.save_checkpoint("p", 2)
    assert store.streams() == ["s-1", "s-2"] and store.load_checkpoint("p") == 2


def test_positions_of_a_batch_follow_stream_order(store: eslib.EventStore) -> None:
    results = store.append_many({
        "b-1": ([ev(), ev()], eslib.NO_STREAM),
        "a-1": ([ev()], eslib.NO_STREAM),
    })
    assert results["b-1"].positions == (1, 2) and results["a-1"].positions == (3,)
    assert [(e.stream_id, e.version) for e in store.read_all()] == [
        ("b-1", 1), ("b-1", 2), ("a-1", 1)]
