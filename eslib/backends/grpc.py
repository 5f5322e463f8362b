"""Client backend: a store served by ``eslib serve``, opened with ``grpc://host:port``.

Every call carries the bearer token when there is one and waits for the server
to be ready. A call cut by a lost connection is retried until ``timeout``:
reads are safe to repeat, and so are appends, whose event ids the facade fixed
before sending (a repeated append is answered with the original result). A write
left without an answer raises WriteOutcomeUnknown: the server may have stored it.
A transaction cut by a lost connection is rolled back by the server and raises.

``timeout`` bounds unary calls whole; transactions and bulk imports can run as long
as they take, so there it bounds reaching the server (a dead connection ends them
through keepalive pings).

``wait_for_events`` (the Subscription push hook) and :meth:`GrpcBackend.subscribe`
use the server-streaming Subscribe call and reconnect by themselves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import proto  # noqa: F401 - before grpc: it may set grpcio's experiments
from ..errors import (
    ConfigurationError,
    EslibError,
    InvalidEvent,
    StoreClosedError,
    StoreError,
    WriteOutcomeUnknown,
)

try:
    import grpc
    from grpc_status import rpc_status
except ImportError as exc:  # pragma: no cover - the dev install has the extra
    raise ConfigurationError(
        f"grpc:// needs the grpc extra ({exc.name} is missing): pip install 'eslib[grpc]'"
    ) from exc
from ..events import AppendResult, RecordedEvent
from ..proto import PROTOCOL_VERSION, SERVICE, bulk, codec
from ..proto import eventstore_pb2 as pb
from ..proto.transact import GrpcTransaction
from ..urls import grpc_target
from .base import EventQuery, Snapshot, StreamAppend
from .grpc_push import Push

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger("eslib.grpc")

_UNARY: dict[str, Any] = {
    "GetInfo": pb.GetInfoResponse, "Append": pb.AppendResponse,
    "AppendMany": pb.AppendManyResponse, "ReadStream": pb.ReadResponse,
    "ReadAll": pb.ReadResponse, "StreamVersion": pb.StreamVersionResponse,
    "ListStreams": pb.ListStreamsResponse, "HeadPosition": pb.HeadPositionResponse,
    "SaveSnapshot": pb.SaveSnapshotResponse, "LoadSnapshot": pb.LoadSnapshotResponse,
    "LoadCheckpoint": pb.LoadCheckpointResponse,
}
_RETRY = (grpc.StatusCode.UNAVAILABLE,)
# A call ending with one of these may have reached the server, which may have done it
_NO_ANSWER = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
              grpc.StatusCode.CANCELLED)
_WRITES = frozenset({"Append", "AppendMany", "SaveSnapshot"})


class GrpcBackend:
    """The store of an eslib server. Thread-safe: one channel, shared by every call.

    Options: ``timeout`` (seconds a call may take, reconnecting included; default
    30), ``token`` and ``ca_file`` (override the URL and the environment),
    ``max_message_bytes`` (the largest response accepted; default 64 MiB).
    """

    def __init__(self, url: str, *, timeout: float = 30.0, token: str | None = None,
                 ca_file: str | None = None, max_message_bytes: int = 64 << 20) -> None:
        target = grpc_target(url)
        self.display = target.display
        self.secure = target.secure
        self.timeout = timeout
        token = token or target.token
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        options = [("grpc.max_receive_message_length", max_message_bytes),
                   ("grpc.max_send_message_length", -1),
                   ("grpc.initial_reconnect_backoff_ms", 100),
                   ("grpc.min_reconnect_backoff_ms", 100),
                   ("grpc.max_reconnect_backoff_ms", 1000),
                   ("grpc.keepalive_time_ms", 30_000)]
        address = f"[{target.host}]:{target.port}" if ":" in target.host \
            else f"{target.host}:{target.port}"
        if target.secure:
            ca = ca_file or target.ca_file
            try:
                roots = Path(ca).read_bytes() if ca else None
            except OSError as exc:
                raise ConfigurationError(f"cannot read the CA file {ca!r}: {exc.strerror}") \
                    from None
            credentials = grpc.ssl_channel_credentials(root_certificates=roots)
            self._channel = grpc.secure_channel(address, credentials, options)
        else:
            self._channel = grpc.insecure_channel(address, options)
        self._calls = {name: self._channel.unary_unary(
            f"/{SERVICE}/{name}", request_serializer=_serialize,
            response_deserializer=response.FromString) for name, response in _UNARY.items()}
        self._subscribe = self._channel.unary_stream(
            f"/{SERVICE}/Subscribe", request_serializer=_serialize,
            response_deserializer=pb.SubscribeResponse.FromString)
        self._bulk = self._channel.stream_unary(
            f"/{SERVICE}/BulkAppend", request_serializer=_serialize,
            response_deserializer=pb.BulkAppendResponse.FromString)
        self._transact = self._channel.stream_stream(
            f"/{SERVICE}/Transact", request_serializer=_serialize,
            response_deserializer=pb.TransactResponse.FromString)
        self._closed = False
        self._push = Push(self)
        try:
            handshake = self._unreachable_why()
            if handshake is not None and "handshake" in handshake.lower():  # not transient
                raise ConfigurationError(
                    f"cannot connect to the eslib server at {self.display}: the TLS handshake "
                    f"failed ({handshake}); check grpcs:// against grpc:// and the CA (?ca= or "
                    "$ESLIB_GRPC_CA)")
            info = self.call("GetInfo", pb.GetInfoRequest())
        except BaseException:
            self._channel.close()
            raise
        if info.protocol_version != PROTOCOL_VERSION:
            self._channel.close()
            raise ConfigurationError(
                f"the server at {self.display} speaks protocol {info.protocol_version}, this "
                f"eslib speaks {PROTOCOL_VERSION}; use matching eslib versions")
        self.info = info
        self.capabilities: frozenset[str] = frozenset(info.capabilities)

    # -- calls and errors -----------------------------------------------------------

    def call(self, name: str, request: Any, what: str | None = None) -> Any:
        """One unary call, retried on a lost connection until ``timeout``; errors name
        ``what`` (default: the method)."""
        if self._closed:  # e.g. a read's next page after close(): grpcio's closed channel
            raise StoreClosedError()
        deadline = time.monotonic() + self.timeout
        pause = 0.05
        while True:
            remaining = deadline - time.monotonic()
            try:
                return self._calls[name](request, timeout=max(remaining, 0.001),
                                         metadata=self._metadata, wait_for_ready=True)
            except grpc.RpcError as err:
                if err.code() in _RETRY and remaining > pause and not self._closed:
                    time.sleep(pause)
                    pause = min(pause * 2, 1.0)
                    continue
                raise self.error(err, what or name, name in _WRITES) from None

    def wait_until_reachable(self, what: str) -> None:
        """Return once the server answers; StoreError if it does not within ``timeout``."""
        if not self._connected():
            self.call("GetInfo", pb.GetInfoRequest(), what)  # waits, retries, words errors

    def _connected(self) -> bool:
        # grpcio's public ways to ask (channel_ready_future, subscribe) leave a polling
        # thread behind that fails once the channel is closed; this asks synchronously
        core = getattr(self._channel, "_channel", None)
        try:
            state = core.check_connectivity_state(False) if core is not None else None
        except (AttributeError, ValueError):  # another grpcio, or a closed channel
            return False
        return state == grpc.ChannelConnectivity.READY.value[0]

    def _unreachable_why(self) -> str | None:
        """None when the server answers now; else why not, from one call that does not wait
        for it (the waiting ones only say their deadline passed)."""
        if self._connected():
            return None
        try:
            self._calls["GetInfo"](pb.GetInfoRequest(), timeout=min(self.timeout, 1.0),
                                   metadata=self._metadata)
        except grpc.RpcError as err:
            why = str(err.details()).rsplit("last error: ", 1)[-1]
            if "Socket closed" in why and not self.secure:
                why += " (a server that speaks TLS closes plain connections: try grpcs://)"
            return why
        return None

    def error(self, err: Any, what: str, write: bool = False) -> EslibError:
        """The eslib exception for a failed call (never shows the token); a ``write`` left
        without an answer raises WriteOutcomeUnknown."""
        code = err.code()
        if code == grpc.StatusCode.UNAUTHENTICATED:
            return ConfigurationError(
                f"the eslib server at {self.display} refused the credentials: give its token "
                "in the URL (grpc://:TOKEN@host:port) or in $ESLIB_GRPC_TOKEN")
        if code in _NO_ANSWER:
            # Whether the request got there cannot be told: the server may be up and slow
            # (then it may still do the write), or unreachable since before the call
            why = "closed" if self._closed else self._unreachable_why()
            reachable = why is None
            cause = f"{code.name.lower()}: {err.details()}"
            if write:
                state = ("it is reachable, so it may still be doing it" if reachable
                         else "it cannot be reached now (is it running?)")
                return WriteOutcomeUnknown(
                    f"{what}: no answer from the eslib server at {self.display} ({cause}); "
                    f"{state}: the write may or may not be stored, and resending the same "
                    "append (same event ids) is safe")
            if reachable and code == grpc.StatusCode.DEADLINE_EXCEEDED:
                return StoreError(f"{what}: the eslib server at {self.display} gave no answer "
                                  f"within {self.timeout:g}s ({cause}); it may be busy")
            return StoreError(f"{what}: cannot reach the eslib server at {self.display} "
                              f"({why}); is it running?")
        detail = None
        try:
            status = rpc_status.from_call(err)
        except ValueError:  # a status whose details disagree with its code
            status = None
        for packed in status.details if status is not None else ():
            if packed.Is(pb.ErrorDetail.DESCRIPTOR):
                detail = pb.ErrorDetail()
                packed.Unpack(detail)
        return codec.error_from_status(code, err.details() or code.name, detail)

    # -- writing ----------------------------------------------------------------------

    def append(self, batch: Sequence[StreamAppend]) -> list[AppendResult]:
        if len(batch) == 1:  # the common case: its own message, no AppendMany wrapper
            single = pb.AppendRequest()
            codec.append_to_pb(batch[0], single)
            self._check_size(single)
            return [codec.result_from_pb(self.call("Append", single))]
        request = codec.batch_to_pb(batch)
        self._check_size(request)
        return [codec.result_from_pb(r) for r in self.call("AppendMany", request).results]

    def bulk_append(self, table: pa.Table, skip_existing: bool) -> int:
        return bulk.send(self, table, skip_existing)

    def _check_size(self, request: Any) -> None:
        size = request.ByteSize()
        if size > self.info.max_message_bytes:
            raise InvalidEvent(
                f"the append is {size} bytes, the server at {self.display} takes at most "
                f"{self.info.max_message_bytes}; split it into smaller appends")

    # -- reading ------------------------------------------------------------------------

    def read_stream(self, stream_id: str, from_version: int, backwards: bool,
                    limit: int | None) -> Iterator[RecordedEvent]:
        request = pb.ReadStreamRequest(stream_id=stream_id, from_version=from_version,
                                       backwards=backwards)
        remaining = limit
        while remaining is None or remaining > 0:
            if remaining is not None:
                request.limit = remaining
            page = self.call("ReadStream", request)
            yield from map(codec.event_from_pb, page.events)
            if not page.more or not page.events:
                return
            last = page.events[-1].version
            if backwards:
                if last <= from_version:
                    return
                request.to_version = last - 1
            else:
                request.from_version = last + 1
            if remaining is not None:
                remaining -= len(page.events)

    def _pages(self, query: EventQuery) -> Iterator[Any]:
        request = pb.ReadAllRequest()
        codec.query_to_pb(query, request)
        remaining = query.limit
        while remaining is None or remaining > 0:
            if remaining is not None:
                request.limit = remaining
            page = self.call("ReadAll", request)
            yield page
            if not page.more or not page.events:
                return
            request.from_position = page.events[-1].position + 1
            if remaining is not None:
                remaining -= len(page.events)

    def read_all(self, query: EventQuery) -> Iterator[RecordedEvent]:
        for page in self._pages(query):
            yield from map(codec.event_from_pb, page.events)

    def stream_version(self, stream_id: str) -> int:
        return int(self.call("StreamVersion", pb.StreamVersionRequest(stream_id=stream_id)).version)

    def streams(self) -> list[str]:
        ids: list[str] = []
        request = pb.ListStreamsRequest()
        while True:
            page = self.call("ListStreams", request)
            ids.extend(page.stream_ids)
            if not page.more or not page.stream_ids:
                return ids
            request.after = ids[-1]

    def head_position(self) -> int:
        return int(self.call("HeadPosition", pb.HeadPositionRequest()).position)

    def to_arrow(self, query: EventQuery) -> pa.Table:
        return codec.events_to_arrow(self._pages(query))

    # -- snapshots, checkpoints, transactions -------------------------------------------------

    def save_snapshot(self, snapshot: Snapshot) -> None:
        request = pb.SaveSnapshotRequest()
        codec.snapshot_to_pb(snapshot, request.snapshot)
        self.call("SaveSnapshot", request)

    def load_snapshot(self, stream_id: str) -> Snapshot | None:
        response = self.call("LoadSnapshot", pb.LoadSnapshotRequest(stream_id=stream_id))
        return codec.snapshot_from_pb(response.snapshot) if response.HasField("snapshot") \
            else None

    def load_checkpoint(self, name: str) -> int:
        return int(self.call("LoadCheckpoint", pb.LoadCheckpointRequest(name=name)).position)

    @contextmanager
    def transaction(self) -> Iterator[GrpcTransaction]:
        tx = GrpcTransaction(self)
        try:
            yield tx
        except BaseException:
            tx.finish(commit=False)
            raise
        tx.finish(commit=True)

    # -- following: eslib.backends.grpc_push ---------------------------------------------

    def subscribe(self, from_position: int = 1, *, types: Sequence[str] | None = None,
                  category: str | None = None) -> Iterator[RecordedEvent]:
        """Every event from ``from_position`` on, then live ones as they commit; never ends.

        Reconnects after a lost connection or a server restart, resuming after the
        last event it yielded: nothing is skipped or repeated. Stop by leaving the loop.
        """
        return self._push.subscribe(from_position, types, category)

    def wait_for_events(self, after_position: int, timeout: float) -> bool:
        """Block until an event after ``after_position`` is committed (pushed by the server)."""
        return self._push.wait_for_events(after_position, timeout)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._push.close()
            self._channel.close()


def _serialize(message: Any) -> bytes:
    data: bytes = message.SerializeToString()
    return data
