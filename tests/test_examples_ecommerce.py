"""The e-commerce example: rules (given/when/then) and the whole shop on every backend."""

from __future__ import annotations

import pytest

import eslib
from eslib.examples.ecommerce import (
    ChangePrice,
    Customer,
    CustomerRegistered,
    Discontinue,
    ItemAdded,
    ItemRemoved,
    ListProduct,
    Loyalty,
    LoyaltyPointsEarned,
    LoyaltyPointsRevoked,
    Order,
    OrderCancelled,
    OrderPaid,
    OrderPlaced,
    OrderRefunded,
    OrderShipped,
    OrderStarted,
    OrderSummaries,
    PriceChanged,
    ProductDiscontinued,
    ProductListed,
    SalesByProduct,
    Shop,
    ShopError,
    product,
)
from eslib.testing import given

STARTED = (OrderStarted("ann"), ItemAdded("A1", 2, 800))


def test_customer_rules():
    given(Customer).when(lambda c: c.register("Ann", "ann@x.org")).then(
        CustomerRegistered("Ann", "ann@x.org"))
    given(Customer).when(lambda c: c.register("Ann", "nope")).then_raises(ShopError, "email")
    given(Customer, CustomerRegistered("Ann", "a@x")).when(
        lambda c: c.register("Ann", "a@x")).then_raises(ShopError, "already")
    given(Customer, CustomerRegistered("Ann", "a@x"), LoyaltyPointsEarned("o1", 5)).when(
        lambda c: c.earn_points("o1", 5)).then()  # idempotent per order


def test_product_decider():
    given(product).when(ListProduct("Mug", 800)).then(ProductListed("Mug", 800))
    given(product).when(ListProduct("Mug", 0)).then_raises(ShopError, "positive")
    given(product, ProductListed("Mug", 800)).when(ChangePrice(900)).then(PriceChanged(900))
    given(product, ProductListed("Mug", 800)).when(ChangePrice(800)).then()
    given(product, ProductListed("Mug", 800)).when(Discontinue()).then(ProductDiscontinued())
    given(product, ProductListed("Mug", 800), ProductDiscontinued()).when(
        ChangePrice(1)).then_raises(ShopError, "discontinued")
    given(product).when("sell it").then_raises(ShopError, "unknown")


def test_order_lifecycle_rules():
    given(Order).when(lambda o: o.start("ann")).then(OrderStarted("ann"))
    given(Order, *STARTED).when(lambda o: o.add_item("A1", 1, 900)).then(ItemAdded("A1", 1, 900))
    given(Order, *STARTED).when(lambda o: o.add_item("A1", 0, 900)).then_raises(ShopError)
    given(Order, *STARTED).when(lambda o: o.remove_item("A1")).then(ItemRemoved("A1"))
    given(Order, *STARTED).when(lambda o: o.remove_item("B2")).then_raises(ShopError, "no B2")
    given(Order, *STARTED).when(lambda o: o.place()).then(OrderPlaced(1600))
    given(Order, OrderStarted("ann")).when(lambda o: o.place()).then_raises(ShopError, "empty")
    given(Order, *STARTED, OrderPlaced(1600)).when(lambda o: o.pay(1600)).then(OrderPaid(1600))
    given(Order, *STARTED, OrderPlaced(1600)).when(lambda o: o.pay(10)).then_raises(ShopError)
    given(Order, *STARTED).when(lambda o: o.ship()).then_raises(ShopError, "it is open")
    given(Order, *STARTED, OrderPlaced(1600), OrderPaid(1600)).when(lambda o: o.ship()).then(
        OrderShipped())
    given(Order, *STARTED, OrderPlaced(1600), OrderPaid(1600), OrderShipped()).when(
        lambda o: o.cancel("late")).then_raises(ShopError, "shipped")
    given(Order, *STARTED).when(lambda o: o.cancel("no")).then(OrderCancelled("no"))


def _shop(store: eslib.EventStore) -> Shop:
    shop = Shop(store)
    shop.register_customer("ann", "Ann", "ann@x.org")
    shop.list_product("A1", "Mug", 800)
    shop.list_product("B2", "Tea", 450)
    return shop


def test_shop_on_every_backend(store):
    shop = _shop(store)
    shop.start_order("o1", "ann")
    shop.add_item("o1", "A1", 2)
    shop.change_price("A1", 1000)  # lines keep the price they were added at
    shop.add_item("o1", "B2")
    assert shop.place("o1").total == 2050
    shop.pay("o1")
    with pytest.raises(ShopError, match="no customer"):
        shop.start_order("o2", "bob")
    shop.discontinue("B2")
    shop.start_order("o2", "ann")
    with pytest.raises(ShopError, match="discontinued"):
        shop.add_item("o2", "B2")
    with pytest.raises(ShopError, match="no product"):
        shop.add_item("o2", "Z9")
    shop.cancel("o2", "empty")

    assert Loyalty(store).run_until_caught_up() == 1
    assert Loyalty(store).run_until_caught_up() == 0  # checkpoint kept in the store
    assert shop.customers.get("ann").points == 20

    summaries = OrderSummaries()
    eslib.ProjectionRunner(store, summaries).run_until_caught_up()
    frame = summaries.frame()
    assert frame[["order", "status", "items", "total"]].values.tolist() == [
        ["o1", "paid", 3, 2050], ["o2", "cancelled", 0, 0]]


@pytest.mark.backends("duckdb", "postgres")  # SQL read models
def test_sales_by_product_in_sql(store):
    shop = _shop(store)
    for order_id, qty in (("o1", 1), ("o2", 3)):
        shop.start_order(order_id, "ann")
        shop.add_item(order_id, "A1", qty)
        shop.add_item(order_id, "B2", 1)
        shop.add_item(order_id, "A1", 1)
        shop.place(order_id)
    shop.pay("o1")
    shop.pay("o2")
    runner = eslib.ProjectionRunner(store, SalesByProduct())
    runner.run_until_caught_up()
    with store.transaction() as tx:
        rows = tx.execute("SELECT sku, units, revenue FROM shop_sales ORDER BY sku")
    assert [tuple(r) for r in rows] == [("A1", 6, 4800), ("B2", 2, 900)]
    runner.rebuild()
    with store.transaction() as tx:
        assert [tuple(r) for r in tx.execute("SELECT sku, units FROM shop_sales ORDER BY sku")
                ] == [("A1", 6), ("B2", 2)]


@pytest.mark.parametrize("bad", [0, 2.5, "300", True, None])
def test_prices_and_quantities_are_positive_ints(bad):
    given(product).when(ListProduct("Mug", bad)).then_raises(ShopError, "positive int")
    given(product, ProductListed("Mug", 800)).when(ChangePrice(bad)).then_raises(
        ShopError, "positive int")
    given(Order, *STARTED).when(lambda o: o.add_item("A1", bad, 800)).then_raises(
        ShopError, "positive int")
    given(Order, *STARTED, OrderPlaced(1600)).when(lambda o: o.pay(1600.0)).then_raises(
        ShopError, "costs 1600")


def test_each_add_keeps_its_price(store):
    given(Order, *STARTED, ItemAdded("A1", 1, 900)).when(lambda o: o.place()).then(
        OrderPlaced(2500))
    shop = _shop(store)
    shop.start_order("o1", "ann")
    shop.add_item("o1", "B2")
    shop.change_price("B2", 500)
    assert shop.add_item("o1", "B2").total == 950
    shop.remove_item("o1", "B2")
    assert shop.orders.get("o1").total == 0
    shop.add_item("o1", "B2", 2)
    assert shop.place("o1").total == 1000
    summaries = OrderSummaries()
    eslib.ProjectionRunner(store, summaries).run_until_caught_up()
    assert summaries.frame()[["items", "total"]].values.tolist() == [[2, 1000]]


def test_cancelling_a_paid_order_refunds_it_and_takes_the_points_back(store):
    given(Order, *STARTED, OrderPlaced(1600), OrderPaid(1600)).when(
        lambda o: o.cancel("changed")).then(OrderCancelled("changed"), OrderRefunded(1600))
    given(Customer, CustomerRegistered("Ann", "a@x"), LoyaltyPointsEarned("o1", 16),
          LoyaltyPointsRevoked("o1", 16)).when(lambda c: c.revoke_points("o1")).then()
    shop = _shop(store)
    for order_id in ("o1", "o2"):
        shop.start_order(order_id, "ann")
        shop.add_item(order_id, "A1", 2)
        shop.place(order_id)
        shop.pay(order_id)
    assert Loyalty(store).run_until_caught_up() == 2
    assert shop.cancel("o1", "changed my mind").paid == 0
    assert Loyalty(store).run_until_caught_up() == 1
    assert shop.customers.get("ann").points == 16  # o2's only


@pytest.mark.backends("duckdb", "postgres")  # SQL read models
def test_sales_count_each_price_and_drop_refunds(store):
    shop = _shop(store)
    shop.start_order("o1", "ann")
    shop.add_item("o1", "A1")
    shop.change_price("A1", 1000)
    shop.add_item("o1", "A1")
    shop.place("o1")
    shop.pay("o1")
    shop.start_order("o2", "ann")
    shop.add_item("o2", "B2")
    shop.place("o2")
    shop.pay("o2")
    shop.cancel("o2", "changed my mind")
    eslib.ProjectionRunner(store, SalesByProduct()).run_until_caught_up()
    with store.transaction() as tx:
        rows = tx.execute("SELECT sku, units, revenue FROM shop_sales ORDER BY sku")
    assert [tuple(r) for r in rows] == [("A1", 2, 1800), ("B2", 0, 0)]
