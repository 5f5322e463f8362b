"""eslib.analysis on every backend: event frames, SQL over events, histories, read models."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

import eslib
from eslib import analysis
from eslib.examples.bank import Account, Balances, BalanceTable

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)
EVENT_COLUMNS = ["stream_id", "version", "type", "recorded_at"]


@pytest.fixture
def shop(make_store) -> eslib.EventStore:
    """Two orders and a customer, 10 minutes apart (positions 1..5)."""
    store = make_store(clock=eslib.TickingClock(T0, timedelta(minutes=10)))
    store.append("order-1", [
        eslib.NewEvent("OrderPlaced", {"sku": "A1", "qty": 2, "ship": {"city": "Oslo", "zip": 150}},
                       metadata={"user": "ann"}),
        eslib.NewEvent("OrderShipped", {"carrier": "dhl", "type": "express", "boxes": [1, 2]}),
    ])
    store.append("order-2", [
        eslib.NewEvent("OrderPlaced", {"sku": "B2", "qty": 1.5, "gift": True})])
    store.append("customer-7", [eslib.NewEvent("Registered", {"name": "Ann"})])
    store.append("order-2", [eslib.NewEvent("OrderShipped", {"carrier": "ups"})])
    return store


# -- events_frame ---------------------------------------------------------------------------


def test_events_frame_expands_data_into_typed_columns(shop):
    frame = analysis.events_frame(shop)
    assert frame.index.name == "position"
    assert list(frame.index) == [1, 2, 3, 4, 5]
    assert str(frame.index.dtype) == "int64"
    assert list(frame.columns) == [
        *EVENT_COLUMNS, "sku", "qty", "ship.city", "ship.zip", "carrier", "data.type", "boxes",
        "gift", "name"]
    assert str(frame["version"].dtype) == "int64"
    assert str(frame["recorded_at"].dtype) == "datetime64[us, UTC]"
    assert frame["recorded_at"].iloc[0] == pd.Timestamp(T0)
    assert str(frame["ship.zip"].dtype) == "Int64"  # ints stay ints, with gaps
    assert str(frame["qty"].dtype) == "float64"  # 2 and 1.5
    assert str(frame["gift"].dtype) == "boolean"
    assert frame.loc[1, "ship.city"] == "Oslo" and frame.loc[1, "ship.zip"] == 150
    assert frame.loc[2, "data.type"] == "express"  # a data key named like an event column
    assert json.loads(frame.loc[2, "boxes"]) == [1, 2]  # arrays stay JSON text
    assert frame.loc[3, "gift"] is True or bool(frame.loc[3, "gift"]) is True
    assert pd.isna(frame.loc[4, "sku"])


def test_events_frame_filters(shop):
    assert list(analysis.events_frame(shop, "order-1").index) == [1, 2]
    assert list(analysis.events_frame(shop, category="order").index) == [1, 2, 3, 5]
    placed = analysis.events_frame(shop, types=["OrderPlaced"])
    assert list(placed.index) == [1, 3]
    assert list(placed.columns) == [*EVENT_COLUMNS, "sku", "qty", "ship.city", "ship.zip", "gift"]
    assert list(analysis.events_frame(shop, from_position=2, to_position=4).index) == [2, 3, 4]
    assert list(analysis.events_frame(shop, category="order", limit=3).index) == [1, 2, 3]


@pytest.mark.parametrize("where", [{"stream_id": "order-99"}, {"category": "nothing"},
                                   {"types": ["Nope"]}])
def test_unknown_stream_or_category_gives_an_empty_frame_with_the_columns(shop, where):
    frame = analysis.events_frame(shop, **where)
    assert frame.empty
    assert list(frame.columns) == EVENT_COLUMNS
    assert frame.index.name == "position"
    assert str(frame["version"].dtype) == "int64"
    assert str(frame["recorded_at"].dtype) == "datetime64[us, UTC]"


def test_events_frame_on_an_empty_store(store):
    frame = analysis.events_frame(store, metadata=True)
    assert frame.empty and list(frame.columns) == EVENT_COLUMNS


def test_events_frame_raw_json_and_metadata(shop):
    raw = analysis.events_frame(shop, "order-1", expand=False, metadata=True)
    assert list(raw.columns) == [*EVENT_COLUMNS, "data", "metadata"]
    assert json.loads(raw.loc[1, "data"])["ship"] == {"city": "Oslo", "zip": 150}
    assert json.loads(raw.loc[1, "metadata"]) == {"user": "ann"}
    expanded = analysis.events_frame(shop, "order-1", metadata=True)
    assert expanded.loc[1, "metadata.user"] == "ann"
    assert pd.isna(expanded.loc[2, "metadata.user"])


def test_a_large_frame_is_announced_with_its_size(shop, monkeypatch, caplog):
    monkeypatch.setattr(analysis, "LARGE_FRAME", 4)
    with caplog.at_level(logging.WARNING, logger="eslib.analysis"):
        analysis.events_frame(shop, limit=4)
        assert caplog.records == []
        analysis.events_frame(shop)
    (record,) = caplog.records
    assert "5 rows" in record.getMessage() and "MB" in record.getMessage()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="eslib.analysis"):
        analysis.sql(shop, "SELECT * FROM eslib_events")
    assert "5 rows" in caplog.records[0].getMessage()


def _expanded(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=EVENT_COLUMNS)


def _expected(positions: list[int], **columns: pd.Series) -> pd.DataFrame:
    index = pd.Index(positions, dtype="int64", name="position")
    return pd.DataFrame({name: values.set_axis(index) for name, values in columns.items()},
                        index=index)


def test_events_without_data_or_metadata_add_no_columns(store):
    store.append("order-1", [eslib.NewEvent("Cancelled", {})])
    for frame in (analysis.events_frame(store), analysis.events_frame(store, metadata=True)):
        assert list(frame.columns) == EVENT_COLUMNS and list(frame.index) == [1]
    store.append("order-2", [eslib.NewEvent("Placed", {"qty": 1})])
    pd.testing.assert_frame_equal(
        _expanded(analysis.events_frame(store, metadata=True)),
        _expected([1, 2], qty=pd.Series([None, 1], dtype="Int64")))


def test_an_empty_key_is_a_column(store):
    store.append("c-1", [eslib.NewEvent("T", {"": 1, "a": {"": "x"}}, metadata={"": True})])
    pd.testing.assert_frame_equal(
        _expanded(analysis.events_frame(store, "c-1", metadata=True)),
        _expected([1], **{"": pd.Series([1]), "a.": pd.Series(["x"], dtype="str"),
                          "metadata.": pd.Series([True])}))


def test_integers_keep_every_digit(store):
    store.append("b-1", [eslib.NewEvent("T", {"x": 2**53 + 1, "y": 1, "top": 2**63 - 1}),
                         eslib.NewEvent("T", {"x": -1, "y": -1, "low": -2**63})])
    pd.testing.assert_frame_equal(
        _expanded(analysis.events_frame(store)),
        _expected([1, 2], x=pd.Series([2**53 + 1, -1]), y=pd.Series([1, -1]),
                  top=pd.Series([2**63 - 1, None], dtype="Int64"),
                  low=pd.Series([None, -2**63], dtype="Int64")))


def test_values_of_mixed_types_or_beyond_int64_are_json_text(store):
    store.append("m-1", [
        eslib.NewEvent("T", {"x": 1, "o": {"p": 1}, "big": 2**64, "e": {}, "n": 1.5,
                             "w": {"v": 2**63}}),
        eslib.NewEvent("T", {"x": {"y": 2}, "o": 3, "big": 1.5, "n": 2, "w": {}})])
    pd.testing.assert_frame_equal(
        _expanded(analysis.events_frame(store)),
        _expected([1, 2], x=pd.Series(["1", '{"y":2}'], dtype="str"),
                  o=pd.Series(['{"p":1}', "3"], dtype="str"),
                  big=pd.Series([str(2**64), "1.5"], dtype="str"),
                  e=pd.Series(["{}", None], dtype="str"), n=pd.Series([1.5, 2.0]),
                  **{"w.v": pd.Series([str(2**63), None], dtype="str")}))


# -- SQL ------------------------------------------------------------------------------------


def test_sql_with_parameters(shop):
    frame = analysis.sql(shop, "SELECT stream_id, data->>'sku' AS sku FROM eslib_events "
                               "WHERE type = ? ORDER BY position", ["OrderPlaced"])
    assert frame.to_dict("list") == {"stream_id": ["order-1", "order-2"], "sku": ["A1", "B2"]}


def test_counts_per_type_per_hour(shop):
    counts = analysis.counts_per_type(shop)
    assert list(counts.columns) == ["period", "type", "events"]
    assert str(counts["events"].dtype) == "int64"
    assert str(counts["period"].dtype).endswith("UTC]")
    hour = pd.Timestamp(T0)
    assert counts.values.tolist() == [[hour, "OrderPlaced", 2], [hour, "OrderShipped", 2],
                                      [hour, "Registered", 1]]


def test_stream_lengths(shop):
    lengths = analysis.stream_lengths(shop)
    assert lengths[["stream_id", "category", "events"]].values.tolist() == [
        ["order-1", "order", 2], ["order-2", "order", 2], ["customer-7", "customer", 1]]
    assert lengths.loc[0, "last_at"] - lengths.loc[0, "first_at"] == timedelta(minutes=10)
    assert analysis.stream_lengths(shop, category="customer")["stream_id"].tolist() == [
        "customer-7"]
    assert analysis.stream_lengths(shop, category="nothing").empty


def test_time_between_two_event_types(shop):
    waits = analysis.time_between(shop, "OrderPlaced", "OrderShipped", category="order")
    assert list(waits.columns) == ["stream_id", "first_at", "then_at", "elapsed"]
    assert waits["stream_id"].tolist() == ["order-1", "order-2"]
    assert waits["elapsed"].tolist() == [timedelta(minutes=10), timedelta(minutes=20)]
    assert str(waits["elapsed"].dtype) == "timedelta64[us]"
    assert analysis.time_between(shop, "OrderShipped", "OrderPlaced").empty


@pytest.mark.parametrize("query, message", [
    ("SELEC * FROM eslib_events", "syntax error"),
    ("SELECT * FROM no_such_table", "no_such_table"),
    ("SELECT no_such_column FROM eslib_events", "no_such_column"),
])
def test_a_malformed_query_raises_query_error_with_the_database_message(shop, query, message):
    with pytest.raises(eslib.QueryError, match="(?i)" + message) as caught:
        analysis.sql(shop, query)
    assert isinstance(caught.value, eslib.StoreError)
    assert caught.value.__cause__ is not None  # the driver's own error


@pytest.mark.parametrize("name", ["events", "pd", "params", "query", "con"])
def test_a_table_name_never_resolves_to_a_python_variable(shop, name):
    # DuckDB would otherwise read a variable of that name in eslib's own code (a function,
    # a module) as a table: the user's SQL sees the database's tables only
    with pytest.raises(eslib.QueryError, match=f"{name}.* does not exist") as caught:
        analysis.sql(shop, f"SELECT * FROM {name}")
    assert "Python" not in str(caught.value)


def test_a_parameter_the_database_cannot_take_is_a_query_error(shop):
    with pytest.raises(eslib.QueryError, match=r"Unicode|UTF-8"):
        analysis.sql(shop, "SELECT ? AS v", ["bad \udc80"])
    # NUL: DuckDB takes it, PostgreSQL text cannot hold it; either way no other error
    try:
        assert analysis.sql(shop, "SELECT ? AS v", ["a\x00b"])["v"][0] == "a\x00b"
    except eslib.QueryError as caught:
        assert "NUL" in str(caught)


def test_sql_does_not_change_the_store(shop):
    with pytest.raises(eslib.QueryError):
        analysis.sql(shop, "DELETE FROM eslib_events")
    assert shop.head_position() == 5
    assert len(analysis.sql(shop, "SELECT position FROM eslib_events")) == 5


def test_sql_rejects_a_non_string():
    with pytest.raises(eslib.ConfigurationError):
        analysis.sql(eslib.connect("memory://"), "  ")


# -- aggregates and projections over time -------------------------------------------------


@pytest.fixture
def bank(make_store) -> eslib.EventStore:
    store = make_store(clock=eslib.TickingClock(T0, timedelta(minutes=1)))
    accounts = eslib.Repository(store, Account)
    for account_id, owner, deposits in (("a", "Ann", [100, 50]), ("b", "Bob", [7])):
        account = accounts.new(account_id)
        account.open(owner)
        for amount in deposits:
            account.deposit(amount)
        accounts.save(account)
    account = accounts.get("a")
    account.withdraw(30)
    accounts.save(account)
    return store


def test_aggregate_history_has_one_row_per_version(bank):
    history = analysis.aggregate_history(eslib.Repository(bank, Account), "a")
    assert history.index.name == "version"
    assert list(history.index) == [1, 2, 3, 4]
    assert history["type"].tolist() == ["AccountOpened", "Deposited", "Deposited", "Withdrawn"]
    assert history["balance"].tolist() == [0, 100, 150, 120]
    assert str(history["balance"].dtype) == "int64"
    assert history["owner"].tolist() == ["Ann"] * 4
    assert history["position"].tolist() == [1, 2, 3, 6]
    assert str(history["recorded_at"].dtype).endswith("UTC]")


def test_aggregate_history_of_an_unknown_aggregate_is_empty(bank):
    history = analysis.aggregate_history(eslib.Repository(bank, Account), "nobody")
    assert history.empty
    assert {"position", "type", "recorded_at", "balance", "owner"} <= set(history.columns)


def test_projection_history_and_read_model(bank):
    def total(projection: Balances) -> int:
        return sum(a["balance"] for a in projection.accounts.values())

    history = analysis.projection_history(bank, Balances(), total)
    assert history.index.name == "position"
    assert history["value"].tolist() == [0, 100, 150, 150, 157, 127]
    assert list(history.index) == [1, 2, 3, 4, 5, 6]
    sparse = analysis.projection_history(bank, Balances(), total, every=4)
    assert sparse["value"].tolist() == [150, 127]  # every 4th event, and the last one
    per_account = analysis.projection_history(
        bank, Balances(), lambda p: {k: v["balance"] for k, v in p.accounts.items()})
    assert per_account.loc[6, "a"] == 120 and per_account.loc[6, "b"] == 7

    balances = Balances()
    eslib.ProjectionRunner(bank, balances).run_until_caught_up()
    model = analysis.read_model(balances)
    assert model[["account", "balance"]].values.tolist() == [["a", 120], ["b", 7]]


def test_read_model_of_a_plain_dict_projection(store):
    class Counts(eslib.Projection):
        def __init__(self) -> None:
            self.per_type: dict[str, int] = {}

        def apply(self, event, ctx):
            self.per_type[ctx.type] = self.per_type.get(ctx.type, 0) + 1

    store.append("x-1", [eslib.NewEvent("A"), eslib.NewEvent("B"), eslib.NewEvent("A")])
    counts = Counts()
    eslib.ProjectionRunner(store, counts).run_until_caught_up()
    assert analysis.read_model(counts).values.tolist() == [["A", 2], ["B", 1]]


@pytest.mark.backends("duckdb", "postgres")  # SQL read models
def test_read_model_of_a_sql_projection(bank):
    eslib.ProjectionRunner(bank, BalanceTable()).run_until_caught_up()
    table = analysis.read_model(store=bank, table="bank_balances").sort_values("account")
    assert table[["account", "balance"]].values.tolist() == [["a", 120], ["b", 7]]
    assert str(table["balance"].dtype) == "int64"
    with pytest.raises(eslib.ConfigurationError):
        analysis.read_model(store=bank, table="x; DROP TABLE y")


# -- size ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_million_events_on_duckdb(tmp_path, caplog):
    """1M events become a frame through Arrow, announced first, in bounded memory."""
    import resource

    import pyarrow as pa

    n = 1_000_000
    store = eslib.connect(f"duckdb:///{tmp_path / 'big.duckdb'}")
    try:
        con = store.backend.connection  # type: ignore[attr-defined]
        table = con.sql(
            f"SELECT 'load-' || (i % 1000) AS stream_id, 'Measured' AS type,"
            f" '{{\"value\":' || i || ',\"where\":{{\"site\":\"s' || (i % 7) || '\"}}}}' AS data"
            f" FROM range({n}) t(i)").to_arrow_table()
        assert store.bulk_append(table) == n
        del table
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with caplog.at_level(logging.WARNING, logger="eslib.analysis"):
            frame = analysis.events_frame(store)
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        assert len(frame) == n
        assert list(frame.columns) == [*EVENT_COLUMNS, "value", "where.site"]
        assert str(frame["value"].dtype) == "int64"
        assert frame["value"].iloc[-1] == n - 1
        assert "1,000,000 rows" in caplog.records[0].getMessage()
        assert grown_mb < 2_000, f"peak memory grew by {grown_mb:.0f} MB"
        assert pa.total_allocated_bytes() < 2**31
    finally:
        store.close()
