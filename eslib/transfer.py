"""Moving events in and out of a store: files (JSON lines, CSV, Parquet) and other stores.

Every event keeps its stream id, version, id, type, data, metadata and
``recorded_at``; files carry the columns of :func:`eslib.backends.base.arrow_schema`
(``position`` is informative: the receiving store numbers positions itself, in the
same order). Writing goes through :meth:`eslib.EventStore.bulk_append`, which keeps
ids and timestamps; each batch is one atomic bulk append, rows in order, so the
global order is kept exactly.

Resuming: a row whose stream already holds its version is skipped when the stored
event is that row (same id; another event there is an error), and a row without a
version is skipped when its id is stored already, so an import that stopped half
way can simply run again. Rows without an id get one derived from their stream,
place and content, so importing the same file twice writes it once. Copying
between stores: :mod:`eslib.copying`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from . import json_text
from .backends.base import arrow_schema
from .errors import InvalidEvent
from .events import RecordedEvent
from .store import EventStore
from .validation import check_stream_id, check_text, check_type, is_int

if TYPE_CHECKING:
    import pyarrow as pa

FORMATS = ("jsonl", "csv", "parquet")
EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv",
              ".parquet": "parquet", ".pq": "parquet"}
PAGE = 10_000
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
IMPORT_IDS = uuid.UUID("6a1b0f5e-8d1c-4c43-9a57-0e6f1b2c7d41")  # uuid5 namespace of derived ids
Progress = Callable[[int], None]
Row = dict[str, Any]


def guess_format(path: str | Path | None, given: str | None = None) -> str:
    """The file format: ``given`` if set, else from the extension, else JSON lines."""
    if given:
        if given not in FORMATS:
            raise InvalidEvent(f"unknown format {given!r}; use one of {', '.join(FORMATS)}")
        return given
    if path is None or str(path) == "-":
        return "jsonl"
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        raise InvalidEvent(
            f"cannot tell the format of {str(path)!r} from its extension; pass --format "
            f"({', '.join(FORMATS)})")
    return EXTENSIONS[suffix]


def event_json(event: RecordedEvent) -> Row:
    """A recorded event as a JSON-ready dict (the JSON lines format of export and import)."""
    return {"position": event.position, "stream_id": event.stream_id, "version": event.version,
            "type": event.type, "recorded_at": event.recorded_at.isoformat(),
            "data": event.data, "metadata": event.metadata, "id": str(event.id)}


# -- export ---------------------------------------------------------------------------


def pages(store: EventStore, *, stream_id: str | None = None, category: str | None = None,
          page: int = PAGE) -> Iterator[pa.Table]:
    """The store's events (or one stream's, or one category's) as Arrow tables, in order."""
    start = 1
    while True:
        table = store.to_arrow(stream_id, category=category, from_position=start, limit=page)
        if table.num_rows:
            yield table
        if table.num_rows < page:
            return
        start = table.column("position")[-1].as_py() + 1


def write_all(out: IO[bytes], data: bytes) -> None:
    """``out.write(data)``, all of it: a buffered pipe returns a short count, without an
    error, when its reader has gone (``eslib export | head``); the next write raises."""
    view = memoryview(data)
    while view:
        written = out.write(view)
        if not written:
            raise BrokenPipeError("the output was closed")
        view = view[written:]


def export_events(store: EventStore, out: IO[bytes], fmt: str, *, stream_id: str | None = None,
                  category: str | None = None, on_progress: Progress | None = None) -> int:
    """Write events to a binary file object; the number written."""
    import pyarrow as pa

    count = 0
    writer: Any = None
    for table in pages(store, stream_id=stream_id, category=category):
        if fmt == "jsonl":
            write_all(out, _jsonl(table))
        elif fmt == "csv":
            import pyarrow.csv as pacsv

            if writer is None:
                writer = pacsv.CSVWriter(out, table.schema)
            writer.write_table(table)
        else:
            import pyarrow.parquet as pq

            if writer is None:
                writer = pq.ParquetWriter(out, table.schema)
            writer.write_table(table)
        count += table.num_rows
        if on_progress is not None:
            on_progress(table.num_rows)
    if writer is None and fmt != "jsonl":  # no events: still a valid, empty file
        empty = pa.table({n: pa.array([], t) for n, t in zip(
            arrow_schema().names, arrow_schema().types, strict=True)})
        if fmt == "csv":
            import pyarrow.csv as pacsv

            pacsv.write_csv(empty, out)
        else:
            import pyarrow.parquet as pq

            pq.write_table(empty, out)
    elif writer is not None:
        writer.close()
    return count


def _jsonl(table: pa.Table) -> bytes:
    # data and metadata are already JSON text: spliced in, not parsed and dumped again
    dumps = json.dumps
    lines = []
    for row, us in zip(table.to_pylist(), recorded_micros(table), strict=True):
        head = dumps({"position": row["position"], "stream_id": row["stream_id"],
                      "version": row["version"], "type": row["type"],
                      "recorded_at": (EPOCH + timedelta(microseconds=us)).isoformat()},
                     ensure_ascii=False, separators=(",", ":"))
        lines.append(f'{head[:-1]},"data":{row["data"]},"metadata":{row["metadata"]},'
                     f'"id":"{row["id"]}"}}\n')
    return "".join(lines).encode()


def recorded_micros(table: pa.Table) -> list[int]:
    """``recorded_at`` as integer microseconds since the epoch."""
    import pyarrow as pa

    micros: list[int] = table.column("recorded_at").cast(pa.int64()).to_pylist()
    return micros


# -- reading files ----------------------------------------------------------------------


def read_file(path: str | Path, fmt: str, batch_size: int = PAGE) -> Iterator[list[Row]]:
    """Rows of an events file in batches; each row has stream_id, type, data (and maybe more)."""
    if fmt == "jsonl":
        yield from _read_jsonl(Path(path), batch_size)
        return
    import pyarrow as pa

    try:  # a file the format's reader refuses (a cell of the wrong type, not the format)
        if fmt == "csv":
            import pyarrow.csv as pacsv

            types = {"version": pa.int64(), "position": pa.int64(), "data": pa.string(),
                     "metadata": pa.string(), "id": pa.string(),
                     "recorded_at": pa.timestamp("us", tz="UTC")}
            reader = pacsv.open_csv(
                str(path), read_options=pacsv.ReadOptions(block_size=1 << 22),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(column_types=types))
            batches: Iterator[Any] = iter(reader)
        else:
            import pyarrow.parquet as pq

            batches = pq.ParquetFile(str(path)).iter_batches(batch_size=batch_size)
        done = 0
        for batch in batches:
            missing = [c for c in ("stream_id", "type", "data") if c not in batch.schema.names]
            if missing:
                raise InvalidEvent(f"{path}: no {', '.join(missing)} column; a {fmt} file of "
                                   "events needs stream_id, type and data (as eslib export "
                                   "writes them)")
            rows = batch.to_pylist()
            for n, row in enumerate(rows, done + 1):
                row["_row"] = n  # errors name it
            done += len(rows)
            yield rows
    except pa.ArrowException as exc:
        raise InvalidEvent(f"{path}: cannot read it as {fmt}: {exc}") from None


def _read_jsonl(path: Path, batch_size: int) -> Iterator[list[Row]]:
    rows: list[Row] = []
    with path.open(encoding="utf-8", errors="surrogateescape") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            if not line.isascii():  # bytes that are not UTF-8 were read as lone surrogates
                try:
                    line.encode()
                except UnicodeEncodeError as exc:
                    raise InvalidEvent(f"{path}:{number}: not UTF-8 text (column "
                                       f"{exc.start + 1}); save the file as UTF-8") from None
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise InvalidEvent(f"{path}:{number}: not JSON ({exc})") from None
            if not isinstance(row, dict):
                raise InvalidEvent(f"{path}:{number}: each line must be a JSON object")
            row["_line"] = number
            rows.append(row)
            if len(rows) >= batch_size:
                yield rows
                rows = []
    if rows:
        yield rows


# -- writing rows into a store ------------------------------------------------------------


@dataclass
class RestoreReport:
    """What an import or copy did."""

    written: int = 0
    skipped: int = 0  #: rows already stored (their stream held their version, or their id)
    batches: int = 0


def restore(store: EventStore, batches: Iterator[list[Row]], *,
            on_progress: Progress | None = None) -> RestoreReport:
    """Write rows (stream_id, type, data, metadata?, id?, version?, recorded_at?) in order,
    each batch in one :meth:`~eslib.EventStore.bulk_append`."""
    report = RestoreReport()
    empty = store.head_position() == 0
    versions: dict[str, int] = {}  # versioned streams: what each holds after the rows so far
    seen: dict[object, int] = {}  # rows per stream so far: derives ids for rows without one
    for rows in batches:
        fresh: list[Row] = []
        stored: list[tuple[Row, int]] = []  # versioned rows the store holds a version for
        for row in rows:
            stream_id = row.get("stream_id")
            check_stream_id(stream_id, f"{_where(row)}stream_id")
            assert isinstance(stream_id, str)
            seen[stream_id] = seen.get(stream_id, 0) + 1
            version = row.get("version")
            if version is not None and not is_int(version, 1):
                raise InvalidEvent(f"{_where(row)}version must be an int >= 1, got {version!r}")
            if version is not None:  # a versioned row: skip it if stored, else it must fit
                current = versions.get(stream_id)
                if current is None:
                    current = 0 if empty else store.stream_version(stream_id)
                if version <= current:
                    versions[stream_id] = current
                    stored.append((row, seen[stream_id]))
                    continue
                if version != current + 1:
                    raise InvalidEvent(
                        f"{_where(row)}stream {stream_id!r} would get version {current + 1} "
                        f"but the row says {version}: the source has a gap or is out of "
                        "order, or another writer added events here")
                versions[stream_id] = version
            if row.get("id") in (None, ""):
                _type(row)  # worded as the type's fault, before the id is derived from it
                row["id"] = _derived_id(row, seen[stream_id])
            fresh.append(row)
        _check_stored(store, stored)
        report.skipped += len(stored)
        if fresh:
            # an id stored elsewhere must not be skipped silently when rows carry versions:
            # the stream's later rows would land one version early
            skip = any(row.get("version") is None for row in fresh)
            written = store.bulk_append(_table(fresh), skip_existing=skip)
            report.written += written
            report.skipped += len(fresh) - written
            report.batches += 1
        if on_progress is not None:
            on_progress(len(rows))
    return report


def _check_stored(store: EventStore, rows: list[tuple[Row, int]]) -> None:
    """Skipping a row because its stream holds its version is right only when the stored
    event is that row (same id): else the row would be lost without a word."""
    by_stream: dict[str, list[tuple[Row, int]]] = {}
    for row, nth in rows:
        by_stream.setdefault(row["stream_id"], []).append((row, nth))
    for stream_id, items in by_stream.items():
        low = min(row["version"] for row, _ in items)
        high = max(row["version"] for row, _ in items)
        ids = {e.version: e.id for e in store.read_stream(stream_id, low, limit=high - low + 1)}
        for row, nth in items:
            given = row.get("id") not in (None, "")
            expected = _uuid(row) if given else _derived_id(row, nth)
            if ids.get(row["version"]) != expected:
                raise InvalidEvent(
                    f"{_where(row)}stream {stream_id!r} already holds another event at "
                    f"version {row['version']} (id {ids.get(row['version'])}, the row's "
                    f"{expected if given else 'has none'}): import into an empty store, or "
                    "leave out the rows of streams it already holds")


def _table(rows: list[Row]) -> pa.Table:
    import pyarrow as pa

    return pa.table({
        "stream_id": [r["stream_id"] for r in rows],
        "type": [_type(r) for r in rows],
        "data": [_json_object(r, "data") for r in rows],
        "metadata": [_json_object(r, "metadata") for r in rows],
        "id": [str(_uuid(r)) for r in rows],
        "recorded_at": pa.array([_timestamp(r) for r in rows], pa.timestamp("us", tz="UTC")),
    })


def _derived_id(row: Row, nth: int) -> uuid.UUID:
    """An id for a row that has none, from its stream, place and content: importing the same
    file again is then recognised, not written twice."""
    def text(value: object) -> str:
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)

    name = "\x1f".join([text(row.get("stream_id")), str(nth), text(row.get("type")),
                        text(row.get("data")), text(row.get("metadata"))])
    check_text(f"{_where(row)}the row's text", name)  # uuid5 hashes it as UTF-8
    return uuid.uuid5(IMPORT_IDS, name)


def _type(row: Row) -> str:
    event_type = row.get("type")
    check_type(event_type, f"{_where(row)}type")
    assert isinstance(event_type, str)
    return event_type


def _json_object(row: Row, key: str) -> str:
    value = row.get(key)
    if value is None or value == "":
        if key == "metadata":
            return "{}"
        raise InvalidEvent(f"{_where(row)}no {key}: every row needs a JSON object of {key}")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise InvalidEvent(f"{_where(row)}{key} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidEvent(f"{_where(row)}{key} must be a JSON object, got {type(value).__name__}")
    try:
        text = json_text.encode(value)  # NaN and infinities refused, as append refuses them
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidEvent(f"{_where(row)}{key} is not JSON: {exc}") from None
    check_text(f"{_where(row)}{key}", text)
    return text


def _uuid(row: Row) -> uuid.UUID:
    value = row.get("id")
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise InvalidEvent(f"{_where(row)}id {value!r} is not a UUID") from None


def _timestamp(row: Row) -> datetime:
    value = row.get("recorded_at")
    if value is None or value == "":
        return datetime.now(timezone.utc)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidEvent(f"{_where(row)}recorded_at {value!r} is not ISO 8601") from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidEvent(f"{_where(row)}recorded_at must carry a time zone, got {value!r}")
    return value.astimezone(timezone.utc)


def _where(row: Row) -> str:
    line, number = row.get("_line"), row.get("_row")
    return f"line {line}: " if line else f"row {number}: " if number else ""


# -- copying and verifying ---------------------------------------------------------------
