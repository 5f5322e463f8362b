"""eslib.ids: uuid7 (RFC 9562 version-7 ids, time-ordered, unique, distinct after fork) and
uuid_from_text (a database's UUID text back to the same uuid.UUID)."""

from __future__ import annotations

import multiprocessing
import pickle
import random
import time
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

import eslib
from eslib.ids import uuid7, uuid_from_text


def test_layout_is_version_7_rfc_variant_with_unix_milliseconds():
    before = time.time_ns() // 1_000_000
    u = uuid7()
    after = time.time_ns() // 1_000_000
    assert isinstance(u, uuid.UUID)
    assert u.version == 7 and u.variant == uuid.RFC_4122
    assert before <= u.int >> 80 <= after
    assert uuid.UUID(str(u)) == u and hash(u) == hash(uuid.UUID(str(u)))


def test_unique_and_ordered_by_millisecond():
    ids = [uuid7() for _ in range(50_000)]
    assert len(set(ids)) == len(ids)
    stamps = [u.int >> 80 for u in ids]
    assert stamps == sorted(stamps)


def test_seeding_the_random_module_does_not_repeat_ids():
    random_bits = (1 << 76) - 1
    random.seed(42)
    first = {uuid7().int & random_bits for _ in range(10)}
    random.seed(42)
    assert not first & {uuid7().int & random_bits for _ in range(10)}


def _child(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    queue.put([uuid7() for _ in range(100)])


def test_a_forked_child_does_not_repeat_the_parents_ids():
    uuid7()  # the parent's generator has state before the fork
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(queue,))
    child.start()
    theirs = queue.get(timeout=30)
    child.join(30)
    ours = [uuid7() for _ in range(100)]
    random_bits = (1 << 76) - 1  # without the timestamp: a shared generator would show here
    assert not {u.int & random_bits for u in ours} & {u.int & random_bits for u in theirs}


@given(st.uuids())
def test_uuid_from_text_is_uuid_of_the_canonical_text(u):
    got = uuid_from_text(str(u))
    assert got == u and hash(got) == hash(u) and str(got) == str(u)
    assert got.is_safe is uuid.SafeUUID.unknown and pickle.loads(pickle.dumps(got)) == u


def test_deterministic_clock_and_ids_refuse_what_would_fail_later():
    from datetime import datetime, timedelta, timezone

    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for bad in (dict(step=1), dict(step=timedelta(0)), dict(step=timedelta(seconds=-1)),
                dict(start="2024-01-01")):
        with pytest.raises(eslib.ConfigurationError):
            eslib.TickingClock(**{"start": start, **bad})  # type: ignore[arg-type]
    for prefix in (-1, 2**32, "a", True):
        with pytest.raises(eslib.ConfigurationError, match="prefix"):
            eslib.SequentialIds(prefix)  # type: ignore[arg-type]
    ids = eslib.SequentialIds(0xFFFFFFFF)
    ids._next = 0xFFFFFFFFFFFF  # the last one
    assert str(ids()) == "ffffffff-0000-4000-8000-ffffffffffff"
    with pytest.raises(eslib.ConfigurationError, match="ran out"):
        ids()
