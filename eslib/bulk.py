"""Bulk appends: turning a user's table into the Arrow shape backends import in one go."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .errors import InvalidEvent

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

COLUMNS = ("stream_id", "type", "data", "metadata", "id", "recorded_at")


def bulk_schema() -> pa.Schema:
    """The table a backend's ``bulk_append`` receives (``id`` may be null: backend makes one)."""
    import pyarrow as pa

    return pa.schema([
        ("stream_id", pa.string()), ("type", pa.string()), ("data", pa.string()),
        ("metadata", pa.string()), ("id", pa.string()),
        ("recorded_at", pa.timestamp("us", tz="UTC")),
    ])  # fmt: skip


def normalise(
    events: pa.Table | pd.DataFrame,
    now: Callable[[], datetime],
    id_factory: Callable[[], uuid.UUID] | None,
) -> pa.Table:
    """Validate a user's table and bring it to :func:`bulk_schema`. Nothing is written here."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = events if isinstance(events, pa.Table) else pa.Table.from_pandas(
        _json_columns_to_text(events), preserve_index=False)
    missing = {"stream_id", "type", "data"} - set(table.column_names)
    if missing:
        raise InvalidEvent(
            f"bulk_append needs columns stream_id, type and data; missing {sorted(missing)}"
        )
    n = table.num_rows
    columns: dict[str, Any] = {}
    for name in ("stream_id", "type"):
        column = table[name].cast(pa.string())
        lengths = pc.fill_null(pc.utf8_length(column), 0)
        bad = pc.or_(pc.less(lengths, 1), pc.greater(lengths, 255))
        if n and pc.any(bad).as_py():
            row = pc.index(bad, True).as_py()
            raise InvalidEvent(
                f"row {row}: {name} must be a non-empty string of at most 255 characters"
            )
        columns[name] = column
    columns["data"] = _json_text(table, "data")
    columns["metadata"] = (_json_text(table, "metadata") if "metadata" in table.column_names
                           else pa.array(["{}"] * n, pa.string()))
    if "id" in table.column_names:
        ids = table["id"].cast(pa.string())
        _check_uuids(ids)
        columns["id"] = ids
    elif id_factory is not None:
        columns["id"] = pa.array([str(id_factory()) for _ in range(n)], pa.string())
    else:
        columns["id"] = pa.nulls(n, pa.string())
    if "recorded_at" in table.column_names:
        stamps = table["recorded_at"]
        if not pa.types.is_timestamp(stamps.type) or stamps.type.tz is None:
            raise InvalidEvent("recorded_at must be a timezone-aware timestamp column")
        columns["recorded_at"] = stamps.cast(pa.timestamp("us", tz="UTC"))
    else:
        columns["recorded_at"] = pa.array([now()] * n, pa.timestamp("us", tz="UTC"))
    return pa.table(columns, schema=bulk_schema())


def _json_columns_to_text(frame: pd.DataFrame) -> pd.DataFrame:
    """dict cells become JSON text (the only per-row Python work, and only for dicts)."""
    frame = frame.copy(deep=False)
    for name in ("data", "metadata"):
        if name in frame.columns and frame[name].dtype == object:
            frame[name] = [_dumps(v, name, i) if isinstance(v, dict) else v
                           for i, v in enumerate(frame[name])]
    return frame


def _dumps(value: dict[str, Any], name: str, row: int) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidEvent(f"row {row}: {name} is not JSON-serialisable: {exc}") from None


def _json_text(table: pa.Table, name: str) -> pa.ChunkedArray:
    import pyarrow as pa

    column = table[name]
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        raise InvalidEvent(f"{name} must hold JSON objects as text or dicts, got {column.type}")
    if column.null_count:
        raise InvalidEvent(f"{name} has empty cells; every event needs a JSON object")
    return column.cast(pa.string())


def _check_uuids(ids: pa.ChunkedArray) -> None:
    for row, value in enumerate(ids.to_pylist()):
        if value is None:
            continue
        try:
            uuid.UUID(value)
        except ValueError:
            raise InvalidEvent(f"row {row}: id {value!r} is not a UUID") from None


def parse_object(text: str, name: str) -> dict[str, Any]:
    """The JSON object in ``text``, else InvalidEvent (for backends validating in Python)."""
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidEvent(f"{name} {text[:40]!r} is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidEvent(f"{name} must be a JSON object, got {text[:40]!r}")
    return value

