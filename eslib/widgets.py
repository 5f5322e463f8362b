"""Interactive explorers for JupyterLab and Voilà (ipywidgets, in the notebooks extra).

* :class:`StreamExplorer` — pick a category and a stream, page through its events,
  see one event's data and metadata;
* :class:`TimeTravel` — a slider over an aggregate's versions: its state at each
  version and the event that produced it;
* :class:`ProjectionMonitor` — a projection's checkpoint, its lag behind the head of
  ``read_all``, events/s while catching up, with a progress bar.

Each object shows itself when it is a cell's last expression (``.widget`` is the
ipywidgets box). What it displays is also kept as plain attributes (``detail_text``,
``state_text``, ``status_text``, …) so that tests set a control's ``.value`` (observers
run synchronously) or ``.click()`` a button and assert on them without a browser.
Reads are paged (``page_size`` events at a time); catching up runs in a thread, so a
long catch-up never blocks the kernel.
"""

from __future__ import annotations

import html
import json
import threading
import time
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError
from .events import RecordedEvent, category_of
from .validation import check_stream_id, is_int

try:
    import ipywidgets as w
except ImportError as exc:  # pragma: no cover - ipywidgets is in the notebooks extra
    raise ConfigurationError(
        "eslib.widgets needs ipywidgets: pip install 'eslib[notebooks]'") from exc

if TYPE_CHECKING:
    from .projection import ProjectionRunner
    from .repository import Repository
    from .store import EventStore

__all__ = ["ProjectionMonitor", "StreamExplorer", "TimeTravel"]


class _Shown:
    """Displays as its ``widget``."""

    widget: w.Box

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def _pre(text: str, css_class: str) -> str:
    return f'<pre class="{css_class}" style="margin:0">{html.escape(text)}</pre>'


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def _describe(event: RecordedEvent) -> str:
    return (f"v{event.version}  {event.type}  at {event.recorded_at:%Y-%m-%d %H:%M:%S} UTC"
            f"  (position {event.position})")


class StreamExplorer(_Shown):
    """Browse streams: category → stream → a page of events → one event's data and metadata.

    At most ``max_streams`` stream ids are offered at once; type in ``search`` to narrow
    them. ``page_size`` events are read per page.
    """

    def __init__(self, store: EventStore, *, page_size: int = 20, max_streams: int = 500,
                 stream_id: str | None = None) -> None:
        if not is_int(page_size, 1) or not is_int(max_streams, 1):
            raise ConfigurationError(f"page_size and max_streams must be ints >= 1, got "
                                     f"{page_size!r} and {max_streams!r}")
        self.store = store
        self.page_size = page_size
        self.max_streams = max_streams
        self.page = 0  #: the page shown, from 0
        self.pages = 0  #: how many pages the stream has
        self.page_events: list[RecordedEvent] = []  #: the events of the page shown
        self.selected: RecordedEvent | None = None  #: the event whose details are shown
        self.detail_text = ""  #: the data and metadata shown, as text
        self._streams: dict[str, list[str]] = {}
        self.hidden_streams = 0

        self.category_picker = w.Dropdown(description="category")
        self.search = w.Text(description="search", placeholder="part of a stream id")
        self.stream_picker = w.Dropdown(description="stream")
        self.previous_button = w.Button(description="◀ previous", disabled=True)
        self.next_button = w.Button(description="next ▶", disabled=True)
        self.page_label = w.Label()
        self.event_picker = w.Select(rows=min(page_size, 12), layout=w.Layout(width="100%"))
        self.detail = w.HTML()
        self.widget = w.VBox([
            w.HBox([self.category_picker, self.search]),
            self.stream_picker,
            w.HBox([self.previous_button, self.next_button, self.page_label]),
            self.event_picker, self.detail,
        ])
        self.category_picker.observe(lambda _: self._list_streams(), names="value")
        self.search.observe(lambda _: self._list_streams(), names="value")
        self.stream_picker.observe(lambda _: self.show_page(0), names="value")
        self.event_picker.observe(lambda _: self._select(), names="value")
        self.previous_button.on_click(lambda _: self.show_page(self.page - 1))
        self.next_button.on_click(lambda _: self.show_page(self.page + 1))
        self.refresh()
        if stream_id is not None:
            self.show(stream_id)

    @property
    def stream_id(self) -> str | None:
        return self.stream_picker.value

    def refresh(self) -> None:
        """Read the stream ids again (new streams appear)."""
        streams: dict[str, list[str]] = {}
        for stream_id in self.store.streams():
            streams.setdefault(category_of(stream_id), []).append(stream_id)
        self._streams = streams
        current = self.category_picker.value
        self.category_picker.options = sorted(streams)
        if current in streams:
            self._list_streams()
        else:  # the observer lists the category's streams
            self.category_picker.value = min(streams) if streams else None

    def show(self, stream_id: str) -> None:
        """Pick ``stream_id`` (in its category) and show its first page."""
        check_stream_id(stream_id)
        category = category_of(stream_id)
        if stream_id not in self._streams.get(category, ()):
            raise ConfigurationError(f"no stream {stream_id!r} in {self.store.url}")
        self.category_picker.value = category
        # searched for, so that it is offered even past max_streams
        self.search.value = "" if stream_id in self.stream_picker.options else stream_id
        self.stream_picker.value = stream_id

    def _list_streams(self) -> None:
        streams = self._streams.get(self.category_picker.value, [])
        needle = self.search.value.strip()
        if needle:
            streams = [s for s in streams if needle in s]
        shown = streams[:self.max_streams]
        self.hidden_streams = len(streams) - len(shown)  #: streams not offered: search for them
        before = self.stream_picker.value
        self.stream_picker.options = shown
        self.stream_picker.tooltip = (
            f"{self.hidden_streams:,} more: search to narrow" if self.hidden_streams else None)
        if before in shown:
            self.stream_picker.value = before
        elif shown:
            self.stream_picker.value = shown[0]
        else:
            self.stream_picker.value = None
        if self.stream_picker.value == before:  # no change event: show the page anew
            self.show_page(self.page)

    def show_page(self, page: int) -> None:
        """Show page ``page`` (from 0) of the chosen stream."""
        stream_id = self.stream_id
        total = self.store.stream_version(stream_id) if stream_id else 0
        self.pages = max(1, -(-total // self.page_size))
        self.page = min(max(page, 0), self.pages - 1)
        self.page_events = list(self.store.read_stream(
            stream_id, self.page * self.page_size + 1, limit=self.page_size)
        ) if stream_id and total else []
        first = self.page * self.page_size + 1
        self.page_label.value = (
            f"events {first}-{first + len(self.page_events) - 1} of {total}" if total
            else "no events")
        self.previous_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.pages - 1
        self.event_picker.options = [(_describe(e), e.version) for e in self.page_events]
        self.event_picker.value = self.page_events[0].version if self.page_events else None
        self._select()

    def _select(self) -> None:
        version = self.event_picker.value
        self.selected = next((e for e in self.page_events if e.version == version), None)
        if self.selected is None:
            self.detail_text = ""
            self.detail.value = ""
            return
        event = self.selected
        self.detail_text = (f"{event.stream_id} {_describe(event)}\nid {event.id}\n"
                            f"data {_json(event.data)}\nmetadata {_json(event.metadata)}")
        self.detail.value = _pre(self.detail_text, "eslib-event")


class TimeTravel(_Shown):
    """A slider over an aggregate's versions: its state after each event, and that event.

    ``repository.get(id, version=v)`` rebuilds each state (from a snapshot when the
    repository keeps them); the slider reports when released, not while dragged.
    """

    def __init__(self, repository: Repository[Any], id: Any) -> None:
        self.repository = repository
        self.id = id
        self.stream_id: str = repository.aggregate_class.stream_id_for(id)
        self.aggregate: Any = None  #: the aggregate at the version shown
        self.state: dict[str, Any] = {}  #: its snapshot_state()
        self.event: RecordedEvent | None = None  #: the event that made this version
        self.state_text = ""  #: the state shown, as text
        self.event_text = ""  #: the event shown, as text

        self.slider = w.IntSlider(description="version", min=0, max=0, value=0,
                                  continuous_update=False, layout=w.Layout(width="60%"))
        self.back_button = w.Button(description="◀", layout=w.Layout(width="3em"))
        self.forward_button = w.Button(description="▶", layout=w.Layout(width="3em"))
        self.event_view = w.HTML()
        self.state_view = w.HTML()
        self.widget = w.VBox([
            w.HBox([self.slider, self.back_button, self.forward_button]),
            w.HTML(f"<b>{html.escape(self.stream_id)}</b>"),
            self.event_view, self.state_view,
        ])
        self.slider.observe(lambda change: self.show(change["new"]), names="value")
        self.back_button.on_click(lambda _: self._step(-1))
        self.forward_button.on_click(lambda _: self._step(1))
        self.refresh()

    @property
    def version(self) -> int:
        return self.slider.value

    def refresh(self) -> None:
        """Read the stream's version again and show the latest state."""
        latest = self.repository.store.stream_version(self.stream_id)
        if latest == 0:
            self.slider.disabled = True
            self.state_text = f"{self.stream_id} has no events"
            self.state_view.value = _pre(self.state_text, "eslib-state")
            return
        self.slider.disabled = False
        if self.slider.value == latest:
            self.show(latest)
            return
        with self.slider.hold_trait_notifications():  # one change event, not one per bound
            self.slider.max = latest
            self.slider.min = 1
            self.slider.value = latest  # the observer shows it

    def _step(self, delta: int) -> None:
        self.slider.value = min(max(self.slider.value + delta, self.slider.min), self.slider.max)

    def show(self, version: int) -> None:
        """Show the state after event ``version`` (the slider calls this)."""
        if version < 1:
            return
        self.aggregate = self.repository.get(self.id, version=version)
        self.state = self.aggregate.snapshot_state()
        self.event = next(iter(self.repository.store.read_stream(
            self.stream_id, version, limit=1)), None)
        self.state_text = "\n".join(f"{k}: {_json(v)}" for k, v in self.state.items())
        self.event_text = "" if self.event is None else (
            f"{_describe(self.event)}\n{_json(self.event.data)}")
        self.event_view.value = _pre(self.event_text, "eslib-event")
        self.state_view.value = _pre(self.state_text, "eslib-state")


class ProjectionMonitor(_Shown):
    """Checkpoint, lag behind the head of ``read_all`` and catch-up speed of a projection.

    ``catch_up()`` runs the runner page by page in the calling thread, updating the
    display after each page; the *catch up* button does the same in a thread (so the
    kernel stays free), *stop* ends it after the current page.
    """

    def __init__(self, runner: ProjectionRunner) -> None:
        self.runner = runner
        self.store = runner.store
        self.checkpoint = 0  #: the projection's last applied position
        self.head = 0  #: the store's head position
        self.rate = 0.0  #: events/s during the last catch-up
        self.status_text = ""  #: the status line shown
        self.error: BaseException | None = None  #: why a background catch-up stopped
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._stepping = threading.Lock()  # one catch-up at a time: two would apply a page twice

        self.progress = w.IntProgress(min=0, max=1, value=0, description=runner.name[:16],
                                      layout=w.Layout(width="60%"))
        self.status = w.HTML()
        self.catch_up_button = w.Button(description="catch up", icon="play")
        self.stop_button = w.Button(description="stop", icon="stop", disabled=True)
        self.refresh_button = w.Button(description="refresh", icon="refresh")
        self.widget = w.VBox([self.progress, self.status, w.HBox(
            [self.catch_up_button, self.stop_button, self.refresh_button])])
        self.catch_up_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.refresh_button.on_click(lambda _: self.refresh())
        self.refresh()

    @property
    def lag(self) -> int:
        """Positions between the checkpoint and the head."""
        return max(self.head - self.checkpoint, 0)

    def refresh(self, note: str = "") -> None:
        """Read the checkpoint and the head again and update the display."""
        self.checkpoint = self.runner.checkpoint()
        self.head = self.store.head_position()
        self.progress.max = max(self.head, 1)
        self.progress.value = min(self.checkpoint, self.progress.max)
        caught_up = "caught up" if self.lag == 0 else f"lag {self.lag:,}"
        rate = f", {self.rate:,.0f} events/s" if self.rate else ""
        self.status_text = (f"{self.runner.name}: checkpoint {self.checkpoint:,} of head "
                            f"{self.head:,}, {caught_up}{rate}{note}")
        self.status.value = _pre(self.status_text, "eslib-monitor")

    def catch_up(self, max_seconds: float | None = None) -> int:
        """Apply pages until caught up (or ``max_seconds`` passed, or ``stop()``);
        returns how many events were applied. One already running in the background (the
        button) is waited for first."""
        with self._stepping:
            return self._catch_up(max_seconds)

    def _catch_up(self, max_seconds: float | None) -> int:
        self._stopping.clear()
        start, applied = time.perf_counter(), 0
        before = self.runner.processed
        while not self._stopping.is_set():
            read = self.runner.step()
            applied = self.runner.processed - before
            elapsed = time.perf_counter() - start
            self.rate = applied / elapsed if elapsed > 0 and applied else self.rate
            self.refresh()
            if not read or (max_seconds is not None and elapsed >= max_seconds):
                break
        return applied

    def start(self) -> None:
        """Catch up in a background thread (the *catch up* button)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self.error = None
        self.catch_up_button.disabled, self.stop_button.disabled = True, False
        self._thread = threading.Thread(target=self._run, name=f"eslib-monitor-{self.runner.name}",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.catch_up()
        except Exception as exc:  # shown, not lost in a thread
            self.error = exc
            self.refresh(note=f" — stopped: {exc}")
        finally:
            self.catch_up_button.disabled, self.stop_button.disabled = False, True

    def stop(self, timeout: float = 10.0) -> None:
        """Stop a background catch-up after its current page."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
