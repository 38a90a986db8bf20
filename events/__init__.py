"""Cairn's events: the envelope, the schemas of every event type, and upcasting.

This package is installed as ``cairn.events`` and imports nothing else of Cairn's:
the event log is the only source of truth, so its shapes must not depend on how
the rest of the system is built.
"""

from cairn.events.chain import GENESIS_HASH, event_hash
from cairn.events.envelope import (
    ANY_VERSION,
    NO_STREAM,
    Metadata,
    NewEvent,
    RecordedEvent,
    stream_category,
    stream_name,
)
from cairn.events.registry import DomainEvent, EventRegistry, UnknownEventType, registry

# Every event type registers itself on import: each schema module is imported here.
from cairn.events import compute, compute_shelve, compute_volumes  # isort: skip
from cairn.events import identity, image, network, volume  # isort: skip
from cairn.events import compute_migration  # isort: skip

__all__ = [
    "ANY_VERSION",
    "GENESIS_HASH",
    "NO_STREAM",
    "DomainEvent",
    "EventRegistry",
    "Metadata",
    "NewEvent",
    "RecordedEvent",
    "UnknownEventType",
    "compute",
    "compute_migration",
    "compute_shelve",
    "compute_volumes",
    "event_hash",
    "identity",
    "image",
    "network",
    "registry",
    "stream_category",
    "stream_name",
    "volume",
]
