"""The events of the inventory example (:mod:`eslib.examples.inventory`): items,
warehouses and purchase orders."""

from __future__ import annotations

import eslib


@eslib.event
class ItemDefined:
    name: str
    reorder_point: int
    reorder_qty: int
    supplier: str


@eslib.event
class WarehouseOpened:
    name: str
    city: str


@eslib.event
class StockReceived:
    sku: str
    qty: int
    po_id: str


@eslib.event
class StockShipped:
    sku: str
    qty: int
    reference: str


@eslib.event
class StockAdjusted:
    sku: str
    delta: int
    reason: str


@eslib.event
class StockTransferredOut:
    sku: str
    qty: int
    transfer_id: str
    destination: str


@eslib.event
class StockTransferredIn:
    sku: str
    qty: int
    transfer_id: str
    source: str


@eslib.event
class ReplenishmentOrdered:
    sku: str
    qty: int
    po_id: str


@eslib.event
class ReplenishmentCancelled:
    sku: str
    po_id: str
    reason: str


@eslib.event
class PurchaseOrderRaised:
    supplier: str
    warehouse: str
    sku: str
    qty: int


@eslib.event
class PurchaseOrderDelivered:
    qty: int


@eslib.event
class PurchaseOrderCancelled:
    reason: str
