"""The ``eslib`` command line: look at, write to, move and benchmark event stores.

Every command takes ``--url`` (default: $ESLIB_URL, else ``duckdb:///eslib.duckdb``)
and ``--debug``; errors print as one line on stderr with exit code 1.
One module per group of commands: :mod:`.inspect` (streams, read, tail, stats),
:mod:`.admin` (append, init, doctor), :mod:`.transfer` (import, export, copy) and
:mod:`.bench`; ``serve`` from :mod:`.serve`.
"""

from __future__ import annotations

from typing import Any

import click

from .admin import append, doctor, init
from .base import EslibGroup, install_connector
from .bench import bench
from .inspect import read, stats, streams, tail
from .serve import serve_command
from .transfer import copy, export, import_

__all__ = ["cli", "main"]


@click.group(cls=EslibGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="eslib", prog_name="eslib")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """eslib: an event store on memory, DuckDB and PostgreSQL, from the terminal.

    Example: eslib --help; eslib streams --url duckdb:///shop.duckdb
    """
    install_connector(ctx)


for command in (streams, read, tail, append, stats, import_, export, copy, init, doctor, bench,
                serve_command):
    cli.add_command(command)


def main(args: list[str] | None = None, **extra: Any) -> Any:
    """The console script ``eslib``."""
    return cli.main(args=args, prog_name="eslib", **extra)
