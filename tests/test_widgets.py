"""eslib.widgets without a browser: set a control's value (observers run synchronously) or
click a button, then assert on what the widget shows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import eslib
from eslib.examples.bank import Account, Balances

widgets = pytest.importorskip("eslib.widgets")

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def bank(make_store) -> eslib.EventStore:
    """Accounts a (45 deposits of 1..45) and b (opened), and a stream of another category."""
    store = make_store(clock=eslib.TickingClock(T0, timedelta(seconds=30)))
    accounts = eslib.Repository(store, Account)
    account = accounts.new("a")
    account.open("Ann")
    for amount in range(1, 46):
        account.deposit(amount)
    accounts.save(account, metadata={"by": "test"})
    bob = accounts.new("b")
    bob.open("Bob")
    accounts.save(bob)
    store.append("note-1", [eslib.NewEvent("Noted", {"text": "hello"})])
    return store


# -- StreamExplorer ------------------------------------------------------------------------------


def test_explorer_pages_through_a_stream(bank):
    explorer = widgets.StreamExplorer(bank, page_size=20)
    assert explorer.category_picker.options == ("account", "note")
    assert explorer.category_picker.value == "account"
    assert explorer.stream_picker.options == ("account-a", "account-b")
    assert explorer.stream_id == "account-a"
    assert explorer.pages == 3 and explorer.page == 0
    assert explorer.page_label.value == "events 1-20 of 46"
    assert [e.version for e in explorer.page_events] == list(range(1, 21))
    assert explorer.previous_button.disabled and not explorer.next_button.disabled

    explorer.next_button.click()
    explorer.next_button.click()
    assert explorer.page == 2
    assert explorer.page_label.value == "events 41-46 of 46"
    assert explorer.next_button.disabled
    explorer.previous_button.click()
    assert explorer.page_label.value == "events 21-40 of 46"


def test_explorer_shows_one_events_data_and_metadata(bank):
    explorer = widgets.StreamExplorer(bank)
    assert explorer.selected is not None and explorer.selected.type == "AccountOpened"
    assert '"owner": "Ann"' in explorer.detail_text
    explorer.event_picker.value = 3
    assert explorer.selected.version == 3 and explorer.selected.data == {"amount": 2}
    assert '"amount": 2' in explorer.detail_text
    assert '"by": "test"' in explorer.detail_text  # metadata
    assert "eslib-event" in explorer.detail.value and "amount" in explorer.detail.value


def test_explorer_picks_category_and_stream(bank):
    explorer = widgets.StreamExplorer(bank)
    explorer.stream_picker.value = "account-b"
    assert explorer.page_label.value == "events 1-1 of 1"
    assert '"owner": "Bob"' in explorer.detail_text
    explorer.category_picker.value = "note"
    assert explorer.stream_id == "note-1"
    assert '"text": "hello"' in explorer.detail_text
    explorer.show("account-a")
    assert explorer.category_picker.value == "account" and explorer.stream_id == "account-a"
    with pytest.raises(eslib.ConfigurationError):
        explorer.show("account-zz")


def test_explorer_offers_a_bounded_list_of_streams(bank):
    bank.append("account-c", [eslib.NewEvent("AccountOpened", {"owner": "Cy"})])
    explorer = widgets.StreamExplorer(bank, max_streams=2)
    assert explorer.stream_picker.options == ("account-a", "account-b")
    assert explorer.hidden_streams == 1
    explorer.search.value = "-c"
    assert explorer.stream_picker.options == ("account-c",)
    assert explorer.stream_id == "account-c"


def test_explorer_of_an_empty_store_and_refresh(store):
    explorer = widgets.StreamExplorer(store)
    assert explorer.category_picker.options == ()
    assert explorer.page_events == [] and explorer.detail_text == ""
    store.append("order-1", [eslib.NewEvent("OrderPlaced", {"sku": "A"})])
    explorer.refresh()
    assert explorer.stream_id == "order-1"
    assert '"sku": "A"' in explorer.detail_text


# -- TimeTravel ----------------------------------------------------------------------------------


def test_time_travel_shows_the_state_at_each_version(bank):
    travel = widgets.TimeTravel(eslib.Repository(bank, Account), "a")
    assert (travel.slider.min, travel.slider.max, travel.version) == (1, 46, 46)
    assert travel.state["balance"] == sum(range(1, 46))
    travel.slider.value = 1
    assert travel.state["balance"] == 0 and travel.state["owner"] == "Ann"
    assert travel.event.type == "AccountOpened"
    assert "balance: 0" in travel.state_text
    assert "AccountOpened" in travel.event_text and '"owner": "Ann"' in travel.event_text
    travel.slider.value = 4
    assert travel.state["balance"] == 1 + 2 + 3
    assert travel.event.data == {"amount": 3}
    assert "balance: 6" in travel.state_view.value
    travel.back_button.click()
    assert travel.version == 3 and travel.state["balance"] == 3
    travel.forward_button.click()
    travel.forward_button.click()
    assert travel.version == 5


def test_time_travel_refresh_follows_new_events(bank):
    accounts = eslib.Repository(bank, Account)
    travel = widgets.TimeTravel(accounts, "b")
    assert travel.version == 1
    bob = accounts.get("b")
    bob.deposit(10)
    accounts.save(bob)
    travel.refresh()
    assert travel.version == 2 and travel.state["balance"] == 10


def test_time_travel_of_an_unknown_aggregate(bank):
    travel = widgets.TimeTravel(eslib.Repository(bank, Account), "nobody")
    assert travel.slider.disabled
    assert "no events" in travel.state_text


def test_explorer_shows_a_stream_past_max_streams_and_refuses_bad_arguments(bank):
    for n in range(3):
        bank.append(f"order-{n}", [eslib.NewEvent("Placed")])
    explorer = widgets.StreamExplorer(bank, max_streams=2, stream_id="order-2")
    assert explorer.stream_id == "order-2" and explorer.page_events[0].type == "Placed"
    for missing in ("nope-1", "order-9"):
        with pytest.raises(eslib.ConfigurationError, match="no stream"):
            explorer.show(missing)
    for bad in ("", 5):
        with pytest.raises(eslib.InvalidEvent):
            explorer.show(bad)  # type: ignore[arg-type]
    for size in ("3", None, 2.5, 0):
        with pytest.raises(eslib.ConfigurationError, match="page_size"):
            widgets.StreamExplorer(bank, page_size=size)  # type: ignore[arg-type]


# -- ProjectionMonitor ---------------------------------------------------------------------------


def test_projection_monitor_catches_up_page_by_page(bank):
    runner = eslib.ProjectionRunner(bank, Balances(), page_size=10)
    monitor = widgets.ProjectionMonitor(runner)
    assert (monitor.checkpoint, monitor.head, monitor.lag) == (0, 48, 48)
    assert monitor.progress.value == 0 and monitor.progress.max == 48
    assert "lag 48" in monitor.status_text
    runner.step()
    monitor.refresh()
    assert monitor.checkpoint == 10 and monitor.progress.value == 10 and monitor.lag == 38
    assert monitor.catch_up() == 37  # the note is not a Balances event
    assert monitor.checkpoint == 47 and monitor.head == 48
    assert monitor.rate > 0
    assert "events/s" in monitor.status_text
    bank.append("account-b", [eslib.NewEvent("Deposited", {"amount": 5})])
    monitor.refresh()
    assert monitor.head == 49 and monitor.lag == 2


def test_projection_monitor_button_catches_up_in_a_thread(bank):
    balances = Balances()
    monitor = widgets.ProjectionMonitor(eslib.ProjectionRunner(bank, balances, page_size=5))
    monitor.catch_up_button.click()
    monitor._thread.join(30)
    assert monitor.error is None
    assert balances.accounts["a"]["balance"] == sum(range(1, 46))
    assert not monitor.catch_up_button.disabled and monitor.stop_button.disabled
    assert monitor.progress.value == 47
    monitor.stop_button.click()  # nothing running: harmless


def test_catch_up_while_the_button_runs_waits_instead_of_applying_twice(bank):
    balances = Balances()
    runner = eslib.ProjectionRunner(bank, balances, page_size=1)  # 48 pages: time to overlap
    monitor = widgets.ProjectionMonitor(runner)
    monitor.catch_up_button.click()
    monitor.catch_up()  # the notebook's next cell, while the thread still runs
    monitor._thread.join(30)
    assert monitor.error is None and runner.processed == 47
    assert balances.accounts["a"]["balance"] == sum(range(1, 46))


def test_projection_monitor_stops_when_asked(bank):
    monitor = widgets.ProjectionMonitor(eslib.ProjectionRunner(bank, Balances(), page_size=1))
    assert monitor.catch_up(max_seconds=0) == 1  # one page, then the time is up
    monitor._stopping.set()
    monitor.stop()
    assert monitor.checkpoint == 1


# -- the Voilà dashboard (served for real in test_browser.py) ------------------------------------


def test_dashboard_command_and_store(monkeypatch):
    from eslib import dashboard

    assert dashboard.NOTEBOOK.exists()
    argv = dashboard.command(port=9999, token="t")
    assert argv[1:4] == ["-m", "voila", str(dashboard.NOTEBOOK)]
    assert {"--port=9999", "--token=t", "--no-browser", "--Voila.ip=127.0.0.1"} <= set(argv)
    monkeypatch.setenv(dashboard.DEMO_ENV, "1")
    with dashboard.open_store() as demo:
        assert demo.head_position() > 1000
        explorer = widgets.StreamExplorer(demo, page_size=15)
        assert explorer.stream_id == "account-A01" and explorer.pages == 2
    monkeypatch.setenv(dashboard.DEMO_ENV, "0")
    monkeypatch.setenv("ESLIB_URL", "memory://")
    with dashboard.open_store() as store:
        assert store.url.scheme == "memory"


def test_dashboard_opens_a_duckdb_file_read_only_so_visitors_share_it(monkeypatch, tmp_path):
    import subprocess
    import sys

    from eslib import dashboard

    url = f"duckdb:///{tmp_path / 'shop.duckdb'}"
    with eslib.connect(url) as store:
        store.append("s-1", [eslib.NewEvent("E")])
    monkeypatch.delenv(dashboard.DEMO_ENV, raising=False)
    monkeypatch.setenv("ESLIB_URL", url)
    with dashboard.open_store() as mine:  # another visitor's kernel is another process
        other = subprocess.run(
            [sys.executable, "-c", "from eslib import dashboard; "
             "print(dashboard.open_store().stream_version('s-1'))"],
            capture_output=True, text=True, timeout=60)
        assert other.stdout.strip() == "1", other.stderr
        with pytest.raises(eslib.ConfigurationError, match="read_only"):
            mine.append("s-1", [eslib.NewEvent("E")])
