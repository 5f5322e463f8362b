"""Checks every write and read argument passes before a backend sees it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeGuard

from .backends.base import EventQuery, Snapshot
from .errors import InvalidEvent
from .events import StreamState
from .json_text import decode_strict, encode

MAX_STREAM_ID = 255
MAX_TYPE = 255
#: Versions, positions and limits are 64-bit integers in every database (and on the wire)
MAX_INT = 2**63 - 1


def to_json(value: Any, what: str, event_type: str) -> str:
    if not isinstance(value, dict):
        raise InvalidEvent(
            f"{what} of a {event_type!r} event must be a dict (a JSON object), "
            f"got {type(value).__name__}"
        )
    if not value:
        return "{}"
    try:
        text = encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidEvent(
            f"{what} of a {event_type!r} event is not JSON-serialisable: {exc}; "
            "convert it to str, int, float, bool, None, list or dict first"
        ) from None
    if not text.isascii():
        check_text(f"{what} of a {event_type!r} event", text)
    return text


def check_stream_id(stream_id: object, what: str = "a stream id") -> None:
    _check_name(stream_id, what, MAX_STREAM_ID)


def check_type(event_type: object, what: str = "an event type") -> None:
    _check_name(event_type, what, MAX_TYPE)


def _check_name(value: object, what: str, longest: int) -> None:
    if not isinstance(value, str) or not value or len(value) > longest:
        shown = value if not isinstance(value, str) else value[:40]
        raise InvalidEvent(
            f"{what} must be a non-empty string of at most {longest} characters, got {shown!r}")
    check_text(what, value)


def check_text(what: str, text: str) -> None:
    """Refuse what one backend could not store as text (NUL: PostgreSQL; a lone surrogate:
    not UTF-8, so not DuckDB or PostgreSQL), so that every backend stores the same."""
    if "\x00" in text:
        raise InvalidEvent(f"{what} must not contain NUL characters (\\x00), got {text[:40]!r}")
    if not text.isascii():  # O(1): CPython knows
        try:
            text.encode()
        except UnicodeEncodeError as exc:
            raise InvalidEvent(
                f"{what} must be valid Unicode text, got a lone surrogate "
                f"{text[exc.start]!r} at index {exc.start} in {text[:40]!r} "
                "(text decoded with errors='surrogateescape' or a broken UTF-16 pair)"
            ) from None


def check_expected_version(expected: object) -> None:
    if isinstance(expected, StreamState):
        return
    if not is_int(expected, 0):
        raise InvalidEvent(
            f"expected_version must be an event count from 0 to 2**63 - 1, eslib.NO_STREAM, "
            f"eslib.ANY or eslib.STREAM_EXISTS, got {expected!r}"
        )


def is_int(value: object, low: int, high: int = MAX_INT) -> TypeGuard[int]:
    """Whether ``value`` is an int (a bool is not) from ``low`` to ``high``, inclusive."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def check_bound(name: str, value: object) -> None:
    if not is_int(value, 1):
        raise InvalidEvent(
            f"{name} must be an int from 1 to 2**63 - 1 (bounds are inclusive), got {value!r}")


def check_checkpoint(name: object, position: object = 0) -> None:
    """A checkpoint's name and position, as every backend can store them."""
    if not isinstance(name, str) or not name:
        raise InvalidEvent(f"a checkpoint name must be a non-empty string, got {name!r}")
    check_text("a checkpoint name", name)
    if not is_int(position, 0):
        raise InvalidEvent(
            f"a checkpoint position must be an int from 0 to 2**63 - 1, got {position!r}")


def check_snapshot(snapshot: object) -> None:
    """A snapshot every backend stores alike: a valid stream id and version, text schema,
    the state as JSON text."""
    if not isinstance(snapshot, Snapshot):
        raise InvalidEvent(f"save_snapshot takes an eslib Snapshot, got {type(snapshot).__name__}")
    check_stream_id(snapshot.stream_id)
    check_bound("a snapshot's version", snapshot.version)
    if not isinstance(snapshot.schema, str):
        raise InvalidEvent(f"a snapshot's schema must be a string, got {snapshot.schema!r}")
    check_text("a snapshot's schema", snapshot.schema)
    state = snapshot.state_json
    if not isinstance(state, str):
        raise InvalidEvent(f"a snapshot's state must be JSON text, got {type(state).__name__}")
    check_text("a snapshot's state", state)
    try:
        decode_strict(state)
    except ValueError as exc:
        raise InvalidEvent(f"a snapshot's state is not JSON: {exc}") from None


def check_limit(limit: object) -> None:
    if limit is not None and not is_int(limit, 0):
        raise InvalidEvent(f"limit must be None or an int from 0 to 2**63 - 1, got {limit!r}")


def make_query(
    *,
    stream_id: str | None = None,
    category: str | None = None,
    types: Iterable[str] | None = None,
    from_position: int = 1,
    to_position: int | None = None,
    limit: int | None = None,
) -> EventQuery:
    check_bound("from_position", from_position)
    if to_position is not None:
        check_bound("to_position", to_position)
    check_limit(limit)
    if isinstance(types, str):
        types = (types,)
    type_tuple = tuple(types) if types is not None else None
    for event_type in type_tuple or ():
        if not isinstance(event_type, str) or not event_type:
            raise InvalidEvent(f"types must be non-empty strings, got {event_type!r}")
        check_text("a type", event_type)
    if category is not None and (not isinstance(category, str) or not category):
        raise InvalidEvent(f"category must be a non-empty string, got {category!r}")
    if category is not None:
        check_text("a category", category)
    return EventQuery(stream_id, category, type_tuple, from_position, to_position, limit)
