"""The event store: one port (:mod:`cairn.store.port`) and its adapters."""

from cairn.store.factory import open_store
from cairn.store.port import (
    AppendResult,
    DuplicateEventId,
    EventStore,
    Snapshot,
    StoreClosed,
    StoreError,
    StoreUnavailable,
    StreamWrite,
    WrongExpectedVersion,
)

__all__ = [
    "AppendResult",
    "DuplicateEventId",
    "EventStore",
    "Snapshot",
    "StoreClosed",
    "StoreError",
    "StoreUnavailable",
    "StreamWrite",
    "WrongExpectedVersion",
    "open_store",
]
