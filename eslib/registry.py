"""Domain events as frozen dataclasses: registration, (de)serialisation and upcasting.

An event class is registered under a stored type name (the class name unless given)
and a schema version. Writing stores the dataclass fields as ``data`` and the version
as ``metadata["schema_version"]``; reading turns a stored row back into an instance,
first running the upcasters registered for each older version in turn::

    @eslib.event("AccountOpened", version=2)
    class AccountOpened:
        owner: str
        currency: str

    @eslib.upcaster("AccountOpened", from_version=1)
    def _add_currency(data):
        return {**data, "currency": "EUR"}

History is never rewritten: old rows stay as they are and are upgraded on every read.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .errors import InvalidEvent, RegistrationError, UnknownEventType, UpcastError
from .events import NewEvent, RecordedEvent
from .json_text import decode, encode
from .validation import check_type, is_int

if TYPE_CHECKING:  # lets type checkers see the fields of @event classes as __init__ arguments
    from typing_extensions import dataclass_transform
else:
    def dataclass_transform(**_: Any) -> Any:
        return lambda function: function

T = TypeVar("T")
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

#: metadata key holding the schema version an event was written with (absent = 1)
SCHEMA_VERSION_KEY = "schema_version"


@dataclasses.dataclass(frozen=True, slots=True)
class EventType:
    """A registered event class: its stored name, current schema version and fields."""

    name: str
    version: int
    cls: type
    fields: tuple[str, ...]
    field_set: frozenset[str]
    #: instances can be built without __init__ (no __post_init__, no __slots__): the
    #: replay hot path fills __dict__ directly when the stored data has every field
    fast: bool


class EventRegistry:
    """Maps stored event type names to dataclasses and holds the upcasters.

    ``eslib.event`` and ``eslib.upcaster`` use the default registry
    (:data:`default_registry`); make your own for isolated tests or plugins.
    """

    def __init__(self) -> None:
        self._by_name: dict[str, EventType] = {}
        self._by_class: dict[type, EventType] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        self._lock = threading.Lock()

    # -- registration ----------------------------------------------------------

    @overload
    def event(self, cls: type[T], /) -> type[T]: ...

    @overload
    def event(
        self, name: str | None = None, /, *, version: int = 1
    ) -> Callable[[type[T]], type[T]]: ...

    @dataclass_transform(frozen_default=True)
    def event(self, arg: Any = None, /, *, version: int = 1) -> Any:
        """Register a dataclass as an event type: ``@event``, ``@event("Name", version=2)``.

        A plain class is made a frozen dataclass; a dataclass must already be frozen.
        """
        if isinstance(arg, type):
            return self.register(arg)
        if arg is not None and not isinstance(arg, str):
            raise RegistrationError(f"@event takes a type name string, got {arg!r}")
        return lambda cls: self.register(cls, arg, version=version)

    def register(self, cls: type[T], name: str | None = None, *, version: int = 1) -> type[T]:
        """Register ``cls`` (see :meth:`event`); returns the (dataclass) class."""
        if not is_int(version, 1):
            raise RegistrationError(f"event version must be an int >= 1, got {version!r}")
        if not dataclasses.is_dataclass(cls):
            cls = dataclasses.dataclass(frozen=True)(cls)
        elif not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
            raise RegistrationError(
                f"event class {cls.__qualname__} is a mutable dataclass; events are facts: "
                "use @dataclass(frozen=True), or drop @dataclass and let @eslib.event add it"
            )
        name = cls.__name__ if name is None else name
        _check_name(name)
        fields = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        fast = not hasattr(cls, "__post_init__") and "__slots__" not in cls.__dict__
        entry = EventType(name, version, cls, fields, frozenset(fields), fast)
        with self._lock:
            old = self._by_name.get(name)
            if old is not None and not _same_definition(old.cls, cls):
                raise RegistrationError(
                    f"event type {name!r} is already registered to {old.cls.__module__}."
                    f"{old.cls.__qualname__}; give one of them another name: "
                    f"@eslib.event('OtherName')"
                )
            if old is not None:  # the same class defined again (a re-run notebook cell)
                self._by_class.pop(old.cls, None)
            self._by_name[name] = entry
            self._by_class[cls] = entry
        return cls

    def upcaster(self, event_type: str, *, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register ``f(data) -> data`` upgrading ``event_type`` from ``from_version`` to +1."""
        if not is_int(from_version, 1):
            raise RegistrationError(f"from_version must be an int >= 1, got {from_version!r}")

        _check_name(event_type)

        def register(function: Upcaster) -> Upcaster:
            if not callable(function):
                raise RegistrationError(f"an upcaster must be a function of the event's data, "
                                        f"got {function!r}")
            with self._lock:
                self._upcasters[(event_type, from_version)] = function
            return function

        return register

    # -- lookups ---------------------------------------------------------------

    def type_of(self, event_or_class: object) -> EventType:
        """The registration of an event instance or class; InvalidEvent when there is none."""
        cls = event_or_class if isinstance(event_or_class, type) else type(event_or_class)
        entry = self._by_class.get(cls)
        if entry is not None:
            return entry
        if not isinstance(event_or_class, type) and not dataclasses.is_dataclass(event_or_class):
            raise InvalidEvent(
                f"expected a domain event (a dataclass registered with @eslib.event), got "
                f"{type(event_or_class).__name__}: {event_or_class!r:.80}"
            )
        raise InvalidEvent(
            f"{cls.__qualname__} is not a registered event: decorate it with @eslib.event "
            "(or register it in the registry this aggregate uses)"
        )

    def is_registered(self, event_or_class: object) -> bool:
        cls = event_or_class if isinstance(event_or_class, type) else type(event_or_class)
        return cls in self._by_class

    def names(self, classes: tuple[type, ...]) -> tuple[str, ...]:
        """The stored type names of event classes (for ``read_all(types=...)``)."""
        return tuple(self.type_of(c).name for c in classes)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    # -- conversion ------------------------------------------------------------

    def to_new_event(
        self,
        event: object,
        *,
        metadata: Mapping[str, Any] | None = None,
        id: uuid.UUID | str | None = None,
    ) -> NewEvent:
        """The :class:`NewEvent` storing a registered event instance."""
        entry = self.type_of(event)
        data = {name: getattr(event, name) for name in entry.fields}
        meta = dict(metadata) if metadata else {}
        meta[SCHEMA_VERSION_KEY] = entry.version
        return NewEvent(entry.name, data, meta, id)

    def decode(self, recorded: RecordedEvent, *, raw_unknown: bool = False) -> Any:
        """The event instance for a stored event, upcast to the current version.

        An unregistered type raises :class:`UnknownEventType`, or returns the
        RecordedEvent itself when ``raw_unknown`` is true.
        """
        entry = self._by_name.get(recorded.type)
        if entry is None:
            if raw_unknown:
                return recorded
            raise UnknownEventType(recorded.type, recorded.stream_id)
        data = recorded.data
        stored = recorded.metadata.get(SCHEMA_VERSION_KEY, 1)
        if stored != entry.version:
            data = self._upcast(entry, data, stored, recorded)
        if entry.fast and data.keys() == entry.field_set:
            # same as cls(**data) minus the frozen __init__'s per-field object.__setattr__
            obj: Any = object.__new__(entry.cls)
            obj.__dict__.update(data)
            return obj
        return self._construct(entry, data, recorded)

    def decoder(self, *, raw_unknown: bool = False) -> Callable[[RecordedEvent], Any]:
        """:meth:`decode` as a plain function, for folding loops."""
        decode = self.decode
        if not raw_unknown:
            return decode
        return lambda recorded: decode(recorded, raw_unknown=True)

    def _upcast(
        self, entry: EventType, data: dict[str, Any], stored: object, recorded: RecordedEvent
    ) -> dict[str, Any]:
        where = f"{recorded.stream_id}@{recorded.version}"
        if not is_int(stored, 1):
            raise UpcastError(f"{entry.name} at {where}: bad schema_version {stored!r}")
        if stored > entry.version:
            raise UpcastError(
                f"{entry.name} at {where} was written with schema version {stored}, newer than "
                f"the registered version {entry.version}; upgrade this code before reading it"
            )
        # a deep copy (stored data is shared between readers on the memory backend, and
        # upcasters change nested lists and dicts in place); JSON in, so JSON round-trips
        data = decode(encode(data))
        for version in range(stored, entry.version):
            upcast = self._upcasters.get((entry.name, version))
            if upcast is None:
                raise UpcastError(
                    f"{entry.name} at {where} is schema version {version} and there is no "
                    f"upcaster to version {version + 1}: register one with "
                    f"@eslib.upcaster({entry.name!r}, from_version={version})"
                )
            try:
                data = upcast(data)
            except Exception as exc:
                raise UpcastError(
                    f"upcaster {entry.name} v{version}->v{version + 1} failed on {where}: {exc}"
                ) from exc
            if not isinstance(data, dict):
                raise UpcastError(
                    f"upcaster {entry.name} v{version}->v{version + 1} must return a dict, "
                    f"got {type(data).__name__}"
                )
        return data

    def _construct(self, entry: EventType, data: dict[str, Any], recorded: RecordedEvent) -> Any:
        try:
            return entry.cls(**data)
        except TypeError as exc:
            raise UpcastError(
                f"stored {entry.name} at {recorded.stream_id}@{recorded.version} does not fit "
                f"{entry.cls.__qualname__} (fields {', '.join(entry.fields)}): {exc}; bump the "
                "event's version and register an upcaster for the old shape"
            ) from exc


def _check_name(name: object) -> None:
    """A type name the store accepts (as append would check it, but at registration)."""
    try:
        check_type(name)
    except InvalidEvent as exc:
        raise RegistrationError(str(exc)) from None


def _same_definition(a: type, b: type) -> bool:
    return a.__module__ == b.__module__ and a.__qualname__ == b.__qualname__


#: the registry behind ``eslib.event`` and ``eslib.upcaster``
default_registry = EventRegistry()


@overload
def event(cls: type[T], /) -> type[T]: ...


@overload
def event(name: str | None = None, /, *, version: int = 1) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True)
def event(arg: Any = None, /, *, version: int = 1) -> Any:
    """Register a class as an event type in the default registry (see
    :meth:`EventRegistry.event`): ``@eslib.event`` or ``@eslib.event("Name", version=2)``.
    """
    return default_registry.event(arg, version=version)


def upcaster(event_type: str, *, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register ``f(data) -> data`` upgrading stored ``event_type`` data from
    ``from_version`` to the next version, in the default registry."""
    return default_registry.upcaster(event_type, from_version=from_version)
