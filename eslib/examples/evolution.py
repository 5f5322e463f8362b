"""Schema evolution: one event type in two versions of the code — notebook 010.

Stored events are never rewritten. When an event's shape changes, the class gets a
new ``version`` and an **upcaster** turns the stored older shape into the new one as
it is read. ``v1`` and ``v2`` below are two deployments of the same member service,
each with its own :class:`~eslib.EventRegistry` (so both can live in one process);
the classes are spelled ``@dataclass(frozen=True)`` so type checkers see their fields:

* v1: ``MemberJoined(name, email)`` — ``name`` is the full name;
* v2: ``MemberJoined(first_name, last_name, email, newsletter=False)``, version 2,
  with :func:`split_name` upcasting version 1 data. ``EmailChanged`` is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import eslib

v1 = eslib.EventRegistry()
v2 = eslib.EventRegistry()


# -- yesterday's code --------------------------------------------------------------------


@v1.event("MemberJoined")
@dataclass(frozen=True)
class JoinedV1:
    name: str
    email: str


@v1.event("EmailChanged")
@dataclass(frozen=True)
class EmailChangedV1:
    email: str


class MemberV1(eslib.Aggregate):
    category = "member"
    registry: ClassVar[eslib.EventRegistry] = v1

    def __init__(self, id: Any) -> None:
        super().__init__(id)
        self.name = self.email = ""

    def join(self, name: str, email: str) -> None:
        self.record(JoinedV1(name, email))

    def change_email(self, email: str) -> None:
        self.record(EmailChangedV1(email))

    def apply(self, event: Any) -> None:
        match event:
            case JoinedV1(name=name, email=email):
                self.name, self.email = name, email
            case EmailChangedV1(email=email):
                self.email = email


# -- today's code --------------------------------------------------------------------------


@v2.event("MemberJoined", version=2)
@dataclass(frozen=True)
class Joined:
    first_name: str
    last_name: str
    email: str
    newsletter: bool = False


@v2.event("EmailChanged")
@dataclass(frozen=True)
class EmailChanged:
    email: str


@v2.upcaster("MemberJoined", from_version=1)
def split_name(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 → 2: the full name becomes first and last name."""
    first, _, last = data.pop("name").partition(" ")
    return {**data, "first_name": first, "last_name": last}


class Member(eslib.Aggregate):
    category = "member"
    registry: ClassVar[eslib.EventRegistry] = v2

    def __init__(self, id: Any) -> None:
        super().__init__(id)
        self.first_name = self.last_name = self.email = ""
        self.newsletter = False

    def join(self, first_name: str, last_name: str, email: str, newsletter: bool = False
             ) -> None:
        self.record(Joined(first_name, last_name, email, newsletter))

    def change_email(self, email: str) -> None:
        if email != self.email:
            self.record(EmailChanged(email))

    def apply(self, event: Any) -> None:
        match event:
            case Joined(first_name=first, last_name=last, email=email, newsletter=news):
                self.first_name, self.last_name, self.email = first, last, email
                self.newsletter = news
            case EmailChanged(email=email):
                self.email = email
