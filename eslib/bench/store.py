"""Store benchmarks: six operations on eslib and on the raw driver doing the same rows.

Operations (issue 2, item 5): one append per command, batched appends (one commit of
``batch`` one-event commands, ``store.batch()``), bulk import (``bulk`` events,
``bulk_batch`` per commit, ``store.bulk_append`` of an Arrow table), replay of one
``replay``-event stream, ``read_all`` and ``to_dataframe``.
The raw baselines write the same rows into a table shaped like eslib's: a Python list
(memory), the same INSERT on a second DuckDB file, psycopg on PostgreSQL (single-row
INSERT in autocommit, executemany in one transaction, COPY for bulk).

One append per command is measured in alternating rounds, eslib and the raw driver taking
turns (:func:`single_rows`): on a shared machine the speed drifts by tens of percent within
a minute, and a ratio of two figures taken a minute apart measures the drift.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager as ContextManager
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import eslib

from .report import RAW, Row, alternating, timed

DATA = {"sku": "A1", "qty": 2, "note": "a typical small event of about 100 bytes"}
DATA_JSON = json.dumps(DATA, separators=(",", ":"))
COLUMNS = ("position", "stream_id", "version", "id", "type", "data", "metadata", "recorded_at")


@dataclass(frozen=True)
class Sizes:
    single: int = 2000  # appends, one event each (DuckDB)
    single_memory: int = 50_000
    # ~4 s a side: at 2,000 the ratio to the raw driver spread 0.78-1.15 across runs that
    # measured 0.82-0.85 at 20,000
    single_postgres: int = 10_000
    rounds: int = 20  # alternating rounds of single appends (eslib, raw driver, eslib, ...)
    batches: int = 100
    batch: int = 100
    bulk: int = 100_000
    bulk_batch: int = 10_000
    replay: int = 1000
    repeat: int = 10
    read: int = 100_000
    frame: int = 100_000

    def singles(self, backend: str) -> int:
        """How many one-event appends to measure on ``backend``."""
        return {"memory": self.single_memory, "postgres": self.single_postgres}.get(
            backend, self.single)

    def operations(self) -> dict[str, str]:
        return {
            "single": "append, 1 event per command",
            "batched": f"batch of {self.batch} one-event appends per commit",
            "bulk": f"bulk import {self.bulk:,} events ({self.bulk_batch:,} per commit)",
            "replay": f"replay a {self.replay:,}-event stream",
            "read": f"read_all {self.read:,} events",
            "frame": f"to_dataframe {self.frame:,} events",
        }


FULL = Sizes()
QUICK = Sizes(single=30, single_memory=300, single_postgres=30, rounds=2, batches=3, batch=20,
              bulk=1000, bulk_batch=200, replay=100, repeat=2, read=1000, frame=1000)


def rows_from(backend: str, implementation: str, sizes: Sizes,
          seconds: dict[str, float], units: dict[str, int], per: dict[str, int]) -> list[Row]:
    """Rows from total seconds, events done and events per timed unit of each operation."""
    names = sizes.operations()
    return [Row("store", names[key], backend, implementation, units[key] / s,
                s / (units[key] / per[key]) * 1000) for key, s in seconds.items()]


def units_of(sizes: Sizes, single: int) -> tuple[dict[str, int], dict[str, int]]:
    units = {"single": single, "batched": sizes.batches * sizes.batch, "bulk": sizes.bulk,
             "replay": sizes.replay, "read": sizes.read, "frame": sizes.frame}
    per = {"single": 1, "batched": sizes.batch, "bulk": sizes.bulk, "replay": sizes.replay,
           "read": sizes.read, "frame": sizes.frame}
    return units, per


def best(work: Callable[[], object], repeat: int) -> float:
    return min(timed(work) for _ in range(repeat))


# -- eslib ------------------------------------------------------------------------------


def eslib_rows(url: str, backend: str, sizes: Sizes, **options: Any) -> list[Row]:
    """Five of the operations (not single appends: :func:`single_rows`) through
    :class:`eslib.EventStore` on a fresh store at ``url``."""
    seconds: dict[str, float] = {}
    with eslib.connect(url, **options) as store:
        import pyarrow as pa

        store.append("warm-up", [eslib.NewEvent("Placed", DATA)])
        store.bulk_append(pa.table({"stream_id": ["warm-up"], "type": ["Placed"],
                                    "data": [DATA_JSON]}))  # imports, plans

        def batched() -> None:
            for b in range(sizes.batches):
                with store.batch() as batch:
                    for j in range(sizes.batch):
                        batch.append(f"batched-{j}", [eslib.NewEvent("Placed", DATA)], b)

        def bulk() -> None:  # the import path: an Arrow table per commit
            streams = max(1, sizes.bulk_batch // 100)
            per_stream = sizes.bulk_batch // streams
            for b in range(sizes.bulk // sizes.bulk_batch):
                store.bulk_append(pa.table({
                    "stream_id": [f"bulk{b}-{k}" for k in range(streams) for _ in range(
                        per_stream)],
                    "type": ["Placed"] * (streams * per_stream),
                    "data": [DATA_JSON] * (streams * per_stream)}))

        seconds["batched"] = timed(batched)
        seconds["bulk"] = timed(bulk)
        store.append("replay-1", [eslib.NewEvent("Placed", DATA) for _ in range(sizes.replay)],
                     eslib.NO_STREAM)
        seconds["replay"] = best(lambda: list(store.read_stream("replay-1")), sizes.repeat)
        seconds["read"] = best(lambda: sum(1 for _ in store.read_all(limit=sizes.read)), 2)
        store.to_dataframe(limit=10)
        seconds["frame"] = best(lambda: store.to_dataframe(limit=sizes.frame), 3)
    return rows_from(backend, "eslib", sizes, seconds, *units_of(sizes, 0))


# -- one append per command: eslib and the raw driver in alternating rounds -----------------


def single_rows(backend: str, url: str, raw: Callable[[], ContextManager[Callable[[int], object]]],
                sizes: Sizes, raw_label: str, **options: Any) -> list[Row]:
    """One-event appends to 100 streams: eslib at ``url`` and ``raw()`` (a context giving
    ``append(n)``, the driver doing the same rows), alternating."""
    total = sizes.singles(backend)
    with eslib.connect(url, **options) as store, raw() as raw_append:
        versions = [0] * 100
        done = 0

        def eslib_append(n: int) -> None:
            nonlocal done
            for i in range(done, done + n):
                k = i % 100
                store.append(f"single-{k}", [eslib.NewEvent("Placed", DATA)], versions[k])
                versions[k] += 1
            done += n

        store.append("warm-up", [eslib.NewEvent("Placed", DATA)])
        raw_append(1)
        seconds = alternating({"eslib": eslib_append, "raw": raw_append}, total, sizes.rounds)
    name = sizes.operations()["single"]
    return [Row("store", name, backend, implementation, total / seconds[key],
                seconds[key] / total * 1000)
            for key, implementation in (("eslib", "eslib"), ("raw", raw_label))]


@contextmanager
def raw_memory_single() -> Iterator[Callable[[int], object]]:
    log: list[tuple[Any, ...]] = []
    streams: dict[str, list[tuple[Any, ...]]] = {}

    def append(n: int) -> None:
        for _ in range(n):
            i = len(log)
            stream_id = f"single-{i % 100}"
            row = _row_values(stream_id, i // 100 + 1, i + 1)
            log.append(row)
            streams.setdefault(stream_id, []).append(row)

    yield append


@contextmanager
def raw_duckdb_single(path: str) -> Iterator[Callable[[int], object]]:
    import duckdb

    con = duckdb.connect(path)
    con.execute("SET TimeZone = 'UTC'")
    con.execute(RAW_DUCKDB_TABLE)
    insert = f"INSERT INTO raw_events VALUES ({', '.join('?' * 8)})"
    position = 0

    def append(n: int) -> None:
        nonlocal position
        for _ in range(n):
            i = position
            position += 1
            con.execute(insert, _row_values(f"single-{i % 100}", i // 100 + 1, position))

    try:
        yield append
    finally:
        con.close()


@contextmanager
def raw_postgres_table(url: str, table: str) -> Iterator[Any]:
    """An autocommit psycopg connection with a fresh ``table`` shaped like raw_events,
    dropped afterwards."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(RAW_POSTGRES_TABLE.replace("raw_events", table))
        try:
            yield conn
        finally:
            conn.execute(f"DROP TABLE {table}")


@contextmanager
def raw_postgres_single(url: str) -> Iterator[Callable[[int], object]]:
    with raw_postgres_table(url, "raw_single_events") as conn:
        insert = f"INSERT INTO raw_single_events ({PG_FIELDS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        done = 0

        def append(n: int) -> None:
            nonlocal done
            for i in range(done, done + n):
                conn.execute(insert, _row_values(f"single-{i % 100}", i // 100 + 1, 0)[1:])
            done += n

        yield append


# -- raw drivers ---------------------------------------------------------------------------


def _row_values(stream_id: str, version: int, position: int) -> tuple[Any, ...]:
    return (position, stream_id, version, uuid.uuid4(), "Placed", DATA_JSON, "{}",
            datetime.now(timezone.utc))


def raw_memory_rows(sizes: Sizes) -> list[Row]:
    """A plain Python list (and a dict of per-stream lists) doing the same work."""
    import pandas as pd

    log: list[tuple[Any, ...]] = []
    streams: dict[str, list[tuple[Any, ...]]] = {}

    def add(stream_id: str, version: int) -> None:
        row = _row_values(stream_id, version, len(log) + 1)
        log.append(row)
        streams.setdefault(stream_id, []).append(row)

    def batched() -> None:
        for b in range(sizes.batches):
            for j in range(sizes.batch):
                add(f"batched-{j}", b + 1)

    def bulk() -> None:
        for i in range(sizes.bulk):
            add(f"bulk-{i // 100}", i % 100 + 1)

    seconds = {"batched": timed(batched), "bulk": timed(bulk)}
    for v in range(sizes.replay):
        add("replay-1", v + 1)
    seconds["replay"] = best(lambda: list(streams["replay-1"]), sizes.repeat)
    seconds["read"] = best(lambda: sum(1 for _ in log[: sizes.read]), 2)
    seconds["frame"] = best(lambda: pd.DataFrame(log[: sizes.frame], columns=COLUMNS), 3)
    return rows_from("memory", f"{RAW}: Python list", sizes, seconds, *units_of(sizes, 0))


RAW_DUCKDB_TABLE = """
CREATE TABLE raw_events (position BIGINT PRIMARY KEY, stream_id VARCHAR NOT NULL,
    version BIGINT NOT NULL, id UUID NOT NULL UNIQUE, type VARCHAR NOT NULL, data JSON NOT NULL,
    metadata JSON NOT NULL, recorded_at TIMESTAMPTZ NOT NULL, UNIQUE (stream_id, version))
"""


def raw_duckdb_rows(path: str, sizes: Sizes) -> list[Row]:
    """DuckDB executing the same statements eslib sends: Arrow for batches, plain SELECTs
    for reads (one INSERT per append: :func:`raw_duckdb_single`)."""
    import duckdb
    import pyarrow as pa

    con = duckdb.connect(path)
    con.execute("SET TimeZone = 'UTC'")
    con.execute(RAW_DUCKDB_TABLE)
    position = 0

    def arrow_insert(rows: list[tuple[Any, ...]]) -> None:
        columns = list(zip(*rows, strict=True))
        table = pa.table({name: pa.array([str(v) for v in col] if name == "id" else col)
                          for name, col in zip(COLUMNS, columns, strict=True)})
        con.register("raw_batch", table)
        con.execute("INSERT INTO raw_events SELECT position, stream_id, version, id, type, data,"
                    " metadata, recorded_at FROM raw_batch")
        con.unregister("raw_batch")

    def rows_of(streams: list[str], versions: int) -> list[tuple[Any, ...]]:
        nonlocal position
        rows = []
        for stream_id in streams:
            for v in range(versions):
                position += 1
                rows.append(_row_values(stream_id, v + 1, position))
        return rows

    def batched() -> None:
        nonlocal position
        for b in range(sizes.batches):
            rows = []
            for j in range(sizes.batch):
                position += 1
                rows.append(_row_values(f"batched-{j}", b + 1, position))
            arrow_insert(rows)

    def bulk() -> None:
        streams = max(1, sizes.bulk_batch // 100)
        for b in range(sizes.bulk // sizes.bulk_batch):
            arrow_insert(rows_of([f"bulk{b}-{k}" for k in range(streams)],
                                 sizes.bulk_batch // streams))

    seconds = {"batched": timed(batched), "bulk": timed(bulk)}
    arrow_insert(rows_of(["replay-1"], sizes.replay))
    select = "SELECT position, stream_id, version, id, type, data, metadata, recorded_at " \
        "FROM raw_events"
    seconds["replay"] = best(lambda: con.execute(
        f"{select} WHERE stream_id = ? ORDER BY version", ["replay-1"]).fetchall(), sizes.repeat)
    seconds["read"] = best(lambda: con.execute(
        f"{select} ORDER BY position LIMIT {sizes.read}").fetchall(), 2)
    seconds["frame"] = best(lambda: con.sql(
        f"{select} ORDER BY position LIMIT {sizes.frame}").df(), 3)
    con.close()
    return rows_from("duckdb", f"{RAW}: duckdb", sizes, seconds, *units_of(sizes, 0))


PG_FIELDS = "stream_id, version, id, type, data, metadata, recorded_at"
RAW_POSTGRES_TABLE = """
CREATE TABLE raw_events (position bigserial PRIMARY KEY, stream_id text NOT NULL,
    version bigint NOT NULL, id uuid NOT NULL UNIQUE, type text NOT NULL, data json NOT NULL,
    metadata json NOT NULL, recorded_at timestamptz NOT NULL, UNIQUE (stream_id, version))
"""


def raw_postgres_rows(url: str, sizes: Sizes) -> list[Row]:
    """psycopg: executemany in one transaction, COPY (single-row INSERTs in autocommit:
    :func:`raw_postgres_single`)."""
    import pandas as pd
    import psycopg

    fields = PG_FIELDS
    insert = f"INSERT INTO raw_events ({fields}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS raw_events")
        conn.execute(RAW_POSTGRES_TABLE)

        def values(stream_id: str, version: int) -> tuple[Any, ...]:
            return _row_values(stream_id, version, 0)[1:]

        def batched() -> None:
            for b in range(sizes.batches):
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(insert, [values(f"batched-{j}", b + 1)
                                             for j in range(sizes.batch)])

        def copy_rows(rows: list[tuple[Any, ...]]) -> None:
            with conn.transaction(), conn.cursor() as cur, \
                    cur.copy(f"COPY raw_events ({fields}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

        def bulk() -> None:
            streams = max(1, sizes.bulk_batch // 100)
            per_stream = sizes.bulk_batch // streams
            for b in range(sizes.bulk // sizes.bulk_batch):
                copy_rows([values(f"bulk{b}-{k}", v + 1)
                           for k in range(streams) for v in range(per_stream)])

        seconds = {"batched": timed(batched), "bulk": timed(bulk)}
        copy_rows([values("replay-1", v + 1) for v in range(sizes.replay)])
        select = f"SELECT position, {fields} FROM raw_events"
        seconds["replay"] = best(lambda: conn.execute(
            f"{select} WHERE stream_id = %s ORDER BY version", ("replay-1",)).fetchall(),
            sizes.repeat)
        seconds["read"] = best(lambda: conn.execute(
            f"{select} ORDER BY position LIMIT {sizes.read}").fetchall(), 2)
        seconds["frame"] = best(lambda: pd.DataFrame(conn.execute(
            f"{select} ORDER BY position LIMIT {sizes.frame}").fetchall(), columns=COLUMNS), 3)
        conn.execute("DROP TABLE raw_events")
    return rows_from("postgres", f"{RAW}: psycopg", sizes, seconds, *units_of(sizes, 0))
