"""``python -m eslib.bench [store|es|postgres|grpc|all] [--quick] [--json PATH]``."""

from __future__ import annotations

from ..cli.bench import bench

if __name__ == "__main__":
    bench(prog_name="python -m eslib.bench")
