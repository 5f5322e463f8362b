"""eslib.bulk: a user's table brought to the shape backends import (no backend needed)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pandas as pd
import pyarrow as pa
import pytest

import eslib
from eslib.bulk import canonical_uuids, normalise


def test_canonical_uuids_reads_what_uuid_reads():
    ids = [uuid.uuid4() for _ in range(5)]
    spellings = [f"urn:uuid:{ids[0]}", "{" + str(ids[1]).upper() + "}", ids[2].hex,
                 str(ids[3]), ids[4].hex.upper()]
    assert canonical_uuids(pa.array([*spellings, None])).to_pylist() == [
        *(str(i) for i in ids), None]
    for spelling in spellings:
        assert uuid.UUID(spelling) in ids  # the same forms as uuid.UUID


@pytest.mark.parametrize("bad", ["nope", "URN:UUID:" + "0" * 32, "0" * 31, "g" * 32, ""])
def test_canonical_uuids_refuses_what_uuid_refuses(bad):
    with pytest.raises(ValueError):
        uuid.UUID(bad)
    with pytest.raises(eslib.InvalidEvent, match="row 1: id"):
        canonical_uuids(pa.array([str(uuid.uuid4()), bad]))


def test_canonical_uuids_reads_arrays_whose_offsets_start_past_zero():
    # what pandas hands over for a slice of a string column (pyarrow 26's ascii_lower
    # returned a broken array for it)
    ids = [str(uuid.uuid4()).upper() for _ in range(6)]
    whole = pa.array(ids)
    _, offsets, data = whole.buffers()
    assert offsets is not None
    sliced = pa.Array.from_buffers(pa.string(), 3, [None, offsets.slice(3 * 4), data])
    result = canonical_uuids(sliced)
    result.validate(full=True)
    assert result.to_pylist() == [i.lower() for i in ids[3:]]


def test_normalise_fills_defaults():
    now = datetime(2026, 1, 2, tzinfo=timezone.utc)
    frame = pd.DataFrame({"stream_id": ["s-1"] * 3, "type": ["A"] * 3,
                          "data": [{"n": 1}, "{}", {"é": 2}]})
    table = normalise(frame, lambda: now, None)
    assert table["data"].to_pylist() == ['{"n":1}', "{}", '{"é":2}']
    assert table["metadata"].to_pylist() == ["{}"] * 3
    assert table["id"].null_count == 3
    assert table["recorded_at"].to_pylist() == [now] * 3


@pytest.mark.parametrize("events, message", [
    ([{"stream_id": "s-1", "type": "A", "data": "{}"}], "pyarrow.Table or a pandas.DataFrame"),
    (pd.DataFrame({"stream_id": ["s-1"], "type": ["A"], "data": [{"k": "\udc80"}]}),
     "row 0: data must be valid Unicode text"),
    (pd.DataFrame({"stream_id": pd.Series(["s-\ud800"], dtype=object), "type": ["A"],
                   "data": ["{}"]}), "valid Unicode"),
])
def test_normalise_refuses_what_is_not_a_table_of_text(events, message):
    with pytest.raises(eslib.InvalidEvent, match=message):
        normalise(events, lambda: datetime.now(timezone.utc), None)
