"""The gRPC benchmark: appends/s and read_all events/s in process vs through ``eslib serve``.

The server runs in its own process on a free loopback port, over the same store
URL; clients are separate processes (1 and 8) started together behind a barrier,
each with its own connection. ``python -m eslib.bench_grpc --url URL`` prints the
table; :func:`run` returns :class:`~eslib.bench.report.Row` rows and notes for
``eslib bench``. Targets (issue 8): one client over loopback reaches >= 50% of the
in-process appends/s on PostgreSQL, and 8 clients >= 2x one client.
"""

from __future__ import annotations

import multiprocessing
import re
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .bench.report import Row, format_table
from .urls import parse_url

SECTION = "grpc"
SERVER = ("import sys; from eslib.server import serve; "
          "serve(sys.argv[1], port=0, **({'pool_size': 8} if sys.argv[2] == 'postgresql' else {}))")


@contextmanager
def server_process(url: str) -> Iterator[str]:
    """An eslib server over ``url`` in its own process; yields its grpc:// address."""
    scheme = parse_url(url).scheme
    proc = subprocess.Popen([sys.executable, "-c", SERVER, url, scheme],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        line = proc.stdout.readline() if ready else ""
        found = re.search(r"on (grpc://\S+)", line)
        if not found:
            raise RuntimeError(f"the benchmark server did not start: {line!r}")
        yield found.group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


def _worker(url: str, op: str, count: int, start: int, barrier: Any, results: Any) -> None:
    """One client process: ``count`` single-event appends, or read_all from ``start``."""
    try:
        import eslib

        store = eslib.connect(url)
        prefix = f"bench-{uuid.uuid4().hex[:8]}"
        store.append(f"{prefix}-warm", [eslib.NewEvent("Warm")])
        barrier.wait(120)
        began = time.perf_counter()
        if op == "append":
            for i in range(count):
                store.append(f"{prefix}-{i % 16}",
                             [eslib.NewEvent("Bench", {"i": i, "pad": "x" * 40})])
            done = count
        else:
            done = sum(1 for _ in store.read_all(start))
        results.put((began, time.perf_counter(), done))
        store.close()
    except BaseException as exc:  # reported to the parent, which raises it
        barrier.abort()
        results.put(f"{type(exc).__name__}: {exc}")


def measure(url: str, op: str, clients: int, count: int, start: int = 1) -> float:
    """Events/s of ``clients`` processes together, from the first start to the last finish."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(clients), context.Queue()
    procs = [context.Process(target=_worker, args=(url, op, count, start, barrier, results))
             for _ in range(clients)]
    for proc in procs:
        proc.start()
    try:
        spans = [results.get(timeout=600) for _ in procs]
    finally:
        for proc in procs:
            proc.join(60)
            if proc.is_alive():
                proc.kill()
    failed = [s for s in spans if isinstance(s, str)]
    if failed:
        raise RuntimeError(f"a benchmark client failed: {failed[0]}")
    total = sum(n for _, _, n in spans)
    return total / (max(end for _, end, _ in spans) - min(began for began, _, _ in spans))


def run(url: str, *, appends: int = 2000, clients: tuple[int, ...] = (1, 8),
        progress: bool = True) -> tuple[list[Row], list[str]]:
    """Measure ``url`` in process and through a server; returns (rows, notes with targets)."""
    import eslib

    backend = parse_url(url).scheme
    rows: list[Row] = []

    def add(operation: str, implementation: str, events_per_s: float) -> None:
        rows.append(Row(SECTION, operation, backend, implementation, events_per_s,
                        1000 / events_per_s))
        if progress:
            print(f"  {operation:8} {implementation:26} {events_per_s:>10,.0f} events/s",
                  file=sys.stderr)

    with eslib.connect(url) as store:  # closed before the server opens a DuckDB file
        start = store.head_position() + 1
        add("append", "in process, 1 client", _in_process_appends(store, appends))
        began = time.perf_counter()
        count = sum(1 for _ in store.read_all(start))
        add("read_all", "in process, 1 client", count / (time.perf_counter() - began))
    if backend == "postgresql" and 8 in clients:  # the one backend many processes can write
        add("append", "in process, 8 processes", measure(url, "append", 8, appends // 4))
    with server_process(url) as address:
        for n in clients:
            per_client = appends if n == 1 else max(appends // 4, 100)
            add("append", f"grpc loopback, {_clients(n)}", measure(address, "append", n,
                                                                    per_client))
        for n in clients:
            add("read_all", f"grpc loopback, {_clients(n)}",
                measure(address, "read_all", n, 0, start if backend != "memory" else 1))
    return rows, _targets(rows, backend)


def _clients(n: int) -> str:
    return f"{n} client{'s' if n > 1 else ''}"


def _in_process_appends(store: Any, count: int) -> float:
    from . import NewEvent

    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    began = time.perf_counter()
    for i in range(count):
        store.append(f"{prefix}-{i % 16}", [NewEvent("Bench", {"i": i, "pad": "x" * 40})])
    return count / (time.perf_counter() - began)


def _targets(rows: list[Row], backend: str) -> list[str]:
    rate = {r.implementation: r.events_per_s or 0.0 for r in rows if r.operation == "append"}
    one, eight = rate.get("grpc loopback, 1 client", 0), rate.get("grpc loopback, 8 clients")
    local = rate["in process, 1 client"]
    notes = [f"target ({backend}): 1 grpc client >= 50% of in-process appends/s: "
             f"{one / local:.0%} {'met' if one >= local / 2 else 'missed'}"
             + ("" if backend == "postgresql" else " (the target is set for PostgreSQL)")]
    if eight is not None:
        notes.append(f"target ({backend}): 8 grpc clients >= 2x one: {eight / one:.1f}x "
                     f"{'met' if eight >= 2 * one else 'missed'}")
    return notes


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", action="append", required=True, help="store URL (repeatable)")
    parser.add_argument("--appends", type=int, default=2000)
    args = parser.parse_args(argv)
    rows, notes = [], []
    for url in args.url:
        found, said = run(url, appends=args.appends)
        rows += found
        notes += said
    print(format_table(rows))
    print("\n".join(notes))


if __name__ == "__main__":
    main()
