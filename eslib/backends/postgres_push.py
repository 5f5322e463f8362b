"""Live push for PostgreSQL followers (LISTEN/NOTIFY), and what holds followers back.

Every appending transaction notifies the channel ``eslib_events`` at its commit (see
postgres_sql.NOTIFY). One :class:`Listener` per backend holds one dedicated LISTEN
connection in a daemon thread and wakes every follower waiting in
``PostgresBackend.wait_for_events``: one connection, and one backend process for NOTIFY to
signal, however many followers a process runs; pool connections stay free.

No wake-up is lost: each waiting thread remembers the notification count and the visible
head when its previous wait returned, and returns at once if either moved since. The
listener counts a (re)connection as a notification, since commits made while it was deaf
were not heard. Committed events hidden by the fence (an older transaction still running)
send no new notification when the fence moves, so while the newest committed event is
hidden the wait polls briefly (10 ms doubling to 1 s), and after ``warn_blocked_after``
seconds it logs a warning naming each blocking connection (never its query text).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import postgres_sql as sql

log = logging.getLogger("eslib.postgres")

FENCE_POLL = (0.01, 1.0)  # poll interval while the fence hides committed events: first, max
RECONNECT = (0.05, 2.0)  # listener reconnection backoff: first, max
SAFETY_POLL = 5.0  # a follower's default wait when nothing is pushed (push_poll_interval)


@dataclass(frozen=True)
class BlockingTransaction:
    """A running transaction that keeps ``read_all`` followers from seeing newer events."""

    pid: int
    database: str | None
    user: str | None
    application_name: str | None
    state: str | None  # e.g. "idle in transaction"
    xact_start: datetime | None
    hidden_events: int  # committed events followers cannot be shown until it ends

    def __str__(self) -> str:
        return (
            f"PostgreSQL backend pid {self.pid} ({self.state or 'unknown state'}, "
            f"application {self.application_name or '?'!r}, user {self.user or '?'}, "
            f"database {self.database or '?'}, transaction started {self.xact_start}) holds "
            f"back {self.hidden_events} committed event(s): followers see them once it ends; "
            "end it (COMMIT/ROLLBACK) or SELECT pg_terminate_backend(pid)"
        )


class Listener:
    """One LISTEN connection shared by the followers of one backend (started on first use)."""

    def __init__(self, connect: Callable[[], Any], probe: Callable[[], tuple[int, bool]],
                 blockers: Callable[[], list[BlockingTransaction]],
                 warn_blocked_after: float) -> None:
        self._connect = connect  # a new autocommit psycopg connection
        self._probe = probe  # (visible head, is the newest committed event hidden?)
        self._blockers = blockers
        self.warn_blocked_after = warn_blocked_after
        self._cond = threading.Condition()
        self._generation = 0  # notifications (and reconnections) heard so far
        self._closed = False
        self._thread: threading.Thread | None = None
        self._conn: Any = None
        self._local = threading.local()  # per waiting thread: (generation, head) at return
        self._hidden_since: float | None = None
        self._fence_poll = FENCE_POLL[0]
        self._warned: set[tuple[int, datetime | None]] = set()
        self.listening = threading.Event()  # set while LISTEN is in place
        self.connections = 0  # LISTEN connections made so far (1 + reconnections)
        self.backend_pid: int | None = None  # the LISTEN connection's server process

    # -- waiting ---------------------------------------------------------------------

    def wait(self, timeout: float) -> bool:
        """Block until events may have been committed since this thread's last wait.

        True when woken (a notification, a reconnection, the fence moving), False on
        timeout. A spurious True costs the caller one empty read.
        """
        self._start()
        with self._cond:
            generation = self._generation
        head, hidden = self._probe()
        last = getattr(self._local, "last", None)
        try:
            if last is None or last[0] != generation or head > last[1]:
                return True
            if hidden:
                self._check_blocked()
                timeout = min(timeout, self._fence_poll)
                self._fence_poll = min(self._fence_poll * 2, FENCE_POLL[1])
            else:
                self._hidden_since = None
                self._fence_poll = FENCE_POLL[0]
            with self._cond:
                return self._cond.wait_for(
                    lambda: self._generation != generation or self._closed, timeout)
        finally:
            with self._cond:
                self._local.last = (self._generation, head)

    def wake(self) -> None:
        """Wake every waiting thread (a follower stopping; close)."""
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def _check_blocked(self) -> None:
        now = time.monotonic()
        if self._hidden_since is None:
            self._hidden_since = now
            return
        if now - self._hidden_since < self.warn_blocked_after:
            return
        for blocker in self._blockers():
            key = (blocker.pid, blocker.xact_start)
            if key not in self._warned:
                self._warned.add(key)
                log.warning(
                    "followers have been held back for %.0f s by PostgreSQL pid %d "
                    "(application %r, state %r, transaction started %s): %s",
                    now - self._hidden_since, blocker.pid, blocker.application_name,
                    blocker.state, blocker.xact_start, blocker)

    # -- the listening thread ----------------------------------------------------------

    def _start(self) -> None:
        with self._cond:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="eslib-pg-listen",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        pause = RECONNECT[0]
        while not self._closed:
            try:
                conn = self._connect()
            except Exception as exc:  # the server is down or restarting: try again later
                log.debug("LISTEN connection failed: %s", exc)
                time.sleep(pause)
                pause = min(pause * 2, RECONNECT[1])
                continue
            self._conn = conn
            try:
                self.backend_pid = conn.info.backend_pid
                conn.execute(f"LISTEN {sql.CHANNEL}")
                self.connections += 1
                self.listening.set()
                self.wake()  # commits made before LISTEN was in place were not heard
                pause = RECONNECT[0]
                while not self._closed:
                    # wake at each notification as it comes (not when the generator ends);
                    # the timeout only lets the loop see close(); no query is sent
                    for _ in conn.notifies(timeout=0.25):
                        self.wake()
            except Exception as exc:
                if not self._closed:
                    log.warning("lost the LISTEN connection (%s); reconnecting", exc)
            finally:
                self.listening.clear()
                with contextlib.suppress(Exception):
                    conn.close()
            if not self._closed:
                time.sleep(pause)
                pause = min(pause * 2, RECONNECT[1])

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(2.0)
