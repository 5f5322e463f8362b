"""Following the global log: :class:`Subscription` and the :class:`Follower` machinery.

A follower reads ``read_all`` in pages from its checkpoint, hands the events to
its handler and keeps following new ones, in a thread (``start``/``stop``) or
step by step (``run_until_caught_up``, for tests, notebooks and scripts).

Waiting for new events: when the store's backend has a hook
``wait_for_events(after_position, timeout) -> bool`` (PostgreSQL implements it with
LISTEN/NOTIFY, gRPC with server push) the follower blocks in it, ``poll_interval``
at most (default: the backend's ``push_poll_interval`` if it has one, a safety net);
otherwise it polls, sleeping ``poll_interval`` (default 0.05 s) between empty reads.
``stop`` calls the backend's ``wake_waiters()``, if it has one, so as not to wait out
the timeout. A thread that loses the store (a StoreError: connection lost, server
restarting) retries with backoff from its checkpoint instead of stopping.

Errors: a failing event is retried ``retries`` times (the page is re-read from the
checkpoint, so nothing already committed runs twice); then the follower stops with
:class:`~eslib.SubscriptionStopped` naming the event. It never skips an event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .errors import ConfigurationError, StoreError, SubscriptionStopped
from .events import RecordedEvent
from .registry import EventRegistry, default_registry
from .store import EventStore
from .validation import check_bound, check_checkpoint, is_int

log = logging.getLogger("eslib.subscription")

Handler = Callable[[Any, RecordedEvent], object]
RECONNECT = (0.05, 2.0)  # backoff after a StoreError: first pause, longest pause (seconds)


class EventFailed(Exception):
    """Internal: a handler failed on ``recorded``; the follower decides to retry or stop."""

    def __init__(self, recorded: RecordedEvent, error: BaseException) -> None:
        super().__init__(str(error))
        self.recorded = recorded
        self.error = error


class Follower:
    """Base of subscriptions, catch-up projections and process managers.

    Subclasses implement :meth:`checkpoint` (the last position processed) and
    :meth:`handle_page` (process events in order, committing progress as they go,
    raising :class:`EventFailed` for the event that failed).
    """

    name: str = "follower"

    def __init__(
        self,
        store: EventStore,
        *,
        types: Iterable[type | str] | None = None,
        category: str | None = None,
        registry: EventRegistry | None = None,
        page_size: int = 500,
        poll_interval: float | None = None,
        retries: int = 3,
        retry_delay: float = 0.05,
    ) -> None:
        _check_options(page_size, poll_interval, retries, retry_delay)
        self.store = store
        self.registry = registry or default_registry
        self.type_names = _type_names(types, self.registry)
        self.category = category
        self.page_size = page_size
        self.poll_interval = 0.05 if poll_interval is None else poll_interval
        self._push_timeout = (getattr(store.backend, "push_poll_interval", self.poll_interval)
                              if poll_interval is None else poll_interval)
        self.retries = retries
        self.retry_delay = retry_delay
        self.processed = 0  #: events handled since this object was made
        self.error: BaseException | None = None  #: why the thread stopped, if it failed
        self._failing: tuple[int, int] = (0, 0)  # (position, attempts so far)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- to implement ----------------------------------------------------------

    def checkpoint(self) -> int:
        """The position of the last event processed (0: none)."""
        raise NotImplementedError

    def handle_page(self, page: list[RecordedEvent]) -> None:
        raise NotImplementedError

    # -- running -----------------------------------------------------------------

    def step(self) -> int:
        """Read and process one page; the number of events read (0: caught up)."""
        page = list(self.store.read_all(
            self.checkpoint() + 1, limit=self.page_size, types=self.type_names,
            category=self.category,
        ))
        if not page:
            return 0
        try:
            self.handle_page(page)
        except EventFailed as failed:
            position = failed.recorded.position
            attempts = self._failing[1] + 1 if self._failing[0] == position else 1
            self._failing = (position, attempts)
            if attempts > self.retries:
                raise SubscriptionStopped(self.name, failed.recorded, attempts,
                                          failed.error) from failed.error
            log.warning("%s: retry %d/%d at position %d: %r", self.name, attempts,
                        self.retries, position, failed.error)
            self._stopping.wait(self.retry_delay * attempts)
        return len(page)

    def run_until_caught_up(self) -> int:
        """Process every event available now; returns how many were handled.

        Raises :class:`~eslib.SubscriptionStopped` when a handler keeps failing.
        """
        before = self.processed
        while self.step():
            pass
        return self.processed - before

    def start(self) -> Follower:
        """Follow in a daemon thread until :meth:`stop` (or a handler keeps failing)."""
        if self._thread is not None and self._thread.is_alive():
            raise ConfigurationError(
                f"{self.name!r} is already running; stop() it before starting it again")
        self._stopping.clear()
        self.error = None
        self._thread = threading.Thread(target=self._run, name=f"eslib-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop the thread; re-raises the error that stopped it, if any."""
        self._stopping.set()
        wake = getattr(self.store.backend, "wake_waiters", None)
        if wake is not None:
            wake()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.error is not None:
            raise self.error

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait_until(self, position: int, timeout: float = 5.0) -> bool:
        """Block until the checkpoint reaches ``position`` (or the thread stops/times out)."""
        deadline = time.monotonic() + timeout
        while self.checkpoint() < position:
            if not self.running or time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def _run(self) -> None:
        pause, failures = RECONNECT[0], 0
        try:
            while not self._stopping.is_set():
                try:
                    if self.step() == 0:
                        self._wait()
                except StoreError as exc:  # connection lost, server restarting: resume
                    failures += 1
                    if failures == 1 or failures % 10 == 0:
                        log.warning("%s: the store failed (%s); retrying from the checkpoint",
                                    self.name, exc)
                    self._stopping.wait(pause)
                    pause = min(pause * 2, RECONNECT[1])
                    continue
                if failures:
                    log.warning("%s: resumed after %d failed attempt(s)", self.name, failures)
                    pause, failures = RECONNECT[0], 0
        except BaseException as exc:  # reported, never swallowed: stop() re-raises it
            self.error = exc
            log.error("%s stopped: %s", self.name, exc)

    def _wait(self) -> None:
        wait_for_events = getattr(self.store.backend, "wait_for_events", None)
        if wait_for_events is not None:
            wait_for_events(self.checkpoint(), self._push_timeout)
        else:
            self._stopping.wait(self.poll_interval)

    def __enter__(self) -> Follower:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class Subscription(Follower):
    """Calls ``handler(event, recorded)`` for every event after the checkpoint, in order.

    ``event`` is the decoded domain event (the RecordedEvent itself for types no
    class is registered for). With a ``name`` the checkpoint is kept in the store
    (saved after each event: at-least-once, a crash redelivers at most one event);
    without one it lives in this object. Either way it starts at ``from_position`` or
    after the stored checkpoint, whichever is later.
    """

    def __init__(
        self,
        store: EventStore,
        handler: Handler,
        *,
        name: str | None = None,
        from_position: int = 1,
        **options: Any,
    ) -> None:
        super().__init__(store, **options)
        if not callable(handler):
            raise ConfigurationError(
                f"a subscription's handler must be callable as handler(event, recorded), "
                f"got {handler!r}")
        check_bound("from_position", from_position)
        if name is not None:
            check_checkpoint(name)
        self.handler = handler
        self.name = name or str(getattr(handler, "__qualname__", "subscription"))
        self._durable = name is not None
        self._position = from_position - 1

    def checkpoint(self) -> int:
        if self._durable:
            return max(self.store.load_checkpoint(self.name), self._position)
        return self._position

    @property
    def position(self) -> int:
        return self.checkpoint()

    def handle_page(self, page: list[RecordedEvent]) -> None:
        decode = self.registry.decode
        for recorded in page:
            try:
                self.handler(decode(recorded, raw_unknown=True), recorded)
            except Exception as exc:
                raise EventFailed(recorded, exc) from exc
            if self._durable:
                with self.store.transaction() as tx:
                    tx.save_checkpoint(self.name, recorded.position)
            else:
                self._position = recorded.position
            self.processed += 1


def _check_options(page_size: object, poll_interval: object, retries: object,
                   retry_delay: object) -> None:
    def number(value: object) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0

    if not is_int(page_size, 1):
        raise ConfigurationError(f"page_size must be an int >= 1, got {page_size!r}")
    if not is_int(retries, 0):
        raise ConfigurationError(f"retries must be an int >= 0, got {retries!r}")
    for option, value in (("poll_interval", poll_interval), ("retry_delay", retry_delay)):
        if value is not None and not number(value):
            raise ConfigurationError(f"{option} must be seconds >= 0, got {value!r}")


def _type_names(types: Iterable[type | str] | None, registry: EventRegistry
                ) -> tuple[str, ...] | None:
    if types is None:
        return None
    if isinstance(types, (str, type)):
        types = (types,)
    return tuple(t if isinstance(t, str) else registry.type_of(t).name for t in types)
