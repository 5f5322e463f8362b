"""The events of the e-commerce example (:mod:`eslib.examples.ecommerce`): customers,
products and orders. Money is in cents."""

from __future__ import annotations

import eslib


@eslib.event
class CustomerRegistered:
    name: str
    email: str


@eslib.event
class LoyaltyPointsEarned:
    order_id: str
    points: int


@eslib.event
class LoyaltyPointsRevoked:
    order_id: str
    points: int


@eslib.event
class ProductListed:
    name: str
    price: int


@eslib.event
class PriceChanged:
    price: int


@eslib.event
class ProductDiscontinued:
    pass


@eslib.event
class OrderStarted:
    customer_id: str


@eslib.event
class ItemAdded:
    sku: str
    qty: int
    unit_price: int


@eslib.event
class ItemRemoved:
    sku: str


@eslib.event
class OrderPlaced:
    total: int


@eslib.event
class OrderPaid:
    amount: int


@eslib.event
class OrderShipped:
    pass


@eslib.event
class OrderCancelled:
    reason: str


@eslib.event
class OrderRefunded:
    amount: int
