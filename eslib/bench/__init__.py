"""The benchmark suite: store, event-sourcing and PostgreSQL-concurrency figures in one table.

``eslib bench [store|es|postgres|all]`` (or ``python -m eslib.bench …``) prints one
table: operation, backend, implementation, events/s, ms, ratio. Each store row runs its
baselines in the same run — the raw driver doing the same rows and, when the
``bench`` extra is installed, the ``eventsourcing`` library — and ``ratio`` is a
row's events/s over the raw driver's (in the es section, which has no raw driver,
over eventsourcing's). ``ms`` is per command for single appends, per commit for
batches, per operation otherwise. ``--json PATH`` writes the rows too.

Sections: ``store`` (:mod:`eslib.bench.store`, :mod:`eslib.bench.library`), ``es``
(:mod:`eslib.bench_es`) and ``postgres`` (:mod:`eslib.bench_postgres`). PostgreSQL
rows need a server (``--url``, else $ESLIB_BENCH_POSTGRES_URL, else
postgresql://postgres@127.0.0.1:5432/postgres): scratch databases are created there
and dropped; without one those rows are skipped with a note. ``quick`` runs tiny
sizes: it checks that everything runs, its figures mean nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

from .report import Row, add_ratios, format_table, scratch_postgres, write_json
from .store import FULL, QUICK, Sizes

SECTIONS = ("store", "es", "postgres")
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
            steps += _es_steps(quick, folder, pg_url, postgres_admin, wanted)
            steps += _es_library_steps(quick, folder, pg_url, wanted)
        if "postgres" in chosen and "postgres" in wanted:
            if pg_url is None:
                notes.append("postgres section skipped: no PostgreSQL server")
            else:
                steps.append(("postgres concurrency", lambda: _postgres_section(
                    quick, pg_url, postgres_admin)))
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
    order = {name: i for i, name in enumerate((*SECTIONS, *BACKENDS))}
    return sorted(rows, key=lambda r: (order.get(r.section, 9), order.get(r.backend, 9),
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
    urls = {"memory": "memory://", "duckdb": f"duckdb:///{folder}/eslib.duckdb"}
    library_targets = {"memory": "", "duckdb": f"{folder}/eventsourcing.sqlite"}
    if pg_url is not None:
        raw["postgres"] = partial(store.raw_postgres_rows, pg_url, sizes)
        urls["postgres"] = library_targets["postgres"] = pg_url
    steps: list[Step] = []
    for backend in BACKENDS:
        if backend not in wanted or backend not in urls:
            continue
        options = {"pool_size": 1} if backend == "postgres" else {}
        steps.append((f"eslib {backend}",
                      partial(store.eslib_rows, urls[backend], backend, sizes, **options)))
        steps.append((f"raw {backend}", raw[backend]))
        if not missing:
            steps.append((f"eventsourcing {backend}", partial(
                library.library_rows, backend, library_targets[backend], sizes)))
    return steps


def _es_steps(quick: bool, folder: str, pg_url: str | None, admin: str | None,
              wanted: set[str]) -> list[Step]:
    from .. import bench_es

    def convert(found: list[dict[str, object]]) -> list[Row]:
        return [Row("es", str(r["operation"]), str(r["backend"]), "eslib",
                    float(r["events_per_s"]), float(r["ms"]))  # type: ignore[arg-type]
                for r in found if r["backend"] in wanted]

    if not quick:
        return [("event sourcing", lambda: convert(bench_es.run(admin, say=None)))]

    def small(url: str, backend: str) -> list[Row]:
        import eslib

        with eslib.connect(url) as es_store:
            return convert([bench_es.replay(es_store, backend, events=50, repeat=2),
                            bench_es.get_with_snapshot(es_store, backend, events=50, repeat=3),
                            bench_es.cycles(es_store, backend, n=20, accounts=5)])

    urls = {"memory": "memory://", "duckdb": f"duckdb:///{folder}/es.duckdb", "postgres": pg_url}
    return [(f"event sourcing {b}", partial(small, u, b))
            for b, u in urls.items() if u is not None and b in wanted]


def _es_library_steps(quick: bool, folder: str, pg_url: str | None,
                      wanted: set[str]) -> list[Step]:
    from . import library

    if library.available():
        return []
    targets = {"memory": "", "duckdb": f"{folder}/es-library.sqlite", "postgres": pg_url}
    return [(f"eventsourcing aggregates {b}", partial(library.es_rows, b, t, quick))
            for b, t in targets.items() if t is not None and b in wanted]


def _postgres_section(quick: bool, url: str, admin: str | None) -> list[Row]:
    from .. import bench_postgres
    from .report import DEFAULT_ADMIN, RAW

    if quick:
        figures = {"raw_insert_txn_per_s": bench_postgres.raw_insert_rate(url, 50),
                   "append_per_s": bench_postgres.append_rate(url, 50, "quick")}
    else:
        figures = bench_postgres.run(admin or DEFAULT_ADMIN, say=lambda _: None)
    op = "append, 1 event per command (bench_postgres)"
    rows = [Row("postgres", op, "postgres", f"{RAW}: psycopg single-row INSERT",
                figures["raw_insert_txn_per_s"], 1000 / figures["raw_insert_txn_per_s"]),
            Row("postgres", op, "postgres", "eslib", figures["append_per_s"],
                1000 / figures["append_per_s"])]
    one = figures.get("writers_1_per_s")
    for n in (1, 2, 4, 8):
        rate = figures.get(f"writers_{n}_per_s")
        if rate and one:
            rows.append(Row("postgres", f"{n} writer process(es), appends (ratio: vs 1)",
                            "postgres", "eslib", rate, n * 1000 / rate, rate / one))
    for p in ("p50", "p99"):
        lag = figures.get(f"follower_lag_{p}_ms")
        if lag is not None:
            rows.append(Row("postgres", f"follower lag {p} under 4 writers (ms = lag)",
                            "postgres", "eslib", None, lag))
    frame = figures.get("to_dataframe_rows_per_s")
    if frame:
        rows.append(Row("postgres", "to_dataframe 100,000 events (bench_postgres)", "postgres",
                        "eslib", frame, 100_000 / frame * 1000))
    return rows


def targets(rows: list[Row]) -> list[str]:
    """Issue 2's targets, checked against the eslib rows of the store section."""
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
    return lines


def save(path: str | Path, rows: list[Row], notes: list[str], command: str, quick: bool) -> None:
    """Write the JSON results file."""
    write_json(str(path), rows, notes, command, quick)
