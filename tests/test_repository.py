"""Repositories on every backend: get, time travel, save, conflicts, update with retry."""

from __future__ import annotations

import pytest
from test_aggregate import Balance, Open, Withdraw, wallet

import eslib
from eslib.examples.bank import (
    Account,
    AccountNotOpen,
    AccountOpened,
    Deposited,
    InsufficientFunds,
    Withdrawn,
)


def open_account(repo, id="1", deposits=(10,)):
    account = repo.new(id)
    account.open("ann")
    for amount in deposits:
        account.deposit(amount)
    repo.save(account)
    return account


def test_save_and_get(store):
    repo = eslib.Repository(store, Account)
    saved = open_account(repo, deposits=(10, 5))
    assert saved.pending_events == () and saved.version == 3
    loaded = repo.get("1")
    assert (loaded.owner, loaded.balance, loaded.version) == ("ann", 15, 3)
    assert [e.type for e in store.read_stream("account-1")] == [
        "AccountOpened", "Deposited", "Deposited"]
    assert repo.exists("1") and not repo.exists("2")


def test_time_travel(store):
    repo = eslib.Repository(store, Account)
    open_account(repo, deposits=(10, 5, 1))
    assert [repo.get("1", version=v).balance for v in (1, 2, 3, 4)] == [0, 10, 15, 16]
    with pytest.raises(eslib.AggregateNotFound, match="has 4 event"):
        repo.get("1", version=5)


def test_an_aggregate_id_must_not_be_none_or_empty(store):
    repo = eslib.Repository(store, Account)
    for bad in (None, ""):
        with pytest.raises(eslib.InvalidEvent, match="must not be None or empty"):
            repo.update(bad, lambda a: a.open("ann"), create=True)
        with pytest.raises(eslib.InvalidEvent, match="must not be None or empty"):
            repo.get(bad)
    assert store.streams() == []
    repo.update(0, lambda a: a.open("zed"), create=True)  # 0 is an id like any other
    assert store.streams() == ["account-0"]


def test_missing_aggregate(store):
    repo = eslib.Repository(store, Account)
    with pytest.raises(eslib.AggregateNotFound, match="'account-nope'") as info:
        repo.get("nope")
    assert info.value.stream_id == "account-nope"


def test_nothing_pending_writes_nothing(store):
    repo = eslib.Repository(store, Account)
    open_account(repo)
    head = store.head_position()
    assert repo.save(repo.get("1")) is None
    assert store.head_position() == head


def test_concurrent_save_conflicts_and_writes_nothing(store):
    repo = eslib.Repository(store, Account)
    open_account(repo)
    first, second = repo.get("1"), repo.get("1")
    first.deposit(1)
    repo.save(first)
    second.withdraw(10)
    with pytest.raises(eslib.WrongExpectedVersion) as info:
        repo.save(second)
    assert (info.value.expected, info.value.actual) == (2, 3)
    assert store.stream_version("account-1") == 3
    assert second.pending_events == (Withdrawn(10),)  # kept: the caller may retry


def test_update_retries_under_a_real_conflict(store):
    # two repositories (two "processes") writing the same stream
    one = eslib.Repository(store, Account)
    two = eslib.Repository(store, Account)
    open_account(one)
    runs = []

    def withdraw(account):
        runs.append(account.version)
        if len(runs) == 1:  # another writer sneaks in between our load and our save
            two.update("1", lambda a: a.deposit(100))
        account.withdraw(5)

    result = one.update("1", withdraw)
    assert runs == [2, 3]  # reloaded and rerun on the fresh state
    assert result.balance == 105 and one.get("1").balance == 105


def test_update_gives_up_after_retries(store):
    one = eslib.Repository(store, Account)
    two = eslib.Repository(store, Account)
    open_account(one)

    def always_conflicting(account):
        two.update("1", lambda a: a.deposit(1))
        account.deposit(1)

    with pytest.raises(eslib.WrongExpectedVersion):
        one.update("1", always_conflicting, retries=2)
    assert one.get("1").balance == 13  # three interfering deposits, none of ours


def test_update_domain_error_writes_nothing(store):
    repo = eslib.Repository(store, Account)
    open_account(repo)
    with pytest.raises(InsufficientFunds):
        repo.update("1", lambda a: a.withdraw(99))
    with pytest.raises(eslib.AggregateNotFound):
        repo.update("2", lambda a: a.deposit(1))
    with pytest.raises(AccountNotOpen):
        repo.update("2", lambda a: a.deposit(1), create=True)
    assert store.streams() == ["account-1"]


def test_update_create(store):
    repo = eslib.Repository(store, Account)
    account = repo.update("9", lambda a: a.open("zed"), create=True)
    assert account.version == 1 and repo.get("9").owner == "zed"


def test_unknown_stored_type_named(store):
    repo = eslib.Repository(store, Account)
    open_account(repo)
    store.append("account-1", [eslib.NewEvent("InterestPaid", {"amount": 1})])
    with pytest.raises(eslib.UnknownEventType, match="InterestPaid"):
        repo.get("1")


def test_metadata_on_save(store):
    repo = eslib.Repository(store, Account)
    account = repo.new("1")
    account.open("ann")
    repo.save(account, metadata={"user": "u1"})
    assert next(store.read_stream("account-1")).metadata == {"user": "u1", "schema_version": 1}


def test_decider_through_repository(store):
    repo = eslib.Repository(store, wallet)
    created = repo.update("w1", Open("ann"), create=True)
    assert created.state == Balance(opened=True) and created.stream_id == "wallet-w1"
    store.append("wallet-w1", [eslib.registry.default_registry.to_new_event(Deposited(7))])
    assert repo.update("w1", Withdraw(5)).state == Balance(True, 2)
    assert repo.get("w1", version=2).state == Balance(True, 7)
    with pytest.raises(InsufficientFunds):
        repo.update("w1", Withdraw(5))
    assert [e.type for e in store.read_stream("wallet-w1")] == [
        "AccountOpened", "Deposited", "Withdrawn"]
    assert isinstance(repo.get("w1").pending_events, tuple)
    assert AccountOpened("x") != Deposited(1)


def test_update_from_many_threads_loses_nothing(store):
    import threading

    repo = eslib.Repository(store, Account)
    open_account(repo, deposits=())
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(10):
                repo.update("1", lambda a: a.deposit(1), retries=100)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    account = repo.get("1")
    assert (account.balance, account.version) == (40, 41)


def test_aggregates_pickle():
    import pickle

    account = Account("1")
    account.open("ann")
    copy = pickle.loads(pickle.dumps(account))
    assert (copy.id, copy.version, copy.owner, copy.pending_events) == (
        "1", 1, "ann", (AccountOpened("ann"),))
    error = eslib.SubscriptionStopped("s", "evt", 2, ValueError("x"))
    assert pickle.loads(pickle.dumps(error)).attempts == 2


@pytest.mark.parametrize("make", [
    lambda s: eslib.Repository(s, dict),
    lambda s: eslib.Repository(s, Account("an instance, not the class")),
    lambda s: eslib.Repository(s, Account, snapshot_every=-1),
    lambda s: eslib.Repository(s, Account, snapshot_every="5"),
])
def test_a_misconfigured_repository_is_refused(make):
    with pytest.raises(eslib.ConfigurationError):
        make(eslib.connect("memory://"))


@pytest.mark.parametrize("call, message", [
    (lambda r: r.get("1", version=0), "version"),
    (lambda r: r.get("1", version=2**63), "version"),
    (lambda r: r.get("1", version="1"), "version"),
    (lambda r: r.update("1", lambda a: a.deposit(1), retries=-1), "retries"),
    (lambda r: r.update("1", lambda a: a.deposit(1), retries="3"), "retries"),
    (lambda r: r.update("1", "deposit"), "callable"),
    (lambda r: r.save(None), "saves Account aggregates, got NoneType"),
    (lambda r: r.save(eslib.Repository(r.store, wallet).new("w")), "saves Account aggregates"),
])
def test_bad_arguments_are_invalid_and_change_nothing(store, call, message):
    repo = eslib.Repository(store, Account)
    open_account(repo)
    with pytest.raises(eslib.InvalidEvent, match=message):
        call(repo)
    assert store.head_position() == 2 and repo.get("1").balance == 10


def test_a_ticking_clock_needs_an_aware_start():
    from datetime import datetime

    with pytest.raises(eslib.ConfigurationError, match="timezone-aware"):
        eslib.TickingClock(datetime(2024, 1, 1))
