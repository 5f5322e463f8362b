"""Proving two stores hold the same events: per-stream digests and the global order.

Used after ``eslib copy`` (:func:`eslib.copying.copy_events`) and by the tests of
every import path; data and metadata are compared as canonical JSON, so two
backends that store the same object with different key order or spacing agree.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from .store import EventStore
from .transfer import Progress, pages, recorded_micros


@dataclass(frozen=True)
class StreamSum:
    """A stream's event count and a SHA-256 over its events (versions, ids, types, JSON, times)."""

    events: int
    digest: str


@dataclass
class Verification:
    """Source and target compared stream by stream, plus the global order of event ids."""

    source: dict[str, StreamSum]
    target: dict[str, StreamSum]
    source_order: str
    target_order: str
    mismatched: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatched and self.source_order == self.target_order


def checksums(store: EventStore, on_progress: Progress | None = None
              ) -> tuple[dict[str, StreamSum], str]:
    """Per-stream counts and digests, and a digest of every event id in global order."""
    hashes: dict[str, Any] = {}
    counts: dict[str, int] = {}
    order = hashlib.sha256()
    for table in pages(store):
        for row, us in zip(table.to_pylist(), recorded_micros(table), strict=True):
            stream_id = row["stream_id"]
            digest = hashes.get(stream_id)
            if digest is None:
                digest = hashes[stream_id] = hashlib.sha256()
                counts[stream_id] = 0
            counts[stream_id] += 1
            digest.update(
                f"{row['version']}\x1f{row['id']}\x1f{row['type']}\x1f{_canonical(row['data'])}"
                f"\x1f{_canonical(row['metadata'])}\x1f{us}\n".encode())
            order.update(row["id"].encode())
        if on_progress is not None:
            on_progress(table.num_rows)
    sums = {s: StreamSum(counts[s], h.hexdigest()) for s, h in sorted(hashes.items())}
    return sums, order.hexdigest()


def _canonical(text: str) -> str:
    return json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def verify(source: EventStore, target: EventStore,
           on_progress: Progress | None = None) -> Verification:
    """Compare every stream of ``source`` with ``target`` (counts, digests, global order)."""
    source_sums, source_order = checksums(source, on_progress)
    target_sums, target_order = checksums(target, on_progress)
    mismatched = sorted(s for s in source_sums.keys() | target_sums.keys()
                        if source_sums.get(s) != target_sums.get(s))
    return Verification(source_sums, target_sums, source_order, target_order, mismatched)
