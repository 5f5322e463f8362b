"""The PostgreSQL backend's connection pool: psycopg_pool's, handing out the connection
returned last.

psycopg_pool hands out its idle connections in turn (first in, first out). After a
burst of concurrent calls has grown the pool, a single caller then rotates through
every connection — and every PostgreSQL server process — one call each, with cold
caches on both sides: measured ~15-20% fewer one-event appends/s than with one
connection (``eslib serve`` after 8 clients, or any threaded application). Taking the
most recently returned connection keeps one warm; the others stay idle at the far end,
where the pool's idle shrinking closes them first.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from psycopg_pool import ConnectionPool


class LastInFirstOutPool(ConnectionPool):
    """A ConnectionPool whose ``getconn`` takes the connection returned last."""

    def _get_ready_connection(self, timeout: float | None) -> Any:
        # psycopg_pool takes from the left of its deque and returns to the right: move the
        # newest to the left first. (Private API: if it changes, the pool stays FIFO.)
        idle = getattr(self, "_pool", None)
        if isinstance(idle, deque) and len(idle) > 1:
            idle.appendleft(idle.pop())
        return super()._get_ready_connection(timeout)
