"""Shared fixtures: ``store`` runs a test on every backend (ids memory, duckdb, postgres)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

import eslib

BACKENDS = ("memory", "duckdb", "postgres")


def _require_postgres() -> bool:
    return os.environ.get("ESLIB_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A freshly created PostgreSQL database for this test run, dropped at the end."""
    try:
        from postgres_server import admin_url, create_database, drop_database
    except ImportError as exc:  # the helper module is part of the repo; this is a real bug
        pytest.fail(f"tests/postgres_server.py missing: {exc}")
    admin, reason = admin_url()
    if admin is None:
        message = (
            f"no PostgreSQL server: {reason}. Set ESLIB_TEST_POSTGRES_URL, run one on "
            "127.0.0.1:5432, or install the PostgreSQL server binaries (initdb, pg_ctl)"
        )
        if _require_postgres():
            pytest.fail(message + " (ESLIB_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    url = create_database(admin)
    yield url
    drop_database(admin, url)


def _reset_postgres(url: str) -> None:
    """Empty the store's tables and drop the read models tests made beside them."""
    import psycopg
    from postgres_server import reset_database

    reset_database(url)
    with psycopg.connect(url, autocommit=True) as conn:
        # read models created by tests live in the public schema beside the store's tables
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename NOT LIKE 'eslib\\_%'"
        ).fetchall()
        for (table,) in rows:
            conn.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')


@pytest.fixture
def url(postgres_url: str) -> str:
    """The run's PostgreSQL test database, its store emptied (PostgreSQL-only tests)."""
    from postgres_server import reset_database

    reset_database(postgres_url)
    return postgres_url


StoreFactory = Callable[..., eslib.EventStore]


@pytest.fixture(params=BACKENDS)
def make_store(request: pytest.FixtureRequest, tmp_path) -> Iterator[StoreFactory]:
    """A factory of stores on one backend, all sharing one empty database per test.

    ``make_store()`` opens a store (keyword options go to ``eslib.connect``);
    calling it again opens a second store on the same data (reopen after close).
    """
    backend = request.param
    if backend == "memory":
        shared = eslib.connect("memory://")
        url = None
    elif backend == "duckdb":
        url = f"duckdb:///{tmp_path / 'events.duckdb'}"
    else:
        url = request.getfixturevalue("postgres_url")
        _reset_postgres(url)
    opened: list[eslib.EventStore] = []

    def factory(**options: object) -> eslib.EventStore:
        if url is None:  # memory: a new facade over the same backend keeps the data
            store = eslib.EventStore(shared.backend, shared.url, **options)  # type: ignore[arg-type]
        else:
            store = eslib.connect(url, **options)  # type: ignore[arg-type]
        opened.append(store)
        return store

    factory.backend = backend  # type: ignore[attr-defined]
    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: StoreFactory) -> eslib.EventStore:
    """An empty store on each backend."""
    return make_store()


@pytest.fixture
def backend_name(make_store: StoreFactory) -> str:
    return make_store.backend  # type: ignore[attr-defined,no-any-return]


SQL_BACKENDS = ("duckdb", "postgres")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "backends(*names): run only on these backends; the others are not collected "
        "(a capability, not a skip)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("backends")
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("make_store") if callspec else None
        if marker and backend in BACKENDS and backend not in marker.args:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
