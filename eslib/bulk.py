"""Bulk appends: turning a user's table into the Arrow shape backends import in one go."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import json_text
from .errors import InvalidEvent
from .validation import check_text

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
    """Validate a user's table and bring it to :func:`bulk_schema`. Nothing is written here.

    Column-wise (Arrow compute), so it costs little next to the insert itself.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(events, pa.Table):
        table = events
    else:
        import pandas as pd

        if not isinstance(events, pd.DataFrame):
            raise InvalidEvent("bulk_append takes a pyarrow.Table or a pandas.DataFrame, "
                               f"got {type(events).__name__}; e.g. pandas.DataFrame(rows)")
        try:
            table = pa.Table.from_pandas(_json_columns_to_text(events), preserve_index=False)
        except (pa.ArrowException, UnicodeEncodeError) as exc:  # e.g. a lone surrogate
            raise InvalidEvent(f"bulk_append cannot turn this DataFrame into a table: {exc}; "
                               "text must be valid Unicode") from None
    repeated = sorted({c for c in table.column_names if table.column_names.count(c) > 1})
    if repeated:
        raise InvalidEvent(f"bulk_append got columns named twice: {repeated}; name each once")
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
        nul = pc.fill_null(pc.match_substring(column, "\x00"), False)
        if n and pc.any(nul).as_py():
            row = pc.index(nul, True).as_py()
            raise InvalidEvent(f"row {row}: {name} must not contain NUL characters (\\x00)")
        columns[name] = column
    columns["data"] = _json_text(table, "data")
    columns["metadata"] = (_json_text(table, "metadata") if "metadata" in table.column_names
                           else pa.repeat(pa.scalar("{}"), n))
    if "id" in table.column_names:
        columns["id"] = canonical_uuids(table["id"])
    elif id_factory is not None:
        columns["id"] = pa.array([str(id_factory()) for _ in range(n)], pa.string())
    else:
        columns["id"] = pa.nulls(n, pa.string())
    stamp_type = pa.timestamp("us", tz="UTC")
    if "recorded_at" in table.column_names:
        stamps = table["recorded_at"]
        if not pa.types.is_timestamp(stamps.type) or stamps.type.tz is None:
            raise InvalidEvent("recorded_at must be a timezone-aware timestamp column")
        if stamps.null_count:
            raise InvalidEvent("recorded_at has empty cells; leave the column out to use "
                               "the store's clock")
        columns["recorded_at"] = stamps.cast(stamp_type)
    else:
        columns["recorded_at"] = pa.repeat(pa.scalar(now(), stamp_type), n)
    return pa.table(columns, schema=bulk_schema())


def canonical_uuids(ids: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """UUID text in its canonical form (what ``str(uuid.UUID(text))`` gives); nulls stay.

    Accepts what ``uuid.UUID`` does: any case, hyphens or not, braces, a ``urn:uuid:``
    prefix. One form matters: backends compare ids as text, and DuckDB's cast refuses
    the prefix.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = ids.cast(pa.string())
    hex_ = text
    for part in ("urn:", "uuid:"):  # as uuid.UUID does: case-sensitive, anywhere
        hex_ = pc.replace_substring(hex_, part, "")
    hex_ = pc.replace_substring(pc.utf8_trim(hex_, "{}"), "-", "")
    ok = pc.match_substring_regex(hex_, "^[0-9a-fA-F]{32}$")
    bad = pc.invert(pc.fill_null(ok, True))
    if len(text) and pc.any(bad).as_py():
        row = pc.index(bad, True).as_py()
        raise InvalidEvent(f"row {row}: id {text[row].as_py()!r} is not a UUID")
    groups = [pc.utf8_slice_codeunits(hex_, a, b) for a, b in UUID_GROUPS]
    # lower-cased last: pyarrow 26's ascii_lower breaks arrays whose offsets do not start
    # at 0 (string columns sliced by pandas), the joined array's start at 0
    return pc.ascii_lower(pc.binary_join_element_wise(*groups, "-"))


UUID_GROUPS = ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))


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
        text = json_text.encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidEvent(f"row {row}: {name} is not JSON-serialisable: {exc}") from None
    if not text.isascii():
        check_text(f"row {row}: {name}", text)
    return text


def _json_text(table: pa.Table, name: str) -> pa.ChunkedArray:
    """The column as text; refuses a cell that cannot be a JSON object (backends parse it)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = table[name]
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        raise InvalidEvent(f"{name} must hold JSON objects as text or dicts, got {column.type}")
    if column.null_count:
        raise InvalidEvent(f"{name} has empty cells; every event needs a JSON object")
    column = column.cast(pa.string())
    # Only the outer braces here, a cheap and exact test of "an object, if JSON at all";
    # each backend parses the text as it stores it.
    trimmed = pc.utf8_trim_whitespace(column)
    bad = pc.invert(pc.and_(pc.starts_with(trimmed, "{"), pc.ends_with(trimmed, "}")))
    if len(column) and pc.any(bad).as_py():
        row = pc.index(bad, True).as_py()
        raise InvalidEvent(f"row {row}: {name} must be a JSON object, got "
                           f"{column[row].as_py()[:40]!r}; nothing was written")
    # NaN and infinities are not JSON: PostgreSQL refuses them, DuckDB's parser takes them.
    # Cells that could hold one (the word anywhere, strings included) get a strict parse.
    maybe = pc.fill_null(pc.match_substring_regex(column, "NaN|Infinity"), False)
    if len(column) and pc.any(maybe).as_py():
        for row in pc.indices_nonzero(maybe).to_pylist():
            _refuse_constants(column[row].as_py(), name, row)
    return column


def _refuse_constants(text: str, name: str, row: int) -> None:
    try:
        json_text.decode_strict(text)
    except ValueError as exc:
        message = str(exc)
        if message.endswith(" is not JSON"):  # json_text's refusal of NaN / Infinity
            raise InvalidEvent(
                f"row {row}: {name} holds {message.removesuffix(' is not JSON')}, which JSON "
                "does not allow; write null or a string instead (append refuses it too)"
            ) from None
        # any other fault is the backend's to word, as for every other cell


def parse_object(text: str, name: str) -> dict[str, Any]:
    """The JSON object in ``text``, else InvalidEvent (for backends validating in Python)."""
    try:
        value = json_text.decode(text)
    except ValueError:
        raise InvalidEvent(f"{name} {text[:40]!r} is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidEvent(f"{name} must be a JSON object, got {text[:40]!r}")
    return value

