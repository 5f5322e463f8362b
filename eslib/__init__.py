"""eslib: an event-sourcing workbench — an event store on memory, DuckDB and PostgreSQL."""

from .errors import (
    ConcurrencyError,
    ConfigurationError,
    DuplicateEventId,
    EslibError,
    InvalidEvent,
    StoreClosedError,
    StoreError,
    StoreLockedError,
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
from .store import Batch, EventStore, connect
from .deterministic import SequentialIds, TickingClock

__version__ = "0.1.0"

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "AppendResult",
    "Batch",
    "ConcurrencyError",
    "ConfigurationError",
    "DuplicateEventId",
    "EslibError",
    "EventStore",
    "InvalidEvent",
    "NewEvent",
    "RecordedEvent",
    "SequentialIds",
    "StoreClosedError",
    "StoreError",
    "StoreLockedError",
    "StreamState",
    "TickingClock",
    "WriteOutcomeUnknown",
    "WrongExpectedVersion",
    "connect",
]
