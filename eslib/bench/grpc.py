"""The gRPC benchmark: appends/s and read_all events/s in process vs through ``eslib serve``.

The server runs in its own process on a free loopback port, over the same store
URL; clients are separate processes (1 and 8) started together behind a barrier,
each with its own connection. ``eslib bench grpc`` runs it on each backend
(:func:`grpc_rows`). Targets (issue 8): one client over loopback reaches >= 50% of the
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

from .report import Row

SECTION = "grpc"
LOCAL, REMOTE = "in process", "grpc loopback"
SERVER = ("import sys; from eslib.server import serve; "
          "serve(sys.argv[1], port=0, **({'pool_size': 8} if sys.argv[2] == 'postgres' else {}))")


@contextmanager
def server_process(url: str, backend: str) -> Iterator[str]:
    """An eslib server over ``url`` in its own process; yields its grpc:// address."""
    proc = subprocess.Popen([sys.executable, "-c", SERVER, url, backend],
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


def operation(op: str, clients: int) -> str:
    """The row label: one client compares with in process, several with one client."""
    what = "append 1 event" if op == "append" else "read_all"
    if clients == 1:
        return f"{what}, 1 client (ratio: vs {LOCAL})"
    return f"{what}, {clients} clients (ratio: vs 1 client)"


def grpc_rows(url: str, backend: str, *, appends: int = 2000,
              clients: tuple[int, ...] = (1, 8)) -> list[Row]:
    """Measure the store at ``url`` in process and through a server over it."""
    import eslib

    rates: dict[tuple[str, int, str], float] = {}
    with eslib.connect(url) as store:  # closed before the server opens a DuckDB file
        start = store.head_position() + 1
        rates["append", 1, LOCAL] = _in_process_appends(store, appends)
        began = time.perf_counter()
        count = sum(1 for _ in store.read_all(start))
        rates["read_all", 1, LOCAL] = count / (time.perf_counter() - began)
    many = [n for n in clients if n > 1]
    if backend == "postgres":  # the one backend many processes can write
        for n in many:
            rates["append", n, LOCAL] = measure(url, "append", n, max(appends // 4, 10))
    with server_process(url, backend) as address:
        for n in clients:
            per_client = appends if n == 1 else max(appends // 4, 10)
            rates["append", n, REMOTE] = measure(address, "append", n, per_client)
        for n in clients:
            rates["read_all", n, REMOTE] = measure(address, "read_all", n, 0,
                                                   start if backend != "memory" else 1)
    rows = []
    for (op, n, implementation), rate in sorted(rates.items(), key=lambda kv: (
            kv[0][0] != "append", kv[0][1])):
        base = rates.get((op, 1, LOCAL if n == 1 else implementation))
        implementation += f", {n} processes" if n > 1 and implementation == LOCAL else ""
        rows.append(Row(SECTION, operation(op, n), backend, implementation, rate, n * 1000 / rate,
                        rate / base if base else None))
    return rows


def _in_process_appends(store: Any, count: int) -> float:
    from eslib import NewEvent

    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    began = time.perf_counter()
    for i in range(count):
        store.append(f"{prefix}-{i % 16}", [NewEvent("Bench", {"i": i, "pad": "x" * 40})])
    return count / (time.perf_counter() - began)


def targets(rows: list[Row]) -> list[str]:
    """Issue 8's targets, checked against the PostgreSQL rows of the grpc section."""
    ratio = {r.operation: r.ratio for r in rows if r.section == SECTION
             and r.backend == "postgres" and r.implementation == REMOTE}
    lines = []
    for label, op, goal in (
            ("1 grpc client >= 50% of in-process appends/s on PostgreSQL",
             operation("append", 1), 0.5),
            ("8 grpc clients >= 2x one client's appends/s on PostgreSQL",
             operation("append", 8), 2.0)):
        value = ratio.get(op)
        if value is not None:
            lines.append(f"target {label}: {value:.2f} {'met' if value >= goal else 'NOT met'}")
    return lines
