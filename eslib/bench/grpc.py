"""The gRPC benchmark: appends/s and read_all events/s in process vs through ``eslib serve``.

The server runs in its own process on a free loopback port, over the same store URL
(a second DuckDB file for the in-process side: a DuckDB file has one writer process).
Clients are separate, long-lived processes, each with its own connections. The
variants are measured in alternating rounds — in process with one client, through
the server with one client, then with 8 clients (and 8 in-process writers on
PostgreSQL) — so that the machine's noise hits them alike; a figure is the median
over the rounds and a ratio the median of the rounds' ratios. ``eslib bench grpc``
runs it on each backend (:func:`grpc_rows`). Targets (issue 8): one client over
loopback reaches >= 50% of the in-process appends/s on PostgreSQL, and 8 clients
>= 2x one client.
"""

from __future__ import annotations

import multiprocessing
import re
import select
import statistics
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


def _worker(urls: dict[str, str], commands: Any, barriers: dict[int, Any],
            results: Any) -> None:
    """A client process: runs ``(target, op, clients, size, start)`` commands until None.

    Each opens (once) the store ``urls[target]``, waits for the other ``clients`` at the
    barrier, then appends one event at a time for ``size`` seconds, or reads up to ``size``
    events from ``start``, and reports (began, ended, events)."""
    import eslib

    stores: dict[str, Any] = {}
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        while (command := commands.get()) is not None:
            target, op, clients, size, start = command
            if target not in stores:
                stores[target] = eslib.connect(urls[target])
                stores[target].append(f"{prefix}-warm", [eslib.NewEvent("Warm")])
            store = stores[target]
            barriers[clients].wait(120)
            began = time.perf_counter()
            if op == "append":
                done, deadline = 0, began + size
                while time.perf_counter() < deadline:
                    store.append(f"{prefix}-{done % 16}",
                                 [eslib.NewEvent("Bench", {"i": done, "pad": "x" * 40})])
                    done += 1
            else:
                done = sum(1 for _ in store.read_all(start, limit=int(size)))
            results.put((began, time.perf_counter(), done))
    except BaseException as exc:  # reported to the parent, which raises it
        for barrier in barriers.values():
            barrier.abort()
        results.put(f"{type(exc).__name__}: {exc}")
    finally:
        for store in stores.values():
            store.close()


class Clients:
    """``n`` long-lived client processes; :meth:`rate` runs one timed phase on some of them."""

    def __init__(self, urls: dict[str, str], n: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.results = context.Queue()
        self.barriers = {k: context.Barrier(k) for k in {1, n}}
        self.commands = [context.Queue() for _ in range(n)]
        self.procs = [context.Process(target=_worker, daemon=True,
                                      args=(urls, q, self.barriers, self.results))
                      for q in self.commands]
        for proc in self.procs:
            proc.start()

    def rate(self, target: str, op: str, clients: int, size: float, start: int = 1) -> float:
        """Events/s of ``clients`` processes together, first start to last finish."""
        for queue in self.commands[:clients]:
            queue.put((target, op, clients, size, start))
        spans = [self.results.get(timeout=600) for _ in range(clients)]
        failed = [s for s in spans if isinstance(s, str)]
        if failed:
            raise RuntimeError(f"a benchmark client failed: {failed[0]}")
        total = sum(n for _, _, n in spans)
        return total / (max(end for _, end, _ in spans) - min(began for began, _, _ in spans))

    def close(self) -> None:
        for queue in self.commands:
            queue.put(None)
        for proc in self.procs:
            proc.join(30)
            if proc.is_alive():
                proc.kill()


def operation(op: str, clients: int) -> str:
    """The row label: one client compares with in process, several with one client."""
    what = "append 1 event" if op == "append" else "read_all"
    if clients == 1:
        return f"{what}, 1 client (ratio: vs {LOCAL})"
    return f"{what}, {clients} clients (ratio: vs 1 client)"


def grpc_rows(url: str, backend: str, *, local_url: str | None = None, seconds: float = 1.0,
              reads: int = 5000, clients: tuple[int, ...] = (1, 8),
              rounds: int = 5) -> list[Row]:
    """Measure the store at ``url`` in process and through a server over it, in ``rounds``
    alternating rounds of ``seconds`` of appends and reads of ``reads`` events.
    ``local_url``: the store the in-process side uses (default ``url``; DuckDB needs
    another file)."""
    many = max(clients)
    phases: list[tuple[str, str, int, float]] = [(LOCAL, "append", 1, seconds)]
    phases += [(REMOTE, "append", n, seconds) for n in clients]
    if backend == "postgres":  # the one backend many processes can write
        phases += [(LOCAL, "append", n, seconds) for n in clients if n > 1]
    phases += [(LOCAL, "read_all", 1, reads)] + [(REMOTE, "read_all", n, reads) for n in clients]
    rates: dict[tuple[str, str, int], list[float]] = {p[:3]: [] for p in phases}
    with server_process(url, backend) as address:
        pool = Clients({LOCAL: local_url or url, REMOTE: address}, many)
        try:
            for _ in range(rounds):
                for target, op, n, size in phases:
                    rates[target, op, n].append(pool.rate(target, op, n, size))
        finally:
            pool.close()
    rows = []
    for (target, op, n), found in rates.items():
        base = rates[LOCAL if n == 1 else target, op, 1]
        ratio = statistics.median(r / b for r, b in zip(found, base, strict=True))
        rate = statistics.median(found)
        label = f"{target}, {n} processes" if n > 1 and target == LOCAL else target
        rows.append(Row(SECTION, operation(op, n), backend, label, rate, n * 1000 / rate, ratio))
    return sorted(rows, key=lambda r: (not r.operation.startswith("append"),
                                       "clients" in r.operation))


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
