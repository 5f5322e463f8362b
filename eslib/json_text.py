"""Event data as JSON text: one encoder and one decoder for every backend's hot path.

``json.dumps`` and ``json.loads`` rebuild their C encoder and check for whitespace
around the document on every call; for the ~100-byte objects events carry that is
more than half their cost. Both here call the C scanner and encoder directly.
"""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Callable
from functools import partial
from typing import Any

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_DECODER = json.JSONDecoder()
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)  # None outside CPython
# No cycle markers: a shared markers dict would be state shared between threads; a
# cyclic value hits the recursion limit instead (RecursionError).
_encode_chunks: Any = (
    _c_make_encoder(None, _ENCODER.default, json.encoder.c_encode_basestring,  # type: ignore[attr-defined]
                    None, ":", ",", False, False, False)
    if _c_make_encoder is not None else lambda value, _: [_ENCODER.encode(value)])


def encode(value: Any) -> str:
    """Compact JSON text, UTF-8 kept as is; NaN and infinities refused.

    Raises TypeError, ValueError or RecursionError (a cyclic value) like ``json.dumps``.
    """
    return "".join(_encode_chunks(value, 0))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _decode(scan: Any, options: dict[str, Any], text: str | bytes | bytearray | memoryview) -> Any:
    if not isinstance(text, str):
        text = bytes(text).decode("utf-8")
    if text == "{}":
        return {}
    try:
        value, end = scan(text, 0)
    except StopIteration:  # leading whitespace or not JSON: let json.loads word it
        return json.loads(text, **options)
    return value if end == len(text) else json.loads(text, **options)


def _decoder(**options: Any) -> Callable[[str | bytes | bytearray | memoryview], Any]:
    """``json.loads(text, **options)`` with its scanner built once.

    A partial, not a closure: psycopg caches a loader per loads function only when it
    is not a closure (a closure gets a new loader class per connection, and a warning).
    """
    scan = json.scanner.make_scanner(json.JSONDecoder(**options))  # type: ignore[arg-type]
    return partial(_decode, scan, options)


#: The value of a JSON document (``json.loads`` without its per-call overhead); bytes
#: are read as UTF-8 (what database drivers hand over).
decode = _decoder()
#: ``decode``, refusing NaN and infinities (ValueError): for JSON from outside eslib.
decode_strict = _decoder(parse_constant=_reject_constant)
