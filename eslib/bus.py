"""An in-process event bus: handlers per event type, called after a successful save.

::

    bus = eslib.EventBus()

    @bus.on(Deposited)
    def notify(event):
        ...

    repo = eslib.Repository(store, Account, bus=bus)

The bus runs after the events are stored, so a failing handler cannot undo the
save: its error is logged and collected in :attr:`EventBus.failures`, and the
other handlers still run. For handling that must not miss events across
restarts, follow the log with a :class:`~eslib.Subscription` instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .errors import ConfigurationError
from .validation import is_int

log = logging.getLogger("eslib.bus")

EventHandler = Callable[[Any], object]


@dataclass(frozen=True)
class HandlerFailure:
    """A handler that raised: which one, on which event, and the exception."""

    handler: EventHandler
    event: Any
    error: BaseException

    def __str__(self) -> str:
        name = getattr(self.handler, "__qualname__", repr(self.handler))
        return f"{name} failed on {self.event!r}: {type(self.error).__name__}: {self.error}"


class EventBus:
    """Publishes domain events to the handlers subscribed to their class (or a base class).

    Subscribe to ``object`` to receive every event.
    """

    def __init__(self, *, keep_failures: int = 1000) -> None:
        self._handlers: dict[type, list[EventHandler]] = {}
        self._lock = threading.Lock()
        if not is_int(keep_failures, 0):
            raise ConfigurationError(f"keep_failures must be an int >= 0, got {keep_failures!r}")
        self._keep = keep_failures
        self.failures: list[HandlerFailure] = []  #: the most recent failures, oldest first

    def subscribe(self, event_type: type, handler: EventHandler) -> None:
        """Call ``handler(event)`` for every published instance of ``event_type``."""
        if not isinstance(event_type, type):
            raise ConfigurationError(
                f"subscribe to an event class (object: every event), got {event_type!r}")
        if not callable(handler):
            raise ConfigurationError(f"a handler must be callable as handler(event), "
                                     f"got {handler!r}")
        with self._lock:
            self._handlers.setdefault(event_type, []).append(handler)

    def on(self, *event_types: type) -> Callable[[EventHandler], EventHandler]:
        """Decorator form of :meth:`subscribe` for one or more event classes."""

        def register(handler: EventHandler) -> EventHandler:
            for event_type in event_types or (object,):
                self.subscribe(event_type, handler)
            return handler

        return register

    def handlers_for(self, event_type: type) -> list[EventHandler]:
        found: list[EventHandler] = []
        for cls in event_type.__mro__:
            found.extend(self._handlers.get(cls, ()))
        return found

    def publish(self, events: Iterable[Any]) -> list[HandlerFailure]:
        """Call the handlers of each event in order; returns this call's failures.

        A handler's exception is logged and collected, never raised.
        """
        failures: list[HandlerFailure] = []
        for event in events:
            for handler in self.handlers_for(type(event)):
                try:
                    handler(event)
                except Exception as exc:
                    failure = HandlerFailure(handler, event, exc)
                    log.error("event bus: %s", failure, exc_info=exc)
                    failures.append(failure)
        if failures:
            with self._lock:
                self.failures.extend(failures)
                del self.failures[: max(0, len(self.failures) - self._keep)]
        return failures
