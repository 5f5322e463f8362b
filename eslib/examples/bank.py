"""The reference scenario: bank accounts and a money transfer run by a saga.

Two aggregates — :class:`Account` and :class:`Transfer` — and the
:class:`TransferProcess` process manager that moves money between accounts:

1. ``TransferRequested`` → debit the source account (or fail the transfer when
   funds are insufficient);
2. ``TransferDebited`` → credit the target account and complete the transfer; if
   the target refuses (closed, or gone), compensate: refund the source and fail the
   transfer.

Every step is idempotent: a replayed event issues no second command. A step that
cannot run fails the transfer rather than stopping the saga: money is neither
created nor lost, and the transfers after it still run.
"""

from __future__ import annotations

from typing import Any

import eslib
from eslib.process import ProcessContext, ProcessManager
from eslib.validation import is_int


class BankError(Exception):
    """A command broke a bank rule; nothing was recorded."""


class InsufficientFunds(BankError):
    pass


class AccountNotOpen(BankError):
    pass


def _check_amount(amount: Any, what: str) -> None:
    # cents are ints: a float would round money away, a bool or str is a caller's mistake
    if not is_int(amount, 1):
        raise BankError(f"{what} must be a whole number of cents, an int from 1 to "
                        f"2**63 - 1; got {amount!r}")


# -- events ------------------------------------------------------------------


@eslib.event
class AccountOpened:
    owner: str


@eslib.event
class Deposited:
    amount: int


@eslib.event
class Withdrawn:
    amount: int


@eslib.event
class AccountClosed:
    pass


@eslib.event
class TransferDebited:
    transfer_id: str
    amount: int


@eslib.event
class TransferCredited:
    transfer_id: str
    amount: int


@eslib.event
class TransferRefunded:
    transfer_id: str
    amount: int


@eslib.event
class TransferRequested:
    source: str
    target: str
    amount: int


@eslib.event
class TransferCompleted:
    pass


@eslib.event
class TransferFailed:
    reason: str


# -- aggregates ----------------------------------------------------------------


class Account(eslib.Aggregate):
    """A bank account; transfer steps are idempotent per transfer id."""

    def __init__(self, id: Any) -> None:
        super().__init__(id)
        self.owner: str | None = None
        self.balance = 0
        self.is_open = False
        self.transfers: dict[str, str] = {}  # transfer id -> last step applied

    def open(self, owner: str) -> None:
        if self.version:
            raise BankError(f"account {self.id} already exists")
        self.record(AccountOpened(owner))

    def deposit(self, amount: int) -> None:
        self._check_open()
        _check_amount(amount, "a deposit")
        self.record(Deposited(amount))

    def withdraw(self, amount: int) -> None:
        self._check_open()
        _check_amount(amount, "a withdrawal")
        if amount > self.balance:
            raise InsufficientFunds(f"account {self.id} holds {self.balance}, not {amount}")
        self.record(Withdrawn(amount))

    def close(self) -> None:
        self._check_open()
        self.record(AccountClosed())

    def debit(self, transfer_id: str, amount: int) -> None:
        if transfer_id in self.transfers:
            return  # already debited for this transfer
        self._check_open()
        if amount > self.balance:
            raise InsufficientFunds(f"account {self.id} holds {self.balance}, not {amount}")
        self.record(TransferDebited(transfer_id, amount))

    def credit(self, transfer_id: str, amount: int) -> None:
        if transfer_id in self.transfers:
            return
        self._check_open()
        self.record(TransferCredited(transfer_id, amount))

    def refund(self, transfer_id: str, amount: int) -> None:
        if self.transfers.get(transfer_id) != "debited":
            return  # never debited, or already refunded
        self.record(TransferRefunded(transfer_id, amount))

    def _check_open(self) -> None:
        if not self.is_open:
            raise AccountNotOpen(f"account {self.id} is not open")

    def apply(self, event: Any) -> None:
        match event:
            case Deposited(amount=a):
                self.balance += a
            case Withdrawn(amount=a):
                self.balance -= a
            case AccountOpened(owner=owner):
                self.owner, self.is_open = owner, True
            case AccountClosed():
                self.is_open = False
            case TransferDebited(transfer_id=t, amount=a):
                self.balance -= a
                self.transfers[t] = "debited"
            case TransferCredited(transfer_id=t, amount=a):
                self.balance += a
                self.transfers[t] = "credited"
            case TransferRefunded(transfer_id=t, amount=a):
                self.balance += a
                self.transfers[t] = "refunded"


class Transfer(eslib.Aggregate):
    """A transfer request and its outcome: requested → completed | failed."""

    def __init__(self, id: Any) -> None:
        super().__init__(id)
        self.source = self.target = ""
        self.amount = 0
        self.status = "new"
        self.reason: str | None = None

    def request(self, source: str, target: str, amount: int) -> None:
        if self.version:
            raise BankError(f"transfer {self.id} already requested")
        _check_amount(amount, "a transfer")
        if source == target:
            raise BankError("a transfer needs two different accounts")
        self.record(TransferRequested(source, target, amount))

    def complete(self) -> None:
        if self.status == "requested":
            self.record(TransferCompleted())

    def fail(self, reason: str) -> None:
        if self.status == "requested":
            self.record(TransferFailed(reason))

    def apply(self, event: Any) -> None:
        match event:
            case TransferRequested(source=s, target=t, amount=a):
                self.source, self.target, self.amount = s, t, a
                self.status = "requested"
            case TransferCompleted():
                self.status = "completed"
            case TransferFailed(reason=r):
                self.status, self.reason = "failed", r


# -- the saga ------------------------------------------------------------------


class TransferProcess(ProcessManager):
    """Runs transfers: debit the source, credit the target, refund on failure."""

    name = "transfers"
    types = (TransferRequested, TransferDebited)

    def __init__(self, store: eslib.EventStore, **options: Any) -> None:
        super().__init__(store, **options)
        self.accounts = eslib.Repository(store, Account)
        self.transfers = eslib.Repository(store, Transfer)

    def correlate(self, event: Any, recorded: eslib.RecordedEvent) -> str | None:
        match event:
            case TransferRequested():
                return recorded.stream_id.split("-", 1)[1]
            case TransferDebited(transfer_id=t):
                return t
        return None

    def react(self, event: Any, ctx: ProcessContext) -> None:
        match event:
            case TransferRequested(source=source, amount=amount):
                try:
                    ctx.update(self.accounts, source, lambda a: a.debit(ctx.key, amount))
                except (BankError, eslib.AggregateNotFound) as exc:
                    # a missing account (a request stored before request_transfer checked,
                    # or written by other code) fails the transfer: raising would stop
                    # the saga for good and leave every later transfer waiting
                    reason = _refusal(exc, source)
                    ctx.update(self.transfers, ctx.key, lambda t: t.fail(reason))
            case TransferDebited(amount=amount):
                transfer = ctx.get(self.transfers, ctx.key)
                try:
                    ctx.update(self.accounts, transfer.target,
                               lambda a: a.credit(ctx.key, amount))
                    ctx.update(self.transfers, ctx.key, lambda t: t.complete())
                except (BankError, eslib.AggregateNotFound) as exc:  # give the money back
                    reason = f"credit refused: {_refusal(exc, transfer.target)}"
                    ctx.update(self.accounts, transfer.source,
                               lambda a: a.refund(ctx.key, amount))
                    ctx.update(self.transfers, ctx.key, lambda t: t.fail(reason))


def _refusal(exc: Exception, account_id: str) -> str:
    if isinstance(exc, eslib.AggregateNotFound):
        return f"account {account_id} does not exist"
    return str(exc)


# -- read models: balances and the audit trail ------------------------------------------------

_AMOUNT_SIGN = {"Deposited": 1, "Withdrawn": -1, "TransferDebited": -1, "TransferCredited": 1,
                "TransferRefunded": 1}


class Balances(eslib.Projection):
    """Balance and status per account, folded from the account streams."""

    types = (AccountOpened, Deposited, Withdrawn, AccountClosed, TransferDebited,
             TransferCredited, TransferRefunded)

    def __init__(self) -> None:
        self.accounts: dict[str, dict[str, Any]] = {}

    def apply(self, event: Any, ctx: eslib.EventContext) -> None:
        account = ctx.stream_id.split("-", 1)[1]
        match event:
            case AccountOpened(owner=owner):
                self.accounts[account] = {"account": account, "owner": owner, "balance": 0,
                                          "open": True}
            case AccountClosed():
                self.accounts[account]["open"] = False
            case _:
                self.accounts[account]["balance"] += _AMOUNT_SIGN[ctx.type] * event.amount

    def frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(list(self.accounts.values()),
                            columns=["account", "owner", "balance", "open"]
                            ).sort_values("account", ignore_index=True)


class BalanceTable(eslib.SQLProjection):
    """Balances as a SQL table ``bank_balances`` in the store's own database (exactly once)."""

    types = Balances.types

    def setup(self, tx: eslib.StoreTransaction) -> None:
        tx.execute("CREATE TABLE IF NOT EXISTS bank_balances (account TEXT PRIMARY KEY, "
                   "owner TEXT, balance BIGINT, is_open BOOLEAN)")

    def clear(self, tx: eslib.StoreTransaction | None) -> None:
        assert tx is not None
        tx.execute("DELETE FROM bank_balances")

    def apply(self, event: Any, ctx: eslib.EventContext) -> None:
        account = ctx.stream_id.split("-", 1)[1]
        match event:
            case AccountOpened(owner=owner):
                ctx.execute("INSERT INTO bank_balances VALUES (?, ?, 0, TRUE)", (account, owner))
            case AccountClosed():
                ctx.execute("UPDATE bank_balances SET is_open = FALSE WHERE account = ?",
                            (account,))
            case _:
                ctx.execute("UPDATE bank_balances SET balance = balance + ? WHERE account = ?",
                            (_AMOUNT_SIGN[ctx.type] * event.amount, account))


class AuditTrail(eslib.Projection):
    """Every money movement and transfer decision, in global order, with its cause.

    The audit answers "who moved what, when, and because of which event": each row
    keeps the position, the stream, the signed amount and the correlation id the
    saga wrote into the metadata (the transfer id).
    """

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def apply(self, event: Any, ctx: eslib.EventContext) -> None:
        if ctx.type not in _AMOUNT_SIGN and not ctx.type.startswith("Transfer"):
            return
        sign = _AMOUNT_SIGN.get(ctx.type)  # requests and outcomes move no money
        self.rows.append({
            "position": ctx.position, "stream": ctx.stream_id, "type": ctx.type,
            "amount": None if sign is None else sign * event.amount,
            "transfer": ctx.metadata.get("correlation_id", ""),
            "reason": getattr(event, "reason", ""),
        })

    def frame(self) -> Any:
        import pandas as pd

        columns = ["position", "stream", "type", "amount", "transfer", "reason"]
        return pd.DataFrame(self.rows, columns=columns).astype({"amount": "Int64"})


def open_account(accounts: eslib.Repository[Account], account_id: str, owner: str,
                 deposit: int = 0) -> Account:
    """Open an account (and make a first deposit) in one save."""
    if accounts.exists(account_id):
        raise BankError(f"account {account_id} already exists: pick another id")
    account = accounts.new(account_id)
    account.open(owner)
    if deposit:
        account.deposit(deposit)
    try:
        accounts.save(account)
    except eslib.WrongExpectedVersion:  # opened by someone else since the check above
        raise BankError(f"account {account_id} already exists: pick another id") from None
    return account


def request_transfer(transfers: eslib.Repository[Transfer], transfer_id: str, source: str,
                     target: str, amount: int) -> Transfer:
    """Record a transfer request; :class:`TransferProcess` carries it out.

    Both accounts must exist (the saga would fail the transfer anyway; refusing here
    tells the caller at once). A closed account is the saga's to find: it may close
    between the request and the debit.
    """
    if transfers.exists(transfer_id):
        raise BankError(f"transfer {transfer_id} already requested: pick another id")
    transfer = transfers.new(transfer_id)
    transfer.request(source, target, amount)
    accounts = eslib.Repository(transfers.store, Account)
    for account_id in (source, target):
        if not accounts.exists(account_id):
            raise BankError(f"account {account_id} does not exist: open it first")
    try:
        transfers.save(transfer)
    except eslib.WrongExpectedVersion:  # requested by someone else since the check above
        raise BankError(f"transfer {transfer_id} already requested: pick another id") from None
    return transfer
