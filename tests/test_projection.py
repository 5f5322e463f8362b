"""Projections on every backend: catch-up, exactly-once across a crash, rebuild, inline."""

from __future__ import annotations

from typing import Any

import pytest

import eslib
from eslib.examples.bank import Account, AccountOpened, Deposited, Withdrawn


class Balances(eslib.Projection):
    """Python read model: balance per account stream."""

    types = (AccountOpened, Deposited, Withdrawn)

    def __init__(self, fail_at: int | None = None) -> None:
        self.balances: dict[str, int] = {}
        self.fail_at = fail_at

    def apply(self, event: Any, ctx: eslib.EventContext) -> None:
        if ctx.position == self.fail_at:
            self.fail_at = None  # fail once: "the process crashed here"
            raise RuntimeError("crash")
        match event:
            case AccountOpened():
                self.balances[ctx.stream_id] = 0
            case Deposited(amount=a):
                self.balances[ctx.stream_id] += a
            case Withdrawn(amount=a):
                self.balances[ctx.stream_id] -= a


class SQLBalances(eslib.SQLProjection):
    """The same read model as a table in the store's database."""

    name = "sql_balances"
    types = (AccountOpened, Deposited, Withdrawn)

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at

    def setup(self, tx: eslib.StoreTransaction) -> None:
        tx.execute("CREATE TABLE IF NOT EXISTS balances_view"
                   " (stream_id TEXT PRIMARY KEY, balance BIGINT NOT NULL)")

    def clear(self, tx: eslib.StoreTransaction | None) -> None:
        assert tx is not None
        tx.execute("DELETE FROM balances_view")

    def apply(self, event: Any, ctx: eslib.EventContext) -> None:
        match event:
            case AccountOpened():
                ctx.execute("INSERT INTO balances_view VALUES (?, 0)", (ctx.stream_id,))
            case Deposited(amount=a) | Withdrawn(amount=a):
                sign = 1 if isinstance(event, Deposited) else -1
                ctx.execute("UPDATE balances_view SET balance = balance + ? WHERE stream_id = ?",
                            (sign * a, ctx.stream_id))
        if ctx.position == self.fail_at:  # after this event's SQL ran: must be rolled back
            self.fail_at = None
            raise RuntimeError("crash")


def table(store) -> dict[str, int]:
    with store.transaction() as tx:
        return {str(s): int(b) for s, b in tx.execute(  # type: ignore[call-overload]
            "SELECT stream_id, balance FROM balances_view")}


def fill(store, accounts=3, deposits=4) -> dict[str, int]:
    repo = eslib.Repository(store, Account)
    expected = {}
    for n in range(accounts):
        account = repo.new(str(n))
        account.open(f"owner{n}")
        for amount in range(1, deposits + 1):
            account.deposit(amount * 10)
        account.withdraw(5)
        repo.save(account)
        expected[account.stream_id] = sum(range(1, deposits + 1)) * 10 - 5
    store.append("other-1", [eslib.NewEvent("Unrelated", {})])
    return expected


needs_sql = pytest.mark.backends("duckdb", "postgres")  # SQL read models: not on memory


def test_catch_up_python_read_model(store):
    expected = fill(store)
    projection = Balances()
    runner = eslib.ProjectionRunner(store, projection, page_size=4)
    assert runner.run_until_caught_up() == 18
    assert projection.balances == expected
    assert projection.position == 18  # the last event it is interested in
    assert runner.run_until_caught_up() == 0
    eslib.Repository(store, Account).update("0", lambda a: a.deposit(1))
    assert runner.run_until_caught_up() == 1 and projection.balances["account-0"] == 96


def test_crash_in_the_middle_python_read_model(store):
    expected = fill(store)
    projection = Balances(fail_at=7)
    runner = eslib.ProjectionRunner(store, projection, page_size=5, retries=0)
    with pytest.raises(eslib.SubscriptionStopped, match="position 7") as info:
        runner.run_until_caught_up()
    assert info.value.event.position == 7 and isinstance(info.value.__cause__, RuntimeError)
    assert projection.position == 6  # events 1-6 applied, 7 not
    runner.run_until_caught_up()  # "restart": resumes at 7, no event lost or applied twice
    assert projection.balances == expected


@needs_sql
def test_crash_in_the_middle_sql_read_model(store):
    expected = fill(store)
    runner = eslib.ProjectionRunner(store, SQLBalances(fail_at=8), page_size=5, retries=0)
    with pytest.raises(eslib.SubscriptionStopped, match="position 8"):
        runner.run_until_caught_up()
    # page 1 (positions 1-5) committed; page 2 (6-10) rolled back with its checkpoint
    assert store.load_checkpoint("sql_balances") == 5
    assert table(store) == {"account-0": 100}
    # a new runner (a restarted process) continues from the committed checkpoint
    restarted = eslib.ProjectionRunner(store, SQLBalances(), page_size=5)
    restarted.run_until_caught_up()
    assert table(store) == expected
    assert store.load_checkpoint("sql_balances") == 18


def test_retry_then_success(store):
    expected = fill(store)
    projection = Balances(fail_at=3)
    runner = eslib.ProjectionRunner(store, projection, retries=2, retry_delay=0)
    runner.run_until_caught_up()
    assert projection.balances == expected


def test_rebuild(store):
    expected = fill(store)
    projection = Balances()
    runner = eslib.ProjectionRunner(store, projection)
    runner.run_until_caught_up()
    projection.balances["account-0"] = -1  # a bug corrupted the model
    assert runner.rebuild() == 18
    assert projection.balances == expected
    if "sql" in store.capabilities:
        sql = eslib.ProjectionRunner(store, SQLBalances())
        sql.run_until_caught_up()
        with store.transaction() as tx:
            tx.execute("UPDATE balances_view SET balance = 0")
        sql.rebuild()
        assert table(store) == expected


@pytest.mark.backends("memory")
def test_sql_projection_needs_sql(store):
    with pytest.raises(eslib.ConfigurationError, match="no SQL"):
        eslib.ProjectionRunner(store, SQLBalances())
    with pytest.raises(eslib.ConfigurationError, match="needs SQL"):
        eslib.Repository(store, Account, inline_projections=[SQLBalances()])


def test_inline_projection_commits_with_the_append(store):
    inline: list[eslib.Projection] = [Balances()]
    if "sql" in store.capabilities:
        inline.append(SQLBalances())
    repo = eslib.Repository(store, Account, inline_projections=inline)
    account = repo.new("1")
    account.open("ann")
    account.deposit(10)
    repo.save(account)
    assert inline[0].balances == {"account-1": 10}  # type: ignore[attr-defined]
    if len(inline) == 2:
        assert table(store) == {"account-1": 10}
        assert store.load_checkpoint("sql_balances") == 2


def test_inline_projection_added_late_first_applies_what_it_missed(store):
    expected = fill(store, accounts=2, deposits=2)  # saved without the projection
    store.append("audit-1", [eslib.NewEvent("Noted")])  # not of its types: skipped
    # a Python model catches up in one process only (PostgreSQL: only its saves' events)
    python = "multi_process" not in store.capabilities
    late: list[eslib.Projection] = [Balances()] if python else []
    if "sql" in store.capabilities:
        late.append(SQLBalances())
    repo = eslib.Repository(store, Account, inline_projections=late)
    repo.update("0", lambda a: a.deposit(7))
    expected["account-0"] += 7
    eslib.Repository(store, Account).update("1", lambda a: a.deposit(1))  # written around it
    repo.update("0", lambda a: a.deposit(1))
    expected["account-1"] += 1
    expected["account-0"] += 1
    head = store.head_position()
    if python:
        assert late[0].balances == expected  # type: ignore[attr-defined]
        assert late[0].position == head
    if "sql" in store.capabilities:
        assert table(store) == expected and store.load_checkpoint("sql_balances") == head
    for projection in late:
        assert eslib.ProjectionRunner(store, projection).run_until_caught_up() == 0


@needs_sql
def test_inline_sql_projection_with_writers_at_once_applies_each_event_once(store):
    import threading

    repo = eslib.Repository(store, Account, inline_projections=[SQLBalances()])
    for n in range(4):
        repo.update(str(n), lambda a: a.open("ann"), create=True)

    def deposits(n: int) -> None:  # lower positions may commit after higher ones
        for _ in range(15):
            repo.update(str(n), lambda a: a.deposit(1), retries=20)

    writers = [threading.Thread(target=deposits, args=(n,)) for n in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert table(store) == {f"account-{n}": 15 for n in range(4)}
    assert store.load_checkpoint("sql_balances") == store.head_position()


@needs_sql
def test_two_runners_of_one_sql_projection_at_once_apply_each_event_once(store):
    import threading

    expected = fill(store, accounts=3, deposits=10)
    runners = [eslib.ProjectionRunner(store, SQLBalances(), page_size=3) for _ in range(2)]
    errors: list[BaseException] = []

    def run(runner: eslib.ProjectionRunner) -> None:
        try:
            runner.run_until_caught_up()
        except BaseException as exc:  # e.g. both creating the table at once
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(r,)) for r in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and table(store) == expected


@pytest.mark.backends("postgres")
def test_an_inline_sql_save_needs_no_second_pool_connection(make_store):
    fill(make_store(), accounts=1, deposits=2)
    store = make_store(pool_size=1)  # the catch-up reads through the save's own connection
    repo = eslib.Repository(store, Account, inline_projections=[SQLBalances()])
    repo.update("0", lambda a: a.deposit(1))
    assert table(store) == {"account-0": 26}


def test_failing_python_inline_projection_never_holds_an_unsaved_event(store):
    projection = Balances()
    repo = eslib.Repository(store, Account, inline_projections=[projection])
    account = repo.new("1")
    account.open("ann")
    account.deposit(5)
    account.deposit(6)
    projection.fail_at = 3  # the second deposit
    with pytest.raises(eslib.HandlerError, match="save itself is stored") as info:
        repo.save(account)
    assert store.stream_version("account-1") == 3 and not account.pending_events
    assert info.value.event.position == 3 and isinstance(info.value.__cause__, RuntimeError)
    assert projection.balances == {"account-1": 5} and projection.position == 2
    assert eslib.ProjectionRunner(store, projection).run_until_caught_up() == 1
    assert projection.balances == {"account-1": 11}


@needs_sql
def test_failing_inline_projection_aborts_the_save(store):
    projection = SQLBalances()
    repo = eslib.Repository(store, Account, inline_projections=[projection])
    account = repo.new("1")
    account.open("ann")
    repo.save(account)
    projection.fail_at = 2
    account.deposit(10)
    with pytest.raises(RuntimeError, match="crash"):
        repo.save(account)
    assert store.stream_version("account-1") == 1
    assert table(store) == {"account-1": 0}
    assert account.pending_events == (Deposited(10),)


def test_continuous_runner(store):
    fill(store, accounts=1)
    projection = Balances()
    runner = eslib.ProjectionRunner(store, projection, poll_interval=0.01)
    with runner:
        assert runner.wait_until(6)
        eslib.Repository(store, Account).update("0", lambda a: a.deposit(5))
        assert runner.wait_until(8)
    assert projection.balances == {"account-0": 100}
    assert not runner.running
