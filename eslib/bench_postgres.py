"""PostgreSQL benchmarks: append rate against a raw INSERT loop, writer scaling, follower lag.

Run ``python -m eslib.bench_postgres [ADMIN_URL]`` (default: $ESLIB_BENCH_POSTGRES_URL,
else postgresql://postgres@127.0.0.1:5432/postgres). It creates a scratch database
``eslib_bench_<pid>``, measures, prints one line per figure and drops the database.
Figures compared in one run on one machine; absolute numbers are noisy.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


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


def writers_rate(url: str, processes: int, seconds: float = 3.0,
                 follower: bool = False) -> tuple[float, list[float]]:
    """Total appends/s of ``processes`` writer processes on distinct streams, started
    together; with a follower (a Subscription woken by LISTEN/NOTIFY), also its lag:
    delivered - recorded_at (the writer's clock just before the append)."""
    import eslib

    ctx = multiprocessing.get_context("spawn")
    out, ready = ctx.Queue(), ctx.Barrier(processes + 1)
    tag = uuid.uuid4().hex[:6]
    workers = [ctx.Process(target=_writer, args=(url, f"w{tag}{i}", seconds, ready, out))
               for i in range(processes)]
    for w in workers:
        w.start()
    lags: list[float] = []

    def deliver(event: object, recorded: Any) -> None:
        if recorded.stream_id.startswith(f"w{tag}") and recorded.data["n"] >= 0:
            lags.append((datetime.now(timezone.utc) - recorded.recorded_at).total_seconds())

    with eslib.connect(url) as store:
        sub = eslib.Subscription(store, deliver, from_position=store.head_position() + 1)
        if follower:
            sub.start()
        ready.wait()
        total = sum(out.get(timeout=60 + seconds) for _ in workers)
        if follower:
            sub.wait_until(store.head_position(), 10)
            sub.stop()
    for w in workers:
        w.join()
    return total / seconds, lags


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


def run(admin_url: str = DEFAULT_ADMIN, say: Callable[[str], None] = print) -> dict[str, float]:
    """Every figure, on a scratch database created and dropped on ``admin_url``'s server."""
    import psycopg

    name = f"eslib_bench_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    url = urlunsplit(urlsplit(admin_url)._replace(path="/" + name))
    figures: dict[str, float] = {}
    try:
        append_rate(url, 300, "warm")
        raw_rate, eslib_rate = raw_insert_rate(url), append_rate(url)
        figures.update(raw_insert_txn_per_s=raw_rate, append_per_s=eslib_rate)
        say(f"raw single-row INSERT txn/s     {raw_rate:9.0f}")
        say(f"eslib append/s (1 event each)   {eslib_rate:9.0f}   "
            f"{eslib_rate / raw_rate:.0%} of raw")
        for n in (1, 2, 4, 8):
            rate, _ = writers_rate(url, n)
            figures[f"writers_{n}_per_s"] = rate
            say(f"{n} writer process(es), appends/s {rate:9.0f}   "
                f"{rate / figures['writers_1_per_s']:.2f}x one writer")
            set_notify(url, False)  # the same, without NOTIFY at commit (no live push)
            quiet, _ = writers_rate(url, n)
            set_notify(url, True)
            figures[f"writers_{n}_no_notify_per_s"] = quiet
            say(f"  without NOTIFY                {quiet:9.0f}   "
                f"NOTIFY costs {1 - rate / quiet:.0%}")
        rate, lags = writers_rate(url, 4, follower=True)
        if lags:
            lags.sort()
            p50, p99 = statistics.median(lags), lags[int(len(lags) * 0.99) - 1]
            figures.update(follower_lag_p50_ms=p50 * 1000, follower_lag_p99_ms=p99 * 1000)
            say(f"follower lag under 4 writers ({rate:.0f}/s), pushed by NOTIFY: "
                f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
        df_rate = to_dataframe_rate(url)
        figures["to_dataframe_rows_per_s"] = df_rate
        say(f"to_dataframe of 100k events rows/s {df_rate:9.0f}")
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return figures


def _main() -> None:
    admin = (sys.argv[1] if len(sys.argv) > 1
             else os.environ.get("ESLIB_BENCH_POSTGRES_URL", DEFAULT_ADMIN))
    run(admin)


if __name__ == "__main__":
    _main()
