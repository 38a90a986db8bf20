"""The live event stream's core, independent of HTTP: what a delivered event
looks like (:mod:`.item`, secrets withheld by :mod:`.redact`), what a
subscriber selected (:mod:`.filters`), the bytes on the wire (:mod:`.frames`),
and the one-reader-per-process fan-out (:mod:`.hub`) that serves every
subscriber (:mod:`.subscriber`) through its connection (:mod:`.sinks`).

The HTTP endpoints are in :mod:`cairn.api.events`; ``docs/adr/0011-event-stream.md``
says why it is built this way.
"""

from cairn.stream.filters import Selection
from cairn.stream.hub import EventHub
from cairn.stream.item import Item, event_projects, make_item
from cairn.stream.redact import REDACTED, redact
from cairn.stream.subscriber import Subscriber

__all__ = [
    "REDACTED",
    "EventHub",
    "Item",
    "Selection",
    "Subscriber",
    "event_projects",
    "make_item",
    "redact",
]
