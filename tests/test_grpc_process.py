"""The server as its own process (``python -m eslib.server``): several client processes on
one DuckDB file, a server killed and restarted under a subscriber, graceful SIGTERM.

Servers bind free loopback ports and are always stopped; every wait is bounded.
"""

from __future__ import annotations

import faulthandler
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import eslib
from eslib import NewEvent

pytest.importorskip("grpc")

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    faulthandler.dump_traceback_later(120, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@contextmanager
def server_process(url: str, log: Path, port: int = 0) -> Iterator[tuple[subprocess.Popen, str]]:
    """``python -m eslib.server`` on loopback; yields the process and the address it serves."""
    with open(log, "a") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "eslib.server", "--url", url, "--port", str(port)],
            stdout=subprocess.PIPE, stderr=stderr, text=True,
            env={**os.environ, "ESLIB_GRPC_TOKEN": ""},
        )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline() if ready and proc.stdout else ""
        found = re.search(r"on (grpc://\S+)", line)
        assert found, f"the server did not start: {line!r}\n{log.read_text()}"
        yield proc, found.group(1)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc.stdout:
            proc.stdout.close()


CLIENT = """
import sys, eslib
store = eslib.connect(sys.argv[1])
name, n = sys.argv[2], int(sys.argv[3])
for i in range(n):
    store.append(f"own-{name}", [eslib.NewEvent("Mine", {"i": i})], i)
    store.append("shared-1", [eslib.NewEvent("Shared", {"who": name, "i": i})])
store.close()
"""


def test_two_client_processes_append_to_one_duckdb_file(tmp_path):
    url = f"duckdb:///{tmp_path / 'shared.duckdb'}"
    n = 150
    with server_process(url, tmp_path / "server.log") as (_, address):
        with pytest.raises(eslib.StoreLockedError):  # what DuckDB alone cannot do
            eslib.connect(url)
        clients = [subprocess.Popen([sys.executable, "-c", CLIENT, address, name, str(n)],
                                    stderr=subprocess.PIPE, text=True) for name in "ab"]
        for client in clients:
            _, err = client.communicate(timeout=90)
            assert client.returncode == 0, err
        with eslib.connect(address) as store:
            assert store.stream_version("own-a") == store.stream_version("own-b") == n
            shared = list(store.read_stream("shared-1"))
            assert [e.version for e in shared] == list(range(1, 2 * n + 1))
            assert sorted(e.data["i"] for e in shared if e.data["who"] == "a") == list(range(n))
            positions = [e.position for e in store.read_all()]
            assert positions == list(range(1, 4 * n + 1))


def test_server_killed_and_restarted_under_a_subscriber(tmp_path):
    url = f"duckdb:///{tmp_path / 'events.duckdb'}"
    log = tmp_path / "server.log"
    seen: list[int] = []
    pushed: list[int] = []
    with server_process(url, log) as (proc, address):
        port = int(address.rsplit(":", 1)[1])
        reader = eslib.connect(address, timeout=60)
        writer = eslib.connect(address, timeout=60)
        sub = eslib.Subscription(reader, lambda event, recorded: seen.append(recorded.position),
                                 name="audit", poll_interval=0.2)
        sub.start()

        def follow() -> None:
            for event in reader.backend.subscribe(1):
                pushed.append(event.position)
                if len(pushed) == 10:
                    return

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        for i in range(5):
            writer.append(f"s-{i % 2}", [NewEvent("Before", {"i": i})])
        assert sub.wait_until(5, 20), seen
        deadline = time.monotonic() + 10
        while len(pushed) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.kill()  # no goodbye: the clients see the connection drop
        proc.wait(10)
    time.sleep(0.5)  # the clients are now retrying against a closed port
    with server_process(url, log, port=port):
        for i in range(5):
            writer.append(f"s-{i % 2}", [NewEvent("After", {"i": i})])  # reconnects by itself
        assert sub.wait_until(10, 30), seen
        sub.stop()
        follower.join(30)
        assert seen == list(range(1, 11))  # nothing lost, nothing twice
        assert pushed == list(range(1, 11))
        assert reader.load_checkpoint("audit") == 10
        reader.close()
        writer.close()


def test_sigterm_finishes_appends_in_flight_and_exits_cleanly(tmp_path):
    url = f"duckdb:///{tmp_path / 'events.duckdb'}"
    log = tmp_path / "server.log"
    acknowledged: list[str] = []
    stop = threading.Event()
    with server_process(url, log) as (proc, address):

        def write(name: str) -> None:
            store = eslib.connect(address, timeout=2)
            try:
                while not stop.is_set():
                    event = NewEvent("T", {"who": name}, id=uuid.uuid4())
                    store.append(f"w-{name}", [event])
                    acknowledged.append(str(event.id))
            except eslib.EslibError:
                pass  # the server is gone
            finally:
                store.close()

        writers = [threading.Thread(target=write, args=(n,), daemon=True) for n in "abc"]
        for thread in writers:
            thread.start()
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        stop.set()
        for thread in writers:
            thread.join(10)
    assert "stopping" in log.read_text()
    assert len(acknowledged) > 10
    with eslib.connect(url) as store:  # the file is free again
        stored = {str(e.id) for e in store.read_all()}
    assert set(acknowledged) <= stored

