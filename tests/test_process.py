"""The bank-transfer saga on every backend: success, refusal, compensation, idempotence."""

from __future__ import annotations

import pytest

import eslib
from eslib.examples.bank import (
    Account,
    Transfer,
    TransferCredited,
    TransferDebited,
    TransferProcess,
    TransferRefunded,
)


def setup_bank(store, balances=None):
    accounts = eslib.Repository(store, Account)
    for id, balance in (balances or {"alice": 100, "bob": 0}).items():
        account = accounts.new(id)
        account.open(id)
        if balance:
            account.deposit(balance)
        accounts.save(account)
    return accounts, eslib.Repository(store, Transfer)


def request(transfers, id, source, target, amount):
    transfer = transfers.new(id)
    transfer.request(source, target, amount)
    transfers.save(transfer)


def test_transfer_completes(store):
    accounts, transfers = setup_bank(store)
    request(transfers, "t1", "alice", "bob", 30)
    process = TransferProcess(store)
    assert process.run_until_caught_up() == 2  # TransferRequested, then TransferDebited
    assert accounts.get("alice").balance == 70 and accounts.get("bob").balance == 30
    assert transfers.get("t1").status == "completed"
    credited = list(store.read_stream("account-bob"))[-1]
    assert credited.type == "TransferCredited"
    assert credited.metadata["correlation_id"] == "t1"


def test_insufficient_funds_fails_the_transfer(store):
    accounts, transfers = setup_bank(store)
    request(transfers, "t1", "alice", "bob", 500)
    TransferProcess(store).run_until_caught_up()
    transfer = transfers.get("t1")
    assert transfer.status == "failed" and "holds 100" in (transfer.reason or "")
    assert accounts.get("alice").balance == 100


def test_compensation_when_the_credit_is_refused(store):
    accounts, transfers = setup_bank(store)
    accounts.update("bob", lambda a: a.close())
    request(transfers, "t1", "alice", "bob", 40)
    TransferProcess(store).run_until_caught_up()
    alice = accounts.get("alice")
    assert alice.balance == 100  # debited, then refunded
    assert [type(e).__name__ for e in _events(store, "account-alice")][-2:] == [
        "TransferDebited", "TransferRefunded"]
    transfer = transfers.get("t1")
    assert transfer.status == "failed" and "credit refused" in (transfer.reason or "")


def _events(store, stream_id):
    registry = eslib.default_registry
    return [registry.decode(r) for r in store.read_stream(stream_id)]


def test_replayed_events_issue_no_second_command(store):
    accounts, transfers = setup_bank(store)
    request(transfers, "t1", "alice", "bob", 30)
    process = TransferProcess(store)
    process.run_until_caught_up()
    head = store.head_position()
    # replay everything from the start, as after losing the checkpoint
    with store.transaction() as tx:
        tx.save_checkpoint("transfers", 0)
    replay = TransferProcess(store)
    assert replay.run_until_caught_up() == 0  # every event already handled
    # deliver one event directly a second time
    debited = next(r for r in store.read_all() if r.type == "TransferDebited")
    assert replay.handle(debited) is False
    assert accounts.get("alice").balance == 70 and accounts.get("bob").balance == 30
    marker_events = sum(1 for r in store.read_all() if r.type == "EventHandled")
    assert store.head_position() == head and marker_events == 2
    assert store.load_checkpoint("transfers") == debited.position  # the last one it follows


def test_commands_are_idempotent_per_transfer(store):
    accounts, _ = setup_bank(store)
    account = accounts.get("alice")
    account.debit("t9", 10)
    account.debit("t9", 10)  # the same transfer step again: no second event
    account.refund("t9", 10)
    account.refund("t9", 10)
    assert account.pending_events == (TransferDebited("t9", 10), TransferRefunded("t9", 10))
    bob = accounts.get("bob")
    bob.credit("t9", 10)
    bob.credit("t9", 10)
    assert bob.pending_events == (TransferCredited("t9", 10),)


def test_concurrent_change_reacts_again(store):
    accounts, transfers = setup_bank(store)
    request(transfers, "t1", "alice", "bob", 30)
    process = TransferProcess(store)
    original = process.react
    calls: list[int] = []

    def interfering(event, ctx):
        calls.append(ctx.recorded.position)
        original(event, ctx)
        if len(calls) == 1:  # alice spends money between our load and our commit
            accounts.update("alice", lambda a: a.withdraw(80))

    process.react = interfering  # type: ignore[method-assign]
    process.run_until_caught_up()
    assert calls[:2] == [calls[0], calls[0]]  # the first event was reacted to twice
    assert accounts.get("alice").balance == 20 and accounts.get("bob").balance == 0
    assert transfers.get("t1").status == "failed"  # 30 > 20 left after the interference


def test_thread_mode(store):
    accounts, transfers = setup_bank(store)
    process = TransferProcess(store, poll_interval=0.01)
    with process:
        request(transfers, "t1", "alice", "bob", 10)
        request(transfers, "t2", "alice", "bob", 15)
        for _ in range(500):
            if all(transfers.get(t).status == "completed" for t in ("t1", "t2")):
                break
            import time

            time.sleep(0.01)
    assert accounts.get("bob").balance == 25


def test_name_must_not_contain_dash(store):
    class Bad(TransferProcess):
        name = "bad-name"

    with pytest.raises(eslib.ConfigurationError):
        Bad(store)
