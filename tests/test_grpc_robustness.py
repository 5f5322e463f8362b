"""The server under hostile or broken clients: the store's own input checks on every raw
request, no partial bulk import, honest errors for writes left without an answer, no
hang when the server is down, deeply nested JSON, out-of-range timestamps.

Every server binds a free loopback port and is stopped by its fixture; every test is
bounded in time (a hang dumps the stacks and ends the run).
"""

from __future__ import annotations

import faulthandler
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import eslib
from eslib import NewEvent

grpc = pytest.importorskip("grpc")

from eslib.proto import eventstore_pb2 as pb  # noqa: E402
from eslib.server import EventStoreServer  # noqa: E402

METHOD = "/eslib.v1.EventStore/"


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    faulthandler.dump_traceback_later(90, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(params=["memory", "duckdb", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path) -> Iterator[EventStoreServer]:
    if request.param == "memory":
        url = "memory://"
    elif request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'events.duckdb'}"
    else:
        from conftest import _reset_postgres

        url = request.getfixturevalue("postgres_url")
        _reset_postgres(url)
    with EventStoreServer(url, port=0) as running:
        yield running


@pytest.fixture
def memory_server() -> Iterator[EventStoreServer]:
    with EventStoreServer("memory://", port=0) as running:
        yield running


def call(server: EventStoreServer, method: str, request: Any, kind: str = "unary") -> Any:
    """A call with a raw message (or several), as a client in any language could make it."""
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        path, encode = METHOD + method, (lambda m: m.SerializeToString())
        if kind == "unary":
            return channel.unary_unary(path, request_serializer=encode)(request, timeout=10)
        if kind == "client-stream":
            return channel.stream_unary(path, request_serializer=encode)(iter(request),
                                                                         timeout=10)
        return list(channel.stream_stream(path, request_serializer=encode)(iter(request),
                                                                           timeout=10))


def refused(server: EventStoreServer, method: str, request: Any, kind: str = "unary") -> str:
    with pytest.raises(grpc.RpcError) as info:
        call(server, method, request, kind)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    return str(info.value.details())


def one_event(stream_id: str = "order-7", type_: str = "Evil", **event: Any) -> Any:
    return pb.AppendRequest(stream_id=stream_id, events=[pb.NewEvent(type=type_, **event)])


def snapshot(**fields: Any) -> Any:
    return pb.SaveSnapshotRequest(snapshot=pb.Snapshot(**{
        "stream_id": "order-7", "version": 1, "schema": "v1", "state": "{}", **fields}))


def transact(*ops: Any) -> list[Any]:
    return [pb.TransactRequest(**op) for op in ops]


# -- 1. the store's checks on every raw request ------------------------------------------

BAD_REQUESTS: list[tuple[str, Any, str, str]] = [
    ("Append", one_event("order-7\x00other"), "unary", "NUL"),
    ("Append", one_event(type_="T\x00"), "unary", "NUL"),
    ("Append", one_event(data='{"a":"\\ud800"}'), "unary", "lone surrogate"),
    ("AppendMany", pb.AppendManyRequest(appends=[one_event("order-7\x00x"),
                                                 one_event("order-8", "Fine")]), "unary", "NUL"),
    ("SaveSnapshot", snapshot(state='"\\ud800"'), "unary", "lone surrogate"),
    ("SaveSnapshot", snapshot(schema="v\x00"), "unary", "NUL"),
    ("SaveSnapshot", snapshot(stream_id="order-7\x00x"), "unary", "NUL"),
    ("ReadStream", pb.ReadStreamRequest(stream_id="order-7\x00", from_version=1), "unary",
     "NUL"),
    ("ReadAll", pb.ReadAllRequest(from_position=1, category="order\x00"), "unary", "NUL"),
    ("ReadAll", pb.ReadAllRequest(from_position=1, types=pb.TypeFilter(types=["T\x00"])),
     "unary", "NUL"),
    ("StreamVersion", pb.StreamVersionRequest(stream_id="order-7\x00"), "unary", "NUL"),
    ("LoadCheckpoint", pb.LoadCheckpointRequest(name="c\x00"), "unary", "NUL"),
    ("Transact", transact({"save_checkpoint": pb.SaveCheckpointRequest(name="c\x00",
                                                                       position=1)},
                          {"commit": True}), "bidi", "NUL"),
    ("BulkAppend", [pb.BulkAppendRequest(events=[pb.BulkEvent(
        stream_id="order-7\x00x", event=pb.NewEvent(type="Evil"))], complete=True)],
     "client-stream", "NUL"),
]


@pytest.mark.parametrize(("method", "request_", "kind", "problem"), BAD_REQUESTS,
                         ids=[f"{m}-{i}" for i, (m, *_) in enumerate(BAD_REQUESTS)])
def test_raw_requests_pass_the_local_stores_checks(server, method, request_, kind, problem):
    store = eslib.connect(server.address)
    store.append("order-7", [NewEvent("Placed")])
    assert problem in refused(server, method, request_, kind)
    assert [(e.stream_id, e.type) for e in store.read_all()] == [("order-7", "Placed")]
    assert store.streams() == ["order-7"] and store.load_snapshot("order-7") is None
    store.close()


# -- 2. a bulk import commits only when the client says it is whole -----------------------


def test_bulk_import_without_its_complete_marker_writes_nothing(memory_server):
    chunk = pb.BulkAppendRequest(events=[pb.BulkEvent(
        stream_id="import-1", event=pb.NewEvent(type="A", data='{"partial":true}'))])
    # what the server sees when a dying client's stream looks ended
    assert "nothing was written" in refused(memory_server, "BulkAppend", [chunk, chunk],
                                            "client-stream")
    store = eslib.connect(memory_server.address)
    assert store.head_position() == 0
    marked = pb.BulkAppendRequest(events=chunk.events, complete=True)
    response = call(memory_server, "BulkAppend", [chunk, marked], "client-stream")
    assert pb.BulkAppendResponse.FromString(response).written == 2
    import pandas as pd

    big = pd.DataFrame({"stream_id": [f"s-{i % 7}" for i in range(3000)], "type": "T",
                        "data": ['{"x":"' + "y" * 40 + '"}'] * 3000})
    assert store.bulk_append(big) == 3000  # many chunks, the last one marked
    assert store.head_position() == 3002
    store.close()


# -- 3. a write left without an answer: WriteOutcomeUnknown, and retrying it is safe ------


def test_append_past_the_deadline_is_an_unknown_outcome_not_an_unreachable_server(
        memory_server):
    holder, writer = eslib.connect(memory_server.address), eslib.connect(
        memory_server.address, timeout=1)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:  # the memory backend's lock: the writer's append waits on the server
        with holder.transaction() as tx:
            tx.load_checkpoint("p")
            held.set()
            release.wait(20)

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(10)
    event = NewEvent("A", {"n": 1}, id=uuid.uuid4())
    try:
        with pytest.raises(eslib.WriteOutcomeUnknown) as info:
            writer.append("w-1", [event])
    finally:
        release.set()
        thread.join(10)
    message = str(info.value)
    assert "is it running" not in message and "reachable" in message
    assert "resending the same append" in message
    deadline = time.monotonic() + 10
    while writer.stream_version("w-1") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writer.stream_version("w-1") == 1  # the server did write it
    result = writer.append("w-1", [event])  # the documented retry: answered, not doubled
    assert result.version == 1 and writer.stream_version("w-1") == 1
    holder.close()
    writer.close()


# -- 4. a server that is down: transactions and bulk imports fail within the timeout ------


def test_transaction_and_bulk_append_fail_within_the_timeout_when_the_server_is_down():
    import pandas as pd

    running = EventStoreServer("memory://", port=0).start()
    store = eslib.connect(running.address, timeout=1.5)
    running.stop(0)
    table = pd.DataFrame({"stream_id": ["x-1"], "type": ["T"], "data": ["{}"]})

    def in_transaction() -> None:
        with store.transaction() as tx:
            tx.append("d-2", [NewEvent("A")])

    def checkpoint_only() -> None:
        with store.transaction() as tx:
            tx.save_checkpoint("c", 1)

    attempts: list[Callable[[], object]] = [in_transaction, checkpoint_only,
                                            lambda: store.bulk_append(table)]
    for attempt in attempts:
        outcome: list[BaseException] = []

        def run(attempt: Callable[[], object] = attempt,
                outcome: list[BaseException] = outcome) -> None:
            try:
                attempt()
            except eslib.EslibError as exc:
                outcome.append(exc)

        started = time.monotonic()
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        thread.join(15)
        assert not thread.is_alive(), f"{attempt} hangs"
        assert time.monotonic() - started < 6
        assert outcome and type(outcome[0]) is eslib.StoreError, outcome
        assert "cannot reach" in str(outcome[0])
    store.close()


# -- 5. deeply nested JSON ---------------------------------------------------------------


def nest(depth: int) -> dict[str, Any]:
    value: list[Any] = []
    for _ in range(depth - 2):
        value = [value]
    return {"a": value}  # ``depth`` levels: the object, then the lists


def shallow(work: Callable[[], Any]) -> Any:
    """``work`` in a new thread: as deep as a local store lets a script nest data, which
    pytest's own call stack would not allow."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    thread.join(30)
    return result[0]


def test_deeply_nested_events_a_local_store_wrote_are_readable_through_the_server(tmp_path):
    url = f"duckdb:///{tmp_path / 'deep.duckdb'}"
    depths = (900, 985)  # 985: what the server could not read back
    with eslib.connect(url) as local:
        for depth in depths:
            shallow(lambda d=depth: local.append(f"deep-{d}", [NewEvent("A", nest(d))]))
    with EventStoreServer(url, port=0) as running:
        store = eslib.connect(running.address)
        for depth in depths:
            events = shallow(lambda d=depth: list(store.read_stream(f"deep-{d}")))
            assert len(events) == 1
        assert shallow(lambda: len(list(store.read_all()))) == len(depths)
        seen: list[int] = []  # a follower (the server used to fail it, again and again)
        follower = eslib.Subscription(store, lambda event, recorded: seen.append(
            recorded.position))
        shallow(follower.run_until_caught_up)
        assert seen == [1, 2]
        shallow(lambda: store.append("deep-again", [NewEvent("A", nest(980))]))
        store.close()


@pytest.mark.parametrize("depth", [1200, 100_000])
def test_json_nested_deeper_than_a_local_store_takes_is_refused(memory_server, depth):
    text = '{"a":' + "[" * depth + "]" * depth + "}"
    assert "nested more than" in refused(memory_server, "Append", one_event(data=text))
    assert "nested more than" in refused(memory_server, "SaveSnapshot", snapshot(state=text))
    bulk = pb.BulkAppendRequest(events=[pb.BulkEvent(
        stream_id="b-1", event=pb.NewEvent(type="T", data=text))], complete=True)
    assert "nested more than" in refused(memory_server, "BulkAppend", [bulk], "client-stream")
    with eslib.connect(memory_server.address) as store:
        assert store.head_position() == 0


# -- 6. out-of-range timestamps ------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "nanos"),
                         [(2**62, 0), (-(2**40), 0), (5, -5), (5, 2_000_000_000)])
def test_out_of_range_recorded_at_is_invalid_argument(memory_server, seconds, nanos):
    stamp = {"recorded_at": {"seconds": seconds, "nanos": nanos}}
    assert "must be a Timestamp from 0001-01-01" in refused(memory_server, "Append",
                                                          one_event(**stamp))
    bulk = pb.BulkAppendRequest(events=[pb.BulkEvent(
        stream_id="b-1", event=pb.NewEvent(type="T", **stamp))], complete=True)
    assert "must be a Timestamp from 0001-01-01" in refused(memory_server, "BulkAppend", [bulk],
                                                          "client-stream")
    with eslib.connect(memory_server.address) as store:
        assert store.head_position() == 0
