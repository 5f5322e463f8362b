"""``eslib bench``: the benchmark suite of :mod:`eslib.bench` from the command line."""

from __future__ import annotations

import click


@click.command()
def bench() -> None:
    """Run the benchmarks (placeholder)."""
