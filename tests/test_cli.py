"""The ``eslib`` command line through click's CliRunner, on every backend."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner, Result

import eslib
from eslib import transfer, verification
from eslib.cli import cli
from eslib.copying import copy_events

README = Path(__file__).resolve().parent.parent / "README.md"
COMMANDS = sorted(cli.commands)
T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)


class Cli:
    """Runs ``eslib`` against the test's store; ``url`` names it (memory: a shared store)."""

    def __init__(self, make_store, url: str) -> None:
        self.make_store = make_store
        self.url = url

    def connect(self, url: str | None) -> eslib.EventStore:
        if url in (None, self.url):
            return self.make_store()  # type: ignore[no-any-return]
        return eslib.connect(url)

    def __call__(self, *args: str, code: int = 0, url: bool = True) -> Result:
        argv = [*args, "--url", self.url] if url else list(args)
        result = CliRunner().invoke(cli, argv, obj=self.connect, catch_exceptions=True)
        if result.exit_code != code:
            raise AssertionError(f"eslib {' '.join(argv)} exited {result.exit_code}, not {code}:"
                                 f"\n{result.output}", result.exception)
        return result


@pytest.fixture
def run(make_store, tmp_path, request) -> Cli:
    backend = make_store.backend
    if backend == "memory":
        url = "memory://"
    elif backend == "duckdb":
        url = f"duckdb:///{tmp_path / 'events.duckdb'}"
    else:
        url = request.getfixturevalue("postgres_url")
    return Cli(make_store, url)


def seed(store: eslib.EventStore, streams: int = 3, per_stream: int = 4) -> None:
    """Interleaved streams with metadata, unicode and fixed timestamps."""
    ticks = iter(T0 + timedelta(milliseconds=i) for i in range(10_000))
    clocked = eslib.EventStore(store.backend, store.url, clock=lambda: next(ticks))
    for v in range(per_stream):
        for s in range(streams):
            kind = "order" if s % 2 == 0 else "stock"
            clocked.append(f"{kind}-{s}", [eslib.NewEvent(
                "Placed" if v == 0 else "Changed", {"n": v, "text": "ünï, \"q\"\nline"},
                metadata={"user": "ann"})], v)


def assert_one_line_error(result: Result, name: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {name}: ")
    assert "Traceback" not in result.output


# -- every command is there, documented, with an example -----------------------------------


def test_serve_pool_size_is_for_postgres_only():
    result = CliRunner().invoke(cli, ["serve", "--url", "memory://", "--pool-size", "8"])
    assert result.exit_code == 2 and "--pool-size is for PostgreSQL stores" in result.output


def test_serve_words_errors_like_every_command_and_takes_debug(tmp_path):
    url = f"duckdb:///{tmp_path / 'no-folder' / 'x.duckdb'}"
    result = CliRunner().invoke(cli, ["serve", "--url", url])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert_one_line_error(result, "ConfigurationError")
    debug = CliRunner().invoke(cli, ["serve", "--url", url, "--debug"])
    assert isinstance(debug.exception, eslib.ConfigurationError)


@pytest.mark.parametrize("args", [["stats"], ["streams"], ["read", "s-1"], ["doctor"],
                                  ["export"], ["tail", "--timeout", "0"]])
def test_commands_that_only_look_refuse_a_missing_duckdb_file(tmp_path, args):
    url = f"duckdb:///{tmp_path / 'typo.duckdb'}"
    result = CliRunner().invoke(cli, [*args, "--url", url])
    assert result.exit_code == 1, result.output
    assert "no store at" in result.output and "eslib init" in result.output
    assert list(tmp_path.iterdir()) == []


def test_copy_from_a_missing_duckdb_file_creates_neither_store(tmp_path):
    result = CliRunner().invoke(cli, ["copy", "--from", f"duckdb:///{tmp_path / 'a.duckdb'}",
                                      "--to", f"duckdb:///{tmp_path / 'b.duckdb'}"])
    assert result.exit_code == 1 and "no store at" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_every_command_has_help_with_an_example():
    for name in COMMANDS:
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert "Example: eslib " in result.output, name
        if name != "copy":
            assert "--url" in result.output, name


def test_every_command_is_in_the_readme_command_line_section():
    text = README.read_text()
    assert "## Command line" in text, "README.md needs a '## Command line' section"
    section = text.split("## Command line", 1)[1].split("\n## ", 1)[0]
    missing = [c for c in COMMANDS if not re.search(rf"\beslib {c}\b", section)]
    assert not missing, f"commands not documented in README's Command line section: {missing}"


# -- append, read, streams, stats -------------------------------------------------------------


def test_append_read_streams_stats(run, make_store):
    out = run("append", "order-1", "Placed", "--data", '{"sku": "A1"}',
              "--metadata", '{"user": "ann"}', "--expected-version", "no_stream").stdout
    assert "version 1 (position 1)" in out
    run("append", "order-1", "Paid", "--data", '{"amount": 3}', "--expected-version", "1")
    event_id = str(uuid.uuid4())
    run("append", "stock-A1", "Reserved", "--id", event_id, "--expected-version", "any")
    result = json.loads(run("append", "stock-A1", "Reserved", "--id", event_id, "--json").stdout)
    assert result == {"stream_id": "stock-A1", "version": 1, "positions": [3]}  # idempotent

    table = run("read", "order-1").stdout.splitlines()
    assert table[0].split() == ["version", "position", "recorded", "at", "type", "data"]
    assert "Placed" in table[2] and '{"sku":"A1"}' in table[2] and "Paid" in table[3]
    lines = [json.loads(x) for x in run("read", "order-1", "--json").stdout.splitlines()]
    assert [(e["version"], e["type"], e["data"]) for e in lines] == [
        (1, "Placed", {"sku": "A1"}), (2, "Paid", {"amount": 3})]
    assert lines[0]["metadata"] == {"user": "ann"}
    assert run("read", "order-1", "--backwards", "--limit", "1", "--json").stdout.count("\n") == 1
    assert "no events" in run("read", "nothing-here").stderr

    rows = run("streams").stdout.splitlines()
    assert [r.split()[:2] for r in rows[2:]] == [["order-1", "2"], ["stock-A1", "1"]]
    out = run("streams", "--category", "stock", "--json").stdout
    only = [json.loads(x) for x in out.splitlines()]
    assert [(s["stream_id"], s["events"]) for s in only] == [("stock-A1", 1)]

    figures = json.loads(run("stats", "--json").stdout)
    assert (figures["events"], figures["streams"], figures["types"]) == (3, 2, 3)
    assert figures["events_by_type"] == {"Paid": 1, "Placed": 1, "Reserved": 1}
    if make_store.backend == "memory":
        assert figures["size_bytes"] is None
    else:
        assert figures["size_bytes"] > 0
    assert "events" in run("stats").stdout


def test_errors_are_one_line_with_exit_code_1(run):
    run("append", "order-1", "Placed")
    result = run("append", "order-1", "Placed", "--expected-version", "no_stream", code=1)
    assert_one_line_error(result, "WrongExpectedVersion")
    assert "expected version 0, actual version 1" in result.stderr
    result = run("append", "x" * 300, "Placed", code=1)
    assert_one_line_error(result, "InvalidEvent")


def test_debug_lets_the_traceback_through(run):
    run("append", "order-1", "Placed")
    result = run("append", "order-1", "Placed", "--expected-version", "0", "--debug", code=1)
    assert isinstance(result.exception, eslib.WrongExpectedVersion)


def test_bad_url_and_bad_input():
    result = CliRunner().invoke(cli, ["streams", "--url", "foo://bar"])
    assert result.exit_code == 1
    assert_one_line_error(result, "ConfigurationError")
    for data in ("{not json", "[1, 2]"):
        result = CliRunner().invoke(cli, ["append", "s-1", "T", "--data", data, "--url",
                                          "memory://"])
        assert result.exit_code == 2 and "--data" in result.stderr  # click's usage error
    result = CliRunner().invoke(cli, ["append", "s-1", "T", "--expected-version", "soon"])
    assert result.exit_code == 2 and "soon" in result.stderr


# -- tail ---------------------------------------------------------------------------------


def test_tail_from_a_position_and_live(run, make_store):
    store = make_store()
    seed(store, streams=2, per_stream=2)
    out = run("tail", "--from-position", "2", "--max-events", "2", "--json").stdout
    assert [json.loads(x)["position"] for x in out.splitlines()] == [2, 3]
    assert run("tail", "--timeout", "0.2").stdout == ""  # nothing new: stops on time

    def later() -> None:
        time.sleep(0.3)
        store.append("live-1", [eslib.NewEvent("Arrived", {"n": 1})])

    writer = threading.Thread(target=later)
    writer.start()
    out = run("tail", "--max-events", "1", "--timeout", "20", "--poll", "0.05").stdout
    writer.join()
    assert "live-1@1" in out and "Arrived" in out


def test_tail_stops_cleanly_on_ctrl_c(run, make_store, monkeypatch):
    seed(make_store(), streams=1, per_stream=1)

    def interrupt(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("eslib.cli.inspect._wait", interrupt)
    result = run("tail", "--from-position", "1")
    assert "order-0@1" in result.stdout
    assert "stopped after position 1" in result.stderr and "Traceback" not in result.output


# -- init, doctor -----------------------------------------------------------------------------


def test_init_and_doctor(run, make_store):
    assert "ready: " in run("init").stdout
    out = run("doctor").stdout
    for check in ("reachable", "backend", "schema", "write", "events"):
        assert re.search(rf"^ok\s+{check}\b", out, re.MULTILINE), out
    assert make_store().streams() == []  # the write check was rolled back
    report = json.loads(run("doctor", "--json").stdout)
    assert report["ok"] is True


def test_doctor_reports_an_unreachable_postgres():
    result = CliRunner().invoke(
        cli, ["doctor", "--url", "postgresql://nobody:secret@127.0.0.1:1/none"])
    assert result.exit_code == 1
    assert re.search(r"^FAIL\s+reachable\b", result.stdout, re.MULTILINE)
    assert "secret" not in result.output


# -- export and import ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", transfer.FORMATS)
def test_export_import_round_trip(run, make_store, tmp_path, fmt):
    source = make_store()
    seed(source)
    path = tmp_path / f"events.{fmt}"
    assert "exported 12 events" in run("export", "-o", str(path)).stderr
    target_url = f"duckdb:///{tmp_path / 'copy.duckdb'}"
    imported = run("import", str(path), "--batch-size", "5", "--url", target_url, url=False)
    assert "imported 12 events" in imported.stderr
    with eslib.connect(target_url) as target:
        assert verification.verify(source, target).ok
        first = next(target.read_stream("order-0"))
        assert first.recorded_at == T0 and first.metadata == {"user": "ann"}
    again = run("import", str(path), "--url", target_url, url=False)
    assert "imported 0 events" in again.stderr and "12 already there" in again.stderr


def test_import_resumes_after_an_interruption(run, make_store, tmp_path):
    seed(make_store())
    full = tmp_path / "all.jsonl"
    run("export", "-o", str(full))
    half = tmp_path / "half.jsonl"
    half.write_text("".join(full.read_text().splitlines(keepends=True)[:7]))
    target = f"duckdb:///{tmp_path / 'target.duckdb'}"
    assert "imported 7 events" in run("import", str(half), "--url", target, url=False).stderr
    result = run("import", str(full), "--url", target, url=False)
    assert "imported 5 events" in result.stderr and "7 already there" in result.stderr
    with eslib.connect(target) as store:
        assert verification.verify(make_store(), store).ok


def test_export_a_stream_or_a_category_to_stdout(run, make_store):
    seed(make_store())
    lines = run("export", "--stream", "order-2").stdout.splitlines()
    assert [json.loads(x)["version"] for x in lines] == [1, 2, 3, 4]
    rows = run("export", "--category", "stock", "--format", "csv").stdout.splitlines()
    assert rows[0].startswith('"position","stream_id"') and len(rows) > 4
    assert run("export", "--format", "parquet").stdout_bytes.startswith(b"PAR1")
    run("export", "--stream", "a-1", "--category", "a", code=2)


def test_import_refuses_a_row_whose_version_the_store_holds_with_another_event(run, make_store,
                                                                               tmp_path):
    seed(make_store(), streams=2, per_stream=2)
    full = tmp_path / "all.jsonl"
    run("export", "-o", str(full))
    target = f"duckdb:///{tmp_path / 'target.duckdb'}"
    with eslib.connect(target) as store:  # its order-0@1 is another event
        store.append("order-0", [eslib.NewEvent("Mine", {"mine": True})])
    result = run("import", str(full), "--url", target, url=False, code=1)
    assert_one_line_error(result, "InvalidEvent")
    assert "line 1: stream 'order-0' already holds another event at version 1" in result.stderr
    with eslib.connect(target) as store:
        assert [e.type for e in store.read_all()] == ["Mine"]


def test_import_refuses_a_versioned_row_whose_id_is_stored_elsewhere(run, make_store,
                                                                     tmp_path):
    event_id = str(uuid.uuid4())
    make_store().append("a-1", [eslib.NewEvent("T", {}, id=event_id)])
    path = tmp_path / "moved.jsonl"
    path.write_text(f'{{"stream_id": "b-1", "version": 1, "type": "T", "data": {{}}}}\n'
                    f'{{"stream_id": "b-1", "version": 2, "type": "T", "data": {{}}, '
                    f'"id": "{event_id}"}}\n'
                    f'{{"stream_id": "b-1", "version": 3, "type": "T", "data": {{}}}}\n')
    result = run("import", str(path), code=1)
    assert_one_line_error(result, "DuplicateEventId")
    assert make_store().stream_version("b-1") == 0  # not versions 1 and 2 of three


def test_a_refused_export_leaves_an_existing_file_as_it_was(run, make_store, tmp_path):
    seed(make_store())
    kept = tmp_path / "kept.jsonl"
    kept.write_text("keep me\n")
    assert_one_line_error(run("export", "--stream", "", "-o", str(kept), code=1), "InvalidEvent")
    assert kept.read_text() == "keep me\n" and sorted(p.name for p in tmp_path.iterdir()
                                                      if "partial" in p.name) == []
    run("export", "-o", str(kept))
    assert len(kept.read_text().splitlines()) == 12
    missing = run("export", "-o", str(tmp_path / "no-folder" / "x.jsonl"), code=2)
    assert "does not exist; create it first" in missing.output


def test_export_into_a_closed_pipe_fails(tmp_path):
    import subprocess
    import sys

    url = f"duckdb:///{tmp_path / 'big.duckdb'}"
    with eslib.connect(url) as store:  # ~1 MB of JSON lines: more than a pipe holds
        store.bulk_append(pa.table({"stream_id": [f"s-{i % 9}" for i in range(4000)],
                                    "type": ["T"] * 4000,
                                    "data": ['{"text": "' + "y" * 200 + '"}'] * 4000}))
    for fmt in ("jsonl", "parquet"):
        with subprocess.Popen(
            [sys.executable, "-c", "from eslib.cli import main; main()", "export", "--url", url,
             "--format", fmt],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE) as export:
            assert export.stdout is not None and len(export.stdout.read(10)) == 10
            export.stdout.close()  # `| head -c 10`
            assert export.stderr is not None and b"exported" not in export.stderr.read()
            assert export.wait(timeout=60) == 1, fmt


@pytest.mark.parametrize("args, option", [
    (["tail", "--poll", "-1"], "--poll"), (["tail", "--poll", "nan"], "--poll"),
    (["tail", "--poll", "0"], "--poll"), (["tail", "--timeout", "nan"], "--timeout"),
    (["tail", "--timeout", "-1"], "--timeout"),
    (["tail", "--from-position", str(2**63)], "--from-position"),
    (["read", "s-1", "--limit", str(2**63)], "--limit"),
    (["read", "s-1", "--from-version", "99999999999999999999999"], "--from-version"),
])
def test_bad_numbers_are_usage_errors(run, args, option):
    result = run(*args, code=2)
    assert f"Invalid value for '{option}'" in result.output and "Traceback" not in result.output


def test_read_with_limit_zero_is_not_an_empty_stream(run):
    run("append", "s-1", "T")
    result = run("read", "s-1", "--limit", "0")
    assert result.stdout.splitlines()[0].startswith("version") and "no events" not in result.stderr
    assert len(result.stdout.splitlines()) == 2  # the header and its rule: no event rows


def test_import_of_minimal_files_twice_is_idempotent(run, make_store, tmp_path):
    (tmp_path / "few.jsonl").write_text("".join(
        f'{{"stream_id": "s-{i % 2}", "type": "T", "data": {{"i": {i}}}}}\n' for i in range(5)))
    (tmp_path / "few.csv").write_text('stream_id,type,data\nc-1,T,"{""i"": 1}"\nc-1,T,"{}"\n')
    for name, count in (("few.jsonl", 5), ("few.csv", 2)):
        assert f"imported {count} events" in run("import", str(tmp_path / name)).stderr
        again = run("import", str(tmp_path / name)).stderr
        assert "imported 0 events" in again and f"{count} already there" in again
    store = make_store()
    assert [e.data["i"] for e in store.read_stream("s-1")] == [1, 3]
    assert store.stream_version("c-1") == 2


def test_import_errors_name_the_line(run, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"stream_id": "s-1", "type": "T", "data": {}}\n'
                    '{"stream_id": "s-1", "type": "T", "data": [1]}\n')
    result = run("import", str(path), code=1)
    assert_one_line_error(result, "InvalidEvent")
    assert "line 2" in result.stderr
    (tmp_path / "events.txt").write_text("")
    assert_one_line_error(run("import", str(tmp_path / "events.txt"), code=1), "InvalidEvent")


@pytest.mark.parametrize("name, content, where", [
    ("nan.jsonl", b'{"stream_id": "s-1", "type": "T", "data": {"x": NaN}}\n', "line 1: data"),
    ("surrogate.jsonl", b'{"stream_id": "s-\\udc80", "type": "T", "data": {}}\n',
     "line 1: stream_id"),
    ("type.jsonl", b'{"stream_id": "s-1", "type": "T\\u0000", "data": {}}\n', "line 1: type"),
    ("version.jsonl", b'{"stream_id": "s-1", "type": "T", "version": "2", "data": {}}\n',
     "line 1: version"),
    ("huge.jsonl", b'{"stream_id": "s-1", "type": "T", "data": {}}\n'
                   b'{"stream_id": "s-1", "type": "T", "version": 9223372036854775808, '
                   b'"data": {}}\n', "line 2: version"),
    ("latin1.jsonl", b'{"stream_id": "s-1", "type": "T", "data": {}}\n'
                     b'{"stream_id": "s-1", "type": "T", "data": {"x": "caf\xe9"}}\n',
     "latin1.jsonl:2: not UTF-8"),
    ("version.csv", b"stream_id,type,data,version\ns-1,T,{},two\n", "cannot read it as csv"),
    ("columns.csv", b"a,b\n1,2\n", "no stream_id, type, data column"),
    ("data.csv", b"stream_id,type,data\ns-1,T,{}\ns-1,T,notjson\n", "row 2: data"),
])
def test_import_of_bad_values_is_one_clear_error_and_writes_nothing(run, tmp_path, name,
                                                                       content, where):
    path = tmp_path / name
    path.write_bytes(content)
    result = run("import", str(path), code=1)
    assert_one_line_error(result, "InvalidEvent")
    assert where in result.stderr
    assert run.make_store().head_position() == 0


# -- copy --------------------------------------------------------------------------------------


def _everything(store: eslib.EventStore) -> list[tuple[object, ...]]:
    return [(e.stream_id, e.version, e.id, e.type, e.data, e.metadata, e.recorded_at)
            for e in store.read_all()]


def test_copy_memory_to_duckdb(tmp_path):
    source = eslib.connect("memory://")
    seed(source, streams=5, per_stream=30)
    target_url = f"duckdb:///{tmp_path / 'copy.duckdb'}"
    args = ["copy", "--from", "memory://", "--to", target_url, "--show-streams"]
    result = CliRunner().invoke(cli, args, obj=lambda url: (
        eslib.EventStore(source.backend, source.url) if url == "memory://"
        else eslib.connect(url)))
    assert result.exit_code == 0, result.output
    assert "copied 150 events" in result.stdout
    assert "5 streams, 150 events in the source, 150 in the target, 0 streams differ, " \
        "global order same" in result.stdout
    assert result.stdout.count("ok  ") == 5
    with eslib.connect(target_url) as target:
        assert _everything(target) == _everything(source)


def test_copy_duckdb_to_postgres_and_resume(tmp_path, postgres_url):
    from postgres_server import reset_database

    reset_database(postgres_url)
    source_url = f"duckdb:///{tmp_path / 'source.duckdb'}"
    with eslib.connect(source_url) as source:
        seed(source, streams=4, per_stream=5)
    runner = CliRunner()
    result = runner.invoke(cli, ["copy", "--from", source_url, "--to", postgres_url])
    assert result.exit_code == 0, result.output
    assert "copied 20 events" in result.stdout and "0 streams differ" in result.stdout
    with eslib.connect(source_url) as source:
        source.append("order-0", [eslib.NewEvent("Late", {})], 5)
        result = runner.invoke(cli, ["copy", "--from", source_url, "--to", postgres_url])
        assert result.exit_code == 0, result.output
        assert "copied 1 events" in result.stdout and "(20 already there)" in result.stdout
        with eslib.connect(postgres_url) as target:
            assert _everything(target) == _everything(source)


def test_copy_refuses_a_target_holding_other_events_and_writes_nothing(tmp_path):
    source = eslib.connect("memory://")
    seed(source, streams=2, per_stream=3)
    obj = lambda url: (eslib.EventStore(source.backend, source.url)  # noqa: E731
                       if url == "memory://" else eslib.connect(url))
    target_url = f"duckdb:///{tmp_path / 't.duckdb'}"
    with eslib.connect(target_url) as target:  # its order-0@1 is not the source's
        target.append("order-0", [eslib.NewEvent("Stray", {})])
    result = CliRunner().invoke(cli, ["copy", "--from", "memory://", "--to", target_url],
                                obj=obj)
    assert result.exit_code == 1, result.output
    assert_one_line_error(result, "InvalidEvent")
    assert "already holds other events" in result.stderr and "order-0@1" in result.stderr
    with eslib.connect(target_url) as target:
        assert [e.type for e in target.read_all()] == ["Stray"]
    # a target with more events than the source is not a copy of it either
    with eslib.connect(target_url) as target, pytest.raises(eslib.InvalidEvent,
                                                            match="holds more events"):
        copy_events(eslib.connect("memory://"), target)


def test_copy_resumes_from_a_copied_prefix_whatever_the_page_size(tmp_path):
    source = eslib.connect("memory://")
    seed(source, streams=3, per_stream=10)
    prefix = source.to_arrow(limit=12).select(
        ["stream_id", "type", "data", "metadata", "id", "recorded_at"])
    with eslib.connect(f"duckdb:///{tmp_path / 't.duckdb'}") as target:
        target.bulk_append(prefix)
        report = copy_events(source, target, page=5)
        assert (report.written, report.skipped) == (18, 12)
        assert verification.verify(source, target).ok
        assert _everything(target) == _everything(source)
        again = copy_events(source, target, page=7)
        assert (again.written, again.skipped) == (0, 30)


def test_verify_names_the_streams_that_differ():
    source, target = eslib.connect("memory://"), eslib.connect("memory://")
    seed(source, streams=2, per_stream=2)
    copy_events(source, target)
    target.append("other-1", [eslib.NewEvent("Stray", {})])
    result = verification.verify(source, target)
    assert not result.ok and result.mismatched == ["other-1"]
