"""The shape every projection has: a name, an initial state, and a fold.

A projection declares one small function per event type it cares about::

    class ServerCount(Projection[dict[str, int]]):
        name = "server-count"

        def initial(self) -> dict[str, int]:
            return {}

        @handles("ServerRequested")
        def _requested(self, state, event, data): ...

Folds are pure in the sense that matters for replay: they read nothing but the
state and the event, no clock, no I/O. For speed the runner hands a fold the
state it exclusively owns, and a fold may update it in place and return it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

import msgspec

from cairn.events import RecordedEvent, registry

S = TypeVar("S")
Handler = Callable[[Any, Any, RecordedEvent, Any], Any]


def handles(*type_names: str) -> Callable[[Handler], Handler]:
    """Mark a method as the fold for the given event types."""

    def mark(fn: Handler) -> Handler:
        fn.__cairn_handles__ = type_names  # type: ignore[attr-defined]
        return fn

    return mark


class Projection(Generic[S]):
    """Base class of projections; subclasses set ``name`` and define handlers.

    ``version`` is part of the snapshot key: bump it when the fold's meaning
    changes, and old snapshots are ignored (the state is rebuilt from the log).
    ``state_type`` lets the runner encode and decode snapshots with msgspec.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    state_type: ClassVar[Any] = Any
    _handlers: ClassVar[dict[str, Handler]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[str, Handler] = {}
        for base in reversed(cls.__mro__):
            for attr in vars(base).values():
                for type_name in getattr(attr, "__cairn_handles__", ()):
                    handlers[type_name] = attr
        cls._handlers = handlers

    def initial(self) -> S:
        raise NotImplementedError

    @property
    def event_types(self) -> frozenset[str]:
        """The event types this projection folds; the runner skips the others."""
        return frozenset(self._handlers)

    def apply(self, state: S, event: RecordedEvent) -> S:
        """Fold one event into the state; events of other types leave it as it was."""
        handler = self._handlers.get(event.type)
        if handler is None:
            return state
        result: S = handler(self, state, event, registry.decode(event))
        return result

    def encode_state(self, state: S) -> bytes:
        return msgspec.msgpack.encode(state)

    def decode_state(self, raw: bytes) -> S:
        decoded: S = msgspec.msgpack.decode(raw, type=self.state_type)
        return decoded
