"""eslib: an event-sourcing workbench — an event store on memory, DuckDB and PostgreSQL."""

from .aggregate import Aggregate
from .decider import Decider
from .deterministic import SequentialIds, TickingClock
from .errors import (
    AggregateNotFound,
    ConcurrencyError,
    ConfigurationError,
    DuplicateEventId,
    EslibError,
    HandlerError,
    InvalidEvent,
    RegistrationError,
    StoreClosedError,
    StoreError,
    StoreLockedError,
    SubscriptionStopped,
    UnknownEventType,
    UpcastError,
    WriteOutcomeUnknown,
    WrongExpectedVersion,
)
from .events import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    NewEvent,
    RecordedEvent,
    StreamState,
)
from .registry import EventRegistry, default_registry, event, upcaster
from .repository import Repository
from .store import Batch, EventStore, connect

__version__ = "0.1.0"

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "Aggregate",
    "AggregateNotFound",
    "AppendResult",
    "Batch",
    "ConcurrencyError",
    "ConfigurationError",
    "Decider",
    "DuplicateEventId",
    "EslibError",
    "EventRegistry",
    "EventStore",
    "HandlerError",
    "InvalidEvent",
    "NewEvent",
    "RecordedEvent",
    "RegistrationError",
    "Repository",
    "SequentialIds",
    "StoreClosedError",
    "StoreError",
    "StoreLockedError",
    "StreamState",
    "SubscriptionStopped",
    "TickingClock",
    "UnknownEventType",
    "UpcastError",
    "WriteOutcomeUnknown",
    "WrongExpectedVersion",
    "connect",
    "default_registry",
    "event",
    "upcaster",
]
