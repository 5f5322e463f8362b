"""Writing and looking after a store: ``append``, ``init``, ``doctor``."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

import click

from ..backends.base import SCHEMA_VERSION
from ..errors import EslibError
from ..events import ANY, NO_STREAM, STREAM_EXISTS, ExpectedVersion, NewEvent
from ..store import EventStore
from .base import common, echo_json, json_option, one_line, open_store, parse_json_object


class ExpectedVersionType(click.ParamType):
    """``N`` (the events the stream holds now), ``any``, ``no_stream`` or ``stream_exists``."""

    name = "N|any|no_stream|stream_exists"
    words: ClassVar[dict[str, ExpectedVersion]] = {
        "any": ANY, "no_stream": NO_STREAM, "stream_exists": STREAM_EXISTS}

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> ExpectedVersion:
        if not isinstance(value, str):
            return value
        word = value.strip().lower().replace("-", "_")
        if word in self.words:
            return self.words[word]
        if word.isdigit():
            return int(word)
        self.fail(f"{value!r} is not an event count >= 0, any, no_stream or stream_exists",
                  param, ctx)


@click.command()
@common
@click.argument("stream")
@click.argument("type")
@click.option("--data", default="{}", show_default=True, help="The event's data, a JSON object.")
@click.option("--metadata", help="The event's metadata, a JSON object.")
@click.option("--expected-version", type=ExpectedVersionType(), default="any",
              show_default=True, help="Fail unless the stream holds exactly N events now.")
@click.option("--id", "event_id", help="The event's UUID (resending the same id is idempotent).")
@json_option
def append(url: str | None, stream: str, type: str, data: str, metadata: str | None,
           expected_version: ExpectedVersion, event_id: str | None, as_json: bool) -> None:
    """Append one event to a stream.

    Example: eslib append order-42 OrderPlaced --data '{"sku": "A1", "qty": 2}' --expected-version no_stream
    """  # noqa: E501
    event = NewEvent(type, parse_json_object(data, "--data") or {},
                     parse_json_object(metadata, "--metadata"), event_id)
    result = open_store(url).append(stream, [event], expected_version)
    if as_json:
        echo_json({"stream_id": result.stream_id, "version": result.version,
                   "positions": list(result.positions)})
    else:
        click.echo(f"appended {type} to {stream} at version {result.version} "
                   f"(position {result.positions[0]})")


@click.command()
@common
def init(url: str | None) -> None:
    """Create the store's schema when it is missing (connecting does it too) and say where.

    Example: eslib init --url postgresql://app@db.example.com/shop
    """
    store = open_store(url)
    where = "nothing persists: the store lives in this process" if store.url.scheme == "memory" \
        else f"schema version {schema_version(store)}"
    click.echo(f"ready: {store.url} ({store.url.scheme}; {where})")


@click.command()
@common
@json_option
def doctor(url: str | None, as_json: bool) -> None:
    """Check the store: reachable, which backend, schema version, can we write.

    The write check appends in a transaction and rolls it back. Exit code 1 when a check
    fails.

    Example: eslib doctor --url postgresql://app@db.example.com/shop
    """
    checks: list[tuple[str, bool, str]] = []
    try:
        store = open_store(url, existing=True)
    except EslibError as exc:
        checks.append(("reachable", False, one_line(exc)))
    else:
        checks += _checks(store)
    failed = any(not ok for _, ok, _ in checks)
    if as_json:
        echo_json({"ok": not failed,
                   "checks": [{"check": c, "ok": ok, "detail": d} for c, ok, d in checks]})
    else:
        for name, ok, detail in checks:
            click.echo(f"{'ok  ' if ok else 'FAIL'}  {name:<10} {detail}")
    if failed:
        raise SystemExit(1)


def _checks(store: EventStore) -> list[tuple[str, bool, str]]:
    checks = [("reachable", True, str(store.url)), ("backend", True, _backend(store))]
    try:
        found = schema_version(store)
        checks.append(("schema", found == SCHEMA_VERSION,
                       f"version {found} (this eslib: {SCHEMA_VERSION})"))
    except EslibError as exc:
        checks.append(("schema", False, one_line(exc)))
    checks.append(_write_check(store))
    try:
        checks.append(("events", True, f"{store.head_position():,} (head position), "
                                       f"{len(store.streams()):,} streams"))
    except EslibError as exc:
        checks.append(("events", False, one_line(exc)))
    blocking = getattr(store.backend, "blocking_transactions", None)
    if blocking is not None:
        holders = blocking()
        checks.append(("followers", not holders, "; ".join(map(str, holders)) or
                       "no transaction holds read_all followers back"))
    return checks


def _write_check(store: EventStore) -> tuple[str, bool, str]:
    stream = f"eslib-doctor-{uuid.uuid4().hex[:12]}"
    try:
        with store.transaction() as tx:
            tx.append(stream, [NewEvent("DoctorChecked", {})], NO_STREAM)
            raise _RolledBack
    except _RolledBack:
        pass
    except EslibError as exc:
        return ("write", False, one_line(exc))
    left = store.stream_version(stream)
    if left:
        return ("write", False, f"the rolled-back test event is still there in {stream!r}")
    return ("write", True, "appended in a transaction and rolled back")


class _RolledBack(Exception):
    pass


def _backend(store: EventStore) -> str:
    scheme = store.url.scheme
    if scheme == "duckdb":
        import duckdb

        return f"DuckDB {duckdb.__version__}, file {getattr(store.backend, 'path', '?')}"
    if scheme == "postgresql":
        import psycopg

        server = _sql(store, "SELECT current_setting('server_version')")[0][0]
        return f"PostgreSQL {server} (psycopg {psycopg.__version__})"
    if scheme == "memory":
        return "memory (this process only)"
    return f"{scheme} ({type(store.backend).__name__})"


def schema_version(store: EventStore) -> int:
    """The schema version stored in the database (the memory backend has none: current)."""
    if "sql" not in store.capabilities:
        return SCHEMA_VERSION
    return int(_sql(store, "SELECT max(version) FROM eslib_schema")[0][0])


def _sql(store: EventStore, query: str) -> list[tuple[Any, ...]]:
    with store.transaction() as tx:
        return tx.execute(query)
