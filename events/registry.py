"""Typed domain events, their registry, and upcasting of old shapes on read.

A domain event is a frozen msgspec Struct named as a past fact::

    @registry.event
    class ServerRequested(DomainEvent):
        server_id: str
        flavor_id: str

Its stored type name is the class name. When its meaning changes, a new type is
made; when only its shape changes, bump ``schema_version`` on the class and
register an upcaster from the old shape. Stored events are never rewritten: the
chain of upcasters runs every time an old event is read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import msgspec

from cairn.events.envelope import EMPTY_METADATA, Metadata, NewEvent, RecordedEvent


class UnknownEventType(LookupError):
    """An event type was read that no registered class describes."""


class DomainEvent(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every typed event. ``schema_version`` is the current shape's number."""

    schema_version: ClassVar[int] = 1


E = TypeVar("E", bound=DomainEvent)
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_encoder = msgspec.json.Encoder()


class EventRegistry:
    """Maps stored type names to classes and holds the upcaster chains."""

    def __init__(self) -> None:
        self._types: dict[str, type[DomainEvent]] = {}
        self._decoders: dict[str, msgspec.json.Decoder[Any]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def event(self, cls: type[E]) -> type[E]:
        """Class decorator: register ``cls`` under its class name."""
        name = cls.__name__
        if name in self._types and self._types[name] is not cls:
            raise ValueError(f"event type {name!r} is already registered")
        self._types[name] = cls
        self._decoders[name] = msgspec.json.Decoder(cls)
        return cls

    def upcaster(self, type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register a function turning shape ``from_version`` into ``from_version + 1``."""

        def register(fn: Upcaster) -> Upcaster:
            self._upcasters[(type_name, from_version)] = fn
            return fn

        return register

    def type_of(self, name: str) -> type[DomainEvent]:
        try:
            return self._types[name]
        except KeyError:
            raise UnknownEventType(f"no event type named {name!r} is registered") from None

    def new(self, event: DomainEvent, metadata: Metadata = EMPTY_METADATA) -> NewEvent:
        """Encode a typed event into a :class:`NewEvent` ready to append."""
        cls = type(event)
        if self._types.get(cls.__name__) is not cls:
            raise UnknownEventType(f"event class {cls.__name__} is not registered")
        return NewEvent(
            type=cls.__name__,
            data=_encoder.encode(event),
            metadata=metadata,
            schema_version=cls.schema_version,
        )

    def decode(self, recorded: RecordedEvent) -> DomainEvent:
        """Decode a stored event into its typed form, upcasting old shapes."""
        cls = self.type_of(recorded.type)
        if recorded.schema_version == cls.schema_version:
            decoded: DomainEvent = self._decoders[recorded.type].decode(recorded.data)
            return decoded
        raw: dict[str, Any] = msgspec.json.decode(recorded.data)
        version = recorded.schema_version
        while version < cls.schema_version:
            try:
                step = self._upcasters[(recorded.type, version)]
            except KeyError:
                raise UnknownEventType(
                    f"{recorded.type} v{version} is stored but no upcaster leads from it "
                    f"to v{cls.schema_version}"
                ) from None
            raw = step(raw)
            version += 1
        converted: DomainEvent = msgspec.convert(raw, cls)
        return converted


#: The registry every Cairn event type registers itself in.
registry = EventRegistry()
