"""Turning what a caller appends into :class:`~eslib.backends.base.StreamAppend` batches:
every check that runs before anything is written, event ids and timestamps assigned."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from functools import partial

from .backends.base import PreparedEvent, StreamAppend
from .errors import ConfigurationError, InvalidEvent
from .events import ExpectedVersion, NewEvent
from .ids import uuid7
from .validation import (
    MAX_INT,
    MAX_STREAM_ID,
    MAX_TYPE,
    check_expected_version,
    check_stream_id,
    check_type,
    to_json,
)

Clock = Callable[[], datetime]
IdFactory = Callable[[], uuid.UUID]

#: The default clock: the current time in UTC (a C call, no Python frame).
utc_now: Clock = partial(datetime.now, timezone.utc)
# Named tuples made without their Python-level __new__ (the hot path of every append)
_tuple_new = tuple.__new__


class EventPreparer:
    """Validates appends and stamps their events with ids (``id_factory``, else UUIDv7)
    and ``clock`` readings (UTC); thread-safe."""

    def __init__(self, clock: Clock, id_factory: IdFactory | None) -> None:
        for name, given in (("clock", clock), ("id_factory", id_factory)):
            if given is not None and not callable(given):
                raise ConfigurationError(
                    f"{name} must be a function called with no arguments, got {given!r}")
        self.clock = clock
        if clock is utc_now:  # known to give aware UTC datetimes: no checks
            self.now = clock  # type: ignore[method-assign]
        self.id_factory = id_factory or uuid7
        self.custom_ids = id_factory is not None
        self._id_lock = threading.Lock()  # deterministic factories are rarely thread-safe

    def prepare_many(
        self, appends: Mapping[str, tuple[Sequence[NewEvent], ExpectedVersion]]
    ) -> list[StreamAppend]:
        if not isinstance(appends, Mapping) or not appends:
            raise InvalidEvent(
                "append_many takes a non-empty mapping {stream_id: (events, expected_version)}"
            )
        batch = []
        for stream_id, entry in appends.items():
            if not (isinstance(entry, tuple) and len(entry) == 2):
                raise InvalidEvent(
                    f"append_many[{stream_id!r}] must be a tuple (events, expected_version)"
                )
            batch.append(self.prepare(stream_id, entry[0], entry[1]))
        return batch

    def prepare(
        self, stream_id: str, events: Sequence[NewEvent], expected: ExpectedVersion
    ) -> StreamAppend:
        # exact type tests first (the hot path of every append), the full checks on a miss
        if type(stream_id) is not str or not 0 < len(stream_id) <= MAX_STREAM_ID \
                or "\x00" in stream_id or not stream_id.isascii():
            check_stream_id(stream_id)
        if type(expected) is not int or not 0 <= expected <= MAX_INT:
            check_expected_version(expected)
        if type(events) is not list and type(events) is not tuple and (
                isinstance(events, NewEvent) or not isinstance(events, (list, tuple))):
            raise InvalidEvent(
                f"events for {stream_id!r} must be a list of eslib.NewEvent, "
                f"got {type(events).__name__}"
            )
        if not events:
            raise InvalidEvent(f"nothing to append to {stream_id!r}: give at least one event")
        return _tuple_new(StreamAppend, (stream_id, expected, tuple(
            [self.prepare_event(e) for e in events])))

    def prepare_event(self, event: NewEvent) -> PreparedEvent:
        # the hot path of every append: exact type checks first, the general ones after
        if type(event) is not NewEvent and not isinstance(event, NewEvent):
            raise InvalidEvent(f"expected an eslib.NewEvent, got {type(event).__name__}")
        kind = event.type
        if type(kind) is not str or not kind or len(kind) > MAX_TYPE or "\x00" in kind \
                or not kind.isascii():
            check_type(kind)
        metadata = event.metadata
        return _tuple_new(PreparedEvent, (
            self.event_id(event) if event.id is not None or self.custom_ids else uuid7(),
            kind,
            to_json(event.data, "data", kind),
            "{}" if metadata is None else to_json(metadata, "metadata", kind),
            self.now(),
        ))

    def event_id(self, event: NewEvent) -> uuid.UUID:
        if event.id is None:
            with self._id_lock:
                new = self.id_factory()
            if not isinstance(new, uuid.UUID):
                raise InvalidEvent(f"id_factory must return uuid.UUID, got {type(new).__name__}")
            return new
        if isinstance(event.id, uuid.UUID):
            return event.id
        try:
            return uuid.UUID(str(event.id))
        except ValueError:
            raise InvalidEvent(f"event id {event.id!r} is not a UUID") from None

    def now(self) -> datetime:
        now = self.clock()
        if type(now) is datetime and now.tzinfo is timezone.utc:
            return now
        if not isinstance(now, datetime) or now.tzinfo is None:
            raise InvalidEvent("the store's clock must return timezone-aware datetimes")
        return now.astimezone(timezone.utc)
