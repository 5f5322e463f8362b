"""Inventory: items, warehouses and a supply chain — the system of notebook 009.

* :class:`Item` — what is stocked, with its reorder point, reorder quantity and supplier;
* :class:`Warehouse` — stock levels per item; never below zero;
* :class:`PurchaseOrder` — stock ordered from a supplier: raised → delivered | cancelled.

:class:`Inventory` is the application service; :meth:`Inventory.transfer` moves
stock between two warehouses in **one atomic append** to both streams.
:class:`SupplyChain` is the process manager that keeps shelves full: when a
warehouse's level of an item falls below its reorder point it raises a purchase
order (once, until it is delivered or cancelled), and a delivered order is received
into the warehouse. :class:`StockLevels` is the read model.
"""

from __future__ import annotations

import logging
from typing import Any

import eslib
from eslib.process import ProcessContext, ProcessManager
from eslib.validation import is_int

from .inventory_events import (
    ItemDefined,
    PurchaseOrderCancelled,
    PurchaseOrderDelivered,
    PurchaseOrderRaised,
    ReplenishmentCancelled,
    ReplenishmentOrdered,
    StockAdjusted,
    StockReceived,
    StockShipped,
    StockTransferredIn,
    StockTransferredOut,
    WarehouseOpened,
)

log = logging.getLogger(__name__)


class InventoryError(Exception):
    """A command broke an inventory rule; nothing was recorded."""


class OutOfStock(InventoryError):
    pass


def _check_int(value: Any, low: int, what: str) -> None:
    # quantities are whole units: a float, bool or str is a caller's mistake
    if not is_int(value, low):
        raise InventoryError(f"{what} must be an int >= {low}, got {value!r}")


# -- aggregates ------------------------------------------------------------------------------


class Item(eslib.Aggregate):
    def __init__(self, id: Any) -> None:
        super().__init__(id)
        self.name = self.supplier = ""
        self.reorder_point = self.reorder_qty = 0

    def define(self, name: str, reorder_point: int, reorder_qty: int, supplier: str) -> None:
        if self.version:
            raise InventoryError(f"item {self.id} is already defined")
        _check_int(reorder_point, 0, "a reorder point")
        _check_int(reorder_qty, 1, "a reorder quantity")
        self.record(ItemDefined(name, reorder_point, reorder_qty, supplier))

    def apply(self, event: Any) -> None:
        match event:
            case ItemDefined(name=n, reorder_point=p, reorder_qty=q, supplier=s):
                self.name, self.reorder_point, self.reorder_qty, self.supplier = n, p, q, s


class Warehouse(eslib.Aggregate):
    """Stock per item; ``on_order`` maps an item to its open purchase order."""

    def __init__(self, id: Any) -> None:
        super().__init__(id)
        self.name = self.city = ""
        self.levels: dict[str, int] = {}
        self.on_order: dict[str, str] = {}
        self.orders_raised: dict[str, int] = {}  # per item: numbers purchase order ids
        self.transfers: list[str] = []

    def level(self, sku: str) -> int:
        return self.levels.get(sku, 0)

    def open(self, name: str, city: str) -> None:
        if self.version:
            raise InventoryError(f"warehouse {self.id} is already open")
        self.record(WarehouseOpened(name, city))

    def receive(self, sku: str, qty: int, po_id: str = "") -> None:
        self._check_qty(qty)
        if po_id and self.on_order.get(sku) != po_id:
            return  # received already (or not ordered here): receiving is idempotent
        self.record(StockReceived(sku, qty, po_id))

    def ship(self, sku: str, qty: int, reference: str) -> None:
        self._check_qty(qty)
        if qty > self.level(sku):
            raise OutOfStock(f"{self.id} holds {self.level(sku)} of {sku}, not {qty}")
        self.record(StockShipped(sku, qty, reference))

    def adjust(self, sku: str, delta: int, reason: str) -> None:
        if not is_int(delta, -(2**63 - 1)):
            raise InventoryError(f"an adjustment must be an int, got {delta!r}")
        if self.level(sku) + delta < 0:
            raise InventoryError(f"{self.id} holds {self.level(sku)} of {sku}; "
                                 f"cannot adjust by {delta}")
        if delta:
            self.record(StockAdjusted(sku, delta, reason))

    def transfer_out(self, sku: str, qty: int, transfer_id: str, destination: str) -> None:
        self._check_qty(qty)
        if qty > self.level(sku):
            raise OutOfStock(f"{self.id} holds {self.level(sku)} of {sku}, not {qty}")
        self.record(StockTransferredOut(sku, qty, transfer_id, destination))

    def transfer_in(self, sku: str, qty: int, transfer_id: str, source: str) -> None:
        if transfer_id not in self.transfers:
            self.record(StockTransferredIn(sku, qty, transfer_id, source))

    def order_replenishment(self, sku: str, qty: int) -> str | None:
        """Note a purchase order for ``sku`` unless one is open; returns its id (or None)."""
        if sku in self.on_order:
            return None
        po_id = f"{self.id}.{sku}.{self.orders_raised.get(sku, 0) + 1}"
        self.record(ReplenishmentOrdered(sku, qty, po_id))
        return po_id

    def cancel_replenishment(self, sku: str, po_id: str, reason: str) -> None:
        """Forget the open order ``po_id`` (so the next low level reorders); idempotent."""
        if self.on_order.get(sku) == po_id:
            self.record(ReplenishmentCancelled(sku, po_id, reason))

    def _check_qty(self, qty: int) -> None:
        if self.version == 0:
            raise InventoryError(f"warehouse {self.id} is not open")
        _check_int(qty, 1, "a quantity")

    def apply(self, event: Any) -> None:
        match event:
            case WarehouseOpened(name=name, city=city):
                self.name, self.city = name, city
            case StockReceived(sku=sku, qty=qty, po_id=po_id):
                self.levels[sku] = self.level(sku) + qty
                if po_id and self.on_order.get(sku) == po_id:
                    del self.on_order[sku]
            case StockShipped(sku=sku, qty=qty):
                self.levels[sku] = self.level(sku) - qty
            case StockTransferredOut(sku=sku, qty=qty, transfer_id=transfer_id):
                self.levels[sku] = self.level(sku) - qty
                self.transfers.append(transfer_id)  # ids in both directions: none reused
            case StockAdjusted(sku=sku, delta=delta):
                self.levels[sku] = self.level(sku) + delta
            case StockTransferredIn(sku=sku, qty=qty, transfer_id=transfer_id):
                self.levels[sku] = self.level(sku) + qty
                self.transfers.append(transfer_id)
            case ReplenishmentOrdered(sku=sku, po_id=po_id):
                self.on_order[sku] = po_id
                self.orders_raised[sku] = self.orders_raised.get(sku, 0) + 1
            case ReplenishmentCancelled(sku=sku):
                del self.on_order[sku]


class PurchaseOrder(eslib.Aggregate):
    category = "po"

    def __init__(self, id: Any) -> None:
        super().__init__(id)
        self.supplier = self.warehouse = self.sku = ""
        self.qty = self.delivered = 0
        self.status = "new"

    def raise_order(self, supplier: str, warehouse: str, sku: str, qty: int) -> None:
        if self.version:
            return  # raised already: idempotent
        self.record(PurchaseOrderRaised(supplier, warehouse, sku, qty))

    def deliver(self, qty: int | None = None) -> None:
        if self.status != "raised":
            raise InventoryError(f"purchase order {self.id} is {self.status}")
        if qty is not None:
            _check_int(qty, 1, "a delivered quantity")
        self.record(PurchaseOrderDelivered(self.qty if qty is None else qty))

    def cancel(self, reason: str) -> None:
        if self.status != "raised":
            raise InventoryError(f"purchase order {self.id} is {self.status}")
        self.record(PurchaseOrderCancelled(reason))

    def apply(self, event: Any) -> None:
        match event:
            case PurchaseOrderRaised(supplier=s, warehouse=w, sku=sku, qty=qty):
                self.supplier, self.warehouse, self.sku, self.qty = s, w, sku, qty
                self.status = "raised"
            case PurchaseOrderDelivered(qty=qty):
                self.status, self.delivered = "delivered", qty
            case PurchaseOrderCancelled():
                self.status = "cancelled"


# -- the application service -------------------------------------------------------------------


class Inventory:
    """Commands on items, warehouses and purchase orders."""

    def __init__(self, store: eslib.EventStore) -> None:
        self.store = store
        self.items = eslib.Repository(store, Item)
        self.warehouses = eslib.Repository(store, Warehouse)
        self.orders = eslib.Repository(store, PurchaseOrder)

    def define_item(self, sku: str, name: str, reorder_point: int, reorder_qty: int,
                    supplier: str) -> Item:
        return self.items.update(
            sku, lambda i: i.define(name, reorder_point, reorder_qty, supplier), create=True)

    def open_warehouse(self, warehouse_id: str, name: str, city: str) -> Warehouse:
        return self.warehouses.update(warehouse_id, lambda w: w.open(name, city), create=True)

    def receive(self, warehouse_id: str, sku: str, qty: int) -> Warehouse:
        self._check_item(sku)
        return self.warehouses.update(warehouse_id, lambda w: w.receive(sku, qty))

    def ship(self, warehouse_id: str, sku: str, qty: int, reference: str) -> Warehouse:
        return self.warehouses.update(warehouse_id, lambda w: w.ship(sku, qty, reference))

    def adjust(self, warehouse_id: str, sku: str, delta: int, reason: str) -> Warehouse:
        self._check_item(sku)
        return self.warehouses.update(warehouse_id, lambda w: w.adjust(sku, delta, reason))

    def transfer(self, transfer_id: str, sku: str, qty: int, source: str,
                 destination: str) -> tuple[Warehouse, Warehouse]:
        """Move stock between warehouses: both streams change in one atomic commit."""
        if source == destination:
            raise InventoryError("a transfer needs two different warehouses")
        out, into = self.warehouses.get(source), self.warehouses.get(destination)
        if transfer_id in out.transfers or transfer_id in into.transfers:
            # else transfer_in skips it as a replay and the append has nothing to write
            raise InventoryError(f"transfer id {transfer_id} was used already: pick another")
        out.transfer_out(sku, qty, transfer_id, destination)
        into.transfer_in(sku, qty, transfer_id, source)
        appends = {}
        for warehouse in (out, into):
            stream_id, events, expected = self.warehouses.prepare(warehouse)
            appends[stream_id] = (events, expected)
        results = self.store.append_many(appends)  # a conflict on either writes nothing
        for warehouse in (out, into):
            self.warehouses.saved(warehouse, results[warehouse.stream_id])
        return out, into

    def deliver(self, po_id: str, qty: int | None = None) -> PurchaseOrder:
        return self.orders.update(po_id, lambda p: p.deliver(qty))

    def _check_item(self, sku: str) -> None:
        if not self.items.exists(sku):
            raise InventoryError(f"no item {sku}: define it first")


# -- the supply chain and the read model ---------------------------------------------------


class SupplyChain(ProcessManager):
    """Reorders below the reorder point; receives delivered purchase orders.

    What it cannot act on (stock of an undefined item; a delivery of no units) is
    logged and skipped, freeing the item to reorder: raising would stop the chain for good.
    """

    name = "supplychain"
    types = (StockShipped, StockAdjusted, StockTransferredOut, PurchaseOrderDelivered,
             PurchaseOrderCancelled)

    def __init__(self, store: eslib.EventStore, **options: Any) -> None:
        super().__init__(store, **options)
        self.items = eslib.Repository(store, Item)
        self.warehouses = eslib.Repository(store, Warehouse)
        self.orders = eslib.Repository(store, PurchaseOrder)

    def correlate(self, event: Any, recorded: eslib.RecordedEvent) -> str | None:
        owner = recorded.stream_id.split("-", 1)[1]
        if isinstance(event, PurchaseOrderDelivered | PurchaseOrderCancelled):
            return owner  # the purchase order
        return f"{owner}.{event.sku}"  # warehouse.item

    def react(self, event: Any, ctx: ProcessContext) -> None:
        match event:
            case PurchaseOrderDelivered(qty=qty):
                order = ctx.get(self.orders, ctx.key)
                try:
                    ctx.update(self.warehouses, order.warehouse,
                               lambda w: w.receive(order.sku, qty, ctx.key))
                except InventoryError as exc:
                    log.warning("%s: purchase order %s not received: %s", self.name, ctx.key, exc)
                    self._forget(order, ctx, f"delivery not received: {exc}")
            case PurchaseOrderCancelled(reason=reason):
                self._forget(ctx.get(self.orders, ctx.key), ctx, reason)
            case _:
                self._reorder(event, ctx)

    def _forget(self, order: PurchaseOrder, ctx: ProcessContext, reason: str) -> None:
        ctx.update(self.warehouses, order.warehouse,
                   lambda w: w.cancel_replenishment(order.sku, ctx.key, reason))

    def _reorder(self, event: Any, ctx: ProcessContext) -> None:
        warehouse_id = ctx.recorded.stream_id.split("-", 1)[1]
        if not self.items.exists(event.sku):
            log.warning("%s: no item %s, so no reorder point: %s at position %d skipped",
                        self.name, event.sku, ctx.recorded.type, ctx.recorded.position)
            return
        item = ctx.get(self.items, event.sku)
        warehouse = ctx.get(self.warehouses, warehouse_id)
        if warehouse.level(event.sku) >= item.reorder_point:
            return
        po_id = warehouse.order_replenishment(event.sku, item.reorder_qty)
        if po_id is not None:
            ctx.update(self.orders, po_id, lambda p: p.raise_order(
                item.supplier, warehouse_id, event.sku, item.reorder_qty), create=True)


class StockLevels(eslib.Projection):
    """On-hand and on-order quantity per (warehouse, item), and the history of levels."""

    types = (StockReceived, StockShipped, StockAdjusted, StockTransferredOut, StockTransferredIn,
             ReplenishmentOrdered, ReplenishmentCancelled)

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}
        self.history: list[tuple[int, str, str, int]] = []  # (position, warehouse, sku, level)

    def apply(self, event: Any, ctx: eslib.EventContext) -> None:
        warehouse = ctx.stream_id.split("-", 1)[1]
        row = self.rows.setdefault((warehouse, event.sku), {
            "warehouse": warehouse, "sku": event.sku, "on_hand": 0, "on_order": 0})
        match event:
            case StockReceived(qty=qty, po_id=po_id):
                row["on_hand"] += qty
                if po_id:
                    row["on_order"] = 0
            case StockShipped(qty=qty) | StockTransferredOut(qty=qty):
                row["on_hand"] -= qty
            case StockAdjusted(delta=delta):
                row["on_hand"] += delta
            case StockTransferredIn(qty=qty):
                row["on_hand"] += qty
            case ReplenishmentOrdered(qty=qty):
                row["on_order"] = qty
            case ReplenishmentCancelled():
                row["on_order"] = 0
        self.history.append((ctx.position, warehouse, event.sku, row["on_hand"]))

    def frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(list(self.rows.values()),
                            columns=["warehouse", "sku", "on_hand", "on_order"]
                            ).sort_values(["warehouse", "sku"], ignore_index=True)

    def history_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.history, columns=["position", "warehouse", "sku", "on_hand"])
