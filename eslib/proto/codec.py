"""Between eslib's types and the protocol's messages, errors included, in both directions.

The server uses the ``*_from_pb`` functions that validate (a request is untrusted
input: every problem is an :class:`~eslib.InvalidEvent`, answered with
INVALID_ARGUMENT); the client uses the others.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import grpc

from ..backends.base import EventQuery, PreparedEvent, Snapshot, StreamAppend, arrow_schema
from ..errors import (
    ConcurrencyError,
    ConfigurationError,
    DuplicateEventId,
    EslibError,
    InvalidEvent,
    StoreError,
    StoreLockedError,
    WriteOutcomeUnknown,
    WrongExpectedVersion,
)
from ..events import ANY, STREAM_EXISTS, AppendResult, ExpectedVersion, RecordedEvent, StreamState
from ..json_text import decode, decode_strict, encode
from ..validation import check_stream_id, check_text, check_type, make_query
from . import eventstore_pb2 as pb

if TYPE_CHECKING:
    import pyarrow as pa

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# JSON nesting the server stores: a local store, its encoder bound by Python's recursion
# limit (1000 by default), refuses deeper data; the server's limit is raised above this
# (eslib.server.RECURSION_LIMIT) so that it can read back whatever a local store wrote
MAX_DEPTH = 1000
# what a datetime holds (0001-01-01 to 9999-12-31), in seconds from the epoch
MIN_SECONDS = (datetime.min.replace(tzinfo=timezone.utc) - EPOCH) // timedelta(seconds=1)
MAX_SECONDS = (datetime.max.replace(tzinfo=timezone.utc) - EPOCH) // timedelta(seconds=1)
_STATES = {ANY: pb.EXPECTED_STATE_ANY, STREAM_EXISTS: pb.EXPECTED_STATE_STREAM_EXISTS}


# -- decoding, time and JSON ---------------------------------------------------------


class Rejected:
    """A request that could not be decoded (malformed, bad UTF-8, too large)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def timestamp(value: datetime, message: Any) -> None:
    """Set a google.protobuf.Timestamp from an aware datetime (microsecond precision)."""
    delta = value - EPOCH
    message.seconds = delta.days * 86400 + delta.seconds
    message.nanos = delta.microseconds * 1000


def from_timestamp(message: Any, what: str = "recorded_at") -> datetime:
    """The datetime of a Timestamp from a request; InvalidEvent if no datetime can hold it."""
    seconds, nanos = message.seconds, message.nanos
    if not MIN_SECONDS <= seconds <= MAX_SECONDS or not 0 <= nanos <= 999_999_999:
        raise InvalidEvent(
            f"{what} must be a Timestamp from 0001-01-01 to 9999-12-31 UTC (seconds "
            f"{MIN_SECONDS} to {MAX_SECONDS}, nanos 0 to 999999999), got seconds={seconds}, "
            f"nanos={nanos}")
    return EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)


def dumps(value: object) -> str:
    """JSON text as the backends store it: compact, UTF-8, key order kept."""
    try:
        return encode(value)  # eslib's encoder, built once (json.dumps builds one per call)
    except ValueError:  # NaN or an infinity (not written by eslib, but not refused on reads)
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def dumps_lossy(value: object) -> str:
    """JSON text of SQL rows: values JSON has no type for (dates, decimals) become text."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def json_value(text: str, what: str) -> Any:
    """Parse JSON text from a request (no NaN or Infinity); InvalidEvent if it is not JSON
    or is nested deeper than :data:`MAX_DEPTH`."""
    try:
        value = decode_strict(text)
    except ValueError as exc:
        raise InvalidEvent(f"{what} is not valid JSON: {exc}") from None
    except RecursionError:  # far deeper than MAX_DEPTH
        raise InvalidEvent(f"{what} is nested more than {MAX_DEPTH} levels deep; a local "
                           "store refuses such data too") from None
    if text.count("[") + text.count("{") > MAX_DEPTH:  # else it cannot be that deep
        _check_depth(value, what)
    return value


def _check_depth(value: Any, what: str) -> None:
    """Without recursion: the value may be deeper than the recursion limit allows."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise InvalidEvent(f"{what} is nested more than {MAX_DEPTH} levels deep; a local "
                               "store refuses such data too")
        children = item.values() if isinstance(item, dict) else item
        pending.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))


def json_object(text: str, what: str) -> str:
    """Validate JSON object text from a request; returns it in canonical form."""
    if not text or text == "{}":
        return "{}"
    value = json_value(text, what)
    if not isinstance(value, dict):
        raise InvalidEvent(f"{what} is not valid JSON object text: a JSON object is needed, "
                           f"got {type(value).__name__}")
    canonical = dumps(value)
    if not canonical.isascii():  # as the facade checks dicts: NUL, lone surrogates
        check_text(what, canonical)
    return canonical


# -- expected versions ----------------------------------------------------------------


def expected_to_pb(expected: ExpectedVersion, message: Any) -> None:
    if isinstance(expected, StreamState):
        message.state = _STATES[expected]
    else:
        message.exact = expected


def expected_from_pb(message: Any, where: str) -> ExpectedVersion:
    kind = message.WhichOneof("kind")
    if kind is None:
        return ANY
    if kind == "exact":
        if message.exact < 0:
            raise InvalidEvent(f"{where}: expected version {message.exact} is negative")
        return int(message.exact)
    state = message.state
    if state == pb.EXPECTED_STATE_ANY:
        return ANY
    if state == pb.EXPECTED_STATE_STREAM_EXISTS:
        return STREAM_EXISTS
    if state == pb.EXPECTED_STATE_NO_STREAM:
        return 0
    raise InvalidEvent(f"{where}: unknown expected state {state}; use 1 (ANY), 2 (NO_STREAM) "
                       "or 3 (STREAM_EXISTS)")


# -- appends ---------------------------------------------------------------------------


def append_to_pb(item: StreamAppend, message: Any) -> None:
    message.stream_id = item.stream_id
    expected_to_pb(item.expected, message.expected)
    for e in item.events:
        event = message.events.add(id=str(e.id), type=e.type, data=e.data_json,
                                   metadata=e.metadata_json)
        timestamp(e.recorded_at, event.recorded_at)


def batch_to_pb(batch: Iterable[StreamAppend]) -> Any:
    request = pb.AppendManyRequest()
    for item in batch:
        append_to_pb(item, request.appends.add())
    return request


def append_from_pb(message: Any, now: datetime) -> StreamAppend:
    """A validated StreamAppend; raises InvalidEvent naming the problem."""
    stream_id = message.stream_id
    check_stream_id(stream_id)
    where = f"append to {stream_id!r}"
    expected = expected_from_pb(message.expected, where)
    if not message.events:
        raise InvalidEvent(f"nothing to append to {stream_id!r}: give at least one event")
    events = []
    for e in message.events:
        type_ = e.type
        check_type(type_, f"{where}: an event type")
        try:
            event_id = uuid.UUID(e.id) if e.id else uuid.uuid4()
        except ValueError:
            raise InvalidEvent(f"{where}: event id {e.id[:40]!r} is not a UUID") from None
        recorded = from_timestamp(e.recorded_at, f"{where}: recorded_at of {type_!r}") \
            if e.HasField("recorded_at") else now
        events.append(PreparedEvent(
            event_id, type_, json_object(e.data, f"{where}: data of {type_!r}"),
            json_object(e.metadata, f"{where}: metadata of {type_!r}"), recorded))
    return StreamAppend(stream_id, expected, tuple(events))


def batch_from_pb(message: Any, now: datetime) -> list[StreamAppend]:
    batch = [append_from_pb(a, now) for a in message.appends]
    if not batch:
        raise InvalidEvent("append_many takes at least one append")
    streams = [a.stream_id for a in batch]
    if len(set(streams)) != len(streams):
        raise InvalidEvent("append_many takes at most one append per stream")
    ids = [e.id for a in batch for e in a.events]
    if len(set(ids)) != len(ids):
        raise InvalidEvent("the same event id appears twice in one append; ids must be unique")
    return batch


def result_to_pb(result: AppendResult, message: Any) -> None:
    message.stream_id = result.stream_id
    message.version = result.version
    message.positions.extend(result.positions)


def result_from_pb(message: Any) -> AppendResult:
    return AppendResult(message.stream_id, message.version, tuple(message.positions))


# -- events, queries, snapshots --------------------------------------------------------------


def event_to_pb(event: RecordedEvent, message: Any) -> None:
    message.stream_id = event.stream_id
    message.version = event.version
    message.position = event.position
    message.id = str(event.id)
    message.type = event.type
    message.data = dumps(event.data)
    message.metadata = dumps(event.metadata)
    timestamp(event.recorded_at, message.recorded_at)


def event_from_pb(m: Any) -> RecordedEvent:
    ts = m.recorded_at
    try:
        data, metadata = decode(m.data), decode(m.metadata)
    except RecursionError:  # a local store reading this event would fail alike
        raise StoreError(
            f"the event at position {m.position} is nested too deeply to parse this deep "
            f"in the call stack (recursion limit {sys.getrecursionlimit()}); raise it with "
            "sys.setrecursionlimit to read it") from None
    return RecordedEvent(
        m.stream_id, m.version, m.position, uuid.UUID(m.id), m.type, data, metadata,
        EPOCH + timedelta(seconds=ts.seconds, microseconds=ts.nanos // 1000),
    )


def events_to_arrow(pages: Iterable[Any]) -> pa.Table:
    """ReadResponse pages as an Arrow table of :func:`~eslib.backends.base.arrow_schema`."""
    import pyarrow as pa

    schema = arrow_schema()
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    for page in pages:
        for e in page.events:
            columns["position"].append(e.position)
            columns["stream_id"].append(e.stream_id)
            columns["version"].append(e.version)
            columns["type"].append(e.type)
            columns["recorded_at"].append(e.recorded_at.seconds * 1_000_000
                                          + e.recorded_at.nanos // 1000)
            columns["data"].append(e.data)
            columns["metadata"].append(e.metadata)
            columns["id"].append(e.id)
    arrays = [pa.array(columns[f.name], pa.int64() if f.name == "recorded_at" else f.type)
              for f in schema]
    arrays[schema.get_field_index("recorded_at")] = arrays[
        schema.get_field_index("recorded_at")].cast(schema.field("recorded_at").type)
    return pa.Table.from_arrays(arrays, schema=schema)


def bound(value: int, what: str, minimum: int = 1) -> int:
    if value < minimum:
        raise InvalidEvent(f"{what} must be >= {minimum}, got {value}")
    return int(value)


def query_from_pb(m: Any, cap: int) -> EventQuery:
    """The EventQuery of a ReadAll request, its limit capped at ``cap``; checked as the
    facade checks a local query."""
    limit = bound(m.limit, "limit", 0) if m.HasField("limit") else cap
    if m.HasField("stream_id"):
        check_stream_id(m.stream_id, "stream_id")
    return make_query(
        stream_id=m.stream_id if m.HasField("stream_id") else None,
        category=m.category if m.HasField("category") else None,
        types=tuple(m.types.types) if m.HasField("types") else None,
        from_position=m.from_position,
        to_position=m.to_position if m.HasField("to_position") else None,
        limit=min(limit, cap),
    )


def query_to_pb(query: EventQuery, message: Any) -> None:
    message.from_position = query.from_position
    if query.to_position is not None:
        message.to_position = query.to_position
    if query.types is not None:
        message.types.types.extend(query.types)
        message.types.SetInParent()
    if query.category is not None:
        message.category = query.category
    if query.stream_id is not None:
        message.stream_id = query.stream_id


def snapshot_to_pb(snapshot: Snapshot, message: Any) -> None:
    message.stream_id = snapshot.stream_id
    message.version = snapshot.version
    message.schema = snapshot.schema
    message.state = snapshot.state_json


def snapshot_from_pb(m: Any) -> Snapshot:
    return Snapshot(m.stream_id, m.version, m.schema, m.state)


# -- errors -----------------------------------------------------------------------------

_CODES: list[tuple[type[EslibError], grpc.StatusCode]] = [
    (InvalidEvent, grpc.StatusCode.INVALID_ARGUMENT),
    (WrongExpectedVersion, grpc.StatusCode.ABORTED),
    (DuplicateEventId, grpc.StatusCode.ALREADY_EXISTS),
    (StoreLockedError, grpc.StatusCode.UNAVAILABLE),
    (ConfigurationError, grpc.StatusCode.FAILED_PRECONDITION),
    (WriteOutcomeUnknown, grpc.StatusCode.UNKNOWN),
    (StoreError, grpc.StatusCode.INTERNAL),
]
_BY_NAME: dict[str, type[EslibError]] = {cls.__name__: cls for cls, _ in _CODES}
# a status without an eslib detail (a proxy, another server): the safest reading of its code
_FALLBACK: dict[grpc.StatusCode, type[EslibError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidEvent,
    grpc.StatusCode.ABORTED: ConcurrencyError,
    grpc.StatusCode.FAILED_PRECONDITION: ConfigurationError,
    grpc.StatusCode.UNAUTHENTICATED: ConfigurationError,
    grpc.StatusCode.PERMISSION_DENIED: ConfigurationError,
    grpc.StatusCode.UNIMPLEMENTED: ConfigurationError,
}


def error_status(exc: EslibError) -> tuple[grpc.StatusCode, Any]:
    """The status code and ErrorDetail of an eslib exception raised on the server."""
    code = next((c for cls, c in _CODES if isinstance(exc, cls)), grpc.StatusCode.INTERNAL)
    detail = pb.ErrorDetail(error=type(exc).__name__)
    if isinstance(exc, WrongExpectedVersion):
        wrong = detail.wrong_expected_version
        wrong.stream_id = exc.stream_id
        expected_to_pb(exc.expected, wrong.expected)  # type: ignore[arg-type]
        wrong.actual = exc.actual
    elif isinstance(exc, DuplicateEventId):
        detail.duplicate_event_id.event_ids.extend(exc.event_ids)
    return code, detail


def error_from_status(code: grpc.StatusCode, message: str, detail: Any) -> EslibError:
    """The eslib exception a client raises for an error status (the server's message kept)."""
    which = detail.WhichOneof("detail") if detail is not None else None
    exc: EslibError
    if which == "wrong_expected_version":
        w = detail.wrong_expected_version
        exc = WrongExpectedVersion(w.stream_id, expected_from_pb(w.expected, w.stream_id),
                                   w.actual)
    elif which == "duplicate_event_id":
        exc = DuplicateEventId(list(detail.duplicate_event_id.event_ids))
    else:
        known = _BY_NAME.get(detail.error) if detail is not None else None
        cls = known or _FALLBACK.get(code, StoreError)
        exc = cls.__new__(cls)
    exc.args = (message,)
    return exc
