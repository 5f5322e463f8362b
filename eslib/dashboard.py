"""The stream explorer as a standalone web dashboard, served by Voilà.

::

    python -m eslib.dashboard                      # the store at $ESLIB_URL (else the default)
    python -m eslib.dashboard duckdb:///shop.duckdb --port 8866
    python -m eslib.dashboard --demo               # generated bank and shop events, in memory

The dashboard is the notebook ``eslib/dashboards/explorer.ipynb``: Voilà runs it in a
fresh kernel for each visitor and shows its widgets without the code. The kernel opens
its store with :func:`open_store`, which reads what this command put in its environment.
Needs the notebooks extra (voila, ipywidgets).
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import EventStore

NOTEBOOK = Path(__file__).resolve().parent / "dashboards" / "explorer.ipynb"
DEMO_ENV = "ESLIB_DASHBOARD_DEMO"  # "1": the kernel serves demo data instead of $ESLIB_URL


def open_store() -> EventStore:
    """The store the dashboard shows: demo data when ``$ESLIB_DASHBOARD_DEMO=1``, else
    ``eslib.connect()`` ($ESLIB_URL, else the embedded default); a DuckDB file read-only, so
    that every visitor's kernel (a process each) can open it."""
    from .store import connect
    from .urls import DEFAULT_URL, parse_url

    if os.environ.get(DEMO_ENV) == "1":
        return demo_store()
    url = os.environ.get("ESLIB_URL") or DEFAULT_URL
    target = parse_url(url)
    if target.scheme == "duckdb" and target.target != ":memory:":
        # every visitor's kernel is a process: read-only, they (and none writing) share it
        return connect(url, read_only=True)
    return connect(url)


def demo_store() -> EventStore:
    """An in-memory store with the generated bank and shop histories (a few thousand events)."""
    from . import datasets
    from .store import connect

    store = connect("memory://")
    for system in ("banking", "ecommerce"):
        datasets.load(store, system)
    return store


def command(notebook: Path = NOTEBOOK, *, port: int = 8866, ip: str = "127.0.0.1",
            token: str | None = None, open_browser: bool = False) -> list[str]:
    """The ``voila`` command line serving ``notebook``."""
    argv = [sys.executable, "-m", "voila", str(notebook), f"--port={port}",
            f"--Voila.ip={ip}", "--theme=light"]
    if token is not None:
        argv.append(f"--token={token}")
    if not open_browser:
        argv.append("--no-browser")
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eslib.dashboard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?", help="store URL (default: $ESLIB_URL, else the "
                        "embedded default)")
    parser.add_argument("--demo", action="store_true", help="serve generated demo data")
    parser.add_argument("--port", type=int, default=8866)
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--token", help="require this token (default: a random one when "
                        "listening beyond loopback, none on 127.0.0.1)")
    parser.add_argument("--open", action="store_true", help="open a browser")
    args = parser.parse_args(argv)
    try:
        import voila  # noqa: F401
    except ImportError:
        parser.error("the dashboard needs Voilà: pip install 'eslib[notebooks]'")
    env = dict(os.environ)
    if args.url:
        env["ESLIB_URL"] = args.url
    env[DEMO_ENV] = "1" if args.demo else "0"
    token = args.token
    if token is None and args.ip not in ("127.0.0.1", "localhost", "::1"):
        token = secrets.token_hex(16)
        print(f"token: {token}", file=sys.stderr)
    try:
        return subprocess.call(command(port=args.port, ip=args.ip, token=token,
                                       open_browser=args.open), env=env)
    except KeyboardInterrupt:  # Voilà got the Ctrl-C too and stops itself
        return 130


if __name__ == "__main__":
    sys.exit(main())
