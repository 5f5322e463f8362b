"""DuckDB's errors in eslib's words: driver errors wrapped (the original kept as
``__cause__``), and files DuckDB could not open refused before it is asked."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import ConfigurationError, EslibError, StoreError, StoreLockedError


@contextmanager
def translate_errors(what: str) -> Iterator[None]:
    """Re-raise DuckDB errors as eslib errors, keeping the original as __cause__."""
    import duckdb

    try:
        yield
    except EslibError:
        raise
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise StoreLockedError(
                f"{what}: the DuckDB file is open in another process ({exc}). A DuckDB file "
                "has one writer process; close the other one, or use PostgreSQL "
                "(postgresql://…) when several processes must share a store"
            ) from exc
        raise StoreError(f"{what}: DuckDB I/O error: {exc}") from exc
    except duckdb.InvalidInputException as exc:
        if "read-only mode" in str(exc):
            raise ConfigurationError(
                f"{what}: this DuckDB store was opened with read_only=True; nothing was "
                "written — open it without read_only=True to write") from exc
        raise StoreError(f"{what}: DuckDB error: {exc}") from exc
    except duckdb.Error as exc:
        raise StoreError(f"{what}: DuckDB error: {exc}") from exc


def check_path(path: str, read_only: bool) -> None:
    """Refuse, in eslib's words, a file DuckDB could not open (it would say "IO Error")."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ConfigurationError(
            f"cannot create the DuckDB store {path!r}: the folder {folder!r} does not exist; "
            "create it first or choose another path")
    if read_only and not os.path.exists(path):
        raise ConfigurationError(
            f"no DuckDB store at {path!r} to open read-only; check the path, or open it "
            "without read_only=True to create it")
