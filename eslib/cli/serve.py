"""``eslib serve``: share a store over gRPC (the server itself: :mod:`eslib.server`)."""

from __future__ import annotations

import logging
import os
import sys

import click

from ..errors import EslibError
from ..server import DEFAULT_HOST, DEFAULT_PORT, TOKEN_ENV, serve
from ..urls import DEFAULT_URL, parse_url
from .base import DEBUG, URL_HELP, debug_option, one_line


@click.command("serve")
@click.option("--url", metavar="URL", default=None, help=URL_HELP)
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="Interface to listen on; 0.0.0.0 exposes the store to the network.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: a free one).")
@click.option("--token-file", type=click.Path(exists=True, dir_okay=False),
              help=f"File holding the bearer token clients must send (else ${TOKEN_ENV}).")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False),
              help="PEM certificate: serve grpcs:// (needs --tls-key).")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="PEM private key.")
@click.option("--allow-sql", is_flag=True,
              help="Let clients run SQL in transactions: any SQL, as this process (on DuckDB "
                   "that includes reading and writing files it can reach).")
@click.option("--pool-size", type=click.IntRange(min=1), default=None,
              help="PostgreSQL: connections the server may open (default 4); about the "
                   "number of clients appending at once.")
@debug_option
def serve_command(url: str | None, host: str, port: int, token_file: str | None,
                  tls_cert: str | None, tls_key: str | None, allow_sql: bool,
                  pool_size: int | None) -> None:
    """Share a store over gRPC with other processes and languages.

    Example: eslib serve --url duckdb:///events.duckdb --port 50051
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    url = url or os.environ.get("ESLIB_URL") or DEFAULT_URL
    try:
        options = {} if pool_size is None else {"pool_size": pool_size}
        if options and parse_url(url).scheme not in ("postgresql", "postgres"):
            raise click.UsageError("--pool-size is for PostgreSQL stores")
        serve(url, host, port, token_file=token_file, tls_cert=tls_cert, tls_key=tls_key,
              allow_sql=allow_sql, **options)
    except EslibError as exc:  # as every command words it (also run as python -m eslib.server)
        if click.get_current_context().meta.get(DEBUG) or os.environ.get("ESLIB_DEBUG") == "1":
            raise
        click.echo(f"error: {one_line(exc)}", err=True)
        sys.exit(1)
