"""Given/when/then for aggregates and deciders — no database needed.

::

    from eslib.testing import given

    given(Account, Opened("ann"), Deposited(10)).when(lambda a: a.withdraw(3)).then(Withdrawn(3))
    given(Account, Opened("ann")).when(lambda a: a.withdraw(99)).then_raises(InsufficientFunds)
    given(account_decider, Opened("ann")).when(Withdraw(3)).then(Withdrawn(3))

``given`` applies the past events (as if loaded), ``when`` runs the command, and
``then`` compares the newly recorded events, in order, with the expected ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .aggregate import Aggregate
from .decider import Decider
from .errors import ConfigurationError


class Scenario:
    """One given/when/then check; build it with :func:`given`."""

    def __init__(self, subject: type[Aggregate] | Decider[Any, Any, Any], events: tuple[Any, ...],
                 id: Any) -> None:
        self._decider = subject if isinstance(subject, Decider) else None
        cls = subject.aggregate_class if isinstance(subject, Decider) else subject
        self.aggregate: Aggregate = cls(id)
        for event in events:
            cls.registry.type_of(event)  # the past must be made of real events too
            self.aggregate.apply(event)
            self.aggregate.version += 1
        self._command: Callable[[Any], object] | None = None
        self._error: BaseException | None = None
        self._ran = False

    def when(self, command: Callable[[Any], object] | Any) -> Scenario:
        """Run a command: for an aggregate class a callable taking the aggregate, for a
        decider its command object (given to ``decide``)."""
        if self._decider is not None:
            self._command = lambda aggregate: aggregate.execute(command)
        elif callable(command):
            self._command = command
        else:
            raise ConfigurationError(
                f"when() takes a callable such as lambda account: account.deposit(5), "
                f"got {command!r}"
            )
        try:
            self._command(self.aggregate)
        except Exception as exc:  # kept for then_raises; then() re-raises it
            self._error = exc
        self._ran = True
        return self

    @property
    def state(self) -> Any:
        """The aggregate after the command (a decider's state for deciders)."""
        return self.aggregate.state if self._decider is not None else self.aggregate  # type: ignore[attr-defined]

    def then(self, *expected: Any) -> Scenario:
        """Assert the command succeeded and recorded exactly ``expected``, in order (given
        one by one or as one list, as :func:`given` takes them)."""
        self._check_ran("then")
        if len(expected) == 1 and isinstance(expected[0], list):
            expected = tuple(expected[0])
        if self._error is not None:
            raise AssertionError(
                f"expected events {list(expected)!r}, but the command raised "
                f"{type(self._error).__name__}: {self._error}"
            ) from self._error
        recorded = list(self.aggregate.pending_events)
        if recorded != list(expected):
            raise AssertionError(
                f"recorded events differ:\n  expected {list(expected)!r}\n  recorded {recorded!r}"
            )
        return self

    def then_raises(self, exception: type[BaseException], match: str | None = None) -> Scenario:
        """Assert the command raised ``exception`` (message containing ``match``) and recorded
        nothing."""
        self._check_ran("then_raises")
        if self._error is None:
            raise AssertionError(
                f"expected {exception.__name__}, but the command succeeded and recorded "
                f"{list(self.aggregate.pending_events)!r}"
            )
        if not isinstance(self._error, exception):
            raise AssertionError(
                f"expected {exception.__name__}, got {type(self._error).__name__}: {self._error}"
            ) from self._error
        if match is not None and match not in str(self._error):
            raise AssertionError(f"{type(self._error).__name__}({str(self._error)!r}) "
                                 f"does not mention {match!r}")
        if self.aggregate.pending_events:
            raise AssertionError(
                f"the command raised but still recorded {list(self.aggregate.pending_events)!r}"
            )
        return self

    def _check_ran(self, name: str) -> None:
        if not self._ran:
            raise AssertionError(f"call when(command) before {name}()")


def given(
    subject: type[Aggregate] | Decider[Any, Any, Any], *events: Any, id: Any = "test"
) -> Scenario:
    """Start a scenario: an aggregate class or decider, and the events already stored
    (given one by one or as one list)."""
    if len(events) == 1 and isinstance(events[0], (list, tuple)):
        events = tuple(events[0])
    return Scenario(subject, events, id)
