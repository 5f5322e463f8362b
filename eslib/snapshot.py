"""Aggregate snapshots: the state at a version, stored beside the stream.

A snapshot only saves replay time; it never changes what a repository's ``get``
returns. So a snapshot is taken only when its JSON form reads back equal to the
state (otherwise it is skipped and logged), and a stored snapshot whose schema
differs from the aggregate's current :meth:`~eslib.Aggregate.schema` is ignored.
"""

from __future__ import annotations

import json
import logging
from typing import Any, TypeVar

from .aggregate import Aggregate
from .backends.base import Snapshot
from .errors import InvalidEvent
from .store import EventStore

A = TypeVar("A", bound=Aggregate)

log = logging.getLogger("eslib.snapshot")


def take_snapshot(store: EventStore, aggregate: Aggregate) -> bool:
    """Store a snapshot of a saved aggregate; False (and a log line) when it cannot be.

    The aggregate must have no pending events: a snapshot describes stored history.
    """
    if aggregate._pending:
        raise InvalidEvent(
            f"{aggregate!r} has unsaved events; save it before taking a snapshot"
        )
    if aggregate.version == 0:
        return False
    state = aggregate.snapshot_state()
    try:
        text = json.dumps(state, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        if not text.isascii():
            text.encode()  # a lone surrogate is not UTF-8: no database would take it
    except (TypeError, ValueError) as exc:
        log.warning(
            "no snapshot of %s: state is not JSON (%s); override snapshot_state/restore_state",
            aggregate.stream_id, exc,
        )
        return False
    if json.loads(text) != state:
        # e.g. tuples or int dict keys: restoring would change what get() returns
        log.warning(
            "no snapshot of %s: its state does not survive a JSON round trip; override "
            "snapshot_state/restore_state", aggregate.stream_id,
        )
        return False
    store.save_snapshot(Snapshot(aggregate.stream_id, aggregate.version, type(aggregate).schema(),
                                 text))
    return True


def load_snapshot(
    store: EventStore, cls: type[A], id: Any, max_version: int | None = None
) -> A | None:
    """A fresh aggregate restored from its latest usable snapshot, or None.

    Unusable: none stored, another schema, or newer than ``max_version``.
    """
    stream_id = cls.stream_id_for(id)
    snapshot = store.load_snapshot(stream_id)
    if snapshot is None:
        return None
    if snapshot.schema != cls.schema():
        log.debug("ignoring snapshot of %s: schema %s, now %s", stream_id, snapshot.schema,
                  cls.schema())
        return None
    if max_version is not None and snapshot.version > max_version:
        return None
    aggregate = cls(id)
    aggregate.restore_state(json.loads(snapshot.state_json))
    aggregate.version = snapshot.version
    return aggregate
