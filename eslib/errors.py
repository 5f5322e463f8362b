"""The one exception tree of eslib.

Every error eslib raises derives from :class:`EslibError`; driver errors that
escape a backend are wrapped, the original kept as ``__cause__``::

    EslibError
    ├── ConfigurationError          bad URL, missing driver, unusable settings or options;
    │                               an API used where it cannot work (a write to a
    │                               read-only store, a follower started twice)
    │   └── StoreLockedError        a DuckDB file is held by another process
    ├── InvalidEvent                bad stream id, type, data or metadata; an unregistered
    │                               event or a non-dataclass passed to Aggregate.record
    ├── RegistrationError           an event type or upcaster defined twice or wrongly
    ├── UnknownEventType            a stored event type no class is registered for
    ├── UpcastError                 stored event data cannot be brought to the current version
    ├── AggregateNotFound           no stream (or no such version) for an aggregate id
    ├── DuplicateEventId            an event id already stored elsewhere
    ├── ConcurrencyError
    │   └── WrongExpectedVersion    the stream moved since it was read
    ├── StoreError                  the backend failed (connection, SQL, I/O)
    │   ├── WriteOutcomeUnknown     the connection broke during a commit
    │   └── QueryError              the database rejected an analysis query (its message kept)
    ├── StoreClosedError            the store was used after close()
    └── HandlerError                a projection/subscription/process handler kept failing
        └── SubscriptionStopped     …so the follower stopped at that event (never skips it)
"""

from __future__ import annotations


class EslibError(Exception):
    """Root of every eslib exception."""


class ConfigurationError(EslibError):
    """The store cannot be opened as configured (URL, driver, settings), or an option or
    call cannot work as given (a write to a read-only store, a follower started twice)."""


class StoreLockedError(ConfigurationError):
    """A DuckDB file is already opened for writing by another process."""


class InvalidEvent(EslibError, ValueError):
    """An event, a stream id or another argument was rejected before anything was written
    or read."""


class DuplicateEventId(EslibError):
    """An event id is already stored, at another stream or version."""

    def __init__(self, event_ids: list[str], detail: str = "") -> None:
        self.event_ids = event_ids
        ids = ", ".join(event_ids[:3]) + (" …" if len(event_ids) > 3 else "")
        super().__init__(
            f"event id(s) {ids} already stored{(' ' + detail) if detail else ''}; "
            "give each new event a fresh id (leave NewEvent.id unset to get one), "
            "or resend the identical append to the same stream to retry it safely"
        )


class ConcurrencyError(EslibError):
    """A write conflicted with another write."""


class WrongExpectedVersion(ConcurrencyError):
    """The stream's version is not the one the append expected. Nothing was written."""

    def __init__(self, stream_id: str, expected: object, actual: int) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"stream {stream_id!r}: expected version {expected}, actual version {actual}; "
            "nothing was written — reload the stream and decide again"
        )

    def __reduce__(self):  # keep attributes across pickling (multiprocessing, gRPC)
        return (type(self), (self.stream_id, self.expected, self.actual))


class StoreError(EslibError):
    """The backend failed: connection lost, I/O error, unexpected SQL error."""


class WriteOutcomeUnknown(StoreError):
    """The connection broke while a write was being committed.

    The write may or may not have been stored. Retrying the same append (same
    event ids) is safe: it is idempotent.
    """


class QueryError(StoreError):
    """The database rejected a query given to :func:`eslib.analysis.sql`; the message is the
    database's own, the driver's error is ``__cause__``."""


class StoreClosedError(EslibError):
    """The store was used after ``close()``."""

    def __init__(self) -> None:
        super().__init__("the event store is closed; open a new one with eslib.connect()")


class RegistrationError(EslibError):
    """An event class or upcaster was registered twice under one name, or is not usable."""


class UnknownEventType(EslibError):
    """A stored event's type has no registered event class."""

    def __init__(self, event_type: str, stream_id: str | None = None) -> None:
        self.event_type = event_type
        self.stream_id = stream_id
        where = f" (stream {stream_id!r})" if stream_id else ""
        super().__init__(
            f"no event class is registered for type {event_type!r}{where}; decorate its "
            f"dataclass with @eslib.event({event_type!r}) and import it before reading"
        )


class UpcastError(EslibError):
    """Stored event data cannot be turned into the current event class."""


class AggregateNotFound(EslibError):
    """No aggregate with this id (or it has fewer events than the version asked for)."""

    def __init__(self, stream_id: str, version: int | None = None, actual: int = 0) -> None:
        self.stream_id = stream_id
        self.version = version
        self.actual = actual
        if version is None:
            detail = "has no events; create the aggregate and save it first"
        else:
            detail = f"has {actual} event(s), so there is no version {version}"
        super().__init__(f"aggregate stream {stream_id!r} {detail}")

    def __reduce__(self):  # keep attributes across pickling
        return (type(self), (self.stream_id, self.version, self.actual))


class HandlerError(EslibError):
    """A handler failed on an event; ``event`` is the RecordedEvent, ``__cause__`` the error."""

    def __init__(self, name: str, event: object, attempts: int, error: BaseException) -> None:
        self.name = name
        self.event = event
        self.attempts = attempts
        self.error = error
        super().__init__(
            f"{name!r} failed {attempts} time(s) on {_describe(event)}: "
            f"{type(error).__name__}: {error}; fix the handler (or the data) and run it "
            "again: it resumes at this event"
        )

    def __reduce__(self):  # keep attributes across pickling
        return (type(self), (self.name, self.event, self.attempts, self.error))


class SubscriptionStopped(HandlerError):
    """A subscription, catch-up projection or process manager stopped at a failing event."""


def _describe(event: object) -> str:
    position = getattr(event, "position", "?")
    stream_id = getattr(event, "stream_id", "?")
    version = getattr(event, "version", "?")
    event_type = getattr(event, "type", type(event).__name__)
    event_id = getattr(event, "id", "?")
    return f"event {event_type} at position {position} ({stream_id}@{version}, id {event_id})"
