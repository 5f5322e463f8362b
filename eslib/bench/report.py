"""Benchmark rows, the one table they print as, their JSON file, and a scratch PostgreSQL."""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from functools import partial
from typing import Any

DEFAULT_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
RAW = "raw driver"  # the implementation label prefix of baseline rows
LIBRARY = "eventsourcing"  # ... and of the eventsourcing library's rows
#: The operation of the raw driver's row beside the PostgreSQL get+command+save cycle
FLOOR = "SELECT + INSERT per cycle, no event sourcing (the floor)"


@dataclass
class Row:
    """One measured figure. ``ratio``: events/s over the raw-driver row of the same group."""

    section: str
    operation: str
    backend: str
    implementation: str
    events_per_s: float | None
    ms: float | None
    ratio: float | None = None
    note: str = ""

    @property
    def group(self) -> tuple[str, str, str]:
        return (self.section, self.operation, self.backend)


def timed(work: Callable[[], object]) -> float:
    """Seconds ``work()`` took."""
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def alternating(works: dict[str, Callable[[int], object]], total: int,
                rounds: int) -> dict[str, float]:
    """Seconds each of ``works`` took to do ``total`` units, done in ``rounds`` slices that
    take turns (the order flips every round), so drift in the machine's speed falls on all."""
    seconds = dict.fromkeys(works, 0.0)
    names = list(works)
    for r in range(rounds):
        size = total // rounds + (1 if r < total % rounds else 0)
        for name in names if r % 2 == 0 else names[::-1]:
            seconds[name] += timed(partial(works[name], size))
    return seconds


def add_ratios(rows: list[Row]) -> list[Row]:
    """Fill in each row's ratio to the raw-driver row of its (section, operation, backend),
    or where there is none, to its eventsourcing row."""
    baselines = {r.group: r.events_per_s for r in rows if r.implementation.startswith(LIBRARY)}
    baselines.update({r.group: r.events_per_s for r in rows if r.implementation.startswith(RAW)})
    for row in rows:
        base = baselines.get(row.group)
        if row.ratio is None and base and row.events_per_s is not None:
            row.ratio = row.events_per_s / base
    return rows


def format_ms(ms: float) -> str:
    """Three decimals, or as many as two significant digits need (a 0.4 µs step stays > 0)."""
    decimals = 3 if ms >= 0.01 or ms <= 0 else 1 - math.floor(math.log10(ms))
    return f"{ms:,.{decimals}f}"


def format_table(rows: list[Row]) -> str:
    """The rows as one aligned text table (markdown-compatible)."""
    headers = ("operation", "backend", "implementation", "events/s", "ms", "ratio")
    cells = [(r.operation, r.backend, r.implementation,
              "" if r.events_per_s is None else f"{r.events_per_s:,.0f}",
              "" if r.ms is None else format_ms(r.ms),
              "" if r.ratio is None else f"{r.ratio:.2f}")
             for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(headers)]
    right = {3, 4, 5}

    def line(values: tuple[str, ...]) -> str:
        pairs = enumerate(zip(values, widths, strict=True))
        return "| " + " | ".join(v.rjust(w) if i in right else v.ljust(w)
                                 for i, (v, w) in pairs) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if i in right else "-" * (w + 2)
                          for i, w in enumerate(widths)) + "|"
    return "\n".join([line(headers), rule, *(line(c) for c in cells)])


def write_json(path: str, rows: list[Row], notes: list[str], command: str, quick: bool) -> None:
    """Every row, the notes and where and how they were measured, as one JSON document."""
    document: dict[str, Any] = {
        "command": command,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "rows": [asdict(r) for r in rows],
        "notes": notes,
    }
    with open(path, "w", encoding="utf-8") as out:
        json.dump(document, out, indent=2)
        out.write("\n")


@contextmanager
def scratch_postgres(admin_url: str | None, notes: list[str],
                     enabled: bool = True) -> Iterator[str | None]:
    """A database created on ``admin_url``'s server and dropped afterwards; None (and a
    note) when no server answers, None when not ``enabled``."""
    if not enabled:
        yield None
        return
    admin = admin_url or os.environ.get("ESLIB_BENCH_POSTGRES_URL") or DEFAULT_ADMIN
    try:
        import psycopg

        name = f"eslib_bench_suite_{os.getpid()}"
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
    except Exception as exc:
        from ..urls import hide_password

        notes.append(f"PostgreSQL rows skipped: no server at {hide_password(admin)} "
                     f"({' '.join(hide_password(str(exc)).split())[:160]})")
        yield None
        return
    from urllib.parse import urlsplit, urlunsplit

    try:
        yield urlunsplit(urlsplit(admin)._replace(path="/" + name))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
