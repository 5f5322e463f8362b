"""Event-sourcing benchmarks: replay, get with a snapshot, get+command+save cycles.

``python -m eslib.bench_es [POSTGRES_ADMIN_URL]`` measures on memory, a DuckDB
file in a temporary folder and, when a PostgreSQL server answers (argument, else
$ESLIB_BENCH_POSTGRES_URL, else postgresql://postgres@127.0.0.1:5432/postgres), a
scratch database created and dropped there. :func:`run` returns the rows.

Targets: replay of a 1,000-event aggregate >= 500k events/s on memory; get with
a snapshot <= 1 ms on DuckDB and PostgreSQL; get+command+save on PostgreSQL
>= 2k cycles/s.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import eslib
from eslib.examples.bank import Account

DEFAULT_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
Row = dict[str, Any]


def _best(seconds: Callable[[], float], repeat: int) -> float:
    return min(seconds() for _ in range(repeat))


def _account(store: eslib.EventStore, id: str, events: int) -> None:
    """An account stream of ``events`` events, written in batches of 500."""
    repo = eslib.Repository(store, Account)
    account = repo.new(id)
    account.open("bench")
    repo.save(account)
    while account.version < events:
        for _ in range(min(500, events - account.version)):
            account.deposit(1)
        repo.save(account)


def replay(store: eslib.EventStore, backend: str, events: int = 1000, repeat: int = 20) -> Row:
    """Rebuild a ``events``-event aggregate from its stream (no snapshot)."""
    _account(store, "replay", events)
    repo = eslib.Repository(store, Account)

    def once() -> float:
        started = time.perf_counter()
        repo.get("replay")
        return time.perf_counter() - started

    seconds = _best(once, repeat)
    return {"operation": f"replay {events}-event aggregate", "backend": backend,
            "events_per_s": events / seconds, "ms": seconds * 1000}


def get_with_snapshot(store: eslib.EventStore, backend: str, events: int = 1000,
                      repeat: int = 50) -> Row:
    """``get`` of a ``events``-event aggregate whose snapshot is at its last version."""
    _account(store, "snap", events)
    repo = eslib.Repository(store, Account, snapshot_every=0)
    repo.snapshot("snap")
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        repo.get("snap")
        timings.append(time.perf_counter() - started)
    timings.sort()
    median = timings[len(timings) // 2]
    return {"operation": "get with snapshot (median)", "backend": backend,
            "events_per_s": events / median, "ms": median * 1000}


def cycles(store: eslib.EventStore, backend: str, n: int = 1000, accounts: int = 50) -> Row:
    """``repo.update(id, deposit)`` round robin over ``accounts`` short-lived accounts."""
    repo = eslib.Repository(store, Account)  # short streams: snapshots would only cost
    for i in range(accounts):
        _account(store, f"cycle{i}", 1)
    started = time.perf_counter()
    for i in range(n):
        repo.update(f"cycle{i % accounts}", lambda account: account.deposit(1))
    seconds = time.perf_counter() - started
    return {"operation": "get+command+save cycle", "backend": backend,
            "events_per_s": n / seconds, "ms": seconds / n * 1000}


def bench_store(store: eslib.EventStore, backend: str) -> list[Row]:
    """Every figure on one (empty) store."""
    return [replay(store, backend), get_with_snapshot(store, backend), cycles(store, backend)]


@contextmanager
def _postgres(admin_url: str) -> Iterator[str | None]:
    try:
        import psycopg

        name = f"eslib_bench_es_{os.getpid()}"
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
    except Exception as exc:  # no server: the other backends still get measured
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
        yield None
        return
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path="/" + name))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run(postgres_admin_url: str | None = None,
        say: Callable[[str], None] | None = print) -> list[Row]:
    """Measure on memory, DuckDB and (when reachable) PostgreSQL; rows of
    ``{operation, backend, events_per_s, ms}``."""
    rows: list[Row] = []
    admin = postgres_admin_url or os.environ.get("ESLIB_BENCH_POSTGRES_URL", DEFAULT_ADMIN)
    with tempfile.TemporaryDirectory() as folder, _postgres(admin) as pg_url:
        urls = {"memory": "memory://", "duckdb": f"duckdb:///{folder}/bench.duckdb"}
        if pg_url is not None:
            urls["postgres"] = pg_url
        for backend, url in urls.items():
            with eslib.connect(url) as store:
                for row in bench_store(store, backend):
                    rows.append(row)
                    if say is not None:
                        say(f"{row['backend']:<9} {row['operation']:<30} "
                            f"{row['events_per_s']:>12,.0f} ev/s {row['ms']:>9.3f} ms")
    return rows


if __name__ == "__main__":
    run(sys.argv[1] if len(sys.argv) > 1 else None)
