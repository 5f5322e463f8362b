"""Copying every event of one store into another, in global order, resumable.

The target must be empty or hold a copy of the source's first events (a copy that
stopped half way): those are matched by id and skipped, the rest written a page per
atomic bulk append. A target holding anything else is refused before anything is
written, since its streams' versions would no longer be the source's.

>>> with eslib.connect("memory://") as src, eslib.connect("duckdb:///x.duckdb") as dst:
...     copy_events(src, dst)                             # doctest: +SKIP
...     eslib.verification.verify(src, dst).ok            # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .errors import InvalidEvent
from .store import EventStore
from .transfer import PAGE, Progress, RestoreReport, pages

if TYPE_CHECKING:
    import pyarrow as pa

COLUMNS = ["stream_id", "type", "data", "metadata", "id", "recorded_at"]


def copy_events(source: EventStore, target: EventStore, *, page: int = PAGE,
                on_progress: Progress | None = None) -> RestoreReport:
    """Copy ``source`` into ``target``; the report counts events written and skipped (held
    by the target already). Raises InvalidEvent if the target holds other events."""
    report = RestoreReport()
    held = _ids(target, page)
    waiting: pa.Array | None = None  # target ids not matched yet
    for table in pages(source, page=page):
        matched = 0
        while matched < table.num_rows:
            if waiting is None or not len(waiting):
                waiting = next(held, None)
                if waiting is None:
                    break
            k = min(len(waiting), table.num_rows - matched)
            ours = table.column("id").slice(matched, k).combine_chunks()
            if not ours.equals(waiting.slice(0, k)):
                _refuse(target, table, matched, ours, waiting)
            matched, waiting = matched + k, waiting.slice(k)
        report.skipped += matched
        if matched < table.num_rows:
            # every stored id is matched: any other one is a clash, never skipped
            rest = table.slice(matched).select(COLUMNS)
            report.written += target.bulk_append(rest, skip_existing=False)
            report.batches += 1
        if on_progress is not None:
            on_progress(table.num_rows)
    if (waiting is not None and len(waiting)) or next(held, None) is not None:
        raise InvalidEvent(
            f"{target.url} holds more events than {source.url}: it is not a copy of it; "
            "copy into an empty store")
    return report


def _ids(store: EventStore, page: int) -> Iterator[pa.Array]:
    for table in pages(store, page=page):
        yield table.column("id").combine_chunks()


def _refuse(target: EventStore, table: pa.Table, matched: int, ours: pa.Array,
            theirs: pa.Array) -> None:
    at = next(i for i in range(len(ours)) if ours[i] != theirs[i])
    row = table.slice(matched + at, 1).to_pylist()[0]
    raise InvalidEvent(
        f"{target.url} already holds other events: where the source has "
        f"{row['stream_id']}@{row['version']} (id {row['id']}) it has id {theirs[at]}; "
        "copy into an empty store (nothing was written)")
