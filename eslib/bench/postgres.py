"""PostgreSQL benchmarks: append rate against a raw INSERT loop, writer scaling, follower lag.

``eslib bench postgres [--url ADMIN_URL]`` runs them on the suite's scratch database
(:func:`postgres_rows`). Figures compared in one run on one machine; absolute numbers
are noisy.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from .report import RAW, Row

SECTION = "postgres"


def raw_insert_rate(url: str, n: int = 3000) -> float:
    """Single-row INSERT transactions per second (autocommit), on a table shaped like ours."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw")
        conn.execute(
            "CREATE TABLE bench_raw (position bigserial PRIMARY KEY, stream_id text NOT NULL,"
            " version bigint NOT NULL, id uuid UNIQUE, type text, data json, metadata json,"
            " recorded_at timestamptz, UNIQUE (stream_id, version))")
        insert = ("INSERT INTO bench_raw (stream_id, version, id, type, data, metadata,"
                  " recorded_at) VALUES (%s, %s, %s, %s, %s::json, %s::json, %s)")
        data = '{"sku":"A1","qty":2,"note":"a typical small event of about 100 bytes"}'
        started = time.perf_counter()
        for i in range(n):
            conn.execute(insert, (f"s-{i % 100}", i // 100 + 1, uuid.uuid4(), "Placed", data,
                                  "{}", datetime.now(timezone.utc)))
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_raw")
    return n / elapsed


def append_rate(url: str, n: int = 3000, prefix: str = "bench") -> float:
    """eslib appends per second, one event per append with an exact expected version."""
    import eslib

    with eslib.connect(url, pool_size=1) as store:
        versions = [0] * 100
        event = {"sku": "A1", "qty": 2, "note": "a typical small event of about 100 bytes"}
        started = time.perf_counter()
        for i in range(n):
            k = i % 100
            store.append(f"{prefix}-{k}", [eslib.NewEvent("Placed", event)], versions[k])
            versions[k] += 1
        return n / (time.perf_counter() - started)


def _writer(url: str, prefix: str, seconds: float, ready: Any, out: Any) -> None:
    import eslib

    with eslib.connect(url, pool_size=1) as store:
        versions = [0] * 20
        for k in range(20):  # warm up: connection, prepared statements
            store.append(f"{prefix}-{k}", [eslib.NewEvent("Placed", {"n": -1})], versions[k])
            versions[k] += 1
        ready.wait()
        done, deadline = 0, time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            k = done % 20
            store.append(f"{prefix}-{k}", [eslib.NewEvent("Placed", {"n": done})], versions[k])
            versions[k] += 1
            done += 1
        out.put(done)


def _raw_writer(url: str, prefix: str, seconds: float, ready: Any, out: Any) -> None:
    """The raw driver's writer: single-row INSERT transactions into ``bench_raw_writers``."""
    import psycopg

    insert = ("INSERT INTO bench_raw_writers (stream_id, version, id, type, data, metadata,"
              " recorded_at) VALUES (%s, %s, %s, %s, %s::json, %s::json, %s)")
    with psycopg.connect(url, autocommit=True) as conn:
        versions = [0] * 20

        def write(k: int, n: int) -> None:
            versions[k] += 1
            conn.execute(insert, (f"{prefix}-{k}", versions[k], uuid.uuid4(), "Placed",
                                  f'{{"n": {n}}}', "{}", datetime.now(timezone.utc)))

        for k in range(20):  # warm up, as _writer does
            write(k, -1)
        ready.wait()
        done, deadline = 0, time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            write(done % 20, done)
            done += 1
        out.put(done)


def _processes(target: Any, url: str, processes: int, seconds: float,
               while_running: Any = None) -> float:
    """Total operations/s of ``processes`` processes running ``target``, started together."""
    ctx = multiprocessing.get_context("spawn")
    out, ready = ctx.Queue(), ctx.Barrier(processes + 1)
    tag = uuid.uuid4().hex[:6]
    workers = [ctx.Process(target=target, args=(url, f"w{tag}{i}", seconds, ready, out))
               for i in range(processes)]
    for w in workers:
        w.start()
    try:
        if while_running is None:
            ready.wait()
            total = sum(out.get(timeout=60 + seconds) for _ in workers)
        else:
            total = while_running(tag, ready, lambda: sum(
                out.get(timeout=60 + seconds) for _ in workers))
    finally:
        for w in workers:
            w.join()
    return total / seconds


def raw_writers_rate(url: str, processes: int, seconds: float = 3.0) -> float:
    """Single-row INSERT transactions/s of ``processes`` raw psycopg writer processes: how
    far the machine lets more processes go, whatever the library."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_raw_writers (position bigserial PRIMARY KEY,"
            " stream_id text NOT NULL, version bigint NOT NULL, id uuid UNIQUE, type text,"
            " data json, metadata json, recorded_at timestamptz, UNIQUE (stream_id, version))")
    try:
        return _processes(_raw_writer, url, processes, seconds)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE bench_raw_writers")


def writers_rate(url: str, processes: int, seconds: float = 3.0,
                 follower: bool = False) -> tuple[float, list[float]]:
    """Total appends/s of ``processes`` writer processes on distinct streams, started
    together; with a follower (a Subscription woken by LISTEN/NOTIFY), also its lag:
    delivered - recorded_at (the writer's clock just before the append)."""
    import eslib

    lags: list[float] = []

    def run(tag: str, ready: Any, collect: Any) -> int:
        def deliver(event: object, recorded: Any) -> None:
            if recorded.stream_id.startswith(f"w{tag}") and recorded.data["n"] >= 0:
                lags.append((datetime.now(timezone.utc) - recorded.recorded_at).total_seconds())

        with eslib.connect(url) as store:
            sub = eslib.Subscription(store, deliver, from_position=store.head_position() + 1)
            if follower:
                sub.start()
            ready.wait()
            total = int(collect())
            if follower:
                sub.wait_until(store.head_position(), 10)
                sub.stop()
        return total

    return _processes(_writer, url, processes, seconds, run), lags


def set_notify(url: str, on: bool) -> None:
    """Switch NOTIFY in eslib_append on or off for new connections to ``url``'s database."""
    import psycopg
    from psycopg import sql

    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} SET eslib.notify = {}").format(
            sql.Identifier(str(name)), sql.Literal("on" if on else "off")))


def to_dataframe_rate(url: str, n: int = 100_000) -> float:
    """Rows per second of ``store.to_dataframe()`` over ``n`` events."""
    import eslib

    with eslib.connect(url) as store:
        first = store.head_position() + 1
        batch = 1000
        for start in range(0, n, batch):
            store.append_many({f"df-{start}": (
                [eslib.NewEvent("Placed", {"sku": "A1", "qty": i}) for i in range(batch)],
                eslib.ANY)})
        store.to_dataframe(limit=10)
        started = time.perf_counter()
        frame = store.to_dataframe(from_position=first)
        elapsed = time.perf_counter() - started
        return len(frame) / elapsed


def postgres_rows(url: str, quick: bool = False) -> list[Row]:
    """Every figure on the database at ``url`` (the suite's scratch database) as rows;
    ``quick``: only the append rates, tiny."""
    if quick:
        raw_rate, eslib_rate = raw_insert_rate(url, 50), append_rate(url, 50, "quick")
    else:
        append_rate(url, 300, "warm")
        raw_rate, eslib_rate = raw_insert_rate(url), append_rate(url)
    op = "append, 1 event per command (postgres section)"
    rows = [Row(SECTION, op, "postgres", f"{RAW}: psycopg single-row INSERT", raw_rate,
                1000 / raw_rate),
            Row(SECTION, op, "postgres", "eslib", eslib_rate, 1000 / eslib_rate)]
    if quick:
        return rows
    one = 0.0
    for n in (1, 2, 4, 8):
        rate, _ = writers_rate(url, n)
        one = one or rate
        set_notify(url, False)  # the same, without NOTIFY at commit (no live push)
        quiet, _ = writers_rate(url, n)
        set_notify(url, True)
        rows.append(Row(SECTION, f"{n} writer process(es), appends (ratio: vs 1)", "postgres",
                        "eslib", rate, n * 1000 / rate, rate / one))
        rows.append(Row(SECTION, f"{n} writer process(es), appends (ratio: vs 1)", "postgres",
                        "eslib without NOTIFY", quiet, n * 1000 / quiet, quiet / one))
    raw_one = 0.0
    for n in (1, 8):  # the same, raw: what this machine allows more processes, any library
        raw = raw_writers_rate(url, n)
        raw_one = raw_one or raw
        rows.append(Row(SECTION, f"{n} writer process(es), appends (ratio: vs 1)", "postgres",
                        f"{RAW}: psycopg single-row INSERT", raw, n * 1000 / raw, raw / raw_one))
    rate, lags = writers_rate(url, 4, follower=True)
    if lags:
        lags.sort()
        p50, p99 = statistics.median(lags), lags[int(len(lags) * 0.99) - 1]
        for name, lag in (("p50", p50), ("p99", p99)):
            rows.append(Row(SECTION, f"follower lag {name} under 4 writers (ms = lag)",
                            "postgres", "eslib", None, lag * 1000,
                            note=f"writers: {rate:,.0f} appends/s"))
    frame = to_dataframe_rate(url)
    rows.append(Row(SECTION, "to_dataframe 100,000 events (postgres section)", "postgres",
                    "eslib", frame, 100_000 / frame * 1000))
    return rows
