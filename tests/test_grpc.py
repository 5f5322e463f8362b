"""The conformance suite again, through ``grpc://`` to a server over memory, DuckDB and PostgreSQL.

The suite's tests are imported from test_conformance; the ``make_store`` fixture
here overrides the one in conftest.py: each test gets a fresh server on a free
loopback port (in this process) and ``make_store()`` opens clients to it.
"""

from __future__ import annotations

import faulthandler
from collections.abc import Callable, Iterator

import pytest
import test_conformance

import eslib

pytest.importorskip("grpc")

from eslib.server import EventStoreServer

globals().update({k: v for k, v in vars(test_conformance).items() if k.startswith("test_")})

TEST_SECONDS = 60  # every test is bounded: a hang dumps the stacks and ends the run


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    faulthandler.dump_traceback_later(TEST_SECONDS, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def backend_url(kind: str, request: pytest.FixtureRequest, tmp_path) -> str:
    """A fresh, empty store of one kind for a server to own."""
    if kind == "memory":
        return "memory://"
    if kind == "duckdb":
        return f"duckdb:///{tmp_path / 'events.duckdb'}"
    from conftest import _reset_postgres

    url: str = request.getfixturevalue("postgres_url")
    _reset_postgres(url)
    return url


@pytest.fixture(params=["grpc-memory", "grpc-duckdb", "grpc-postgres"])
def make_store(
    request: pytest.FixtureRequest, tmp_path
) -> Iterator[Callable[..., eslib.EventStore]]:
    url = backend_url(request.param.removeprefix("grpc-"), request, tmp_path)
    server = EventStoreServer(url, port=0, allow_sql=True).start()
    opened: list[eslib.EventStore] = []

    def factory(**options: object) -> eslib.EventStore:
        store = eslib.connect(server.address, timeout=20, **options)  # type: ignore[arg-type]
        opened.append(store)
        return store

    factory.backend = "grpc"  # type: ignore[attr-defined]
    yield factory
    for store in opened:
        store.close()
    server.stop(0)
