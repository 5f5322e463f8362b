"""The servicer: each RPC of eventstore.proto carried out on a backend.

Requests are untrusted: they are decoded by :func:`deserializer`, which turns a
malformed or oversized message into a :class:`Rejected` marker (answered with
INVALID_ARGUMENT, nothing written) instead of grpcio's INTERNAL, and validated by
:mod:`eslib.proto.codec`. eslib errors become statuses with an ``ErrorDetail``.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import status_pb2
from grpc_status import rpc_status

from ..backends.base import Snapshot
from ..errors import EslibError, InvalidEvent
from ..store import EventStore
from ..validation import check_bound, check_stream_id, check_text
from . import PROTOCOL_VERSION, SERVICE, bulk, codec, transact
from . import eventstore_pb2 as pb

log = logging.getLogger("eslib.server")

STREAM_IDS_PER_PAGE = 10  # ListStreams pages hold page_size * this many ids


def deserializer(cls: Any, max_bytes: int) -> Callable[[bytes], Any]:
    def decode(data: bytes) -> Any:
        if len(data) > max_bytes:
            return codec.Rejected(f"the request is {len(data)} bytes, above the server's limit of "
                            f"{max_bytes}; split it into smaller appends")
        try:
            return cls.FromString(data)
        except Exception as exc:  # DecodeError, and whatever a broken message raises
            return codec.Rejected(f"not a valid {cls.DESCRIPTOR.full_name}: {exc}")

    return decode


def abort(context: grpc.ServicerContext, exc: EslibError) -> None:
    """End the call with the status of an eslib error (raises, as grpcio's abort does)."""
    code, detail = codec.error_status(exc)
    packed = any_pb2.Any()
    packed.Pack(detail)
    status = status_pb2.Status(code=code.value[0], message=str(exc), details=[packed])
    context.abort_with_status(rpc_status.to_status(status))


class _Slots:
    """At most ``limit`` holders at once (subscriptions, open transactions)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used, self._lock = limit, 0, threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.used >= self.limit:
                return False
            self.used += 1
            return True

    def give(self) -> None:
        with self._lock:
            self.used -= 1


class Service:
    """The RPC handlers over one store. ``handler()`` is what a grpc.Server adds.

    Every call goes through the store's facade, as a local caller's would, so that a
    request passes the same checks (eslib.validation) before the backend sees it.
    """

    def __init__(self, store: EventStore, scheme: str, *, allow_sql: bool = False,
                 page_size: int = 1000, max_message_bytes: int = 8 << 20,
                 poll_interval: float = 0.5, transaction_timeout: float = 60.0,
                 max_subscriptions: int = 16, max_transactions: int = 8) -> None:
        self.store = store
        self.backend = store.backend
        self.scheme = scheme
        self.allow_sql = allow_sql
        self.page_size = page_size
        self.max_message_bytes = max_message_bytes
        self.poll_interval = poll_interval
        self.transaction_timeout = transaction_timeout
        self.stopping = threading.Event()
        self._changed = threading.Condition()
        self._generation = 0
        self._subscriptions = _Slots(max_subscriptions)
        self._transactions = _Slots(max_transactions)
        self._open: dict[int, tuple[grpc.ServicerContext, list[float]]] = {}
        self._watchdog: threading.Thread | None = None

    def handler(self) -> grpc.GenericRpcHandler:
        unary, limit = grpc.unary_unary_rpc_method_handler, self.max_message_bytes
        methods: dict[str, grpc.RpcMethodHandler] = {}
        for name, request, call in [
            ("GetInfo", pb.GetInfoRequest, self.get_info),
            ("Append", pb.AppendRequest, self.append),
            ("AppendMany", pb.AppendManyRequest, self.append_many),
            ("ReadStream", pb.ReadStreamRequest, self.read_stream),
            ("ReadAll", pb.ReadAllRequest, self.read_all),
            ("StreamVersion", pb.StreamVersionRequest, self.stream_version),
            ("ListStreams", pb.ListStreamsRequest, self.list_streams),
            ("HeadPosition", pb.HeadPositionRequest, self.head_position),
            ("SaveSnapshot", pb.SaveSnapshotRequest, self.save_snapshot),
            ("LoadSnapshot", pb.LoadSnapshotRequest, self.load_snapshot),
            ("LoadCheckpoint", pb.LoadCheckpointRequest, self.load_checkpoint),
        ]:
            methods[name] = unary(self._guard(call), deserializer(request, limit),
                                  lambda m: m.SerializeToString())
        methods["BulkAppend"] = grpc.stream_unary_rpc_method_handler(
            self.bulk_append, deserializer(pb.BulkAppendRequest, limit),
            pb.BulkAppendResponse.SerializeToString)
        methods["Subscribe"] = grpc.unary_stream_rpc_method_handler(
            self.subscribe, deserializer(pb.SubscribeRequest, limit),
            pb.SubscribeResponse.SerializeToString)
        methods["Transact"] = grpc.stream_stream_rpc_method_handler(
            self.transact, deserializer(pb.TransactRequest, limit),
            pb.TransactResponse.SerializeToString)
        return grpc.method_handlers_generic_handler(SERVICE, methods)

    def capabilities(self) -> list[str]:
        found = {"multi_process"} | (self.backend.capabilities & {"sql"})
        return sorted(found if self.allow_sql else found - {"sql"})

    def _guard(self, call: Callable[[Any], Any]) -> Callable[[Any, grpc.ServicerContext], Any]:
        def handle(request: Any, context: grpc.ServicerContext) -> Any:
            error: EslibError
            try:
                if isinstance(request, codec.Rejected):
                    raise InvalidEvent(request.reason)
                return call(request)
            except EslibError as exc:
                error = exc
            except Exception:
                log.exception("%s failed", call.__name__)
                context.abort(grpc.StatusCode.INTERNAL, "internal server error (see its log)")
            abort(context, error)  # outside the try: abort() raises

        return handle

    def _notify(self) -> None:
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    # -- unary calls -------------------------------------------------------------

    def get_info(self, request: Any) -> Any:
        from .. import __version__

        return pb.GetInfoResponse(
            protocol_version=PROTOCOL_VERSION, server_version=__version__, backend=self.scheme,
            capabilities=self.capabilities(), max_page_size=self.page_size,
            max_message_bytes=self.max_message_bytes)

    def _append(self, batch: list[Any]) -> Any:
        results = self.store._append(batch)
        self._notify()
        response = pb.AppendManyResponse()
        for result in results:
            codec.result_to_pb(result, response.results.add())
        return response

    def append(self, request: Any) -> Any:
        (result,) = self.store._append([codec.append_from_pb(request, codec.utc_now())])
        self._notify()
        response = pb.AppendResponse()
        codec.result_to_pb(result, response)
        return response

    def append_many(self, request: Any) -> Any:
        return self._append(codec.batch_from_pb(request, codec.utc_now()))

    def bulk_append(self, requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
        error: EslibError
        try:
            return bulk.serve(self, requests, context)
        except EslibError as exc:
            error = exc
        except Exception:
            log.exception("BulkAppend failed")
            context.abort(grpc.StatusCode.INTERNAL, "internal server error (see its log)")
        abort(context, error)

    def read_stream(self, request: Any) -> Any:
        stream_id, low = request.stream_id, request.from_version
        check_stream_id(stream_id, "stream_id")
        check_bound("from_version", low)
        n = self._limit(request)
        high = request.to_version if request.HasField("to_version") else None
        read = self.store.read_stream
        if high is None:
            events = list(read(stream_id, low, backwards=request.backwards, limit=n))
        elif request.backwards:  # the page just below ``high``, newest first
            check_bound("to_version", high)
            low = max(low, high - n + 1)
            events = list(read(stream_id, low, limit=max(0, high - low + 1)))
            events.reverse()
        else:
            check_bound("to_version", high)
            events = list(read(stream_id, low, limit=max(0, min(n, high - low + 1))))
        return self._page(events, n)

    def read_all(self, request: Any) -> Any:
        query = codec.query_from_pb(request, self.page_size)
        events = list(self.backend.read_all(query)) if query.limit else []
        return self._page(events, query.limit or 0)

    def _limit(self, request: Any) -> int:
        if request.HasField("limit"):
            return min(codec.bound(request.limit, "limit", 0), self.page_size)
        return self.page_size

    def _page(self, events: list[Any], asked: int) -> Any:
        response = pb.ReadResponse(more=asked > 0 and len(events) >= asked)
        budget = self.max_message_bytes
        for event in events:
            message = response.events.add()
            codec.event_to_pb(event, message)
            budget -= len(message.data) + len(message.metadata) + len(event.stream_id) + 96
            if budget < 0 and event is not events[-1]:
                response.more = True  # cut short: the client asks again
                break
        return response

    def stream_version(self, request: Any) -> Any:
        version = self.store.stream_version(request.stream_id)
        return pb.StreamVersionResponse(version=version)

    def list_streams(self, request: Any) -> Any:
        cap = self.page_size * STREAM_IDS_PER_PAGE
        n = min(codec.bound(request.limit, "limit", 0), cap) if request.HasField("limit") else cap
        ids = self.store.streams()
        start = bisect.bisect_right(ids, request.after) if request.after else 0
        page = ids[start:start + n]
        return pb.ListStreamsResponse(stream_ids=page, more=start + n < len(ids))

    def head_position(self, request: Any) -> Any:
        return pb.HeadPositionResponse(position=self.store.head_position())

    def save_snapshot(self, request: Any) -> Any:
        m = request.snapshot
        state = codec.json_value(m.state, "a snapshot's state")  # too deep: InvalidEvent
        if "\\ud" in m.state.lower():  # an escaped lone surrogate: not storable as UTF-8
            check_text("a snapshot's state", codec.dumps(state))
        self.store.save_snapshot(Snapshot(m.stream_id, m.version, m.schema, m.state))
        return pb.SaveSnapshotResponse()

    def load_snapshot(self, request: Any) -> Any:
        snapshot = self.store.load_snapshot(request.stream_id)
        response = pb.LoadSnapshotResponse()
        if snapshot is not None:
            codec.snapshot_to_pb(snapshot, response.snapshot)
        return response

    def load_checkpoint(self, request: Any) -> Any:
        position = self.store.load_checkpoint(request.name)
        return pb.LoadCheckpointResponse(position=position)

    # -- streams -----------------------------------------------------------------

    def subscribe(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        if isinstance(request, codec.Rejected):
            abort(context, InvalidEvent(request.reason))
        if not self._subscriptions.take():
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"the server serves at most {self._subscriptions.limit} subscriptions")
        context.add_callback(self._notify)  # wake the loop when the client goes away
        try:
            yield from self._follow(request, context)
        except EslibError as exc:
            abort(context, exc)
        finally:
            self._subscriptions.give()

    def _follow(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        read = pb.ReadAllRequest(from_position=request.from_position)
        if request.HasField("types"):
            read.types.CopyFrom(request.types)
        if request.HasField("category"):
            read.category = request.category
        query = codec.query_from_pb(read, self.page_size)
        cursor, caught_up = query.from_position, False
        while not self.stopping.is_set() and context.is_active():
            generation = self._generation
            if request.notify_only:
                head = self.backend.head_position()
                if head >= cursor:
                    yield pb.SubscribeResponse(last_position=head)
                    cursor = head + 1
                events: list[Any] = []
            else:
                events = list(self.backend.read_all(replace(query, from_position=cursor)))
                if events:
                    response = self._page(events, len(events) + 1)
                    cursor = response.events[-1].position + 1
                    yield pb.SubscribeResponse(events=response.events, last_position=cursor - 1)
                    if len(events) == self.page_size:
                        continue
            if not caught_up:
                caught_up = True
                yield pb.SubscribeResponse(caught_up=True, last_position=cursor - 1)
            self._wait_for_change(generation)

    def _wait_for_change(self, generation: int) -> None:
        """Until an append through this server, shutdown, or ``poll_interval`` (for other
        writers, e.g. on PostgreSQL)."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._generation != generation or self.stopping.is_set(),
                self.poll_interval)

    def transact(self, requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
        if not self._transactions.take():
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"the server holds at most {self._transactions.limit} transactions open")
        activity = [time.monotonic()]
        self._open[id(context)] = (context, activity)
        self._start_watchdog()
        try:
            yield from transact.serve(self, requests, activity)
        except EslibError as exc:
            abort(context, exc)
        finally:
            self._open.pop(id(context), None)
            self._transactions.give()

    def _start_watchdog(self) -> None:
        if self._watchdog is None or not self._watchdog.is_alive():
            self._watchdog = threading.Thread(target=self._watch, name="eslib-tx-watchdog",
                                              daemon=True)
            self._watchdog.start()

    def _watch(self) -> None:
        """Cancel transactions idle for longer than the timeout: they hold the backend's locks."""
        while self._open and not self.stopping.wait(min(1.0, self.transaction_timeout / 4)):
            for context, activity in list(self._open.values()):
                if time.monotonic() - activity[0] > self.transaction_timeout:
                    log.warning("cancelling a transaction idle for %.0fs",
                                self.transaction_timeout)
                    context.cancel()


