"""Looking at a store: ``streams``, ``read``, ``tail``, ``stats``."""

from __future__ import annotations

import os
import re
import time
from datetime import datetime
from typing import Any

import click

from ..events import RecordedEvent
from ..store import EventStore
from ..transfer import event_json
from ..validation import MAX_INT
from .base import Seconds, common, echo_json, json_option, open_store, print_table

_TIME = re.compile(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d+))?")


@click.command()
@common
@click.option("--category", help="Only streams of this category (the id before the first '-').")
@json_option
def streams(url: str | None, category: str | None, as_json: bool) -> None:
    """List streams with their length and last activity.

    Example: eslib streams --url duckdb:///shop.duckdb --category order
    """
    store = open_store(url, existing=True)
    summary = [s for s in stream_summary(store)
               if category is None or s[0].split("-", 1)[0] == category]
    if as_json:
        for stream_id, events, first, last in summary:
            echo_json({"stream_id": stream_id, "events": events, "first": first, "last": last})
        return
    print_table(("stream", "events", "first event", "last activity"), summary, right=(1,))


@click.command()
@common
@click.argument("stream")
@click.option("--from-version", type=click.IntRange(min=1, max=MAX_INT), default=1,
              show_default=True)
@click.option("--limit", type=click.IntRange(min=0, max=MAX_INT), help="At most this many events.")
@click.option("--backwards", is_flag=True, help="Newest first.")
@json_option
def read(url: str | None, stream: str, from_version: int, limit: int | None, backwards: bool,
         as_json: bool) -> None:
    """Print the events of one stream, as a table or as JSON lines.

    Example: eslib read order-42 --json
    """
    store = open_store(url, existing=True)
    events = store.read_stream(stream, from_version, backwards=backwards, limit=limit)
    if as_json:
        for event in events:
            echo_json(event_json(event))
        return
    rows = [_row(e) for e in events]
    if not rows and limit != 0:
        click.echo(f"stream {stream!r} has no events" + (
            f" from version {from_version}" if from_version > 1 else ""), err=True)
        return
    print_table(("version", "position", "recorded at", "type", "data"), rows, right=(0, 1))


def _row(event: RecordedEvent) -> tuple[Any, ...]:
    return (event.version, event.position, _time(event.recorded_at), event.type,
            _short(event_json(event)["data"]))


@click.command()
@common
@click.option("--from-position", type=click.IntRange(min=1, max=MAX_INT),
              help="Start here (inclusive). Default: only events appended from now on.")
@click.option("--category", help="Only events of streams of this category.")
@click.option("--type", "types", multiple=True, help="Only events of this type (repeatable).")
@click.option("--max-events", type=click.IntRange(min=1, max=MAX_INT),
              help="Stop after this many events.")
@click.option("--timeout", type=Seconds(), help="Stop after this many seconds.")
@click.option("--poll", type=Seconds(positive=True), default=0.2, show_default=True,
              help="Seconds between reads when caught up.")
@json_option
def tail(url: str | None, from_position: int | None, category: str | None,
         types: tuple[str, ...], max_events: int | None, timeout: float | None, poll: float,
         as_json: bool) -> None:
    """Follow the global log live, printing events as they are appended; Ctrl-C stops.

    Example: eslib tail --url postgresql://app@db/shop --from-position 1 --json
    """
    store = open_store(url, existing=True)
    position = (from_position - 1) if from_position is not None else store.head_position()
    deadline = None if timeout is None else time.monotonic() + timeout
    seen = 0
    try:
        while True:
            for event in store.read_all(position + 1, limit=500, types=types or None,
                                        category=category):
                position = event.position
                if as_json:
                    echo_json(event_json(event))
                else:
                    click.echo(f"{event.position:>8}  {_time(event.recorded_at)}  "
                               f"{event.stream_id}@{event.version}  {event.type}  "
                               f"{_short(event.data)}")
                seen += 1
                if max_events is not None and seen >= max_events:
                    return
            if deadline is not None and time.monotonic() >= deadline:
                return
            _wait(store, position, poll if deadline is None
                  else max(0.0, min(poll, deadline - time.monotonic())))
    except KeyboardInterrupt:  # the normal way to stop following
        click.echo(f"stopped after position {position}", err=True)


def _wait(store: EventStore, position: int, seconds: float) -> None:
    wait_for_events = getattr(store.backend, "wait_for_events", None)
    if wait_for_events is not None:
        wait_for_events(position, seconds)
    else:
        time.sleep(seconds)


@click.command()
@common
@json_option
def stats(url: str | None, as_json: bool) -> None:
    """Count events, streams and types, and show the size on disk.

    Example: eslib stats --url duckdb:///shop.duckdb
    """
    store = open_store(url, existing=True)
    summary = stream_summary(store)
    types = type_counts(store)
    figures: dict[str, Any] = {
        "url": str(store.url),
        "events": sum(s[1] for s in summary),
        "streams": len(summary),
        "types": len(types),
        "head_position": store.head_position(),
        "first_event": min((s[2] for s in summary), default=None),
        "last_event": max((s[3] for s in summary), default=None),
        "size_bytes": size_on_disk(store),
    }
    if as_json:
        echo_json({**figures, "events_by_type": dict(types)})
        return
    size = figures.pop("size_bytes")
    figures["size_on_disk"] = _bytes(size) if size is not None else (
        "n/a (in memory)" if store.url.scheme == "memory" else "n/a")
    for key, value in figures.items():
        shown = f"{value:,}" if isinstance(value, int) else ("" if value is None else value)
        click.echo(f"{key.replace('_', ' '):<14} {shown}")
    if types:
        click.echo("")
        print_table(("type", "events"), types, right=(1,))


# -- queries (one SQL statement where the backend has SQL) --------------------------------


def stream_summary(store: EventStore) -> list[tuple[str, int, str, str]]:
    """(stream id, events, first recorded_at, last recorded_at) per stream, by id."""
    if "sql" in store.capabilities:
        rows = _sql(store, "SELECT stream_id, count(*), CAST(min(recorded_at) AS VARCHAR),"
                           " CAST(max(recorded_at) AS VARCHAR) FROM eslib_events"
                           " GROUP BY stream_id ORDER BY stream_id")
        return [(str(s), int(n), _time(a), _time(b)) for s, n, a, b in rows]
    table = store.to_arrow().group_by("stream_id").aggregate(
        [("version", "count"), ("recorded_at", "min"), ("recorded_at", "max")])
    return sorted((s, n, _time(a), _time(b)) for s, n, a, b in zip(
        *(table.column(c).to_pylist() for c in (
            "stream_id", "version_count", "recorded_at_min", "recorded_at_max")), strict=True))


def type_counts(store: EventStore) -> list[tuple[str, int]]:
    """(type, events) pairs, most frequent first."""
    if "sql" in store.capabilities:
        rows = _sql(store, "SELECT type, count(*) FROM eslib_events GROUP BY type"
                           " ORDER BY count(*) DESC, type")
        return [(str(t), int(n)) for t, n in rows]
    counts = store.to_arrow().group_by("type").aggregate([("position", "count")])
    pairs = zip(counts.column("type").to_pylist(), counts.column("position_count").to_pylist(),
                strict=True)
    return sorted(pairs, key=lambda p: (-p[1], p[0]))


def size_on_disk(store: EventStore) -> int | None:
    """Bytes of the DuckDB file (and its WAL) or of PostgreSQL's events table; None in memory."""
    if store.url.scheme == "duckdb":
        path = getattr(store.backend, "path", ":memory:")
        if path == ":memory:":
            return None
        return sum(os.path.getsize(p) for p in (path, f"{path}.wal") if os.path.exists(p))
    if store.url.scheme == "postgresql":
        return int(_sql(store, "SELECT pg_total_relation_size('eslib_events')")[0][0])
    return None


def _sql(store: EventStore, query: str) -> list[tuple[Any, ...]]:
    with store.transaction() as tx:
        return tx.execute(query)


def _time(value: object) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM:SS.ffffffZ`` (UTC), whatever the backend gave."""
    if isinstance(value, datetime):
        value = value.isoformat(sep=" ")
    match = _TIME.match(str(value))
    if match is None:
        return str(value)
    day, clock, fraction = match.groups()
    return f"{day} {clock}.{(fraction or '').ljust(6, '0')}Z"


def _short(data: object, width: int = 60) -> str:
    import json

    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 1] + "…"


def _bytes(n: int) -> str:
    if n < 1024:
        return f"{n:,} B"
    size = n / 1024
    for unit in ("KiB", "MiB"):
        if size < 1024:
            return f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} GiB"
