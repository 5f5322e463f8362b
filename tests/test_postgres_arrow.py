"""PostgreSQL to_arrow / to_dataframe through ADBC: the events read_all returns, safely."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import psycopg
import pytest
from postgres_server import admin_url

import eslib
from eslib.backends.base import arrow_schema

pytestmark = pytest.mark.postgres

HOSTILE = ["x'; DROP TABLE eslib_events; --", "a\\'b-1", "q?%s$$-$1", 'dq"-é\\n', "-lead"]


@pytest.fixture
def store(url: str) -> Iterator[eslib.EventStore]:
    with eslib.connect(url, pool_size=6) as store:
        yield store


def fill(store: eslib.EventStore) -> None:
    for i in range(6):
        store.append(f"order-{i % 3}", [
            eslib.NewEvent("Placed", {"i": i, "note": "x'y\n"}, metadata={"by": i}),
            eslib.NewEvent("Paid", {"amount": i * 1.5})])
    store.append("stock-1", [eslib.NewEvent("Reserved", {"sku": "A1"})])
    for n, hostile in enumerate(HOSTILE):
        store.append(hostile, [eslib.NewEvent(hostile, {"k": hostile}, metadata={"n": n})])


def as_read_all(frame) -> list[tuple[object, ...]]:
    return [(r.position, r.stream_id, r.version, str(r.id), r.type, json.loads(r.data),
             json.loads(r.metadata), r.recorded_at.to_pydatetime())
            for r in frame.itertuples()]


def expected(store: eslib.EventStore, **query: object) -> list[tuple[object, ...]]:
    return [(e.position, e.stream_id, e.version, str(e.id), e.type, e.data, e.metadata,
             e.recorded_at) for e in store.read_all(**query)]  # type: ignore[arg-type]


def test_the_same_rows_as_read_all_in_the_documented_form(store):
    fill(store)
    frame = store.to_dataframe()
    assert as_read_all(frame) == expected(store)
    assert store.to_arrow().schema == arrow_schema()  # no driver metadata on the fields
    assert str(frame["recorded_at"].dtype) == "datetime64[us, UTC]"
    assert frame["position"].dtype == "int64" and frame["version"].dtype == "int64"


@pytest.mark.parametrize("query", [
    {"from_position": 5}, {"limit": 3}, {"limit": 0}, {"types": ["Paid"]}, {"types": []},
    {"types": ["Paid", "Reserved"], "from_position": 4, "limit": 2}, {"category": "order"},
    {"category": "order", "types": ["Placed"], "limit": 4}, {"category": "nope"},
    {"from_position": 10_000},
], ids=repr)
def test_filters_select_what_read_all_selects(store, query):
    fill(store)
    assert as_read_all(store.to_dataframe(**query)) == expected(store, **query)


def test_to_position_and_stream_id(store):
    fill(store)
    frame = store.to_dataframe("order-1", to_position=9)  # order-1 is at 3, 4, 9, 10
    assert [(r.position, r.version) for r in frame.itertuples()] == [(3, 1), (4, 2), (9, 3)]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_ids_and_types_round_trip(store, url, hostile):
    fill(store)
    by_stream = store.to_dataframe(hostile)
    assert by_stream["stream_id"].tolist() == [hostile]
    assert json.loads(by_stream["data"].iloc[0]) == {"k": hostile}
    assert store.to_dataframe(types=[hostile])["type"].tolist() == [hostile]
    category = hostile.split("-", 1)[0]
    if category:
        assert as_read_all(store.to_dataframe(category=category)) == expected(
            store, category=category)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM eslib_events").fetchone() == (
            len(expected(store)),)


def test_an_empty_store_gives_the_columns(store):
    frame = store.to_dataframe()
    assert list(frame.columns) == arrow_schema().names and len(frame) == 0
    assert store.to_arrow(limit=0).schema == arrow_schema()
    assert str(frame["recorded_at"].dtype) == "datetime64[us, UTC]"


def test_the_ordering_fence_of_read_all_is_respected(store):
    store.append("before-1", [eslib.NewEvent("E")])
    took_position, may_commit = threading.Event(), threading.Event()

    def slow_writer() -> None:
        with store.transaction() as tx:
            tx.append("late-1", [eslib.NewEvent("Late")])
            took_position.set()
            assert may_commit.wait(10)

    writer = threading.Thread(target=slow_writer)
    writer.start()
    try:
        assert took_position.wait(10)
        store.append("after-1", [eslib.NewEvent("After")])  # committed, a higher position
        held_back = store.to_dataframe()
        assert held_back["stream_id"].tolist() == ["before-1"]
        assert as_read_all(held_back) == expected(store)
    finally:
        may_commit.set()
        writer.join()
    frame = store.to_dataframe()
    assert frame["stream_id"].tolist() == ["before-1", "late-1", "after-1"]
    assert as_read_all(frame) == expected(store)


def test_a_broken_connection_is_reopened_once(store, url):
    fill(store)
    reader = store.backend._arrow  # type: ignore[attr-defined]
    pid = reader.read("SELECT pg_backend_pid() AS pid").column("pid")[0].as_py()
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert as_read_all(store.to_dataframe()) == expected(store)


def test_errors_name_the_server_never_the_password(url):
    import traceback

    with_password = url.replace("postgres@", "postgres:hunter2@")
    name = url.rsplit("/", 1)[1]
    with eslib.connect(with_password) as store:  # trust auth: the password is not checked
        maintenance = admin_url()[0]
        assert maintenance is not None
        with psycopg.connect(maintenance, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            try:
                with pytest.raises(eslib.StoreError) as caught:
                    store.to_dataframe()  # the reader connects on first use: refused
            finally:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        shown = "".join(traceback.format_exception(caught.value))
        assert "hunter2" not in shown and "postgres:***@" in str(caught.value)
        assert len(store.to_dataframe()) == 0  # works again once connections are allowed


def test_a_failed_snapshot_read_leaves_the_reader_usable(store):
    fill(store)
    reader = store.backend._arrow  # type: ignore[attr-defined]

    def fails(fetch):
        fetch("SELECT 1 AS one")
        fetch("SELECT nosuch FROM eslib_events")

    with pytest.raises(eslib.StoreError, match="nosuch"):
        reader.run(fails, snapshot=True)
    with pytest.raises(ZeroDivisionError):
        reader.run(lambda fetch: (fetch("SELECT 1 AS one"), 1 / 0), snapshot=True)
    # not left in the snapshot's REPEATABLE READ transaction
    status = reader.read("SELECT current_setting('transaction_isolation') AS isolation")
    assert status.to_pylist() == [{"isolation": "read committed"}]
    assert as_read_all(store.to_dataframe()) == expected(store)


def test_events_frame_reads_every_committed_event_in_one_snapshot(store):
    from eslib.analysis import events_frame

    fill(store)
    frame = events_frame(store, category="order", metadata=True)
    assert frame.index.tolist() == [e.position for e in store.read_all(category="order")]
    assert frame["i"].dropna().astype(int).tolist() == list(range(6))
    assert frame["metadata.by"].dropna().astype(int).tolist() == list(range(6))
    hostile = events_frame(store, HOSTILE[0], expand=False)
    assert json.loads(hostile["data"].iloc[0]) == {"k": HOSTILE[0]}
