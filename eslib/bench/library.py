"""The same store operations with the ``eventsourcing`` library (PyPI), for comparison.

Its recorders are the layer that matches eslib's store: ``insert_events`` of
``StoredEvent`` objects (one call = one atomic commit), ``select_events`` of one
aggregate, ``select_notifications`` of the application log. Its POPO recorder is
compared with eslib's memory backend, its SQLite file with DuckDB (both embedded)
and its PostgreSQL recorder with eslib on PostgreSQL. It has no DataFrame export.
Installed by ``pip install 'eslib[bench]'``; without it these rows are skipped.
"""

from __future__ import annotations

import uuid
from typing import Any

from .report import Row, timed
from .store import DATA_JSON, Sizes, best, rows_from, units_of

TOPIC = "eslib.bench:Placed"
LABELS = {"memory": "eventsourcing POPO", "duckdb": "eventsourcing SQLite file",
          "postgres": "eventsourcing PostgreSQL"}


def available() -> str | None:
    """None when ``eventsourcing`` can be imported, else why not."""
    try:
        import eventsourcing.persistence  # noqa: F401
    except ImportError as exc:
        return f"eventsourcing rows skipped: {exc} (pip install 'eslib[bench]')"
    return None


def recorder(backend: str, target: str) -> Any:
    """An application recorder: POPO, a SQLite file at ``target`` or PostgreSQL at ``target``."""
    if backend == "memory":
        from eventsourcing.popo import POPOApplicationRecorder

        return POPOApplicationRecorder()
    if backend == "duckdb":
        from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

        rec: Any = SQLiteApplicationRecorder(SQLiteDatastore(target))
    else:
        from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(target)
        rec = PostgresApplicationRecorder(PostgresDatastore(
            str(info["dbname"]), str(info.get("host", "127.0.0.1")), str(info.get("port", 5432)),
            str(info.get("user", "postgres")), str(info.get("password", ""))))
    rec.create_table()
    return rec


def library_rows(backend: str, target: str, sizes: Sizes) -> list[Row]:
    """The six store operations (five: no DataFrame) on one eventsourcing recorder."""
    from eventsourcing.persistence import StoredEvent

    rec = recorder(backend, target)
    state = DATA_JSON.encode()
    single = sizes.singles(backend)
    ids = [uuid.uuid4() for _ in range(max(100, sizes.batch))]

    def event(originator: uuid.UUID, version: int) -> StoredEvent:
        return StoredEvent(originator, version, TOPIC, state)

    def singles() -> None:
        for i in range(single):
            rec.insert_events([event(ids[i % 100], i // 100 + 1)])

    def batched() -> None:
        others = [uuid.uuid4() for _ in range(sizes.batch)]
        for b in range(sizes.batches):
            rec.insert_events([event(others[j], b + 1) for j in range(sizes.batch)])

    def bulk() -> None:
        streams = max(1, sizes.bulk_batch // 100)
        per_stream = sizes.bulk_batch // streams
        for _ in range(sizes.bulk // sizes.bulk_batch):
            batch = [uuid.uuid4() for _ in range(streams)]
            rec.insert_events([event(o, v + 1) for o in batch for v in range(per_stream)])

    def read_all() -> int:
        start, seen = 1, 0
        while seen < sizes.read:
            page = rec.select_notifications(start, min(1000, sizes.read - seen))
            if not page:
                break
            seen += len(page)
            start = page[-1].id + 1
        return seen

    rec.insert_events([event(uuid.uuid4(), 1)])  # warm-up
    seconds = {"single": timed(singles), "batched": timed(batched), "bulk": timed(bulk)}
    replayed = uuid.uuid4()
    rec.insert_events([event(replayed, v + 1) for v in range(sizes.replay)])
    seconds["replay"] = best(lambda: rec.select_events(replayed), sizes.repeat)
    seconds["read"] = best(read_all, 2)
    rows = rows_from(backend, LABELS[backend], sizes, seconds, *units_of(sizes, single))
    close = getattr(getattr(rec, "datastore", None), "close", None)
    if close is not None:
        close()
    return rows


# -- the event-sourcing section: aggregates through an Application ------------------------


def es_rows(backend: str, target: str, quick: bool) -> list[Row]:
    """The three figures of :mod:`eslib.bench.es` with an eventsourcing ``Application``."""
    import statistics
    import time

    from .library_domain import Account, BenchAccounts, BenchSnapshots

    events, repeat, snap_repeat, n, accounts = (50, 2, 3, 20, 5) if quick else (
        1000, 20, 50, 1000, 50)
    env = _environment(backend, target)
    label = LABELS[backend]

    def account(app: Any, size: int) -> uuid.UUID:
        acct = Account("bench")
        app.save(acct)
        while acct.version < size:
            for _ in range(min(500, size - acct.version)):
                acct.deposit(1)
            app.save(acct)
        return acct.id

    app = BenchAccounts(env=env)
    replayed = account(app, events)
    seconds = best(lambda: app.repository.get(replayed), repeat)
    rows = [Row("es", f"replay {events}-event aggregate", backend, label, events / seconds,
                seconds * 1000)]
    snapshots = BenchSnapshots(env=env)
    snapped = account(snapshots, events)
    snapshots.take_snapshot(snapped)
    median = statistics.median(timed(lambda: snapshots.repository.get(snapped))
                               for _ in range(snap_repeat))
    rows.append(Row("es", "get with snapshot (median)", backend, label, events / median,
                    median * 1000))
    ids = [account(app, 1) for _ in range(accounts)]
    started = time.perf_counter()
    for i in range(n):
        loaded: Any = app.repository.get(ids[i % accounts])
        loaded.deposit(1)
        app.save(loaded)
    seconds = time.perf_counter() - started
    rows.append(Row("es", "get+command+save cycle", backend, label, n / seconds,
                    seconds / n * 1000))
    for application in (app, snapshots):
        application.close()
    return rows


def _environment(backend: str, target: str) -> dict[str, str]:
    if backend == "memory":
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    if backend == "duckdb":
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": target}
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(target)
    return {"PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": str(info["dbname"]), "POSTGRES_HOST": str(info.get("host", "")),
            "POSTGRES_PORT": str(info.get("port", 5432)),
            "POSTGRES_USER": str(info.get("user", "postgres")),
            "POSTGRES_PASSWORD": str(info.get("password", ""))}
