"""What every ``eslib`` command shares: the group, ``--url``/``--debug``, errors, output.

Errors: an :class:`~eslib.EslibError` (or an OS error such as an unwritable file)
ends the command with one line on stderr and exit code 1; ``--debug`` (or
``ESLIB_DEBUG=1``) lets the traceback through instead. Usage errors keep click's
exit code 2.

Tests and embedding programs can pass ``obj=`` a callable ``url -> EventStore``
to :func:`main`/CliRunner to choose how stores are opened (e.g. a shared
``memory://`` store); by default it is :func:`eslib.connect`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import click

from ..errors import ConfigurationError, EslibError
from ..store import EventStore, connect
from ..urls import DEFAULT_URL, parse_url

F = TypeVar("F", bound=Callable[..., Any])
Connector = Callable[[str | None], EventStore]

DEBUG = "eslib.debug"
URL_HELP = "Store URL (memory://, duckdb:///file.duckdb, postgresql://…). Default: $ESLIB_URL, " \
    "else duckdb:///eslib.duckdb."


class EslibGroup(click.Group):
    """A click group that prints eslib errors as one line and exits with code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # `eslib export | head`: the reader has had enough
            with contextlib.suppress(OSError, ValueError):  # no flush error at exit
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(1)
        except (EslibError, OSError) as exc:
            if ctx.meta.get(DEBUG) or os.environ.get("ESLIB_DEBUG") == "1":
                raise
            click.echo(f"error: {one_line(exc)}", err=True)
            ctx.exit(1)


class Seconds(click.ParamType):
    """A finite number of seconds, >= 0 (or > 0): float() takes "nan" and "-1"."""

    name = "seconds"

    def __init__(self, positive: bool = False) -> None:
        self.positive = positive

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = math.nan
        if not math.isfinite(seconds) or seconds < 0 or (self.positive and seconds == 0):
            self.fail(f"{value!r} is not a number of seconds "
                      f"{'> 0' if self.positive else '>= 0'}", param, ctx)
        return seconds


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line."""
    text = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {text}"


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[DEBUG] = True


debug_option = click.option(
    "--debug", is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
    help="Show the full traceback on errors.")
url_option = click.option("--url", metavar="URL", default=None, help=URL_HELP)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def common(command: F) -> F:
    """``--url`` and ``--debug``: the options every command takes."""
    return url_option(debug_option(command))


def open_store(url: str | None, *, existing: bool = False) -> EventStore:
    """Open the store for this command; it is closed when the command ends.

    ``existing``: for commands that only look, a DuckDB file must be there already, or a
    mistyped path would become a new, empty store reported as "0 events".
    """
    ctx = click.get_current_context()
    if existing:
        target = parse_url(url or os.environ.get("ESLIB_URL") or DEFAULT_URL)
        if target.scheme == "duckdb" and target.target != ":memory:" \
                and not os.path.exists(target.target):
            raise ConfigurationError(
                f"no store at {target.target!r}: check the path (create a store with "
                f"`eslib init --url {target}`)")
    box = ctx.find_object(_ConnectorBox)
    store = box.connect(url) if box is not None else connect(url)
    ctx.call_on_close(store.close)
    return store


class _ConnectorBox:
    def __init__(self, connect: Connector) -> None:
        self.connect = connect


def install_connector(ctx: click.Context) -> None:
    """Wrap a callable given as ``obj`` so commands find it (see the module docstring)."""
    if callable(ctx.obj) and not isinstance(ctx.obj, _ConnectorBox):
        ctx.obj = _ConnectorBox(ctx.obj)


def progress(total: int | None, desc: str, unit: str = "ev") -> Any:
    """A tqdm bar on stderr; silent when stderr is not a terminal."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, disable=None, leave=False)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]],
                right: Iterable[int] = ()) -> None:
    """Rows as aligned columns under a header line (``right``: right-aligned column indexes)."""
    text = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in text]) for i, h in enumerate(headers)]
    aligned = set(right)

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if i in aligned else c.ljust(w)
                 for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(parts).rstrip()

    click.echo(line(headers))
    click.echo(line(["-" * w for w in widths]))
    for row in text:
        click.echo(line(row))


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def echo_json(value: object) -> None:
    """One JSON document on one line."""
    click.echo(json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":")))


def parse_json_object(value: str | None, option: str) -> dict[str, Any] | None:
    """A ``--data``/``--metadata`` value as a dict; a usage error when it is not a JSON object."""
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint=option) from None
    if not isinstance(parsed, dict):
        raise click.BadParameter("must be a JSON object like '{\"qty\": 2}'", param_hint=option)
    return parsed
