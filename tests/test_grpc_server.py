"""The eslib server in this process: auth, TLS, malformed requests, limits, errors, push.

Every server binds a free loopback port and is stopped by its fixture; every test is
bounded in time (a hang dumps the stacks and ends the run).
"""

from __future__ import annotations

import faulthandler
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import eslib
from eslib import NO_STREAM, NewEvent

grpc = pytest.importorskip("grpc")

from grpc_status import rpc_status  # noqa: E402

from eslib.proto import eventstore_pb2 as pb  # noqa: E402
from eslib.server import EventStoreServer  # noqa: E402

TOKEN = "s3cret-t0ken-" + uuid.uuid4().hex


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    faulthandler.dump_traceback_later(60, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def server() -> Iterator[EventStoreServer]:
    with EventStoreServer("memory://", port=0, max_message_bytes=64 * 1024,
                          page_size=10) as running:
        yield running


def raw(server: EventStoreServer, method: str, payload: bytes, **kwargs: object) -> bytes:
    """Call a method with raw bytes, as a broken or hostile client in any language could."""
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        call = channel.unary_unary(f"/eslib.v1.EventStore/{method}")
        result: bytes = call(payload, timeout=10, **kwargs)
        return result


def status_of(info: pytest.ExceptionInfo) -> tuple[object, pb.ErrorDetail | None]:
    status = rpc_status.from_call(info.value)
    detail = None
    for packed in status.details if status else ():
        detail = pb.ErrorDetail()
        packed.Unpack(detail)
    return info.value.code(), detail


def append_request(**fields: object) -> pb.AppendRequest:
    request = pb.AppendRequest(stream_id="s-1", **fields)
    if not request.events:
        request.events.add(id=str(uuid.uuid4()), type="T", data='{"a":1}')
    return request


# -- malformed requests: INVALID_ARGUMENT, nothing written ----------------------------


@pytest.mark.parametrize(
    ("method", "payload"),
    [
        ("Append", append_request().SerializeToString().replace(b"s-1", b"s-\xff")),
        ("Append", b"\xff\xff\xff\xff garbage"),
        ("Append", append_request(expected=pb.ExpectedVersion(exact=-1)).SerializeToString()),
        ("Append", append_request(expected=pb.ExpectedVersion(state=7)).SerializeToString()),
        ("Append", append_request(expected=pb.ExpectedVersion(state=0)).SerializeToString()),
        ("Append", pb.AppendRequest(stream_id="s-1").SerializeToString()),
        ("Append", append_request(events=[pb.NewEvent(type="T", data="[1]")]).SerializeToString()),
        ("Append", append_request(events=[pb.NewEvent(type="T", data="{\"x\": NaN}")])
         .SerializeToString()),
        ("Append", append_request(events=[pb.NewEvent(type="T", id="nope")]).SerializeToString()),
        ("Append", append_request(events=[pb.NewEvent(type="")]).SerializeToString()),
        ("Append", append_request(events=[pb.NewEvent(type="T", data="x" * 70_000)])
         .SerializeToString()),
        ("ReadAll", pb.ReadAllRequest(from_position=-5).SerializeToString()),
        ("ReadAll", pb.ReadAllRequest(from_position=1, limit=-1).SerializeToString()),
        ("ReadStream", pb.ReadStreamRequest(stream_id="s-1", from_version=0).SerializeToString()),
        ("StreamVersion", pb.StreamVersionRequest(stream_id="").SerializeToString()),
    ],
    ids=["bad-utf8", "garbage", "negative-version", "unknown-enum", "unspecified-enum",
         "no-events", "data-not-object", "nan", "bad-id", "empty-type", "oversized",
         "negative-position", "negative-limit", "version-zero", "empty-stream-id"],
)
def test_malformed_requests_are_invalid_argument_and_write_nothing(server, method, payload):
    with pytest.raises(grpc.RpcError) as info:
        raw(server, method, payload)
    code, detail = status_of(info)
    assert code == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert detail is not None and detail.error == "InvalidEvent"
    assert server.service is not None and server.service.backend.head_position() == 0


def test_far_oversized_message_is_refused_by_the_transport(server):
    big = append_request(events=[pb.NewEvent(type="T", data='{"x":"' + "y" * 200_000 + '"}')])
    with pytest.raises(grpc.RpcError) as info:
        raw(server, "Append", big.SerializeToString())
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert server.service is not None and server.service.backend.head_position() == 0


def test_oversized_append_is_refused_before_sending(server):
    store = eslib.connect(server.address)
    with pytest.raises(eslib.InvalidEvent, match="split it"):
        store.append("s-1", [NewEvent("T", {"x": "y" * 100_000})])
    assert store.head_position() == 0
    store.close()


# -- errors carry structured details any client can read --------------------------------


def test_wrong_expected_version_detail(server):
    raw(server, "Append", append_request().SerializeToString())
    conflict = append_request(expected=pb.ExpectedVersion(state=pb.EXPECTED_STATE_NO_STREAM))
    with pytest.raises(grpc.RpcError) as info:
        raw(server, "Append", conflict.SerializeToString())
    code, detail = status_of(info)
    assert code == grpc.StatusCode.ABORTED
    assert detail is not None and detail.error == "WrongExpectedVersion"
    wrong = detail.wrong_expected_version
    assert (wrong.stream_id, wrong.expected.exact, wrong.actual) == ("s-1", 0, 1)


def test_duplicate_event_id_detail(server):
    event_id = str(uuid.uuid4())
    first = append_request(events=[pb.NewEvent(id=event_id, type="T")])
    raw(server, "Append", first.SerializeToString())
    first.stream_id = "s-2"
    with pytest.raises(grpc.RpcError) as info:
        raw(server, "Append", first.SerializeToString())
    code, detail = status_of(info)
    assert code == grpc.StatusCode.ALREADY_EXISTS
    assert detail is not None and list(detail.duplicate_event_id.event_ids) == [event_id]


def test_client_raises_the_same_exceptions(server):
    store = eslib.connect(server.address)
    store.append("s-1", [NewEvent("T")], NO_STREAM)
    with pytest.raises(eslib.WrongExpectedVersion) as info:
        store.append("s-1", [NewEvent("T")], NO_STREAM)
    assert (info.value.stream_id, info.value.expected, info.value.actual) == ("s-1", 0, 1)
    with pytest.raises(eslib.ConfigurationError, match="allow-sql"), store.transaction() as tx:
        tx.execute("SELECT 1")
    store.close()


# -- limits ----------------------------------------------------------------------------------


def test_server_caps_page_size_and_client_pages(server):
    store = eslib.connect(server.address)
    store.append("s-1", [NewEvent("T", {"n": i}) for i in range(25)])
    page = pb.ReadResponse.FromString(raw(server, "ReadAll", pb.ReadAllRequest(
        from_position=1, limit=1000).SerializeToString()))
    assert len(page.events) == 10 and page.more
    assert [e.position for e in store.read_all()] == list(range(1, 26))
    assert [e.version for e in store.read_stream("s-1", 3, backwards=True)] == list(
        range(25, 2, -1))
    assert len(store.to_dataframe()) == 25
    store.close()


def test_info_names_the_backend_never_its_url(tmp_path):
    url = "postgresql://user:pw-secret@127.0.0.1:1/db"
    server = EventStoreServer(url, port=0)
    assert "pw-secret" not in repr(server.url) and "pw-secret" not in server.address
    with EventStoreServer(f"duckdb:///{tmp_path / 'e.duckdb'}", port=0) as running:
        info = pb.GetInfoResponse.FromString(raw(running, "GetInfo", b""))
        assert info.backend == "duckdb" and "e.duckdb" not in str(info)
        assert "sql" not in info.capabilities  # SQL through the server is opt-in


# -- authentication ---------------------------------------------------------------------------


@pytest.fixture
def secured() -> Iterator[EventStoreServer]:
    with EventStoreServer("memory://", port=0, token=TOKEN) as running:
        yield running


@pytest.mark.parametrize("token", [None, "wrong", TOKEN[:-1], TOKEN + "x"])
def test_missing_or_wrong_token_is_unauthenticated(secured, token, monkeypatch):
    monkeypatch.delenv("ESLIB_GRPC_TOKEN", raising=False)
    url = f"grpc://:{token}@127.0.0.1:{secured.port}" if token else secured.address
    with pytest.raises(eslib.ConfigurationError, match="refused the credentials") as info:
        eslib.connect(url)
    assert TOKEN not in str(info.value) and (token is None or token not in str(info.value))
    with pytest.raises(grpc.RpcError) as raw_info:  # and the server says nothing more
        raw(secured, "HeadPosition", b"", metadata=(("authorization", f"Bearer {token}"),))
    assert raw_info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert raw_info.value.details() == "missing or invalid credentials"


def test_right_token_from_url_or_environment(secured, monkeypatch):
    store = eslib.connect(f"grpc://:{TOKEN}@127.0.0.1:{secured.port}")
    store.append("s-1", [NewEvent("T")])
    assert TOKEN not in str(store) and TOKEN not in repr(store) and TOKEN not in repr(store.url)
    store.close()
    monkeypatch.setenv("ESLIB_GRPC_TOKEN", TOKEN)
    with eslib.connect(f"grpc://127.0.0.1:{secured.port}") as again:
        assert again.stream_version("s-1") == 1
    with eslib.connect(f"grpc://127.0.0.1:{secured.port}?token={TOKEN}") as third:
        assert TOKEN not in repr(third)


def test_no_token_needed_when_auth_is_off(server, monkeypatch):
    monkeypatch.setenv("ESLIB_GRPC_TOKEN", "anything")  # sent, and ignored
    with eslib.connect(server.address) as store:
        assert store.head_position() == 0


def test_token_file(tmp_path, monkeypatch):
    from eslib.server import load_token

    monkeypatch.delenv("ESLIB_GRPC_TOKEN", raising=False)
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    assert load_token(path) == TOKEN
    assert load_token(None) is None
    with pytest.raises(eslib.ConfigurationError, match="cannot read"):
        load_token(tmp_path / "missing")


# -- TLS -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def test_tls_with_a_self_signed_certificate(certificate, monkeypatch):
    cert, key = certificate
    monkeypatch.delenv("ESLIB_GRPC_CA", raising=False)
    with EventStoreServer("memory://", port=0, tls_cert=str(cert), tls_key=str(key),
                          token=TOKEN) as running:
        assert running.address.startswith("grpcs://")
        url = f"grpcs://:{TOKEN}@localhost:{running.port}?ca={cert}"
        with eslib.connect(url) as store:
            store.append("s-1", [NewEvent("T")])
            assert store.stream_version("s-1") == 1
        with pytest.raises(eslib.ConfigurationError, match="CERTIFICATE_VERIFY_FAILED"):
            eslib.connect(f"grpcs://:{TOKEN}@localhost:{running.port}", timeout=2)  # system roots
        with pytest.raises(eslib.StoreError):  # plain text to a TLS port
            eslib.connect(f"grpc://:{TOKEN}@127.0.0.1:{running.port}", timeout=2)


# -- transactions -------------------------------------------------------------------------


def test_sql_transactions_when_allowed(tmp_path):
    with EventStoreServer(f"duckdb:///{tmp_path / 'e.duckdb'}", port=0, allow_sql=True) as srv:
        store = eslib.connect(srv.address)
        assert "sql" in store.capabilities
        with store.transaction() as tx:
            tx.execute("CREATE TABLE totals (name VARCHAR, n INTEGER)")
            tx.append("s-1", [NewEvent("T")], NO_STREAM)
            tx.execute("INSERT INTO totals VALUES (?, ?)", ["a", 1])
            tx.save_checkpoint("totals", 1)
        with store.transaction() as tx:
            assert tx.execute("SELECT name, n FROM totals") == [("a", 1)]
            assert tx.load_checkpoint("totals") == 1
        with pytest.raises(eslib.StoreError), store.transaction() as tx:
            tx.execute("SELECT * FROM no_such_table")
        store.close()


def test_abandoned_transaction_rolls_back(server):
    store = eslib.connect(server.address)
    backend = store.backend
    tx_manager = backend.transaction()
    tx = tx_manager.__enter__()
    tx.append([store._prepare("s-1", [NewEvent("T")], NO_STREAM)])
    tx._responses.cancel()  # the client goes away mid-transaction
    deadline = time.monotonic() + 10
    while store.head_position() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.head_position() == 0 and store.stream_version("s-1") == 0
    store.close()


def test_idle_transaction_is_cancelled():
    with EventStoreServer("memory://", port=0, transaction_timeout=0.5) as srv:
        store = eslib.connect(srv.address)
        with pytest.raises(eslib.StoreError), store.transaction() as tx:
            tx.append("s-1", [NewEvent("T")])
            time.sleep(2.5)
            tx.load_checkpoint("p")
        assert store.stream_version("s-1") == 0
        store.append("s-1", [NewEvent("T")], NO_STREAM)  # the store is usable again
        store.close()


# -- push ---------------------------------------------------------------------------------------


def test_subscriber_receives_live_events_pushed_by_the_server(server):
    reader, writer = eslib.connect(server.address), eslib.connect(server.address)
    received: list[tuple[float, int]] = []
    sub = eslib.Subscription(reader, lambda event, recorded: received.append(
        (time.monotonic(), recorded.position)), poll_interval=30)  # polling cannot explain it
    with sub:
        sub.wait_until(0, 1)
        time.sleep(0.3)  # the follower now waits in wait_for_events
        for n in range(3):
            sent = time.monotonic()
            position = writer.append("s-1", [NewEvent("T", {"n": n})]).positions[0]
            assert sub.wait_until(position, 10)
            assert received[-1][1] == position and received[-1][0] - sent < 5
    assert [p for _, p in received] == [1, 2, 3]
    reader.close()
    writer.close()


def test_subscribe_iterator_catches_up_then_follows(server):
    reader, writer = eslib.connect(server.address), eslib.connect(server.address)
    writer.append("order-1", [NewEvent("Placed"), NewEvent("Paid")])
    writer.append("stock-1", [NewEvent("Reserved")])
    got: list[tuple[str, int]] = []

    def follow() -> None:
        for event in reader.backend.subscribe(2, category="order"):
            got.append((event.type, event.position))
            if len(got) == 2:
                return

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    writer.append("order-2", [NewEvent("Placed")])
    thread.join(10)
    assert got == [("Paid", 2), ("Placed", 4)]
    reader.close()
    writer.close()


@pytest.mark.parametrize("port", [-1, 65536, 99999, "50051", True])
def test_a_port_out_of_range_is_refused_not_replaced(port):
    # grpcio would listen on some other port and the server would print that one
    with pytest.raises(eslib.ConfigurationError, match="port"):
        EventStoreServer("memory://", port=port)


def test_a_refused_push_watch_is_logged_once_then_the_client_polls(caplog):
    with EventStoreServer("memory://", port=0, max_workers=4) as running:  # 2 subscriptions
        stores = [eslib.connect(running.address) for _ in range(3)]
        try:
            for store in stores[:2]:  # each keeps a push watch open on the server
                store.backend.wait_for_events(0, 0.2)  # type: ignore[attr-defined]
            third = stores[2].backend
            with caplog.at_level("WARNING", logger="eslib.grpc"):
                for _ in range(6):
                    assert not third.wait_for_events(0, 0.1)  # type: ignore[attr-defined]
            refusals = [r for r in caplog.records if "push notifications" in r.getMessage()]
            assert len(refusals) == 1 and "polling" in refusals[0].getMessage()
            stores[0].append("s-1", [eslib.NewEvent("E")])
            assert third.wait_for_events(0, 0.1) is False  # no push: the follower polls
            assert [e.type for e in stores[2].read_all()] == ["E"]
        finally:
            for store in stores:
                store.close()


def test_a_tls_mismatch_says_so_instead_of_server_not_running(certificate):
    import time

    cert, key = certificate
    with EventStoreServer("memory://", port=0, tls_cert=str(cert), tls_key=str(key)) as tls, \
            EventStoreServer("memory://", port=0) as plain:
        started = time.monotonic()
        with pytest.raises(eslib.ConfigurationError, match="TLS handshake failed"):
            eslib.connect(f"grpcs://127.0.0.1:{plain.port}", timeout=5)  # not TLS there
        with pytest.raises(eslib.ConfigurationError, match="CERTIFICATE_VERIFY_FAILED"):
            eslib.connect(f"grpcs://127.0.0.1:{tls.port}", timeout=5)  # no ?ca= for its cert
        assert time.monotonic() - started < 4  # at once, not after the timeout
        with pytest.raises(eslib.StoreError, match="try grpcs://"):
            eslib.connect(f"grpc://127.0.0.1:{tls.port}", timeout=1)
