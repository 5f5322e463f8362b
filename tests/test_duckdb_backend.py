"""DuckDB backend details: bulk appends inside an open transaction, the Arrow read path."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pyarrow as pa
import pytest

import eslib
from eslib import NewEvent


@pytest.fixture
def store(tmp_path) -> Iterator[eslib.EventStore]:
    with eslib.connect(f"duckdb:///{tmp_path / 'events.duckdb'}") as store:
        yield store


def table(ids: list[str | None], data: list[str] | None = None) -> pa.Table:
    n = len(ids)
    return pa.table({"stream_id": [f"b-{i}" for i in range(n)], "type": ["T"] * n,
                     "data": data or ["{}"] * n, "id": pa.array(ids, pa.string())})


@pytest.mark.parametrize("case", ["repeated", "stored", "invalid"])
def test_refused_bulk_append_leaves_the_transaction_usable(store, case):
    # A failed DuckDB statement aborts the whole transaction: refusals are found first.
    stored = str(uuid.uuid4())
    fresh = str(uuid.uuid4())
    refused = {"repeated": table([fresh, fresh]), "stored": table([fresh, stored]),
               "invalid": table([None, None], ['{"a":1}', '{"a":1}{}'])}[case]
    error = eslib.InvalidEvent if case == "invalid" else eslib.DuplicateEventId
    with store.transaction() as tx:
        tx.append("a-1", [NewEvent("A", id=stored)])
        with pytest.raises(error):
            store.bulk_append(refused)
        assert store.bulk_append(table([None])) == 1  # the transaction goes on
        tx.save_checkpoint("after", 2)
    events = list(store.read_all())
    assert [(e.stream_id, e.position) for e in events] == [("a-1", 1), ("b-0", 2)]
    assert store.load_checkpoint("after") == 2


def test_bulk_append_in_a_rolled_back_transaction_leaves_nothing(store):
    with pytest.raises(RuntimeError), store.transaction():
        assert store.bulk_append(table([None, None])) == 2
        assert store.stream_version("b-1") == 1
        raise RuntimeError("undo")
    assert store.head_position() == 0 and store.stream_version("b-1") == 0
    assert store.append("b-1", [NewEvent("A")]).positions == (1,)


def test_refused_bulk_append_writes_nothing_and_store_goes_on(store):
    store.append("b-0", [NewEvent("A")])
    with pytest.raises(eslib.InvalidEvent, match="row 1"):
        store.bulk_append(table([None, None], ['{"a":1}', '{"a":1}{}']))
    with pytest.raises(eslib.DuplicateEventId):
        store.bulk_append(table([str(uuid.uuid4())] * 2))
    assert store.bulk_append(table([None, None])) == 2
    assert [(e.stream_id, e.version, e.position) for e in store.read_all()] == [
        ("b-0", 1, 1), ("b-0", 2, 2), ("b-1", 1, 3)]


def test_frames_follow_positions_whatever_the_storage_order(store):
    store.append("s-1", [NewEvent("A", {"n": i}) for i in range(5)])
    con = store.backend.connection  # a row rewritten with SQL moves to the end of storage
    con.execute("CREATE TEMP TABLE kept AS SELECT * FROM eslib_events WHERE position = 1")
    con.execute("DELETE FROM eslib_events WHERE position = 1")
    con.execute("INSERT INTO eslib_events SELECT * FROM kept")
    assert [r[0] for r in con.sql("SELECT position FROM eslib_events").fetchall()] == [
        2, 3, 4, 5, 1]
    assert store.to_dataframe()["position"].tolist() == [1, 2, 3, 4, 5]
    assert store.to_dataframe(limit=3)["position"].tolist() == [1, 2, 3]
    assert store.to_arrow(from_position=2, limit=2)["position"].to_pylist() == [2, 3]
    assert store.to_dataframe(from_position=5, limit=0).empty


def test_frames_of_a_store_in_storage_order_need_no_sort(store, monkeypatch):
    store.append("s-1", [NewEvent("A") for _ in range(5)])
    sent: list[str] = []
    con = store.backend.connection

    class Spy:
        def __getattr__(self, name: str) -> object:
            return getattr(con, name)

        def sql(self, query: str, **kwargs: object) -> object:
            sent.append(query)
            return con.sql(query, **kwargs)

    monkeypatch.setattr(store.backend, "_con", Spy())
    assert store.to_dataframe(limit=3)["position"].tolist() == [1, 2, 3]
    assert store.to_dataframe(types=["A"])["position"].tolist() == [1, 2, 3, 4, 5]
    assert not any("ORDER BY" in q for q in sent)


def test_a_missing_folder_is_named_before_duckdb_is_asked(tmp_path):
    path = tmp_path / "no-such-folder" / "events.duckdb"
    with pytest.raises(eslib.ConfigurationError, match="no-such-folder' does not exist"):
        eslib.connect(f"duckdb:///{path}")
    assert not path.parent.exists()


def test_a_duckdb_url_takes_no_query(tmp_path):
    # it once created a file named "events.duckdb?read_only=true" and wrote to it
    url = f"duckdb:///{tmp_path / 'events.duckdb'}?read_only=true"
    with pytest.raises(eslib.ConfigurationError, match=r"read_only=True\)"):
        eslib.connect(url)
    assert list(tmp_path.iterdir()) == []


def test_read_only_store_refuses_writes_and_keeps_the_file(tmp_path):
    from eslib.backends.base import Snapshot

    path = tmp_path / "events.duckdb"
    with pytest.raises(eslib.ConfigurationError, match=r"no DuckDB store at .* read-only"):
        eslib.connect(f"duckdb:///{path}", read_only=True)
    assert not path.exists()
    with eslib.connect(f"duckdb:///{path}") as store:
        store.append("a-1", [NewEvent("Opened")])
    with eslib.connect(f"duckdb:///{path}", read_only=True) as store:
        writes = [lambda: store.append("a-1", [NewEvent("Closed")], 1),
                  lambda: store.bulk_append(table([None])),
                  lambda: store.save_snapshot(Snapshot("a-1", 1, "v1", "{}"))]
        for write in writes:
            with pytest.raises(eslib.ConfigurationError, match="opened with read_only=True"):
                write()
        assert [e.type for e in store.read_all()] == ["Opened"]
        assert store.load_snapshot("a-1") is None
        # one backend per file in a process: a writer must not get this read-only one
        with pytest.raises(eslib.ConfigurationError, match="already open in this process"):
            eslib.connect(f"duckdb:///{path}")
    with eslib.connect(f"duckdb:///{path}") as store:
        with pytest.raises(eslib.ConfigurationError, match="read_only=False"):
            eslib.connect(f"duckdb:///{path}", read_only=True)
        store.append("a-1", [NewEvent("Closed")], 1)
