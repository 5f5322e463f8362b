"""Find a PostgreSQL server for the tests, and make and drop a fresh database on it.

Used by tests/conftest.py. The server is shared and outlives the run; every test
run works in its own database ``eslib_test_<pid>_<random>`` and drops it.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import secrets
from pathlib import Path

LOCAL = "postgresql://postgres@127.0.0.1:5432/postgres"
_started: list[str] = []  # the throwaway cluster's URL, once started in this process


def admin_url() -> tuple[str | None, str]:
    """(a URL of a maintenance database on a reachable server, or None; a human reason).

    In order: $ESLIB_TEST_POSTGRES_URL; a server on 127.0.0.1:5432 (user postgres)
    if one answers; else a throwaway cluster from backends/throwaway_postgres.py,
    kept for the test session and stopped at exit.
    """
    from eslib.urls import hide_password

    given = os.environ.get("ESLIB_TEST_POSTGRES_URL")
    if given:
        problem = _answers(given)
        if problem:
            shown = hide_password(given)
            return None, f"$ESLIB_TEST_POSTGRES_URL={shown} does not answer: {problem}"
        return given, f"$ESLIB_TEST_POSTGRES_URL ({hide_password(given)})"
    if _answers(LOCAL) is None:
        return LOCAL, "the server on 127.0.0.1:5432"
    if _started:
        return _started[0], "the throwaway cluster started for this run"
    try:
        throwaway = _load_throwaway()
        url, folder = throwaway.start()
    except (OSError, RuntimeError) as exc:
        return None, f"nothing on 127.0.0.1:5432 and no throwaway cluster: {exc}"
    atexit.register(throwaway.stop, folder)
    _started.append(url)
    problem = _answers(url)
    if problem:
        return None, f"the throwaway cluster started but does not answer: {problem}"
    return url, f"a throwaway cluster in {folder}"


def create_database(admin_url: str) -> str:
    """Create a uniquely named empty database; return its URL."""
    import psycopg
    from psycopg import sql

    name = f"eslib_test_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return _with_database(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    """Drop the database ``url`` names, ending any connection still open to it."""
    import psycopg
    from psycopg import conninfo, sql

    name = conninfo.conninfo_to_dict(url)["dbname"]
    assert isinstance(name, str) and name.startswith("eslib_test_"), name
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


def _with_database(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def _answers(url: str) -> str | None:
    """None if the server answers at ``url``, else why not."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        from eslib.urls import hide_password

        return hide_password(str(exc)).strip() or type(exc).__name__
    return None


def _load_throwaway():  # type: ignore[no-untyped-def]
    path = Path(__file__).resolve().parent.parent / "backends" / "throwaway_postgres.py"
    spec = importlib.util.spec_from_file_location("eslib_throwaway_postgres", path)
    if spec is None or spec.loader is None:
        raise OSError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reset_database(url: str) -> None:
    """Empty the store's tables (and restart positions) in a test database, if they exist."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass('eslib_events') IS NOT NULL").fetchone()
        if row and row[0]:
            conn.execute("TRUNCATE eslib_events, eslib_snapshots, eslib_checkpoints;"
                         " ALTER SEQUENCE eslib_position_seq RESTART")
