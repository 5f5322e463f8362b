"""Aggregates and deciders as pure domain code: given/when/then, no database."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

import eslib
from eslib.examples.bank import (
    Account,
    AccountOpened,
    Deposited,
    InsufficientFunds,
    Withdrawn,
)
from eslib.testing import given


def test_record_applies_and_queues():
    account = Account("1")
    account.open("ann")
    account.deposit(10)
    assert (account.balance, account.version) == (10, 2)
    assert account.pending_events == (AccountOpened("ann"), Deposited(10))
    assert account.stream_id == "account-1" and Account.category == "account"


def test_given_when_then():
    given(Account, AccountOpened("ann"), Deposited(10)).when(
        lambda a: a.withdraw(3)).then(Withdrawn(3))
    given(Account, [AccountOpened("ann"), Deposited(10)]).when(
        lambda a: a.withdraw(3)).then([Withdrawn(3)])  # lists, as given() takes them
    given(Account, [AccountOpened("ann")]).when(lambda a: a.withdraw(3)).then_raises(
        InsufficientFunds, match="holds 0")


def test_then_reports_differences():
    scenario = given(Account, AccountOpened("ann")).when(lambda a: a.deposit(5))
    with pytest.raises(AssertionError, match="recorded events differ"):
        scenario.then(Deposited(6))
    with pytest.raises(AssertionError, match="succeeded"):
        scenario.then_raises(ValueError)
    with pytest.raises(eslib.ConfigurationError, match="takes a callable"):
        given(Account, AccountOpened("ann")).when("deposit 5")
    failing = given(Account, AccountOpened("ann")).when(lambda a: a.withdraw(5))
    with pytest.raises(AssertionError, match="raised InsufficientFunds"):
        failing.then(Withdrawn(5))


def test_invariant_violation_records_nothing():
    account = Account("1")
    account.open("ann")
    with pytest.raises(InsufficientFunds):
        account.withdraw(1)
    assert account.version == 1 and len(account.pending_events) == 1


def test_record_rejects_non_events_at_once():
    class Broken(eslib.Aggregate):
        def apply(self, event):
            raise AssertionError("must not be reached")

    @dataclass(frozen=True)
    class NotRegistered:
        x: int

    broken = Broken("1")
    with pytest.raises(eslib.InvalidEvent, match="NotRegistered is not a registered event"):
        broken.record(NotRegistered(1))
    with pytest.raises(eslib.InvalidEvent, match="got dict"):
        broken.record({"type": "Deposited"})
    assert broken.version == 0 and broken.pending_events == ()


def test_a_decider_category_is_checked_like_an_aggregates():
    for bad in (5, "", "bank-account"):
        with pytest.raises(eslib.ConfigurationError, match="without '-'"):
            eslib.Decider(0, lambda c, s: [], lambda s, e: s, category=bad)  # type: ignore[arg-type]


def test_category_default_and_override():
    class ShoppingCart(eslib.Aggregate):
        pass

    class Order(eslib.Aggregate):
        category = "orders"

    assert ShoppingCart("7").stream_id == "shoppingcart-7"
    assert Order("7").stream_id == "orders-7"
    with pytest.raises(eslib.ConfigurationError, match="without '-'"):
        type("Bad", (eslib.Aggregate,), {"category": "a-b"})


def test_subclass_forgetting_super_init_still_works():
    class Lazy(eslib.Aggregate):
        def __init__(self, id):
            self.n = 0

        def apply(self, event):
            self.n += 1

    lazy = Lazy("1")
    lazy.record(Deposited(1))
    assert (lazy.id, lazy.version, lazy.n) == ("1", 1, 1)


# -- the functional style ------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    opened: bool = False
    amount: int = 0


@dataclass(frozen=True)
class Open:
    owner: str


@dataclass(frozen=True)
class Withdraw:
    amount: int


def decide(command, state):
    match command:
        case Open(owner=owner):
            if state.opened:
                raise ValueError("already open")
            return [AccountOpened(owner)]
        case Withdraw(amount=a):
            if a > state.amount:
                raise InsufficientFunds(f"{state.amount} < {a}")
            return [Withdrawn(a)]
    raise TypeError(f"unknown command {command!r}")


def evolve(state, event):
    match event:
        case AccountOpened():
            return replace(state, opened=True)
        case Deposited(amount=a):
            return replace(state, amount=state.amount + a)
        case Withdrawn(amount=a):
            return replace(state, amount=state.amount - a)
    return state


wallet = eslib.Decider(Balance(), decide, evolve, category="wallet")


def test_decider_given_when_then():
    given(wallet, AccountOpened("ann"), Deposited(10)).when(Withdraw(4)).then(Withdrawn(4))
    given(wallet, AccountOpened("ann")).when(Withdraw(4)).then_raises(InsufficientFunds)
    scenario = given(wallet).when(Open("bob")).then(AccountOpened("bob"))
    assert scenario.state == Balance(opened=True)


def test_decider_fold():
    assert wallet.fold([AccountOpened("a"), Deposited(5), Withdrawn(2)]) == Balance(True, 3)
