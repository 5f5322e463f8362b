"""Pictures of event streams (matplotlib, imported when a plot is drawn).

* :func:`timeline` — one stream's events as marks over time, coloured by type;
* :func:`event_rate` — events per type per period;
* :func:`projection_value` — a projection's value as events are applied;
* :func:`swimlanes` — several streams, one lane each, on a shared time axis.

Each draws on ``ax`` when given (else on a new figure from ``pyplot.subplots``) and
returns the Axes, so the caller can adjust titles, limits or sizes. Times are UTC.
Colours follow the event type, the same type getting the same colour in one plot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import analysis
from .errors import ConfigurationError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from matplotlib.axes import Axes

    from .projection import Projection
    from .store import EventStore

__all__ = ["event_rate", "projection_value", "swimlanes", "timeline"]

_PANDAS_FREQ = {"second": "s", "minute": "min", "hour": "h", "day": "D"}
MAX_LANES = 50  # beyond this a swim-lane plot is unreadable: ask for fewer streams


def timeline(store: EventStore, stream_id: str, *, ax: Axes | None = None) -> Axes:
    """A stream's events over time: x the time recorded, y the version, colour the type."""
    frame = analysis.events_frame(store, stream_id, expand=False)
    ax = _axes(ax)
    colours = _colours(frame["type"])
    for event_type, events in frame.groupby("type", sort=True):
        ax.scatter(_times(events["recorded_at"]), events["version"], s=36,
                   color=colours[str(event_type)], label=str(event_type), zorder=3)
    if len(frame):
        ax.plot(_times(frame["recorded_at"]), frame["version"], color="0.8", lw=1, zorder=2)
        ax.legend(title="type", fontsize="small")
    _decorate(ax, f"{stream_id}: {len(frame)} event(s)", "version")
    _integer_ticks(ax)
    return ax


def event_rate(
    store: EventStore, freq: str = "hour", *, category: str | None = None,
    types: Sequence[str] | None = None, ax: Axes | None = None,
) -> Axes:
    """Events per type per ``freq`` (``minute``, ``hour``, ``day``, …), one line per type."""
    counts = analysis.counts_per_type(store, freq, category=category)
    if types is not None:
        # a string would be read as its characters: as for swimlanes, say so
        if isinstance(types, str):
            raise ConfigurationError(f"types takes a list of event types, got the string "
                                     f"{types!r}; write [{types!r}]")
        counts = counts[counts["type"].isin(list(types))]
    # a period without events of a type is a zero, not a gap to draw a line across
    grid = counts.pivot_table(index="period", columns="type", values="events", aggfunc="sum",
                              fill_value=0)
    if len(grid) and freq in _PANDAS_FREQ:
        import pandas as pd

        full = pd.date_range(grid.index.min(), grid.index.max(), freq=_PANDAS_FREQ[freq])
        if len(full) <= 100_000:  # else too fine a grid to draw: keep the observed periods
            grid = grid.reindex(full, fill_value=0)
    ax = _axes(ax)
    colours = _colours(grid.columns)
    times = _times(grid.index.to_series())
    for event_type in grid.columns:
        ax.plot(times, grid[event_type].to_numpy(), marker="o", ms=3,
                color=colours[str(event_type)], label=str(event_type))
    if len(grid):
        ax.legend(title="type", fontsize="small")
    where = f" in {category}" if category else ""
    _decorate(ax, f"events per {freq}{where}", f"events per {freq}")
    ax.set_ylim(bottom=0)
    _integer_ticks(ax)
    return ax


def projection_value(
    store: EventStore, projection: Projection, value: Callable[[Any], Any], *,
    every: int = 1, ax: Axes | None = None, label: str | None = None,
) -> Axes:
    """Fold ``projection`` over the log and draw ``value(projection)`` after each event
    (a step line; one line per key when ``value`` returns a dict).

    See :func:`eslib.analysis.projection_history`, which computes the points.
    """
    history = analysis.projection_history(store, projection, value, every=every)
    ax = _axes(ax)
    columns = [c for c in history.columns if c != "recorded_at"]
    colours = _colours(history.columns)
    times = _times(history["recorded_at"])
    for column in columns:
        ax.step(times, history[column], where="post", marker=".", color=colours[str(column)],
                label=label if column == "value" and label else str(column))
    if len(history) and (len(columns) > 1 or label):
        ax.legend(fontsize="small")
    _decorate(ax, f"{projection.name} over {len(history)} event(s)", label or "value")
    return ax


def swimlanes(
    store: EventStore, stream_ids: Sequence[str] | None = None, *,
    category: str | None = None, ax: Axes | None = None,
) -> Axes:
    """Several streams on one time axis, one lane each, marks coloured by type.

    Give ``stream_ids``, or a ``category`` to draw its streams (at most
    :data:`MAX_LANES`).
    """
    if stream_ids is None:
        if category is None:
            raise ConfigurationError("swimlanes needs stream_ids or a category")
        frame = analysis.events_frame(store, category=category, expand=False)
        stream_ids = sorted(frame["stream_id"].unique())
    elif isinstance(stream_ids, str):  # list("account-1") would draw a lane per character
        raise ConfigurationError(f"swimlanes takes a list of stream ids, got the string "
                                 f"{stream_ids!r}; write [{stream_ids!r}]")
    else:
        stream_ids = list(dict.fromkeys(stream_ids))  # a repeated id is one lane
        frames = [analysis.events_frame(store, s, expand=False) for s in stream_ids]
        import pandas as pd

        frame = pd.concat(frames) if frames else analysis.events_frame(store, limit=0)
    if len(stream_ids) > MAX_LANES:
        raise ConfigurationError(
            f"{len(stream_ids)} streams are too many lanes (at most {MAX_LANES}); pick some")
    ax = _axes(ax)
    lane = {s: i for i, s in enumerate(stream_ids)}
    colours = _colours(frame["type"])
    for event_type, events in frame.groupby("type", sort=True):
        ax.scatter(_times(events["recorded_at"]), events["stream_id"].map(lane), marker="|",
                   s=220, linewidths=2.5, color=colours[str(event_type)], label=str(event_type))
    ax.set_yticks(range(len(stream_ids)), [str(s) for s in stream_ids])
    ax.set_ylim(len(stream_ids) - 0.5, -0.5)  # first stream on top
    if len(frame):
        ax.legend(title="type", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    _decorate(ax, f"{len(stream_ids)} stream(s), {len(frame)} event(s)", "")
    return ax


# -- helpers ---------------------------------------------------------------------------------


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - matplotlib is in the notebooks extra
        raise ConfigurationError(
            "plots need matplotlib: pip install 'eslib[notebooks]'") from exc
    _, ax = plt.subplots(figsize=(8, 3.5), layout="constrained")
    return ax


def _colours(labels: Any) -> dict[str, Any]:
    """One colour per distinct label, in sorted order, from a qualitative colour map."""
    from matplotlib import colormaps

    names = sorted({str(x) for x in labels})
    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {name: cmap(i % cmap.N) for i, name in enumerate(names)}


def _times(series: pd.Series) -> np.ndarray:
    # naive UTC datetime64: matplotlib's own date converter, no pandas tz machinery
    return series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()


def _integer_ticks(ax: Axes) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _decorate(ax: Axes, title: str, ylabel: str) -> None:
    import matplotlib.dates as mdates

    ax.set_title(title, fontsize="medium")
    ax.set_ylabel(ylabel)
    ax.set_xlabel("recorded at (UTC)")
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.grid(True, axis="x", color="0.92")
