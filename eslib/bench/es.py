"""Event-sourcing benchmarks: replay, get with a snapshot, get+command+save cycles.

``eslib bench es`` measures them on each backend (the eventsourcing library doing the
same aggregate work is :func:`eslib.bench.library.es_rows`). Targets: replay of a
1,000-event aggregate >= 500k events/s on memory; get with a snapshot <= 1 ms on DuckDB
and PostgreSQL; get+command+save on PostgreSQL >= 2k cycles/s.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import eslib
from eslib.examples.bank import Account

from .report import Row

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


def cycles(store: eslib.EventStore, backend: str, n: int = 1000, accounts: int = 50) -> Row:
    """``repo.update(id, deposit)`` round robin over ``accounts`` short-lived accounts."""
    repo = eslib.Repository(store, Account)  # short streams: snapshots would only cost
    for i in range(accounts):
        _account(store, f"cycle{i}", 1)
    started = time.perf_counter()
    for i in range(n):
        repo.update(f"cycle{i % accounts}", lambda account: account.deposit(1))
    seconds = time.perf_counter() - started
    return Row(SECTION, "get+command+save cycle", backend, "eslib", n / seconds,
               seconds / n * 1000)


def es_rows(url: str, backend: str, quick: bool = False) -> list[Row]:
    """The three figures on a fresh store at ``url`` (tiny sizes when ``quick``)."""
    with eslib.connect(url) as store:
        if quick:
            return [replay(store, backend, events=50, repeat=2),
                    get_with_snapshot(store, backend, events=50, repeat=3),
                    cycles(store, backend, n=20, accounts=5)]
        return [replay(store, backend), get_with_snapshot(store, backend),
                cycles(store, backend)]
