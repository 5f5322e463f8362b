"""The one exception tree of eslib.

Every error eslib raises derives from :class:`EslibError`; driver errors that
escape a backend are wrapped, the original kept as ``__cause__``::

    EslibError
    ├── ConfigurationError          bad URL, missing driver, unusable settings
    │   └── StoreLockedError        a DuckDB file is held by another process
    ├── InvalidEvent                bad stream id, type, data or metadata
    ├── DuplicateEventId            an event id already stored elsewhere
    ├── ConcurrencyError
    │   └── WrongExpectedVersion    the stream moved since it was read
    ├── StoreError                  the backend failed (connection, SQL, I/O)
    │   └── WriteOutcomeUnknown     the connection broke during a commit
    └── StoreClosedError            the store was used after close()
"""

from __future__ import annotations


class EslibError(Exception):
    """Root of every eslib exception."""


class ConfigurationError(EslibError):
    """The store cannot be opened as configured (URL, driver, settings)."""


class StoreLockedError(ConfigurationError):
    """A DuckDB file is already opened for writing by another process."""


class InvalidEvent(EslibError, ValueError):
    """An event or stream id was rejected before anything was written."""


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

    def __init__(self, stream_id: str, expected: int | str, actual: int) -> None:
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


class StoreClosedError(EslibError):
    """The store was used after ``close()``."""

    def __init__(self) -> None:
        super().__init__("the event store is closed; open a new one with eslib.connect()")
