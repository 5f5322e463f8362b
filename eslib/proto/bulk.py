"""The BulkAppend call, both ends: chunks gathered into one table, imported at once.

Nothing is written unless the client marks its last chunk ``complete``: when a client
process dies, grpcio may end the server's request iterator as if the client had closed
its side (a race between the connection's end and the cancellation), so the end of the
stream alone cannot tell a whole import from the front part of one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import grpc

from ..errors import InvalidEvent
from . import codec
from . import eventstore_pb2 as pb

if TYPE_CHECKING:
    import pyarrow as pa

    from ..backends.grpc import GrpcBackend
    from .service import Service

BULK_MESSAGES = 64  # a bulk append may carry this many max-size messages
NAMES = ("stream_id", "type", "data", "metadata", "id", "recorded_at")
INCOMPLETE = ("the bulk import ended without a chunk marked complete, so nothing was written: "
              "the client went away mid-import, or its eslib is older than the server's "
              "(upgrade it); run the import again (skip_existing=True resumes it safely)")


def serve(service: Service, requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
    """Gather every chunk, then import them through the store's facade (its checks)."""
    import pyarrow as pa

    from ..bulk import bulk_schema

    columns: dict[str, list[Any]] = {name: [] for name in NAMES}
    limit = service.max_message_bytes * BULK_MESSAGES
    size, skip, complete = 0, False, False
    now_us = (codec.utc_now() - codec.EPOCH) // timedelta(microseconds=1)
    for request in requests:
        if isinstance(request, codec.Rejected):
            raise InvalidEvent(request.reason)
        size += request.ByteSize()
        if size > limit:
            raise InvalidEvent(f"a bulk append may carry at most {limit} bytes; split it")
        skip = request.skip_existing
        _gather(request, columns, now_us, len(columns["id"]))
        if request.complete:
            complete = True
            break  # the client said so: anything after it is not part of the import
    if not complete or not context.is_active():
        raise InvalidEvent(INCOMPLETE)
    schema = bulk_schema()
    table = pa.table({name: pa.array(columns[name], pa.int64() if name == "recorded_at"
                                      else schema.field(name).type) for name in NAMES})
    table = table.set_column(5, "recorded_at",
                             table["recorded_at"].cast(schema.field("recorded_at").type))
    written = service.store.bulk_append(table, skip_existing=skip)
    if written:
        service._notify()
    return pb.BulkAppendResponse(written=written)


def _gather(request: Any, columns: dict[str, list[Any]], now_us: int, row: int) -> None:
    for item in request.events:
        e = item.event
        columns["stream_id"].append(item.stream_id)
        columns["type"].append(e.type)
        for name, text in (("data", e.data), ("metadata", e.metadata)):
            if len(text) > 2 * codec.MAX_DEPTH:  # could be nested too deeply: look closer
                codec.json_value(text, f"row {row}: {name}")
            columns[name].append(text or "{}")
        columns["id"].append(e.id or None)
        if e.HasField("recorded_at"):
            stamp = codec.from_timestamp(e.recorded_at, f"row {row}: recorded_at")
            columns["recorded_at"].append((stamp - codec.EPOCH) // timedelta(microseconds=1))
        else:
            columns["recorded_at"].append(now_us)
        row += 1


def send(backend: GrpcBackend, table: pa.Table, skip_existing: bool) -> int:
    """The client end: the table in chunks of about half the server's message limit, the
    last marked complete. No deadline: an import may take long (``timeout`` bounds
    reaching the server; keepalive pings end it if the connection dies)."""
    budget = backend.info.max_message_bytes // 2

    def chunks() -> Iterator[Any]:
        request, size = pb.BulkAppendRequest(skip_existing=skip_existing), 0
        micros = table["recorded_at"].cast("int64").to_pylist()
        rows = zip(*(table[n].to_pylist() for n in ("stream_id", "type", "data", "metadata",
                                                   "id")), micros, strict=True)
        for stream_id, type_, data, metadata, id_, us in rows:
            item = request.events.add(stream_id=stream_id)
            e = item.event
            e.type, e.data, e.metadata, e.id = type_, data, metadata, id_ or ""
            e.recorded_at.seconds, e.recorded_at.nanos = divmod(us, 1_000_000)
            e.recorded_at.nanos *= 1000
            size += len(data) + len(metadata) + len(stream_id) + len(type_) + 64
            if size > budget:
                yield request
                request, size = pb.BulkAppendRequest(skip_existing=skip_existing), 0
        request.complete = True  # reached only when every row was sent
        yield request

    backend.wait_until_reachable("bulk_append")
    try:
        response = backend._bulk(chunks(), metadata=backend._metadata)
    except grpc.RpcError as err:
        raise backend.error(err, "bulk_append", write=True) from None
    return int(response.written)
