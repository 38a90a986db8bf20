"""The audit tool's core: verify the hash chain, replay to a past point,
history of a resource, what a user did, diffs, and checks of read models.

Every function here reads through the event-store port (the chain
verification's raw rows through :meth:`cairn.store.port.EventStore.read_chain`), walks the log in
bounded memory, and returns plain values; :mod:`cairn.cli.audit` renders them.
"""

from cairn.audit.points import BadPoint, parse_point, position_at, resolve
from cairn.audit.queries import diff, history, who
from cairn.audit.replay import check, replay
from cairn.audit.verify import BrokenLink, VerifyReport, verify_chain

__all__ = [
    "BadPoint",
    "BrokenLink",
    "VerifyReport",
    "check",
    "diff",
    "history",
    "parse_point",
    "position_at",
    "replay",
    "resolve",
    "verify_chain",
    "who",
]
