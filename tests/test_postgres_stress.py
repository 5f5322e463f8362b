"""PostgreSQL stress: 8 writer processes x 500 appends over 20 streams, and a follower.

Writers use random expected versions (right, stale, ANY, NO_STREAM, STREAM_EXISTS) and
retry conflicts a bounded number of times. Afterwards every promise is checked: versions
gapless, nothing lost or duplicated, acknowledged appends present, rejected ones absent,
read_all consistent with every stream's order, and the follower saw each event once.
"""

from __future__ import annotations

import multiprocessing
import random
import time
import uuid
from typing import Any

import pytest
from postgres_server import reset_database

import eslib

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WRITERS, APPENDS, STREAMS = 8, 500, 20


def writer(url: str, seed: int, start_at: float, out: Any) -> None:
    """Append APPENDS times; report (stream, ids, outcome, version, positions) per attempt."""
    rng = random.Random(seed)
    log: list[tuple[str, list[str], str, int, list[int]]] = []
    with eslib.connect(url, pool_size=1) as store:
        store.stream_version("warm-up")
        while time.time() < start_at:
            time.sleep(0.001)
        for _ in range(APPENDS):
            stream = f"stress-{rng.randrange(STREAMS)}"
            known = store.stream_version(stream)
            for _attempt in range(3):
                events = [eslib.NewEvent("Stressed", {"writer": seed, "k": k}, id=uuid.uuid4())
                          for k in range(rng.randint(1, 3))]
                ids = [str(e.id) for e in events]
                expected: eslib.ExpectedVersion = rng.choice(
                    [known, known, known, max(known - 1, 0), eslib.ANY, eslib.NO_STREAM,
                     eslib.STREAM_EXISTS])
                try:
                    result = store.append(stream, events, expected)
                except eslib.WrongExpectedVersion as exc:
                    log.append((stream, ids, "rejected", exc.actual, []))
                    known = exc.actual
                    continue
                log.append((stream, ids, "acked", result.version, list(result.positions)))
                break
    out.put(log)


def follower(url: str, stop: Any, out: Any) -> None:
    """Poll read_all from a checkpoint until told to stop, then drain once more."""
    seen: list[tuple[int, str]] = []
    checkpoint = 0
    with eslib.connect(url, pool_size=1) as store:
        while True:
            done = stop.is_set()
            for event in store.read_all(checkpoint + 1):
                seen.append((event.position, str(event.id)))
                checkpoint = event.position
            if done:
                break
            time.sleep(0.002)
    out.put(seen)


def test_eight_writer_processes_and_a_follower(postgres_url: str) -> None:
    reset_database(postgres_url)
    with eslib.connect(postgres_url):
        pass  # the schema exists before the processes race to use it
    ctx = multiprocessing.get_context("spawn")
    out, follow_out, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    start_at = time.time() + 3.0
    processes = [ctx.Process(target=writer, args=(postgres_url, n, start_at, out))
                 for n in range(WRITERS)]
    reader = ctx.Process(target=follower, args=(postgres_url, stop, follow_out))
    reader.start()
    for p in processes:
        p.start()
    logs = [out.get(timeout=120) for _ in processes]
    for p in processes:
        p.join(30)
    stop.set()
    followed = follow_out.get(timeout=60)
    reader.join(30)
    attempts = [entry for log in logs for entry in log]

    with eslib.connect(postgres_url) as store:
        stored = list(store.read_all())
        by_id = {str(e.id): e for e in stored}
        assert len(by_id) == len(stored)  # no event stored twice

        acked = [a for a in attempts if a[2] == "acked"]
        rejected = [a for a in attempts if a[2] == "rejected"]
        assert len(acked) > WRITERS * APPENDS // 2  # most appends end acknowledged
        for stream, ids, _, version, positions in acked:  # acknowledged: present, as reported
            events = [by_id[i] for i in ids]
            assert [e.stream_id for e in events] == [stream] * len(ids)
            assert [e.position for e in events] == positions
            assert events[-1].version == version
            assert [e.version for e in events] == list(range(version - len(ids) + 1, version + 1))
        for _, ids, _, _, _ in rejected:  # rejected: absent
            assert not any(i in by_id for i in ids)
        assert len(stored) == sum(len(a[1]) for a in acked)  # nothing else was written

        positions = [e.position for e in stored]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
        for stream in store.streams():  # gapless, and read_all order agrees with stream order
            events = list(store.read_stream(stream))
            assert [e.version for e in events] == list(range(1, len(events) + 1))
            in_global = [e.version for e in stored if e.stream_id == stream]
            assert in_global == [e.version for e in events]

    assert followed == [(e.position, str(e.id)) for e in stored]  # each exactly once, in order
    assert len(rejected) > 0  # the random expected versions did conflict
