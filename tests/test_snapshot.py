"""Snapshots on every backend: taken after saves, used by get, ignored when stale."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_aggregate import Balance, Open, wallet

import eslib
from eslib.backends.base import Snapshot
from eslib.examples.bank import Account, Deposited


def deposit_n(repo, n, id="1"):
    account = repo.new(id)
    account.open("ann")
    repo.save(account)
    for amount in range(1, n + 1):
        repo.update(id, lambda a, amount=amount: a.deposit(amount))


def test_snapshot_every_n(store):
    repo = eslib.Repository(store, Account, snapshot_every=3)
    deposit_n(repo, 7)  # versions 1..8, one save each
    snapshot = store.load_snapshot("account-1")
    assert snapshot is not None and snapshot.version == 6
    assert snapshot.schema == Account.schema()
    assert json.loads(snapshot.state_json)["balance"] == 15


def test_snapshot_never_changes_what_get_returns(store):
    with_snapshots = eslib.Repository(store, Account, snapshot_every=2)
    plain = eslib.Repository(store, Account)
    deposit_n(with_snapshots, 9)
    for version in range(1, 11):
        a = with_snapshots.get("1", version=version)
        b = plain.get("1", version=version)
        assert vars(a) == vars(b), version


def test_get_starts_from_the_snapshot(store):
    repo = eslib.Repository(store, Account, snapshot_every=0)
    deposit_n(repo, 3)
    assert repo.snapshot("1") is True
    # prove get reads the snapshot: tamper with it (same schema) and see the result
    stored = store.load_snapshot("account-1")
    assert stored is not None
    state = json.loads(stored.state_json)
    state["owner"] = "from-snapshot"
    store.save_snapshot(Snapshot(stored.stream_id, stored.version, stored.schema,
                                 json.dumps(state)))
    repo.update("1", lambda a: a.deposit(100))
    account = repo.get("1")
    assert (account.owner, account.balance, account.version) == ("from-snapshot", 106, 5)
    # time travel to before the snapshot replays from the start
    assert repo.get("1", version=2).owner == "ann"
    # a repository without snapshots never reads them
    assert eslib.Repository(store, Account).get("1").owner == "ann"


def test_snapshot_with_other_schema_is_ignored(store):
    repo = eslib.Repository(store, Account, snapshot_every=1)
    deposit_n(repo, 2)
    store.save_snapshot(Snapshot("account-1", 3, "Account:old-shape",
                                 json.dumps({"balance": 999, "owner": "stale"})))
    account = repo.get("1")
    assert (account.owner, account.balance) == ("ann", 3)


def test_schema_follows_the_state_shape():
    class V1(eslib.Aggregate):
        def __init__(self, id):
            super().__init__(id)
            self.total = 0

    class V2(eslib.Aggregate):
        def __init__(self, id):
            super().__init__(id)
            self.total = 0.0
            self.count = 0

    class Explicit(eslib.Aggregate):
        snapshot_schema = "explicit-3"

    assert V1.schema() != V2.schema()
    assert V1.schema() == V1.schema()
    assert Explicit.schema() == "explicit-3"


class Tally(eslib.Aggregate):
    """State that JSON cannot hold faithfully (a tuple)."""

    def __init__(self, id: Any) -> None:
        super().__init__(id)
        self.amounts: tuple[int, ...] = ()

    def apply(self, event: Any) -> None:
        match event:
            case Deposited(amount=a):
                self.amounts = (*self.amounts, a)


def test_state_that_does_not_survive_json_is_not_snapshotted(store):
    repo = eslib.Repository(store, Tally, snapshot_every=1)
    tally = repo.new("1")
    tally.record(Deposited(1))
    tally.record(Deposited(2))
    repo.save(tally)
    assert store.load_snapshot("tally-1") is None
    assert repo.get("1").amounts == (1, 2)
    with pytest.raises(ValueError, match="unsaved"):
        tally.record(Deposited(3))
        repo.snapshot(tally)


class Garbled(eslib.Aggregate):
    """State that is JSON but not UTF-8 text (a lone surrogate, as from a bad decode)."""

    def __init__(self, id: Any) -> None:
        super().__init__(id)
        self.note = ""

    def apply(self, event: Any) -> None:
        match event:
            case Deposited(amount=a):
                self.note = f"deposit {a} \udc80"


def test_state_that_is_not_utf8_text_is_not_snapshotted(store, caplog):
    repo = eslib.Repository(store, Garbled, snapshot_every=1)
    garbled = repo.new("1")
    garbled.record(Deposited(5))
    repo.save(garbled)  # the events are fine; only the snapshot is skipped
    assert store.load_snapshot("garbled-1") is None
    assert "no snapshot of garbled-1" in caplog.text
    assert repo.get("1").note == "deposit 5 \udc80"


def test_decider_snapshot(store):
    repo = eslib.Repository(store, wallet, snapshot_every=1)
    repo.update("w", Open("ann"), create=True)
    snapshot = store.load_snapshot("wallet-w")
    assert snapshot is not None and json.loads(snapshot.state_json) == {
        "opened": True, "amount": 0}
    assert repo.get("w").state == Balance(opened=True)
