"""The inventory example: warehouse rules, atomic transfers and the supply chain."""

from __future__ import annotations

import pytest

import eslib
from eslib.examples.inventory import (
    Inventory,
    InventoryError,
    ItemDefined,
    OutOfStock,
    PurchaseOrder,
    PurchaseOrderCancelled,
    PurchaseOrderDelivered,
    PurchaseOrderRaised,
    ReplenishmentOrdered,
    StockAdjusted,
    StockLevels,
    StockReceived,
    StockShipped,
    StockTransferredIn,
    SupplyChain,
    Warehouse,
    WarehouseOpened,
)
from eslib.testing import given

OPEN = (WarehouseOpened("North", "Leeds"), StockReceived("bolt", 10, ""))


def test_warehouse_rules():
    given(Warehouse).when(lambda w: w.receive("bolt", 1)).then_raises(InventoryError, "not open")
    given(Warehouse, *OPEN).when(lambda w: w.ship("bolt", 4, "o1")).then(
        StockShipped("bolt", 4, "o1"))
    given(Warehouse, *OPEN).when(lambda w: w.ship("bolt", 11, "o1")).then_raises(OutOfStock)
    given(Warehouse, *OPEN).when(lambda w: w.ship("bolt", 0, "o1")).then_raises(InventoryError)
    given(Warehouse, *OPEN).when(lambda w: w.adjust("bolt", -3, "count")).then(
        StockAdjusted("bolt", -3, "count"))
    given(Warehouse, *OPEN).when(lambda w: w.adjust("bolt", -11, "count")).then_raises(
        InventoryError)
    given(Warehouse, *OPEN).when(lambda w: w.order_replenishment("bolt", 50)).then(
        ReplenishmentOrdered("bolt", 50, "test.bolt.1"))
    given(Warehouse, *OPEN, ReplenishmentOrdered("bolt", 50, "test.bolt.1")).when(
        lambda w: w.order_replenishment("bolt", 50)).then()  # one open order per item
    given(Warehouse, *OPEN, ReplenishmentOrdered("bolt", 50, "test.bolt.1"),
          StockReceived("bolt", 50, "test.bolt.1")).when(
        lambda w: w.receive("bolt", 50, "test.bolt.1")).then()  # received once
    given(Warehouse, *OPEN, StockTransferredIn("bolt", 5, "t1", "south")).when(
        lambda w: w.transfer_in("bolt", 5, "t1", "south")).then()


def test_purchase_order_rules():
    raised = PurchaseOrderRaised("acme", "north", "bolt", 50)
    given(PurchaseOrder).when(lambda p: p.raise_order("acme", "north", "bolt", 50)).then(raised)
    given(PurchaseOrder, raised).when(lambda p: p.deliver()).then(PurchaseOrderDelivered(50))
    given(PurchaseOrder, raised, PurchaseOrderDelivered(50)).when(
        lambda p: p.deliver()).then_raises(InventoryError, "delivered")
    given(PurchaseOrder, raised).when(lambda p: p.cancel("x")).then(PurchaseOrderCancelled("x"))


def _inventory(store: eslib.EventStore) -> Inventory:
    inventory = Inventory(store)
    inventory.define_item("bolt", "Bolt", 20, 100, "acme")
    inventory.open_warehouse("north", "North", "Leeds")
    inventory.open_warehouse("south", "South", "Bristol")
    inventory.receive("north", "bolt", 50)
    return inventory


def test_transfer_is_atomic(store):
    inventory = _inventory(store)
    out, into = inventory.transfer("t1", "bolt", 30, "north", "south")
    assert (out.level("bolt"), into.level("bolt")) == (20, 30)
    with pytest.raises(OutOfStock):
        inventory.transfer("t2", "bolt", 21, "north", "south")
    assert inventory.warehouses.get("south").level("bolt") == 30  # nothing half-written
    positions = {e.position for e in store.read_all(types=["StockTransferredOut",
                                                           "StockTransferredIn"])}
    assert len(positions) == 2


def test_supply_chain_reorders_once_and_receives(store):
    inventory = _inventory(store)
    chain = SupplyChain(store)
    inventory.ship("north", "bolt", 35, "o1")  # 15 left, below 20
    inventory.ship("north", "bolt", 5, "o2")   # still below: no second order
    chain.run_until_caught_up()
    north = inventory.warehouses.get("north")
    assert north.on_order == {"bolt": "north.bolt.1"}
    assert inventory.orders.get("north.bolt.1").status == "raised"
    inventory.deliver("north.bolt.1")
    chain.run_until_caught_up()
    assert inventory.warehouses.get("north").level("bolt") == 110
    assert inventory.warehouses.get("north").on_order == {}
    assert SupplyChain(store).run_until_caught_up() == 0

    levels = StockLevels()
    eslib.ProjectionRunner(store, levels).run_until_caught_up()
    assert levels.frame().values.tolist() == [["north", "bolt", 110, 0]]
    assert levels.history_frame()["on_hand"].tolist() == [50, 15, 10, 10, 110]


def test_receive_needs_a_defined_item(store):
    inventory = _inventory(store)
    with pytest.raises(InventoryError, match="define it"):
        inventory.receive("north", "nut", 5)
    assert ItemDefined("Bolt", 20, 100, "acme") == next(
        iter([eslib.default_registry.decode(e) for e in store.read_stream("item-bolt")]))


@pytest.mark.parametrize("qty", [0, -5, 0.5, True, "3"])
def test_quantities_are_positive_ints(qty):
    given(Warehouse, *OPEN).when(lambda w: w.receive("bolt", qty)).then_raises(
        InventoryError, "an int")
    raised = PurchaseOrderRaised("acme", "north", "bolt", 50)
    given(PurchaseOrder, raised).when(lambda p: p.deliver(qty)).then_raises(
        InventoryError, "an int")
    given(Warehouse, *OPEN).when(lambda w: w.adjust("bolt", 0.5, "x")).then_raises(
        InventoryError, "an int")


def test_adjust_needs_a_defined_item_and_transfer_ids_are_not_reused(store):
    inventory = _inventory(store)
    with pytest.raises(InventoryError, match="no item ghost: define it"):
        inventory.adjust("north", "ghost", 5, "found a box")
    inventory.transfer("t1", "bolt", 5, "north", "south")
    for source, destination in (("north", "south"), ("south", "north")):
        with pytest.raises(InventoryError, match="transfer id t1 was used already"):
            inventory.transfer("t1", "bolt", 1, source, destination)
    assert inventory.warehouses.get("north").level("bolt") == 45


def test_cancelled_order_frees_the_item_to_reorder(store):
    inventory = _inventory(store)
    chain = SupplyChain(store)
    inventory.ship("north", "bolt", 35, "o1")
    chain.run_until_caught_up()
    inventory.orders.update("north.bolt.1", lambda p: p.cancel("supplier bankrupt"))
    chain.run_until_caught_up()
    assert inventory.warehouses.get("north").on_order == {}
    inventory.ship("north", "bolt", 1, "o2")
    chain.run_until_caught_up()
    assert inventory.warehouses.get("north").on_order == {"bolt": "north.bolt.2"}
    levels = StockLevels()
    eslib.ProjectionRunner(store, levels).run_until_caught_up()
    assert levels.frame().values.tolist() == [["north", "bolt", 14, 100]]


def test_supply_chain_skips_stored_events_it_cannot_act_on(store, caplog):
    inventory = _inventory(store)
    chain = SupplyChain(store)
    # stored before the commands checked: an undefined item, a delivery of nothing
    inventory.warehouses.update("north", lambda w: w.adjust("ghost", 5, "found a box"))
    inventory.ship("north", "bolt", 35, "o1")
    chain.run_until_caught_up()
    store.append("po-north.bolt.1", [eslib.NewEvent("PurchaseOrderDelivered", {"qty": 0})],
                 expected_version=1)
    with caplog.at_level("WARNING", logger="eslib.examples.inventory"):
        chain.run_until_caught_up()  # no SubscriptionStopped
    assert "no item ghost" in caplog.text and "north.bolt.1 not received" in caplog.text
    north = inventory.warehouses.get("north")
    assert (north.level("bolt"), north.on_order) == (15, {})
    inventory.ship("north", "bolt", 1, "o2")  # the chain still runs and reorders
    chain.run_until_caught_up()
    assert inventory.warehouses.get("north").on_order == {"bolt": "north.bolt.2"}
