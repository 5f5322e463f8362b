"""The DuckDB schema and the statements only DuckDB runs (shared SQL is in sql.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigurationError
from .base import SCHEMA_VERSION

if TYPE_CHECKING:
    import duckdb

SCHEMA = """
CREATE TABLE IF NOT EXISTS eslib_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS eslib_events (
    position    BIGINT NOT NULL,  -- unique by construction: this process is the only writer
    stream_id   VARCHAR NOT NULL,
    version     BIGINT NOT NULL,
    id          UUID NOT NULL UNIQUE,
    type        VARCHAR NOT NULL,
    data        JSON NOT NULL,
    metadata    JSON NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
    -- (stream_id, version) is unique by construction too; an index for it would cost
    -- bulk imports a third of their speed and DuckDB would not use it for reads
);
CREATE TABLE IF NOT EXISTS eslib_snapshots (
    stream_id VARCHAR PRIMARY KEY,
    version   BIGINT NOT NULL,
    schema    VARCHAR NOT NULL,
    state     JSON NOT NULL
);
CREATE TABLE IF NOT EXISTS eslib_checkpoints (
    name     VARCHAR PRIMARY KEY,
    position BIGINT NOT NULL
);
"""

# An event row for reads as text and integers: DuckDB's own conversion of UUID and
# TIMESTAMPTZ to Python objects costs more than uuid.UUID(text) and epoch + timedelta.
READ_COLUMNS = (
    "stream_id, version, position, CAST(id AS VARCHAR), type, CAST(data AS VARCHAR), "
    "CAST(metadata AS VARCHAR), epoch_us(recorded_at)"
)

# Diagnoses of a refused bulk table (``rn``: row number), run only when needed.
BULK_INVALID = """
SELECT rn, data, metadata FROM {name}
WHERE NOT (json_valid(data) AND json_valid(metadata))
   OR json_type(CAST(data AS JSON)) <> 'OBJECT' OR json_type(CAST(metadata AS JSON)) <> 'OBJECT'
ORDER BY rn LIMIT 1
"""
BULK_DUPLICATES = """
SELECT id FROM {name} WHERE CAST(id AS UUID) IN (SELECT id FROM eslib_events)
UNION SELECT id FROM {name} WHERE id IS NOT NULL GROUP BY id HAVING count(*) > 1
LIMIT 5
"""

# Above this many rows an append goes in as an Arrow table, below as VALUES (...).
ARROW_ROWS = 64


def prepare_schema(con: duckdb.DuckDBPyConnection, path: str, create: bool) -> None:
    """Create the tables if missing (``create``); refuse a file of another schema version."""
    if create:
        con.execute("BEGIN").fetchall()
        con.execute(SCHEMA).fetchall()
        if not con.execute("SELECT count(*) FROM eslib_schema").fetchall()[0][0]:
            con.execute("INSERT INTO eslib_schema VALUES (?)", [SCHEMA_VERSION]).fetchall()
        con.execute("COMMIT").fetchall()
    found = con.execute("SELECT max(version) FROM eslib_schema").fetchall()[0][0]
    if found != SCHEMA_VERSION:
        raise ConfigurationError(
            f"{path!r} has eslib schema version {found}, this eslib needs "
            f"{SCHEMA_VERSION}; use a matching eslib version or copy the events with "
            "`eslib copy`"
        )
