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


@pytest.mark.parametrize("amount", ["10", 0.5, True, None, 2**70, -5])
def test_amounts_are_whole_cents(amount):
    given(Account, AccountOpened("ann"), Deposited(100)).when(
        lambda a: a.deposit(amount)).then_raises(BankError, "whole number of cents")
    given(Account, AccountOpened("ann"), Deposited(100)).when(
        lambda a: a.withdraw(amount)).then_raises(BankError, "whole number of cents")
    given(Transfer).when(lambda t: t.request("a", "b", amount)).then_raises(
        BankError, "whole number of cents")


def test_open_and_request_refuse_taken_ids_and_missing_accounts(store):
    accounts = eslib.Repository(store, Account)
    transfers = eslib.Repository(store, Transfer)
    open_account(accounts, "A", "Ann", 100)
    with pytest.raises(BankError, match="account A already exists"):
        open_account(accounts, "A", "Ann", 5)
    for source, target in (("A", "NOPE"), ("NOPE", "A")):
        with pytest.raises(BankError, match="account NOPE does not exist"):
            request_transfer(transfers, "T1", source, target, 30)
    assert not transfers.exists("T1")
    open_account(accounts, "B", "Bob")
    request_transfer(transfers, "T1", "A", "B", 30)
    with pytest.raises(BankError, match="transfer T1 already requested"):
        request_transfer(transfers, "T1", "A", "B", 30)


def _stored_request(store, transfer_id, source, target, amount):
    # as an older version (or other code) could have stored it: unchecked accounts
    transfers = eslib.Repository(store, Transfer)
    transfer = transfers.new(transfer_id)
    transfer.request(source, target, amount)
    transfers.save(transfer)


def test_saga_fails_transfers_with_missing_accounts_and_keeps_the_money(store):
    accounts = eslib.Repository(store, Account)
    transfers = eslib.Repository(store, Transfer)
    open_account(accounts, "A", "Ann", 100)
    open_account(accounts, "B", "Bob")
    _stored_request(store, "T1", "A", "NOPE", 30)  # debited, then refunded
    _stored_request(store, "T2", "NOPE", "A", 30)  # nothing to debit
    request_transfer(transfers, "T3", "A", "B", 10)  # runs after them
    TransferProcess(store).run_until_caught_up()
    t1, t2 = transfers.get("T1"), transfers.get("T2")
    assert (t1.status, t1.reason) == ("failed", "credit refused: account NOPE does not exist")
    assert (t2.status, t2.reason) == ("failed", "account NOPE does not exist")
    assert transfers.get("T3").status == "completed"
    assert (accounts.get("A").balance, accounts.get("B").balance) == (90, 10)
    assert not accounts.exists("NOPE")
