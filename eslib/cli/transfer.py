"""Moving events: ``import``, ``export``, ``copy`` (the work lives in :mod:`eslib.transfer`
and :mod:`eslib.copying`)."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import IO

import click

from .. import transfer, verification
from ..copying import copy_events
from ..errors import EslibError
from ..store import EventStore
from .base import DEBUG, common, debug_option, open_store, progress

format_option = click.option(
    "--format", "fmt", type=click.Choice(transfer.FORMATS),
    help="jsonl, csv or parquet. Default: from the file's extension (stdout: jsonl).")


@click.command(name="import")
@common
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@format_option
@click.option("--batch-size", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Rows per atomic append.")
def import_(url: str | None, file: Path, fmt: str | None, batch_size: int) -> None:
    """Import events from a JSON lines, CSV or Parquet file (as written by export).

    Each batch is one atomic append. Re-running an interrupted import is safe: rows whose
    stream already holds their version are skipped, and stored event ids are not written
    twice. Ids, versions and recorded_at are kept when the file has them.

    Example: eslib import events.parquet --url duckdb:///shop.duckdb
    """
    fmt = transfer.guess_format(file, fmt)
    store = open_store(url)
    with progress(None, f"import {file.name}") as bar:
        report = transfer.restore(store, transfer.read_file(file, fmt, batch_size),
                                  on_progress=bar.update)
    click.echo(f"imported {report.written:,} events into {store.url} "
               f"({report.skipped:,} already there, {report.batches:,} batches)", err=True)


@click.command()
@common
@click.option("--stream", help="Only this stream.")
@click.option("--category", help="Only streams of this category (the id before the first '-').")
@format_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (default: stdout).")
def export(url: str | None, stream: str | None, category: str | None, fmt: str | None,
           output: Path | None) -> None:
    """Export events in global order as JSON lines, CSV or Parquet, to a file or stdout.

    Example: eslib export --category order -o orders.parquet
    """
    if stream and category:
        raise click.UsageError("give --stream or --category, not both")
    fmt = transfer.guess_format(output, fmt)
    store = open_store(url, existing=True)
    total = store.stream_version(stream) if stream else None
    with progress(total, "export") as bar:
        if output is not None:
            count = _export_file(store, output, fmt, stream, category, bar.update)
        else:
            count = _export_stdout(store, fmt, stream, category, bar.update)
    click.echo(f"exported {count:,} events" + (f" to {output}" if output else ""), err=True)


def _export_file(store: EventStore, output: Path, fmt: str, stream: str | None,
                 category: str | None, update: transfer.Progress) -> int:
    """Written beside ``output`` and renamed at the end: a refused or interrupted export
    leaves an existing file as it was."""
    if not output.parent.is_dir():
        raise click.UsageError(f"the folder {str(output.parent)!r} does not exist; create it "
                               "first or choose another --output")
    partial = output.with_name(f".{output.name}.partial")
    try:
        with partial.open("wb") as out:
            count = transfer.export_events(store, out, fmt, stream_id=stream,
                                           category=category, on_progress=update)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return count


def _export_stdout(store: EventStore, fmt: str, stream: str | None, category: str | None,
                   update: transfer.Progress) -> int:
    out: IO[bytes] = sys.stdout.buffer
    if fmt != "parquet":
        return transfer.export_events(store, out, fmt, stream_id=stream,
                                      category=category, on_progress=update)
    buffer = io.BytesIO()  # Parquet writes its footer last: needs a seekable file
    count = transfer.export_events(store, buffer, fmt, stream_id=stream,
                                   category=category, on_progress=update)
    transfer.write_all(out, buffer.getvalue())
    out.flush()
    return count


@click.command()
@click.option("--from", "source", metavar="URL", required=True, help="The store to copy from.")
@click.option("--to", "target", metavar="URL", required=True, help="The store to copy into.")
@click.option("--no-verify", is_flag=True, help="Skip the comparison afterwards.")
@click.option("--show-streams", is_flag=True, help="Print every stream's count and checksum.")
@debug_option
def copy(source: str, target: str, no_verify: bool, show_streams: bool) -> None:
    """Copy every event to another store, then verify the copy.

    Keeps stream ids, versions, event ids, timestamps and the global order; afterwards
    compares the event count and a checksum of every stream, and the order of all ids.

    The target must be empty or hold a copy of the source's first events: running it
    again after an interruption copies only what is missing; a target holding other
    events is refused before anything is written. Exit code 1 when the stores differ.

    Example: eslib copy --from duckdb:///shop.duckdb --to postgresql://app@db/shop
    """
    src, dst = open_store(source, existing=True), open_store(target)
    if src.url.scheme == dst.url.scheme and str(src.url) == str(dst.url) \
            and src.url.scheme != "memory":
        raise click.UsageError("--from and --to name the same store")
    total = src.head_position()
    with progress(total, "copy") as bar:
        report = copy_events(src, dst, on_progress=bar.update)
    click.echo(f"copied {report.written:,} events from {src.url} to {dst.url} "
               f"({report.skipped:,} already there)")
    if no_verify:
        return
    with progress(None, "verify") as bar:
        result = verification.verify(src, dst, on_progress=bar.update)
    if show_streams:
        for stream_id, summed in result.source.items():
            mark = "FAIL" if stream_id in result.mismatched else "ok  "
            click.echo(f"{mark}  {stream_id}  {summed.events:,} events  {summed.digest[:16]}")
    events = sum(s.events for s in result.source.values())
    copied = sum(s.events for s in result.target.values())
    order = "same" if result.source_order == result.target_order else "DIFFERENT"
    click.echo(f"verify: {len(result.source):,} streams, {events:,} events in the source, "
               f"{copied:,} in the target, {len(result.mismatched):,} streams differ, global "
               f"order {order}")
    if not result.ok:
        shown = ", ".join(repr(s) for s in result.mismatched[:5])
        ctx = click.get_current_context()
        if ctx.meta.get(DEBUG):
            raise EslibError(f"copy differs: {shown}")
        click.echo(f"error: the stores differ: {shown or 'global order'}"
                   + (" …" if len(result.mismatched) > 5 else ""), err=True)
        ctx.exit(1)
