"""The contract every storage backend implements.

The :class:`~eslib.store.EventStore` facade validates input, serialises data to
JSON, stamps ids and ``recorded_at`` and then hands a backend *prepared* appends.
A backend only has to store and read them back, keeping these promises:

* **Atomic batches.** ``append(batch)`` writes every :class:`StreamAppend` in
  the batch or none of them. Expected versions are checked for every stream
  before anything becomes visible.
* **Versions.** Stream versions start at 1 and are gapless; the version after
  an append is the stream's event count. Use :func:`check_expected` so every
  backend words conflicts identically.
* **Idempotent retries.** If the first event id of an append is already stored,
  :func:`replayed_result` decides: the identical append already stored at the
  same stream and versions returns the original :class:`AppendResult`;
  anything else is a :class:`~eslib.errors.DuplicateEventId`.
* **Global order.** ``position`` is strictly increasing in ``read_all`` order
  and consistent with every stream's version order. Holes are allowed
  (PostgreSQL rolls back sequence values); a reader following ``read_all`` must
  never be shown a position while a lower one can still appear later.
* **Paging.** Reads are generators that fetch :data:`PAGE_SIZE` rows at a
  time by key (position or version), never the whole table at once.
* **Errors.** Driver exceptions are translated in one place per backend into
  the :mod:`eslib.errors` tree, the original kept as ``__cause__``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple, Protocol

from ..errors import DuplicateEventId, WrongExpectedVersion
from ..events import ANY, STREAM_EXISTS, AppendResult, ExpectedVersion, RecordedEvent

if TYPE_CHECKING:
    import pyarrow as pa

PAGE_SIZE = 1000
SCHEMA_VERSION = 1


class PreparedEvent(NamedTuple):
    """A validated event, serialised once by the facade for every backend.

    Named tuples, not frozen dataclasses: built on every append, they cost a third.
    """

    id: uuid.UUID
    type: str
    data_json: str
    metadata_json: str
    recorded_at: datetime


class StreamAppend(NamedTuple):
    """The events to append to one stream, with the version the caller expects."""

    stream_id: str
    expected: ExpectedVersion
    events: tuple[PreparedEvent, ...]


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Which events to read: every field narrows, ``None`` means no filter. Bounds are inclusive."""

    stream_id: str | None = None
    category: str | None = None
    types: tuple[str, ...] | None = None
    from_position: int = 1
    to_position: int | None = None
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class StoredId:
    """Where an already-stored event id lives (for idempotency checks)."""

    id: uuid.UUID
    stream_id: str
    version: int
    position: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An aggregate's state at a version, stored beside its stream (latest one kept).

    ``schema`` names the shape of ``state_json``; a reader whose schema differs
    ignores the snapshot and replays the stream instead.
    """

    stream_id: str
    version: int
    schema: str
    state_json: str


class Transaction(Protocol):
    """Work that commits atomically with appends: read models and checkpoints.

    On PostgreSQL the append, when there is one, must come first in the
    transaction (the global-order fence depends on it).
    """

    def append(self, batch: Sequence[StreamAppend]) -> list[AppendResult]:
        """Append inside this transaction (visible to others only after commit)."""

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """Run SQL with ``?`` placeholders against the store's database; rows if any.

        Raises ConfigurationError on the memory backend, which has no SQL.
        """

    def load_checkpoint(self, name: str) -> int:
        """The last position the named projection/subscription processed; 0 if none."""

    def save_checkpoint(self, name: str, position: int) -> None:
        """Record the last position processed, in this transaction."""


class Backend(Protocol):
    """Storage for the event store; see the module docstring for the promises."""

    #: optional features, e.g. {"sql", "multi_process"}; the conformance suite reads it
    capabilities: frozenset[str]

    def append(self, batch: Sequence[StreamAppend]) -> list[AppendResult]:
        """Append every stream's events atomically; one result per StreamAppend, in order."""

    def bulk_append(self, table: pa.Table, skip_existing: bool) -> int:
        """Append a :func:`eslib.bulk.bulk_schema` table atomically; return rows written.

        Each row continues its stream (expected version ANY); positions follow row
        order. A null ``id`` means "make one". An id already stored (or twice in the
        table) is DuplicateEventId and nothing is written, unless ``skip_existing``,
        which leaves such rows out. Data or metadata that is not a JSON object is
        InvalidEvent, nothing written.
        """

    def read_stream(
        self, stream_id: str, from_version: int, backwards: bool, limit: int | None
    ) -> Iterator[RecordedEvent]:
        """Events of one stream from ``from_version`` (inclusive), forwards or backwards."""

    def read_all(self, query: EventQuery) -> Iterator[RecordedEvent]:
        """Events in global order from ``query.from_position`` (inclusive), filtered."""

    def stream_version(self, stream_id: str) -> int:
        """The stream's event count; 0 when it does not exist."""

    def streams(self) -> list[str]:
        """Every stream id, sorted."""

    def head_position(self) -> int:
        """The highest position a ``read_all`` follower can be shown now; 0 when empty."""

    def to_arrow(self, query: EventQuery) -> pa.Table:
        """The queried events as an Arrow table in :func:`arrow_schema`."""

    def transaction(self) -> AbstractContextManager[Transaction]:
        """A transaction: commits on normal exit, rolls back (writes nothing) on an exception."""

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Store the snapshot, replacing an older one of the same stream."""

    def load_snapshot(self, stream_id: str) -> Snapshot | None:
        """The latest snapshot of the stream, if any."""

    def load_checkpoint(self, name: str) -> int:
        """The named checkpoint outside any transaction; 0 if none."""

    def close(self) -> None:
        """Release connections and files. Idempotent."""


def arrow_schema() -> pa.Schema:
    """The Arrow schema of :meth:`Backend.to_arrow`: data and metadata stay JSON text."""
    import pyarrow as pa

    return pa.schema(
        [
            ("position", pa.int64()),
            ("stream_id", pa.string()),
            ("version", pa.int64()),
            ("type", pa.string()),
            ("recorded_at", pa.timestamp("us", tz="UTC")),
            ("data", pa.string()),
            ("metadata", pa.string()),
            ("id", pa.string()),
        ]
    )


def check_expected(stream_id: str, expected: ExpectedVersion, actual: int) -> None:
    """Raise WrongExpectedVersion unless ``actual`` satisfies ``expected``."""
    if expected is ANY:
        return
    if expected is STREAM_EXISTS:
        if actual == 0:
            raise WrongExpectedVersion(stream_id, STREAM_EXISTS, 0)
        return
    if expected != actual:
        raise WrongExpectedVersion(stream_id, expected, actual)


def replayed_result(append: StreamAppend, stored: Sequence[StoredId]) -> AppendResult | None:
    """Decide what an append whose event ids are partly or fully stored means.

    Returns ``None`` when none of its ids is stored (a normal append), the
    original result when the identical append is already stored at the same
    stream and consecutive versions (an idempotent retry), and raises
    DuplicateEventId otherwise.
    """
    if not stored:
        return None
    by_id = {s.id: s for s in stored}
    found = [by_id.get(e.id) for e in append.events]
    if all(found):
        first = found[0]
        assert first is not None
        same_place = all(
            s is not None and s.stream_id == append.stream_id and s.version == first.version + i
            for i, s in enumerate(found)
        )
        if same_place:
            return AppendResult(
                append.stream_id,
                first.version + len(found) - 1,
                tuple(s.position for s in found if s is not None),
            )
    places = {f"{s.stream_id!r}@{s.version}" for s in stored}
    raise DuplicateEventId(
        [str(s.id) for s in stored], f"at {', '.join(sorted(places))}"
    )


def matches(query: EventQuery, stream_id: str, type_: str, position: int) -> bool:
    """Whether an event passes a query's filters (for backends that filter in Python)."""
    if position < query.from_position:
        return False
    if query.to_position is not None and position > query.to_position:
        return False
    if query.stream_id is not None and stream_id != query.stream_id:
        return False
    if query.category is not None and stream_id.split("-", 1)[0] != query.category:
        return False
    return query.types is None or type_ in query.types
