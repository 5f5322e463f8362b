"""The benchmark suite: store, event-sourcing, PostgreSQL-concurrency and gRPC figures in one
table.

``eslib bench [store|es|postgres|grpc|all]`` (or ``python -m eslib.bench …``) prints one
table: operation, backend, implementation, events/s, ms, ratio. Each store row runs its
baselines in the same run — the raw driver doing the same rows and, when the
``bench`` extra is installed, the ``eventsourcing`` library — and ``ratio`` is a
row's events/s over the raw driver's (in the es section, which has no raw driver,
over eventsourcing's; where an operation says "ratio: vs …", over that). ``ms`` is per
command for single appends, per commit for batches, per operation otherwise.
``--json PATH`` writes the rows too.

Sections: ``store`` (:mod:`eslib.bench.store`, :mod:`eslib.bench.library`), ``es``
(:mod:`eslib.bench.es`), ``postgres`` (:mod:`eslib.bench.postgres`) and ``grpc``
(:mod:`eslib.bench.grpc`: in process vs through ``eslib serve``). PostgreSQL
rows need a server (``--url``, else $ESLIB_BENCH_POSTGRES_URL, else
postgresql://postgres@127.0.0.1:5432/postgres): a scratch database is created there
and dropped; without one those rows are skipped with a note. ``quick`` runs tiny
sizes: it checks that everything runs, its figures mean nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from .report import FLOOR, RAW, Row, add_ratios, format_table, scratch_postgres, write_json
from .store import FULL, QUICK, Sizes

SECTIONS = ("store", "es", "postgres", "grpc")
BACKENDS = ("memory", "duckdb", "postgres")
Step = tuple[str, Callable[[], list[Row]]]

__all__ = ["BACKENDS", "SECTIONS", "Row", "format_table", "run", "targets", "write_json"]


def run(sections: Iterable[str] = SECTIONS, *, quick: bool = False,
        postgres_admin: str | None = None, backends: Iterable[str] = BACKENDS,
        progress: bool = True) -> tuple[list[Row], list[str]]:
    """Run the chosen sections; returns (rows with ratios filled in, notes)."""
    chosen, wanted = set(sections), set(backends)
    sizes = QUICK if quick else FULL
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as folder, scratch_postgres(
            postgres_admin, notes, enabled="postgres" in wanted) as pg_url:
        steps: list[Step] = []
        if "store" in chosen:
            steps += _store_steps(sizes, folder, pg_url, wanted, notes)
        if "es" in chosen:
            steps += _es_steps(quick, folder, pg_url, wanted)
            steps += _es_library_steps(quick, folder, pg_url, wanted)
        if "postgres" in chosen and "postgres" in wanted:
            if pg_url is None:
                notes.append("postgres section skipped: no PostgreSQL server")
            else:
                from .postgres import postgres_rows

                steps.append(("postgres concurrency", partial(postgres_rows, pg_url, quick)))
        if "grpc" in chosen:
            steps += _grpc_steps(quick, folder, pg_url, wanted)
        from tqdm import tqdm

        for label, step in tqdm(steps, desc="bench", unit="step", disable=None if progress
                                else True, leave=False):
            try:
                rows += step()
            except Exception as exc:  # one broken step must not hide the others' figures
                notes.append(f"{label} failed: {type(exc).__name__}: {exc}")
    return _side_by_side(add_ratios(rows)), notes


def _side_by_side(rows: list[Row]) -> list[Row]:
    """Each operation's rows together (eslib, then its baselines), sections and backends in
    their usual order."""
    first: dict[tuple[str, str], int] = {}
    for i, row in enumerate(rows):
        first.setdefault((row.section, row.operation), i)
    section = {name: i for i, name in enumerate(SECTIONS)}
    backend = {name: i for i, name in enumerate(BACKENDS)}
    return sorted(rows, key=lambda r: (section.get(r.section, 9), backend.get(r.backend, 9),
                                       first[(r.section, r.operation)]))


def _store_steps(sizes: Sizes, folder: str, pg_url: str | None, wanted: set[str],
                 notes: list[str]) -> list[Step]:
    from . import library, store

    missing = library.available()
    if missing:
        notes.append(missing)
    raw: dict[str, Callable[[], list[Row]]] = {
        "memory": partial(store.raw_memory_rows, sizes),
        "duckdb": partial(store.raw_duckdb_rows, f"{folder}/raw.duckdb", sizes)}
    raw_single: dict[str, tuple[Callable[[], Any], str]] = {
        "memory": (store.raw_memory_single, f"{RAW}: Python list"),
        "duckdb": (partial(store.raw_duckdb_single, f"{folder}/raw-single.duckdb"),
                   f"{RAW}: duckdb")}
    urls = {"memory": "memory://", "duckdb": f"duckdb:///{folder}/eslib.duckdb"}
    single_urls = {"memory": "memory://", "duckdb": f"duckdb:///{folder}/eslib-single.duckdb"}
    library_targets = {"memory": "", "duckdb": f"{folder}/eventsourcing.sqlite"}
    if pg_url is not None:
        raw["postgres"] = partial(store.raw_postgres_rows, pg_url, sizes)
        raw_single["postgres"] = (partial(store.raw_postgres_single, pg_url), f"{RAW}: psycopg")
        urls["postgres"] = single_urls["postgres"] = library_targets["postgres"] = pg_url
    steps: list[Step] = []
    for backend in BACKENDS:
        if backend not in wanted or backend not in urls:
            continue
        options = {"pool_size": 1} if backend == "postgres" else {}
        steps.append((f"single appends {backend}", partial(
            store.single_rows, backend, single_urls[backend], raw_single[backend][0], sizes,
            raw_single[backend][1], **options)))
        steps.append((f"eslib {backend}",
                      partial(store.eslib_rows, urls[backend], backend, sizes, **options)))
        steps.append((f"raw {backend}", raw[backend]))
        if not missing:
            steps.append((f"eventsourcing {backend}", partial(
                library.library_rows, backend, library_targets[backend], sizes)))
    return steps


def _urls(folder: str, name: str, pg_url: str | None, wanted: set[str]) -> dict[str, str]:
    """A fresh store URL per wanted backend (a DuckDB file ``name`` in ``folder``)."""
    urls = {"memory": "memory://", "duckdb": f"duckdb:///{folder}/{name}.duckdb",
            "postgres": pg_url}
    return {b: u for b, u in urls.items() if u is not None and b in wanted}


def _es_steps(quick: bool, folder: str, pg_url: str | None, wanted: set[str]) -> list[Step]:
    from .es import es_rows

    return [(f"event sourcing {b}", partial(es_rows, u, b, quick))
            for b, u in _urls(folder, "es", pg_url, wanted).items()]


def _grpc_steps(quick: bool, folder: str, pg_url: str | None, wanted: set[str]) -> list[Step]:
    from .grpc import grpc_rows

    options: dict[str, Any] = {"seconds": 0.05, "reads": 100, "clients": (1, 2), "rounds": 1} \
        if quick else {}
    local = {"duckdb": f"duckdb:///{folder}/grpc-local.duckdb"}
    return [(f"grpc {b}", partial(grpc_rows, u, b, local_url=local.get(b), **options))
            for b, u in _urls(folder, "grpc", pg_url, wanted).items()]


def _es_library_steps(quick: bool, folder: str, pg_url: str | None,
                      wanted: set[str]) -> list[Step]:
    from . import library

    if library.available():
        return []
    targets = {"memory": "", "duckdb": f"{folder}/es-library.sqlite", "postgres": pg_url}
    return [(f"eventsourcing aggregates {b}", partial(library.es_rows, b, t, quick))
            for b, t in targets.items() if t is not None and b in wanted]


def targets(rows: list[Row]) -> list[str]:
    """Issue 2's targets, checked against the eslib rows of the store section, and issue 8's
    (:func:`eslib.bench.grpc.targets`)."""
    from .grpc import targets as grpc_targets

    found = {(r.operation.split(",")[0].split(" ")[0], r.backend): r for r in rows
             if r.section == "store" and r.implementation == "eslib"}
    checks = [("memory appends/s >= 100k", ("append", "memory"), "events_per_s", 100_000),
              ("PostgreSQL append >= 80% of raw INSERT", ("append", "postgres"), "ratio", 0.8),
              ("DuckDB bulk import >= 250k ev/s", ("bulk", "duckdb"), "events_per_s", 250_000),
              ("DuckDB to_dataframe >= 2M rows/s", ("to_dataframe", "duckdb"), "events_per_s",
               2_000_000),
              ("PostgreSQL to_dataframe >= 500k rows/s", ("to_dataframe", "postgres"),
               "events_per_s", 500_000)]
    lines = []
    for label, key, attribute, goal in checks:
        row = found.get(key)
        value = getattr(row, attribute, None) if row else None
        if value is not None:
            shown = f"{value:.2f}" if attribute == "ratio" else f"{value:,.0f}"
            lines.append(f"target {label}: {shown} {'met' if value >= goal else 'NOT met'}")
    return lines + _es_and_writer_targets(rows) + grpc_targets(rows)


def _es_and_writer_targets(rows: list[Row]) -> list[str]:
    """Issue 3's targets (es section) and issue 4's writer scaling (postgres section)."""
    def eslib_row(section: str, operation: str, backend: str) -> Row | None:
        return next((r for r in rows if (r.section, r.operation, r.backend, r.implementation)
                     == (section, operation, backend, "eslib")), None)

    def line(label: str, met: bool, shown: str, extra: str = "") -> str:
        return f"target {label}: {shown}{extra} {'met' if met else 'NOT met'}"

    lines = []
    replay = eslib_row("es", "replay 1000-event aggregate", "memory")
    if replay and replay.events_per_s:
        lines.append(line("memory replay of a 1,000-event aggregate >= 500k ev/s",
                          replay.events_per_s >= 500_000,
                          f"{replay.events_per_s:,.0f}"))
    for backend in ("duckdb", "postgres"):
        snap = eslib_row("es", "get with snapshot (median)", backend)
        if snap and snap.ms is not None:
            lines.append(line(f"{backend} get with a snapshot <= 1 ms", snap.ms <= 1,
                              f"{snap.ms:.3f} ms"))
    cycle = eslib_row("es", "get+command+save cycle", "postgres")
    if cycle and cycle.events_per_s:
        floor = next((r for r in rows if r.operation == FLOOR and r.backend == "postgres"
                      and r.events_per_s), None)
        extra = f" (the raw driver's SELECT + INSERT: {floor.events_per_s:,.0f}/s)" \
            if floor and floor.events_per_s else ""
        lines.append(line("PostgreSQL get+command+save >= 2k/s",
                          cycle.events_per_s >= 2000, f"{cycle.events_per_s:,.0f}", extra))
    eight = "8 writer process(es), appends (ratio: vs 1)"
    writers = eslib_row("postgres", eight, "postgres")
    if writers and writers.ratio is not None:
        raw = next((r for r in rows if r.operation == eight and r.implementation.startswith(RAW)),
                   None)
        extra = f" (the raw driver's 8 processes: {raw.ratio:.2f}x)" if raw and raw.ratio else ""
        lines.append(line("8 PostgreSQL writer processes >= 2.5x one",
                          writers.ratio >= 2.5, f"{writers.ratio:.2f}x", extra))
    return lines


def save(path: str | Path, rows: list[Row], notes: list[str], command: str, quick: bool) -> None:
    """Write the JSON results file."""
    write_json(str(path), rows, notes, command, quick)
