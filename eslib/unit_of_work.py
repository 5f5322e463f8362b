"""Units of work: appends collected and committed together (:class:`Batch`), and the
facade over a backend transaction that also holds read-model SQL and checkpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from .errors import ConfigurationError, InvalidEvent
from .events import ANY, AppendResult, ExpectedVersion, NewEvent, RecordedEvent, StreamState
from .validation import check_checkpoint

if TYPE_CHECKING:
    from .backends.base import EventQuery, Transaction
    from .store import EventStore


class StoreTransaction:
    """The facade's view of a backend transaction; see :meth:`EventStore.transaction`."""

    def __init__(self, store: EventStore, tx: Transaction) -> None:
        self._store = store
        self._tx = tx
        self._ended = False
        self._appended = self._checkpointed = False

    def _appending(self) -> Transaction:
        # PostgreSQL's rule (its global order depends on it), kept on every backend so that
        # code written against memory or DuckDB moves to PostgreSQL unchanged
        live = self._live
        if self._appended or self._checkpointed:
            raise ConfigurationError(
                "a transaction appends once, before any checkpoint: put every stream in one "
                "tx.append_many({...}) at the start (PostgreSQL's global order depends on it)")
        self._appended = True
        return live

    @property
    def _live(self) -> Transaction:
        if self._ended:
            raise ConfigurationError(
                "this transaction has ended (its with block is over); open a new one with "
                "store.transaction()")
        return self._tx

    def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: ExpectedVersion = ANY
    ) -> AppendResult:
        """Append inside the transaction; same checks as :meth:`EventStore.append`."""
        batch = self._store._checked([self._store._prepare(stream_id, events, expected_version)])
        return self._appending().append(batch)[0]

    def append_many(
        self, appends: Mapping[str, tuple[Sequence[NewEvent], ExpectedVersion]]
    ) -> dict[str, AppendResult]:
        """Append to several streams inside the transaction."""
        batch = self._store._checked(self._store._prepare_many(appends))
        return {r.stream_id: r for r in self._appending().append(batch)}

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """Run SQL with ``?`` placeholders in the store's database (DuckDB, PostgreSQL)."""
        return self._live.execute(sql, params)

    def _lock_checkpoint(self, name: str) -> int:
        """The checkpoint, locked until the end where other processes could move it."""
        lock = getattr(self._live, "lock_checkpoint", None)
        return int(lock(name)) if lock is not None else self._live.load_checkpoint(name)

    def _read_events(self, query: EventQuery) -> list[RecordedEvent]:
        """Events as this transaction sees them (through its own connection if it has one:
        a second one from the pool may never come while this one waits)."""
        read = getattr(self._live, "read_events", None)
        if read is not None:
            return list(read(query))
        return list(self._store.backend.read_all(query))

    def load_checkpoint(self, name: str) -> int:
        """The named checkpoint as this transaction sees it; 0 if none."""
        check_checkpoint(name)
        return self._live.load_checkpoint(name)

    def save_checkpoint(self, name: str, position: int) -> None:
        """Move the named checkpoint; it commits with everything else in the transaction."""
        check_checkpoint(name, position)
        self._live.save_checkpoint(name, position)
        self._checkpointed = True


class Batch:
    """Appends collected in a ``with`` block and committed together by ``append_many``.

    Two appends to the same stream are merged; the second must expect ``ANY`` or
    the version the first leaves behind. On an exception nothing is written; after
    the block, ``append`` raises (it would never be written).
    """

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._pending: dict[str, tuple[list[NewEvent], ExpectedVersion]] = {}
        self.results: dict[str, AppendResult] = {}
        self._ended = False  # its with block is over

    def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: ExpectedVersion = ANY
    ) -> None:
        """Queue an append; it is checked and written when the block exits."""
        if self._ended:
            raise ConfigurationError(
                "this batch has ended (its with block is over): an append now would never "
                "be written; open a new one with store.batch()")
        if stream_id not in self._pending:
            self._pending[stream_id] = (list(events), expected_version)
            return
        queued, expected = self._pending[stream_id]
        if expected_version is not ANY:
            if not isinstance(expected, int) or isinstance(expected, StreamState):
                raise InvalidEvent(
                    f"a second append to {stream_id!r} in one batch must expect ANY or an "
                    "exact version when the first one does"
                )
            if expected_version != expected + len(queued):
                raise InvalidEvent(
                    f"a second append to {stream_id!r} in one batch expects version "
                    f"{expected_version}, but the batch leaves it at {expected + len(queued)}"
                )
        queued.extend(events)

    def commit(self) -> dict[str, AppendResult]:
        """Write everything queued in one atomic commit."""
        if self._pending:
            self.results = self._store.append_many(
                {s: (events, expected) for s, (events, expected) in self._pending.items()}
            )
            self._pending = {}
        return self.results

    def __enter__(self) -> Batch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._ended = True
        if exc_type is None:
            self.commit()
