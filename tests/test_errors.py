"""One exception tree; driver errors translated in one place per backend, cause kept."""

from __future__ import annotations

import inspect
import pickle

import pytest

import eslib
from eslib import errors


def all_error_classes() -> list[type[BaseException]]:
    return [obj for _, obj in inspect.getmembers(errors, inspect.isclass)
            if issubclass(obj, BaseException) and obj.__module__ == errors.__name__]


def test_every_error_derives_from_eslib_error_and_is_in_the_tree():
    tree = errors.__doc__ or ""
    for cls in all_error_classes():
        assert issubclass(cls, eslib.EslibError), cls
        assert cls.__name__ in tree, f"{cls.__name__} missing from the errors.py tree"
        assert getattr(eslib, cls.__name__) is cls, f"{cls.__name__} not exported"


def test_wrong_expected_version_survives_pickling():
    err = eslib.WrongExpectedVersion("order-1", 3, 5)
    again = pickle.loads(pickle.dumps(err))
    assert (again.stream_id, again.expected, again.actual) == ("order-1", 3, 5)
    assert str(again) == str(err)


def test_duckdb_sql_error_is_a_store_error_with_cause():
    import duckdb

    with eslib.connect("duckdb:///:memory:") as store:
        with pytest.raises(eslib.StoreError) as info, store.transaction() as tx:
            tx.execute("SELEC nonsense")
        assert isinstance(info.value.__cause__, duckdb.Error)
        assert "SELEC" in str(info.value)  # the database's own message is shown
        store.append("s-1", [eslib.NewEvent("E")])  # the store still works afterwards
        assert store.stream_version("s-1") == 1


def test_duckdb_unopenable_file_is_a_store_error(tmp_path):
    import duckdb

    path = tmp_path / "notes.duckdb"
    path.write_text("not a database, " * 1000)
    with pytest.raises(eslib.StoreError, match=r"notes\.duckdb") as info:
        eslib.connect(f"duckdb:///{path}")
    assert isinstance(info.value.__cause__, duckdb.Error)
    assert path.read_text() == "not a database, " * 1000


def test_duckdb_translation_maps_each_driver_error():
    import duckdb

    from eslib.backends.duckdb_errors import translate_errors

    cases = [
        (duckdb.IOException('Could not set lock on file "x"'), eslib.StoreLockedError),
        (duckdb.IOException("disk full"), eslib.StoreError),
        (duckdb.CatalogException("no table"), eslib.StoreError),
        (duckdb.ConstraintException("duplicate key"), eslib.StoreError),
        (duckdb.ParserException("syntax"), eslib.StoreError),
    ]
    for driver_error, expected in cases:
        with pytest.raises(expected) as info, translate_errors("test"):
            raise driver_error
        assert info.value.__cause__ is driver_error


def test_closed_store_raises_store_closed_error():
    store = eslib.connect("memory://")
    store.close()
    for call in (lambda: store.read_all(), lambda: store.streams(),
                 lambda: store.stream_version("s-1")):
        with pytest.raises(eslib.StoreClosedError):
            call()


def test_analysis_arguments_of_the_wrong_kind_are_configuration_errors():
    from eslib import analysis

    with eslib.connect("memory://") as store:
        store.append("s-1", [eslib.NewEvent("E")])
        for params in ("s-1", {"a": 1}, 5):
            with pytest.raises(eslib.ConfigurationError, match="list or tuple"):
                analysis.sql(store, "SELECT count(*) FROM eslib_events WHERE stream_id = ?",
                             params)  # type: ignore[arg-type]
        assert analysis.sql(store, "SELECT count(*) AS n FROM eslib_events WHERE "
                            "stream_id = ?", ("s-1",))["n"].tolist() == [1]
        with pytest.raises(eslib.ConfigurationError, match="plain table name"):
            analysis.read_model(store=store, table=3)  # type: ignore[arg-type]
