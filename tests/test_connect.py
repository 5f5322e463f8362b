"""connect(): URL forms, defaults, configuration errors, secrets kept out of messages."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import traceback

import pytest
from click.testing import CliRunner

import eslib
from eslib.cli import cli
from eslib.urls import hide_password, parse_url


def test_memory_url():
    with eslib.connect("memory://") as store:
        assert store.url.scheme == "memory"
        assert "memory" in repr(store)


def test_duckdb_in_memory_and_file(tmp_path):
    with eslib.connect("duckdb:///:memory:") as store:
        store.append("s-1", [eslib.NewEvent("E")])
        assert store.stream_version("s-1") == 1
    path = tmp_path / "x.duckdb"
    with eslib.connect(f"duckdb:///{path}") as store:
        store.append("s-1", [eslib.NewEvent("E")])
    assert path.exists()


def test_default_is_duckdb_file_in_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ESLIB_URL", raising=False)
    with eslib.connect() as store:
        store.append("s-1", [eslib.NewEvent("E")])
        assert store.url.scheme == "duckdb"
    assert (tmp_path / "eslib.duckdb").exists()


def test_eslib_url_environment_variable(monkeypatch):
    monkeypatch.setenv("ESLIB_URL", "memory://")
    with eslib.connect() as store:
        assert store.url.scheme == "memory"


@pytest.mark.parametrize(
    "url",
    ["mysql://x/y", "sqlite:///a.db", "nonsense", "duckdb://", "duckdb:/x", "memory://x",
     "postgresql://host:notaport/db", "postgresql:///db"],
)
def test_bad_urls_raise_configuration_error_naming_accepted_forms(url):
    with pytest.raises(eslib.ConfigurationError) as info:
        eslib.connect(url)
    message = str(info.value)
    assert "duckdb:///" in message or "postgresql://" in message


@pytest.mark.parametrize(
    "url",
    ["postgresql://ann:s3cr3t-pw@127.0.0.1:1/db",
     "postgresql://ann:s3cr3t-pw@host:notaport/db",
     "mysql://ann:s3cr3t-pw@host/db",
     "postgresql://ann@127.0.0.1:1/db?password=s3cr3t-pw"],
)
def test_password_never_in_errors_or_repr(url):
    with pytest.raises(eslib.EslibError) as info:
        eslib.connect(url, connect_timeout=2)
    seen = [str(info.value), repr(info.value)]
    cause = info.value.__cause__
    while cause is not None:  # the chained driver error is shown in tracebacks too
        seen.append(str(cause))
        cause = cause.__cause__
    assert not any("s3cr3t-pw" in text for text in seen), seen


def test_parsed_url_hides_password():
    parsed = parse_url("postgresql://ann:s3cr3t-pw@db.example:5432/events")
    assert "s3cr3t-pw" not in str(parsed) and "s3cr3t-pw" not in repr(parsed)
    assert "ann:***@db.example:5432/events" in str(parsed)
    assert hide_password("postgresql://a:b@h/d?sslmode=require&password=x") == (
        "postgresql://a:***@h/d?sslmode=require&password=***"
    )


def _shown(exc: BaseException) -> str:
    """Everything a user may see of an error: message, repr, and the --debug traceback with
    every chained __cause__ and __context__ (even a suppressed one)."""
    seen = [str(exc), repr(exc), *traceback.format_exception(exc)]
    chained = exc.__cause__ or exc.__context__
    while chained is not None:
        seen += [str(chained), repr(chained)]
        chained = chained.__cause__ or chained.__context__
    return "\n".join(seen)


# each URL is malformed in a way that made libpq or urlsplit quote the password
BAD_POSTGRES_URLS = {
    "postgresql://postgres:ab/cdSECRET@127.0.0.1:5432/db": "%2F",  # "/" in the password
    "postgresql://postgres:sec%zzretSECRET@127.0.0.1:5432/db": "%25",  # bad percent-escape
    "postgresql://postgres:a%00SECRET@127.0.0.1:5432/db": "%25",
    "postgresql://postgres:p@ssSECRET@127.0.0.1:5432/db": "%40",  # libpq: host "ssSECRET@…"
    "postgresql://127.0.0.1:5432/db?password=sec%zzSECRET": "%25",
    "postgresql://postgres:xSECRET@127.0.0.1:5432/db?bogus=1": "unknown parameter 'bogus'",
    "postgresql://postgres:xSECRET@127.0.0.1:99999/db": "port",
    "postgresql://postgres:12/SECRET@127.0.0.1:5432/db": "%2F",  # "12" reads as a port
}


@pytest.mark.parametrize("url", list(BAD_POSTGRES_URLS))
def test_malformed_postgres_urls_never_show_the_password(url, monkeypatch):
    with pytest.raises(eslib.ConfigurationError) as info:
        eslib.connect(url)
    shown = _shown(info.value)
    assert "SECRET" not in shown, shown
    assert BAD_POSTGRES_URLS[url] in str(info.value)
    assert "postgresql://user[:password]@host[:port]/database" in str(info.value)
    assert "127.0.0.1" in str(info.value)  # the URL is still recognisable
    for args in (["stats", "--url", url], ["doctor", "--url", url],
                 ["copy", "--from", "memory://", "--to", url]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1 and "SECRET" not in result.output, result.output
        assert "Traceback" not in result.output
    monkeypatch.setenv("ESLIB_URL", url)
    result = CliRunner().invoke(cli, ["stats", "--debug"])  # the traceback is let through
    assert isinstance(result.exception, eslib.ConfigurationError)
    assert "SECRET" not in _shown(result.exception) + result.output


def test_postgres_backend_given_a_bad_target_directly_hides_the_password():
    from eslib.backends.postgres import PostgresBackend

    target = "postgresql://postgres:sec%zzSECRET@127.0.0.1:5432/db"
    with pytest.raises(eslib.ConfigurationError) as info:  # (a literal would be in the traceback)
        PostgresBackend(target)
    assert "SECRET" not in _shown(info.value)


@pytest.mark.parametrize("url, shown", [
    ("postgresql://u:ab/cdSECRET@h:5432/db", "postgresql://u:***@h:5432/db"),
    ("postgresql://u:a?b=cSECRET@h/db", "postgresql://u:***@h/db"),  # libpq: up to the 1st @
    ("postgresql://u:p@ssSECRET@h/db", "postgresql://u:***@h/db"),
    ("postgresql://u:my passSECRET@h/db", "postgresql://u:***@h/db"),
    ("postgresql://u:p@h/db?user=a@b", "postgresql://u:***@h/db?user=a@b"),
    ("postgresql://h:5432/db?user=a@b", "postgresql://h:5432/db?user=a@b"),
    ("from postgresql://a:xSECRET@h/d to postgresql://b:ySECRET@h/e",
     "from postgresql://a:***@h/d to postgresql://b:***@h/e"),
    ("grpc://:ab/cdSECRET@h:1", "grpc://:***@h:1"),
])
def test_hide_password_does_not_stop_at_the_first_slash(url, shown):
    assert hide_password(url) == shown


def test_grpc_token_with_a_slash_is_hidden():
    from eslib.urls import grpc_target

    with pytest.raises(eslib.ConfigurationError) as info:
        grpc_target("grpc://ab/cdSECRET@host:1/path")
    assert "SECRET" not in str(info.value)


def test_postgres_url_with_the_host_in_the_query(url):
    """libpq's postgresql:///db?host=… form: no host before the path (urlunsplit broke it)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(make_conninfo(url))
    dbname = params.pop("dbname")
    query = "&".join(f"{key}={value}" for key, value in params.items())
    hostless = f"postgresql:///{dbname}?{query}"
    with eslib.connect(hostless) as store:
        store.append("s-1", [eslib.NewEvent("E")])
        assert store.stream_version("s-1") == 1
        assert str(store.url) == hide_password(hostless)
    result = CliRunner().invoke(cli, ["stats", "--url", hostless])
    assert result.exit_code == 0, result.output


def test_postgres_url_without_a_database_uses_the_user_name_and_says_so(postgres_url):
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(postgres_url)
    port = params.get("port", "5432")
    url = f"postgresql://no_such_db_user_xSECRET@{params['host']}:{port}/"
    assert str(parse_url(url)) == url  # no password: the URL is shown as written
    with pytest.raises(eslib.ConfigurationError) as info:
        eslib.connect(url)
    message = str(info.value)
    assert url in message and "no_such_db_user_x" in message  # a user name, not a secret


def test_duckdb_file_locked_by_another_process(tmp_path):
    path = tmp_path / "locked.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, eslib
            store = eslib.connect("duckdb:///{path}")
            print("ready", flush=True)
            sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(eslib.StoreLockedError) as info:
            eslib.connect(f"duckdb:///{path}")
        message = str(info.value)
        assert "another process" in message and "PostgreSQL" in message
        assert isinstance(info.value, eslib.ConfigurationError)
        assert info.value.__cause__ is not None
    finally:
        holder.communicate("", timeout=30)


def test_read_only_duckdb_file_is_shared_by_reader_processes(tmp_path):
    path = tmp_path / "shared.duckdb"
    with eslib.connect(f"duckdb:///{path}") as store:
        store.append("s-1", [eslib.NewEvent("E")])
    reader = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, eslib
            store = eslib.connect("duckdb:///{path}", read_only=True)
            print(store.stream_version("s-1"), flush=True)
            sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "1"
        with eslib.connect(f"duckdb:///{path}", read_only=True) as store:
            assert store.stream_version("s-1") == 1
        with pytest.raises(eslib.StoreLockedError):  # no writer while readers hold it
            eslib.connect(f"duckdb:///{path}")
    finally:
        reader.communicate("", timeout=30)


def test_two_stores_on_one_file_in_one_process_share_positions(tmp_path):
    url = f"duckdb:///{tmp_path / 'shared.duckdb'}"
    with eslib.connect(url) as a, eslib.connect(url) as b:
        a.append("s-1", [eslib.NewEvent("E")])
        result = b.append("s-2", [eslib.NewEvent("E")])
        assert result.positions == (2,)
        assert b.stream_version("s-1") == 1
    with eslib.connect(url) as again:
        assert again.head_position() == 2


def test_import_eslib_is_light():
    heavy = ("duckdb", "psycopg", "pandas", "pyarrow", "matplotlib", "ipywidgets", "grpc")
    code = f"import sys, eslib; print(any(m in sys.modules for m in {heavy!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("url, options, message", [
    ("memory://", {"pool_size": 3}, "accepted: none"),
    ("duckdb:///:memory:", {"pool_size": 3}, "accepted: read_only"),
    ("memory://", {"clock": "12:00"}, "clock must be a function"),
    ("memory://", {"id_factory": 5}, "id_factory must be a function"),
])
def test_unknown_options_and_bad_factories_are_configuration_errors(url, options, message):
    with pytest.raises(eslib.ConfigurationError, match=message):
        eslib.connect(url, **options)


def test_an_event_bus_takes_classes_and_callables():
    bus = eslib.EventBus()
    with pytest.raises(eslib.ConfigurationError, match="event class"):
        bus.subscribe("Deposited", print)  # type: ignore[arg-type]
    with pytest.raises(eslib.ConfigurationError, match="callable"):
        bus.subscribe(object, "print")  # type: ignore[arg-type]
    assert bus.handlers_for(int) == []


def test_memory_store_keeps_events_out_of_the_garbage_collectors_walks():
    import gc

    with eslib.connect("memory://") as store:
        store.append("s-1", [eslib.NewEvent("T", {"n": 1, "text": "flat"})])
        gc.collect()
        row = store.backend._log[0]  # type: ignore[attr-defined]
        assert not gc.is_tracked(row)  # a RecordedEvent, a UUID and two dicts per event were
        first = next(iter(store.read_stream("s-1")))
        assert next(iter(store.read_all())) is first  # made once, on the first read
        assert first.id.int == row[3] and first.data == {"n": 1, "text": "flat"}
        first.data["n"] = 2  # a reader's change does not reach the store
        assert store.to_dataframe()["data"].tolist() == ['{"n":1,"text":"flat"}']
