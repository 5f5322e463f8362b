"""The store contract (DESIGN.md), one suite run on every backend: memory, duckdb, postgres."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pandas as pd
import pyarrow as pa
import pytest

import eslib
from eslib import ANY, NO_STREAM, STREAM_EXISTS, NewEvent
from eslib.backends.base import Snapshot


def ev(type_: str = "Happened", **data: object) -> NewEvent:
    return NewEvent(type_, dict(data))


def stream_events(store: eslib.EventStore, stream_id: str) -> list[eslib.RecordedEvent]:
    return list(store.read_stream(stream_id))


# -- append and versions --------------------------------------------------------


def test_append_returns_version_and_positions(store):
    first = store.append("order-1", [ev("Placed", sku="A1"), ev("Paid")], NO_STREAM)
    assert first.stream_id == "order-1"
    assert first.version == 2
    assert first.positions == (1, 2)
    second = store.append("order-1", [ev("Shipped")], 2)
    assert second.version == 3
    assert second.positions[0] > first.positions[-1]


def test_versions_start_at_one_and_are_gapless(store):
    for i in range(5):
        store.append("s-1", [ev(n=i)] * 1)
        store.append("s-2", [ev(n=i), ev(n=i)])
    assert [e.version for e in stream_events(store, "s-1")] == [1, 2, 3, 4, 5]
    assert [e.version for e in stream_events(store, "s-2")] == list(range(1, 11))
    assert store.stream_version("s-2") == 10


def test_missing_stream_has_version_zero_and_reads_empty(store):
    assert store.stream_version("nope-1") == 0
    assert stream_events(store, "nope-1") == []


@pytest.mark.parametrize(
    ("expected", "holds", "ok"),
    [
        (NO_STREAM, 0, True),
        (NO_STREAM, 2, False),
        (2, 2, True),
        (1, 2, False),
        (3, 2, False),
        (ANY, 0, True),
        (ANY, 2, True),
        (STREAM_EXISTS, 2, True),
        (STREAM_EXISTS, 0, False),
    ],
)
def test_expected_version(store, expected, holds, ok):
    if holds:
        store.append("acc-1", [ev() for _ in range(holds)])
    if ok:
        result = store.append("acc-1", [ev("X")], expected)
        assert result.version == holds + 1
    else:
        with pytest.raises(eslib.WrongExpectedVersion) as info:
            store.append("acc-1", [ev("X")], expected)
        err = info.value
        assert isinstance(err, eslib.ConcurrencyError)
        assert isinstance(err, eslib.EslibError)
        assert (err.stream_id, err.expected, err.actual) == ("acc-1", expected, holds)
        assert "acc-1" in str(err) and str(holds) in str(err)
        assert store.stream_version("acc-1") == holds  # nothing written
        assert len(list(store.read_all())) == holds


def test_append_is_atomic_on_conflict_in_append_many(store):
    store.append("a-1", [ev()])
    with pytest.raises(eslib.WrongExpectedVersion):
        store.append_many({"b-1": ([ev(), ev()], NO_STREAM), "a-1": ([ev()], NO_STREAM)})
    assert store.stream_version("b-1") == 0
    assert [e.stream_id for e in store.read_all()] == ["a-1"]


def test_append_many_commits_several_streams(store):
    results = store.append_many(
        {"order-1": ([ev("Placed")], NO_STREAM), "stock-A1": ([ev("Reserved"), ev("R2")], ANY)}
    )
    assert results["order-1"].version == 1
    assert results["stock-A1"].version == 2
    positions = [*results["order-1"].positions, *results["stock-A1"].positions]
    assert len(set(positions)) == 3
    assert [e.position for e in store.read_all()] == sorted(positions)


def test_batch_unit_of_work(store):
    with store.batch() as batch:
        batch.append("order-1", [ev("Placed")], NO_STREAM)
        batch.append("order-1", [ev("Paid")], 1)
        batch.append("stock-A1", [ev("Reserved")])
    assert batch.results["order-1"].version == 2
    assert [e.type for e in stream_events(store, "order-1")] == ["Placed", "Paid"]


def test_batch_writes_nothing_when_block_raises(store):
    with pytest.raises(RuntimeError), store.batch() as batch:
        batch.append("order-1", [ev("Placed")], NO_STREAM)
        raise RuntimeError("abandon")
    assert store.stream_version("order-1") == 0


# -- idempotency and duplicates -----------------------------------------------------


def test_resending_the_same_append_is_idempotent(store):
    events = [NewEvent("Placed", {"n": 1}, id=uuid.uuid4()), NewEvent("Paid", id=uuid.uuid4())]
    first = store.append("order-1", events, NO_STREAM)
    again = store.append("order-1", events, NO_STREAM)
    assert again == first
    assert store.stream_version("order-1") == 2
    assert len(list(store.read_all())) == 2


def test_idempotent_retry_inside_append_many(store):
    events = [NewEvent("Placed", id=uuid.uuid4())]
    store.append("order-1", events, NO_STREAM)
    results = store.append_many(
        {"order-1": (events, NO_STREAM), "order-2": ([ev("Placed")], NO_STREAM)}
    )
    assert results["order-1"].version == 1
    assert results["order-2"].version == 1
    assert len(list(store.read_all())) == 2


def test_same_id_elsewhere_is_duplicate(store):
    event = NewEvent("Placed", id=uuid.uuid4())
    store.append("order-1", [event])
    with pytest.raises(eslib.DuplicateEventId) as info:
        store.append("order-2", [event])
    assert str(event.id) in str(info.value)
    assert store.stream_version("order-2") == 0


def test_partly_stored_ids_are_duplicates(store):
    a, b = NewEvent("A", id=uuid.uuid4()), NewEvent("B", id=uuid.uuid4())
    store.append("order-1", [a])
    with pytest.raises(eslib.DuplicateEventId):
        store.append("order-1", [a, b], 1)
    assert store.stream_version("order-1") == 1


def test_string_ids_are_accepted(store):
    event_id = str(uuid.uuid4())
    store.append("s-1", [NewEvent("A", id=event_id)])
    assert str(stream_events(store, "s-1")[0].id) == event_id


def test_same_id_twice_in_one_append_is_invalid(store):
    event = NewEvent("A", id=uuid.uuid4())
    with pytest.raises(eslib.InvalidEvent):
        store.append("s-1", [event, event])
    assert store.stream_version("s-1") == 0


# -- reading --------------------------------------------------------------------


def test_recorded_event_fields(make_store):
    start = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    store = make_store(clock=eslib.TickingClock(start, timedelta(seconds=1)))
    event_id = uuid.uuid4()
    store.append("order-7", [NewEvent("Placed", {"sku": "A1", "qty": 2},
                                      metadata={"user": "ann"}, id=event_id)])
    (event,) = stream_events(store, "order-7")
    assert event.stream_id == "order-7"
    assert (event.version, event.position, event.id) == (1, 1, event_id)
    assert event.type == "Placed"
    assert event.data == {"sku": "A1", "qty": 2}
    assert list(event.data) == ["sku", "qty"]  # key order survives
    assert event.metadata == {"user": "ann"}
    assert event.recorded_at == start
    assert event.recorded_at.utcoffset() == timedelta(0)
    assert event.category == "order"


def test_read_stream_bounds_direction_and_limit(store):
    store.append("s-1", [ev(n=i) for i in range(1, 11)])
    assert [e.version for e in store.read_stream("s-1", from_version=4)] == list(range(4, 11))
    assert [e.version for e in store.read_stream("s-1", 4, limit=3)] == [4, 5, 6]
    assert [e.version for e in store.read_stream("s-1", backwards=True, limit=3)] == [10, 9, 8]
    assert [e.version for e in store.read_stream("s-1", 8, backwards=True)] == [10, 9, 8]
    assert list(store.read_stream("s-1", 11)) == []
    assert list(store.read_stream("s-1", limit=0)) == []


def test_read_all_global_order_bounds_and_filters(store):
    store.append("order-1", [ev("Placed")])
    store.append("stock-A1", [ev("Reserved")])
    store.append("order-2", [ev("Placed"), ev("Paid")])
    store.append("orderbook-1", [ev("Opened")])
    everything = list(store.read_all())
    positions = [e.position for e in everything]
    assert positions == sorted(positions) and len(set(positions)) == 5
    p = positions[2]
    assert [e.position for e in store.read_all(p)] == positions[2:]
    assert [e.position for e in store.read_all(p + 1, limit=1)] == [positions[3]]
    assert [e.type for e in store.read_all(types=["Placed"])] == ["Placed", "Placed"]
    assert [e.stream_id for e in store.read_all(category="order")] == [
        "order-1", "order-2", "order-2",
    ]
    assert [e.type for e in store.read_all(category="order", types=["Paid"])] == ["Paid"]
    assert list(store.read_all(types=[])) == []
    assert list(store.read_all(positions[-1] + 1)) == []
    assert store.head_position() == positions[-1]


def test_reads_page_through_long_streams(store):
    total = 2500  # more than two pages
    store.append("big-1", [ev(n=i) for i in range(total)])
    assert [e.data["n"] for e in store.read_stream("big-1")] == list(range(total))
    backwards = list(store.read_stream("big-1", backwards=True))
    assert [e.version for e in backwards] == list(range(total, 0, -1))
    assert len(list(store.read_all())) == total
    assert len(list(store.read_all(limit=1500))) == 1500


def test_reads_are_lazy(store):
    store.append("s-1", [ev()])
    iterator = store.read_all()
    store.append("s-1", [ev()])
    assert len(list(iterator)) in (1, 2)  # a generator, read when consumed
    assert iter(iterator) is iterator


def test_streams_lists_ids(store):
    for sid in ("b-1", "a-2", "a-1"):
        store.append(sid, [ev()])
    assert store.streams() == ["a-1", "a-2", "b-1"]


def test_category_is_before_first_dash(store):
    store.append("order-line-1", [ev()])
    store.append("order", [ev()])
    assert {e.stream_id for e in store.read_all(category="order")} == {"order-line-1", "order"}
    assert list(store.read_all(category="order-line")) == []


# -- DataFrames -------------------------------------------------------------------


def test_to_dataframe_columns_and_dtypes(store):
    store.append("order-1", [ev("Placed", sku="A1"), ev("Paid", amount=5)])
    store.append("stock-A1", [ev("Reserved")])
    frame = store.to_dataframe()
    assert list(frame.columns) == [
        "position", "stream_id", "version", "type", "recorded_at", "data", "metadata", "id",
    ]
    assert len(frame) == 3
    assert str(frame["position"].dtype) == "int64"
    assert str(frame["version"].dtype) == "int64"
    assert isinstance(frame["recorded_at"].dtype, pd.DatetimeTZDtype)
    assert str(frame["recorded_at"].dt.tz) == "UTC"
    assert frame["position"].is_monotonic_increasing
    assert frame["data"].iloc[0] == '{"sku":"A1"}'
    parsed = store.to_dataframe("order-1", json="dict")
    assert parsed["data"].tolist() == [{"sku": "A1"}, {"amount": 5}]
    assert store.to_dataframe(category="stock")["type"].tolist() == ["Reserved"]
    assert store.to_dataframe(types=["Paid"])["version"].tolist() == [2]
    assert len(store.to_dataframe(limit=2)) == 2


def test_limit_zero_reads_nothing(store):
    store.append("order-1", [ev("Placed"), ev("Paid")])
    assert list(store.read_all(limit=0)) == []
    assert store.to_arrow(limit=0).num_rows == 0
    for json in ("text", "dict"):
        frame = store.to_dataframe(limit=0, json=json)
        assert len(frame) == 0 and "position" in frame.columns
    assert store.to_dataframe(from_position=2, limit=1)["type"].tolist() == ["Paid"]


def test_to_dataframe_of_nothing_has_the_columns(store):
    frame = store.to_dataframe("nope-1")
    assert len(frame) == 0
    assert "recorded_at" in frame.columns and "data" in frame.columns


# -- validation -------------------------------------------------------------------


def _cyclic() -> dict[str, object]:
    value: dict[str, object] = {"a": 1}
    value["self"] = value
    return value


@pytest.mark.parametrize(
    "bad_events",
    [
        [NewEvent("", {})],
        [NewEvent("T", {"x": object()})],
        [NewEvent("T", ["not", "a", "dict"])],  # type: ignore[arg-type]
        [NewEvent("T", {"x": float("nan")})],
        [NewEvent("T", {}, metadata="meta")],  # type: ignore[arg-type]
        [NewEvent("T", {}, id="not-a-uuid")],
        [],
        ["not an event"],
        [NewEvent("ok"), NewEvent("T", {"x": {1, 2}})],
        [NewEvent("T", _cyclic())],
        [NewEvent("T\x00x", {})],
    ],
    ids=["empty-type", "object", "list-data", "nan", "str-metadata", "bad-id", "no-events",
         "str-event", "second-bad", "cyclic", "nul-in-type"],
)
def test_invalid_events_write_nothing(store, bad_events):
    with pytest.raises(eslib.InvalidEvent) as info:
        store.append("s-1", bad_events)
    assert str(info.value)
    assert store.stream_version("s-1") == 0
    assert list(store.read_all()) == []


@pytest.mark.parametrize("stream_id", ["", "x" * 256, None, 42, "nul\x00-1"])
def test_invalid_stream_ids(store, stream_id):
    with pytest.raises(eslib.InvalidEvent):
        store.append(stream_id, [ev()])
    assert list(store.read_all()) == []


def test_nul_characters_are_refused_in_ids_and_types_kept_in_data(store):
    # PostgreSQL text cannot hold NUL: every backend refuses it where it would be text
    with pytest.raises(eslib.InvalidEvent, match="NUL"):
        store.append("a\x00b", [ev()])
    with pytest.raises(eslib.InvalidEvent, match="NUL"):
        store.bulk_append(pd.DataFrame({"stream_id": ["ok-1", "ok-2"], "type": ["T", "T\x00"],
                                        "data": ["{}", "{}"]}))
    assert list(store.read_all()) == []
    store.append("ok-1", [NewEvent("T", {"k\x00": "v\x00"})])  # JSON escapes it: \u0000
    assert [e.data for e in store.read_stream("ok-1")] == [{"k\x00": "v\x00"}]


@pytest.mark.parametrize("append", [
    lambda s: s.append("a\ud800b", [ev()]),
    lambda s: s.append("a", [NewEvent("T\udc80", {})]),
    lambda s: s.append("a", [NewEvent("T", {"k": "v\udfff"})]),
    lambda s: s.append("a", [NewEvent("T", {"k\ud800": 1})]),
    lambda s: s.append("a", [NewEvent("T", {}, metadata={"by": ["x", "\udc00"]})]),
    lambda s: s.append_many({"a": ([ev()], ANY), "b\ud800": ([ev()], ANY)}),
], ids=["stream-id", "type", "data-value", "data-key", "metadata", "append-many-second"])
def test_lone_surrogates_are_refused_before_anything_is_written(store, append):
    # not UTF-8: DuckDB and PostgreSQL cannot store them, so no backend does
    with pytest.raises(eslib.InvalidEvent, match="lone surrogate"):
        append(store)
    assert list(store.read_all()) == []


def test_lone_surrogates_in_read_filters_are_refused(store):
    with pytest.raises(eslib.InvalidEvent, match="lone surrogate"):
        list(store.read_stream("a\ud800"))
    with pytest.raises(eslib.InvalidEvent, match="lone surrogate"):
        list(store.read_all(types=["T\udc00"]))
    with pytest.raises(eslib.InvalidEvent, match="lone surrogate"):
        list(store.read_all(category="c\udc00"))
    with pytest.raises(eslib.InvalidEvent, match="non-empty strings"):
        list(store.read_all(types=["T", 3]))


def test_non_ascii_text_round_trips(store):
    store.append("konto-Ä1", [NewEvent("Überwiesen €", {"name": "Zoë 🙂", "𝄞": ["ß"]},
                                       metadata={"von": "日本"})])
    [event] = store.read_stream("konto-Ä1")
    assert (event.stream_id, event.type) == ("konto-Ä1", "Überwiesen €")
    assert event.data == {"name": "Zoë 🙂", "𝄞": ["ß"]} and event.metadata == {"von": "日本"}
    assert [e.position for e in store.read_all(types=["Überwiesen €"], category="konto")] \
        == [event.position]


@pytest.mark.parametrize("expected", [-1, "1", 1.0, True])
def test_invalid_expected_version(store, expected):
    with pytest.raises(eslib.InvalidEvent):
        store.append("s-1", [ev()], expected)


def test_longest_stream_id_is_accepted(store):
    sid = "x" * 255
    store.append(sid, [ev()])
    assert store.stream_version(sid) == 1


def test_stream_ids_and_types_are_data(store):
    evil = "x'; DROP TABLE events; --"
    store.append(evil, [NewEvent(evil, {evil: evil, "ü": "日本"})])
    (event,) = stream_events(store, evil)
    assert (event.stream_id, event.type) == (evil, evil)
    assert event.data == {evil: evil, "ü": "日本"}
    assert store.streams() == [evil]
    assert [e.type for e in store.read_all(types=[evil])] == [evil]


def test_invalid_read_arguments(store):
    with pytest.raises(eslib.InvalidEvent):
        list(store.read_all(0))
    with pytest.raises(eslib.InvalidEvent):
        list(store.read_stream("s-1", 0))
    with pytest.raises(eslib.InvalidEvent):
        list(store.read_all(limit=-1))


# -- determinism, lifecycle, threads ----------------------------------------------


def test_clock_and_id_factory_make_output_deterministic(make_store):
    store = make_store(clock=eslib.TickingClock(), id_factory=eslib.SequentialIds())
    store.append("s-1", [ev(), ev()])
    events = stream_events(store, "s-1")
    assert [str(e.id)[-3:] for e in events] == ["001", "002"]
    assert events[1].recorded_at - events[0].recorded_at == timedelta(seconds=1)


def test_store_is_a_context_manager_and_closes(make_store):
    with make_store() as store:
        store.append("s-1", [ev()])
    assert store.closed
    with pytest.raises(eslib.StoreClosedError):
        store.append("s-1", [ev()])
    store.close()  # twice is fine


def test_a_read_started_before_close_ends_with_store_closed_error_or_its_events(make_store):
    store = make_store()
    store.append("s-1", [ev(), ev()])
    reads = [store.read_all(), store.read_stream("s-1"), store.read_stream("s-1", backwards=True)]
    store.close()
    outcomes: list[object] = []
    for read in reads:  # memory took its events at the call; the databases fetch pages lazily
        try:
            outcomes.append([e.version for e in read])
        except eslib.StoreClosedError:
            outcomes.append("closed")
    assert all(o in ([1, 2], [2, 1], "closed") for o in outcomes), outcomes


def test_reopen_keeps_every_event(make_store):
    first = make_store(id_factory=eslib.SequentialIds())
    first.append("s-1", [ev(n=1), ev(n=2)])
    first.append("s-2", [ev(n=3)])
    before = list(first.read_all())
    first.close()
    second = make_store()
    assert list(second.read_all()) == before
    assert second.append("s-1", [ev()], 2).version == 3
    assert second.head_position() > before[-1].position


def test_threads_append_concurrently(store):
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                store.append(f"t-{n}", [ev(i=i)])
                store.append("shared-1", [ev(i=i)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.stream_version("shared-1") == 100
    assert [e.version for e in stream_events(store, "shared-1")] == list(range(1, 101))
    positions = [e.position for e in store.read_all()]
    assert len(positions) == 200 and positions == sorted(set(positions))


def test_repr_names_backend(store, backend_name):
    assert backend_name.replace("postgres", "postgresql") in repr(store)


# -- transactions, snapshots, checkpoints -------------------------------------------


@pytest.mark.parametrize("name, position", [
    ("", 1), (None, 1), ("p\x00", 1), ("p\udc80", 1), ("p", -1), ("p", 2**63), ("p", "1"),
    ("p", True)])
def test_bad_checkpoints_are_refused_alike(store, name, position):
    with pytest.raises(eslib.InvalidEvent, match="checkpoint"), store.transaction() as tx:
        tx.save_checkpoint(name, position)
    if type(position) is int and position == 1:  # a bad name: loading refuses it too
        with pytest.raises(eslib.InvalidEvent, match="checkpoint name"):
            store.load_checkpoint(name)
    assert store.load_checkpoint("p") == 0


@pytest.mark.parametrize("snapshot", [
    Snapshot("", 1, "s", "{}"), Snapshot("s-\x00", 1, "s", "{}"), Snapshot("s-1", 0, "s", "{}"),
    Snapshot("s-1", 2**63, "s", "{}"), Snapshot("s-1", 1, None, "{}"),  # type: ignore[arg-type]
    Snapshot("s-1", 1, "s", "{not json"), Snapshot("s-1", 1, "s", '{"x": NaN}'),
    Snapshot("s-1", 1, "s", '{"x": "\udc80"}'), ("s-1", 1, "s", "{}")])
def test_bad_snapshots_are_refused_alike(store, snapshot):
    with pytest.raises(eslib.InvalidEvent):
        store.save_snapshot(snapshot)
    assert store.load_snapshot("s-1") is None
    with pytest.raises(eslib.InvalidEvent):
        store.load_snapshot("s-\x00")


def test_transaction_commits_appends_and_checkpoints_together(store):
    with store.transaction() as tx:
        tx.append("s-1", [ev()], NO_STREAM)
        tx.save_checkpoint("proj", 1)
    assert store.stream_version("s-1") == 1
    assert store.load_checkpoint("proj") == 1
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.append("s-1", [ev()], 1)
        tx.save_checkpoint("proj", 2)
        raise RuntimeError("crash in the middle")
    assert store.stream_version("s-1") == 1
    assert store.load_checkpoint("proj") == 1
    assert store.append("s-1", [ev()], 1).version == 2  # the version cache recovered


def test_a_transaction_appends_once_before_any_checkpoint(store):
    # PostgreSQL's rule, on every backend: code written against one backend moves unchanged
    with pytest.raises(eslib.ConfigurationError, match="appends once"), \
            store.transaction() as tx:
        tx.append("a-1", [ev()], NO_STREAM)
        tx.append("b-1", [ev()], NO_STREAM)
    with pytest.raises(eslib.ConfigurationError, match="before any checkpoint"), \
            store.transaction() as tx:
        tx.save_checkpoint("c", 1)
        tx.append_many({"a-1": ([ev()], NO_STREAM)})
    assert list(store.read_all()) == [] and store.load_checkpoint("c") == 0
    with store.transaction() as tx:
        tx.append_many({"a-1": ([ev()], NO_STREAM), "b-1": ([ev()], NO_STREAM)})
        tx.save_checkpoint("c", 2)
    assert store.streams() == ["a-1", "b-1"] and store.load_checkpoint("c") == 2


def test_an_event_read_inside_a_rolled_back_transaction_is_not_read_again(store):
    # memory keeps each event's RecordedEvent once read: the rollback must forget it
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.append("s-1", [ev("Rolled")], NO_STREAM)
        if "multi_process" not in store.capabilities:  # elsewhere reads use another session
            assert [e.type for e in store.read_all()] == ["Rolled"]
        raise RuntimeError("abort")
    store.append("s-2", [ev("Kept")], NO_STREAM)
    assert [(e.stream_id, e.type) for e in store.read_all()] == [("s-2", "Kept")]
    assert [e.type for e in store.read_stream("s-2")] == ["Kept"]


def test_a_rolled_back_transaction_leaves_no_event_behind(store):
    store.append("old-1", [ev()])
    with pytest.raises(RuntimeError, match="abort"), store.transaction() as tx:
        # a new stream of several events and more events on an existing one
        tx.append_many({"new-1": ([ev("A"), ev("B"), ev("C")], NO_STREAM),
                        "old-1": ([ev(), ev()], 1)})
        raise RuntimeError("abort")
    assert [e.stream_id for e in store.read_all()] == ["old-1"]
    assert store.stream_version("new-1") == 0 and store.stream_version("old-1") == 1
    assert store.streams() == ["old-1"]
    assert len(store.to_dataframe()) == 1
    again = store.append("new-1", [ev("A")], NO_STREAM)
    assert again.version == 1 and [e.type for e in store.read_stream("new-1")] == ["A"]


def test_a_store_write_inside_its_own_transaction_is_refused(store):
    # on PostgreSQL it would take another connection and wait on the transaction's locks
    with pytest.raises(eslib.ConfigurationError, match=r"tx\.append"), store.transaction() as tx:
        tx.append("inside-1", [ev()])
        store.append("inside-1", [ev()])
    if "multi_process" in store.capabilities:  # memory and DuckDB: it joins the transaction
        with pytest.raises(eslib.ConfigurationError), store.transaction():
            store.bulk_append(pa.table({"stream_id": ["inside-2"], "type": ["A"],
                                        "data": ["{}"]}))
    assert list(store.read_all()) == []  # the transactions rolled back
    assert store.append("inside-1", [ev()]).version == 1  # and the store writes again


def test_transaction_appends_are_checked_like_store_appends(store):
    same = uuid.uuid4()
    with pytest.raises(eslib.InvalidEvent, match="twice"), store.transaction() as tx:
        tx.append_many({"s-1": ([NewEvent("T", id=same)], NO_STREAM),
                        "s-2": ([NewEvent("T", id=same)], NO_STREAM)})
    with pytest.raises(eslib.InvalidEvent, match="mapping"), store.transaction() as tx:
        tx.append_many({})
    with pytest.raises(eslib.InvalidEvent, match="tuple"), store.transaction() as tx:
        tx.append_many({"s-1": [ev()]})  # type: ignore[dict-item]
    assert list(store.read_all()) == []


def test_snapshots_round_trip(store):
    from eslib.backends.base import Snapshot

    assert store.load_snapshot("acc-1") is None
    store.save_snapshot(Snapshot("acc-1", 3, "v1", '{"balance":5}'))
    store.save_snapshot(Snapshot("acc-1", 7, "v1", '{"balance":9}'))
    snap = store.load_snapshot("acc-1")
    assert snap is not None and (snap.version, snap.schema) == (7, "v1")
    assert snap.state_json.replace(" ", "") == '{"balance":9}'


# -- bulk append ---------------------------------------------------------------------


def test_bulk_append_continues_streams_in_row_order(store):
    import pyarrow as pa

    store.append("s-1", [ev("First")])
    table = pa.table({
        "stream_id": ["s-2", "s-1", "s-2", "s-1"],
        "type": ["A", "B", "C", "D"],
        "data": ['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}'],
    })
    assert store.bulk_append(table) == 4
    events = list(store.read_all())
    assert [(e.stream_id, e.version, e.type) for e in events] == [
        ("s-1", 1, "First"), ("s-2", 1, "A"), ("s-1", 2, "B"), ("s-2", 2, "C"), ("s-1", 3, "D"),
    ]
    assert [e.position for e in events] == sorted({e.position for e in events})
    assert events[2].data == {"n": 2}
    assert store.append("s-1", [ev()], 3).version == 4  # versions known after a bulk append


def test_bulk_append_from_dataframe_keeps_ids_times_and_resumes(make_store):
    clock = eslib.TickingClock()
    store = make_store(clock=clock)
    when = pd.Timestamp("2013-01-01 05:15", tz="UTC")
    ids = [str(uuid.uuid4()) for _ in range(3)]
    frame = pd.DataFrame({
        "stream_id": ["plane-1", "plane-1", "plane-2"],
        "type": ["Departed", "Arrived", "Departed"],
        "data": [{"dest": "ORD"}, {"delay": 5}, {"dest": "IAH"}],
        "metadata": [{"source": "nyc"}, {}, {}],
        "id": ids,
        "recorded_at": [when, when + pd.Timedelta(hours=2), when],
    })
    assert store.bulk_append(frame.iloc[:2]) == 2
    with pytest.raises(eslib.DuplicateEventId):
        store.bulk_append(frame)  # row 0 and 1 are stored: all or nothing
    assert store.stream_version("plane-2") == 0
    assert store.bulk_append(frame, skip_existing=True) == 1  # a resumed import
    events = list(store.read_all())
    assert [str(e.id) for e in events] == ids
    assert events[1].recorded_at == (when + pd.Timedelta(hours=2)).to_pydatetime()
    assert events[0].metadata == {"source": "nyc"} and events[1].data == {"delay": 5}


def test_bulk_append_refuses_an_id_twice_in_the_table_even_when_skipping_stored_ids(store):
    import pyarrow as pa

    stored, twice = str(uuid.uuid4()), str(uuid.uuid4())
    store.bulk_append(pa.table({"stream_id": ["s-1"], "type": ["A"], "data": ["{}"],
                                "id": [stored]}))
    table = pa.table({"stream_id": ["s-1", "s-2", "s-2"], "type": ["A", "B", "B"],
                      "data": ["{}", "{}", "{}"], "id": [stored, twice, twice]})
    with pytest.raises(eslib.DuplicateEventId):
        store.bulk_append(table, skip_existing=True)
    assert [str(e.id) for e in store.read_all()] == [stored]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"stream_id": ["s-1", ""], "type": ["A", "B"], "data": ["{}", "{}"]}, "stream_id"),
        ({"stream_id": ["s-1"], "type": [""], "data": ["{}"]}, "type"),
        ({"stream_id": ["s-1", "s-1"], "type": ["A", "B"], "data": ["{}", "[1]"]}, "JSON"),
        ({"stream_id": ["s-1"], "type": ["A"], "data": ["{not json"]}, "JSON"),
        ({"stream_id": ["s-1"], "type": ["A"], "data": ['{"a":1}{}']}, "JSON"),
        ({"stream_id": ["s-1"], "type": ["A"], "data": ["{}"], "metadata": ["[]"]}, "JSON"),
        ({"stream_id": ["s-1"], "type": ["A"]}, "data"),
        (pa.table([["s-1"], ["A"], ["{}"], ["{}"]], names=["stream_id", "type", "data", "data"]),
         "named twice"),
        ({"stream_id": ["s-1"], "type": ["A"], "data": ["{}"], "id": ["nope"]}, "UUID"),
        ({"stream_id": ["s-1", "s-1"], "type": ["A", "A"], "data": ["{}", "{}"],
          "id": [str(uuid.UUID(int=1)), str(uuid.UUID(int=1))[:-1]]}, "row 1: id"),
        ({"stream_id": ["s-1"], "type": ["A"], "data": ["{}"],
          "recorded_at": pa.array([None], pa.timestamp("us", tz="UTC"))}, "recorded_at"),
    ],
)
def test_bulk_append_rejects_bad_rows_and_writes_nothing(store, columns, message):
    import pyarrow as pa

    with pytest.raises(eslib.InvalidEvent, match=message):
        store.bulk_append(columns if isinstance(columns, pa.Table) else pa.table(columns))
    assert list(store.read_all()) == []


def test_bulk_append_reads_every_uuid_spelling_as_one_id(store):
    import pyarrow as pa

    ids = [uuid.uuid4() for _ in range(4)]
    spellings = [f"urn:uuid:{ids[0]}", "{" + str(ids[1]).upper() + "}", ids[2].hex, str(ids[3])]
    table = pa.table({"stream_id": ["s-1"] * 4, "type": ["A"] * 4, "data": ["{}"] * 4,
                      "id": spellings})
    assert store.bulk_append(table) == 4
    assert [e.id for e in store.read_all()] == ids
    assert store.to_dataframe()["id"].tolist() == [str(i) for i in ids]
    again = table.set_column(3, "id", pa.array([str(i) for i in ids]))
    with pytest.raises(eslib.DuplicateEventId):
        store.bulk_append(again)
    assert store.bulk_append(again, skip_existing=True) == 0
    with pytest.raises(eslib.DuplicateEventId):  # the same id through append
        store.append("s-2", [NewEvent("A", id=f"urn:uuid:{ids[0]}")])


@pytest.mark.parametrize("text", ['{"x": NaN}', '{"x": [1, -Infinity]}', '{"Infinity": Infinity}'])
def test_bulk_append_refuses_nan_and_infinity_as_append_does(store, text):
    # not JSON: PostgreSQL refuses them and DuckDB's parser would take them
    with pytest.raises(eslib.InvalidEvent, match="which JSON does not allow"):
        store.bulk_append(pa.table({"stream_id": ["ok-1", "ok-1"], "type": ["T", "T"],
                                    "data": ['{"fine": "NaN"}', text]}))
    assert list(store.read_all()) == []
    store.bulk_append(pa.table({"stream_id": ["ok-1"], "type": ["T"],
                                "data": ['{"word": "NaN and Infinity"}']}))
    assert [e.data for e in store.read_all()] == [{"word": "NaN and Infinity"}]


@pytest.mark.parametrize("huge", [2**63, 2**70])
def test_numbers_past_64_bits_are_refused_alike(store, huge):
    # versions, positions and limits are bigints in the databases and int64 on the wire
    store.append("big-1", [ev()])
    for call in (lambda: store.append("big-1", [ev()], huge),
                 lambda: store.append_many({"big-1": ([ev()], 1), "big-2": ([ev()], huge)}),
                 lambda: list(store.read_stream("big-1", huge)),
                 lambda: list(store.read_stream("big-1", limit=huge)),
                 lambda: list(store.read_all(huge)),
                 lambda: list(store.read_all(limit=huge)),
                 lambda: store.to_dataframe(from_position=huge)):
        with pytest.raises(eslib.InvalidEvent, match="2\\*\\*63 - 1"):
            call()
    assert store.stream_version("big-1") == 1 and store.stream_version("big-2") == 0
    top = 2**63 - 1  # the largest accepted: nothing that far on
    with pytest.raises(eslib.WrongExpectedVersion) as info:
        store.append("big-1", [ev()], top)
    assert (info.value.expected, info.value.actual) == (top, 1)
    assert list(store.read_stream("big-1", top)) == [] and list(store.read_all(top)) == []
    assert [e.version for e in store.read_stream("big-1", limit=top)] == [1]


def test_transactions_do_not_nest_and_end_with_their_block(store):
    with store.transaction() as tx:
        with pytest.raises(eslib.ConfigurationError, match="do not nest"), store.transaction():
            pass
        tx.append("tx-1", [ev()])
    for late in (lambda: tx.append("tx-2", [ev()]),
                 lambda: tx.append_many({"tx-2": ([ev()], ANY)}),
                 lambda: tx.save_checkpoint("late", 1),
                 lambda: tx.load_checkpoint("late")):
        with pytest.raises(eslib.ConfigurationError, match="has ended"):
            late()
    assert [e.stream_id for e in store.read_all()] == ["tx-1"]
    with store.transaction() as again:  # the thread is free for the next one
        again.append("tx-3", [ev()])
    assert store.stream_version("tx-3") == 1


def test_a_batch_refuses_appends_after_its_block(store):
    with store.batch() as batch:
        batch.append("b-1", [ev()])
    with pytest.raises(eslib.ConfigurationError, match="never be written"):
        batch.append("b-2", [ev()])  # used to be queued and silently dropped
    with pytest.raises(RuntimeError), store.batch() as failed:
        failed.append("b-3", [ev()])
        raise RuntimeError("the block failed: nothing is written")
    with pytest.raises(eslib.ConfigurationError):
        failed.append("b-3", [ev()])
    assert store.streams() == ["b-1"]
