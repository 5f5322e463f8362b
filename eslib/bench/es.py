"""Event-sourcing benchmarks: replay, get with a snapshot, get+command+save cycles.

``eslib bench es`` measures them on each backend (the eventsourcing library doing the
same aggregate work is :func:`eslib.bench.library.es_rows`). Targets: replay of a
1,000-event aggregate >= 500k events/s on memory; get with a snapshot <= 1 ms on DuckDB
and PostgreSQL; get+command+save on PostgreSQL >= 2k cycles/s.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import eslib
from eslib.examples.bank import Account

from .report import FLOOR, RAW, Row, alternating
from .store import PG_FIELDS, raw_postgres_table

SECTION = "es"


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
    return Row(SECTION, f"replay {events}-event aggregate", backend, "eslib", events / seconds,
               seconds * 1000)


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
    return Row(SECTION, "get with snapshot (median)", backend, "eslib", events / median,
               median * 1000)


def cycles(store: eslib.EventStore, backend: str, n: int = 1000, accounts: int = 50,
           raw_url: str | None = None, rounds: int = 10) -> list[Row]:
    """``repo.update(id, deposit)`` round robin over ``accounts`` short-lived accounts;
    with ``raw_url`` (PostgreSQL), psycopg doing the cycle's two statements on the same
    server in alternating rounds: what this machine allows any library."""
    repo = eslib.Repository(store, Account)  # short streams: snapshots would only cost
    for i in range(accounts):
        _account(store, f"cycle{i}", 1)
    done = 0

    def eslib_cycles(k: int) -> None:
        nonlocal done
        for i in range(done, done + k):
            repo.update(f"cycle{i % accounts}", lambda account: account.deposit(1))
        done += k

    works: dict[str, Callable[[int], object]] = {"eslib": eslib_cycles}
    with contextlib.ExitStack() as stack:
        if raw_url is not None:
            works["raw"] = stack.enter_context(_raw_cycles(raw_url, accounts))
        seconds = alternating(works, n, rounds)
    rows = [Row(SECTION, "get+command+save cycle", backend, "eslib", n / seconds["eslib"],
                seconds["eslib"] / n * 1000)]
    if "raw" in seconds:
        rows.append(Row(SECTION, FLOOR, backend, f"{RAW}: psycopg", n / seconds["raw"],
                        seconds["raw"] / n * 1000))
    return rows


@contextlib.contextmanager
def _raw_cycles(url: str, accounts: int) -> Iterator[Callable[[int], object]]:
    """psycopg: read a stream's rows (the columns eslib reads), insert the next version."""
    table = "raw_cycle_events"
    with raw_postgres_table(url, table) as conn:
        select = f"SELECT position, {PG_FIELDS} FROM {table} WHERE stream_id = %s ORDER BY version"
        insert = f"INSERT INTO {table} ({PG_FIELDS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        done = 0

        def run(k: int) -> None:
            nonlocal done
            for i in range(done, done + k):
                stream_id = f"cycle{i % accounts}"
                rows = conn.execute(select, (stream_id,)).fetchall()
                conn.execute(insert, (stream_id, len(rows) + 1, uuid.uuid4(), "Deposited",
                                      '{"amount":1}', "{}", datetime.now(timezone.utc)))
            done += k

        yield run


def es_rows(url: str, backend: str, quick: bool = False) -> list[Row]:
    """The three figures on a fresh store at ``url`` (tiny sizes when ``quick``)."""
    raw_url = url if backend == "postgres" else None
    with eslib.connect(url) as store:
        if quick:
            return [replay(store, backend, events=50, repeat=2),
                    get_with_snapshot(store, backend, events=50, repeat=3),
                    *cycles(store, backend, n=20, accounts=5, raw_url=raw_url, rounds=2)]
        return [replay(store, backend), get_with_snapshot(store, backend),
                *cycles(store, backend, raw_url=raw_url)]
