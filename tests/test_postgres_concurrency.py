"""PostgreSQL: racing writers, and writers that must not wait for each other."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from postgres_server import reset_database

import eslib

pytestmark = pytest.mark.postgres


@pytest.fixture
def store(postgres_url: str) -> Iterator[eslib.EventStore]:
    reset_database(postgres_url)
    with eslib.connect(postgres_url, pool_size=8) as store:
        yield store


def test_racing_writers_on_one_stream_exactly_one_wins_each_version(
    store: eslib.EventStore,
) -> None:
    rounds, racers = 30, 6
    barrier = threading.Barrier(racers)
    wins: dict[int, list[tuple[int, str]]] = {}
    losses: list[eslib.WrongExpectedVersion] = []
    lock = threading.Lock()

    def racer(n: int) -> None:
        for version in range(rounds):
            barrier.wait(10)
            event = eslib.NewEvent("Raced", {"racer": n, "round": version}, id=uuid.uuid4())
            try:
                result = store.append("race-1", [event], version)
            except eslib.WrongExpectedVersion as exc:
                assert exc.expected == version and exc.actual == version + 1
                with lock:
                    losses.append(exc)
            else:
                with lock:
                    wins.setdefault(version, []).append((n, str(event.id)))
                assert result.version == version + 1
            barrier.wait(10)

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == list(range(rounds))
    assert all(len(w) == 1 for w in wins.values())
    assert len(losses) == rounds * (racers - 1)
    stored = list(store.read_stream("race-1"))
    assert [e.version for e in stored] == list(range(1, rounds + 1))
    assert [str(e.id) for e in stored] == [wins[v][0][1] for v in range(rounds)]


def test_writers_to_other_streams_do_not_wait_for_an_open_transaction(
    store: eslib.EventStore,
) -> None:
    opened, release = threading.Event(), threading.Event()

    def holder() -> None:
        with store.transaction() as tx:
            tx.append("slow-1", [eslib.NewEvent("Held")], eslib.NO_STREAM)
            opened.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert opened.wait(10)
        started = time.monotonic()
        for i in range(20):
            store.append(f"fast-{i}", [eslib.NewEvent("Quick")], eslib.NO_STREAM)
        assert time.monotonic() - started < 2.0  # no global lock held until commit
    finally:
        release.set()
        thread.join()
    assert store.stream_version("slow-1") == 1


def test_a_writer_to_the_same_stream_waits_then_sees_the_conflict(
    store: eslib.EventStore,
) -> None:
    opened, release = threading.Event(), threading.Event()

    def holder() -> None:
        with store.transaction() as tx:
            tx.append("order-1", [eslib.NewEvent("First")], eslib.NO_STREAM)
            opened.set()
            release.wait(10)
            time.sleep(0.2)

    thread = threading.Thread(target=holder)
    thread.start()
    assert opened.wait(10)
    release.set()
    started = time.monotonic()
    with pytest.raises(eslib.WrongExpectedVersion) as caught:
        store.append("order-1", [eslib.NewEvent("Second")], eslib.NO_STREAM)
    assert time.monotonic() - started >= 0.1  # it waited for the stream's writer
    thread.join()
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    assert [e.type for e in store.read_stream("order-1")] == ["First"]


def test_batches_over_the_same_streams_in_any_order_do_not_deadlock(
    store: eslib.EventStore,
) -> None:
    streams = [f"s-{i}" for i in range(6)]
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        order = streams if n % 2 else list(reversed(streams))
        try:
            for _ in range(20):
                store.append_many({s: ([eslib.NewEvent("Both")], eslib.ANY) for s in order})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(store.stream_version(s) == 80 for s in streams)
