"""The bank account of :mod:`eslib.bench.es`, written for the ``eventsourcing`` library.

Imported only when ``eventsourcing`` is installed (the ``bench`` extra); its classes
live at module level because ``eventsourcing`` registers them by topic.
"""

from __future__ import annotations

import uuid

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event


class Account(Aggregate):
    @event("Opened")
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.balance = 0

    @event("Deposited")
    def deposit(self, amount: int) -> None:
        self.balance += amount


class BenchAccounts(Application[uuid.UUID]):
    """Accounts without snapshots."""


class BenchSnapshots(Application[uuid.UUID]):
    """Accounts with snapshots enabled (``take_snapshot``)."""

    is_snapshotting_enabled = True
