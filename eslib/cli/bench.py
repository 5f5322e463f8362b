"""``eslib bench``: the benchmark suite of :mod:`eslib.bench` from the command line."""

from __future__ import annotations

import sys
from datetime import datetime, timezone

import click

from .base import debug_option


@click.command()
@click.argument("sections", nargs=-1,
                type=click.Choice(["store", "es", "postgres", "grpc", "all"]))
@click.option("--quick", is_flag=True, help="Tiny sizes: checks everything runs (CI).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="Also write the rows as JSON to this file.")
@click.option("--backend", "backends", multiple=True,
              type=click.Choice(["memory", "duckdb", "postgres"]),
              help="Only these backends (repeatable). Default: all three.")
@click.option("--url", "postgres_admin", metavar="URL",
              help="PostgreSQL server to measure on: scratch databases are created and "
                   "dropped there. Default: $ESLIB_BENCH_POSTGRES_URL, else "
                   "postgresql://postgres@127.0.0.1:5432/postgres.")
@debug_option
def bench(sections: tuple[str, ...], quick: bool, json_path: str | None,
          backends: tuple[str, ...], postgres_admin: str | None) -> None:
    """Run the benchmarks and print one table: store (with raw-driver and eventsourcing
    baselines), event sourcing (es), PostgreSQL concurrency and the gRPC server (grpc: in
    process vs through `eslib serve` over loopback, 1 and 8 clients); all by default.

    Example: eslib bench store --json bench.json
    """
    from .. import bench as suite

    chosen = suite.SECTIONS if not sections or "all" in sections else sections
    rows, notes = suite.run(chosen, quick=quick, postgres_admin=postgres_admin,
                            backends=backends or suite.BACKENDS)
    command = " ".join(["eslib bench", *sys.argv[2:]]) if sys.argv[1:2] == ["bench"] \
        else "eslib bench " + " ".join(chosen)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    click.echo(f"{command} — {stamp}" + (" (quick: sizes too small to mean anything)"
                                        if quick else ""))
    click.echo("")
    click.echo(suite.format_table(rows))
    click.echo("")
    for line in [*suite.targets(rows), *notes]:
        click.echo(line if line.startswith("target") else f"note: {line}")
    if json_path:
        suite.save(json_path, rows, notes, command, quick)
        click.echo(f"wrote {json_path}", err=True)
