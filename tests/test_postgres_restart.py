"""PostgreSQL server restarts (pg_ctl restart -m fast) under appends and subscriptions.

Runs on a throwaway cluster of its own (never the shared server), started for this
module and stopped at its end.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres_server import _load_throwaway, reset_database

import eslib

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, Path, object]]:
    throwaway = _load_throwaway()
    try:
        url, folder = throwaway.start()
    except (OSError, RuntimeError) as exc:
        if os.environ.get("ESLIB_REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(f"no throwaway PostgreSQL cluster: {exc}")
    try:
        yield url, folder, throwaway
    finally:
        throwaway.stop(folder)


@pytest.fixture
def url(cluster: tuple[str, Path, object]) -> str:
    reset_database(cluster[0])
    return cluster[0]


def restart(cluster: tuple[str, Path, object]) -> None:
    cluster[2].restart(cluster[1])  # type: ignore[attr-defined]


def until(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def append_retrying(store: eslib.EventStore, stream: str, events: list[eslib.NewEvent],
                    seconds: float = 20) -> eslib.AppendResult:
    """Append, resending the same events after a failure (safe: same ids)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return store.append(stream, events)
        except eslib.StoreError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def started_at(url: str) -> object:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_postmaster_start_time()").fetchone()
    assert row is not None
    return row[0]


def test_appends_in_flight_during_a_restart_are_stored_or_reported(
    cluster: tuple[str, Path, object], url: str
) -> None:
    attempts: list[tuple[str, list[eslib.NewEvent], str]] = []
    stop = threading.Event()
    booted = started_at(url)

    with eslib.connect(url, pool_size=4) as store:
        def writer(n: int) -> None:
            i = 0
            while not stop.is_set():
                stream, events = f"s-{n}-{i % 3}", [eslib.NewEvent("W", id=uuid.uuid4())]
                try:
                    store.append(stream, events)
                    outcome = "committed"
                except eslib.WriteOutcomeUnknown as exc:
                    assert "may or may not" in str(exc)
                    outcome = "unknown"
                except eslib.StoreError:  # e.g. no connection: nothing was sent
                    outcome = "not written"
                attempts.append((stream, events, outcome))
                i += 1

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        try:
            assert until(lambda: len(attempts) >= 40, 20)
            before = len(attempts)
            restart(cluster)
            assert until(lambda: sum(o == "committed" for *_, o in attempts[before:]) >= 40, 30)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        assert not any(t.is_alive() for t in threads)
        assert started_at(url) != booted  # the server did restart under the appends

        stored = {e.id for e in store.read_all()}
        for _, events, outcome in attempts:
            if outcome == "committed":
                assert events[0].id in stored
            elif outcome == "not written":
                assert events[0].id not in stored
        for stream, events, _ in attempts:  # resending everything is safe
            append_retrying(store, stream, events)
        ids = [e.id for e in store.read_all()]
        assert sorted(ids) == sorted(events[0].id for _, events, _ in attempts)


def test_a_commit_cut_by_a_restart_says_the_outcome_is_unknown(
    cluster: tuple[str, Path, object], url: str
) -> None:
    event = eslib.NewEvent("Maybe", id=uuid.uuid4())
    with eslib.connect(url) as store:
        with pytest.raises(eslib.WriteOutcomeUnknown, match="may or may not"), \
                store.transaction() as tx:
            tx.append("maybe-1", [event], eslib.NO_STREAM)
            restart(cluster)  # the transaction's connection is cut before COMMIT
        assert append_retrying(store, "maybe-1", [event]).version == 1  # resend: stored once
        assert [e.id for e in store.read_stream("maybe-1")] == [event.id]


@pytest.mark.parametrize("durable", [False, True], ids=["in-memory", "durable"])
def test_a_subscription_survives_a_restart(
    cluster: tuple[str, Path, object], url: str, durable: bool
) -> None:
    seen: list[int] = []
    with eslib.connect(url) as reader, eslib.connect(url) as writer:
        sub = eslib.Subscription(reader, lambda e, r: seen.append(r.position),
                                 name="restart-proof" if durable else None,
                                 poll_interval=30)  # delivery after the restart is pushed
        listener = reader.backend.listener  # type: ignore[attr-defined]
        with sub:
            assert listener.listening.wait(5)
            positions = [writer.append("a-1", [eslib.NewEvent("A", {"i": i})]).positions[0]
                         for i in range(10)]
            assert sub.wait_until(positions[-1], 5)
            restart(cluster)
            for i in range(10):
                result = append_retrying(writer, "b-1", [eslib.NewEvent("B", {"i": i},
                                                                        id=uuid.uuid4())])
                positions.append(result.positions[0])
            assert sub.wait_until(positions[-1], 15), (seen, positions)
            assert listener.connections >= 2  # the LISTEN connection was re-made
            time.sleep(0.2)
        if durable:  # at-least-once: a checkpoint save cut by the restart redelivers one
            assert sorted(set(seen)) == positions and len(seen) - len(set(seen)) <= 1
        else:
            assert seen == positions  # each exactly once, in order
        assert sub.error is None
