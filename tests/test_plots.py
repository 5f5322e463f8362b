"""eslib.plots on every backend: each plot renders to a non-empty PNG (Agg, no display)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

import eslib
from eslib import plots
from eslib.examples.bank import Balances

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from PIL import Image  # noqa: E402

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture
def shop(make_store) -> eslib.EventStore:
    store = make_store(clock=eslib.TickingClock(T0, timedelta(minutes=17)))
    for n in range(1, 6):
        events = [eslib.NewEvent("OrderPlaced", {"total": 10 * n}),
                  eslib.NewEvent("OrderPaid", {"total": 10 * n})]
        if n % 2:
            events.append(eslib.NewEvent("OrderShipped", {}))
        store.append(f"order-{n}", events)
    store.append("account-1", [eslib.NewEvent("AccountOpened", {"owner": "Ann"}),
                               eslib.NewEvent("Deposited", {"amount": 100}),
                               eslib.NewEvent("Deposited", {"amount": 50}),
                               eslib.NewEvent("Withdrawn", {"amount": 30})])
    return store


def png(ax) -> Image.Image:
    """Render the Axes' figure; check the PNG is a real picture, with colour."""
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png", dpi=60)
    assert buffer.tell() > 3_000, "the PNG is suspiciously small"
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 10
    saturated = [c for _, c in colours if max(c) - min(c) > 60]  # not white, grey or black
    assert saturated, "no coloured marks were drawn"
    return image


def test_timeline(shop):
    ax = plots.timeline(shop, "order-1")
    assert ax.get_title() == "order-1: 3 event(s)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "OrderPaid", "OrderPlaced", "OrderShipped"]
    png(ax)


def test_timeline_on_a_given_axes_and_of_an_unknown_stream(shop):
    _, (left, right) = plt.subplots(1, 2)
    assert plots.timeline(shop, "order-2", ax=left) is left
    empty = plots.timeline(shop, "order-99", ax=right)
    assert empty.get_title() == "order-99: 0 event(s)"
    png(left)


def test_event_rate(shop):
    ax = plots.event_rate(shop, "hour", category="order")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["OrderPaid", "OrderPlaced", "OrderShipped"]
    assert ax.get_ylim()[0] == 0
    png(ax)
    only = plots.event_rate(shop, "minute", types=["Deposited"])
    assert [t.get_text() for t in only.get_legend().get_texts()] == ["Deposited"]


def test_projection_value(shop):
    def total(projection: Balances) -> int:
        return sum(a["balance"] for a in projection.accounts.values())

    ax = plots.projection_value(shop, Balances(), total, label="money held")
    (line,) = ax.get_lines()
    assert list(line.get_ydata()) == [0, 100, 150, 120]
    assert ax.get_ylabel() == "money held"
    png(ax)


def test_swimlanes(shop):
    ax = plots.swimlanes(shop, ["order-1", "order-2", "account-1"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["order-1", "order-2", "account-1"]
    png(ax)
    by_category = plots.swimlanes(shop, category="order")
    assert len(by_category.get_yticks()) == 5
    with pytest.raises(eslib.ConfigurationError):
        plots.swimlanes(shop)
    with pytest.raises(eslib.ConfigurationError, match=r"write \['order-1'\]"):
        plots.swimlanes(shop, "order-1")  # not one lane per character
    twice = plots.swimlanes(shop, ["order-1", "order-1"])
    assert [t.get_text() for t in twice.get_yticklabels()] == ["order-1"]
    with pytest.raises(eslib.ConfigurationError, match=r"write \['Placed'\]"):
        plots.event_rate(shop, "minute", types="Placed")
