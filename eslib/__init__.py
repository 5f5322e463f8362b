"""eslib: an event-sourcing workbench — an event store on memory, DuckDB and PostgreSQL."""

from .aggregate import Aggregate
from .bus import EventBus, HandlerFailure
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
    QueryError,
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
from .process import ProcessContext, ProcessManager
from .projection import EventContext, Projection, ProjectionRunner, SQLProjection
from .registry import EventRegistry, default_registry, event, upcaster
from .repository import Repository
from .store import Batch, EventStore, StoreTransaction, connect
from .subscription import Subscription

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
    "EventBus",
    "EventContext",
    "EventRegistry",
    "EventStore",
    "HandlerError",
    "HandlerFailure",
    "InvalidEvent",
    "NewEvent",
    "ProcessContext",
    "ProcessManager",
    "Projection",
    "ProjectionRunner",
    "QueryError",
    "RecordedEvent",
    "RegistrationError",
    "Repository",
    "SQLProjection",
    "SequentialIds",
    "StoreClosedError",
    "StoreError",
    "StoreLockedError",
    "StoreTransaction",
    "StreamState",
    "Subscription",
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
