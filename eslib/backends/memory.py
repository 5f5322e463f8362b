"""In-process backend: lists and dicts behind one lock. Gone when the process ends.

An event is kept as a plain tuple of strings, ints and a datetime (:data:`Row`: its id
as an int, data and metadata as JSON text), which the garbage collector stops tracking
after a collection or two; a RecordedEvent, a UUID and two dicts per event stayed tracked,
and every full collection walked them (a fifth of an append's time at 100k events). The
first read of an event makes its RecordedEvent and keeps it for the next readers
(replaying an aggregate reads the same events again and again).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Final

from ..errors import ConfigurationError, DuplicateEventId
from ..events import ANY, AppendResult, RecordedEvent, append_result, recorded_event
from ..ids import uuid_from_int
from ..json_text import decode, encode
from .base import (
    EventQuery,
    PreparedEvent,
    Snapshot,
    StoredId,
    StreamAppend,
    arrow_schema,
    check_expected,
    matches,
    replayed_result,
)

if TYPE_CHECKING:
    import pyarrow as pa


# (stream_id, version, position, id as int, type, data JSON, metadata JSON, recorded_at)
Row = tuple[str, int, int, int, str, str, str, datetime]
STREAM: Final = 0
VERSION: Final = 1
POSITION: Final = 2
ID: Final = 3
TYPE: Final = 4


def _event(row: Row) -> RecordedEvent:
    return recorded_event(row[0], row[1], row[2], uuid_from_int(row[3]), row[4],
                          decode(row[5]), decode(row[6]), row[7])


def _stored(row: Row) -> StoredId:
    return StoredId(uuid_from_int(row[ID]), row[STREAM], row[VERSION], row[POSITION])


class MemoryBackend:
    """The whole log in memory: position p is ``log[p - 1]``."""

    capabilities: frozenset[str] = frozenset()

    def __init__(self, target: str = "") -> None:
        self._lock = threading.RLock()
        self._log: list[Row] = []
        self._streams: dict[str, list[Row]] = {}
        self._ids: dict[int, Row] = {}
        self._read: list[RecordedEvent | None] = []  # position p: log[p - 1] once read
        self._snapshots: dict[str, Snapshot] = {}
        self._checkpoints: dict[str, int] = {}

    def append(self, batch: Sequence[StreamAppend]) -> list[AppendResult]:
        if len(batch) == 1 and len(batch[0].events) == 1:
            result = self._append_one(batch[0])
            if result is not None:
                return [result]
        return self._append(batch)

    def _append_one(self, item: StreamAppend) -> AppendResult | None:
        """One event, the common case, without the general path's loops (None: its id is
        stored, the general path decides)."""
        p = item.events[0]
        stream_id = item.stream_id
        with self._lock:
            if p.id.int in self._ids:
                return None
            stream = self._streams.get(stream_id)
            version = len(stream) if stream is not None else 0
            expected = item.expected
            if expected is not ANY and (expected != version if type(expected) is int
                                        else version == 0):
                check_expected(stream_id, expected, version)
            if stream is None:
                stream = self._streams[stream_id] = []
            position = self._store(stream_id, stream, p)
        return append_result(stream_id, version + 1, (position,))

    def _store(self, stream_id: str, stream: list[Row], p: PreparedEvent) -> int:
        """Add one checked event at the end of its stream and of the log; its position."""
        log = self._log
        position = len(log) + 1
        key = p.id.int
        row = (stream_id, len(stream) + 1, position, key, p.type, p.data_json,
               p.metadata_json, p.recorded_at)
        stream.append(row)
        log.append(row)
        self._read.append(None)
        self._ids[key] = row
        return position

    def _append(self, batch: Sequence[StreamAppend]) -> list[AppendResult]:
        with self._lock:
            ids = self._ids
            replays: list[AppendResult | None] = []
            for item in batch:
                replayed = None
                for p in item.events:
                    if p.id.int in ids:
                        replayed = replayed_result(item, [
                            _stored(row) for row in (ids.get(p.id.int) for p in item.events)
                            if row is not None
                        ])
                        break
                if replayed is None:
                    stream = self._streams.get(item.stream_id)
                    check_expected(item.stream_id, item.expected, len(stream) if stream else 0)
                replays.append(replayed)
            # every check passed: now write, so a failing batch leaves nothing behind
            log = self._log
            results = []
            for item, replayed in zip(batch, replays, strict=True):
                if replayed is not None:
                    results.append(replayed)
                    continue
                stream_id = item.stream_id
                stream = self._streams.setdefault(stream_id, [])
                first = len(log) + 1
                for p in item.events:
                    self._store(stream_id, stream, p)
                last = len(log)
                positions = (last,) if last == first else tuple(range(first, last + 1))
                results.append(append_result(stream_id, len(stream), positions))
            return results

    def bulk_append(self, table: pa.Table, skip_existing: bool) -> int:
        from ..bulk import parse_object

        rows = []
        seen: set[int] = set()
        columns = table.to_pydict()
        with self._lock:
            for i, stream_id in enumerate(columns["stream_id"]):
                given = columns["id"][i]  # canonical text (bulk.normalise) or None
                event_id = int(given.replace("-", ""), 16) if given else uuid.uuid4().int
                # skip_existing skips ids already stored; an id twice in the table is an error
                if event_id in self._ids and skip_existing:
                    continue
                if event_id in seen or event_id in self._ids:
                    raise DuplicateEventId([str(uuid_from_int(event_id))],
                                           "(bulk append: nothing written)")
                seen.add(event_id)
                rows.append((stream_id, event_id, columns["type"][i],
                             encode(parse_object(columns["data"][i], "data")),
                             encode(parse_object(columns["metadata"][i], "metadata")),
                             columns["recorded_at"][i]))
            for stream_id, event_id, type_, data, metadata, recorded_at in rows:
                stream = self._streams.setdefault(stream_id, [])  # all checked: write in order
                row = (stream_id, len(stream) + 1, len(self._log) + 1, event_id, type_, data,
                       metadata, recorded_at)
                stream.append(row)
                self._log.append(row)
                self._read.append(None)
                self._ids[event_id] = row
        return len(rows)

    def read_stream(
        self, stream_id: str, from_version: int, backwards: bool, limit: int | None
    ) -> Iterator[RecordedEvent]:
        with self._lock:
            rows = self._streams.get(stream_id, [])[from_version - 1 :]
        if backwards:
            rows = rows[::-1]
        return iter(self._events(rows if limit is None else rows[:limit]))

    def read_all(self, query: EventQuery) -> Iterator[RecordedEvent]:
        return iter(self._events(self._select(query)))

    def _events(self, rows: list[Row]) -> list[RecordedEvent]:
        read = self._read  # the events read before, without a call each (replays)
        return [read[row[POSITION] - 1] or self._recorded(row) for row in rows]

    def _recorded(self, row: Row) -> RecordedEvent:
        # two readers at once may both make it: equal objects, either kept
        index = row[POSITION] - 1
        event = self._read[index]
        if event is None:
            event = self._read[index] = _event(row)
        return event

    def _select(self, query: EventQuery) -> list[Row]:
        with self._lock:
            if query.stream_id is not None:
                candidates = [r for r in self._streams.get(query.stream_id, ())
                              if r[POSITION] >= query.from_position]
            else:
                candidates = self._log[query.from_position - 1 :]
        selected = [r for r in candidates if matches(query, r[STREAM], r[TYPE], r[POSITION])]
        return selected if query.limit is None else selected[: query.limit]

    def stream_version(self, stream_id: str) -> int:
        return len(self._streams.get(stream_id, ()))

    def streams(self) -> list[str]:
        with self._lock:
            return sorted(self._streams)

    def head_position(self) -> int:
        return len(self._log)

    def to_arrow(self, query: EventQuery) -> pa.Table:
        import pyarrow as pa

        rows = self._select(query)
        return pa.table(
            {
                "position": [r[2] for r in rows],
                "stream_id": [r[0] for r in rows],
                "version": [r[1] for r in rows],
                "type": [r[4] for r in rows],
                "recorded_at": [r[7] for r in rows],
                "data": [r[5] for r in rows],
                "metadata": [r[6] for r in rows],
                "id": [str(uuid_from_int(r[3])) for r in rows],
            },
            schema=arrow_schema(),
        )

    @contextmanager
    def transaction(self) -> Iterator[_MemoryTransaction]:
        with self._lock:
            log_length = len(self._log)
            checkpoints = dict(self._checkpoints)
            try:
                yield _MemoryTransaction(self)
            except BaseException:
                self._rollback_to(log_length)
                self._checkpoints = checkpoints
                raise

    def _rollback_to(self, log_length: int) -> None:
        for row in reversed(self._log[log_length:]):  # newest first: each is its stream's last
            stream = self._streams[row[STREAM]]
            stream.pop()
            if not stream:
                del self._streams[row[STREAM]]
            del self._ids[row[ID]]
        del self._log[log_length:]
        del self._read[log_length:]

    def save_snapshot(self, snapshot: Snapshot) -> None:
        with self._lock:
            self._snapshots[snapshot.stream_id] = snapshot

    def load_snapshot(self, stream_id: str) -> Snapshot | None:
        return self._snapshots.get(stream_id)

    def load_checkpoint(self, name: str) -> int:
        return self._checkpoints.get(name, 0)

    def close(self) -> None:
        pass


class _MemoryTransaction:
    def __init__(self, backend: MemoryBackend) -> None:
        self._backend = backend

    def append(self, batch: Sequence[StreamAppend]) -> list[AppendResult]:
        return self._backend.append(batch)

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        raise ConfigurationError(
            "the memory backend has no SQL; keep this read model in Python, "
            "or use a DuckDB or PostgreSQL store"
        )

    def load_checkpoint(self, name: str) -> int:
        return self._backend._checkpoints.get(name, 0)

    def save_checkpoint(self, name: str, position: int) -> None:
        self._backend._checkpoints[name] = position
