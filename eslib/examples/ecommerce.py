"""E-commerce: customers, products and orders — the system of notebooks 003, 004 and 007.

Three aggregates, in both styles eslib supports:

* :class:`Customer` and :class:`Order` are classes (``eslib.Aggregate``);
* a product is a :data:`product` decider: ``decide(command, state)`` and
  ``evolve(state, event)``, plain functions over a frozen :class:`ProductState`.

:class:`Shop` is the application service: each command loads what it needs,
checks the rules that span aggregates (an order's customer must exist, an item's
price is the product's current price) and saves one aggregate.
:class:`Loyalty` is a process manager (customers earn a point per whole currency
unit paid, and lose them when the order is refunded) and :class:`OrderSummaries` /
:class:`SalesByProduct` are read models. Money is in cents.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import eslib
from eslib.process import ProcessContext, ProcessManager
from eslib.validation import is_int

from .ecommerce_events import (
    CustomerRegistered,
    ItemAdded,
    ItemRemoved,
    LoyaltyPointsEarned,
    LoyaltyPointsRevoked,
    OrderCancelled,
    OrderPaid,
    OrderPlaced,
    OrderRefunded,
    OrderShipped,
    OrderStarted,
    PriceChanged,
    ProductDiscontinued,
    ProductListed,
)


class ShopError(Exception):
    """A command broke a shop rule; nothing was recorded."""


def _check_positive(value: Any, what: str) -> None:
    # cents and units are ints: a float would round money away, a bool or str is a mistake
    if not is_int(value, 1):
        raise ShopError(f"{what} must be a positive int (at most 2**63 - 1), got {value!r}")


# -- customers (class style) --------------------------------------------------------


class Customer(eslib.Aggregate):
    def __init__(self, id: Any) -> None:
        super().__init__(id)
        self.name = self.email = ""
        self.points = 0
        self.rewarded: dict[str, int] = {}  # order -> points: earn_points is idempotent
        self.revoked: list[str] = []  # refunded orders whose points were taken back

    def register(self, name: str, email: str) -> None:
        if self.version:
            raise ShopError(f"customer {self.id} is already registered")
        if "@" not in email:
            raise ShopError(f"not an email address: {email!r}")
        self.record(CustomerRegistered(name, email))

    def earn_points(self, order_id: str, points: int) -> None:
        if order_id not in self.rewarded and points > 0:
            self.record(LoyaltyPointsEarned(order_id, points))

    def revoke_points(self, order_id: str) -> None:
        if order_id in self.rewarded and order_id not in self.revoked:
            self.record(LoyaltyPointsRevoked(order_id, self.rewarded[order_id]))

    def apply(self, event: Any) -> None:
        match event:
            case CustomerRegistered(name=name, email=email):
                self.name, self.email = name, email
            case LoyaltyPointsEarned(order_id=order_id, points=points):
                self.points += points
                self.rewarded[order_id] = points
            case LoyaltyPointsRevoked(order_id=order_id, points=points):
                self.points -= points
                self.revoked.append(order_id)


# -- products (decider style) ----------------------------------------------------------


@dataclass(frozen=True)
class ProductState:
    name: str = ""
    price: int = 0
    status: str = "new"  # new -> listed -> discontinued


@dataclass(frozen=True)
class ListProduct:
    name: str
    price: int


@dataclass(frozen=True)
class ChangePrice:
    price: int


@dataclass(frozen=True)
class Discontinue:
    pass


def decide_product(command: Any, state: ProductState) -> list[Any]:
    """The product's rules: what each command records, or why it is refused."""
    match command:
        case ListProduct(name=name, price=price):
            if state.status != "new":
                raise ShopError(f"product {name!r} is already listed")
            _check_positive(price, "a price")
            return [ProductListed(name, price)]
        case ChangePrice(price=price):
            if state.status != "listed":
                raise ShopError(f"cannot reprice a product that is {state.status}")
            _check_positive(price, "a price")
            return [] if price == state.price else [PriceChanged(price)]
        case Discontinue():
            if state.status != "listed":
                raise ShopError(f"cannot discontinue a product that is {state.status}")
            return [ProductDiscontinued()]
    raise ShopError(f"unknown product command {command!r}")


def evolve_product(state: ProductState, event: Any) -> ProductState:
    match event:
        case ProductListed(name=name, price=price):
            return ProductState(name, price, "listed")
        case PriceChanged(price=price):
            return replace(state, price=price)
        case ProductDiscontinued():
            return replace(state, status="discontinued")
    return state


product = eslib.Decider(ProductState(), decide_product, evolve_product, category="product")


# -- orders (class style) ------------------------------------------------------------------


class Order(eslib.Aggregate):
    """open → placed → paid → shipped; cancellable until shipped.

    Each add is charged at the price it was added at: ``lines`` shows a line's
    quantity and first unit price, ``amounts`` what the line costs, add by add.
    Cancelling a paid order refunds it (OrderCancelled, then OrderRefunded).
    """

    def __init__(self, id: Any) -> None:
        super().__init__(id)
        self.customer_id = ""
        self.lines: dict[str, dict[str, int]] = {}  # sku -> {"qty", "unit_price"}
        self.amounts: dict[str, int] = {}  # sku -> cents
        self.status = "new"
        self.paid = 0  # cents held: paid, less what was refunded

    @property
    def total(self) -> int:
        return sum(self.amounts.values())

    def start(self, customer_id: str) -> None:
        if self.version:
            raise ShopError(f"order {self.id} already exists")
        self.record(OrderStarted(customer_id))

    def add_item(self, sku: str, qty: int, unit_price: int) -> None:
        self._require("open", "add items to")
        _check_positive(qty, "a quantity")
        _check_positive(unit_price, "a unit price")
        self.record(ItemAdded(sku, qty, unit_price))

    def remove_item(self, sku: str) -> None:
        self._require("open", "remove items from")
        if sku not in self.lines:
            raise ShopError(f"order {self.id} has no {sku}")
        self.record(ItemRemoved(sku))

    def place(self) -> None:
        self._require("open", "place")
        if not self.lines:
            raise ShopError(f"order {self.id} is empty")
        self.record(OrderPlaced(self.total))

    def pay(self, amount: int) -> None:
        self._require("placed", "pay")
        if not is_int(amount, 0) or amount != self.total:
            raise ShopError(f"order {self.id} costs {self.total}, not {amount}")
        self.record(OrderPaid(amount))

    def ship(self) -> None:
        self._require("paid", "ship")
        self.record(OrderShipped())

    def cancel(self, reason: str) -> None:
        if self.status in ("shipped", "cancelled"):
            raise ShopError(f"order {self.id} is {self.status} and cannot be cancelled")
        self.record(OrderCancelled(reason))
        if self.paid:  # the customer gets the money back; Loyalty takes the points back
            self.record(OrderRefunded(self.paid))

    def _require(self, status: str, doing: str) -> None:
        if self.status != status:
            raise ShopError(f"cannot {doing} order {self.id}: it is {self.status}")

    def apply(self, event: Any) -> None:
        match event:
            case OrderStarted(customer_id=customer_id):
                self.customer_id, self.status = customer_id, "open"
            case ItemAdded(sku=sku, qty=qty, unit_price=price):
                self.lines.setdefault(sku, {"qty": 0, "unit_price": price})["qty"] += qty
                self.amounts[sku] = self.amounts.get(sku, 0) + qty * price
            case ItemRemoved(sku=sku):
                del self.lines[sku], self.amounts[sku]
            case OrderPlaced():
                self.status = "placed"
            case OrderPaid(amount=amount):
                self.status, self.paid = "paid", amount
            case OrderShipped():
                self.status = "shipped"
            case OrderCancelled():
                self.status = "cancelled"
            case OrderRefunded(amount=amount):
                self.paid -= amount


# -- the application service -----------------------------------------------------------------


class Shop:
    """Commands of the shop; each loads, decides and saves (retrying on conflicts)."""

    def __init__(self, store: eslib.EventStore, *, bus: eslib.EventBus | None = None,
                 inline_projections: tuple[eslib.Projection, ...] = ()) -> None:
        self.store = store
        self.customers = eslib.Repository(store, Customer, bus=bus)
        self.products: eslib.Repository[Any] = eslib.Repository(store, product, bus=bus)
        self.orders = eslib.Repository(store, Order, bus=bus,
                                       inline_projections=inline_projections)

    def register_customer(self, customer_id: str, name: str, email: str) -> Customer:
        return self.customers.update(customer_id, lambda c: c.register(name, email), create=True)

    def list_product(self, sku: str, name: str, price: int) -> ProductState:
        return self.products.update(sku, ListProduct(name, price), create=True).state

    def change_price(self, sku: str, price: int) -> ProductState:
        return self.products.update(sku, ChangePrice(price)).state

    def discontinue(self, sku: str) -> ProductState:
        return self.products.update(sku, Discontinue()).state

    def start_order(self, order_id: str, customer_id: str) -> Order:
        if not self.customers.exists(customer_id):
            raise ShopError(f"no customer {customer_id}")
        return self.orders.update(order_id, lambda o: o.start(customer_id), create=True)

    def add_item(self, order_id: str, sku: str, qty: int = 1) -> Order:
        if not self.products.exists(sku):
            raise ShopError(f"no product {sku}")
        state: ProductState = self.products.get(sku).state
        if state.status != "listed":
            raise ShopError(f"product {sku} is {state.status}")
        return self.orders.update(order_id, lambda o: o.add_item(sku, qty, state.price))

    def remove_item(self, order_id: str, sku: str) -> Order:
        return self.orders.update(order_id, lambda o: o.remove_item(sku))

    def place(self, order_id: str) -> Order:
        return self.orders.update(order_id, lambda o: o.place())

    def pay(self, order_id: str, amount: int | None = None) -> Order:
        return self.orders.update(
            order_id, lambda o: o.pay(o.total if amount is None else amount))

    def ship(self, order_id: str) -> Order:
        return self.orders.update(order_id, lambda o: o.ship())

    def cancel(self, order_id: str, reason: str) -> Order:
        return self.orders.update(order_id, lambda o: o.cancel(reason))


# -- a process manager and read models --------------------------------------------------------


class Loyalty(ProcessManager):
    """A paid order earns its customer one point per 100 cents, exactly once; a refund
    takes them back."""

    name = "loyalty"
    types = (OrderPaid, OrderRefunded)

    def __init__(self, store: eslib.EventStore, **options: Any) -> None:
        super().__init__(store, **options)
        self.orders = eslib.Repository(store, Order)
        self.customers = eslib.Repository(store, Customer)

    def correlate(self, event: Any, recorded: eslib.RecordedEvent) -> str | None:
        return recorded.stream_id.split("-", 1)[1]

    def react(self, event: Any, ctx: ProcessContext) -> None:
        order = ctx.get(self.orders, ctx.key)
        if isinstance(event, OrderRefunded):
            ctx.update(self.customers, order.customer_id, lambda c: c.revoke_points(ctx.key))
        else:
            ctx.update(self.customers, order.customer_id,
                       lambda c: c.earn_points(ctx.key, event.amount // 100))


class OrderSummaries(eslib.Projection):
    """One row per order: customer, status, item count, total (a query-side model)."""

    types = (OrderStarted, ItemAdded, ItemRemoved, OrderPlaced, OrderPaid, OrderShipped,
             OrderCancelled)

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}

    def apply(self, event: Any, ctx: eslib.EventContext) -> None:
        order_id = ctx.stream_id.split("-", 1)[1]
        match event:
            case OrderStarted(customer_id=customer_id):
                self.orders[order_id] = {"order": order_id, "customer": customer_id,
                                         "status": "open", "items": 0, "total": 0, "lines": {}}
            case ItemAdded(sku=sku, qty=qty, unit_price=price):
                row = self.orders[order_id]
                line = row["lines"].setdefault(sku, [0, 0])  # qty, cents: each add at its price
                line[0] += qty
                line[1] += qty * price
                self._total(row)
            case ItemRemoved(sku=sku):
                del self.orders[order_id]["lines"][sku]
                self._total(self.orders[order_id])
            case OrderPlaced():
                self.orders[order_id]["status"] = "placed"
            case OrderPaid():
                self.orders[order_id]["status"] = "paid"
            case OrderShipped():
                self.orders[order_id]["status"] = "shipped"
            case OrderCancelled():
                self.orders[order_id]["status"] = "cancelled"

    @staticmethod
    def _total(row: dict[str, Any]) -> None:
        row["items"] = sum(q for q, _ in row["lines"].values())
        row["total"] = sum(amount for _, amount in row["lines"].values())

    def frame(self) -> Any:
        """The read model as a DataFrame sorted by order id."""
        import pandas as pd

        rows = [{k: v for k, v in row.items() if k != "lines"} for row in self.orders.values()]
        columns = ["order", "customer", "status", "items", "total"]
        return pd.DataFrame(rows, columns=columns).sort_values("order", ignore_index=True)


class SalesByProduct(eslib.SQLProjection):
    """Units and revenue per product over paid (and not refunded) orders, as SQL tables
    in the store; an order line per sku and price, as each add was charged."""

    types = (ItemAdded, ItemRemoved, OrderPaid, OrderRefunded)

    def setup(self, tx: eslib.StoreTransaction) -> None:
        tx.execute("CREATE TABLE IF NOT EXISTS shop_order_lines (order_id TEXT, sku TEXT, "
                   "qty BIGINT, unit_price BIGINT, PRIMARY KEY (order_id, sku, unit_price))")
        tx.execute("CREATE TABLE IF NOT EXISTS shop_sales (sku TEXT PRIMARY KEY, "
                   "units BIGINT, revenue BIGINT)")

    def clear(self, tx: eslib.StoreTransaction | None) -> None:
        assert tx is not None
        tx.execute("DELETE FROM shop_order_lines")
        tx.execute("DELETE FROM shop_sales")

    def apply(self, event: Any, ctx: eslib.EventContext) -> None:
        order_id = ctx.stream_id.split("-", 1)[1]
        match event:
            case ItemAdded(sku=sku, qty=qty, unit_price=price):
                ctx.execute("INSERT INTO shop_order_lines VALUES (?, ?, ?, ?) ON CONFLICT "
                            "(order_id, sku, unit_price) DO UPDATE SET qty = "
                            "shop_order_lines.qty + excluded.qty", (order_id, sku, qty, price))
            case ItemRemoved(sku=sku):
                ctx.execute("DELETE FROM shop_order_lines WHERE order_id = ? AND sku = ?",
                            (order_id, sku))
            case OrderPaid() | OrderRefunded():
                sign = -1 if isinstance(event, OrderRefunded) else 1
                for row in ctx.execute(
                        "SELECT sku, qty, unit_price FROM shop_order_lines WHERE order_id = ?",
                        (order_id,)):
                    qty = sign * int(row[1])  # type: ignore[call-overload]
                    price = int(row[2])  # type: ignore[call-overload]
                    ctx.execute("INSERT INTO shop_sales VALUES (?, ?, ?) ON CONFLICT (sku) DO "
                                "UPDATE SET units = shop_sales.units + excluded.units, "
                                "revenue = shop_sales.revenue + excluded.revenue",
                                (row[0], qty, qty * price))
