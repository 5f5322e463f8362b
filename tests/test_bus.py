"""The in-process event bus: publish after a successful save, failures reported not raised."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import eslib
from eslib.examples.bank import Account, AccountOpened, Deposited, InsufficientFunds


def test_handlers_per_type_after_save(store):
    bus = eslib.EventBus()
    deposits: list[Any] = []
    everything: list[Any] = []
    bus.subscribe(Deposited, deposits.append)
    bus.on()(everything.append)
    repo = eslib.Repository(store, Account, bus=bus)
    account = repo.new("1")
    account.open("ann")
    account.deposit(5)
    repo.save(account)
    assert deposits == [Deposited(5)]
    assert everything == [AccountOpened("ann"), Deposited(5)]


def test_failing_handler_does_not_undo_the_save(store, caplog):
    bus = eslib.EventBus()
    after: list[Any] = []

    @bus.on(Deposited)
    def explode(event: Any) -> None:
        raise RuntimeError("mail server down")

    bus.subscribe(Deposited, after.append)
    repo = eslib.Repository(store, Account, bus=bus)
    account = repo.new("1")
    account.open("ann")
    account.deposit(5)
    with caplog.at_level(logging.ERROR, logger="eslib.bus"):
        result = repo.save(account)
    assert result is not None and result.version == 2
    assert store.stream_version("account-1") == 2  # the save stands
    assert after == [Deposited(5)]  # the other handlers still ran
    assert len(bus.failures) == 1
    failure = bus.failures[0]
    assert failure.event == Deposited(5) and isinstance(failure.error, RuntimeError)
    assert "explode failed on Deposited(amount=5)" in str(failure)
    assert "mail server down" in caplog.text


def test_keep_failures_bounds_the_failure_list():
    for keep in (0, 2):
        bus = eslib.EventBus(keep_failures=keep)
        bus.on(object)(lambda event: 1 / 0)
        for n in range(5):
            assert len(bus.publish([n])) == 1
        assert [f.event for f in bus.failures] == [3, 4][2 - keep:]
    for bad in (-1, 1.5, None):
        with pytest.raises(eslib.ConfigurationError, match="keep_failures"):
            eslib.EventBus(keep_failures=bad)  # type: ignore[arg-type]


def test_nothing_published_when_the_save_fails(store):
    bus = eslib.EventBus()
    seen: list[Any] = []
    bus.on(object)(seen.append)
    repo = eslib.Repository(store, Account, bus=bus)
    account = repo.new("1")
    account.open("ann")
    repo.save(account)
    stale = repo.get("1")
    repo.update("1", lambda a: a.deposit(1))
    stale.deposit(2)
    with pytest.raises(eslib.WrongExpectedVersion):
        repo.save(stale)
    with pytest.raises(InsufficientFunds):
        repo.update("1", lambda a: a.withdraw(100))
    assert seen == [AccountOpened("ann"), Deposited(1)]
