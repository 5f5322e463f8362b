"""The benchmark suite runs end to end (``--quick``); only the table's shape is checked."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from eslib.bench import library
from eslib.bench.grpc import grpc_rows, operation, targets
from eslib.bench.report import FLOOR, Row, alternating, format_ms
from eslib.bench.store import QUICK
from eslib.cli import cli

HEADER = ["operation", "backend", "implementation", "events/s", "ms", "ratio"]


def run_bench(tmp_path, *args: str) -> tuple[list[list[str]], dict]:
    path = tmp_path / "bench.json"
    result = CliRunner().invoke(cli, ["bench", "--quick", "--json", str(path), *args])
    assert result.exit_code == 0, result.output
    assert "failed" not in result.stdout, result.stdout
    lines = [line for line in result.stdout.splitlines() if line.startswith("|")]
    table = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    assert table[0] == HEADER
    assert all(len(row) == len(HEADER) for row in table)
    return table[2:], json.loads(path.read_text())


def check_store_rows(rows: list[list[str]], backend: str) -> None:
    store_ops = list(QUICK.operations().values())
    mine = [r for r in rows if r[1] == backend and r[0] in store_ops]
    for op in store_ops:
        kinds = {r[2].split(":")[0] for r in mine if r[0] == op}
        assert {"eslib", "raw driver"} <= kinds, (op, kinds)
        raw = next(r for r in mine if r[0] == op and r[2].startswith("raw driver"))
        assert raw[5] == "1.00"
    if library.available() is None:  # the bench extra is installed: its rows are there too
        assert any(r[2].startswith("eventsourcing") for r in mine)
    for row in mine:
        assert float(row[3].replace(",", "")) > 0 and float(row[4].replace(",", "")) > 0


def test_single_appends_alternate_in_rounds_and_do_every_unit():
    calls: list[tuple[str, int]] = []
    seconds = alternating({"a": lambda n: calls.append(("a", n)),
                           "b": lambda n: calls.append(("b", n))}, total=10, rounds=4)
    assert [name for name, _ in calls] == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert [n for name, n in calls if name == "a"] == [3, 3, 2, 2]
    assert sum(n for name, n in calls if name == "b") == 10
    assert set(seconds) == {"a", "b"} and all(s >= 0 for s in seconds.values())


def test_sub_microsecond_steps_keep_two_significant_digits():
    assert [format_ms(ms) for ms in (12.3456, 0.011, 0.0099, 0.00037)] == [
        "12.346", "0.011", "0.0099", "0.00037"]


def test_bench_quick_on_the_embedded_backends(tmp_path):
    rows, document = run_bench(tmp_path, "--backend", "memory", "--backend", "duckdb")
    for backend in ("memory", "duckdb"):
        check_store_rows(rows, backend)
    cycles = [r for r in rows if r[0] == "get+command+save cycle"]
    assert {r[2] for r in cycles} >= {"eslib"}
    if library.available() is None:
        assert any(r[2].startswith("eventsourcing") and r[5] == "1.00" for r in cycles)
    assert document["quick"] is True and document["command"].startswith("eslib bench")
    assert {r["backend"] for r in document["rows"]} == {"memory", "duckdb"}
    assert {r["section"] for r in document["rows"]} == {"store", "es", "grpc"}
    assert any(r[2] == "grpc loopback" and r[1] == "duckdb" for r in rows)
    assert set(document["rows"][0]) >= {"operation", "backend", "implementation",
                                        "events_per_s", "ms", "ratio"}


@pytest.mark.postgres
def test_bench_quick_on_postgres(tmp_path, postgres_url):
    rows, _ = run_bench(tmp_path, "store", "postgres", "--backend", "postgres",
                        "--url", postgres_url)
    check_store_rows(rows, "postgres")
    assert any("postgres section" in r[0] for r in rows)


@pytest.mark.postgres
def test_bench_es_quick_on_postgres_measures_the_cycle_beside_its_floor(tmp_path, postgres_url):
    rows, _ = run_bench(tmp_path, "es", "--backend", "postgres", "--url", postgres_url)
    cycle = [r for r in rows if r[0] == "get+command+save cycle" and r[2] == "eslib"]
    floor = [r for r in rows if r[0] == FLOOR and r[2] == "raw driver: psycopg"]
    assert len(cycle) == len(floor) == 1
    assert float(floor[0][3].replace(",", "")) > 0 and floor[0][5] == "1.00"


def test_bench_grpc_section_in_process_and_through_a_server():
    rows = grpc_rows("memory://", "memory", seconds=0.05, reads=50, clients=(1, 2),
                     rounds=2)
    assert {(r.operation, r.implementation) for r in rows} == {
        (operation("append", 1), "in process"), (operation("append", 1), "grpc loopback"),
        (operation("append", 2), "grpc loopback"), (operation("read_all", 1), "in process"),
        (operation("read_all", 1), "grpc loopback"), (operation("read_all", 2), "grpc loopback")}
    assert all(r.section == "grpc" and r.events_per_s and r.events_per_s > 0 for r in rows)
    assert all(r.ratio is not None for r in rows)


def test_grpc_targets_are_checked_on_postgres_rows():
    def row(n: int, ratio: float) -> Row:
        return Row("grpc", operation("append", n), "postgres", "grpc loopback", 1.0, 1.0, ratio)

    assert targets([row(1, 0.6), row(8, 1.5)]) == [
        "target 1 grpc client >= 50% of in-process appends/s on PostgreSQL: 0.60 met",
        "target 8 grpc clients >= 2x one client's appends/s on PostgreSQL: 1.50 NOT met"]
    assert targets([Row("grpc", operation("append", 1), "memory", "grpc loopback", 1.0, 1.0,
                        0.1)]) == []


def test_es_and_writer_targets_are_checked():
    from eslib.bench import targets as all_targets

    eight = "8 writer process(es), appends (ratio: vs 1)"
    rows = [Row("es", "replay 1000-event aggregate", "memory", "eslib", 600_000.0, 1.7),
            Row("es", "get with snapshot (median)", "duckdb", "eslib", 1.0, 0.2),
            Row("es", "get with snapshot (median)", "postgres", "eslib", 1.0, 1.5),
            Row("es", "get+command+save cycle", "postgres", "eslib", 1_999.0, 0.5),
            Row("es", FLOOR, "postgres", "raw driver: psycopg", 2_600.0, 0.4),
            Row("postgres", eight, "postgres", "eslib", 4_000.0, 2.0, 1.4),
            Row("postgres", eight, "postgres", "raw driver: psycopg", 9_000.0, 0.9, 2.3)]
    assert all_targets(rows) == [
        "target memory replay of a 1,000-event aggregate >= 500k ev/s: 600,000 met",
        "target duckdb get with a snapshot <= 1 ms: 0.200 ms met",
        "target postgres get with a snapshot <= 1 ms: 1.500 ms NOT met",
        "target PostgreSQL get+command+save >= 2k/s: 1,999"
        " (the raw driver's SELECT + INSERT: 2,600/s) NOT met",
        "target 8 PostgreSQL writer processes >= 2.5x one: 1.40x"
        " (the raw driver's 8 processes: 2.30x) NOT met"]


@pytest.mark.postgres
def test_bench_grpc_quick_on_postgres(tmp_path, postgres_url):
    rows, _ = run_bench(tmp_path, "grpc", "--backend", "postgres", "--url", postgres_url)
    implementations = {r[2] for r in rows if r[1] == "postgres"}
    assert implementations == {"in process", "in process, 2 processes", "grpc loopback"}


def test_bench_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "eslib.bench", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "python -m eslib.bench" in result.stdout
