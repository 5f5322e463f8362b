"""nbval settings for the notebook course (loaded when pytest collects notebooks/).

* DataFrames are compared by their text form: HTML, JavaScript and widget views are
  skipped (pandas' HTML changes with its version; widget model ids are random).
* ``--nbval-postgres``: each notebook runs against its own freshly created PostgreSQL
  database (through tests/postgres_server.py), passed to the kernel in
  ``$ESLIB_NOTEBOOK_URL`` and dropped when the notebook is done.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SKIP_COMPARE = (
    "text/html",
    "application/javascript",
    "application/vnd.jupyter.widget-view+json",
    "application/vnd.jupyter.widget-state+json",
)
URL_VARIABLE = "ESLIB_NOTEBOOK_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--nbval-postgres", action="store_true",
                     help="run each notebook on a fresh PostgreSQL database")


def pytest_collectstart(collector: pytest.Collector) -> None:
    if str(getattr(collector, "path", "")).endswith(".ipynb"):
        skip = tuple(getattr(collector, "skip_compare", ()))
        collector.skip_compare = skip + tuple(m for m in SKIP_COMPARE if m not in skip)  # type: ignore[attr-defined]


class _Postgres:
    def __init__(self) -> None:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        import postgres_server

        self.server = postgres_server
        admin, reason = postgres_server.admin_url()
        self.skip_reason = "" if admin else f"--nbval-postgres: no PostgreSQL server: {reason}"
        if admin is None and os.environ.get("ESLIB_REQUIRE_POSTGRES") == "1":
            raise pytest.UsageError(self.skip_reason + " (ESLIB_REQUIRE_POSTGRES=1)")
        self.admin = admin or ""
        self.current: tuple[object, str] | None = None

    def enter(self, notebook: object) -> None:
        if self.current is None or self.current[0] is not notebook:
            self.leave()
            url = self.server.create_database(self.admin)
            os.environ[URL_VARIABLE] = url
            self.current = (notebook, url)

    def leave(self) -> None:
        if self.current is not None:
            self.server.drop_database(self.admin, self.current[1])
            os.environ.pop(URL_VARIABLE, None)
            self.current = None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    postgres: _Postgres | None = config.stash.get(_KEY, None)
    if postgres is not None and postgres.skip_reason:
        for item in items:
            item.add_marker(pytest.mark.skip(reason=postgres.skip_reason))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    postgres: _Postgres | None = item.config.stash.get(_KEY, None)
    if postgres is not None and not postgres.skip_reason:
        postgres.enter(item.parent)  # before the notebook's kernel starts


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    yield
    postgres: _Postgres | None = item.config.stash.get(_KEY, None)
    if postgres is not None and (nextitem is None or nextitem.parent is not item.parent):
        postgres.leave()  # the kernel has been shut down by now


_KEY = pytest.StashKey["_Postgres | None"]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_KEY] = _Postgres() if config.getoption("--nbval-postgres") else None
