"""A clock and an id factory that make a store's output the same on every run."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

from .errors import ConfigurationError
from .validation import is_int


class TickingClock:
    """A clock that starts at ``start`` and advances ``step`` on every reading.

    >>> clock = TickingClock(datetime(2024, 1, 1, tzinfo=timezone.utc), timedelta(seconds=1))
    >>> clock().isoformat(), clock().isoformat()
    ('2024-01-01T00:00:00+00:00', '2024-01-01T00:00:01+00:00')
    """

    def __init__(
        self,
        start: datetime = datetime(2024, 1, 1, tzinfo=timezone.utc),
        step: timedelta = timedelta(seconds=1),
    ) -> None:
        if not isinstance(start, datetime):
            raise ConfigurationError(f"TickingClock's start must be a datetime, got {start!r}")
        if not isinstance(step, timedelta) or step <= timedelta(0):
            raise ConfigurationError(f"TickingClock's step must be a timedelta > 0 (time does "
                                     f"not go back), got {step!r}")
        if start.tzinfo is None:
            raise ConfigurationError(
                f"TickingClock needs a timezone-aware start, e.g. datetime(2024, 1, 1, "
                f"tzinfo=timezone.utc); got {start!r}")
        self._now = start
        self._step = step
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            now, self._now = self._now, self._now + self._step
        return now


class SequentialIds:
    """UUIDs 00000000-0000-4000-8000-000000000001, …-000000000002, … (namespace ``prefix``).

    >>> ids = SequentialIds()
    >>> str(ids()), str(ids())
    ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002')
    """

    def __init__(self, prefix: int = 0) -> None:
        if not is_int(prefix, 0, 0xFFFFFFFF):
            raise ConfigurationError(f"SequentialIds' prefix must be an int from 0 to "
                                     f"0xFFFFFFFF (8 hex digits), got {prefix!r}")
        self._next = 1
        self._prefix = prefix
        self._lock = threading.Lock()

    def __call__(self) -> uuid.UUID:
        with self._lock:
            n, self._next = self._next, self._next + 1
        if n > 0xFFFFFFFFFFFF:
            raise ConfigurationError("SequentialIds ran out of its 16**12 ids: start another "
                                     "with the next prefix")
        return uuid.UUID(f"{self._prefix:08x}-0000-4000-8000-{n:012x}")
