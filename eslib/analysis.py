"""Events as pandas DataFrames, and SQL over events, the same on every backend.

* :func:`events_frame` — events of a stream, category, type or position range, one row
  each, indexed by position, ``data`` expanded into columns (nested keys flattened as
  ``"a.b"``) by the database: DuckDB's JSON functions, PostgreSQL's ``json``
  operators; the memory backend hands its Arrow table to an in-process DuckDB.
* :func:`sql` — any query over the table ``eslib_events`` (columns ``position,
  stream_id, version, id, type, data, metadata, recorded_at``; ``data`` and
  ``metadata`` are JSON) with ``?`` placeholders, on every backend: DuckDB natively,
  PostgreSQL through its pool, memory (and gRPC) through DuckDB over the events'
  Arrow table. :func:`counts_per_type`, :func:`stream_lengths` and
  :func:`time_between` are worked examples; their SQL runs on DuckDB and PostgreSQL.
* :func:`aggregate_history` — an aggregate's state after each of its events;
  :func:`projection_history` — a projection's value after each event it applies;
  :func:`read_model` — a projection's read model as a DataFrame.

Frames are built through Arrow (no Python loop per event where the backend can avoid
one); timestamps are tz-aware UTC, integers stay integers (``Int64`` when a column has
gaps). A frame larger than :data:`LARGE_FRAME` rows is announced first on the
``eslib.analysis`` logger (level WARNING), with its size.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from . import frames, queries
from .errors import ConfigurationError
from .projection import EventContext, Projection
from .validation import check_stream_id, is_int, make_query

if TYPE_CHECKING:
    import pandas as pd

    from .repository import Repository
    from .store import EventStore

__all__ = [
    "LARGE_FRAME",
    "aggregate_history",
    "counts_per_type",
    "events_frame",
    "projection_history",
    "read_model",
    "sql",
    "stream_lengths",
    "time_between",
]

#: frames of more rows than this are announced (size and memory) before they are built
LARGE_FRAME = 250_000

log = logging.getLogger("eslib.analysis")


def events_frame(
    store: EventStore,
    stream_id: str | None = None,
    *,
    category: str | None = None,
    types: Iterable[str] | None = None,
    from_position: int = 1,
    to_position: int | None = None,
    limit: int | None = None,
    expand: bool = True,
    metadata: bool = False,
) -> pd.DataFrame:
    """Events as a DataFrame indexed by ``position``, in global order.

    Columns: ``stream_id, version, type, recorded_at`` then, with ``expand`` (the
    default), one column per key of ``data`` (nested objects flattened: ``"a.b"``;
    arrays and values of mixed types as JSON text; a key named like an event column
    becomes ``"data.<key>"``), and with ``metadata=True`` one ``"metadata.<key>"``
    column per metadata key. ``expand=False`` keeps ``data`` (and ``metadata``) as
    JSON text. An unknown stream or category gives an empty frame with these columns.

    Every backend types a column alike: whole numbers that fit int64 give ``int64``
    (``Int64`` with gaps), numbers with a fraction or exponent make it ``float64``, a
    whole number beyond int64 makes it JSON text (its exact digits, never a rounded
    float); ``true``/``false`` give ``bool`` (``boolean`` with gaps). An object found
    beside other values at its key, or only ever empty (``{}``), is JSON text in one
    column; events whose ``data`` is ``{}`` add no columns. JSON text is compact; a
    number inside it may read differently on memory and DuckDB stores (``1e100`` for
    ``1e+100``), which rewrite it.
    It shows every committed event (on PostgreSQL also those a ``read_all`` follower
    is still held back from by its ordering fence).

    >>> events_frame(store, category="order", types=["OrderPlaced"])   # doctest: +SKIP
    """
    if stream_id is not None:
        check_stream_id(stream_id)
    query = make_query(stream_id=stream_id, category=category, types=types,
                       from_position=from_position, to_position=to_position, limit=limit)
    return frames.events(store, query, expand=expand, metadata=metadata, announce=_announce)


def sql(store: EventStore, query: str, params: Sequence[object] | None = None) -> pd.DataFrame:
    """Run a SQL query over the events and get a DataFrame back.

    The events are the table ``eslib_events`` (``position, stream_id, version, id,
    type, data, metadata, recorded_at``; on PostgreSQL also ``transaction_id``, which
    orders followers); placeholders are ``?``. The dialect is the engine's own (DuckDB's
    ``1/0`` is ``inf``, PostgreSQL's an error). A stream's category
    is ``split_part(stream_id, '-', 1)``; ``data->>'key'`` reads a JSON field on both
    DuckDB and PostgreSQL. On DuckDB and PostgreSQL the query runs in the store's own
    database (read models are tables there too); on memory it runs in a private DuckDB
    over the events only. A query the database rejects raises
    :class:`~eslib.QueryError` with the database's message.

    >>> sql(store, "SELECT type, count(*) AS n FROM eslib_events GROUP BY type")  # doctest: +SKIP
    """
    if not isinstance(query, str) or not query.strip():
        raise ConfigurationError(f"query must be a non-empty SQL string, got {query!r}")
    if params is not None and (isinstance(params, (str, bytes)) or
                               not isinstance(params, Sequence)):
        raise ConfigurationError(f"params must be a list or tuple of values for the ? "
                                 f"placeholders, got {type(params).__name__}")
    return queries.run_sql(store, query, list(params or ()), announce=_announce)


def counts_per_type(
    store: EventStore, freq: str = "hour", *, category: str | None = None
) -> pd.DataFrame:
    """Events per type per ``freq`` (a ``date_trunc`` unit: minute, hour, day, …).

    Columns ``period`` (UTC), ``type``, ``events``; sorted by period, then type.
    """
    if freq not in ("second", "minute", "hour", "day", "week", "month", "year"):
        raise ConfigurationError(f"freq must be a date_trunc unit such as 'hour', got {freq!r}")
    where = "WHERE split_part(stream_id, '-', 1) = ?" if category else ""
    return sql(store, f"""
        SELECT date_trunc('{freq}', recorded_at) AS period, type, count(*) AS events
        FROM eslib_events {where} GROUP BY 1, 2 ORDER BY 1, 2""", [category] if category else [])


def stream_lengths(store: EventStore, category: str | None = None) -> pd.DataFrame:
    """One row per stream: ``stream_id``, ``category``, ``events``, ``first_at`` and ``last_at``
    (recorded_at); longest streams first."""
    where = "WHERE split_part(stream_id, '-', 1) = ?" if category else ""
    params = [category] if category else []
    return sql(store, f"""
        SELECT stream_id, split_part(stream_id, '-', 1) AS category, count(*) AS events,
               min(recorded_at) AS first_at, max(recorded_at) AS last_at
        FROM eslib_events {where} GROUP BY stream_id ORDER BY events DESC, stream_id""", params)


def time_between(
    store: EventStore, first: str, then: str, *, category: str | None = None
) -> pd.DataFrame:
    """Per stream, the time from its first ``first`` event to its first ``then`` event
    after it (e.g. ``"OrderPlaced"`` → ``"OrderShipped"``).

    Columns ``stream_id``, ``first_at``, ``then_at``, ``elapsed`` (a timedelta); streams
    that never reached ``then`` are left out. Sorted by stream id.
    """
    where = " AND split_part(stream_id, '-', 1) = ?" if category else ""
    params: list[object] = [first, category, then] if category else [first, then]
    return sql(store, f"""
        WITH f AS (
            SELECT stream_id, min(version) AS v FROM eslib_events
            WHERE type = ?{where} GROUP BY stream_id),
        t AS (
            SELECT e.stream_id, min(e.version) AS v FROM eslib_events e
            JOIN f ON e.stream_id = f.stream_id AND e.version > f.v
            WHERE e.type = ? GROUP BY e.stream_id)
        SELECT f.stream_id, a.recorded_at AS first_at, b.recorded_at AS then_at,
               b.recorded_at - a.recorded_at AS elapsed
        FROM f JOIN t ON t.stream_id = f.stream_id
        JOIN eslib_events a ON a.stream_id = f.stream_id AND a.version = f.v
        JOIN eslib_events b ON b.stream_id = t.stream_id AND b.version = t.v
        ORDER BY f.stream_id""", params)


def aggregate_history(repository: Repository[Any], id: Any) -> pd.DataFrame:
    """An aggregate's state after each of its events: one row per version.

    Index ``version``; columns ``position``, ``type`` and ``recorded_at`` of the event
    that made the version, then the state (``snapshot_state()``, nested dicts flattened
    as ``"a.b"``). The stream is read once and folded event by event with the
    repository's own fold (upcasters included).
    """
    import pandas as pd

    aggregate = repository.new(id)
    rows: list[dict[str, Any]] = []
    for recorded in repository.store.read_stream(aggregate.stream_id):
        repository._fold(aggregate, (recorded,))
        state = copy.deepcopy(aggregate.snapshot_state())  # later events mutate the state
        rows.append({"version": recorded.version, "position": recorded.position,
                     "type": recorded.type, "recorded_at": recorded.recorded_at, **state})
    columns = ["version", "position", "type", "recorded_at"]
    if not rows:
        state_columns = list(repository.new(id).snapshot_state())
        return frames.empty(columns + state_columns, index="version")
    frame = pd.json_normalize(rows, sep=".")
    frame["recorded_at"] = pd.to_datetime(frame["recorded_at"], utc=True)
    return frame.set_index("version")


def projection_history(
    store: EventStore,
    projection: Projection,
    value: Callable[[Any], Any],
    *,
    every: int = 1,
    limit: int | None = None,
) -> pd.DataFrame:
    """Fold ``projection`` over the log and record ``value(projection)`` as it goes.

    One row after every ``every``-th event applied (and after the last one): index
    ``position``, columns ``recorded_at`` and ``value`` — or one column per key when
    ``value`` returns a dict. The projection starts after its own position (give a
    fresh one to see the whole history) and is left caught up; ``limit`` stops early.

    >>> projection_history(store, Balances(), lambda p: sum(                # doctest: +SKIP
    ...     a["balance"] for a in p.accounts.values()))
    """
    import pandas as pd

    if projection.in_store:
        raise ConfigurationError(
            f"{projection.name} keeps its read model in SQL tables: query them over time "
            "with eslib.analysis.sql instead"
        )
    if not is_int(every, 1):
        raise ConfigurationError(f"every must be an int >= 1, got {every!r}")
    decode = projection.registry.decoder(raw_unknown=True)
    ctx = EventContext(None)
    rows: list[dict[str, Any]] = []
    last: dict[str, Any] | None = None
    events = store.read_all(projection.position + 1, types=projection.type_names(), limit=limit)
    for applied, recorded in enumerate(events, 1):
        ctx._load(recorded)
        projection.apply(decode(recorded), ctx)
        projection.position = recorded.position
        row = {"position": recorded.position, "recorded_at": recorded.recorded_at}
        if applied % every == 0:
            rows.append(_with_value(row, value(projection)))
            last = None
        else:
            last = row
    if last is not None:
        rows.append(_with_value(last, value(projection)))
    if not rows:
        return frames.empty(["position", "recorded_at", "value"], index="position")
    frame = pd.DataFrame(rows)
    frame["recorded_at"] = pd.to_datetime(frame["recorded_at"], utc=True)
    return frame.set_index("position")


def _with_value(row: dict[str, Any], value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {**row, **value}
    return {**row, "value": value}


def read_model(
    projection: Projection | None = None, *, store: EventStore | None = None,
    table: str | None = None,
) -> pd.DataFrame:
    """A projection's read model as a DataFrame.

    A Python projection with a ``frame()`` method: its result. Otherwise its one public
    dict attribute: rows from a dict of dicts (the key as the index), else key/value
    pairs. A SQL read model: ``read_model(store=store, table="shop_sales")``.
    """
    import pandas as pd

    if table is not None:
        if store is None:
            raise ConfigurationError("read_model(table=...) needs the store it lives in")
        if not isinstance(table, str) or not table.replace("_", "").replace(".", "").isalnum():
            raise ConfigurationError(f"{table!r} is not a plain table name")
        return sql(store, f"SELECT * FROM {table}")
    if projection is None:
        raise ConfigurationError("give a projection, or store= and table= for a SQL read model")
    frame_method = getattr(projection, "frame", None)
    if callable(frame_method):
        return frame_method()
    models = {k: v for k, v in vars(projection).items()
              if not k.startswith("_") and isinstance(v, dict)}
    if len(models) != 1:
        raise ConfigurationError(
            f"{projection.name}: cannot tell which attribute is the read model "
            f"({', '.join(models) or 'no public dict'}); give it a frame() method"
        )
    ((name, model),) = models.items()
    if model and all(isinstance(v, dict) for v in model.values()):
        return pd.DataFrame.from_dict(model, orient="index").rename_axis(name)
    return pd.DataFrame({"key": list(model), "value": list(model.values())})


def _announce(rows: int, columns: int) -> None:
    if rows > LARGE_FRAME:
        log.warning("building a DataFrame of %s rows x %d columns (about %s MB); narrow it "
                    "with stream_id/category/types/limit if that is more than you need",
                    f"{rows:,}", columns, f"{rows * columns * 16 / 1e6:,.0f}")
