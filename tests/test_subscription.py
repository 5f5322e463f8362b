"""Subscriptions on every backend: follow from a checkpoint, keep following, never skip."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import eslib
from eslib.examples.bank import Account, Deposited


def open_with_deposits(store, id="1", deposits=(1, 2, 3)) -> None:
    repo = eslib.Repository(store, Account)
    account = repo.new(id)
    account.open("ann")
    for amount in deposits:
        account.deposit(amount)
    repo.save(account)


def test_run_until_caught_up_in_order(store):
    open_with_deposits(store)
    seen: list[tuple[int, Any]] = []
    sub = eslib.Subscription(store, lambda event, rec: seen.append((rec.position, event)))
    assert sub.run_until_caught_up() == 4
    assert [p for p, _ in seen] == [1, 2, 3, 4]
    assert seen[1][1] == Deposited(1)
    assert sub.position == 4
    assert sub.run_until_caught_up() == 0


def test_durable_checkpoint_resumes(store):
    open_with_deposits(store)
    seen: list[int] = []
    eslib.Subscription(store, lambda e, r: seen.append(r.position), name="mailer",
                       page_size=2).run_until_caught_up()
    assert store.load_checkpoint("mailer") == 4
    open_with_deposits(store, id="2", deposits=(5,))
    again = eslib.Subscription(store, lambda e, r: seen.append(r.position), name="mailer")
    assert again.run_until_caught_up() == 2
    assert seen == [1, 2, 3, 4, 5, 6]


def test_filters_and_raw_unknown_events(store):
    open_with_deposits(store)
    store.append("audit-1", [eslib.NewEvent("SomethingUnregistered", {"x": 1})])
    deposits: list[Any] = []
    eslib.Subscription(store, lambda e, r: deposits.append(e),
                       types=[Deposited]).run_until_caught_up()
    assert deposits == [Deposited(1), Deposited(2), Deposited(3)]
    raw: list[Any] = []
    eslib.Subscription(store, lambda e, r: raw.append(e), category="audit").run_until_caught_up()
    assert len(raw) == 1 and isinstance(raw[0], eslib.RecordedEvent)


def test_failing_handler_retried_then_stops_naming_the_event(store):
    open_with_deposits(store)
    attempts: list[int] = []
    handled: list[int] = []

    def handler(event: Any, recorded: eslib.RecordedEvent) -> None:
        if recorded.position == 3:
            attempts.append(3)
            raise ValueError("smtp down")
        handled.append(recorded.position)

    sub = eslib.Subscription(store, handler, name="notify", retries=2, retry_delay=0)
    with pytest.raises(eslib.SubscriptionStopped) as info:
        sub.run_until_caught_up()
    error = info.value
    assert error.event.position == 3 and error.attempts == 3 and len(attempts) == 3
    assert "Deposited at position 3" in str(error) and "account-1@3" in str(error)
    assert handled == [1, 2]  # never skipped past the failing event
    assert store.load_checkpoint("notify") == 2


def test_transient_failure_recovers(store):
    open_with_deposits(store)
    failures = iter([True, True])
    handled: list[int] = []

    def flaky(event: Any, recorded: eslib.RecordedEvent) -> None:
        if recorded.position == 2 and next(failures, False):
            raise ConnectionError("try again")
        handled.append(recorded.position)

    eslib.Subscription(store, flaky, retries=3, retry_delay=0).run_until_caught_up()
    assert handled == [1, 2, 3, 4]


def test_thread_follows_new_events(store):
    seen: list[int] = []
    arrived = threading.Event()

    def handler(event: Any, recorded: eslib.RecordedEvent) -> None:
        seen.append(recorded.position)
        if len(seen) == 8:
            arrived.set()

    sub = eslib.Subscription(store, handler, poll_interval=0.01)
    sub.start()
    try:
        with pytest.raises(eslib.ConfigurationError, match="already running"):
            sub.start()  # a second thread would handle every event twice
        open_with_deposits(store)
        open_with_deposits(store, id="2")
        assert arrived.wait(5)
    finally:
        sub.stop()
    assert seen == list(range(1, 9)) and not sub.running


def test_a_named_subscription_starts_at_from_position_then_at_its_checkpoint(store):
    open_with_deposits(store)  # positions 1-4
    seen: list[int] = []
    sub = eslib.Subscription(store, lambda e, r: seen.append(r.position), name="mailer",
                             from_position=3)
    assert sub.run_until_caught_up() == 2 and seen == [3, 4]
    open_with_deposits(store, id="2")  # positions 5-8
    again = eslib.Subscription(store, lambda e, r: seen.append(r.position), name="mailer",
                               from_position=1)  # the stored checkpoint is later: it wins
    assert again.run_until_caught_up() == 4 and seen == [3, 4, 5, 6, 7, 8]


def test_thread_stops_on_failure_and_stop_reraises(store):
    open_with_deposits(store)

    def broken(event: Any, recorded: eslib.RecordedEvent) -> None:
        raise KeyError("boom")

    sub = eslib.Subscription(store, broken, retries=1, retry_delay=0, poll_interval=0.01)
    sub.start()
    for _ in range(500):
        if not sub.running:
            break
        threading.Event().wait(0.01)
    assert not sub.running
    with pytest.raises(eslib.SubscriptionStopped, match="position 1"):
        sub.stop()


class PushBackend:
    """A backend wrapper with the optional push hook, as PostgreSQL can provide."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.waits: list[tuple[int, float]] = []

    def wait_for_events(self, after_position: int, timeout: float) -> bool:
        self.waits.append((after_position, timeout))
        threading.Event().wait(min(timeout, 0.01))
        return self._inner.head_position() > after_position

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_uses_the_backends_wait_hook(store):
    pushed = eslib.EventStore(PushBackend(store.backend), store.url)  # type: ignore[arg-type]
    seen: list[int] = []
    sub = eslib.Subscription(pushed, lambda e, r: seen.append(r.position), poll_interval=0.2)
    sub.start()
    try:
        for _ in range(500):  # the follower waits in the hook before anything is written
            if pushed.backend.waits:  # type: ignore[attr-defined]
                break
            threading.Event().wait(0.01)
        open_with_deposits(store, deposits=())
        for _ in range(500):
            if seen:
                break
            threading.Event().wait(0.01)
    finally:
        sub.stop()
    assert seen == [1]
    assert pushed.backend.waits and pushed.backend.waits[0] == (0, 0.2)  # type: ignore[attr-defined]


@pytest.mark.parametrize("options, message", [
    ({"page_size": 0}, "page_size"),  # used to read nothing and report itself caught up
    ({"page_size": "100"}, "page_size"),
    ({"retries": -1}, "retries"),
    ({"poll_interval": -1}, "poll_interval"),
    ({"retry_delay": "fast"}, "retry_delay"),
    ({"from_position": 0}, "from_position"),
    ({"name": "bad\x00name"}, "checkpoint name"),
])
def test_bad_options_are_refused_before_anything_runs(options, message):
    store = eslib.connect("memory://")
    store.append("a-1", [eslib.NewEvent("T")])
    with pytest.raises((eslib.ConfigurationError, eslib.InvalidEvent), match=message):
        eslib.Subscription(store, lambda event, recorded: None, **options)
    with pytest.raises(eslib.ConfigurationError, match="callable"):
        eslib.Subscription(store, "handler")  # type: ignore[arg-type]
