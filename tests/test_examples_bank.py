"""The bank example's read models (balances, SQL table, audit trail) and helpers."""

from __future__ import annotations

import pytest

import eslib
from eslib.examples.bank import (
    Account,
    AccountClosed,
    AccountNotOpen,
    AccountOpened,
    AuditTrail,
    Balances,
    BalanceTable,
    BankError,
    Deposited,
    Transfer,
    TransferProcess,
    open_account,
    request_transfer,
)
from eslib.testing import given


def test_account_rules():
    given(Account).when(lambda a: a.open("ann")).then(AccountOpened("ann"))
    given(Account, AccountOpened("ann")).when(lambda a: a.deposit(5)).then(Deposited(5))
    given(Account, AccountOpened("ann")).when(lambda a: a.deposit(0)).then_raises(BankError)
    given(Account, AccountOpened("ann"), AccountClosed()).when(
        lambda a: a.deposit(5)).then_raises(AccountNotOpen)


def _bank(store):
    accounts = eslib.Repository(store, Account)
    transfers = eslib.Repository(store, Transfer)
    open_account(accounts, "alice", "Alice", 100)
    open_account(accounts, "bob", "Bob")
    open_account(accounts, "carol", "Carol", 5)
    accounts.update("carol", lambda a: a.close())
    request_transfer(transfers, "t1", "alice", "bob", 30)
    request_transfer(transfers, "t2", "alice", "carol", 10)  # compensated
    request_transfer(transfers, "t3", "bob", "alice", 999)   # refused
    TransferProcess(store).run_until_caught_up()
    return accounts, transfers


def test_balances_and_audit(store):
    _bank(store)
    balances = Balances()
    eslib.ProjectionRunner(store, balances).run_until_caught_up()
    assert balances.frame().values.tolist() == [
        ["alice", "Alice", 70, True], ["bob", "Bob", 30, True], ["carol", "Carol", 5, False]]
    audit = AuditTrail()
    eslib.ProjectionRunner(store, audit).run_until_caught_up()
    frame = audit.frame()
    t2 = frame[frame.transfer == "t2"]
    assert t2[["stream", "type", "amount"]].values.tolist() == [
        ["account-alice", "TransferDebited", -10],
        ["transfer-t2", "TransferFailed", pd_na()],
        ["account-alice", "TransferRefunded", 10],
    ]
    assert frame.position.is_monotonic_increasing
    assert int(frame["amount"].sum()) == 105  # money in the bank: deposits only


def pd_na():
    import pandas as pd

    return pd.NA


@pytest.mark.backends("duckdb", "postgres")  # SQL read models
def test_balance_table_matches_balances(store):
    _bank(store)
    runner = eslib.ProjectionRunner(store, BalanceTable())
    runner.run_until_caught_up()
    with store.transaction() as tx:
        rows = [tuple(r) for r in tx.execute(
            "SELECT account, balance, is_open FROM bank_balances ORDER BY account")]
    assert rows == [("alice", 70, True), ("bob", 30, True), ("carol", 5, False)]
    assert store.load_checkpoint("BalanceTable") > 0
    runner.rebuild()
    with store.transaction() as tx:
        assert tx.execute("SELECT SUM(balance) FROM bank_balances")[0][0] == 105
