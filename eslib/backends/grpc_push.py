"""Following a grpc:// store: the server-streaming Subscribe call, reconnected by itself.

:meth:`Push.subscribe` yields events as they commit; :meth:`Push.wait_for_events` (the
Subscription push hook) keeps one notify-only watch per client, and polls for a while
when the server refuses it (its subscription limit) instead of retrying every wake-up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import grpc

from ..errors import EslibError
from ..events import RecordedEvent
from ..proto import codec
from ..proto import eventstore_pb2 as pb

if TYPE_CHECKING:
    from .grpc import GrpcBackend

WATCH_RETRY = 30  # seconds before a refused push watch is tried again
log = logging.getLogger("eslib.grpc")


class Push:
    """A backend's Subscribe calls and its watch of the head position."""

    def __init__(self, backend: GrpcBackend) -> None:
        self._backend = backend
        self._head = threading.Condition()
        self._seen = 0  # the highest position the watch was told about
        self._watch: threading.Thread | None = None
        self._watch_again = 0.0  # monotonic time: a refused watch is not retried before it
        self._watch_call: Any = None

    def subscribe(self, from_position: int, types: Sequence[str] | None,
                  category: str | None) -> Iterator[RecordedEvent]:
        request = pb.SubscribeRequest(from_position=from_position)
        if types is not None:
            request.types.types.extend(types)
            request.types.SetInParent()
        if category is not None:
            request.category = category
        for response in self._follow(request):
            for message in response.events:
                event = codec.event_from_pb(message)
                request.from_position = event.position + 1
                yield event

    def _follow(self, request: Any) -> Iterator[Any]:
        """Subscribe responses across reconnections (the request's position is the resume point)."""
        backend = self._backend
        pause = 0.05
        while not backend._closed:
            call = backend._subscribe(request, metadata=backend._metadata, wait_for_ready=True)
            self._watch_call = call if request.notify_only else self._watch_call
            try:
                for response in call:
                    pause = 0.05
                    yield response
            except grpc.RpcError as err:
                retry = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
                if backend._closed or err.code() not in retry:
                    raise backend.error(err, "subscribe") from None
            finally:
                call.cancel()
            time.sleep(pause)  # the server went away or is shutting down: reconnect
            pause = min(pause * 2, 1.0)

    def wait_for_events(self, after_position: int, timeout: float) -> bool:
        with self._head:
            if time.monotonic() < self._watch_again:  # refused (e.g. the server's limit): poll
                self._head.wait(timeout)
            elif self._watch is None or not self._watch.is_alive():
                self._seen = max(self._seen, after_position)
                self._watch = threading.Thread(target=self._run_watch, daemon=True,
                                               name=f"eslib-watch-{self._backend.display}")
                self._watch.start()
            return self._head.wait_for(lambda: self._seen > after_position, timeout)

    def _run_watch(self) -> None:
        request = pb.SubscribeRequest(from_position=self._seen + 1, notify_only=True)
        try:
            for response in self._follow(request):
                with self._head:
                    if response.last_position > self._seen:
                        self._seen = response.last_position
                        self._head.notify_all()
                request.from_position = self._seen + 1
        except EslibError as exc:
            if not self._backend._closed:  # one line, then polling for a while
                self._watch_again = time.monotonic() + WATCH_RETRY
                log.warning("push notifications from %s stopped: %s; polling, retrying in "
                            "%d s", self._backend.display, exc, WATCH_RETRY)

    def close(self) -> None:
        if self._watch_call is not None:
            self._watch_call.cancel()
