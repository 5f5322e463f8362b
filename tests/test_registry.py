"""Event registration, (de)serialisation and upcasting with real old-format rows."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import eslib
from eslib.registry import SCHEMA_VERSION_KEY, EventRegistry

registry = EventRegistry()


@registry.event
class ItemAdded:
    sku: str
    qty: int


@registry.event("PriceSet", version=3)
class PriceChanged:
    sku: str
    cents: int
    currency: str


@registry.upcaster("PriceSet", from_version=1)
def _price_v1(data):  # v1 stored a float "price" in euros
    return {"sku": data["sku"], "cents": round(data.pop("price") * 100)}


@registry.upcaster("PriceSet", from_version=2)
def _price_v2(data):
    return {**data, "currency": "EUR"}


def test_event_becomes_frozen_dataclass_with_class_name():
    event = ItemAdded("A1", 2)
    with pytest.raises(AttributeError):
        event.qty = 3  # type: ignore[misc]
    new = registry.to_new_event(event)
    assert (new.type, new.data, new.metadata) == (
        "ItemAdded", {"sku": "A1", "qty": 2}, {SCHEMA_VERSION_KEY: 1})
    assert registry.to_new_event(PriceChanged("A1", 5, "EUR")).type == "PriceSet"


def test_mutable_dataclass_rejected():
    with pytest.raises(eslib.RegistrationError, match="frozen"):
        @registry.event
        @dataclass
        class Mutable:
            x: int


def test_name_clash_rejected_but_redefinition_allowed():
    local = EventRegistry()
    local.register(type("Thing", (), {"__annotations__": {"x": "int"}}))
    # the same module and qualname again, e.g. a notebook cell run twice
    local.register(type("Thing", (), {"__annotations__": {"x": "int"}}))

    class Other:
        x: int
    with pytest.raises(eslib.RegistrationError, match="already registered"):
        local.register(Other, "Thing")


def test_roundtrip_through_store(store):
    store.append("cart-1", [registry.to_new_event(ItemAdded("A1", 2)),
                            registry.to_new_event(PriceChanged("A1", 250, "USD"))])
    events = [registry.decode(r) for r in store.read_stream("cart-1")]
    assert events == [ItemAdded("A1", 2), PriceChanged("A1", 250, "USD")]


def test_upcasting_real_old_rows(store):
    # rows written by older code: no schema_version (= v1), and an explicit v2
    store.append("cart-9", [
        eslib.NewEvent("PriceSet", {"sku": "A1", "price": 2.5}),
        eslib.NewEvent("PriceSet", {"sku": "B2", "cents": 100}, {SCHEMA_VERSION_KEY: 2}),
        registry.to_new_event(PriceChanged("C3", 7, "GBP")),
    ])
    events = [registry.decode(r) for r in store.read_stream("cart-9")]
    assert events == [PriceChanged("A1", 250, "EUR"), PriceChanged("B2", 100, "EUR"),
                      PriceChanged("C3", 7, "GBP")]
    # history is never rewritten
    assert next(store.read_stream("cart-9")).data == {"sku": "A1", "price": 2.5}


def test_an_upcaster_changing_nested_data_in_place_leaves_history_alone(store):
    local = EventRegistry()

    @local.event("Tagged", version=2)
    class Tagged:
        tags: list[str]

    @local.upcaster("Tagged", from_version=1)
    def _add_tag(data):
        data["tags"].append("v1")  # in place, on a nested list
        return data

    store.append("t-1", [eslib.NewEvent("Tagged", {"tags": ["a"]})])
    for _ in range(3):  # the memory backend hands every reader the same stored dict
        assert [local.decode(r) for r in store.read_stream("t-1")] == [Tagged(["a", "v1"])]
    assert next(store.read_stream("t-1")).data == {"tags": ["a"]}


def test_missing_upcaster_and_future_version(store):
    local = EventRegistry()
    local.register(type("Renamed", (), {"__annotations__": {"x": "int"}}), version=2)
    store.append("x-1", [eslib.NewEvent("Renamed", {"y": 1}),
                         eslib.NewEvent("Renamed", {"x": 1}, {SCHEMA_VERSION_KEY: 3})])
    old, future = store.read_stream("x-1")
    with pytest.raises(eslib.UpcastError, match=r"upcaster\('Renamed', from_version=1\)"):
        local.decode(old)
    with pytest.raises(eslib.UpcastError, match="newer"):
        local.decode(future)


def test_stored_shape_mismatch_is_clear(store):
    store.append("cart-2", [eslib.NewEvent("ItemAdded", {"sku": "A1", "quantity": 2})])
    with pytest.raises(eslib.UpcastError, match="does not fit"):
        registry.decode(next(store.read_stream("cart-2")))


def test_unknown_type_raises_or_yields_raw(store):
    store.append("cart-3", [eslib.NewEvent("Mystery", {"a": 1})])
    recorded = next(store.read_stream("cart-3"))
    with pytest.raises(eslib.UnknownEventType, match="'Mystery'") as info:
        registry.decode(recorded)
    assert info.value.event_type == "Mystery"
    assert registry.decode(recorded, raw_unknown=True) is recorded


def test_defaults_fill_missing_fields(store):
    local = EventRegistry()

    @local.event
    class Tagged:
        name: str
        colour: str = "red"
    store.append("t-1", [eslib.NewEvent("Tagged", {"name": "a"})])
    assert local.decode(next(store.read_stream("t-1"))) == Tagged("a", "red")


def test_non_events_rejected():
    with pytest.raises(eslib.InvalidEvent, match="not a registered event"):
        registry.to_new_event(dataclass(frozen=True)(type("Loose", (), {}))())
    with pytest.raises(eslib.InvalidEvent, match="got dict"):
        registry.to_new_event({"type": "ItemAdded"})


class PriceList(eslib.Aggregate):
    registry = registry  # this module's own registry

    def __init__(self, id):
        super().__init__(id)
        self.prices: dict[str, str] = {}

    def apply(self, event):
        match event:
            case PriceChanged(sku=sku, cents=cents, currency=currency):
                self.prices[sku] = f"{cents} {currency}"


def test_repository_reads_old_rows_through_upcasters(store):
    store.append("pricelist-1", [
        eslib.NewEvent("PriceSet", {"sku": "A1", "price": 1.25}),
        eslib.NewEvent("PriceSet", {"sku": "B2", "cents": 300}, {SCHEMA_VERSION_KEY: 2}),
    ])
    repo = eslib.Repository(store, PriceList)
    prices = repo.get("1")
    prices.record(PriceChanged("C3", 5, "USD"))
    repo.save(prices)
    assert repo.get("1").prices == {"A1": "125 EUR", "B2": "300 EUR", "C3": "5 USD"}
    assert [r.metadata.get(SCHEMA_VERSION_KEY) for r in store.read_stream("pricelist-1")] == [
        None, 2, 3]


@pytest.mark.parametrize("name", ["T\x00", "T\udc80", "x" * 256])
def test_a_type_name_the_store_would_refuse_is_refused_at_registration(name):
    registry = eslib.EventRegistry()

    @dataclass(frozen=True)
    class Named:
        n: int

    with pytest.raises(eslib.RegistrationError, match="event type"):
        registry.register(Named, name)
    with pytest.raises(eslib.RegistrationError, match="event type"):
        registry.upcaster(name, from_version=1)


def test_an_empty_event_name_is_refused_not_replaced_by_the_class_name():
    with pytest.raises(eslib.RegistrationError, match="non-empty"):
        EventRegistry().event("")(type("Named", (), {"__annotations__": {"x": "int"}}))


def test_an_upcaster_must_be_callable():
    with pytest.raises(eslib.RegistrationError, match="function"):
        eslib.EventRegistry().upcaster("T", from_version=1)("not a function")  # type: ignore[arg-type]
