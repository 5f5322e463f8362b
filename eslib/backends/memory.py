"""In-process backend: lists and dicts behind one lock. Gone when the process ends."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..errors import ConfigurationError, DuplicateEventId
from ..events import ANY, AppendResult, RecordedEvent, append_result, recorded_event
from ..ids import uuid_from_text
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


class MemoryBackend:
    """The whole log in memory: position p is ``log[p - 1]``."""

    capabilities: frozenset[str] = frozenset()

    def __init__(self, target: str = "") -> None:
        self._lock = threading.RLock()
        self._log: list[RecordedEvent] = []
        self._streams: dict[str, list[RecordedEvent]] = {}
        self._ids: dict[uuid.UUID, RecordedEvent] = {}
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
            if p.id in self._ids:
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

    def _store(self, stream_id: str, stream: list[RecordedEvent], p: PreparedEvent) -> int:
        """Add one checked event at the end of its stream and of the log; its position."""
        log = self._log
        position = len(log) + 1
        event = recorded_event(stream_id, len(stream) + 1, position, p.id, p.type,
                               decode(p.data_json),  # a private copy the caller cannot mutate
                               decode(p.metadata_json), p.recorded_at)
        stream.append(event)
        log.append(event)
        self._ids[p.id] = event
        return position

    def _append(self, batch: Sequence[StreamAppend]) -> list[AppendResult]:
        with self._lock:
            ids = self._ids
            replays: list[AppendResult | None] = []
            for item in batch:
                replayed = None
                for p in item.events:
                    if p.id in ids:
                        replayed = replayed_result(item, [
                            StoredId(e.id, e.stream_id, e.version, e.position)
                            for e in (ids.get(p.id) for p in item.events) if e is not None
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
        seen: set[uuid.UUID] = set()
        columns = table.to_pydict()
        with self._lock:
            for i, stream_id in enumerate(columns["stream_id"]):
                given = columns["id"][i]  # canonical text (bulk.normalise) or None
                event_id = uuid_from_text(given) if given else uuid.uuid4()
                # skip_existing skips ids already stored; an id twice in the table is an error
                if event_id in self._ids and skip_existing:
                    continue
                if event_id in seen or event_id in self._ids:
                    raise DuplicateEventId([str(event_id)], "(bulk append: nothing written)")
                seen.add(event_id)
                rows.append((stream_id, event_id, columns["type"][i],
                             parse_object(columns["data"][i], "data"),
                             parse_object(columns["metadata"][i], "metadata"),
                             columns["recorded_at"][i]))
            for stream_id, event_id, type_, data, metadata, recorded_at in rows:
                stream = self._streams.setdefault(stream_id, [])  # all checked: write in order
                event = recorded_event(stream_id, len(stream) + 1, len(self._log) + 1, event_id,
                                       type_, data, metadata, recorded_at)
                stream.append(event)
                self._log.append(event)
                self._ids[event_id] = event
        return len(rows)

    def read_stream(
        self, stream_id: str, from_version: int, backwards: bool, limit: int | None
    ) -> Iterator[RecordedEvent]:
        with self._lock:
            events = self._streams.get(stream_id, [])[from_version - 1 :]
        if backwards:
            events = events[::-1]
        return iter(events if limit is None else events[:limit])

    def read_all(self, query: EventQuery) -> Iterator[RecordedEvent]:
        return iter(self._select(query))

    def _select(self, query: EventQuery) -> list[RecordedEvent]:
        with self._lock:
            if query.stream_id is not None:
                candidates = [e for e in self._streams.get(query.stream_id, ())
                              if e.position >= query.from_position]
            else:
                candidates = self._log[query.from_position - 1 :]
        selected = [e for e in candidates if matches(query, e.stream_id, e.type, e.position)]
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

        events = self._select(query)
        return pa.table(
            {
                "position": [e.position for e in events],
                "stream_id": [e.stream_id for e in events],
                "version": [e.version for e in events],
                "type": [e.type for e in events],
                "recorded_at": [e.recorded_at for e in events],
                "data": [encode(e.data) for e in events],
                "metadata": [encode(e.metadata) for e in events],
                "id": [str(e.id) for e in events],
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
        for event in reversed(self._log[log_length:]):  # newest first: each is its stream's last
            stream = self._streams[event.stream_id]
            stream.pop()
            if not stream:
                del self._streams[event.stream_id]
            del self._ids[event.id]
        del self._log[log_length:]

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
