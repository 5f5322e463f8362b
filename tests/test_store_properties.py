"""Property test: random appends with random expected versions agree with a simple model."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eslib
from eslib import ANY, NO_STREAM, STREAM_EXISTS, NewEvent

expected_versions = st.one_of(
    st.just(ANY), st.just(STREAM_EXISTS), st.just(NO_STREAM), st.integers(0, 6)
)
operations = st.lists(
    st.tuples(st.integers(0, 3), st.integers(1, 3), expected_versions), min_size=1, max_size=25
)


def model_allows(expected: object, actual: int) -> bool:
    if expected is ANY:
        return True
    if expected is STREAM_EXISTS:
        return actual > 0
    return expected == actual


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_store_agrees_with_model(store: eslib.EventStore, ops) -> None:
    prefix = f"p{uuid.uuid4().hex[:10]}"  # examples share the store; each uses its own streams
    model: dict[str, int] = {}
    appended: list[tuple[str, int]] = []
    for index, count, expected in ops:
        stream_id = f"{prefix}-{index}"
        actual = model.get(stream_id, 0)
        events = [NewEvent("E", {"n": len(appended) + i}) for i in range(count)]
        if model_allows(expected, actual):
            result = store.append(stream_id, events, expected)
            assert result.version == actual + count
            assert len(result.positions) == count
            model[stream_id] = actual + count
            appended.extend((stream_id, actual + i + 1) for i in range(count))
        else:
            try:
                store.append(stream_id, events, expected)
            except eslib.WrongExpectedVersion as err:
                assert (err.stream_id, err.expected, err.actual) == (stream_id, expected, actual)
            else:
                raise AssertionError(f"append to {stream_id} expecting {expected} succeeded")
    for stream_id, count in model.items():
        assert store.stream_version(stream_id) == count
        assert [e.version for e in store.read_stream(stream_id)] == list(range(1, count + 1))
    ours = [e for e in store.read_all(category=prefix)]
    assert [(e.stream_id, e.version) for e in ours] == appended
    positions = [e.position for e in ours]
    assert positions == sorted(set(positions))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(st.tuples(st.booleans(), st.lists(st.integers(0, 3), min_size=1,
                                                        max_size=12)), min_size=1, max_size=6))
def test_bulk_appends_continue_streams_like_the_model(store: eslib.EventStore, steps) -> None:
    import pyarrow as pa

    prefix = f"b{uuid.uuid4().hex[:10]}"
    model: dict[str, int] = {}
    appended: list[tuple[str, int]] = []
    for bulk, indexes in steps:
        streams = [f"{prefix}-{i}" for i in indexes]
        if bulk:  # rows of several streams, interleaved
            table = pa.table({"stream_id": streams, "type": ["E"] * len(streams),
                              "data": ["{}"] * len(streams)})
            assert store.bulk_append(table) == len(streams)
        for stream_id in streams:
            if not bulk:
                store.append(stream_id, [NewEvent("E")], model.get(stream_id, 0))
            model[stream_id] = model.get(stream_id, 0) + 1
            appended.append((stream_id, model[stream_id]))
    ours = list(store.read_all(category=prefix))
    assert [(e.stream_id, e.version) for e in ours] == appended
    assert [e.position for e in ours] == sorted({e.position for e in ours})
    for stream_id, count in model.items():
        assert store.stream_version(stream_id) == count
